"""Guardrail policies: assignments of the built-in initiative, and their local evaluation.

The initiative "[Preview]: Guardrail for Cognitive Services Deployments" (5207647b-…) has twelve
references. How each judges a deployment (read from the built-in definitions):

* the four harm references fail when the effective guardrail has no content filters at all, or has
  no ``(name, Prompt)`` entry whose ``severityThreshold``, ``enabled`` and ``blocking`` are all in the
  allowed lists, or likewise for ``(name, Completion)``;
* the on/off references (Jailbreak, Indirect Attack, Spotlighting, Profanity ×2, Protected Material ×2)
  fail when there is no ``(name, source)`` entry whose ``enabled`` and ``blocking`` are allowed;
* the mode reference fails when ``raiPolicy.mode`` is not in ``raiPolicyMode``.

A filter that is absent fails its reference even when the allowed lists are permissive: fcdesk
evaluates exactly that way so that its local verdict can be compared with Azure's.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fcdesk.core.guardrails import (
    CATALOGUE,
    COMPLETION,
    CONTROL_BY_KEY,
    PROMPT,
    ControlDef,
    ControlKind,
    EffectiveGuardrail,
    Mode,
    Severity,
)

INITIATIVE_NAME = "5207647b-3e83-4e28-b836-c382cb5e2a2e"
INITIATIVE_ID = f"/providers/Microsoft.Authorization/policySetDefinitions/{INITIATIVE_NAME}"
INITIATIVE_DISPLAY_NAME = "[Preview]: Guardrail for Cognitive Services Deployments"
#: Metadata fcdesk writes on assignments it manages. Not ``createdBy``: Azure overwrites that one
#: (with the caller's object id), as it does ``createdOn``, ``updatedBy`` and ``updatedOn``.
FCDESK_METADATA_KEY = "managedBy"
FCDESK_METADATA_VALUE = "fcdesk"
#: Metadata keys Azure sets itself on every write.
AZURE_METADATA_KEYS = ("createdBy", "createdOn", "updatedBy", "updatedOn")

MODE_REFERENCE = "CognitiveServices guardrail mode for Model Deployments"


@dataclass(frozen=True, slots=True)
class ParamNames:
    """The initiative parameters behind one control; ``severities`` is None for on/off controls."""

    enabled: str
    blocking: str
    severities: str | None
    reference_id: str


def _harm(stem: str, ref_name: str, source: str) -> ParamNames:
    return ParamNames(
        f"allowed{stem}EnabledFor{source}",
        f"allowed{stem}BlockingFor{source}",
        f"allowed{stem}SeveritiesFor{source}",
        f"CognitiveServices Content Filter Control on {ref_name} for Model Deployments",
    )


def _switch(stem: str, source: str, reference_id: str) -> ParamNames:
    return ParamNames(f"allowed{stem}EnabledFor{source}", f"allowed{stem}BlockingFor{source}", None, reference_id)


_REF = "CognitiveServices Content Filter Control on {} for Model Deployments"
#: The one table mapping each control to the initiative's parameters and reference id.
CONTROL_PARAMS: dict[tuple[str, str], ParamNames] = {
    ("Hate", PROMPT): _harm("Hate", "Hate", PROMPT),
    ("Hate", COMPLETION): _harm("Hate", "Hate", COMPLETION),
    ("Sexual", PROMPT): _harm("Sexual", "Sexual", PROMPT),
    ("Sexual", COMPLETION): _harm("Sexual", "Sexual", COMPLETION),
    ("Violence", PROMPT): _harm("Violence", "Violence", PROMPT),
    ("Violence", COMPLETION): _harm("Violence", "Violence", COMPLETION),
    ("Selfharm", PROMPT): _harm("Selfharm", "Self-harm", PROMPT),
    ("Selfharm", COMPLETION): _harm("Selfharm", "Self-harm", COMPLETION),
    ("Jailbreak", PROMPT): _switch("Jailbreak", PROMPT, _REF.format("Jailbreak")),
    ("Indirect Attack", PROMPT): _switch("IndirectAttack", PROMPT, _REF.format("XPIA")),
    ("Indirect Attack Spotlighting", PROMPT): _switch("Spotlighting", PROMPT, _REF.format("Spotlighting")),
    ("Protected Material Text", COMPLETION): _switch(
        "ProtectedMaterialText", COMPLETION, _REF.format("Protected Material Text")
    ),
    ("Protected Material Code", COMPLETION): _switch(
        "ProtectedMaterialCode", COMPLETION, _REF.format("Protected Material Code")
    ),
    ("Profanity", PROMPT): _switch("Profanity", PROMPT, _REF.format("Profanity") + " - Prompt"),
    ("Profanity", COMPLETION): _switch("Profanity", COMPLETION, _REF.format("Profanity") + " - Completion"),
}
MODE_PARAM = "raiPolicyMode"
EFFECT_PARAM = "effect"

ALL_SEVERITIES = frozenset(Severity)
BOTH = frozenset({True, False})
DEFAULT_SEVERITIES = frozenset({Severity.MEDIUM, Severity.HIGH})
DEFAULT_MODES = frozenset({Mode.DEFAULT})
ALLOWED_MODES = (Mode.DEFAULT, Mode.ASYNC)


@dataclass(frozen=True, slots=True)
class ControlRequirement:
    """What one policy allows for one control (the initiative's allowed lists, parsed)."""

    key: tuple[str, str]
    allowed_enabled: frozenset[bool]
    allowed_blocking: frozenset[bool]
    allowed_severities: frozenset[Severity] | None  #: None for on/off controls
    unknown_values: tuple[str, ...] = ()  #: values in the assignment we could not parse

    @property
    def control(self) -> ControlDef:
        return CONTROL_BY_KEY[self.key]

    @property
    def permissive(self) -> bool:
        """Any setting passes (as long as the filter is present)."""
        sev_ok = self.allowed_severities is None or self.allowed_severities >= ALL_SEVERITIES
        return self.allowed_enabled >= BOTH and self.allowed_blocking >= BOTH and sev_ok

    @property
    def text(self) -> str:
        """Plain words: "Must block ≥ Medium", "Must be on (annotate or block)", ..."""
        en, bl, sev = self.allowed_enabled, self.allowed_blocking, self.allowed_severities
        if self.permissive:
            return "Present (any setting)"
        if en == frozenset({True}) and bl == frozenset({True}):
            if sev is None:
                return "Must block"
            return f"Must block{_sev_text(sev)}"
        if en == frozenset({True}) and bl >= BOTH:
            return "Must be on (annotate or block)" + (_sev_text(sev) if sev is not None else "")
        if en == frozenset({False}):
            return "Must be off"
        parts = [f"enabled {_bools(en)}", f"blocking {_bools(bl)}"]
        if sev is not None and sev < ALL_SEVERITIES:
            parts.append("threshold " + " or ".join(f"≥ {s.rest}" for s in sorted(sev)))
        return "Allowed: " + "; ".join(parts)


def _bools(values: frozenset[bool]) -> str:
    if not values:
        return "none"
    return " or ".join("true" if v else "false" for v in sorted(values, reverse=True))


def _sev_text(sev: frozenset[Severity]) -> str:
    if not sev or sev >= ALL_SEVERITIES:
        return "" if sev else " (no threshold allowed)"
    weakest = min(sev)
    strict_tail = {s for s in Severity if s >= weakest}
    if set(sev) == strict_tail:
        return f" ≥ {weakest.rest}"  # "≥ Medium": Medium or stricter
    return " " + " or ".join(f"≥ {s.rest}" for s in sorted(sev))


@dataclass(frozen=True, slots=True)
class ModeRequirement:
    allowed: frozenset[Mode]
    raw: tuple[str, ...] = ()

    @property
    def permissive(self) -> bool:
        return self.allowed >= frozenset(ALLOWED_MODES)

    @property
    def text(self) -> str:
        if self.permissive:
            return "Any mode"
        return "Mode: " + " or ".join(m.label for m in sorted(self.allowed, key=lambda m: m.strictness))


class Effect(enum.StrEnum):
    AUDIT = "Audit"
    DISABLED = "Disabled"


@dataclass(slots=True)
class GuardrailPolicy:
    """One assignment of the guardrail initiative."""

    id: str
    name: str
    display_name: str
    description: str
    scope: str  #: /subscriptions/{s} or /subscriptions/{s}/resourceGroups/{rg}
    subscription_id: str
    resource_group: str | None
    not_scopes: list[str]
    requirements: dict[tuple[str, str], ControlRequirement]
    mode_requirement: ModeRequirement
    effect: str = "Audit"
    enforcement_mode: str = "Default"
    created_by_fcdesk: bool = False
    parameters: dict[str, Any] = field(default_factory=dict)  #: as assigned (``{name: {value}}``)
    metadata: dict[str, Any] = field(default_factory=dict)
    #: Initiative references switched off by the assignment's ``overrides`` (lower-case reference ids):
    #: their controls are not checked at all, so an absent filter does not fail them.
    disabled_references: frozenset[str] = frozenset()
    raw_overrides: list[Any] = field(default_factory=list)  #: the assignment's ``overrides`` as assigned
    #: The assignment's ``properties`` as read: an edit keeps what fcdesk does not manage
    #: (nonComplianceMessages, resourceSelectors, definitionVersion...), since a PUT replaces them all.
    raw_properties: dict[str, Any] = field(default_factory=dict, repr=False)
    _content_key: tuple[object, ...] | None = field(default=None, repr=False, compare=False)
    key: str = field(default="", repr=False, compare=False)  #: lower-case id, precomputed for lookups

    def __post_init__(self) -> None:
        self.key = self.id.rstrip("/").lower()

    def content_key(self) -> tuple[object, ...]:
        """What the policy requires, independent of its name and scope (an evaluation cache key)."""
        if self._content_key is None:
            self._content_key = (frozenset(self.requirements.values()), self.mode_requirement, self.disabled_references)
        return self._content_key

    @property
    def label(self) -> str:
        return self.display_name or self.name

    @property
    def scope_label(self) -> str:
        if self.resource_group:
            return f"Resource group {self.resource_group}"
        return f"Subscription {self.subscription_id}"

    def checks(self, key: tuple[str, str] | None) -> bool:
        """Whether the policy checks this control (``None``: the mode) or an override switched it off."""
        ref = MODE_REFERENCE if key is None else CONTROL_PARAMS[key].reference_id
        return ref.lower() not in self.disabled_references

    @property
    def minimum_controls(self) -> list[ControlRequirement]:
        """Requirements that constrain anything beyond "present": the controls the policy mandates."""
        return [r for r in self.requirements.values() if not r.permissive and self.checks(r.key)]

    @property
    def controls_text(self) -> str:
        mins = self.minimum_controls
        parts = [f"{r.control.label}: {r.text}" for r in mins]
        if not self.mode_requirement.permissive and self.checks(None):
            parts.append(self.mode_requirement.text)
        return "; ".join(parts) if parts else "Filters present (any setting)"

    @property
    def disabled(self) -> bool:
        return self.effect.lower() == "disabled"


def _param_value(params: Mapping[str, Any], name: str) -> Any:
    entry = params.get(name)
    if isinstance(entry, Mapping) and "value" in entry:
        return entry["value"]
    return entry


def _as_list(value: Any) -> list[Any] | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            decoded = json.loads(value)
        except ValueError:
            return [value]
        return decoded if isinstance(decoded, list) else [decoded]
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


def _parse_bools(values: list[Any] | None, default: frozenset[bool]) -> tuple[frozenset[bool], list[str]]:
    if values is None:
        return default, []
    out: set[bool] = set()
    bad: list[str] = []
    for v in values:
        text = str(v).strip().lower()
        if text == "true":
            out.add(True)
        elif text == "false":
            out.add(False)
        else:
            bad.append(str(v))
    return frozenset(out), bad


def _parse_sevs(values: list[Any] | None) -> tuple[frozenset[Severity], list[str]]:
    if values is None:
        return DEFAULT_SEVERITIES, []
    out: set[Severity] = set()
    bad: list[str] = []
    for v in values:
        sev = Severity.parse(v)
        if sev is None:
            bad.append(str(v))
        else:
            out.add(sev)
    return frozenset(out), bad


def requirements_from_parameters(
    params: Mapping[str, Any],
) -> tuple[dict[tuple[str, str], ControlRequirement], ModeRequirement]:
    """Parse an assignment's parameters; missing ones take the initiative's defaults.

    Large tenants assign the same parameters many times: parses are shared by their text.
    """
    try:
        key: Any = tuple((k, repr(params[k])) for k in sorted(params))
    except TypeError:
        return _requirements(params)
    cached = _REQ_CACHE.get(key)
    if cached is None:
        cached = _requirements(params)
        if len(_REQ_CACHE) < 4096:
            _REQ_CACHE[key] = cached
    return dict(cached[0]), cached[1]


_REQ_CACHE: dict[Any, tuple[dict[tuple[str, str], ControlRequirement], ModeRequirement]] = {}


def _requirements(
    params: Mapping[str, Any],
) -> tuple[dict[tuple[str, str], ControlRequirement], ModeRequirement]:
    reqs: dict[tuple[str, str], ControlRequirement] = {}
    for key, names in CONTROL_PARAMS.items():
        en, bad1 = _parse_bools(_as_list(_param_value(params, names.enabled)), frozenset({True}))
        bl, bad2 = _parse_bools(_as_list(_param_value(params, names.blocking)), frozenset({True}))
        sev: frozenset[Severity] | None = None
        bad3: list[str] = []
        if names.severities is not None:
            sev, bad3 = _parse_sevs(_as_list(_param_value(params, names.severities)))
        reqs[key] = ControlRequirement(key, en, bl, sev, tuple(bad1 + bad2 + bad3))
    modes_raw = _as_list(_param_value(params, MODE_PARAM))
    if modes_raw is None:
        mode_req = ModeRequirement(DEFAULT_MODES)
    else:
        parsed = {Mode.parse(m) for m in modes_raw}
        mode_req = ModeRequirement(frozenset(m for m in parsed if m is not None), tuple(map(str, modes_raw)))
    return reqs, mode_req


def parameters_for(
    requirements: Mapping[tuple[str, str], ControlRequirement], mode: ModeRequirement | None
) -> dict[str, dict[str, Any]]:
    """The initiative parameters (``{name: {"value": [...]}}``) that express these requirements.

    Controls that are not given are set to their permissive values: a minimum-controls policy
    must not inherit the initiative's defaults, which would enforce *every* control.
    """
    out: dict[str, dict[str, Any]] = {}
    for key, names in CONTROL_PARAMS.items():
        req = requirements.get(key)
        en = req.allowed_enabled if req else BOTH
        bl = req.allowed_blocking if req else BOTH
        out[names.enabled] = {"value": [("true" if b else "false") for b in sorted(en, reverse=True)]}
        out[names.blocking] = {"value": [("true" if b else "false") for b in sorted(bl, reverse=True)]}
        if names.severities is not None:
            sev = req.allowed_severities if req and req.allowed_severities is not None else ALL_SEVERITIES
            out[names.severities] = {"value": [s.rest for s in sorted(sev, reverse=True)]}
    modes = mode.allowed if mode else frozenset(ALLOWED_MODES)
    out[MODE_PARAM] = {"value": [m.value for m in ALLOWED_MODES if m in modes]}
    return out


ALL_REFERENCES: tuple[str, ...] = tuple(dict.fromkeys([n.reference_id for n in CONTROL_PARAMS.values()] + [MODE_REFERENCE]))


def overrides_disabling(references: frozenset[str] | set[str]) -> list[dict[str, Any]]:
    """An assignment's ``overrides`` that switch these initiative references off (effect Disabled)."""
    chosen = [r for r in ALL_REFERENCES if r.lower() in {x.lower() for x in references}]
    if not chosen:
        return []
    return [
        {
            "kind": "policyEffect",
            "value": "Disabled",
            "selectors": [{"kind": "policyDefinitionReferenceId", "in": chosen}],
        }
    ]


def disabled_by_overrides(overrides: Any) -> frozenset[str]:
    """The references (lower case) an assignment's ``overrides`` set to effect Disabled.

    Selectors of kind ``policyDefinitionReferenceId`` with ``in`` or ``notIn`` are understood; an
    override with other selectors (resource location, type...) is not a blanket switch and is ignored.
    """
    out: set[str] = set()
    if not isinstance(overrides, list):
        return frozenset()
    everything = {r.lower() for r in ALL_REFERENCES}
    for ov in overrides:
        if not isinstance(ov, Mapping) or str(ov.get("kind", "")).lower() != "policyeffect":
            continue
        if str(ov.get("value", "")).lower() != "disabled":
            continue
        selectors = ov.get("selectors") or []
        if not isinstance(selectors, list) or not selectors:
            continue
        refs = set(everything)
        for sel in selectors:
            if not isinstance(sel, Mapping) or str(sel.get("kind", "")).lower() != "policydefinitionreferenceid":
                refs = set()
                break
            if isinstance(sel.get("in"), list):
                refs &= {str(x).lower() for x in sel["in"]}
            elif isinstance(sel.get("notIn"), list):
                refs -= {str(x).lower() for x in sel["notIn"]}
        out |= refs
    return frozenset(out)


def minimum(key: tuple[str, str], threshold: Severity | None = Severity.MEDIUM) -> ControlRequirement:
    """A "must block at ``threshold`` or stricter" requirement (the wizard's building block)."""
    sev = frozenset(s for s in Severity if threshold is None or s >= threshold)
    is_sev = CONTROL_BY_KEY[key].kind is ControlKind.SEVERITY
    return ControlRequirement(key, frozenset({True}), frozenset({True}), sev if is_sev else None)


# --------------------------------------------------------------------------------------- evaluation


@dataclass(frozen=True, slots=True)
class ControlResult:
    """Required vs actual for one control of one policy on one effective guardrail."""

    key: tuple[str, str] | None  #: None for the mode check
    label: str
    required: str
    actual: str
    passed: bool
    reference_id: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The local verdict of one policy on one effective guardrail."""

    results: tuple[ControlResult, ...]

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def failures(self) -> tuple[ControlResult, ...]:
        return tuple(r for r in self.results if not r.passed)

    @property
    def failed_references(self) -> frozenset[str]:
        return frozenset(r.reference_id for r in self.results if not r.passed)


def _filter_passes(eff: EffectiveGuardrail, req: ControlRequirement) -> tuple[bool, str]:
    flt = eff.filters.get(req.key)
    if flt is None:
        return False, "No filter with this name and source: the initiative treats that as non-compliant."
    if flt.enabled is None or flt.enabled not in req.allowed_enabled:
        return False, f"enabled is {_word(flt.enabled)}; allowed: {_bools(req.allowed_enabled)}"
    if flt.blocking is None or flt.blocking not in req.allowed_blocking:
        return False, f"blocking is {_word(flt.blocking)}; allowed: {_bools(req.allowed_blocking)}"
    if req.allowed_severities is not None and (flt.threshold is None or flt.threshold not in req.allowed_severities):
        shown = flt.threshold.rest if flt.threshold else (flt.raw_threshold or "not set")
        allowed = ", ".join(s.rest for s in sorted(req.allowed_severities, reverse=True)) or "none"
        return False, f"threshold is {shown}; allowed: {allowed}"
    return True, ""


def _word(value: bool | None) -> str:
    return "not set" if value is None else ("true" if value else "false")


def evaluate(policy: GuardrailPolicy, eff: EffectiveGuardrail) -> Evaluation:
    """Apply the initiative's rules with this policy's parameters to one effective guardrail."""
    results: list[ControlResult] = []
    no_filters = not eff.filters
    for control in CATALOGUE:
        req = policy.requirements.get(control.key)
        if req is None or not policy.checks(control.key):
            continue
        passed, reason = _filter_passes(eff, req)
        if no_filters and control.kind is ControlKind.SEVERITY:
            passed, reason = False, "The guardrail has no content filters at all."
        results.append(
            ControlResult(
                control.key,
                control.label,
                req.text,
                eff.cell(control.key).text,
                passed,
                CONTROL_PARAMS[control.key].reference_id,
                reason,
            )
        )
    if not policy.checks(None):
        return Evaluation(tuple(results))
    mode_ok = eff.mode is not None and eff.mode in policy.mode_requirement.allowed
    results.append(
        ControlResult(
            None,
            "Guardrail mode",
            policy.mode_requirement.text,
            eff.mode_label,
            mode_ok,
            MODE_REFERENCE,
            "" if mode_ok else f"mode is {eff.mode_label}",
        )
    )
    return Evaluation(tuple(results))
