"""ARM writes: PUT/DELETE with long-running operations, policy evaluation triggers and permissions.

:class:`ArmWriter` wraps one :class:`~fcdesk.azure._http.ArmHttp` (the SDK clients' pipelines, with
its retries and throttling: a write is retried on 429 and on failures without a response, but a
5xx only once) and adds what writes need:

- **Routing.** Each path goes through the generated client of its resource provider, with that
  package's default api-version (:func:`route`): policy assignments (``azure-mgmt-resource-policy``),
  RAI policies, deployments and Defender for AI settings (``azure-mgmt-cognitiveservices``), policy
  evaluation (``azure-mgmt-policyinsights``), Defender for Cloud pricings such as the ``AI`` plan
  (``azure-mgmt-security``: the api-version its multi-API client uses for pricings). Permissions
  (``GET {scope}/providers/Microsoft.Authorization/permissions``) have no installed package
  (azure-mgmt-authorization is not a dependency): they go through the ``resources`` client's pipeline
  with api-version :data:`PERMISSIONS_API_VERSION`.
- **Long-running operations.** ``PUT`` of a deployment answers 200/201 with an
  ``Azure-AsyncOperation`` (or ``Location``) header; :meth:`ArmWriter.put` with ``wait=True``
  follows it, honouring ``Retry-After``, until ``Succeeded`` (a ``Failed``/``Canceled`` status
  raises :class:`~fcdesk.azure.errors.ArmError` with the operation's error), then GETs the resource
  for its final state (and new etag). A status link is only ever followed on the ARM endpoint
  itself: the bearer token never goes anywhere else.
- **Policy evaluation.** ``POST {scope}/providers/Microsoft.PolicyInsights/policyStates/latest/
  triggerEvaluation`` answers 202 with a ``Location`` that answers 202 until the scan is done (200).
  :meth:`ArmWriter.start_evaluation` sends the POST and returns at once (the GUI does not wait: a
  scan takes minutes); :meth:`ArmWriter.wait_evaluation` follows it to the end.
- **Permissions.** :meth:`ArmWriter.permissions` lists the caller's ``{actions, notActions}`` at a
  scope; :func:`permits` decides whether they allow an action (pure).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from fcdesk.azure._http import Answer, ArmHttp, api_versions, retry_after_s
from fcdesk.azure.errors import ArmError

log = logging.getLogger(__name__)

#: ``Microsoft.Authorization/permissions``: the long-stable version (no installed package has it).
PERMISSIONS_API_VERSION = "2022-04-01"
DEFAULT_POLL_S = 2.0  #: between status polls when the answer names no Retry-After
MAX_POLL_S = 60.0  #: a longer Retry-After is shortened to this
OPERATION_TIMEOUT_S = 900.0  #: a long-running write not finished by then fails (ARM's own limit is longer)
TERMINAL_OK = frozenset({"succeeded"})
TERMINAL_FAILED = frozenset({"failed", "canceled", "cancelled"})

_PROVIDER_RE = re.compile(r"/providers/([^/]+)/([^/?]+)", re.IGNORECASE)


# ------------------------------------------------------------------------------------ routing


def route(path: str) -> tuple[str, str]:
    """``(client, api-version)`` for an ARM path: the SDK client whose pipeline sends it (see
    :data:`fcdesk.azure._http.CLIENTS`) and that package's default api-version."""
    found = _PROVIDER_RE.findall(path)
    namespace, resource = (found[-1][0].lower(), found[-1][1].lower()) if found else ("", "")
    versions = api_versions()
    if namespace == "microsoft.authorization" and resource == "permissions":
        return "resources", PERMISSIONS_API_VERSION
    if namespace == "microsoft.authorization":
        return "policy", versions["policy"]
    if namespace == "microsoft.cognitiveservices":  # defenderForAISettings included
        return "cognitive", versions["cognitive"]
    if namespace == "microsoft.security" and resource == "pricings":
        return "security", versions["pricings"]
    if namespace == "microsoft.policyinsights":
        return "insights", versions["trigger_evaluation"]
    return "resources", versions["resource_groups"]


def permissions_path(scope: str) -> str:
    return f"{scope.rstrip('/')}/providers/Microsoft.Authorization/permissions"


def trigger_evaluation_path(scope: str) -> str:
    """The policy-evaluation trigger of a subscription or resource group."""
    return f"{scope.rstrip('/')}/providers/Microsoft.PolicyInsights/policyStates/latest/triggerEvaluation"


# -------------------------------------------------------------------------------- permissions


@functools.lru_cache(maxsize=512)
def _action_pattern(pattern: str) -> re.Pattern[str]:
    return re.compile("^" + ".*".join(re.escape(part) for part in pattern.split("*")) + "$", re.IGNORECASE)


def _any_match(patterns: Any, action: str) -> bool:
    if not isinstance(patterns, list):
        return False
    return any(isinstance(p, str) and _action_pattern(p.strip()).match(action) for p in patterns)


def permits(permissions: Iterable[Mapping[str, Any]], action: str) -> bool:
    """Whether a caller with these permission entries may perform ``action``.

    An entry allows an action when one of its ``actions`` matches it and none of the same entry's
    ``notActions`` does; the caller may when some entry allows it. Matching is case-insensitive and
    ``*`` stands for any run of characters (``Microsoft.Authorization/*/write``, ``*``).
    """
    for entry in permissions:
        if not isinstance(entry, Mapping):
            continue
        if _any_match(entry.get("actions"), action) and not _any_match(entry.get("notActions"), action):
            return True
    return False


# ------------------------------------------------------------------------------------ writer


@dataclass(frozen=True, slots=True)
class EvaluationTrigger:
    """A policy evaluation that was started: where to follow it (see :meth:`ArmWriter.wait_evaluation`)."""

    scope: str
    status_url: str | None  #: the Location (or Azure-AsyncOperation) link; None: nothing to follow
    async_operation: bool = False  #: the link is an Azure-AsyncOperation status (JSON ``status``)
    retry_after_s: float | None = None


class ArmWriter:
    """Reads and writes through one :class:`ArmHttp` (which the caller opens and closes).

    Every method raises :class:`ArmError` when the request fails for good.
    """

    def __init__(
        self,
        http: ArmHttp,
        *,
        poll_interval_s: float = DEFAULT_POLL_S,
        operation_timeout_s: float = OPERATION_TIMEOUT_S,
    ) -> None:
        self.http = http
        self.poll_interval_s = poll_interval_s
        self.operation_timeout_s = operation_timeout_s

    # ------------------------------------------------------------------------------ reads

    async def get(self, path: str) -> dict[str, Any] | None:
        """``GET {path}``; None when it does not exist (404)."""
        client, version = route(path)
        try:
            data = await self.http.request(client, "GET", path, {"api-version": version})
        except ArmError as exc:
            if exc.status == 404:
                return None
            raise
        if not isinstance(data, dict):
            raise ArmError(200, "MalformedJson", "The answer was not a resource.")
        return data

    async def list(self, path: str, params: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
        """Every item of ``GET {path}`` (all pages). ``params`` are added to the api-version."""
        client, version = route(path)
        out: list[dict[str, Any]] = []
        async for page in self.http.pages(client, path, {"api-version": version, **(params or {})}):
            out.extend(item for item in page if isinstance(item, dict))
        return out

    async def permissions(self, scope: str) -> list[dict[str, Any]]:
        """The caller's permission entries (``actions``, ``notActions``...) at ``scope``."""
        return await self.list(permissions_path(scope))

    # ------------------------------------------------------------------------------ writes

    async def put(self, path: str, body: Any, *, wait: bool = False) -> dict[str, Any]:
        """``PUT {path}`` and return the resource.

        ``wait``: a long-running operation (deployments): follow it to its end and return the
        resource as re-read then. Otherwise the answer's body (re-read when it has none).
        """
        client, version = route(path)
        answer = await self.http.send(client, "PUT", path, {"api-version": version}, body)
        if wait:
            await self._follow(client, answer)
        elif isinstance(answer.data, dict) and answer.data:
            return answer.data
        found = await self.get(path)
        if found is None:
            raise ArmError(404, "NotFound", "The resource written could not be read back.")
        return found

    async def delete(self, path: str) -> bool:
        """``DELETE {path}`` (following a long-running delete). False when it did not exist."""
        client, version = route(path)
        try:
            answer = await self.http.send(client, "DELETE", path, {"api-version": version})
        except ArmError as exc:
            if exc.status == 404:
                return False
            raise
        await self._follow(client, answer)
        return answer.status != 204

    async def start_evaluation(self, scope: str) -> EvaluationTrigger:
        """Ask Azure Policy to evaluate ``scope`` (a subscription or resource group) now; return at once."""
        path = trigger_evaluation_path(scope)
        client, version = route(path)
        answer = await self.http.send(client, "POST", path, {"api-version": version}, write=True)
        link, is_async = _status_link(answer.headers)
        return EvaluationTrigger(scope, link, is_async, retry_after_s(answer.headers))

    async def wait_evaluation(self, trigger: EvaluationTrigger, *, timeout_s: float | None = None) -> None:
        """Follow a started evaluation until Azure says it is done (raises ArmError on failure or timeout)."""
        if trigger.status_url is None:
            return
        client, _ = route(trigger_evaluation_path(trigger.scope))
        await self._poll(
            client, trigger.status_url, trigger.async_operation, trigger.retry_after_s, timeout_s
        )

    # ------------------------------------------------------------------------------ operations

    async def _follow(self, client: str, answer: Answer) -> None:
        """Wait for the long-running operation an answer started, if it started one."""
        link, is_async = _status_link(answer.headers)
        if link is None:
            props = answer.data.get("properties") if isinstance(answer.data, dict) else None
            state = str(props.get("provisioningState") or "") if isinstance(props, dict) else ""
            if state.lower() in TERMINAL_FAILED:
                raise ArmError(answer.status, f"Provisioning{state}", f"The operation ended {state}.")
            return
        await self._poll(client, link, is_async, retry_after_s(answer.headers), None)

    async def _poll(
        self, client: str, link: str, is_async: bool, first_wait: float | None, timeout_s: float | None
    ) -> None:
        url = self.http.url(link)
        if not self.http.is_arm_url(url):
            # Never send the bearer token anywhere but the ARM endpoint it was issued for.
            raise ArmError(
                None, "InvalidStatusLink", "The operation's status link points outside the ARM endpoint."
            )
        limit = self.operation_timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + limit
        wait = first_wait
        while True:
            delay = min(MAX_POLL_S, self.poll_interval_s if wait is None else wait)
            if time.monotonic() + delay > deadline:
                raise ArmError(None, "Timeout", f"The operation did not finish within {limit:g} s.")
            await asyncio.sleep(delay)
            poll = await self.http.send(client, "GET", url)
            if is_async:
                data = poll.data if isinstance(poll.data, dict) else {}
                status = str(data.get("status") or "").lower()
                if status in TERMINAL_OK:
                    return
                if status in TERMINAL_FAILED:
                    raise _operation_error(data)
            elif poll.status != 202:
                return
            wait = retry_after_s(poll.headers)


def _status_link(headers: Mapping[str, str]) -> tuple[str | None, bool]:
    """The link to follow for a long-running operation: Azure-AsyncOperation first, else Location."""
    link = headers.get("azure-asyncoperation")
    if link:
        return link, True
    return headers.get("location") or None, False


def _operation_error(data: Mapping[str, Any]) -> ArmError:
    """A failed (or cancelled) operation's status as an ArmError."""
    status = str(data.get("status") or "Failed")
    err = data.get("error") if isinstance(data.get("error"), Mapping) else {}
    code = str(err.get("code") or f"Operation{status}")
    message = str(err.get("message") or f"The operation ended {status}.")
    return ArmError(None, code, message)
