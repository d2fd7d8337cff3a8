"""Writes to Azure, made safe: rights checks, conflict detection, audit, re-read after failure.

:class:`Actions` is what the window and the CLI call to change anything in Azure. It sits above
``fcdesk.azure`` (which sends the requests) and ``fcdesk.store.audit`` (which records them), and
works on the pure plans of ``fcdesk.core.drafts`` (guardrail policies) and ``fcdesk.core.fix``
(guardrails). Every method runs on the asyncio (qasync) loop; blocking file I/O (the audit log)
goes to a worker thread.

The rules every write follows:

* **Rights first.** Before enabling Create/Edit/Delete the caller's permissions at the scope are
  read (``GET {scope}/providers/Microsoft.Authorization/permissions``); without the needed action
  the write is refused before anything is sent, with the reason (:class:`Rights`).
* **Reviewable.** Each write is first a list of :class:`ArmCall` (method, URL, body) that the GUI
  shows in its confirmation and ``--dry-run`` prints. Nothing is sent by building it.
* **No lost updates.** Guardrail writes re-read their targets just before writing and compare the
  etags with the ones the user saw; a difference raises :class:`ConflictError` and writes nothing.
* **Audited.** Every write, successful or not, is appended to the audit log (time, principal,
  cloud, operation, target, before, after, outcome).
* **Nothing half-done that is not shown.** When a step fails, the targets are re-read and
  :class:`WriteFailed` carries their true state (``reread``) so the window shows it.
* **Pending evaluation.** After a write, a policy evaluation is triggered for the scope and the
  affected assignments are reported as pending from the write's time (``WriteResult.pending``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fcdesk.azure.errors import ArmError, LiveError
from fcdesk.core.fix import GuardrailPlan
from fcdesk.core.records import RawRecord

#: ARM actions fcdesk checks before offering a write.
POLICY_WRITE = "Microsoft.Authorization/policyAssignments/write"
POLICY_DELETE = "Microsoft.Authorization/policyAssignments/delete"
RAI_POLICY_WRITE = "Microsoft.CognitiveServices/accounts/raiPolicies/write"
DEPLOYMENT_WRITE = "Microsoft.CognitiveServices/accounts/deployments/write"
TRIGGER_EVALUATION = "Microsoft.PolicyInsights/policyStates/triggerEvaluation/action"

POLICY_ROLES_TEXT = "Owner or Resource Policy Contributor"
GUARDRAIL_ROLES_TEXT = "Owner, Contributor or Cognitive Services Contributor"


@dataclass(frozen=True, slots=True)
class ArmCall:
    """One request fcdesk would send (or sent): for confirmations, ``--dry-run`` and the audit log."""

    method: str  #: GET, PUT, DELETE, POST
    path: str  #: ARM path (an id, or id + action), without host and api-version
    api_version: str
    body: Any = None  #: JSON body, or None
    what: str = ""  #: one plain line: "Create the guardrail policy 'Block harm' on subscription …"

    def url(self, arm_endpoint: str) -> str:
        return f"{arm_endpoint.rstrip('/')}{self.path}?api-version={self.api_version}"

    def text(self, arm_endpoint: str = "https://management.azure.com") -> str:
        """``PUT https://…?api-version=…`` and the body as indented JSON (what --dry-run prints)."""
        import json

        head = f"{self.method} {self.url(arm_endpoint)}"
        return head if self.body is None else head + "\n" + json.dumps(self.body, indent=2, ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class Rights:
    """Whether the signed-in caller may make a kind of write at a scope, and if not, why."""

    allowed: bool
    reason: str = ""  #: plain sentence when not allowed (shown on the disabled action)


class ConflictError(LiveError):
    """A target changed since the user read it (its etag differs): nothing was written."""

    def __init__(self, target: str, seen: str | None, now: str | None, message: str = "") -> None:
        self.target, self.seen, self.now = target, seen, now
        super().__init__(
            message
            or f"{_name_of(target)} was changed in Azure since it was read (etag {seen or 'none'} → {now or 'none'}). "
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


def _etag(body: Mapping[str, Any] | None) -> str | None:
    if not body:
        return None
    value = body.get("etag")
    return str(value) if value else None


def _name_of(arm_id: str) -> str:
    parts = arm_id.rstrip("/").split("/")
    kind = parts[-2] if len(parts) >= 2 else "resource"
    word = {"deployments": "The deployment", "raiPolicies": "The guardrail", "raipolicies": "The guardrail"}.get(
        kind, "The resource"
    )
    return f"{word} '{parts[-1]}'"
