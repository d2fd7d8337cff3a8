"""Writes to Azure, made safe: rights checks, conflict detection, audit, re-read after failure.

:class:`Actions` is what the window and the CLI call to change anything in Azure. It sits above
``fcdesk.azure`` (which sends the requests) and ``fcdesk.store.audit`` (which records them), and
works on the pure plans of ``fcdesk.core.drafts`` (guardrail policies) and ``fcdesk.core.fix``
(guardrails); it also switches threat protection for AI (the Defender for Cloud ``AI`` plan and the
per-account Defender for AI settings) and Microsoft Purview (the plan's ``AIPromptSharingWithPurview``
extension). Every method runs on the asyncio (qasync) loop; blocking file I/O (the audit log)
goes to a worker thread.

The rules every write follows:

* **Rights first.** Before enabling Create/Edit/Delete the caller's permissions at the scope are
  read (``GET {scope}/providers/Microsoft.Authorization/permissions``); without the needed action
  the write is refused before anything is sent, with the reason (:class:`Rights`).
* **Reviewable.** Each write is first a list of :class:`ArmCall` (method, URL, body) that the GUI
  shows in its confirmation and ``--dry-run`` prints. Nothing is sent by building it.
* **No lost updates.** Guardrail writes re-read their targets just before writing and compare the
  etags with the ones the user saw; a difference raises :class:`ConflictError` and writes nothing.
  Defender for AI settings are compared the same way; the AI plan has no etag, so its tier and the
  extensions' ``isEnabled`` are compared instead.
  Policy writes check that a new assignment's name is still free and an edited one still exists.
* **Audited.** Every write, successful or not, is appended to the audit log (time, principal,
  cloud, operation, target, before, after, outcome), and so are refusals and conflicts. A log that
  cannot be appended to is reported in the application log, never by undoing a write.
* **Nothing half-done that is not shown.** When a step fails, the targets are re-read and
  :class:`WriteFailed` carries their true state (``reread``) so the window shows it.
* **Pending evaluation.** After a write, a policy evaluation is triggered for the scope and the
  affected assignments are reported as pending from the write's time (``WriteResult.pending``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fcdesk.azure.clouds import Cloud
from fcdesk.azure.errors import ArmError, LiveError
from fcdesk.azure.writes import permits, route, trigger_evaluation_path
from fcdesk.core.drafts import DraftError, PolicyDraft, scope_text
from fcdesk.core.fix import GuardrailPlan, deployment_put_body, rai_policy_body
from fcdesk.core.model import id_segment, idkey, parent_id
from fcdesk.core.policy import AZURE_METADATA_KEYS, GuardrailPolicy
from fcdesk.core.records import Kind, RawRecord
from fcdesk.store.audit import AuditEntry, AuditLog, now_iso

if TYPE_CHECKING:
    from fcdesk.azure.session import AzureSession
    from fcdesk.azure.writes import ArmWriter

log = logging.getLogger(__name__)

#: ARM actions fcdesk checks before offering a write.
POLICY_WRITE = "Microsoft.Authorization/policyAssignments/write"
POLICY_DELETE = "Microsoft.Authorization/policyAssignments/delete"
RAI_POLICY_WRITE = "Microsoft.CognitiveServices/accounts/raiPolicies/write"
DEPLOYMENT_WRITE = "Microsoft.CognitiveServices/accounts/deployments/write"
TRIGGER_EVALUATION = "Microsoft.PolicyInsights/policyStates/triggerEvaluation/action"
PRICING_WRITE = "Microsoft.Security/pricings/write"
DEFENDER_SETTING_WRITE = "Microsoft.CognitiveServices/accounts/defenderForAISettings/write"
#: Granted by the Azure AI Account Owner role (and Owner): how rights_for_purview recognises it.
ACCOUNT_WRITE = "Microsoft.CognitiveServices/accounts/write"
ROLE_ASSIGNMENT_WRITE = "Microsoft.Authorization/roleAssignments/write"

POLICY_ROLES_TEXT = "Owner or Resource Policy Contributor"
GUARDRAIL_ROLES_TEXT = "Owner, Contributor or Cognitive Services Contributor"
DEFENDER_ROLES_TEXT = "Security Admin or Owner"
DEFENDER_SETTING_ROLES_TEXT = (
    "Owner (or Contributor, Cognitive Services Contributor or Azure AI Account Owner) on the account"
)
PURVIEW_ROLES_TEXT = "Security Admin or Owner, and the Azure AI Account Owner role or Owner"

#: The Defender for Cloud plan of threat protection for AI, and the extensions of it fcdesk shows.
AI_PLAN = "AI"
PURVIEW_EXTENSION = "AIPromptSharingWithPurview"
EVIDENCE_EXTENSION = "AIPromptEvidence"
#: Shown before turning the plan on (no prices: they change, and differ by agreement and region).
BILLING_NOTE = (
    "Threat protection for AI is a paid Microsoft Defender for Cloud plan: once it is on, the "
    "subscription is billed for the AI usage the plan protects, per Defender for Cloud's current "
    "pricing (see the Defender for Cloud pricing page; fcdesk does not show prices)."
)
#: Shown before turning Microsoft Purview on or off (see docs/azure-map.md, "Security posture").
PURVIEW_NOTE_WRITE = (
    "The Microsoft Purview switch is the AIPromptSharingWithPurview extension of the Defender for AI "
    "plan: turning it on also turns the billed plan on. No public API behind the portal's Purview "
    "toggle was found, so fcdesk writes this extension, the documented route."
)


@dataclass(frozen=True, slots=True)
class ArmCall:
    """One request fcdesk would send (or sent): for confirmations, ``--dry-run`` and the audit log."""

    method: str  #: GET, PUT, DELETE, POST
    path: str  #: ARM path (an id, or id + action), without host and api-version
    api_version: str
    body: Any = None  #: JSON body, or None
    what: str = ""  #: one plain line: "Create the guardrail policy 'Block harm' on subscription …"
    #: The audit log's operation for a write ("policyAssignment.create"...); "" for a POST action.
    operation: str = ""

    def url(self, arm_endpoint: str) -> str:
        return f"{arm_endpoint.rstrip('/')}{self.path}?api-version={self.api_version}"

    def text(self, arm_endpoint: str = "https://management.azure.com") -> str:
        """``PUT https://…?api-version=…`` and the body as indented JSON (what --dry-run prints)."""
        import json

        head = f"{self.method} {self.url(arm_endpoint)}"
        return (
            head if self.body is None else head + "\n" + json.dumps(self.body, indent=2, ensure_ascii=False)
        )


@dataclass(frozen=True, slots=True)
class Rights:
    """Whether the signed-in caller may make a kind of write at a scope, and if not, why."""

    allowed: bool
    reason: str = ""  #: plain sentence when not allowed (shown on the disabled action)
    #: False when the permissions could not be read (a network error...): ask again later.
    checked: bool = True


class ConflictError(LiveError):
    """A target changed since the user read it (its etag differs): nothing was written."""

    def __init__(self, target: str, seen: str | None, now: str | None, message: str = "") -> None:
        self.target, self.seen, self.now = target, seen, now
        super().__init__(
            message
            or f"{_name_of(target)} was changed in Azure since it was read "
            f"(etag {seen or 'none'} → {now or 'none'}). "
            "Nothing was written: reload it and make the change again."
        )


class WriteFailed(LiveError):
    """A write failed (possibly after some steps succeeded). ``reread`` is the targets' true state."""

    def __init__(
        self,
        message: str,
        *,
        cause: ArmError | None = None,
        done: list[str] | None = None,
        reread: list[RawRecord] | None = None,
        removed: list[str] | None = None,
    ) -> None:
        super().__init__(message)
        self.cause = cause
        self.done = done or []  #: plain lines: the steps that did succeed before the failure
        self.reread = reread or []  #: the targets as re-read after the failure (upserts)
        self.removed = removed or []  #: targets that turned out not to exist any more


class RefusedError(LiveError):
    """The caller lacks the rights for this write: nothing was sent."""


@dataclass(slots=True)
class WriteResult:
    """What a successful write changed, for ``Inventory.patched`` and the status bar."""

    records: list[RawRecord]  #: the targets as re-read after the write (upserts)
    removed: list[str] = field(default_factory=list)  #: ids deleted
    pending: dict[str, datetime] = field(default_factory=dict)  #: assignment id key → written at
    calls: list[ArmCall] = field(default_factory=list)  #: what was sent
    evaluation_started: bool = False
    message: str = ""  #: one sentence for the status bar


@dataclass(slots=True)
class GuardrailTargets:
    """The guardrail and deployments of a Fix-now edit as read (bodies and etags)."""

    account_id: str
    rai_policy: Mapping[str, Any] | None  #: the custom guardrail as read (None: a new one)
    deployments: dict[str, Mapping[str, Any]]  #: deployment id key → body as read

    def etags(self) -> dict[str, str | None]:
        out: dict[str, str | None] = {k: _etag(b) for k, b in self.deployments.items()}
        if self.rai_policy is not None:
            out[str(self.rai_policy.get("id", "")).lower()] = _etag(self.rai_policy)
        return out


@dataclass(slots=True)
class GuardrailChange:
    """Save one guardrail on an account and point deployments at it (Fix now / View in Build)."""

    account_id: str
    rai_policy_name: str  #: the custom guardrail to create or update
    plan: GuardrailPlan
    deployment_ids: list[str]  #: deployments to point at it (already pointing ones are left alone)
    seen: GuardrailTargets  #: what the user saw when the editor opened (bodies and etags)
    create: bool = False  #: a new guardrail (fails with a conflict if one of that name appeared)
    #: The guardrail policy assignments governing the deployments: reported pending after the write.
    governing: list[str] = field(default_factory=list)
    #: False: only point the deployments at an existing guardrail (a system one, say); plan unused.
    save_guardrail: bool = True
    #: A new guardrail made from a custom one (its body as read): blocklists and other settings the
    #: editor does not show are copied from it.
    template: Mapping[str, Any] | None = None


def _etag(body: Mapping[str, Any] | None) -> str | None:
    if not body:
        return None
    value = body.get("etag")
    return str(value) if value else None


def _name_of(arm_id: str) -> str:
    parts = arm_id.rstrip("/").split("/")
    kind = parts[-2] if len(parts) >= 2 else "resource"
    word = {
        "deployments": "The deployment",
        "raiPolicies": "The guardrail",
        "raipolicies": "The guardrail",
    }.get(kind, "The resource")
    return f"{word} '{parts[-1]}'"


# ------------------------------------------------------------------------------------------ actions

#: Audit operations (``AuditEntry.operation``).
OP_POLICY_CREATE = "policyAssignment.create"
OP_POLICY_UPDATE = "policyAssignment.update"
OP_POLICY_DELETE = "policyAssignment.delete"
OP_GUARDRAIL_CREATE = "raiPolicy.create"
OP_GUARDRAIL_UPDATE = "raiPolicy.update"
OP_SET_GUARDRAIL = "deployment.setGuardrail"
OP_ENABLE_AI_PLAN = "pricing.enableAI"
OP_PURVIEW_ON = "pricing.purviewOn"
OP_PURVIEW_OFF = "pricing.purviewOff"
OP_DEFENDER_SETTING = "defenderForAISettings.update"


class Actions:
    """The writes of one signed-in session (see the module doc for the rules they follow).

    ``principal`` and ``cloud`` are recorded in the audit log. ``tenant_id``: the tenant the
    targets live in (default: the sign-in's). The requests go through one
    :class:`~fcdesk.azure.writes.ArmWriter`, opened on first use and closed by :meth:`close`;
    create a new ``Actions`` after signing in again.
    """

    def __init__(
        self,
        session: AzureSession,
        audit: AuditLog,
        *,
        principal: str,
        cloud: Cloud,
        tenant_id: str | None = None,
    ) -> None:
        self.session = session
        self.audit = audit
        self.principal = principal
        self.cloud = cloud
        self.tenant_id = tenant_id
        self._rights: dict[tuple[str, tuple[str, ...]], Rights] = {}
        self._stack: contextlib.AsyncExitStack | None = None
        self._writer: ArmWriter | None = None
        self._opening: asyncio.Lock | None = None

    # ------------------------------------------------------------------------------- rights

    async def rights_for_policies(self, scope: str) -> Rights:
        """May the caller create, edit and delete guardrail policies at ``scope``?

        Answers are cached per scope for the life of this object (a failed check is not cached).
        """
        return await self._rights_at(
            scope,
            (POLICY_WRITE, POLICY_DELETE),
            POLICY_ROLES_TEXT,
            "create, edit or delete guardrail policies",
        )

    async def rights_for_guardrail(self, account_id: str) -> Rights:
        """May the caller save guardrails on the account and point its deployments at them?"""
        return await self._rights_at(
            account_id, (RAI_POLICY_WRITE, DEPLOYMENT_WRITE), GUARDRAIL_ROLES_TEXT, "change guardrails"
        )

    async def rights_for_defender(self, subscription_id: str) -> Rights:
        """May the caller turn threat protection for AI (the Defender for AI plan) on for the
        subscription? Needs ``Microsoft.Security/pricings/write`` there (Security Admin or Owner)."""
        return await self._rights_at(
            subscription_path(subscription_id),
            (PRICING_WRITE,),
            DEFENDER_ROLES_TEXT,
            "turn on threat protection for AI",
        )

    async def rights_for_defender_account(self, account_id: str) -> Rights:
        """May the caller turn threat protection for AI on or off for one account (its Defender for
        AI setting)?"""
        return await self._rights_at(
            account_id,
            (DEFENDER_SETTING_WRITE,),
            DEFENDER_SETTING_ROLES_TEXT,
            "turn threat protection for AI on or off for the account",
        )

    async def rights_for_purview(self, subscription_id: str) -> Rights:
        """May the caller turn Microsoft Purview on or off for the subscription?

        Two things are needed there: the write that is sent (``Microsoft.Security/pricings/write``:
        Security Admin or Owner), and the Azure AI Account Owner role (or Owner) that Microsoft asks
        for to configure Purview, recognised by actions it grants (``accounts/write`` of Cognitive
        Services and ``roleAssignments/write``).
        """
        return await self._rights_at(
            subscription_path(subscription_id),
            (PRICING_WRITE, ACCOUNT_WRITE, ROLE_ASSIGNMENT_WRITE),
            PURVIEW_ROLES_TEXT,
            "turn Microsoft Purview on or off",
            explain=_purview_refusal,
        )

    async def _rights_at(
        self,
        scope: str,
        needed: tuple[str, ...],
        roles: str,
        what: str,
        *,
        explain: Callable[[str, list[str]], str] | None = None,
    ) -> Rights:
        """Whether the caller's permissions at ``scope`` allow every action in ``needed``; the
        refusal says "You need {roles} at {scope} to {what}", or what ``explain(scope text, missing
        actions)`` says."""
        key = (idkey(scope), needed)
        cached = self._rights.get(key)
        if cached is not None:
            return cached
        where = scope_text(scope)
        try:
            permissions = await (await self._arm()).permissions(scope)
        except ArmError as exc:
            return Rights(
                False, f"Could not check your permissions at {where}: {exc.reason()}.", checked=False
            )
        except LiveError as exc:
            return Rights(
                False, f"Could not check your permissions at {where}: {exc.user_message}", checked=False
            )
        missing = [action for action in needed if not permits(permissions, action)]
        if not missing:
            rights = Rights(True)
        elif explain is not None:
            rights = Rights(False, explain(where, missing))
        else:
            rights = Rights(False, f"You need {roles} at {where} to {what} (missing {', '.join(missing)}).")
        self._rights[key] = rights
        return rights

    # ------------------------------------------------------------------------------- plans

    def policy_calls(self, draft: PolicyDraft) -> list[ArmCall]:
        """What saving ``draft`` sends: the assignment's PUT, on a scope change the old one's DELETE
        (after the PUT: the policy is never missing, and a failed create leaves the old one as it
        was), then the evaluation trigger of the scope. Pure: nothing is sent."""
        label = draft.display_name.strip() or draft.assignment_name
        update = draft.is_edit and not draft.scope_changed
        verb = "Update" if update else "Create"
        put_path = draft.assignment_id
        calls = [
            ArmCall(
                "PUT",
                put_path,
                route(put_path)[1],
                draft.assignment_body(),
                f"{verb} the guardrail policy '{label}' on {scope_text(draft.scope)}",
                OP_POLICY_UPDATE if update else OP_POLICY_CREATE,
            )
        ]
        if draft.scope_changed and draft.existing is not None:
            calls += self.delete_calls(draft.existing)
        calls.append(self._trigger_call(draft.scope))
        return calls

    def delete_calls(self, policy: GuardrailPolicy) -> list[ArmCall]:
        """What deleting ``policy`` sends (pure)."""
        return [
            ArmCall(
                "DELETE",
                policy.id,
                route(policy.id)[1],
                None,
                f"Delete the guardrail policy '{policy.label}' from {scope_text(policy.scope)}",
                OP_POLICY_DELETE,
            )
        ]

    def guardrail_calls(self, change: GuardrailChange) -> list[ArmCall]:
        """What ``change`` sends: the guardrail's PUT (unless ``save_guardrail`` is off), a PUT of each
        deployment not already pointing at it, and the evaluation trigger of the account's
        subscription. Pure. Raises ValueError for a deployment ``change.seen`` lacks."""
        name = change.rai_policy_name
        account = id_segment(change.account_id, "accounts") or change.account_id
        calls: list[ArmCall] = []
        if change.save_guardrail:
            path = f"{change.account_id}/raiPolicies/{name}"
            verb = "Create" if change.create else "Update"
            calls.append(
                ArmCall(
                    "PUT",
                    path,
                    route(path)[1],
                    rai_policy_body(
                        change.plan, change.template if change.create else change.seen.rai_policy
                    ),
                    f"{verb} the guardrail '{name}' on account {account}",
                    OP_GUARDRAIL_CREATE if change.create else OP_GUARDRAIL_UPDATE,
                )
            )
        for dep_id in change.deployment_ids:
            body = change.seen.deployments.get(idkey(dep_id))
            if body is None:
                raise ValueError(f"The deployment {dep_id} was not read before the change was planned.")
            props = body.get("properties")
            current = str(props.get("raiPolicyName") or "") if isinstance(props, Mapping) else ""
            if current.lower() == name.lower():
                continue
            path = str(body.get("id") or dep_id)
            calls.append(
                ArmCall(
                    "PUT",
                    path,
                    route(path)[1],
                    deployment_put_body(body, name),
                    f"Point the deployment '{path.rsplit('/', 1)[-1]}' at the guardrail '{name}' "
                    f"(now {current or 'the account default'})",
                    OP_SET_GUARDRAIL,
                )
            )
        # An account's deployments all live in its subscription.
        calls.append(self._trigger_call(f"/subscriptions/{id_segment(change.account_id, 'subscriptions')}"))
        return calls

    @staticmethod
    def _trigger_call(scope: str) -> ArmCall:
        path = trigger_evaluation_path(scope)
        return ArmCall(
            "POST", path, route(path)[1], None, f"Ask Azure Policy to evaluate {scope_text(scope)} now"
        )

    # ------------------------------------------------------------------------------- policies

    async def apply_policy(self, draft: PolicyDraft) -> WriteResult:
        """Create or update the guardrail policy of ``draft`` (a new scope: create there, delete the
        old one), then start an evaluation of its scope (not awaited).

        Raises :class:`RefusedError` (no rights: nothing sent), :class:`ConflictError` (the
        assignment appeared, or disappeared, since it was read: nothing written),
        :class:`WriteFailed`, or :class:`~fcdesk.core.drafts.DraftError` for an invalid draft.
        """
        problems = draft.problems()
        if problems:
            raise DraftError(" ".join(problems))
        calls = self.policy_calls(draft)
        put = calls[0]
        delete = calls[1] if draft.scope_changed else None
        planned = [put, *([delete] if delete is not None else [])]
        scopes = [draft.scope] + ([draft.existing.scope] if delete is not None and draft.existing else [])
        for scope in scopes:
            rights = await self.rights_for_policies(scope)
            await self._require(rights, planned)
        arm = await self._arm()
        label = draft.display_name.strip() or draft.assignment_name
        reading = f"Reading the guardrail policy '{label}'"
        before = await _read_before(arm, put.path, reading)
        old = await _read_before(arm, delete.path, reading) if delete is not None else None
        if before is not None and put.operation == OP_POLICY_CREATE:
            message = (
                f"A policy assignment named '{draft.assignment_name}' already exists on "
                f"{scope_text(draft.scope)}. Nothing was written: reload and edit it, or choose another name."
            )
            await self._refuse(planned, "conflict", message)
            raise ConflictError(put.path, None, _etag(before) or "exists", message)
        if (before is None and put.operation == OP_POLICY_UPDATE) or (delete is not None and old is None):
            message = (
                f"The guardrail policy '{label}' was deleted in Azure since it was read. "
                "Nothing was written: reload and make the change again."
            )
            await self._refuse(planned, "conflict", message)
            raise ConflictError(delete.path if delete is not None else put.path, "exists", None, message)
        seen = draft.existing.raw_properties if draft.existing is not None else {}
        current = (old if delete is not None else before) or {}
        if seen and _assignment_changed(seen, current.get("properties")):
            message = (
                f"The guardrail policy '{label}' was changed in Azure since it was read. "
                "Nothing was written: reload it and make the change again."
            )
            await self._refuse(planned, "conflict", message)
            raise ConflictError(
                delete.path if delete is not None else put.path, "as read", "changed", message
            )
        after = await self._write(arm, put, before)
        done = [_done(put)]
        if delete is not None:
            await self._write(arm, delete, old, done=done, upserts=[after])
            done.append(_done(delete))
        now = datetime.now(UTC)
        record = RawRecord(
            Kind.POLICY_ASSIGNMENT, str(after.get("id") or put.path), after, _sub_scope(put.path)
        )
        failure = await self._start_evaluation(draft.scope)
        verb = "Updated" if put.operation == OP_POLICY_UPDATE else "Created"
        where = scope_text(draft.scope) + (
            " (and deleted it from its old scope)" if delete is not None else ""
        )
        return WriteResult(
            records=[record],
            removed=[delete.path] if delete is not None else [],
            pending={idkey(record.id): now},
            calls=calls,
            evaluation_started=failure is None,
            message=f"{verb} the guardrail policy '{label}' on {where}. " + _evaluation_text(failure),
        )

    async def delete_policy(self, policy: GuardrailPolicy) -> WriteResult:
        """Delete a guardrail policy. Raises :class:`RefusedError` or :class:`WriteFailed`."""
        calls = self.delete_calls(policy)
        call = calls[0]
        rights = await self.rights_for_policies(policy.scope)
        await self._require(rights, calls)
        arm = await self._arm()
        before = await _read_before(arm, call.path, f"Reading the guardrail policy '{policy.label}'")
        if before is None:
            return WriteResult(
                records=[],
                removed=[policy.id],
                calls=[],
                message=f"The guardrail policy '{policy.label}' had already been deleted.",
            )
        await self._write(arm, call, before)
        return WriteResult(
            records=[],
            removed=[policy.id],
            calls=calls,
            message=f"Deleted the guardrail policy '{policy.label}' from {scope_text(policy.scope)}.",
        )

    # ------------------------------------------------------------------------------- guardrails

    async def read_targets(
        self, account_id: str, rai_policy_name: str | None, deployment_ids: list[str]
    ) -> GuardrailTargets:
        """The guardrail (None when it does not exist) and the deployments as they are now.

        Raises :class:`~fcdesk.azure.errors.ArmError` (a missing deployment: status 404).
        """
        targets = await self._read_targets(account_id, rai_policy_name, deployment_ids)
        missing = [d for d in deployment_ids if idkey(d) not in targets.deployments]
        if missing:
            raise ArmError(404, "NotFound", f"The deployment {missing[0].rsplit('/', 1)[-1]} does not exist.")
        return targets

    async def _read_targets(
        self, account_id: str, rai_policy_name: str | None, deployment_ids: list[str]
    ) -> GuardrailTargets:
        """:meth:`read_targets` leaving missing deployments out."""
        arm = await self._arm()
        paths = [f"{account_id}/raiPolicies/{rai_policy_name}"] if rai_policy_name else []
        bodies = await asyncio.gather(*(arm.get(p) for p in [*paths, *deployment_ids]))
        rail = bodies[0] if paths else None
        deployments = {
            idkey(dep_id): body
            for dep_id, body in zip(deployment_ids, bodies[len(paths) :], strict=True)
            if body is not None
        }
        return GuardrailTargets(account_id, rail, deployments)

    async def apply_guardrail(
        self, change: GuardrailChange, *, on_progress: Callable[[str], None] | None = None
    ) -> WriteResult:
        """Save the guardrail and point the deployments at it, after checking nothing changed.

        1. The guardrail and each deployment are re-read and compared with ``change.seen`` (etags,
           or the bodies when there are none); a difference, or a new guardrail whose name now
           exists, raises :class:`ConflictError` and nothing is written.
        2. The guardrail is PUT, then each deployment (long-running: awaited).
        3. On a failure every target is re-read: :class:`WriteFailed` carries what was done and the
           targets' true state.
        4. An evaluation of each affected subscription is started (not awaited); the assignments in
           ``change.governing`` are reported pending.

        ``on_progress`` receives one plain line per step. Raises :class:`RefusedError` without the
        rights (nothing sent).
        """
        progress = on_progress or (lambda _line: None)
        calls = self.guardrail_calls(change)
        writes = [c for c in calls if c.method == "PUT"]
        rights = await self.rights_for_guardrail(change.account_id)
        await self._require(rights, writes)
        progress("Checking that nothing changed since it was read…")
        try:
            now = await self._read_targets(change.account_id, change.rai_policy_name, change.deployment_ids)
        except ArmError as exc:
            raise WriteFailed(exc.sentence("Re-reading the guardrail and deployments"), cause=exc) from None
        conflict = _conflict(change, now)
        if conflict is not None:
            await self._refuse(writes, "conflict", str(conflict))
            raise conflict
        arm = await self._arm()
        done: list[str] = []
        records: list[RawRecord] = []
        for call in writes:
            progress(call.what + "…")
            kind = _kind_of(call.path)
            before = now.rai_policy if kind == Kind.RAI_POLICY else now.deployments.get(idkey(call.path))
            after = await self._write(arm, call, before, done=done, reread_change=change)
            done.append(_done(call))
            records.append(RawRecord(kind, str(after.get("id") or call.path), after, change.account_id))
        written_at = datetime.now(UTC)
        failures: list[str] = []
        for call in calls:
            if call.method == "POST":
                progress(call.what + "…")
                failure = await self._start_evaluation(_scope_of_trigger(call.path))
                if failure is not None:
                    failures.append(failure)
        pointed = sum(1 for c in writes if c.operation == OP_SET_GUARDRAIL)
        many = f"{pointed} deployment{'s' if pointed != 1 else ''}"
        if change.save_guardrail:
            head = f"Saved the guardrail '{change.rai_policy_name}'" + (
                f" and pointed {many} at it" if pointed else ""
            )
        else:
            head = f"Pointed {many} at the guardrail '{change.rai_policy_name}'"
        return WriteResult(
            records=records,
            pending={idkey(a): written_at for a in change.governing},
            calls=calls,
            evaluation_started=not failures,
            message=f"{head}. " + _evaluation_text(failures[0] if failures else None),
        )

    # ------------------------------------------------------------------------------- threat protection

    def ai_plan_calls(
        self,
        subscription_id: str,
        current: Mapping[str, Any] | None,
        *,
        enable: bool = True,
        purview: bool | None = None,
    ) -> list[ArmCall]:
        """What changing the subscription's Defender for AI plan sends: one PUT of its ``AI`` pricing.

        ``current`` is the pricing as read (None: not there, which is the Free tier). The tier becomes
        Standard when ``enable`` or ``purview`` is True; turning Purview off (``purview=False``) keeps
        the current tier whatever ``enable`` says, so that it never starts billing. The extensions of
        ``current`` are kept as they are (without their read-only ``operationStatus``), with
        ``AIPromptSharingWithPurview`` set to ``purview`` ("True"/"False", as ARM spells them) when it
        is given. Pure: nothing is sent. Raises ValueError when there is nothing to change
        (``enable=False`` and no ``purview``).
        """
        if not enable and purview is None:
            raise ValueError("Nothing to change: turn the plan on, or turn Microsoft Purview on or off.")
        path = ai_plan_path(subscription_id)
        props = _properties(current)
        tier_now = str(props.get("pricingTier") or "Free")
        tier = tier_now if purview is False else "Standard"
        body: dict[str, Any] = {"pricingTier": tier}
        body.update({k: props[k] for k in ("subPlan", "enforce") if props.get(k)})
        extensions = _extensions_with(props.get("extensions"), purview)
        if extensions:
            body["extensions"] = extensions
        where = f"subscription {subscription_id}"
        change = (
            f"Defender for AI plan: {tier_now} → {tier}"
            if tier_now.lower() != tier.lower()
            else f"the Defender for AI plan stays {tier}"
        )
        if purview is None:
            what, operation = f"Turn on threat protection for AI for {where} ({change})", OP_ENABLE_AI_PLAN
        elif purview:
            what = f"Turn Microsoft Purview on for {where} (the {PURVIEW_EXTENSION} extension; {change})"
            operation = OP_PURVIEW_ON
        else:
            what = f"Turn Microsoft Purview off for {where} (the {PURVIEW_EXTENSION} extension; {change})"
            operation = OP_PURVIEW_OFF
        return [ArmCall("PUT", path, route(path)[1], {"properties": body}, what, operation)]

    def defender_setting_calls(
        self, account_id: str, current: Mapping[str, Any] | None, *, enabled: bool
    ) -> list[ArmCall]:
        """What turning threat protection for AI on or off for one account sends: a PUT of its
        Defender for AI setting ``Default``. ``current``: the setting as read (None: none yet). Pure."""
        path = defender_setting_path(account_id)
        state = "Enabled" if enabled else "Disabled"
        before = str(_properties(current).get("state") or "not set")
        account = id_segment(account_id, "accounts") or account_id
        return [
            ArmCall(
                "PUT",
                path,
                route(path)[1],
                {"properties": {"state": state}},
                f"Turn threat protection for AI {'on' if enabled else 'off'} for account {account} "
                f"(Defender for AI setting: {before} → {state})",
                OP_DEFENDER_SETTING,
            )
        ]

    async def read_ai_plan(self, subscription_id: str) -> dict[str, Any] | None:
        """The subscription's ``AI`` pricing as it is now (None: 404). Raises
        :class:`~fcdesk.azure.errors.ArmError`."""
        return await (await self._arm()).get(ai_plan_path(subscription_id))

    async def read_defender_setting(self, account_id: str) -> dict[str, Any] | None:
        """The account's Defender for AI setting as it is now (None: 404). Raises
        :class:`~fcdesk.azure.errors.ArmError`."""
        return await (await self._arm()).get(defender_setting_path(account_id))

    async def set_ai_plan(
        self,
        subscription_id: str,
        seen: Mapping[str, Any] | None,
        *,
        enable: bool = True,
        purview: bool | None = None,
    ) -> WriteResult:
        """Turn the Defender for AI plan on, or Microsoft Purview on or off (see :meth:`ai_plan_calls`).

        1. Rights: :meth:`rights_for_purview` when ``purview`` is given, else
           :meth:`rights_for_defender`; without them :class:`RefusedError` (nothing sent).
        2. The pricing is re-read and compared with ``seen`` (what the user saw: pricings have no
           etag, so the tier and each extension's ``isEnabled``); a difference raises
           :class:`ConflictError` and nothing is written.
        3. The PUT; a failure re-reads the pricing and raises :class:`WriteFailed` with it.

        ``WriteResult.records`` holds the pricing as Azure returned it.
        """
        calls = self.ai_plan_calls(subscription_id, seen, enable=enable, purview=purview)
        call = calls[0]
        rights = await (
            self.rights_for_purview(subscription_id)
            if purview is not None
            else self.rights_for_defender(subscription_id)
        )
        await self._require(rights, calls)
        arm = await self._arm()
        now = await _read_before(
            arm, call.path, f"Re-reading the Defender for AI plan of subscription {subscription_id}"
        )
        if _plan_state(seen) != _plan_state(now):
            message = (
                f"The Defender for AI plan of subscription {subscription_id} was changed in Azure since "
                f"it was read (it was {_plan_text(seen)}, it is now {_plan_text(now)}). Nothing was "
                "written: reload it and make the change again."
            )
            await self._refuse(calls, "conflict", message)
            raise ConflictError(call.path, _plan_text(seen), _plan_text(now), message)
        after = await self._write(arm, call, now)
        record = RawRecord(
            Kind.PRICING, str(after.get("id") or call.path), after, subscription_path(subscription_id)
        )
        return WriteResult(
            records=[record], calls=calls, message=_plan_message(subscription_id, call.operation, after)
        )

    async def set_defender_setting(
        self, account_id: str, seen: Mapping[str, Any] | None, *, enabled: bool
    ) -> WriteResult:
        """Turn threat protection for AI on or off for one account (its Defender for AI setting).

        Rights first (:meth:`rights_for_defender_account`; :class:`RefusedError`), then the setting
        is re-read and compared with ``seen`` (its etag, or the body when there is none):
        :class:`ConflictError`, nothing written. A failed PUT re-reads it (:class:`WriteFailed`).
        ``WriteResult.records`` holds the setting as Azure returned it.
        """
        calls = self.defender_setting_calls(account_id, seen, enabled=enabled)
        call = calls[0]
        rights = await self.rights_for_defender_account(account_id)
        await self._require(rights, calls)
        account = id_segment(account_id, "accounts") or account_id
        arm = await self._arm()
        now = await _read_before(
            arm, call.path, f"Re-reading the Defender for AI setting of account {account}"
        )
        if _changed(seen, now):
            message = (
                f"The Defender for AI setting of account {account} was changed in Azure since it was "
                f"read (etag {_etag(seen) or 'none'} → {_etag(now) or 'none'}). Nothing was written: "
                "reload it and make the change again."
            )
            await self._refuse(calls, "conflict", message)
            raise ConflictError(call.path, _etag(seen), _etag(now), message)
        after = await self._write(arm, call, now)
        record = RawRecord(Kind.DEFENDER_AI_SETTING, str(after.get("id") or call.path), after, account_id)
        state = "on" if enabled else "off"
        return WriteResult(
            records=[record],
            calls=calls,
            message=f"Threat protection for AI is {state} for account {account} "
            f"(Defender for AI setting: {_properties(after).get('state') or 'unknown'}).",
        )

    # ------------------------------------------------------------------------------- evaluation

    async def trigger_evaluation(self, scope: str) -> bool:
        """Ask Azure Policy to evaluate ``scope`` now (started, not awaited). False when it could not."""
        return await self._start_evaluation(scope) is None

    async def _start_evaluation(self, scope: str) -> str | None:
        """Start an evaluation; None when started, else why not (one plain sentence)."""
        try:
            await (await self._arm()).start_evaluation(scope)
        except ArmError as exc:
            log.info("could not trigger a policy evaluation of %s: %s", scope, exc.reason())
            return exc.sentence(f"Asking Azure Policy to evaluate {scope_text(scope)}")
        except LiveError as exc:
            return exc.user_message
        return None

    # ------------------------------------------------------------------------------- plumbing

    async def close(self) -> None:
        """Close the connections (the session stays signed in)."""
        stack, self._stack, self._writer = self._stack, None, None
        if stack is not None:
            await stack.aclose()

    async def _arm(self) -> ArmWriter:
        if self._writer is None:
            if self._opening is None:
                self._opening = asyncio.Lock()
            async with self._opening:
                if self._writer is None:
                    stack = contextlib.AsyncExitStack()
                    self._writer = await stack.enter_async_context(self.session.arm(self.tenant_id))
                    self._stack = stack
        return self._writer

    async def _write(
        self,
        arm: ArmWriter,
        call: ArmCall,
        before: Mapping[str, Any] | None,
        *,
        done: list[str] | None = None,
        upserts: list[Mapping[str, Any]] | None = None,
        reread_change: GuardrailChange | None = None,
    ) -> dict[str, Any]:
        """Send one PUT or DELETE and audit it; on failure audit that, re-read and raise WriteFailed.

        ``done``: the steps that succeeded before; ``upserts``: resources already written (reported
        with the failure); ``reread_change``: a guardrail change whose targets are re-read.
        """
        try:
            if call.method == "DELETE":
                await arm.delete(call.path)
                after: dict[str, Any] = {}
            else:
                after = await arm.put(call.path, call.body, wait=_kind_of(call.path) == Kind.DEPLOYMENT)
        except ArmError as exc:
            await self._audit(call, "failed", before=before, error=exc.user_message)
            reread, removed = await self._reread(call, reread_change)
            written = [
                RawRecord(Kind.POLICY_ASSIGNMENT, str(u["id"]), dict(u), _sub_scope(str(u["id"])))
                for u in upserts or []
                if u.get("id")
            ]
            text = call.what[:1].lower() + call.what[1:]
            raise WriteFailed(
                f"Could not {text}: {exc.reason()}. {_detail(exc)}".strip(),
                cause=exc,
                done=list(done or []),
                reread=written + reread,
                removed=removed,
            ) from None
        await self._audit(call, "succeeded", before=before, after=after or None)
        return after

    async def _reread(
        self, call: ArmCall, change: GuardrailChange | None
    ) -> tuple[list[RawRecord], list[str]]:
        """The true state after a failure: every target of ``change``, else the failed call's target."""
        if change is not None:
            rail = (
                [f"{change.account_id}/raiPolicies/{change.rai_policy_name}"] if change.save_guardrail else []
            )
            paths = [*rail, *change.deployment_ids]
        else:
            paths = [call.path]
        reread: list[RawRecord] = []
        removed: list[str] = []
        arm = await self._arm()
        for path in paths:
            try:
                body = await arm.get(path)
            except ArmError as exc:  # the state stays unknown; the failure itself is what is reported
                log.warning("re-reading %s after a failed write failed: %s", path, exc.reason())
                continue
            kind = _kind_of(path)
            if body is None:
                removed.append(path)
            else:
                scope = change.account_id if change is not None else _record_scope(kind, path)
                reread.append(RawRecord(kind, str(body.get("id") or path), body, scope))
        return reread, removed

    async def audit_refusal(self, calls: list[ArmCall], reason: str) -> None:
        """Record that these writes were refused for want of rights and not sent: for a caller that
        checked :meth:`rights_for_policies`/:meth:`rights_for_guardrail` itself and stops there
        (the write methods record their own refusals)."""
        await self._refuse(calls, "refused", reason)

    async def _require(self, rights: Rights, calls: list[ArmCall]) -> None:
        """Refuse (audited, nothing sent) unless ``rights`` allow the write."""
        if not rights.allowed:
            await self._refuse(calls, "refused", rights.reason)
            raise RefusedError(rights.reason)

    async def _refuse(self, calls: list[ArmCall], outcome: str, reason: str) -> None:
        """Audit writes that were not sent (``refused`` or ``conflict``); POST actions are not writes."""
        for call in calls:
            if call.operation:
                await self._audit(call, outcome, error=reason)

    async def _audit(
        self,
        call: ArmCall,
        outcome: str,
        *,
        before: Any = None,
        after: Any = None,
        error: str = "",
    ) -> None:
        entry = AuditEntry(
            time=now_iso(),
            principal=self.principal,
            cloud=self.cloud.name,
            operation=call.operation,
            target=call.path,
            outcome=outcome,
            before=before,
            after=after,
            error=error,
            request={"method": call.method, "path": call.path, "apiVersion": call.api_version},
        )
        try:
            await asyncio.to_thread(self.audit.append, entry)
        except OSError:  # the write itself is done (or refused): say so in the log, do not undo it
            log.error("could not append to the audit log %s", self.audit.path, exc_info=True)


def _kind_of(path: str) -> Kind:
    kind = path.rstrip("/").split("/")[-2].lower()
    if kind == "deployments":
        return Kind.DEPLOYMENT
    if kind == "raipolicies":
        return Kind.RAI_POLICY
    if kind == "pricings":
        return Kind.PRICING
    if kind == "defenderforaisettings":
        return Kind.DEFENDER_AI_SETTING
    return Kind.POLICY_ASSIGNMENT


def _sub_scope(arm_id: str) -> str:
    """The scope capture lists assignments under: their subscription."""
    sub = id_segment(arm_id, "subscriptions")
    return f"/subscriptions/{sub}" if sub else ""


def _record_scope(kind: Kind, arm_id: str) -> str:
    """The scope capture lists a resource under: its account for a Defender for AI setting, else its
    subscription."""
    return parent_id(arm_id) if kind == Kind.DEFENDER_AI_SETTING else _sub_scope(arm_id)


def subscription_path(subscription_id: str) -> str:
    """``/subscriptions/{id}``: the scope of the AI plan and of its rights."""
    return f"/subscriptions/{subscription_id}"


def ai_plan_path(subscription_id: str) -> str:
    """The subscription's Defender for Cloud ``AI`` pricing (threat protection for AI)."""
    return f"/subscriptions/{subscription_id}/providers/Microsoft.Security/pricings/{AI_PLAN}"


def defender_setting_path(account_id: str) -> str:
    """The account's Defender for AI setting (there is one, ``Default``)."""
    return f"{account_id.rstrip('/')}/defenderForAISettings/Default"


def _properties(body: Mapping[str, Any] | None) -> Mapping[str, Any]:
    props = body.get("properties") if isinstance(body, Mapping) else None
    return props if isinstance(props, Mapping) else {}


def _flag(on: bool) -> str:
    """An extension's ``isEnabled``: the strings "True"/"False", as ARM has them."""
    return "True" if on else "False"


def _extensions_with(current: Any, purview: bool | None) -> list[dict[str, Any]]:
    """The plan's extensions as read, ``AIPromptSharingWithPurview`` set to ``purview`` when given
    (added when missing); read-only ``operationStatus`` left out, everything else kept."""
    out: list[dict[str, Any]] = []
    found = False
    for ext in current if isinstance(current, list) else []:
        if not isinstance(ext, Mapping) or not ext.get("name"):
            continue
        item = {k: v for k, v in ext.items() if k != "operationStatus"}
        if purview is not None and str(ext["name"]).lower() == PURVIEW_EXTENSION.lower():
            item["isEnabled"] = _flag(purview)
            found = True
        out.append(item)
    if purview is not None and not found:
        out.append({"name": PURVIEW_EXTENSION, "isEnabled": _flag(purview)})
    return out


def _plan_state(body: Mapping[str, Any] | None) -> tuple[str, frozenset[tuple[str, str]]]:
    """What a change of the AI plan is judged by (pricings have no etag): the tier (absent: Free)
    and each extension's ``isEnabled``."""
    props = _properties(body)
    exts = props.get("extensions")
    flags = frozenset(
        (str(e["name"]).lower(), str(e.get("isEnabled")).lower())
        for e in (exts if isinstance(exts, list) else [])
        if isinstance(e, Mapping) and e.get("name")
    )
    return str(props.get("pricingTier") or "Free").lower(), flags


def _plan_text(body: Mapping[str, Any] | None) -> str:
    """The AI plan in a few words: "Standard (AIPromptEvidence on, AIPromptSharingWithPurview off)"."""
    props = _properties(body)
    tier = str(props.get("pricingTier") or "Free")
    exts = props.get("extensions")
    words = [
        f"{e['name']} {'on' if str(e.get('isEnabled')).lower() == 'true' else 'off'}"
        for e in (exts if isinstance(exts, list) else [])
        if isinstance(e, Mapping) and e.get("name")
    ]
    return f"{tier} ({', '.join(words)})" if words else tier


def _plan_message(subscription_id: str, operation: str, after: Mapping[str, Any]) -> str:
    """The status-bar sentence after a write of the AI plan (it says the plan is billed)."""
    tier = str(_properties(after).get("pricingTier") or "Free")
    where = f"subscription {subscription_id}"
    if operation == OP_PURVIEW_ON:
        return (
            f"Microsoft Purview is on for {where}; the Defender for AI plan is {tier} "
            "and is billed by Microsoft Defender for Cloud."
        )
    if operation == OP_PURVIEW_OFF:
        return f"Microsoft Purview is off for {where}; the Defender for AI plan stays {tier}."
    return (
        f"Threat protection for AI is on for {where} (Defender for AI plan: {tier}); "
        "it is billed by Microsoft Defender for Cloud."
    )


def _purview_refusal(where: str, missing: list[str]) -> str:
    """Why the caller may not turn Purview on or off: both requirements, and which are missing."""
    lacking = []
    if PRICING_WRITE in missing:
        lacking.append(f"{DEFENDER_ROLES_TEXT} (to change the Defender for AI plan)")
    if ACCOUNT_WRITE in missing or ROLE_ASSIGNMENT_WRITE in missing:
        lacking.append("the Azure AI Account Owner role or Owner (to configure Microsoft Purview)")
    return (
        f"Turning Microsoft Purview on or off at {where} needs two things: {DEFENDER_ROLES_TEXT}, to "
        "change the Defender for AI plan Purview belongs to, and the Azure AI Account Owner role or "
        f"Owner, to configure Purview. You lack {' and '.join(lacking)} (missing {', '.join(missing)})."
    )


def _scope_of_trigger(path: str) -> str:
    return path[: path.lower().find("/providers/microsoft.policyinsights/")]


def _done(call: ArmCall) -> str:
    """A step that succeeded, in the past tense ("Updated the guardrail 'x' on account a")."""
    verb, _, rest = call.what.partition(" ")
    past = {"Create": "Created", "Update": "Updated", "Delete": "Deleted", "Point": "Pointed"}.get(verb, verb)
    return f"{past} {rest}"


def _detail(exc: ArmError) -> str:
    detail = " ".join(exc.message.split())
    return detail if not detail or detail.endswith((".", "!", "?", "…")) else detail + "."


def _evaluation_text(failure: str | None) -> str:
    """What the status bar says about Azure's verdict after a write."""
    if failure is None:
        return "Azure Policy was asked to evaluate now; new results can take up to 30 minutes."
    return f"Azure Policy evaluates within about 30 minutes ({failure.rstrip('.')})."


def _changed(seen: Mapping[str, Any] | None, now: Mapping[str, Any] | None) -> bool:
    """Whether a target changed: its etag, or (when neither has one) its body."""
    if (seen is None) != (now is None):
        return True
    if _etag(seen) is not None or _etag(now) is not None:
        return _etag(seen) != _etag(now)
    return seen != now


def _conflict(change: GuardrailChange, now: GuardrailTargets) -> ConflictError | None:
    """What changed since ``change.seen`` was read, as the error to raise (None: nothing)."""
    name = change.rai_policy_name
    rail_path = f"{change.account_id}/raiPolicies/{name}"
    if change.create and now.rai_policy is not None:
        return ConflictError(
            rail_path,
            None,
            _etag(now.rai_policy),
            f"A guardrail named '{name}' now exists on the account. Nothing was written: "
            "choose another name, or reload and edit that guardrail.",
        )
    if not change.create and _changed(change.seen.rai_policy, now.rai_policy):
        return ConflictError(rail_path, _etag(change.seen.rai_policy), _etag(now.rai_policy))
    for dep_id in change.deployment_ids:
        key = idkey(dep_id)
        if _changed(change.seen.deployments.get(key), now.deployments.get(key)):
            return ConflictError(
                dep_id, _etag(change.seen.deployments.get(key)), _etag(now.deployments.get(key))
            )
    return None


async def _read_before(arm: ArmWriter, path: str, what: str) -> dict[str, Any] | None:
    """GET a target just before writing it (None: it does not exist). A failed read is a
    :class:`WriteFailed` whose sentence starts with ``what``: nothing was written."""
    try:
        return await arm.get(path)
    except ArmError as exc:
        raise WriteFailed(exc.sentence(what), cause=exc) from None


def _assignment_changed(seen: Mapping[str, Any], now: Any) -> bool:
    """Whether an assignment's properties differ from those read, ignoring what Azure stamps on
    every write (its metadata times and authors)."""
    if not isinstance(now, Mapping):
        return True

    def core(props: Mapping[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in props.items() if k not in ("metadata",)}
        meta = props.get("metadata")
        if isinstance(meta, Mapping):
            out["metadata"] = {k: v for k, v in meta.items() if k not in AZURE_METADATA_KEYS}
        return out

    return core(seen) != core(now)
