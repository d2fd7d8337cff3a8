"""Guardrails (RAI policies) and what one control of one deployment actually does.

Terms used throughout fcdesk:

* A *control* is one content filter identified by the pair ``(name, source)``: ``("Hate", "Prompt")``
  is a different control from ``("Hate", "Completion")``.
* A *cell* is the state of one control on one effective guardrail: not set, off, annotate only, or
  blocking (at a severity threshold for the harm categories).
* REST severity semantics are inverted from what people expect: ``severityThreshold: Low`` is the
  *strictest* (blocks low, medium and high), ``High`` blocks only high. fcdesk never shows the raw
  word alone: it says "Blocks ≥ Low".
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

PROMPT = "Prompt"
COMPLETION = "Completion"


class Severity(enum.IntEnum):
    """A severity threshold. The integer value is its *strictness* (higher blocks more)."""

    HIGH = 1  #: blocks only high-severity content
    MEDIUM = 2  #: blocks medium and high
    LOW = 3  #: blocks low, medium and high (strictest)

    @property
    def rest(self) -> str:
        return self.name.capitalize()

    @classmethod
    def parse(cls, value: object) -> Severity | None:
        if isinstance(value, str):
            try:
                return cls[value.strip().upper()]
            except KeyError:
                return None
        return None


class Mode(enum.StrEnum):
    """Guardrail mode. ``Deferred`` (older api-versions) is the same as ``Asynchronous_filter``."""

    DEFAULT = "Default"
    ASYNC = "Asynchronous_filter"
    BLOCKING = "Blocking"
    UNKNOWN = "Unknown"

    @classmethod
    def parse(cls, value: object) -> Mode | None:
        if value is None or value == "":
            return None
        text = str(value).strip().lower()
        return {
            "default": cls.DEFAULT,
            "asynchronous_filter": cls.ASYNC,
            "deferred": cls.ASYNC,
            "blocking": cls.BLOCKING,
        }.get(text, cls.UNKNOWN)

    @property
    def label(self) -> str:
        return {
            Mode.DEFAULT: "Default",
            Mode.ASYNC: "Streaming (async filter)",
            Mode.BLOCKING: "Blocking",
            Mode.UNKNOWN: "Unknown",
        }[self]

    @property
    def strictness(self) -> int:
        """Weakest first: an asynchronous filter lets content stream before it is judged."""
        return {Mode.UNKNOWN: 0, Mode.ASYNC: 1, Mode.DEFAULT: 2, Mode.BLOCKING: 3}[self]


class ControlKind(enum.Enum):
    SEVERITY = "severity"  #: harm category: off / annotate / block at a threshold
    SWITCH = "switch"  #: shield or detector: off / annotate / block


@dataclass(frozen=True, slots=True)
class ControlDef:
    """One control of the catalogue: the columns of the comparison matrix."""

    name: str  #: REST filter name
    source: str  #: Prompt | Completion
    kind: ControlKind
    label: str  #: what people call it
    short: str  #: column header
    group: str  #: harm, shield, protected material, profanity

    @property
    def key(self) -> tuple[str, str]:
        return (self.name, self.source)


def _c(name: str, source: str, kind: ControlKind, label: str, short: str, group: str) -> ControlDef:
    return ControlDef(name, source, kind, label, short, group)


_S, _W = ControlKind.SEVERITY, ControlKind.SWITCH
#: Every control fcdesk knows, in matrix column order.
CATALOGUE: tuple[ControlDef, ...] = (
    _c("Hate", PROMPT, _S, "Hate (prompt)", "Hate in", "harm"),
    _c("Hate", COMPLETION, _S, "Hate (completion)", "Hate out", "harm"),
    _c("Sexual", PROMPT, _S, "Sexual (prompt)", "Sexual in", "harm"),
    _c("Sexual", COMPLETION, _S, "Sexual (completion)", "Sexual out", "harm"),
    _c("Violence", PROMPT, _S, "Violence (prompt)", "Violence in", "harm"),
    _c("Violence", COMPLETION, _S, "Violence (completion)", "Violence out", "harm"),
    _c("Selfharm", PROMPT, _S, "Self-harm (prompt)", "Self-harm in", "harm"),
    _c("Selfharm", COMPLETION, _S, "Self-harm (completion)", "Self-harm out", "harm"),
    _c("Jailbreak", PROMPT, _W, "Prompt shield: jailbreak (user prompt attacks)", "Jailbreak", "shield"),
    _c("Indirect Attack", PROMPT, _W, "Prompt shield: indirect attacks (documents, tools)", "Indirect", "shield"),
    _c("Indirect Attack Spotlighting", PROMPT, _W, "Spotlighting for indirect attacks", "Spotlight", "shield"),
    _c("Protected Material Text", COMPLETION, _W, "Protected material: text", "Prot. text", "protected"),
    _c("Protected Material Code", COMPLETION, _W, "Protected material: code", "Prot. code", "protected"),
    _c("Profanity", PROMPT, _W, "Profanity (prompt)", "Profanity in", "profanity"),
    _c("Profanity", COMPLETION, _W, "Profanity (completion)", "Profanity out", "profanity"),
)
CONTROL_BY_KEY: dict[tuple[str, str], ControlDef] = {c.key: c for c in CATALOGUE}

#: Filter-name spellings seen across api-versions and the raiContentFilters list, mapped to the REST name.
_NAME_ALIASES = {
    "selfharm": "Selfharm",
    "self-harm": "Selfharm",
    "self_harm": "Selfharm",
    "hate": "Hate",
    "sexual": "Sexual",
    "violence": "Violence",
    "jailbreak": "Jailbreak",
    "indirect attack": "Indirect Attack",
    "indirectattack": "Indirect Attack",
    "indirect attack spotlighting": "Indirect Attack Spotlighting",
    "protected material text": "Protected Material Text",
    "protectedmaterialtext": "Protected Material Text",
    "protected material code": "Protected Material Code",
    "protectedmaterialcode": "Protected Material Code",
    "profanity": "Profanity",
}


def canonical_filter_name(name: str) -> str:
    """The REST name for a filter, or ``name`` unchanged when unknown (kept, never dropped)."""
    return _NAME_ALIASES.get(name.strip().lower(), name)


def canonical_source(source: object) -> str:
    text = str(source or "").strip().lower()
    if text == "prompt":
        return PROMPT
    if text == "completion":
        return COMPLETION
    return str(source or "")


class CellState(enum.IntEnum):
    """What a control does. The value orders strictness: sorting ascending puts the weakest first."""

    NOT_SET = 0  #: no filter with this (name, source) and nothing inherited
    OFF = 1  #: explicitly ``enabled: false``
    ANNOTATE = 2  #: enabled, ``blocking: false``: flagged, not blocked
    BLOCK = 3  #: enabled and blocking


@dataclass(frozen=True, slots=True, eq=False)
class ContentFilter:
    """One ``contentFilters[]`` entry, normalised. ``raw`` keeps the original for re-derivation.

    Compared and hashed by identity: the normaliser shares one object per distinct setting, so
    guardrail fingerprints (frozensets of these) hash in C instead of field by field (measured: a
    third of deriving the rows of 100,000 deployments). Equal but unshared objects only cost a cache
    miss. Compare settings field by field where that matters.
    """

    name: str
    source: str
    enabled: bool | None
    blocking: bool | None
    threshold: Severity | None
    raw_threshold: str | None = None  #: the word as sent, also for unknown levels
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)

    @property
    def key(self) -> tuple[str, str]:
        return (self.name, self.source)


@dataclass(frozen=True, slots=True)
class Cell:
    """One control's effective state on one guardrail."""

    state: CellState
    threshold: Severity | None = None
    raw_threshold: str | None = None  #: an unknown level as sent ("VeryHigh"): kept and shown
    inherited: bool = False  #: comes from the base policy / the account default, not set explicitly
    severity_control: bool = True

    @property
    def strictness(self) -> int:
        """A sortable rank: not set < off < annotate < blocks ≥ High < ≥ Medium < ≥ Low."""
        if self.state is not CellState.BLOCK:
            return int(self.state) * 10
        if not self.severity_control:
            return 60
        if self.threshold is None:
            return 25  # blocking at a level we do not know: above annotate, below any known level
        return 30 + int(self.threshold) * 10

    @property
    def text(self) -> str:
        if self.state is CellState.NOT_SET:
            base = "Not set"
        elif self.state is CellState.OFF:
            base = "Off"
        elif self.state is CellState.ANNOTATE:
            base = "Annotate only"
        elif not self.severity_control:
            base = "Blocks"
        elif self.threshold is not None:
            base = f"Blocks ≥ {self.threshold.rest}"
        elif self.raw_threshold:
            base = f"Blocks ≥ {self.raw_threshold} (unknown level)"
        else:
            base = "Blocks (no threshold)"
        return f"{base} (inherited)" if self.inherited else base

    @property
    def explanation(self) -> str:
        """A sentence for tooltips: what is let through."""
        if self.state is CellState.NOT_SET:
            return "No filter is configured for this control, and the base policy does not set one."
        if self.state is CellState.OFF:
            return "The filter is explicitly turned off: nothing is detected or blocked."
        if self.state is CellState.ANNOTATE:
            return "Content is detected and annotated, but nothing is blocked."
        if not self.severity_control:
            return "Detected content is blocked."
        if self.threshold is Severity.LOW:
            return "Blocks low, medium and high severity content (strictest)."
        if self.threshold is Severity.MEDIUM:
            return "Blocks medium and high severity content; low severity passes."
        if self.threshold is Severity.HIGH:
            return "Blocks only high severity content; low and medium pass."
        return "Blocks at a severity level fcdesk does not know: check the guardrail in Azure."


def cell_of(flt: ContentFilter | None, *, severity_control: bool, inherited: bool = False) -> Cell:
    """The cell a content filter entry produces (``None``: not set)."""
    if flt is None:
        return Cell(CellState.NOT_SET, severity_control=severity_control)
    if flt.enabled is False:
        state = CellState.OFF
    elif flt.blocking is False:
        state = CellState.ANNOTATE
    elif flt.enabled is None and flt.blocking is None:
        state = CellState.NOT_SET
    else:
        state = CellState.BLOCK
    return Cell(
        state,
        flt.threshold if severity_control else None,
        flt.raw_threshold if severity_control and flt.threshold is None else None,
        inherited,
        severity_control,
    )


class GuardrailType(enum.StrEnum):
    SYSTEM = "SystemManaged"
    USER = "UserManaged"


@dataclass(frozen=True, slots=True)
class Blocklist:
    name: str
    source: str
    blocking: bool | None


@dataclass(slots=True, eq=False)
class Guardrail:
    """A RAI policy as defined (account-level, or a system default)."""

    id: str  #: ARM id; for system policies ``system:<name>``
    name: str
    account_id: str | None
    type: GuardrailType
    mode: Mode | None
    raw_mode: str | None
    base_policy_name: str | None
    filters: dict[tuple[str, str], ContentFilter]
    blocklists: tuple[Blocklist, ...] = ()
    unknown: bool = False  #: a system name we do not know the contents of

    @property
    def is_system(self) -> bool:
        return self.type is GuardrailType.SYSTEM

    def known_filters(self) -> Iterable[ContentFilter]:
        return (f for k, f in self.filters.items() if k in CONTROL_BY_KEY)

    def other_filters(self) -> list[ContentFilter]:
        """Filters whose name fcdesk does not know: shown, never dropped."""
        return [f for k, f in self.filters.items() if k not in CONTROL_BY_KEY]


def _sys_filter(name: str, source: str, threshold: Severity | None) -> ContentFilter:
    return ContentFilter(name, source, True, True, threshold, threshold.rest if threshold else None)


def _system(name: str, filters: list[ContentFilter]) -> Guardrail:
    return Guardrail(
        id=f"system:{name}",
        name=name,
        account_id=None,
        type=GuardrailType.SYSTEM,
        mode=Mode.DEFAULT,
        raw_mode="Default",
        base_policy_name=None,
        filters={f.key: f for f in filters},
    )


_HARMS = ("Hate", "Sexual", "Violence", "Selfharm")
DEFAULT_V2 = "Microsoft.DefaultV2"
DEFAULT_V1 = "Microsoft.Default"
#: The account default applied to a deployment with no ``raiPolicyName``.
ACCOUNT_DEFAULT = DEFAULT_V2

#: System policies with their documented contents. They cannot be edited.
SYSTEM_GUARDRAILS: dict[str, Guardrail] = {
    DEFAULT_V2: _system(
        DEFAULT_V2,
        [_sys_filter(h, s, Severity.MEDIUM) for h in _HARMS for s in (PROMPT, COMPLETION)]
        + [
            _sys_filter("Jailbreak", PROMPT, None),
            _sys_filter("Protected Material Text", COMPLETION, None),
            _sys_filter("Protected Material Code", COMPLETION, None),
        ],
    ),
    DEFAULT_V1: _system(
        DEFAULT_V1, [_sys_filter(h, s, Severity.MEDIUM) for h in _HARMS for s in (PROMPT, COMPLETION)]
    ),
}


def system_guardrail(name: str) -> Guardrail | None:
    for key, rail in SYSTEM_GUARDRAILS.items():
        if key.lower() == name.lower():
            return rail
    if name.lower().startswith("microsoft."):
        # A system policy we do not know the contents of: keep the name, claim nothing.
        return Guardrail(
            id=f"system:{name}",
            name=name,
            account_id=None,
            type=GuardrailType.SYSTEM,
            mode=None,
            raw_mode=None,
            base_policy_name=None,
            filters={},
            unknown=True,
        )
    return None


class GuardrailOrigin(enum.Enum):
    CUSTOM = "custom"  #: a RAI policy defined on the account
    SYSTEM = "system"  #: a system default named explicitly (Microsoft.DefaultV2, ...)
    ACCOUNT_DEFAULT = "account-default"  #: no raiPolicyName: the account default applies
    MISSING = "missing"  #: raiPolicyName names a policy that is not on the account (or not fetched)


@dataclass(slots=True, eq=False)
class EffectiveGuardrail:
    """What actually applies to a deployment: the explicit filters over the base policy's.

    Shared between all deployments that resolve to the same guardrail, so cells and evaluations
    are computed once per guardrail, not once per deployment.
    """

    key: str  #: stable identity for caches: guardrail id, or ``default:`` / ``missing:<name>``
    origin: GuardrailOrigin
    name: str  #: what to show in the Guardrail column
    guardrail: Guardrail | None
    mode: Mode | None
    raw_mode: str | None
    filters: dict[tuple[str, str], ContentFilter]  #: effective filters incl. inherited ones
    inherited: frozenset[tuple[str, str]]
    note: str = ""
    cells: tuple[Cell, ...] = ()  #: one per CATALOGUE entry
    #: What the guardrail *does*, independent of its name: equal fingerprints evaluate and display
    #: alike, so evaluations and cells are cached per fingerprint (100,000 deployments share a few
    #: dozen distinct configurations).
    fingerprint: tuple[object, ...] = ()

    @property
    def mode_label(self) -> str:
        if self.mode is None:
            return "Not set"
        if self.mode is Mode.UNKNOWN:
            return f"{self.raw_mode} (unknown)"
        return self.mode.label

    def cell(self, key: tuple[str, str]) -> Cell:
        return self.cells[_CATALOGUE_INDEX[key]]

    @property
    def has_any_filtering(self) -> bool:
        """Whether any known control does anything at all (annotate or block)."""
        return any(c.state >= CellState.ANNOTATE for c in self.cells)


_CATALOGUE_INDEX = {c.key: i for i, c in enumerate(CATALOGUE)}


def resolve_effective(
    origin: GuardrailOrigin,
    name: str,
    guardrail: Guardrail | None,
    *,
    key: str,
    note: str = "",
) -> EffectiveGuardrail:
    """Overlay a guardrail's explicit filters on its base policy's, and compute its cells."""
    filters: dict[tuple[str, str], ContentFilter] = {}
    inherited: set[tuple[str, str]] = set()
    mode: Mode | None = None
    raw_mode: str | None = None
    if guardrail is not None:
        base = system_guardrail(guardrail.base_policy_name) if guardrail.base_policy_name else None
        if base is not None and origin is GuardrailOrigin.CUSTOM:
            filters.update(base.filters)
            inherited.update(base.filters)
            mode, raw_mode = base.mode, base.raw_mode
        for k, flt in guardrail.filters.items():
            filters[k] = flt
            inherited.discard(k)
        if guardrail.mode is not None:
            mode, raw_mode = guardrail.mode, guardrail.raw_mode
    if origin is GuardrailOrigin.ACCOUNT_DEFAULT:
        inherited = set(filters)
    fingerprint = (mode, raw_mode, frozenset(filters.values()), frozenset(inherited))
    cells = _CELLS_CACHE.get(fingerprint)
    if cells is None:
        cells = tuple(
            cell_of(
                filters.get(c.key),
                severity_control=c.kind is ControlKind.SEVERITY,
                inherited=c.key in inherited,
            )
            for c in CATALOGUE
        )
        if len(_CELLS_CACHE) < _CACHE_LIMIT:
            _CELLS_CACHE[fingerprint] = cells
    return EffectiveGuardrail(
        key=key,
        origin=origin,
        name=name,
        guardrail=guardrail,
        mode=mode,
        raw_mode=raw_mode,
        filters=filters,
        inherited=frozenset(inherited),
        note=note,
        cells=cells,
        fingerprint=fingerprint,
    )


_CACHE_LIMIT = 50_000
_CELLS_CACHE: dict[tuple[object, ...], tuple[Cell, ...]] = {}


#: What Microsoft's default (DefaultV2) gives each control: a cell weaker than this is a *gap*.
BASELINE: tuple[Cell, ...] = resolve_effective(
    GuardrailOrigin.SYSTEM, DEFAULT_V2, SYSTEM_GUARDRAILS[DEFAULT_V2], key="baseline"
).cells


def gap_columns(eff: EffectiveGuardrail) -> tuple[int, ...]:
    """Indexes into CATALOGUE of the controls weaker than Microsoft's default."""
    return tuple(
        i
        for i, (cell, base) in enumerate(zip(eff.cells, BASELINE, strict=True))
        if base.state is not CellState.NOT_SET and cell.strictness < base.strictness
    )
