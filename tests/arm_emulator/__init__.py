"""A local Azure Resource Manager for testing fcdesk's live-Azure code against the real SDK.

::

    from tests.arm_emulator import ArmEmulator, Faults, Rule, Scenario, EmulatorCredential, run_async

    with ArmEmulator(Scenario.demo(), page_size=3,
                     faults=Faults(throttle=Rule(path="/deployments", retry_after=1))) as emu:
        cred = EmulatorCredential(emu)          # an AsyncTokenCredential minting emulator tokens
        kwargs = sdk_kwargs(emu)                # base_url, credential_scopes, connection_verify
        ...                                     # any azure.mgmt.*.aio client works against it
        emu.count("/deployments")               # requests seen, from the request log

Served (GET unless said; paths case-insensitive; ``api-version`` required but any value accepted;
``{acct}`` = ``/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.CognitiveServices/accounts/{a}``):

- ``/tenants``, ``/subscriptions``, ``/subscriptions/{s}``, ``/subscriptions/{s}/resourcegroups``,
  ``/subscriptions/{s}/resourcegroups/{rg}``
- ``/subscriptions/{s}/providers/Microsoft.CognitiveServices/accounts`` (also under a resource group),
  ``{acct}``, ``{acct}/projects|deployments|raiPolicies|defenderForAISettings`` and each item by id
- ``/subscriptions/{s}[/resourceGroups/{rg}]/providers/Microsoft.Authorization/policyAssignments``
  (``$filter=atScope()|atExactScope()|policyDefinitionId eq '…'``) and each by id
- ``[/subscriptions/{s}]/providers/Microsoft.Authorization/policySetDefinitions/{name}``
- POST ``{scope}/providers/Microsoft.PolicyInsights/policyStates/latest|default/queryResults|summarize``,
  scope a subscription, resource group, resource, or a policy assignment / set definition under a
  subscription; ``$filter`` (eq/ne/and/or/not), ``$select``, ``$top``, paged by ``@odata.nextLink``
- ``{scope}/providers/Microsoft.Security/assessments`` (and each by id),
  ``[/subscriptions/{s}]/providers/Microsoft.Security/assessmentMetadata[/{name}]``,
  ``/subscriptions/{s}/providers/Microsoft.Security/alerts``,
  ``/subscriptions/{s}/providers/Microsoft.Security/pricings[/{name}]`` (the list is never paged)

Writes (:mod:`.writes`; ``{scope}`` = ``/subscriptions/{s}[/resourceGroups/{rg}]``):

- PUT, DELETE ``{scope}/providers/Microsoft.Authorization/policyAssignments/{name}`` (parameters of the
  guardrail initiative checked against its definition)
- PUT ``/subscriptions/{s}/providers/Microsoft.Security/pricings/{name}`` (Defender plans: ``pricingTier``
  Free|Standard, ``extensions`` with ``isEnabled`` "True"/"False"; Purview's ``AIPromptSharingWithPurview``
  needs Standard); PUT, PATCH ``{acct}/defenderForAISettings/Default`` (``state`` Enabled|Disabled)
- PUT ``{acct}/raiPolicies/{name}``; PUT (a long-running operation: ``Azure-AsyncOperation``, polled at
  ``/subscriptions/{s}/providers/Microsoft.CognitiveServices/locations/{loc}/operationResults/{id}``) and
  PATCH (``sku``, ``tags``) ``{acct}/deployments/{name}``
- POST ``{scope}/providers/Microsoft.PolicyInsights/policyStates/latest/triggerEvaluation`` (202 with a
  ``Location``: ``/subscriptions/{s}/providers/Microsoft.PolicyInsights/asyncOperationResults/{id}``):
  the emulator's own Azure Policy evaluation (:mod:`.policy_engine`) replaces the policy states
- GET ``{scope or resource id}/providers/Microsoft.Authorization/permissions``

Every write needs a role that allows its action (:mod:`.roles`; ``Scenario.grants``, by default every
caller is Owner): ``Scenario.demo().only("Reader")`` makes each write a 403 ``AuthorizationFailed``.
Tests change the tenant behind the server's back with ``emu.update(id, fn)``, ``emu.put_resource(body)``,
``emu.remove_resource(id)`` and ``emu.evaluate(scope)``, read it with ``emu.resource(id)``, and find the
bodies clients sent in ``emu.requests[i].body``.

Every list holding more than ``page_size`` items is paged with an absolute ``nextLink`` carrying a
``$skiptoken`` (standard base64, percent-encoded). Errors are ARM error bodies
(``{"error": {"code", "message"}}``); every answer has ``x-ms-request-id`` and
``x-ms-ratelimit-remaining-subscription-reads`` (``-writes`` for writes).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import select
import subprocess
import sys
import threading
import types
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

from .faults import FAULT_TYPES, Faults, Rule
from .scenario import Scenario
from .server import ArmEmulator, ArmError, RequestLog

__all__ = [
    "FAULT_TYPES",
    "ArmEmulator",
    "ArmError",
    "EmulatorCredential",
    "Faults",
    "RequestLog",
    "Rule",
    "Scenario",
    "run_async",
    "sdk_kwargs",
]

T = TypeVar("T")


def run_async(coro: Coroutine[Any, Any, T], *, timeout: float | None = 120.0) -> T:
    """Run ``coro`` to completion on a fresh event loop in a fresh thread and return its result
    (or raise its exception).

    Always a fresh thread, not ``asyncio.run`` in the caller's thread: the suite's qasync ``qloop``
    fixture stays the running loop of the main thread once used (``asyncio.run`` would refuse), and
    ``asyncio.run`` in the main thread leaves no current event loop behind, which would break later
    tests that ask for one.
    """
    outcome: dict[str, Any] = {}

    async def main() -> T:
        try:
            return await coro
        finally:
            await _transports_closed()

    def target() -> None:
        try:
            outcome["value"] = asyncio.run(main())
        except BaseException as exc:  # re-raised in the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="run_async", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TimeoutError(f"coroutine did not finish within {timeout} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


async def _transports_closed(timeout: float = 2.0) -> None:
    """Wait (at most ``timeout``) until no socket of this loop is still open.

    A TLS connection closed by a client session (say after a read timeout) stays open until the
    peer answers its close_notify, a few milliseconds later; ``asyncio.run`` would close the loop
    before that and the socket be reported unclosed (a ``ResourceWarning``) at some later test.
    Waits on the condition itself, through the selector loop's transport table.
    """
    loop = asyncio.get_running_loop()
    table = getattr(loop, "_transports", None)
    if table is None:
        return
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if not any(t is not None and not t.is_closing() for t in list(table.values())):
            return
        await asyncio.sleep(0.002)


class EmulatorCredential:
    """An ``AsyncTokenCredential`` for the SDK clients: each ``get_token`` mints a fresh emulator
    token (or returns the fixed ``token``). ``scopes_seen`` records what the clients asked for.

    By default the token is reported to the SDK as valid for at least an hour whatever it really
    holds, so that the *server* rejects an expired one (401 ``ExpiredAuthenticationToken``), as with a
    token whose expiry the client cannot know. ``true_expiry=True`` reports a minted token's real
    expiry instead (``expires_in`` capped by ``Faults.token_lifetime_s``), so azure-core renews it
    before it runs out.
    """

    def __init__(
        self,
        emulator: ArmEmulator | None = None,
        *,
        token: str | None = None,
        expires_in: float = 3600.0,
        principal: str = "tester",
        true_expiry: bool = False,
    ) -> None:
        if emulator is None and token is None:
            raise ValueError("give an emulator or a token")
        self.emulator = emulator
        self.token = token
        self.expires_in = expires_in
        self.principal = principal
        self.true_expiry = true_expiry
        self.scopes_seen: list[tuple[str, ...]] = []
        self.calls = 0

    async def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        import time

        from azure.core.credentials import AccessToken

        self.scopes_seen.append(scopes)
        self.calls += 1
        now = time.time()
        claimed = max(self.expires_in, 3600.0)
        if self.token is not None:
            return AccessToken(self.token, int(now + claimed))
        assert self.emulator is not None
        token = self.emulator.mint_token(expires_in=self.expires_in, principal=self.principal)
        if self.true_expiry:
            lifetime = self.expires_in
            if self.emulator.faults.token_lifetime_s is not None:
                lifetime = min(lifetime, self.emulator.faults.token_lifetime_s)
            return AccessToken(token, int(now + lifetime))
        return AccessToken(token, int(now + claimed))

    async def close(self) -> None:
        return None

    async def __aenter__(self) -> EmulatorCredential:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def sdk_kwargs(emulator: ArmEmulator, **extra: Any) -> dict[str, Any]:
    """Keyword arguments that point any ``azure.mgmt.*`` client at the emulator."""
    return {
        "base_url": emulator.url,
        "credential_scopes": [emulator.url + ".default"],
        "connection_verify": emulator.ca_file,
        **extra,
    }


@contextlib.contextmanager
def emulator_process(
    *args: str, nice: int = 0, start_timeout_s: float = 60
) -> Iterator[types.SimpleNamespace]:
    """``python -m tests.arm_emulator ARGS`` in its own process, as Azure is to the app: its request
    handling then cannot take the GIL (or, with ``nice``, the CPU) from the process being measured.
    Yields ``url``, ``ca_file`` and ``token``; stops the process on exit."""
    repo = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.arm_emulator", *args],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        preexec_fn=(lambda: os.nice(nice)) if nice else None,
    )
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], start_timeout_s)  # never hang on a stuck start
        line = proc.stdout.readline() if ready else ""
        if not line:
            raise RuntimeError(f"the emulator did not start (exit code {proc.poll()})")
        info = json.loads(line)
        yield types.SimpleNamespace(url=info["url"], ca_file=info["ca_file"], token=info["token"])
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout:
            proc.stdout.close()
