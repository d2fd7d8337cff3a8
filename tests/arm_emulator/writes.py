"""The emulator's write endpoints, its RBAC check and its policy evaluation.

Served here (``{acct}`` = ``/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.CognitiveServices/
accounts/{a}``; ``{scope}`` = ``/subscriptions/{s}`` or ``/subscriptions/{s}/resourceGroups/{rg}``):

- ``PUT|DELETE {scope}/providers/Microsoft.Authorization/policyAssignments/{name}``: 201 with the stored
  assignment (create *and* update: Azure's API and the SDK know only 201); DELETE 200 with the deleted
  body (its policy states go too) or 204.
- ``PUT {acct}/raiPolicies/{name}``: 201 create, 200 update (``Microsoft.*`` names: 400).
- ``PUT {acct}/deployments/{name}``: a long-running operation. 201/200 with ``provisioningState``
  Creating/Updating, ``Azure-AsyncOperation`` and ``Retry-After: 0``; the operation answers InProgress
  for :attr:`Writes.lro_polls` polls, then Succeeded (and the deployment becomes Succeeded).
  ``PATCH`` changes ``sku`` and ``tags`` only (200).
- ``PUT /subscriptions/{s}/providers/Microsoft.Security/pricings/{name}``: a Defender for Cloud plan
  (Pricings_Update, api-version 2024-01-01): 200 update, 201 create, the body shaped like the published
  example (``enablementTime``, ``freeTrialRemainingTime``, extensions with ``operationStatus``).
- ``PUT``, ``PATCH {acct}/defenderForAISettings/Default``: 201 create, 200 update (PATCH: 200, 404 when
  there is none), a new ``etag`` each time.
- ``POST {scope}/providers/Microsoft.PolicyInsights/policyStates/latest/triggerEvaluation``: evaluates
  at once (:meth:`Writes.evaluate`), answers 202 with a ``Location`` that answers 202 for
  :attr:`Writes.lro_polls` polls, then 200.
- ``GET {scope or resource id}/providers/Microsoft.Authorization/permissions``: the caller's roles there.

Deployments, RAI policies and Defender for AI settings get a new ``etag`` on every write. Every write is
checked against the scenario's role grants first (:meth:`Writes.authorize`, see :mod:`.roles`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import orjson

from fcdesk.core.normalize import policy_state_key
from fcdesk.core.records import Kind, RawRecord

from . import policy_engine as engine
from .roles import ROLES, covers
from .scenario import (
    ACCOUNT_CHILDREN,
    ETAG_KINDS,
    Scenario,
    assignment_scope_key,
    idkey,
    new_etag,
    parent_key,
    record_key,
)
from .wire import ArmError, Reply, action_of, authorization_failed, is_read, not_found, object_id

ASSIGNMENT_TYPE = "Microsoft.Authorization/policyAssignments"
RAI_POLICY_TYPE = "Microsoft.CognitiveServices/accounts/raiPolicies"
DEPLOYMENT_TYPE = "Microsoft.CognitiveServices/accounts/deployments"
DEFENDER_SETTING_TYPE = "Microsoft.CognitiveServices/accounts/defenderForAISettings"
PRICING_TYPE = "Microsoft.Security/pricings"
#: The extension of the ``AI`` plan that is Microsoft Purview's switch (docs/azure-map.md).
PURVIEW_EXTENSION = "AIPromptSharingWithPurview"
_TIERS = {"free": "Free", "standard": "Standard"}
_FLAGS = {"true": "True", "false": "False"}
_DEFENDER_STATES = {"enabled": "Enabled", "disabled": "Disabled"}
#: RAI policy names a deployment may use without the account defining them.
SYSTEM_RAI_POLICY_NAMES = ("Microsoft.Default", "Microsoft.DefaultV2", "Microsoft.Nil")
_SOURCES = ("prompt", "completion")
_SEVERITIES = ("low", "medium", "high")
_MODES = ("default", "deferred", "blocking", "asynchronous_filter")
_ENFORCEMENT = ("default", "donotenforce")
#: Kinds by lower-case ARM type, for :meth:`Writes.store` (bodies of other kinds need ``kind=``).
KIND_BY_TYPE: dict[str, Kind] = {
    "microsoft.resources/resourcegroups": Kind.RESOURCE_GROUP,
    "microsoft.cognitiveservices/accounts": Kind.ACCOUNT,
    "microsoft.cognitiveservices/accounts/projects": Kind.PROJECT,
    DEPLOYMENT_TYPE.lower(): Kind.DEPLOYMENT,
    RAI_POLICY_TYPE.lower(): Kind.RAI_POLICY,
    DEFENDER_SETTING_TYPE.lower(): Kind.DEFENDER_AI_SETTING,
    ASSIGNMENT_TYPE.lower(): Kind.POLICY_ASSIGNMENT,
    "microsoft.security/assessments": Kind.ASSESSMENT,
    PRICING_TYPE.lower(): Kind.PRICING,
}


@dataclass(frozen=True, slots=True)
class Caller:
    """Who sent a request: the token's principal, and whether the emulator minted the token."""

    principal: str
    minted: bool

    @property
    def grantee(self) -> str | None:
        """The principal grants are looked up for (None for a token from elsewhere)."""
        return self.principal if self.minted else None


@dataclass(slots=True)
class _Operation:
    """A long-running operation: ``kind`` "deployment" (``target``: its id key, ``etag``: the one the
    write gave it) or "evaluation"; ``url`` is its status URL."""

    kind: str
    url: str
    polls_left: int
    target: str = ""
    etag: str = ""
    started: str = ""


def _now() -> str:
    moment = datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}0Z"


def _bad(message: str, code: str = "InvalidRequestContent") -> ArmError:
    return ArmError(400, code, message)


def _props(body: Mapping[str, Any]) -> dict[str, Any]:
    props = body.get("properties")
    return dict(props) if isinstance(props, Mapping) else {}


def _copy(body: Any) -> Any:
    return orjson.loads(orjson.dumps(body))


class Writes:
    """The write side of one emulator: handlers, operations in flight and the evaluation."""

    def __init__(self, scenario: Scenario, *, lro_polls: int = 1) -> None:
        self.scenario = scenario
        #: Polls answered "in progress" before a long-running operation completes (read per write).
        self.lro_polls = lro_polls
        self._ops: dict[str, _Operation] = {}

    # ------------------------------------------------------------------------------ RBAC

    def authorize(self, caller: Caller, method: str, segs: list[str]) -> None:
        """Raise 403 ``AuthorizationFailed`` unless one of the caller's roles at the request's path
        allows its action. Reads are always allowed."""
        if is_read(method, [s.lower() for s in segs]):
            return
        action = action_of(segs, method)
        target = "/" + "/".join(segs)
        if not any(ROLES[r].allows(action) for r in self.scenario.roles_of(caller.grantee, target)):
            raise authorization_failed(caller.principal, action, target)

    # ------------------------------------------------------------------------------ routing

    def route(
        self,
        host: str,
        method: str,
        segs: list[str],
        p: int,
        query: Mapping[str, str],
        body: Any,
        caller: Caller,
    ) -> Reply | None:
        """Answer a request this module serves (``p``: index of the last ``providers`` segment), or
        None to let the read side answer it."""
        lower = [s.lower() for s in segs]
        scope, ns, rest = segs[:p], lower[p + 1] if p + 1 < len(lower) else "", lower[p + 2 :]
        api = query.get("api-version", "")
        if ns == "microsoft.authorization":
            if rest == ["permissions"] and method == "GET":
                return self._permissions(scope, caller)
            if len(rest) == 2 and rest[0] == "policyassignments" and method in ("PUT", "DELETE"):
                self._check_scope(scope)
                if method == "PUT":
                    return self._put_assignment(scope, segs[-1], body, caller)
                return self._delete_assignment(scope, segs[-1])
        elif ns == "microsoft.policyinsights":
            if rest == ["policystates", "latest", "triggerevaluation"] and method == "POST":
                self._check_scope(scope)
                return self._trigger(host, scope, api)
            if len(rest) == 2 and rest[0] == "asyncoperationresults" and method == "GET":
                return self._evaluation_status(rest[1])
        elif ns == "microsoft.security":
            if len(rest) == 2 and rest[0] == "pricings" and len(scope) == 2 and method == "PUT":
                return self._put_pricing(scope, segs[-1], body)
        elif ns == "microsoft.cognitiveservices":
            if (
                len(rest) == 4
                and rest[0] == "locations"
                and rest[2] == "operationresults"
                and method == "GET"
            ):
                return self._deployment_status(rest[3])
            if len(rest) == 4 and rest[0] == "accounts" and len(scope) == 4:
                acct = "/" + "/".join(segs[: p + 4])
                if rest[2] == "raipolicies" and method == "PUT":
                    return self._put_rai_policy(acct, segs[-1], body)
                if rest[2] == "deployments" and method == "PUT":
                    return self._put_deployment(host, acct, segs[-1], body, api)
                if rest[2] == "deployments" and method == "PATCH":
                    return self._patch_deployment(acct, segs[-1], body)
                if rest[2] == "defenderforaisettings" and method in ("PUT", "PATCH"):
                    return self._put_defender_setting(acct, segs[-1], body, caller, patch=method == "PATCH")
        return None

    def _check_scope(self, scope: list[str]) -> None:
        """404 unless ``scope`` is a subscription or an existing resource group."""
        lower = [s.lower() for s in scope]
        if len(lower) == 2 and lower[0] == "subscriptions":
            return  # the subscription itself was checked by the router
        if len(lower) == 4 and lower[0] == "subscriptions" and lower[2] == "resourcegroups":
            if idkey("/".join(scope)) not in self.scenario.index.known_rgs:
                raise ArmError(
                    404, "ResourceGroupNotFound", f"Resource group '{scope[3]}' could not be found."
                )
            return
        raise not_found("/" + "/".join(scope), "writes are emulated at subscription and resource group scope")

    def _account(self, acct: str) -> None:
        if idkey(acct) not in self.scenario.index.known_accounts:
            parts = acct.strip("/").split("/")
            raise ArmError(
                404,
                "ResourceNotFound",
                f"The Resource 'Microsoft.CognitiveServices/accounts/{parts[-1]}' under resource group "
                f"'{parts[3]}' was not found. For more details please go to "
                "https://aka.ms/ARMResourceNotFoundFix",
            )

    # ------------------------------------------------------------------------------ permissions

    def _permissions(self, scope: list[str], caller: Caller) -> Reply:
        lower = [s.lower() for s in scope]
        if len(lower) >= 4 and lower[0] == "subscriptions" and lower[2] == "resourcegroups":
            if idkey("/".join(scope[:4])) not in self.scenario.index.known_rgs:
                raise ArmError(
                    404, "ResourceGroupNotFound", f"Resource group '{scope[3]}' could not be found."
                )
        roles = self.scenario.roles_of(caller.grantee, "/" + "/".join(scope))
        return Reply(200, orjson.dumps({"value": [ROLES[r].permission() for r in roles]}))

    # ------------------------------------------------------------------------------ policy assignments

    def _put_assignment(self, scope: list[str], name: str, body: Any, caller: Caller) -> Reply:
        scope_path = "/" + "/".join(scope)
        if not isinstance(body, Mapping) or not isinstance(body.get("properties"), Mapping):
            raise _bad(
                f"The request content of the policy assignment '{name}' must be an object with 'properties'."
            )
        props = _props(body)
        definition = props.get("policyDefinitionId")
        if not isinstance(definition, str) or not definition.strip():
            raise _bad(
                f"The policy assignment '{name}' must name a policy definition in 'policyDefinitionId'."
            )
        if engine.is_initiative(definition):
            try:
                engine.check_parameters(name, props.get("parameters"))
            except engine.ParameterError as exc:
                raise _bad(exc.message, exc.code) from None
        not_scopes = props.get("notScopes") or []
        if not isinstance(not_scopes, list) or not all(isinstance(s, str) for s in not_scopes):
            raise _bad("'notScopes' must be an array of ARM ids.")
        for excluded in not_scopes:
            if not (excluded.startswith("/") and idkey(excluded).startswith(idkey(scope_path) + "/")):
                raise _bad(
                    f"The not scope '{excluded}' of the policy assignment '{name}' is not an ARM id "
                    f"under the assignment scope '{scope_path}'.",
                    "InvalidNotScopes",
                )
        mode = props.get("enforcementMode", "Default")
        if not isinstance(mode, str) or mode.lower() not in _ENFORCEMENT:
            raise _bad(f"'enforcementMode' must be 'Default' or 'DoNotEnforce', not {mode!r}.")
        metadata = props.get("metadata") or {}
        if not isinstance(metadata, Mapping):
            raise _bad("'metadata' must be an object.")
        arm_id = f"{scope_path}/providers/{ASSIGNMENT_TYPE}/{name}"
        now, oid = _now(), object_id(caller.principal)
        with self.scenario.lock:
            old = self.scenario.find(arm_id)
            old_meta = _props(old.body).get("metadata") if old is not None else None
            old_meta = old_meta if isinstance(old_meta, Mapping) else {}
            old_system = old.body.get("systemData") if old is not None else None
            old_system = old_system if isinstance(old_system, Mapping) else {}
            stored = {
                "properties": {
                    **props,
                    "metadata": {
                        **metadata,
                        # Set by Azure Policy whatever the request says.
                        "createdBy": old_meta.get("createdBy", oid) if old else oid,
                        "createdOn": old_meta.get("createdOn", now) if old else now,
                        "updatedBy": oid if old else None,
                        "updatedOn": now if old else None,
                    },
                    "notScopes": not_scopes,
                    "enforcementMode": mode,
                    "scope": scope_path,
                },
                "id": str(old.body.get("id") or arm_id) if old is not None else arm_id,
                "type": ASSIGNMENT_TYPE,
                "name": str(old.body.get("name") or name) if old is not None else name,
                **{k: body[k] for k in ("location", "identity") if k in body},
                "systemData": {
                    "createdBy": old_system.get("createdBy", caller.principal),
                    "createdByType": "User",
                    "createdAt": old_system.get("createdAt", now),
                    "lastModifiedBy": caller.principal,
                    "lastModifiedByType": "User",
                    "lastModifiedAt": now,
                },
            }
            self.scenario.upsert(
                RawRecord(Kind.POLICY_ASSIGNMENT, stored["id"], stored, f"/{'/'.join(scope[:2])}")
            )
        return Reply(201, orjson.dumps(stored))

    def _delete_assignment(self, scope: list[str], name: str) -> Reply:
        arm_id = f"/{'/'.join(scope)}/providers/{ASSIGNMENT_TYPE}/{name}"
        key = idkey(arm_id)
        with self.scenario.lock:
            found = self.scenario.find(arm_id)
            if found is None:
                return Reply(204)
            self.scenario.rewrite(
                lambda r: (
                    idkey(str(r.body.get("policyAssignmentId") or "")) != key
                    if r.kind == Kind.POLICY_STATE
                    else record_key(r) != key
                )
            )
        return Reply(200, orjson.dumps(found.body))

    # ------------------------------------------------------------------------------ RAI policies

    def _put_rai_policy(self, acct: str, name: str, body: Any) -> Reply:
        self._account(acct)
        if name.lower().startswith("microsoft."):
            raise _bad(
                f"The RAI policy '{name}' is a system policy: it cannot be created, changed or deleted.",
                "OperationNotAllowed",
            )
        if not isinstance(body, Mapping) or not isinstance(body.get("properties"), Mapping):
            raise _bad(f"The request content of the RAI policy '{name}' must be an object with 'properties'.")
        props = _props(body)
        _check_rai_properties(props)
        arm_id = f"{acct}/raiPolicies/{name}"
        with self.scenario.lock:
            old = self.scenario.find(arm_id)
            stored = {
                "name": str(old.body.get("name") or name) if old is not None else name,
                "id": str(old.body.get("id") or arm_id) if old is not None else arm_id,
                "type": RAI_POLICY_TYPE,
                "etag": new_etag(),
                "properties": {**props, "type": "UserManaged"},
            }
            self.scenario.upsert(RawRecord(Kind.RAI_POLICY, stored["id"], stored, acct))
        return Reply(200 if old is not None else 201, orjson.dumps(stored))

    # ------------------------------------------------------------------------------ deployments

    def _put_deployment(self, host: str, acct: str, name: str, body: Any, api: str) -> Reply:
        self._account(acct)
        if not isinstance(body, Mapping) or not isinstance(body.get("properties"), Mapping):
            raise _bad(f"The request content of the deployment '{name}' must be an object with 'properties'.")
        props = _props(body)
        model = props.get("model")
        if not isinstance(model, Mapping) or not model.get("name") or not model.get("format"):
            raise _bad(
                f"The deployment '{name}' must name its model ('properties.model' with 'format' and 'name').",
                "InvalidResourceProperties",
            )
        for key in ("sku", "tags"):
            if key in body and not isinstance(body[key], Mapping):
                raise _bad(f"'{key}' must be an object.")
        arm_id = f"{acct}/deployments/{name}"
        with self.scenario.lock:
            self._check_rai_name(acct, props.get("raiPolicyName"))
            old = self.scenario.find(arm_id)
            etag = new_etag()
            stored = {
                "id": str(old.body.get("id") or arm_id) if old is not None else arm_id,
                "name": str(old.body.get("name") or name) if old is not None else name,
                "type": DEPLOYMENT_TYPE,
                **{k: body[k] for k in ("sku", "tags") if k in body},
                "properties": {**props, "provisioningState": "Updating" if old is not None else "Creating"},
                "etag": etag,
            }
            self.scenario.upsert(RawRecord(Kind.DEPLOYMENT, stored["id"], stored, acct))
            account = self.scenario.find(acct)
        location = str(account.body.get("location") or "global") if account is not None else "global"
        op = str(uuid.uuid4())
        sub = acct.strip("/").split("/")[1]
        url = (
            f"https://{host}/subscriptions/{sub}/providers/Microsoft.CognitiveServices/locations/{location}"
            f"/operationResults/{op}?api-version={api}"
        )
        self._ops[op] = _Operation("deployment", url, self.lro_polls, idkey(arm_id), etag, _now())
        headers = {"Azure-AsyncOperation": url, "Retry-After": "0"}
        return Reply(200 if old is not None else 201, orjson.dumps(stored), headers)

    def _check_rai_name(self, acct: str, rai_name: Any) -> None:
        if rai_name is None:
            return
        if not isinstance(rai_name, str) or not rai_name:
            raise _bad("'raiPolicyName' must be a non-empty string.", "InvalidResourceProperties")
        if rai_name.lower() in (n.lower() for n in SYSTEM_RAI_POLICY_NAMES):
            return
        found = self.scenario.find(f"{acct}/raiPolicies/{rai_name}")
        if found is None or found.kind != Kind.RAI_POLICY:
            raise _bad(
                f"The RAI policy '{rai_name}' does not exist on the account "
                f"'{acct.rsplit('/', 1)[-1]}'. Use one of the account's RAI policies or "
                f"{', '.join(SYSTEM_RAI_POLICY_NAMES)}.",
                "InvalidResourceProperties",
            )

    def _patch_deployment(self, acct: str, name: str, body: Any) -> Reply:
        self._account(acct)
        if not isinstance(body, Mapping):
            raise _bad("The request content must be an object.")
        extra = sorted(set(body) - {"sku", "tags"})
        if extra:
            raise _bad(
                f"Only 'sku' and 'tags' of a deployment can be changed with PATCH, not {', '.join(extra)}: "
                "PUT the whole deployment instead."
            )
        for key in ("sku", "tags"):
            if key in body and not isinstance(body[key], Mapping):
                raise _bad(f"'{key}' must be an object.")
        with self.scenario.lock:
            old = self.scenario.find(f"{acct}/deployments/{name}")
            if old is None or old.kind != Kind.DEPLOYMENT:
                raise ArmError(404, "NotFound", f"The requested resource '{name}' does not exist.")
            stored = {**old.body, **{k: body[k] for k in ("sku", "tags") if k in body}, "etag": new_etag()}
            stored["properties"] = {**_props(old.body), "provisioningState": "Succeeded"}
            self.scenario.upsert(RawRecord(Kind.DEPLOYMENT, old.id, stored, old.scope))
        return Reply(200, orjson.dumps(stored))

    def _deployment_status(self, op_id: str) -> Reply:
        op = self._ops.get(op_id)
        if op is None or op.kind != "deployment":
            raise ArmError(404, "OperationNotFound", f"The operation '{op_id}' could not be found.")
        body = {"id": urlsplit(op.url).path, "name": op_id, "startTime": op.started}
        if op.polls_left > 0:
            op.polls_left -= 1
            return Reply(200, orjson.dumps({**body, "status": "InProgress"}))
        with self.scenario.lock:
            current = self.scenario.find(op.target)
            if current is not None and current.body.get("etag") == op.etag:
                props = _props(current.body)
                if props.get("provisioningState") != "Succeeded":
                    stored = {**current.body, "properties": {**props, "provisioningState": "Succeeded"}}
                    self.scenario.upsert(RawRecord(current.kind, current.id, stored, current.scope))
        return Reply(200, orjson.dumps({**body, "status": "Succeeded", "endTime": _now()}))

    # ------------------------------------------------------------------------------ Defender for Cloud

    def _put_pricing(self, scope: list[str], name: str, body: Any) -> Reply:
        """Pricings_Update: validate like ARM, store, answer like ``PutPricingByName_example.json``."""
        if not isinstance(body, Mapping) or not isinstance(body.get("properties"), Mapping):
            raise _bad(f"The request content of the pricing '{name}' must be an object with 'properties'.")
        props = _props(body)
        tier = props.get("pricingTier")
        if not isinstance(tier, str) or tier.lower() not in _TIERS:
            raise _bad(f"'pricingTier' must be 'Free' or 'Standard', not {tier!r}.")
        tier = _TIERS[tier.lower()]
        for key in ("subPlan", "enforce"):
            if key in props and not isinstance(props[key], str):
                raise _bad(f"'{key}' must be a string.")
        sent = _check_extensions(props.get("extensions", []))
        arm_id = f"/{'/'.join(scope)}/providers/{PRICING_TYPE}/{name}"
        with self.scenario.lock:
            old = self.scenario.find(arm_id)
            old_props = _props(old.body) if old is not None else {}
            # Extensions the request does not name keep their state (the published PUT example names
            # none and its answer lists the plan's extensions as they were).
            extensions = {
                str(e["name"]).lower(): {k: v for k, v in e.items() if k != "operationStatus"}
                for e in old_props.get("extensions") or []
                if isinstance(e, Mapping) and e.get("name")
            }
            extensions.update({str(e["name"]).lower(): e for e in sent})
            purview = extensions.get(PURVIEW_EXTENSION.lower())
            # docs/azure-map.md: Microsoft Purview's switch is this extension of the AI plan, "which also
            # enables the billed plan" (the built-in policy 359a48a3-351a-4618-bb32-f1628645694b writes
            # it with pricingTier Standard). The emulator does not bill silently: turning it on with the
            # Free tier is refused, so a client must ask for Standard itself.
            if purview is not None and purview["isEnabled"] == "True" and tier != "Standard":
                raise _bad(
                    f"The extension '{PURVIEW_EXTENSION}' can only be enabled on the Standard tier: "
                    "set 'pricingTier' to 'Standard'.",
                    "InvalidPricingConfiguration",
                )
            was_standard = str(old_props.get("pricingTier") or "").lower() == "standard"
            stored_props: dict[str, Any] = {
                **{k: v for k, v in old_props.items() if k not in ("enablementTime", "extensions")},
                **{k: props[k] for k in ("subPlan", "enforce") if k in props},
                "pricingTier": tier,
                "freeTrialRemainingTime": old_props.get("freeTrialRemainingTime", "PT0S"),
            }
            if tier == "Standard":
                stored_props["enablementTime"] = (
                    old_props.get("enablementTime", _now()) if was_standard else _now()
                )
            if extensions:
                stored_props["extensions"] = [_with_status(e) for e in extensions.values()]
            stored = {
                "id": str(old.body.get("id") or arm_id) if old is not None else arm_id,
                "name": str(old.body.get("name") or name) if old is not None else name,
                "type": PRICING_TYPE,
                "properties": stored_props,
            }
            self.scenario.upsert(RawRecord(Kind.PRICING, stored["id"], stored, f"/{'/'.join(scope)}"))
        return Reply(200 if old is not None else 201, orjson.dumps(stored))

    def _put_defender_setting(self, acct: str, name: str, body: Any, caller: Caller, *, patch: bool) -> Reply:
        """DefenderForAISettings_CreateOrUpdate (PUT) and _Update (PATCH): ``properties.state``."""
        self._account(acct)
        if name.lower() != "default":
            raise _bad(f"The Defender for AI setting must be named 'Default', not '{name}'.")
        if not isinstance(body, Mapping) or not isinstance(body.get("properties"), Mapping):
            raise _bad(
                "The request content of the Defender for AI setting must be an object with 'properties'."
            )
        state = _props(body).get("state")
        if not isinstance(state, str) or state.lower() not in _DEFENDER_STATES:
            raise _bad(f"'state' must be 'Enabled' or 'Disabled', not {state!r}.")
        arm_id = f"{acct}/defenderForAISettings/Default"
        now = _now()
        with self.scenario.lock:
            old = self.scenario.find(arm_id)
            if patch and old is None:
                raise ArmError(404, "NotFound", "The Defender for AI setting 'Default' does not exist.")
            old_system = old.body.get("systemData") if old is not None else None
            old_system = old_system if isinstance(old_system, Mapping) else {}
            stored = {
                "name": str(old.body.get("name") or "Default") if old is not None else "Default",
                "id": str(old.body.get("id") or arm_id) if old is not None else arm_id,
                "type": DEFENDER_SETTING_TYPE,
                "properties": {
                    **(_props(old.body) if old is not None else {}),
                    "state": _DEFENDER_STATES[state.lower()],
                },
                "systemData": {
                    "createdBy": old_system.get("createdBy", caller.principal),
                    "createdByType": old_system.get("createdByType", "User"),
                    "createdAt": old_system.get("createdAt", now),
                    "lastModifiedBy": caller.principal,
                    "lastModifiedByType": "User",
                    "lastModifiedAt": now,
                },
                "etag": new_etag(),
            }
            self.scenario.upsert(RawRecord(Kind.DEFENDER_AI_SETTING, stored["id"], stored, acct))
        return Reply(200 if old is not None or patch else 201, orjson.dumps(stored))

    # ------------------------------------------------------------------------------ evaluation

    def _trigger(self, host: str, scope: list[str], api: str) -> Reply:
        self.evaluate("/" + "/".join(scope))
        op = str(uuid.uuid4())
        url = (
            f"https://{host}/subscriptions/{scope[1]}/providers/Microsoft.PolicyInsights/asyncOperationResults/"
            f"{op}?api-version={api}"
        )
        self._ops[op] = _Operation("evaluation", url, self.lro_polls)
        return Reply(202, headers={"Location": url, "Retry-After": "0"})

    def _evaluation_status(self, op_id: str) -> Reply:
        op = self._ops.get(op_id)
        if op is None or op.kind != "evaluation":
            raise ArmError(404, "OperationNotFound", f"The operation '{op_id}' could not be found.")
        if op.polls_left > 0:
            op.polls_left -= 1
            return Reply(202, headers={"Location": op.url, "Retry-After": "0"})
        return Reply(200)

    def evaluate(self, scope: str) -> list[dict[str, Any]]:
        """Judge the deployments under ``scope`` (``"/"``: everything) and replace their policy states.

        For every guardrail-initiative assignment whose scope overlaps ``scope``, the states it has
        for resources under both scopes are replaced by new ones (a summary with an empty
        ``policyDefinitionReferenceId`` plus one per reference) for each deployment there that is
        not in its ``notScopes``. Returns the new state bodies.
        """
        trigger = idkey(scope)
        with self.scenario.lock:
            records = self.scenario.records
            deployments = [r for r in records if r.kind == Kind.DEPLOYMENT]
            guardrail_policies = [
                r
                for r in records
                if r.kind == Kind.POLICY_ASSIGNMENT
                and engine.is_initiative(_props(r.body).get("policyDefinitionId"))
            ]
            rai: dict[str, dict[str, Mapping[str, Any]]] = {}
            locations: dict[str, Any] = {}
            for r in records:
                if r.kind == Kind.RAI_POLICY:
                    rai.setdefault(parent_key(record_key(r)), {})[str(r.body.get("name") or "")] = r.body
                elif r.kind == Kind.ACCOUNT:
                    locations[record_key(r)] = r.body.get("location")
            windows: list[tuple[str, str]] = []  #: (assignment key, scope whose states are replaced)
            new: list[dict[str, Any]] = []
            now = _now()
            for a in guardrail_policies:
                props = _props(a.body)
                a_scope = idkey(str(props.get("scope") or "")) or assignment_scope_key(record_key(a))
                if not a_scope.startswith("/subscriptions/"):
                    a_scope = idkey(a.scope)  # a management-group assignment, listed under a subscription
                if not (covers(trigger, a_scope) or covers(a_scope, trigger)):
                    continue
                window = a_scope if covers(trigger, a_scope) else trigger
                windows.append((record_key(a), window))
                excluded = [idkey(s) for s in props.get("notScopes") or [] if isinstance(s, str)]
                for d in deployments:
                    dkey = record_key(d)
                    if not covers(window, dkey) or any(covers(x, dkey) for x in excluded):
                        continue
                    acct = parent_key(dkey)
                    results = engine.judge(a.body, d.body, rai.get(acct, {}))
                    new += _state_bodies(a.body, d.body, results, now, locations.get(acct))

            def keep(r: RawRecord) -> bool:
                if r.kind != Kind.POLICY_STATE:
                    return True
                assignment = idkey(str(r.body.get("policyAssignmentId") or ""))
                resource = idkey(str(r.body.get("resourceId") or ""))
                return not any(assignment == k and covers(w, resource) for k, w in windows)

            self.scenario.rewrite(
                keep,
                [
                    RawRecord(
                        Kind.POLICY_STATE, policy_state_key(b), b, f"/subscriptions/{b['subscriptionId']}"
                    )
                    for b in new
                ],
            )
        return new

    # ------------------------------------------------------------------------------ test helpers

    def store(self, body: Mapping[str, Any], *, kind: Kind | None = None) -> dict[str, Any]:
        """Store ``body`` as the resource its ``id`` names, as if someone else wrote it: replaces the
        record with that id or adds one; a deployment or RAI policy gets a new etag. The kind comes from
        the record replaced, else ``kind``, else the body's ``type``."""
        arm_id = str(body.get("id") or "")
        if not idkey(arm_id).startswith("/subscriptions/"):
            raise ValueError("the body needs the ARM id of a resource under a subscription")
        with self.scenario.lock:
            old = self.scenario.find(arm_id)
            kind = (
                old.kind if old is not None else kind or KIND_BY_TYPE.get(str(body.get("type", "")).lower())
            )
            if kind is None:
                raise ValueError(f"cannot tell the kind of {arm_id!r}: pass kind=")
            if old is not None:
                scope = old.scope
            elif kind in ACCOUNT_CHILDREN:
                scope = "/" + "/".join(arm_id.strip("/").split("/")[:-2])
            else:
                scope = "/" + "/".join(arm_id.strip("/").split("/")[:2])
            stored = _copy(body)
            if kind in ETAG_KINDS:
                stored["etag"] = new_etag()
            self.scenario.upsert(RawRecord(kind, arm_id, stored, scope))
        return _copy(stored)

    def update(
        self, arm_id: str, change: Callable[[dict[str, Any]], dict[str, Any] | None]
    ) -> dict[str, Any]:
        """Change a stored body: ``change`` gets a copy and edits it in place or returns a new one.
        A deployment or RAI policy gets a new etag. KeyError if there is no such resource."""
        with self.scenario.lock:
            old = self.scenario.find(arm_id)
            if old is None:
                raise KeyError(arm_id)
            body = _copy(old.body)
            result = change(body)
            stored = body if result is None else _copy(result)
            if old.kind in ETAG_KINDS:
                stored["etag"] = new_etag()
            self.scenario.upsert(RawRecord(old.kind, old.id, stored, old.scope))
        return _copy(stored)


def _check_rai_properties(props: Mapping[str, Any]) -> None:
    mode = props.get("mode")
    if mode is not None and (not isinstance(mode, str) or mode.lower() not in _MODES):
        raise _bad(f"'mode' must be one of Default, Deferred, Blocking, Asynchronous_filter, not {mode!r}.")
    base = props.get("basePolicyName")
    if base is not None and not isinstance(base, str):
        raise _bad("'basePolicyName' must be a string.")
    filters = props.get("contentFilters", [])
    if not isinstance(filters, list):
        raise _bad("'contentFilters' must be an array.")
    for f in filters:
        if not isinstance(f, Mapping) or not isinstance(f.get("name"), str) or not f["name"]:
            raise _bad("Every content filter must be an object with a 'name'.")
        source, severity = f.get("source"), f.get("severityThreshold")
        if source is not None and (not isinstance(source, str) or source.lower() not in _SOURCES):
            raise _bad(
                f"The content filter '{f['name']}' has the source {source!r}: use Prompt or Completion."
            )
        if severity is not None and (not isinstance(severity, str) or severity.lower() not in _SEVERITIES):
            raise _bad(
                f"The content filter '{f['name']}' has the severityThreshold {severity!r}: "
                "use Low, Medium or High."
            )
        for flag in ("enabled", "blocking"):
            if flag in f and not isinstance(f[flag], bool):
                raise _bad(f"'{flag}' of the content filter '{f['name']}' must be true or false.")
    if not isinstance(props.get("customBlocklists", []), list):
        raise _bad("'customBlocklists' must be an array.")


def _check_extensions(extensions: Any) -> list[dict[str, Any]]:
    """A pricing's ``extensions`` as sent, validated: ``name``, ``isEnabled`` "True"/"False" (strings,
    in any case; stored as ARM spells them), optional ``additionalExtensionProperties``."""
    if not isinstance(extensions, list):
        raise _bad("'extensions' must be an array.")
    out = []
    for ext in extensions:
        if not isinstance(ext, Mapping) or not isinstance(ext.get("name"), str) or not ext["name"]:
            raise _bad("Every extension must be an object with a 'name'.")
        flag = ext.get("isEnabled")
        if not isinstance(flag, str) or flag.lower() not in _FLAGS:
            raise _bad(
                f"'isEnabled' of the extension '{ext['name']}' must be the string True or False, "
                f"not {flag!r}."
            )
        extra = ext.get("additionalExtensionProperties")
        if extra is not None and not isinstance(extra, Mapping):
            raise _bad(f"'additionalExtensionProperties' of the extension '{ext['name']}' must be an object.")
        item = {"name": ext["name"], "isEnabled": _FLAGS[flag.lower()]}
        if extra is not None:
            item["additionalExtensionProperties"] = dict(extra)
        out.append(item)
    return out


def _with_status(extension: Mapping[str, Any]) -> dict[str, Any]:
    """An extension as Pricings_Update answers it: with the outcome of its (instant) enablement."""
    on = extension["isEnabled"] == "True"
    return {
        **extension,
        "operationStatus": {
            "code": "Succeeded",
            "message": f"Successfully {'enabled' if on else 'disabled'} extension",
        },
    }


def _state_bodies(
    assignment: Mapping[str, Any],
    deployment: Mapping[str, Any],
    results: list[engine.ReferenceResult],
    timestamp: str,
    location: Any,
) -> list[dict[str, Any]]:
    """Policy-state records (the shape of ``policyStates/latest/queryResults``) for one (assignment,
    deployment): a summary with empty reference and definition ids carrying the overall state (the
    demo's convention, see ``fcdesk.core.demo``), then one record per judged reference."""
    if not results:
        return []
    dep_id = str(deployment.get("id") or "")
    parts = dep_id.strip("/").split("/")
    props = _props(assignment)
    set_id = engine.initiative()["id"]
    common = {
        "timestamp": timestamp,
        "resourceId": dep_id,
        "policyAssignmentId": str(assignment.get("id") or ""),
        "subscriptionId": parts[1] if len(parts) > 1 else "",
        "resourceType": DEPLOYMENT_TYPE,
        "resourceLocation": location,
        "resourceGroup": parts[3] if len(parts) > 3 else "",
        "policyAssignmentName": str(assignment.get("name") or ""),
        "policyAssignmentScope": str(props.get("scope") or ""),
        "policyDefinitionAction": "audit",
        "policySetDefinitionId": set_id,
        "policySetDefinitionName": engine.initiative()["name"],
        "policySetDefinitionVersion": str(engine.initiative()["properties"].get("version", "")),
    }
    failed = any(not r.compliant for r in results)
    out = [
        {
            **common,
            "policyDefinitionId": "",
            "policyDefinitionReferenceId": "",
            "complianceState": "NonCompliant" if failed else "Compliant",
            "isCompliant": not failed,
        }
    ]
    for r in results:
        out.append(
            {
                **common,
                "policyDefinitionId": r.definition_id,
                "policyDefinitionName": r.definition_id.rsplit("/", 1)[-1],
                "policyDefinitionVersion": r.definition_version,
                "policyDefinitionReferenceId": r.reference_id,
                "complianceState": "Compliant" if r.compliant else "NonCompliant",
                "isCompliant": r.compliant,
            }
        )
    return out
