"""Drift between two snapshots: what changed in guardrails, policies, compliance and security.

Pure: compares two :class:`~fcdesk.core.inventory.Inventory` objects (an older and a newer capture of
the same tenant) and lists every :class:`Change`. Controls are compared by the strictness order of
:class:`~fcdesk.core.guardrails.Cell` (REST "Low" is the strictest threshold), so a change of one
control is *loosened*, *tightened* or merely *changed* (same strictness, different setting).

Record order never matters: everything is matched by (case-insensitive) ARM id.

What :func:`diff_inventories` reports, and how it classifies it:

* **deployments** added and removed; per deployment and control of its *effective* guardrail (and
  the guardrail mode, by :attr:`Mode.strictness <fcdesk.core.guardrails.Mode.strictness>`), loosened,
  tightened or changed; a reassignment (``raiPolicyName`` changed) is one more change of kind
  *changed* on the control "Guardrail", besides the per-control changes it causes. Whether a value is
  inherited does not count as a change: the setting does.
* **guardrails** (RAI policies) added, removed, and edited per control of the guardrail itself (over
  its base policy), its mode, base policy, custom blocklists and filters fcdesk does not know.
* **policies** (guardrail initiative assignments) added, removed or changed: per control, a
  requirement that allows more settings is a loosening (not checking a control at all allows
  everything); an exception added is a loosening (fewer deployments checked), one removed a
  tightening; effect ``Disabled`` is a loosening; a narrower scope a loosening, a wider one a
  tightening; display name, description and enforcement mode are *changed*.
* **compliance**: Azure's verdict of a (deployment, policy) pair that flipped between *Compliant* and
  *Violation detected* (both snapshots must hold a verdict) is *changed*, never *loosened*: the
  guardrail or policy change behind it is the loosening. ``detail`` says what Azure now reports and
  both "as of" times.
* **recommendations** (on AI resources, as the Security posture tab shows them) and **alerts**: new
  ones are *added*, vanished ones *removed*, a status change (Unhealthy → Healthy, Active →
  Resolved) is *changed*.
* **plans**: a subscription's Defender for AI plan Standard → Free, Microsoft Purview or prompt
  evidence on → off, an account's Defender for AI setting Enabled → Disabled are *loosened*; the
  reverse *tightened*. Purview and prompt evidence need the plan: a plan turned off turns them off
  too, and each is listed.

Fast on large tenants: effective guardrails are shared between deployments, so their cells are
compared once per (older fingerprint, newer fingerprint) pair and each deployment only looks up.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fcdesk.core.gcpause import paused_gc
from fcdesk.core.guardrails import (
    CATALOGUE,
    CONTROL_BY_KEY,
    Blocklist,
    Cell,
    CellState,
    EffectiveGuardrail,
    Guardrail,
    GuardrailOrigin,
    cell_of,
    resolve_effective,
)
from fcdesk.core.inventory import AssetStatus, Inventory
from fcdesk.core.model import (
    Alert,
    DefenderForAISetting,
    DefenderPlan,
    Deployment,
    Recommendation,
    id_segment,
    idkey,
)
from fcdesk.core.policy import CONTROL_PARAMS, MODE_REFERENCE, GuardrailPolicy
from fcdesk.core.records import SnapshotMeta
from fcdesk.core.text import format_utc
from fcdesk.core.verdicts import AzureVerdict


class ChangeKind(enum.StrEnum):
    """What a change did: appeared, vanished, weaker, stricter, or merely different."""

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
#: Sort order of targets within a kind: the order of :class:`Target` (guardrails before security).
TARGET_ORDER = {t: i for i, t in enumerate(Target)}

#: ``control`` of the changes that are not about one control of a guardrail or policy.
GUARDRAIL = "Guardrail"  #: a deployment's guardrail: added/removed deployments, reassignments
MODE = "Guardrail mode"
STATUS = "Status"  #: a recommendation's or alert's status
PLAN_TIER = "Threat protection for AI"  #: a subscription's Defender for AI plan (tier Free/Standard)
ACCOUNT_SETTING = "Defender for AI (account)"  #: an account's Defender for AI setting
NOT_CHECKED = "Not checked"  #: a policy requirement switched off (or absent): anything passes


@dataclass(frozen=True, slots=True)
class Change:
    """One change. ``before``/``after`` are plain text in the words of the tabs (None: absent).

    ``control`` is the control's label ("Hate (prompt)"), "Guardrail mode", or the aspect that
    changed: "Guardrail" (a deployment's guardrail), a policy's "Exception", "Effect", "Scope"...,
    a recommendation's or alert's "Status", a plan's "Threat protection for AI"; for a compliance
    flip the policy's display name. None for a guardrail or policy added or removed as a whole.
    """

    kind: ChangeKind
    target: Target
    target_id: str  #: ARM id of what changed (the deployment, guardrail, assignment, ...)
    name: str  #: its display name
    control: str | None = None  #: see above
    before: str | None = None
    after: str | None = None
    detail: str = ""  #: e.g. "guardrail Default-Strict → Sandbox-Open", "as of … → …"
    subscription_id: str = ""
    related_id: str = ""  #: a compliance flip: the policy (assignment) id; otherwise empty

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
            "relatedId": self.related_id,
        }


@dataclass(slots=True)
class Drift:
    """Every change from an older capture of a tenant to a newer one (see :func:`diff_inventories`)."""

    older: SnapshotMeta
    newer: SnapshotMeta
    changes: list[Change] = field(default_factory=list)

    @property
    def loosened(self) -> bool:
        """Whether anything loosened (``fcdesk diff`` exits 3 then)."""
        return any(c.kind is ChangeKind.LOOSENED for c in self.changes)

    def counts(self) -> dict[str, int]:
        """Changes per kind, every kind present (``{"added": 0, "removed": 2, ...}``)."""
        out = {str(k): 0 for k in ChangeKind}
        for c in self.changes:
            out[str(c.kind)] += 1
        return out

    def ordered(self) -> list[Change]:
        """Loosenings first, then by target (in :class:`Target` order), name and control."""
        return sorted(
            self.changes,
            key=lambda c: (
                KIND_ORDER[c.kind],
                TARGET_ORDER[c.target],
                c.name.lower(),
                c.control or "",
                c.target_id.lower(),
                c.related_id.lower(),
                c.detail,
            ),
        )


# ----------------------------------------------------------------------------------- the diff


def diff_inventories(older: Inventory, newer: Inventory) -> Drift:
    """Every change from ``older`` to ``newer`` (two captures of the same tenant), unordered.

    Use :meth:`Drift.ordered` to list them loosenings first.
    """
    with paused_gc():
        differ = _Differ(older, newer)
        differ.deployments()
        differ.guardrails()
        differ.policies()
        differ.recommendations()
        differ.alerts()
        differ.plans()
    return Drift(older.meta, newer.meta, differ.changes)


@dataclass(frozen=True, slots=True)
class _Delta:
    """One control that differs between two guardrails (shared by every deployment on the pair)."""

    kind: ChangeKind
    control: str
    before: str
    after: str


def _rank_kind(before: float, after: float) -> ChangeKind:
    """Loosened when the strictness rank went down, tightened when up, changed when equal."""
    if after < before:
        return ChangeKind.LOOSENED
    if after > before:
        return ChangeKind.TIGHTENED
    return ChangeKind.CHANGED


def _setting(cell: Cell) -> tuple[object, ...]:
    """What a cell does, whether or not it is inherited."""
    return (cell.state, cell.threshold, cell.raw_threshold, cell.severity_control)


def _mode_rank(eff: EffectiveGuardrail) -> int:
    return -1 if eff.mode is None else eff.mode.strictness


def _effective_deltas(old: EffectiveGuardrail, new: EffectiveGuardrail) -> tuple[_Delta, ...]:
    """Per control (CATALOGUE order), then the mode: what differs between two effective guardrails."""
    out: list[_Delta] = []
    if old.cells is not new.cells:  # cells are shared per fingerprint: identical tuples are common
        for control, a, b in zip(CATALOGUE, old.cells, new.cells, strict=True):
            if a is not b and _setting(a) != _setting(b):
                out.append(_Delta(_rank_kind(a.strictness, b.strictness), control.label, a.text, b.text))
    if old.mode_label != new.mode_label:
        out.append(_Delta(_rank_kind(_mode_rank(old), _mode_rank(new)), MODE, old.mode_label, new.mode_label))
    return tuple(out)


_T = TypeVar("_T")


def _by_key(items: Iterable[_T], key: Callable[[_T], str]) -> dict[str, _T]:
    return {key(item): item for item in items}


def _pairs(old: Mapping[str, _T], new: Mapping[str, _T]) -> tuple[list[_T], list[_T], list[tuple[_T, _T]]]:
    """Matched by key: (only in new, only in old, in both as (old, new)), in the mappings' order."""
    added = [v for k, v in new.items() if k not in old]
    removed = [v for k, v in old.items() if k not in new]
    both = [(old[k], v) for k, v in new.items() if k in old]
    return added, removed, both


def _deployment_name(dep: Deployment) -> str:
    return f"{dep.account_name}/{dep.name}"


def _rail_name(rail: Guardrail) -> str:
    return f"{(rail.account_id or '').rstrip('/').rsplit('/', 1)[-1]}/{rail.name}"


def _resource_name(arm_id: str) -> str:
    """A readable name for an ARM id: ``account/deployment``, ``resource group rg``, or its last segment."""
    acct, dep = id_segment(arm_id, "accounts"), id_segment(arm_id, "deployments")
    if acct and dep:
        return f"deployment {acct}/{dep}"
    parts = arm_id.rstrip("/").split("/")
    if len(parts) == 5 and parts[3].lower() == "resourcegroups":
        return f"resource group {parts[4]}"
    return parts[-1] if parts else arm_id


def _reference_labels() -> dict[str, str]:
    """Initiative reference id (lower case) → what it checks, in the words of the tabs."""
    labels: dict[str, list[str]] = {}
    for key, names in CONTROL_PARAMS.items():
        control = CONTROL_BY_KEY[key]
        labels.setdefault(names.reference_id.lower(), []).append(control.label)
    out = {
        ref: (names[0].replace(" (prompt)", "") if len(names) > 1 else names[0])
        for ref, names in labels.items()
    }
    out[MODE_REFERENCE.lower()] = MODE
    return out


_REFERENCE_LABELS = _reference_labels()


def _status(verdict: AzureVerdict) -> str:
    return str(AssetStatus.COMPLIANT if verdict.compliant else AssetStatus.VIOLATION)


def _flip_detail(policy: GuardrailPolicy, old: AzureVerdict, new: AzureVerdict) -> str:
    if new.compliant:
        what = "Azure now reports it compliant"
    else:
        failing = sorted({_REFERENCE_LABELS.get(r.lower(), r) for r in new.failed_references})
        what = "Azure now reports a violation" + (f" (fails {', '.join(failing)})" if failing else "")
    return f'policy "{policy.label}": {what}; as of {format_utc(old.as_of)} → {format_utc(new.as_of)}'


def _allowed(policy: GuardrailPolicy, key: tuple[str, str]) -> frozenset[tuple[object, ...]] | None:
    """The settings a policy accepts for one control; None when it does not check it (anything passes)."""
    req = policy.requirements.get(key)
    if req is None or not policy.checks(key):
        return None
    sev: Iterable[object] = req.allowed_severities if req.allowed_severities is not None else (None,)
    return frozenset(itertools.product(req.allowed_enabled, req.allowed_blocking, sev))


def _widening(old: frozenset[Hashable] | None, new: frozenset[Hashable] | None) -> ChangeKind | None:
    """Loosened when ``new`` accepts more than ``old`` (None accepts everything); None when equal."""
    if old == new:
        return None
    if new is None:
        return ChangeKind.LOOSENED
    if old is None:
        return ChangeKind.TIGHTENED
    if new > old:
        return ChangeKind.LOOSENED
    if new < old:
        return ChangeKind.TIGHTENED
    return ChangeKind.CHANGED


def _on_off(value: bool) -> str:
    """How the Security posture tab words a switch."""
    return "On" if value else "Off"


def _blocklist_rank(blocking: bool | None) -> tuple[int, str]:
    """A custom blocklist's strictness (absent: 0) and its words."""
    if blocking is None:
        return 25, "On (blocking not set)"
    return (30, "Blocks") if blocking else (20, "Annotate only")


def _rail_summary(eff: EffectiveGuardrail) -> str:
    blocking = sum(1 for c in eff.cells if c.state is CellState.BLOCK)
    return f"{blocking} of {len(CATALOGUE)} controls block; mode {eff.mode_label}"


class _Differ:
    """One comparison: collects :class:`Change` objects area by area."""

    def __init__(self, older: Inventory, newer: Inventory) -> None:
        self.older, self.newer = older, newer
        self.changes: list[Change] = []
        self._deltas: dict[tuple[object, object], tuple[_Delta, ...]] = {}

    def _deltas_of(self, old: EffectiveGuardrail, new: EffectiveGuardrail) -> tuple[_Delta, ...]:
        key = (old.fingerprint, new.fingerprint)
        deltas = self._deltas.get(key)
        if deltas is None:
            deltas = self._deltas[key] = _effective_deltas(old, new)
        return deltas

    # ------------------------------------------------------------------------- deployments

    def deployments(self) -> None:
        """Added/removed deployments, reassignments, per-control changes and compliance flips."""
        older, newer, out = self.older, self.newer, self.changes
        added, removed, both = _pairs(
            _by_key(older.deployments, lambda d: d.key), _by_key(newer.deployments, lambda d: d.key)
        )
        for kind, inv, deps in ((ChangeKind.ADDED, newer, added), (ChangeKind.REMOVED, older, removed)):
            for dep in deps:
                rail = inv.effective(dep).name
                out.append(
                    Change(
                        kind,
                        Target.DEPLOYMENT,
                        dep.id,
                        _deployment_name(dep),
                        control=GUARDRAIL,
                        before=rail if kind is ChangeKind.REMOVED else None,
                        after=rail if kind is ChangeKind.ADDED else None,
                        detail=f"model {dep.model_label}",
                        subscription_id=dep.subscription_id,
                    )
                )
        for od, dep in both:
            oe, ne = older.effective(od), newer.effective(dep)
            deltas = self._deltas_of(oe, ne)
            reassigned = (od.rai_policy_name or "").lower() != (dep.rai_policy_name or "").lower()
            if reassigned or deltas:
                name, sub = _deployment_name(dep), dep.subscription_id
                if reassigned or oe.name != ne.name:
                    via = f"guardrail {oe.name} → {ne.name}"
                else:
                    via = f"guardrail {ne.name} edited"
                if reassigned:
                    out.append(
                        Change(
                            ChangeKind.CHANGED,
                            Target.DEPLOYMENT,
                            dep.id,
                            name,
                            control=GUARDRAIL,
                            before=oe.name,
                            after=ne.name,
                            detail=via,
                            subscription_id=sub,
                        )
                    )
                out.extend(
                    Change(d.kind, Target.DEPLOYMENT, dep.id, name, d.control, d.before, d.after, via, sub)
                    for d in deltas
                )
            self._compliance(od, dep)

    def _compliance(self, old_dep: Deployment, dep: Deployment) -> None:
        for policy in self.newer.governing(dep):
            new = self.newer.azure(dep, policy)
            if new is None:
                continue
            old = self.older.azure(old_dep, policy)  # matched by (lower-case) ids only
            if old is None or old.compliant == new.compliant:
                continue
            self.changes.append(
                Change(
                    ChangeKind.CHANGED,
                    Target.COMPLIANCE,
                    dep.id,
                    _deployment_name(dep),
                    control=policy.label,
                    before=_status(old),
                    after=_status(new),
                    detail=_flip_detail(policy, old, new),
                    subscription_id=dep.subscription_id,
                    related_id=policy.id,
                )
            )

    # ------------------------------------------------------------------------- guardrails

    def guardrails(self) -> None:
        """Guardrails (RAI policies on accounts) added, removed and edited, per control."""
        added, removed, both = _pairs(self.older.guardrails, self.newer.guardrails)
        for kind, rails in ((ChangeKind.ADDED, added), (ChangeKind.REMOVED, removed)):
            for rail in rails:
                summary = _rail_summary(_own_effective(rail))
                self.changes.append(
                    Change(
                        kind,
                        Target.GUARDRAIL,
                        rail.id,
                        _rail_name(rail),
                        before=summary if kind is ChangeKind.REMOVED else None,
                        after=summary if kind is ChangeKind.ADDED else None,
                        subscription_id=_subscription_of(rail.id),
                    )
                )
        for old, new in both:
            if (
                old.filters == new.filters  # filters are shared objects: an unchanged guardrail is cheap
                and old.mode == new.mode
                and old.raw_mode == new.raw_mode
                and (old.base_policy_name or "").lower() == (new.base_policy_name or "").lower()
                and old.blocklists == new.blocklists
            ):
                continue
            self._rail_edits(old, new)

    def _rail_edits(self, old: Guardrail, new: Guardrail) -> None:
        name, sub = _rail_name(new), _subscription_of(new.id)

        def add(kind: ChangeKind, control: str, before: str, after: str) -> None:
            self.changes.append(Change(kind, Target.GUARDRAIL, new.id, name, control, before, after, "", sub))

        for d in self._deltas_of(_own_effective(old), _own_effective(new)):
            add(d.kind, d.control, d.before, d.after)
        old_base, new_base = old.base_policy_name or "None", new.base_policy_name or "None"
        if old_base.lower() != new_base.lower():
            add(ChangeKind.CHANGED, "Base policy", old_base, new_base)
        # Filters fcdesk does not know (kept, never dropped): ranked like a switch, or a harm if levelled.
        old_other = {f.key: f for f in old.other_filters()}
        new_other = {f.key: f for f in new.other_filters()}
        for key in dict.fromkeys([*old_other, *new_other]):
            a, b = old_other.get(key), new_other.get(key)
            ca = cell_of(a, severity_control=a is not None and a.raw_threshold is not None)
            cb = cell_of(b, severity_control=b is not None and b.raw_threshold is not None)
            if _setting(ca) != _setting(cb):
                label = f"{key[0]} ({key[1].lower()})" if key[1] else key[0]
                add(_rank_kind(ca.strictness, cb.strictness), label, ca.text, cb.text)
        old_lists, new_lists = _blocklists(old.blocklists), _blocklists(new.blocklists)
        for key, shown in {**old_lists, **new_lists}.items():
            a_list, b_list = old_lists.get(key), new_lists.get(key)
            if a_list is not None and b_list is not None and a_list.blocking == b_list.blocking:
                continue
            ra, ta = _blocklist_rank(a_list.blocking) if a_list is not None else (0, "Not set")
            rb, tb = _blocklist_rank(b_list.blocking) if b_list is not None else (0, "Not set")
            label = f"Blocklist {shown.name}" + (f" ({shown.source.lower()})" if shown.source else "")
            add(_rank_kind(ra, rb), label, ta, tb)

    # ------------------------------------------------------------------------- policies

    def policies(self) -> None:
        """Guardrail policies added, removed or changed (requirements, scope, exceptions, effect, texts)."""
        added, removed, both = _pairs(
            _by_key(self.older.policies, lambda p: p.key), _by_key(self.newer.policies, lambda p: p.key)
        )
        for kind, pols in ((ChangeKind.ADDED, added), (ChangeKind.REMOVED, removed)):
            for pol in pols:
                self.changes.append(
                    Change(
                        kind,
                        Target.POLICY,
                        pol.id,
                        pol.label,
                        before=pol.controls_text if kind is ChangeKind.REMOVED else None,
                        after=pol.controls_text if kind is ChangeKind.ADDED else None,
                        detail=pol.scope_label,
                        subscription_id=pol.subscription_id,
                    )
                )
        for old, new in both:
            self._policy_edits(old, new)

    def _policy_edits(self, old: GuardrailPolicy, new: GuardrailPolicy) -> None:
        name, sub = new.label, new.subscription_id

        def add(
            kind: ChangeKind, control: str, before: str | None, after: str | None, detail: str = ""
        ) -> None:
            self.changes.append(
                Change(kind, Target.POLICY, new.id, name, control, before, after, detail, sub)
            )

        if old.display_name != new.display_name:
            add(ChangeKind.CHANGED, "Display name", old.display_name, new.display_name)
        if old.description != new.description:
            add(ChangeKind.CHANGED, "Description", old.description, new.description)
        old_scope, new_scope = idkey(old.scope), idkey(new.scope)
        if old_scope != new_scope:
            kind = ChangeKind.CHANGED
            if old_scope.startswith(new_scope + "/"):
                kind = ChangeKind.TIGHTENED  # wider: more deployments checked
            elif new_scope.startswith(old_scope + "/"):
                kind = ChangeKind.LOOSENED
            add(kind, "Scope", old.scope_label, new.scope_label, f"{old.scope} → {new.scope}")
        if old.effect.lower() != new.effect.lower():
            kind = ChangeKind.CHANGED
            if new.disabled:
                kind = ChangeKind.LOOSENED
            elif old.disabled:
                kind = ChangeKind.TIGHTENED
            add(kind, "Effect", old.effect, new.effect)
        if old.enforcement_mode.lower() != new.enforcement_mode.lower():
            add(ChangeKind.CHANGED, "Enforcement mode", old.enforcement_mode, new.enforcement_mode)
        old_ex, new_ex = _by_key(old.not_scopes, idkey), _by_key(new.not_scopes, idkey)
        for ns in (v for k, v in new_ex.items() if k not in old_ex):
            add(ChangeKind.LOOSENED, "Exception", None, _resource_name(ns), ns)
        for ns in (v for k, v in old_ex.items() if k not in new_ex):
            add(ChangeKind.TIGHTENED, "Exception", _resource_name(ns), None, ns)
        if old.content_key() == new.content_key():
            return
        for key in CONTROL_PARAMS:
            widening = _widening(_allowed(old, key), _allowed(new, key))
            if widening is not None:
                label = CONTROL_BY_KEY[key].label
                add(widening, label, _requirement_text(old, key), _requirement_text(new, key))
        old_modes = frozenset(old.mode_requirement.allowed) if old.checks(None) else None
        new_modes = frozenset(new.mode_requirement.allowed) if new.checks(None) else None
        widening = _widening(old_modes, new_modes)
        if widening is not None:
            before = old.mode_requirement.text if old_modes is not None else NOT_CHECKED
            after = new.mode_requirement.text if new_modes is not None else NOT_CHECKED
            add(widening, MODE, before, after)

    # ------------------------------------------------------------------------- security

    def recommendations(self) -> None:
        """Recommendations on AI resources: new, gone, or with another status."""

        def on_ai(inv: Inventory) -> dict[str, Recommendation]:
            return {idkey(r.id): r for r in inv.recommendations if r.on_ai_resource}

        def add(kind: ChangeKind, rec: Recommendation, before: str | None, after: str | None) -> None:
            where = _resource_name(rec.resource_id) if rec.resource_id else ""
            detail = f"{rec.severity or 'Unknown'} severity" + (f"; {where}" if where else "")
            self.changes.append(
                Change(
                    kind,
                    Target.RECOMMENDATION,
                    rec.id,
                    rec.display_name,
                    STATUS,
                    before,
                    after,
                    detail,
                    rec.subscription_id,
                )
            )

        added, removed, both = _pairs(on_ai(self.older), on_ai(self.newer))
        for rec in added:
            add(ChangeKind.ADDED, rec, None, rec.status)
        for rec in removed:
            add(ChangeKind.REMOVED, rec, rec.status, None)
        for old, new in both:
            if old.status.lower() != new.status.lower():
                add(ChangeKind.CHANGED, new, old.status, new.status)

    def alerts(self) -> None:
        """Defender alerts: new, gone, or with another status (Active → Resolved, Dismissed...)."""

        def add(kind: ChangeKind, al: Alert, before: str | None, after: str | None) -> None:
            where = al.compromised_entity or (_resource_name(al.resource_ids[0]) if al.resource_ids else "")
            parts = [f"{al.severity or 'Unknown'} severity", where, format_utc(al.time, empty="")]
            detail = "; ".join(p for p in parts if p)
            self.changes.append(
                Change(
                    kind,
                    Target.ALERT,
                    al.id,
                    al.display_name,
                    STATUS,
                    before,
                    after,
                    detail,
                    al.subscription_id,
                )
            )

        added, removed, both = _pairs(
            _by_key(self.older.alerts, lambda a: idkey(a.id)),
            _by_key(self.newer.alerts, lambda a: idkey(a.id)),
        )
        for al in added:
            add(ChangeKind.ADDED, al, None, al.status)
        for al in removed:
            add(ChangeKind.REMOVED, al, al.status, None)
        for old, new in both:
            if old.status.lower() != new.status.lower():
                add(ChangeKind.CHANGED, new, old.status, new.status)

    def plans(self) -> None:
        """The Defender for AI plan of each subscription, Purview, and each account's setting."""
        added, removed, both = _pairs(self.older.plans, self.newer.plans)
        for plan in added:
            self._plan(plan, ChangeKind.ADDED, PLAN_TIER, None, plan.tier)
        for plan in removed:
            self._plan(plan, ChangeKind.REMOVED, PLAN_TIER, plan.tier, None)
        for old, new in both:
            if old.enabled != new.enabled:
                kind = ChangeKind.TIGHTENED if new.enabled else ChangeKind.LOOSENED
                self._plan(new, kind, PLAN_TIER, old.tier, new.tier)
            elif old.tier.lower() != new.tier.lower():
                self._plan(new, ChangeKind.CHANGED, PLAN_TIER, old.tier, new.tier)
            for control, a, b in (
                ("Microsoft Purview", old.purview, new.purview),
                ("Prompt evidence", old.prompt_evidence, new.prompt_evidence),
            ):
                if a != b:
                    self._plan(
                        new,
                        ChangeKind.TIGHTENED if b else ChangeKind.LOOSENED,
                        control,
                        _on_off(a),
                        _on_off(b),
                    )
        added_s, removed_s, both_s = _pairs(self.older.ai_settings, self.newer.ai_settings)
        for setting in added_s:
            self._account_setting(setting, ChangeKind.ADDED, None, setting.state)
        for setting in removed_s:
            self._account_setting(setting, ChangeKind.REMOVED, setting.state, None)
        for old_s, new_s in both_s:
            a_state, b_state = old_s.state.lower(), new_s.state.lower()
            if a_state == b_state:
                continue
            kind = ChangeKind.CHANGED
            if {a_state, b_state} == {"enabled", "disabled"}:
                kind = ChangeKind.LOOSENED if b_state == "disabled" else ChangeKind.TIGHTENED
            self._account_setting(new_s, kind, old_s.state, new_s.state)

    def _plan(
        self, plan: DefenderPlan, kind: ChangeKind, control: str, before: str | None, after: str | None
    ) -> None:
        sub = plan.subscription_id
        inv = self.newer if sub.lower() in self.newer.subscriptions else self.older
        pricing_id = f"/subscriptions/{sub}/providers/Microsoft.Security/pricings/AI"
        name = inv.subscription_name(sub)
        self.changes.append(
            Change(kind, Target.PLAN, pricing_id, name, control, before, after, subscription_id=sub)
        )

    def _account_setting(
        self, setting: DefenderForAISetting, kind: ChangeKind, before: str | None, after: str | None
    ) -> None:
        acct_id = setting.account_id
        name = acct_id.rstrip("/").rsplit("/", 1)[-1]
        sub = _subscription_of(acct_id)
        self.changes.append(
            Change(kind, Target.PLAN, acct_id, name, ACCOUNT_SETTING, before, after, subscription_id=sub)
        )


def _own_effective(rail: Guardrail) -> EffectiveGuardrail:
    """What a guardrail itself does: its filters over its base policy's."""
    return resolve_effective(GuardrailOrigin.CUSTOM, rail.name, rail, key=idkey(rail.id))


def _requirement_text(policy: GuardrailPolicy, key: tuple[str, str]) -> str:
    req = policy.requirements.get(key)
    return req.text if req is not None and policy.checks(key) else NOT_CHECKED


def _blocklists(lists: Iterable[Blocklist]) -> dict[tuple[str, str], Blocklist]:
    return {(bl.name.lower(), bl.source): bl for bl in lists}


def _subscription_of(arm_id: str) -> str:
    return id_segment(arm_id, "subscriptions") or ""
