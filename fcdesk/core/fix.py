"""Fix now: bring deployments' guardrails up to the policies they fail, as a reviewable plan.

The editor starts from a deployment's *effective* guardrail (explicit filters over the base policy)
and the requirements of every policy governing it. "Meet requirements" raises exactly the failing
controls to the minimum that passes all of those policies (:func:`meet_requirements`); nothing else
changes. Saving writes one custom RAI policy on the account (:func:`rai_policy_body`) and points the
deployment at it (:func:`deployment_put_body`: the deployment as read, whole, with a new
``raiPolicyName``).

Everything here is pure: the plan is computed and shown (:func:`control_diff`) before anything is
written, and the same plan drives the GUI and ``fcdesk guardrail set --meet``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fcdesk.core.guardrails import (
    ACCOUNT_DEFAULT,
    CATALOGUE,
    CONTROL_BY_KEY,
    SYSTEM_GUARDRAILS,
    ContentFilter,
    ControlKind,
    EffectiveGuardrail,
    Guardrail,
    GuardrailOrigin,
    GuardrailType,
    Mode,
    Severity,
    resolve_effective,
)
from fcdesk.core.model import Deployment, idkey
from fcdesk.core.policy import ALLOWED_MODES, ControlRequirement, Evaluation, GuardrailPolicy, evaluate

if TYPE_CHECKING:
    from fcdesk.core.inventory import Inventory

#: Read-only deployment fields that a PUT must not send back.
_READ_ONLY_TOP = ("id", "name", "type", "etag", "systemData")
_READ_ONLY_PROPS = (
    "provisioningState",
    "capabilities",
    "rateLimits",
    "callRateLimit",
    "dynamicThrottlingEnabled",
)
RAI_NAME_MAX = 64
_RAI_NAME_BAD = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True, slots=True)
class FilterSetting:
    """The wanted state of one control: on/off, blocking, and a threshold for harm categories."""

    enabled: bool
    blocking: bool
    threshold: Severity | None = None

    @classmethod
    def of(cls, flt: ContentFilter | None) -> FilterSetting | None:
        if flt is None:
            return None
        return cls(bool(flt.enabled), bool(flt.blocking), flt.threshold)


class Unsatisfiable(ValueError):
    """Policies that contradict each other on a control (no setting passes them all)."""


@dataclass(slots=True)
class GuardrailPlan:
    """The guardrail being edited: its settings per control and its mode, as the user sees them."""

    base_name: str  #: basePolicyName of the RAI policy to write
    settings: dict[tuple[str, str], FilterSetting]  #: every control the guardrail sets
    mode: Mode
    #: Filters of the custom guardrail that fcdesk does not know (kept as they are, never dropped).
    unknown_filters: list[Mapping[str, Any]] = field(default_factory=list)

    def copy(self) -> GuardrailPlan:
        return GuardrailPlan(self.base_name, dict(self.settings), self.mode, list(self.unknown_filters))


def plan_from_effective(eff: EffectiveGuardrail) -> GuardrailPlan:
    """The editable starting point: what applies today, every control made explicit."""
    settings = {}
    for key, flt in eff.filters.items():
        if key in CONTROL_BY_KEY:
            setting = FilterSetting.of(flt)
            if setting is not None:
                settings[key] = setting
    unknown: list[Mapping[str, Any]] = []
    base = ACCOUNT_DEFAULT
    rail = eff.guardrail
    if rail is not None and eff.origin is GuardrailOrigin.CUSTOM:
        base = rail.base_policy_name or ACCOUNT_DEFAULT
        unknown = [
            dict(f.raw) or _filter_json(f.name, f.source, FilterSetting.of(f)) for f in rail.other_filters()
        ]
    elif rail is not None and eff.origin is GuardrailOrigin.SYSTEM and not rail.unknown:
        base = rail.name
    mode = eff.mode if eff.mode in (Mode.DEFAULT, Mode.ASYNC, Mode.BLOCKING) else Mode.DEFAULT
    return GuardrailPlan(base, settings, mode, unknown)


def _allowed(reqs: Iterable[ControlRequirement]) -> tuple[set[bool], set[bool], set[Severity] | None]:
    enabled, blocking = {True, False}, {True, False}
    sev: set[Severity] | None = None
    for req in reqs:
        enabled &= set(req.allowed_enabled)
        blocking &= set(req.allowed_blocking)
        if req.allowed_severities is not None:
            sev = set(req.allowed_severities) if sev is None else sev & set(req.allowed_severities)
    return enabled, blocking, sev


def meet_requirements(
    plan: GuardrailPlan, policies: Iterable[GuardrailPolicy]
) -> tuple[GuardrailPlan, list[str]]:
    """Raise exactly the controls that fail any of ``policies`` to the minimum that passes all.

    Returns the new plan and the labels of the controls changed. A control already passing is left
    as it is (even if stricter than needed). Raises :class:`Unsatisfiable` when policies contradict.
    """
    policies = [p for p in policies if not p.disabled]
    out = plan.copy()
    changed: list[str] = []
    for control in CATALOGUE:
        reqs = [
            p.requirements[control.key]
            for p in policies
            if control.key in p.requirements and p.checks(control.key)
        ]
        if not reqs:
            continue
        enabled, blocking, sev = _allowed(reqs)
        if not enabled or not blocking or (sev is not None and not sev):
            names = ", ".join(p.label for p in policies)
            raise Unsatisfiable(f"The policies {names} allow no common setting for {control.label}.")
        current = out.settings.get(control.key)
        if current is not None and _passes(current, enabled, blocking, sev):
            continue
        new_enabled = (
            current.enabled if current is not None and current.enabled in enabled else (True in enabled)
        )
        new_blocking = (
            current.blocking if current is not None and current.blocking in blocking else (True in blocking)
        )
        threshold: Severity | None = None
        if control.kind is ControlKind.SEVERITY:
            cur_t = current.threshold if current is not None else None
            if sev is None:
                threshold = cur_t or Severity.MEDIUM
            elif cur_t is not None and cur_t in sev:
                threshold = cur_t
            else:
                # The least strict allowed level that is at least as strict as today's.
                stricter = [s for s in sorted(sev) if cur_t is None or s >= cur_t]
                threshold = stricter[0] if stricter else max(sev)
        out.settings[control.key] = FilterSetting(bool(new_enabled), bool(new_blocking), threshold)
        changed.append(control.label)
    modes: set[Mode] = set(ALLOWED_MODES)
    mode_policies = [p for p in policies if p.checks(None)]
    for p in mode_policies:
        modes &= set(p.mode_requirement.allowed)
    if mode_policies and not modes:
        raise Unsatisfiable("The policies allow no common guardrail mode.")
    if mode_policies and out.mode not in modes:
        out.mode = Mode.DEFAULT if Mode.DEFAULT in modes else sorted(modes, key=lambda m: m.value)[0]
        changed.append("Guardrail mode")
    return out, changed


def _passes(s: FilterSetting, enabled: set[bool], blocking: set[bool], sev: set[Severity] | None) -> bool:
    if s.enabled not in enabled or s.blocking not in blocking:
        return False
    return sev is None or (s.threshold is not None and s.threshold in sev)


def _filter_json(name: str, source: str, s: FilterSetting | None) -> dict[str, Any]:
    s = s or FilterSetting(False, False)
    out: dict[str, Any] = {"name": name, "source": source, "enabled": s.enabled, "blocking": s.blocking}
    if (
        CONTROL_BY_KEY.get((name, source)) is not None
        and CONTROL_BY_KEY[(name, source)].kind is ControlKind.SEVERITY
    ):
        out["severityThreshold"] = (s.threshold or Severity.MEDIUM).rest
    return out


def rai_policy_body(plan: GuardrailPlan, current: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The body of ``PUT {account}/raiPolicies/{name}`` for this plan.

    ``current``: the custom RAI policy being updated, as read: its other properties (blocklists,
    topics, newer api-version fields) are kept; only the content filters and mode are replaced.
    """
    props: dict[str, Any] = {}
    if current is not None:
        cur_props = current.get("properties")
        if isinstance(cur_props, Mapping):
            props = {k: copy.deepcopy(v) for k, v in cur_props.items() if k not in ("type",)}
    filters = [
        _filter_json(c.name, c.source, plan.settings[c.key]) for c in CATALOGUE if c.key in plan.settings
    ]
    filters += [dict(f) for f in plan.unknown_filters]
    props["basePolicyName"] = plan.base_name
    props["mode"] = plan.mode.value
    props["contentFilters"] = filters
    return {"properties": props}


def effective_after(plan: GuardrailPlan, name: str, account_id: str) -> EffectiveGuardrail:
    """The effective guardrail the plan will give (for the diff and the immediate re-evaluation)."""
    filters = {
        key: ContentFilter(
            key[0], key[1], s.enabled, s.blocking, s.threshold, s.threshold.rest if s.threshold else None
        )
        for key, s in plan.settings.items()
    }
    rail = Guardrail(
        id=f"{account_id}/raiPolicies/{name}",
        name=name,
        account_id=account_id,
        type=GuardrailType.USER,
        mode=plan.mode,
        raw_mode=plan.mode.value,
        base_policy_name=plan.base_name,
        filters=filters,
    )
    return resolve_effective(GuardrailOrigin.CUSTOM, name, rail, key=f"plan:{idkey(rail.id)}")


@dataclass(frozen=True, slots=True)
class ControlChange:
    label: str
    before: str
    after: str


def control_diff(before: EffectiveGuardrail, after: EffectiveGuardrail) -> list[ControlChange]:
    """Per control and the mode: what changes, in the words of the matrix (inherited marks ignored)."""
    out = []
    for control in CATALOGUE:
        b = before.cell(control.key)
        a = after.cell(control.key)
        bt, at = b.text.replace(" (inherited)", ""), a.text.replace(" (inherited)", "")
        if bt != at:
            out.append(ControlChange(control.label, bt, at))
    if before.mode_label != after.mode_label:
        out.append(ControlChange("Guardrail mode", before.mode_label, after.mode_label))
    return out


def deployment_put_body(current: Mapping[str, Any], rai_policy_name: str) -> dict[str, Any]:
    """The deployment as read, whole, pointing at ``rai_policy_name`` (PATCH takes only sku/tags)."""
    body = {k: copy.deepcopy(v) for k, v in current.items() if k not in _READ_ONLY_TOP}
    props = dict(body.get("properties") or {})
    for key in _READ_ONLY_PROPS:
        props.pop(key, None)
    props["raiPolicyName"] = rai_policy_name
    body["properties"] = props
    return body


def suggest_guardrail_name(deployment: Deployment, taken: Iterable[str]) -> str:
    """A new guardrail name for one deployment: ``<deployment>-guardrail``, made unique."""
    taken_lower = {t.lower() for t in taken}
    stem = _RAI_NAME_BAD.sub("-", deployment.name).strip("-.")[: RAI_NAME_MAX - 14] or "deployment"
    name = f"{stem}-guardrail"
    n = 2
    while name.lower() in taken_lower or name.lower().startswith("microsoft."):
        name = f"{stem}-guardrail-{n}"
        n += 1
    return name


def valid_guardrail_name(name: str) -> str | None:
    """Why ``name`` cannot be a custom guardrail's name, or None."""
    if not name.strip():
        return "Enter a guardrail name."
    if name.lower().startswith("microsoft.") or name in SYSTEM_GUARDRAILS:
        return "Names starting with 'Microsoft.' belong to system guardrails, which cannot be edited."
    if _RAI_NAME_BAD.search(name) or len(name) > RAI_NAME_MAX:
        return f"Use letters, digits, '-', '_' and '.', at most {RAI_NAME_MAX} characters."
    return None


def sharing_deployments(inventory: Inventory, account_id: str, rai_policy_name: str) -> list[Deployment]:
    """Deployments on the account that name this guardrail (a shared guardrail's other users)."""
    ak, name = idkey(account_id), rai_policy_name.lower()
    return [
        d for d in inventory.deployments if d.account_key == ak and (d.rai_policy_name or "").lower() == name
    ]


def failing_policies(inventory: Inventory, dep: Deployment) -> list[tuple[GuardrailPolicy, Evaluation]]:
    """The policies governing ``dep`` that its guardrail fails locally, with the evaluation."""
    out = []
    eff = inventory.effective(dep)
    for pol in inventory.governing(dep):
        if pol.disabled:
            continue
        ev = evaluate(pol, eff)
        if not ev.passed:
            out.append((pol, ev))
    return out
