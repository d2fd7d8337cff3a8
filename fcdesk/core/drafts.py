"""Guardrail policy drafts: what the wizard and ``fcdesk policy apply`` build, before any write.

A :class:`PolicyDraft` is a guardrail policy that does not exist yet (or the edited copy of one that
does): the minimum controls chosen, a scope, exceptions, a name and a description. From it come

* the ARM request body of the policy assignment (:meth:`PolicyDraft.assignment_body`): one
  assignment of the built-in initiative with parameters from :func:`fcdesk.core.policy.parameters_for`
  (every control not chosen is set to its permissive value), exceptions as ``notScopes``, and
  metadata that marks the assignment as fcdesk's;
* the what-if (:func:`what_if`): the deployments in scope, minus exceptions, that would violate it,
  computed locally with the same evaluator that judges the tabs;
* the policy-as-code file (:func:`draft_from_document` / :func:`document_from_draft`).

No Qt, no SDK: the GUI, the CLI and the tests share this module.
"""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fcdesk.core.guardrails import (
    CATALOGUE,
    COMPLETION,
    CONTROL_BY_KEY,
    PROMPT,
    ControlKind,
    Mode,
    Severity,
    canonical_filter_name,
)
from fcdesk.core.model import Deployment, id_segment, idkey
from fcdesk.core.policy import (
    ALLOWED_MODES,
    AZURE_METADATA_KEYS,
    BOTH,
    CONTROL_PARAMS,
    FCDESK_METADATA_KEY,
    FCDESK_METADATA_VALUE,
    INITIATIVE_ID,
    MODE_REFERENCE,
    ControlRequirement,
    Evaluation,
    GuardrailPolicy,
    ModeRequirement,
    disabled_by_overrides,
    evaluate,
    overrides_disabling,
    parameters_for,
    requirements_from_parameters,
)

if TYPE_CHECKING:
    from fcdesk.core.inventory import Inventory

#: ARM limits for a policy assignment at subscription or resource-group scope.
NAME_MAX = 64
DISPLAY_NAME_MAX = 128
DESCRIPTION_MAX = 512
_NAME_FORBIDDEN = re.compile(r"[<>*%&:\\?.+/#\s]")
#: Assignment properties Azure sets itself (not sent back on an edit).
_READ_ONLY = frozenset({"scope", "assignmentType", "instanceId"})
_SCOPE_RE = re.compile(r"^/subscriptions/[^/]+(/resourceGroups/[^/]+)?$", re.IGNORECASE)


class DraftError(ValueError):
    """A draft (or policy file) that cannot become an assignment; the message is for people."""


# ------------------------------------------------------------------------------------ controls


@dataclass(frozen=True, slots=True)
class ControlChoice:
    """One "Add control" of the wizard: a filter on one or both sources with its minimum.

    ``threshold`` (harm categories only): blocks at this level or stricter ("≥ Medium").
    ``blocking``: blocking is required; False allows annotate-only as long as the filter is on.
    """

    name: str  #: REST filter name: Hate, Sexual, Violence, Selfharm, Jailbreak, ...
    sources: tuple[str, ...]
    threshold: Severity | None = Severity.MEDIUM
    blocking: bool = True

    def __post_init__(self) -> None:
        if not self.sources or any((self.name, s) not in CONTROL_BY_KEY for s in self.sources):
            raise DraftError(f"{self.name} does not exist on {', '.join(self.sources) or 'no source'}.")
        if not self.is_severity:
            object.__setattr__(self, "threshold", None)  # on/off controls have no threshold
        elif self.threshold is None:
            object.__setattr__(self, "threshold", Severity.HIGH)  # "blocks at any level" is ≥ High

    @property
    def is_severity(self) -> bool:
        return any(CONTROL_BY_KEY[(self.name, s)].kind is ControlKind.SEVERITY for s in self.sources)

    @property
    def keys(self) -> list[tuple[str, str]]:
        return [(self.name, s) for s in self.sources]

    def requirements(self) -> dict[tuple[str, str], ControlRequirement]:
        return {key: requirement(key, self.threshold, blocking=self.blocking) for key in self.keys}

    @property
    def label(self) -> str:
        first = CONTROL_BY_KEY[self.keys[0]]
        if first.group in ("harm", "profanity"):
            return f"{first.label.split(' (')[0]} ({source_text(self.sources)})"
        return first.label

    @property
    def text(self) -> str:
        """What the choice demands, in the words of the tabs ("Must block ≥ Medium")."""
        return requirement(self.keys[0], self.threshold, blocking=self.blocking).text


def source_text(sources: Iterable[str]) -> str:
    chosen = set(sources)
    if chosen >= {PROMPT, COMPLETION}:
        return "prompt and completion"
    return "prompt" if PROMPT in chosen else "completion"


def sources_of(name: str) -> tuple[str, ...]:
    """The sources a filter exists on, in catalogue order."""
    return tuple(c.source for c in CATALOGUE if c.name == name)


#: The filters the wizard offers, in its order: (REST name, label).
CHOICES: tuple[tuple[str, str], ...] = (
    ("Hate", "Hate"),
    ("Sexual", "Sexual"),
    ("Violence", "Violence"),
    ("Selfharm", "Self-harm"),
    ("Jailbreak", "Prompt shield: jailbreak"),
    ("Indirect Attack", "Prompt shield: indirect attacks"),
    ("Protected Material Text", "Protected material: text"),
    ("Protected Material Code", "Protected material: code"),
    ("Profanity", "Profanity"),
)


def requirement(
    key: tuple[str, str], threshold: Severity | None = Severity.MEDIUM, *, blocking: bool = True
) -> ControlRequirement:
    """ "Must be on and block at ``threshold`` or stricter"; ``blocking=False`` also allows annotate."""
    control = CONTROL_BY_KEY[key]
    sev = None
    if control.kind is ControlKind.SEVERITY:
        floor = threshold or Severity.HIGH
        sev = frozenset(s for s in Severity if s >= floor)
    return ControlRequirement(key, frozenset({True}), frozenset({True}) if blocking else BOTH, sev)


def choices_from_requirements(
    reqs: Mapping[tuple[str, str], ControlRequirement],
) -> tuple[list[ControlChoice], list[ControlRequirement]]:
    """Group an assignment's non-permissive requirements into wizard choices.

    Returns ``(choices, others)``: requirements that are not of the "on, block at ≥ X" shape (for
    example "must be off", set by hand in the portal) are returned apart, to be kept as they are.
    """
    choices: list[ControlChoice] = []
    others: list[ControlRequirement] = []
    parsed: dict[tuple[str, str], tuple[Severity | None, bool]] = {}
    for key, req in reqs.items():
        if req.permissive or key not in CONTROL_BY_KEY:
            continue
        shape = _choice_shape(req)
        if shape is None:
            others.append(req)
        else:
            parsed[key] = shape
    for name, _label in CHOICES:
        keys = [k for k in ((name, s) for s in sources_of(name)) if k in parsed]
        if not keys:
            continue
        shapes = {parsed[k] for k in keys}
        if len(shapes) == 1:
            threshold, blocking = shapes.pop()
            choices.append(ControlChoice(name, tuple(k[1] for k in keys), threshold, blocking))
        else:
            for k in keys:
                threshold, blocking = parsed[k]
                choices.append(ControlChoice(name, (k[1],), threshold, blocking))
    for key, shape in parsed.items():  # controls not offered by the wizard (Spotlighting)
        if key[0] not in {n for n, _ in CHOICES}:
            choices.append(ControlChoice(key[0], (key[1],), shape[0], shape[1]))
    return choices, others


def _choice_shape(req: ControlRequirement) -> tuple[Severity | None, bool] | None:
    if req.allowed_enabled != frozenset({True}) or not req.allowed_blocking or req.unknown_values:
        return None
    blocking = req.allowed_blocking == frozenset({True})
    if req.allowed_severities is None:
        return None, blocking
    sev = req.allowed_severities
    if not sev:
        return None
    floor = min(sev)
    if set(sev) != {s for s in Severity if s >= floor}:
        return None
    return floor, blocking


# ------------------------------------------------------------------------------------ the draft


@dataclass(slots=True)
class PolicyDraft:
    """A guardrail policy being created or edited (nothing is written by this class)."""

    display_name: str = ""
    description: str = ""
    scope: str = ""  #: /subscriptions/{s} or /subscriptions/{s}/resourceGroups/{rg}
    choices: list[ControlChoice] = field(default_factory=list)
    #: Requirements kept from an existing assignment that the wizard cannot express (shown, kept).
    kept: list[ControlRequirement] = field(default_factory=list)
    modes: frozenset[Mode] | None = None  #: allowed guardrail modes; None: any
    exceptions: list[str] = field(default_factory=list)  #: notScopes: deployment or RG ids
    name: str = ""  #: the assignment's resource name; derived from the display name when empty
    existing: GuardrailPolicy | None = None  #: the policy being edited

    # --------------------------------------------------------------------------- derived

    @property
    def is_edit(self) -> bool:
        return self.existing is not None

    @property
    def subscription_id(self) -> str:
        return id_segment(self.scope, "subscriptions") or ""

    @property
    def resource_group(self) -> str | None:
        return id_segment(self.scope, "resourceGroups")

    @property
    def assignment_name(self) -> str:
        if self.name:
            return self.name
        if self.existing is not None:
            return self.existing.name
        return assignment_name_for(self.display_name, self.scope)

    @property
    def assignment_id(self) -> str:
        return f"{self.scope}/providers/Microsoft.Authorization/policyAssignments/{self.assignment_name}"

    @property
    def scope_changed(self) -> bool:
        """Editing with a new scope: Azure cannot move an assignment; it is deleted and re-created."""
        return self.existing is not None and idkey(self.existing.scope) != idkey(self.scope)

    def requirements(self) -> dict[tuple[str, str], ControlRequirement]:
        out: dict[tuple[str, str], ControlRequirement] = {r.key: r for r in self.kept}
        for choice in self.choices:
            out.update(choice.requirements())
        return out

    def mode_requirement(self) -> ModeRequirement:
        return ModeRequirement(frozenset(ALLOWED_MODES) if self.modes is None else frozenset(self.modes))

    def parameters(self) -> dict[str, dict[str, Any]]:
        return parameters_for(self.requirements(), self.mode_requirement())

    def unchecked_references(self) -> frozenset[str]:
        """Initiative references with no chosen control: switched off by an override.

        The initiative fails a deployment whose guardrail lacks a filter even when the allowed values
        are permissive, so a policy that mandates only "Hate ≥ Low" would otherwise also flag every
        guardrail without, say, a profanity filter. Switching the unchosen references off (effect
        Disabled through the assignment's ``overrides``) makes the policy check exactly its controls.
        """
        chosen = {CONTROL_PARAMS[key].reference_id for key in self.requirements()}
        refs = {n.reference_id for n in CONTROL_PARAMS.values()} - chosen
        if self.modes is None:
            refs.add(MODE_REFERENCE)
        return frozenset(refs)

    def overrides(self) -> list[dict[str, Any]]:
        kept: list[dict[str, Any]] = []
        if self.existing is not None:  # overrides fcdesk does not manage (other selector kinds) stay
            raw = self.existing.raw_overrides
            kept = [o for o in raw if isinstance(o, Mapping) and not disabled_by_overrides([o])]
        return overrides_disabling(self.unchecked_references()) + kept

    def problems(self) -> list[str]:
        """Why this draft cannot be written yet (empty when it can)."""
        out = []
        if not self.choices and not self.kept and self.modes is None:
            out.append("Add at least one control.")
        if not _SCOPE_RE.match(self.scope or ""):
            out.append("Choose a subscription or a resource group as the scope.")
        name = self.display_name.strip()
        if not name:
            out.append("Enter a policy name.")
        elif len(name) > DISPLAY_NAME_MAX:
            out.append(f"The policy name is longer than {DISPLAY_NAME_MAX} characters.")
        if len(self.description) > DESCRIPTION_MAX:
            out.append(f"The description is longer than {DESCRIPTION_MAX} characters.")
        if self.name and (_NAME_FORBIDDEN.search(self.name) or len(self.name) > NAME_MAX):
            out.append(
                "The assignment name may not contain <>*%&:\\?.+/# or spaces, "
                f"and has at most {NAME_MAX} characters."
            )
        if self.modes is not None and not self.modes:
            out.append("Allow at least one guardrail mode.")
        scope = idkey(self.scope)
        for ex in self.exceptions:
            if not idkey(ex).startswith(scope + "/"):
                out.append(f"The exception {ex} is not inside the scope.")
        return out

    def as_policy(self) -> GuardrailPolicy:
        """The policy this draft would be, for evaluation (the what-if) and for display."""
        reqs, mode_req = requirements_from_parameters(self.parameters())
        return GuardrailPolicy(
            id=self.assignment_id,
            name=self.assignment_name,
            display_name=self.display_name.strip(),
            description=self.description,
            scope=self.scope,
            subscription_id=self.subscription_id,
            resource_group=self.resource_group,
            not_scopes=list(self.exceptions),
            requirements=reqs,
            mode_requirement=mode_req,
            created_by_fcdesk=True,
            parameters=self.parameters(),
            metadata=self.metadata(),
            disabled_references=frozenset(r.lower() for r in self.unchecked_references()),
            raw_overrides=self.overrides(),
        )

    def metadata(self) -> dict[str, Any]:
        meta: dict[str, Any] = dict(self.existing.metadata) if self.existing is not None else {}
        for key in AZURE_METADATA_KEYS:  # set by Azure on every write
            meta.pop(key, None)
        meta[FCDESK_METADATA_KEY] = FCDESK_METADATA_VALUE
        return meta

    def assignment_body(self) -> dict[str, Any]:
        """The body of ``PUT {scope}/providers/Microsoft.Authorization/policyAssignments/{name}``.

        Editing starts from the assignment as read: a PUT replaces the whole assignment, so what
        fcdesk does not manage (non-compliance messages, resource selectors, the definition
        version...) is sent back unchanged.
        """
        props: dict[str, Any] = {}
        if self.existing is not None:
            props = {k: copy.deepcopy(v) for k, v in self.existing.raw_properties.items() if k not in _READ_ONLY}
        params: dict[str, Any] = {}
        if self.existing is not None:  # keep parameters the wizard does not edit (e.g. the effect)
            params.update(copy.deepcopy(self.existing.parameters))
        params.update(self.parameters())
        props.update(
            {
                "displayName": self.display_name.strip(),
                "description": self.description.strip(),
                "policyDefinitionId": INITIATIVE_ID,
                "parameters": params,
                "notScopes": list(self.exceptions),
                "enforcementMode": self.existing.enforcement_mode if self.existing is not None else "Default",
                "metadata": self.metadata(),
                "overrides": self.overrides(),
            }
        )
        return {"properties": props}

    def summary_lines(self, names: Mapping[str, str] | None = None) -> list[str]:
        """The review page's summary, one plain line each (``names``: see :func:`scope_text`)."""
        lines = [f"Name: {self.display_name.strip()}"]
        if self.description.strip():
            lines.append(f"Description: {self.description.strip()}")
        lines.append(f"Scope: {scope_text(self.scope, names)}")
        for choice in self.choices:
            lines.append(f"Control: {choice.label}: {choice.text}")
        for req in self.kept:
            lines.append(f"Control (kept as assigned): {req.control.label}: {req.text}")
        lines.append(self.mode_requirement().text if self.modes is not None else "Modes: any")
        lines.append("Controls not listed are not checked (their initiative references are switched off).")
        if self.exceptions:
            lines.append(f"Exceptions: {len(self.exceptions)}")
            lines += [f"  {scope_text(e, names)}" for e in self.exceptions]
        else:
            lines.append("Exceptions: none")
        return lines


def draft_from_policy(policy: GuardrailPolicy) -> PolicyDraft:
    """An editable copy of an existing guardrail policy."""
    checked = {k: r for k, r in policy.requirements.items() if policy.checks(k)}
    choices, kept = choices_from_requirements(checked)
    # Checked controls that allow any setting still require the filter to be present: kept, so
    # that an edit does not switch their check off (and quietly change what the policy reports).
    kept += [r for k, r in checked.items() if r.permissive and k in CONTROL_PARAMS]
    modes = frozenset(policy.mode_requirement.allowed) if policy.checks(None) else None
    return PolicyDraft(
        display_name=policy.display_name or policy.name,
        description=policy.description,
        scope=policy.scope,
        choices=choices,
        kept=kept,
        modes=modes,
        exceptions=list(policy.not_scopes),
        name=policy.name,
        existing=policy,
    )


def assignment_name_for(display_name: str, scope: str) -> str:
    """A stable, valid assignment name: ``fcdesk-<slug>-<hash>`` (at most 64 characters)."""
    slug = re.sub(r"[^a-z0-9]+", "-", display_name.lower()).strip("-")[:40] or "policy"
    digest = hashlib.sha256(f"{idkey(scope)}|{display_name.strip().lower()}".encode()).hexdigest()[:8]
    return f"fcdesk-{slug}-{digest}"[:NAME_MAX]


def scope_text(arm_id: str, names: Mapping[str, str] | None = None) -> str:
    """A scope or exception as people say it: "Resource group rg-a (subscription 1234…)".

    ``names``: subscription display names by lower-case id, to say "Contoso Prod" for the GUID.
    """
    dep = id_segment(arm_id, "deployments")
    rg = id_segment(arm_id, "resourceGroups")
    sub = id_segment(arm_id, "subscriptions") or ""
    if names and sub.lower() in names and names[sub.lower()] != sub:
        sub = f"{names[sub.lower()]} ({sub})" if not rg else names[sub.lower()]
    if dep:
        acct = id_segment(arm_id, "accounts") or ""
        return f"Deployment {dep} (account {acct}, resource group {rg})"
    if id_segment(arm_id, "accounts"):
        return f"Account {id_segment(arm_id, 'accounts')} (resource group {rg})"
    if rg:
        return f"Resource group {rg} (subscription {sub})"
    return f"Subscription {sub}" if sub else arm_id


# ------------------------------------------------------------------------------------ what-if


@dataclass(frozen=True, slots=True)
class WhatIfRow:
    deployment: Deployment
    evaluation: Evaluation

    @property
    def failing(self) -> str:
        return ", ".join(r.label for r in self.evaluation.failures)


@dataclass(frozen=True, slots=True)
class WhatIf:
    """The local what-if of a draft on the data in hand."""

    in_scope: int  #: deployments under the scope
    excepted: int  #: ... of which excluded by an exception
    violating: tuple[WhatIfRow, ...]
    by_control: tuple[tuple[str, int], ...]  #: control label → violating deployments, most first

    @property
    def evaluated(self) -> int:
        return self.in_scope - self.excepted

    @property
    def compliant(self) -> int:
        return self.evaluated - len(self.violating)

    @property
    def headline(self) -> str:
        if not self.in_scope:
            return "No deployments are in this scope in the data in hand."
        return f"{len(self.violating)} of {self.evaluated} deployments in scope would violate this policy" + (
            f" ({self.excepted} excepted)." if self.excepted else "."
        )


def in_scope(dep: Deployment, scope: str) -> bool:
    sk = idkey(scope)
    return bool(sk) and (dep.key == sk or dep.key.startswith(sk + "/"))


def is_excepted(dep: Deployment, exceptions: Iterable[str]) -> bool:
    for ex in exceptions:
        ek = idkey(ex)
        if dep.key == ek or dep.key.startswith(ek + "/"):
            return True
    return False


def what_if(inventory: Inventory, draft: PolicyDraft | GuardrailPolicy) -> WhatIf:
    """Which deployments in the draft's scope, minus its exceptions, would violate it, and how."""
    policy = draft.as_policy() if isinstance(draft, PolicyDraft) else draft
    violating: list[WhatIfRow] = []
    counts: dict[str, int] = {}
    total = excepted = 0
    cache: dict[object, Evaluation] = {}
    for dep in inventory.deployments:
        if not in_scope(dep, policy.scope):
            continue
        total += 1
        if is_excepted(dep, policy.not_scopes):
            excepted += 1
            continue
        eff = inventory.effective(dep)
        ev = cache.get(eff.fingerprint)
        if ev is None:
            ev = cache[eff.fingerprint] = evaluate(policy, eff)
        if not ev.passed:
            violating.append(WhatIfRow(dep, ev))
            for failure in ev.failures:
                counts[failure.label] = counts.get(failure.label, 0) + 1
    by_control = tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    return WhatIf(total, excepted, tuple(violating), by_control)


# ------------------------------------------------------------------------------- policy as code


def draft_from_document(doc: Any, *, existing: Iterable[GuardrailPolicy] = ()) -> PolicyDraft:
    """A policy file (already parsed from YAML or JSON) as a draft. Raises :class:`DraftError`.

    Format (keys are case-sensitive; see the README)::

        displayName: Block harmful content at Medium
        name: block-harm            # optional: the assignment's resource name
        description: ...            # optional
        scope: /subscriptions/<id>[/resourceGroups/<rg>]
        controls:
          - control: Hate           # Hate, Sexual, Violence, Selfharm, Jailbreak, Indirect Attack,
            sources: [prompt, completion]   # Protected Material Text/Code, Profanity
            threshold: Medium       # blocks at Medium or stricter (harm categories)
            blocking: true          # false: annotate-only is enough
        modes: [Default]            # optional: allowed guardrail modes
        exceptions: [<deployment or resource group id>, ...]

    ``existing``: the guardrail policies in hand; a file naming one of them (by ``name`` at the
    same scope) becomes an edit of it.
    """
    if not isinstance(doc, Mapping):
        raise DraftError("The policy file must be a mapping (an object) at its top level.")
    known = {"displayName", "name", "description", "scope", "controls", "modes", "exceptions"}
    unknown = sorted(set(map(str, doc)) - known)
    if unknown:
        raise DraftError(f"Unknown key(s) in the policy file: {', '.join(unknown)}.")
    display = doc.get("displayName") or doc.get("name")
    if not isinstance(display, str) or not display.strip():
        raise DraftError("The policy file needs a 'displayName' (or a 'name').")
    scope = doc.get("scope")
    if not isinstance(scope, str) or not _SCOPE_RE.match(scope.strip()):
        raise DraftError("'scope' must be /subscriptions/<id> or /subscriptions/<id>/resourceGroups/<name>.")
    scope = scope.strip().rstrip("/")
    controls = doc.get("controls") or []
    if not isinstance(controls, list):
        raise DraftError("'controls' must be a list.")
    choices = [_choice_from_entry(i, entry) for i, entry in enumerate(controls, 1)]
    modes_raw = doc.get("modes")
    modes: frozenset[Mode] | None = None
    if modes_raw is not None:
        if not isinstance(modes_raw, list):
            raise DraftError("'modes' must be a list such as [Default, Asynchronous_filter].")
        parsed = [Mode.parse(m) for m in modes_raw]
        if any(m not in ALLOWED_MODES for m in parsed):
            raise DraftError("'modes' may list only Default and Asynchronous_filter.")
        modes = frozenset(m for m in parsed if m is not None)
    exceptions = doc.get("exceptions") or []
    if not isinstance(exceptions, list) or not all(isinstance(e, str) for e in exceptions):
        raise DraftError("'exceptions' must be a list of resource ids.")
    name = doc.get("name") if isinstance(doc.get("name"), str) and doc.get("displayName") else ""
    description = doc.get("description") or ""
    if not isinstance(description, str):
        raise DraftError("'description' must be text.")
    draft = PolicyDraft(
        display_name=display.strip(),
        description=description,
        scope=scope,
        choices=choices,
        modes=modes,
        exceptions=[e.strip().rstrip("/") for e in exceptions],
        name=str(name or "").strip(),
    )
    target = draft.assignment_name.lower()
    for pol in existing:
        if pol.name.lower() == target and idkey(pol.scope) == idkey(scope):
            draft.existing = pol
            break
    problems = draft.problems()
    if problems:
        raise DraftError(" ".join(problems))
    return draft


def _choice_from_entry(index: int, entry: Any) -> ControlChoice:
    where = f"controls[{index}]"
    if isinstance(entry, str):
        entry = {"control": entry}
    if not isinstance(entry, Mapping):
        raise DraftError(f"{where} must be a control name or a mapping.")
    unknown = sorted(set(map(str, entry)) - {"control", "sources", "threshold", "blocking"})
    if unknown:
        raise DraftError(f"{where}: unknown key(s) {', '.join(unknown)}.")
    raw_name = entry.get("control")
    if not isinstance(raw_name, str):
        raise DraftError(f"{where} needs 'control': one of {', '.join(n for n, _ in CHOICES)}.")
    name = canonical_filter_name(raw_name)
    available = sources_of(name)
    if not available:
        raise DraftError(f"{where}: unknown control '{raw_name}'.")
    sources_raw = entry.get("sources")
    if sources_raw is None:
        sources = available
    else:
        if isinstance(sources_raw, str):
            sources_raw = [sources_raw]
        if not isinstance(sources_raw, list):
            raise DraftError(f"{where}: 'sources' must be a list of prompt/completion.")
        wanted = {str(s).strip().lower() for s in sources_raw}
        bad = wanted - {s.lower() for s in available}
        if bad or not wanted:
            raise DraftError(f"{where}: {raw_name} exists on {source_text(available)} only.")
        sources = tuple(s for s in available if s.lower() in wanted)
    severity = CONTROL_BY_KEY[(name, sources[0])].kind is ControlKind.SEVERITY
    threshold: Severity | None = None
    if severity:
        raw_t = entry.get("threshold", "Medium")
        threshold = Severity.parse(raw_t)
        if threshold is None:
            raise DraftError(
                f"{where}: 'threshold' must be Low, Medium or High (blocks at that level or stricter)."
            )
    elif "threshold" in entry:
        raise DraftError(f"{where}: {raw_name} has no threshold.")
    blocking = entry.get("blocking", True)
    if not isinstance(blocking, bool):
        raise DraftError(f"{where}: 'blocking' must be true or false.")
    return ControlChoice(name, sources, threshold, blocking)


def document_from_draft(draft: PolicyDraft) -> dict[str, Any]:
    """The policy file of a draft (or of an existing policy via :func:`draft_from_policy`)."""
    doc: dict[str, Any] = {"displayName": draft.display_name, "name": draft.assignment_name}
    if draft.description:
        doc["description"] = draft.description
    doc["scope"] = draft.scope
    controls = []
    for c in draft.choices:
        entry: dict[str, Any] = {"control": c.name, "sources": [s.lower() for s in c.sources]}
        if c.threshold is not None and c.is_severity:
            entry["threshold"] = c.threshold.rest
        if not c.blocking:
            entry["blocking"] = False
        controls.append(entry)
    doc["controls"] = controls
    if draft.modes is not None:
        doc["modes"] = [m.value for m in ALLOWED_MODES if m in draft.modes]
    if draft.exceptions:
        doc["exceptions"] = list(draft.exceptions)
    return doc


def parse_policy_text(text: str, *, filename: str = "") -> Any:
    """Parse a policy file's text: JSON when it looks like JSON (or ends in .json), YAML otherwise."""
    import json

    stripped = text.lstrip()
    if filename.lower().endswith(".json") or stripped.startswith("{"):
        try:
            return json.loads(text)
        except ValueError as exc:
            raise DraftError(f"The policy file is not valid JSON: {exc}.") from None
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise DraftError(
            f"The policy file is not valid YAML{where}: {getattr(exc, 'problem', exc)}."
        ) from None
