"""Drift between two snapshots: what changed in guardrails, policies, compliance and security.

Pure: compares two :class:`~fcdesk.core.inventory.Inventory` objects (an older and a newer capture of
the same tenant) and lists every :class:`Change`. Controls are compared by the strictness order of
:class:`~fcdesk.core.guardrails.Cell` (REST "Low" is the strictest threshold), so a change of one
control is *loosened*, *tightened* or merely *changed* (same strictness, different setting).

Record order never matters: everything is matched by (case-insensitive) ARM id.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from fcdesk.core.records import SnapshotMeta


class ChangeKind(enum.StrEnum):
    ADDED = "added"
    REMOVED = "removed"
    LOOSENED = "loosened"
    TIGHTENED = "tightened"
    CHANGED = "changed"


class Target(enum.StrEnum):
    """What a change is about."""

    DEPLOYMENT = "deployment"  #: added/removed deployments; per-control loosened/tightened; reassignments
    GUARDRAIL = "guardrail"  #: a guardrail (RAI policy) added, removed or edited (per control)
    POLICY = "policy"  #: a guardrail policy (assignment) added, removed or changed
    COMPLIANCE = "compliance"  #: Azure's verdict of a (deployment, policy) flipped
    RECOMMENDATION = "recommendation"  #: a Defender recommendation that appeared or was resolved
    ALERT = "alert"  #: a Defender alert that appeared or was resolved
    PLAN = "plan"  #: the Defender for AI plan / Purview of a subscription, an account's setting


#: Sort order of kinds: loosenings first (what a reviewer must see), then the rest.
KIND_ORDER = {
    ChangeKind.LOOSENED: 0,
    ChangeKind.REMOVED: 1,
    ChangeKind.ADDED: 2,
    ChangeKind.CHANGED: 3,
    ChangeKind.TIGHTENED: 4,
}


@dataclass(frozen=True, slots=True)
class Change:
    """One change. ``before``/``after`` are plain text in the words of the tabs (None: absent)."""

    kind: ChangeKind
    target: Target
    target_id: str  #: ARM id of what changed (the deployment, guardrail, assignment, ...)
    name: str  #: its display name
    control: str | None = None  #: the control's label ("Hate (prompt)"), "Guardrail mode", or None
    before: str | None = None
    after: str | None = None
    detail: str = ""  #: e.g. "guardrail Default-Strict → Sandbox-Open", "as of … → …"
    subscription_id: str = ""

    def to_json(self) -> dict[str, Any]:
        """The stable JSON shape of ``fcdesk diff --format json`` (documented in the README)."""
        return {
            "kind": str(self.kind),
            "target": str(self.target),
            "id": self.target_id,
            "name": self.name,
            "control": self.control,
            "before": self.before,
            "after": self.after,
            "detail": self.detail,
            "subscriptionId": self.subscription_id,
        }


@dataclass(slots=True)
class Drift:
    older: SnapshotMeta
    newer: SnapshotMeta
    changes: list[Change] = field(default_factory=list)

    @property
    def loosened(self) -> bool:
        """Whether anything loosened (``fcdesk diff`` exits 3 then)."""
        return any(c.kind is ChangeKind.LOOSENED for c in self.changes)

    def counts(self) -> dict[str, int]:
        out = {str(k): 0 for k in ChangeKind}
        for c in self.changes:
            out[str(c.kind)] += 1
        return out

    def ordered(self) -> list[Change]:
        """Loosenings first, then by target, name and control."""
        return sorted(
            self.changes,
            key=lambda c: (KIND_ORDER[c.kind], str(c.target), c.name.lower(), c.control or "", c.target_id),
        )
