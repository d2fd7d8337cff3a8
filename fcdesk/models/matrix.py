"""The guardrail comparison matrix: one row per deployment, one column per control.

Everything a control column shows depends only on the deployment's :class:`EffectiveGuardrail`,
and many deployments share one. So texts, sort keys and colours are computed once per effective
guardrail (:class:`GuardrailFacts`, by ``eff.key``) and once per distinct configuration of cells
(:class:`CellsView`), cached until the rows are replaced; column accessors only index into them,
and tooltips are built on hover. A 100,000-row matrix sorts a column in tens of milliseconds.

Text is the primary cue and colour a second one: a cell always *says* what it does ("Blocks ≥
Medium", "Annotate only", "Off", "Not set", with "(inherited)" when it comes from the base policy
or the account default). A cell weaker than Microsoft's default (a *gap*) is bold and says so in
its tooltip; its text is unchanged so it still sorts, filters and copies by the state word.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from fcdesk.core.guardrails import (
    BASELINE,
    CATALOGUE,
    DEFAULT_V2,
    Cell,
    CellState,
    ContentFilter,
    ControlDef,
    ControlKind,
    EffectiveGuardrail,
    GuardrailOrigin,
    Mode,
    cell_of,
)
from fcdesk.core.inventory import MatrixRow
from fcdesk.models.palette import StateColors
from fcdesk.models.table import Column, RowTableModel

#: Columns before the first control column (Subscription … Mode).
CONTROL_COLUMN_OFFSET = 8
_CONTROL_INDEX = {c.key: i for i, c in enumerate(CATALOGUE)}

NAME_WIDTH = 150
CONTROL_WIDTH = 122  #: fits "Blocks ≥ Medium" in the default font


def column_for_control(key: tuple[str, str]) -> int:
    """The model column of a catalogue control, by ``(name, source)``; ``KeyError`` if unknown."""
    return CONTROL_COLUMN_OFFSET + _CONTROL_INDEX[key]


# ------------------------------------------------------------------------------ pure formatting


def _strip_inherited(text: str) -> str:
    return text.removesuffix(" (inherited)")


def weaker_than_default(index: int, cell: Cell) -> bool:
    """Whether ``cell`` (of CATALOGUE[index]) is weaker than Microsoft's default: a gap."""
    base = BASELINE[index]
    return base.state is not CellState.NOT_SET and cell.strictness < base.strictness


def cell_tooltip(index: int, cell: Cell, eff: EffectiveGuardrail) -> str:
    """What the cell lets through, where it comes from, and how it compares with Microsoft's default."""
    ctl = CATALOGUE[index]
    lines = [f"{ctl.label}: {cell.text}", cell.explanation]
    if cell.inherited:
        if eff.origin is GuardrailOrigin.ACCOUNT_DEFAULT:
            lines.append("Not set on the deployment: the account default guardrail applies.")
        else:
            base = eff.guardrail.base_policy_name if eff.guardrail is not None else None
            lines.append(
                f"Inherited from the base policy {base}." if base else "Inherited from the base policy."
            )
    base_cell = BASELINE[index]
    base_text = _strip_inherited(base_cell.text)
    if base_cell.state is CellState.NOT_SET:
        lines.append(f"Microsoft's default ({DEFAULT_V2}) does not set this control.")
    elif weaker_than_default(index, cell):
        lines.append(f"Gap: weaker than Microsoft's default ({DEFAULT_V2}: {base_text}).")
    elif cell.strictness == base_cell.strictness:
        lines.append(f"Same as Microsoft's default ({DEFAULT_V2}: {base_text}).")
    else:
        lines.append(f"Stricter than Microsoft's default ({DEFAULT_V2}: {base_text}).")
    return "\n".join(lines)


def control_header_tooltip(ctl: ControlDef) -> str:
    index = _CONTROL_INDEX[ctl.key]
    if ctl.kind is ControlKind.SEVERITY:
        states = (
            "Blocks ≥ Low: blocks low, medium and high severity (strictest)\n"
            "Blocks ≥ Medium: blocks medium and high; low passes\n"
            "Blocks ≥ High: blocks only high; low and medium pass\n"
        )
    else:
        states = "Blocks: detected content is blocked\n"
    base_cell = BASELINE[index]
    default = (
        f"Microsoft's default ({DEFAULT_V2}): {_strip_inherited(base_cell.text)}."
        if base_cell.state is not CellState.NOT_SET
        else f"Microsoft's default ({DEFAULT_V2}) does not set this control."
    )
    return (
        f"{ctl.label} ({ctl.name}, {ctl.source.lower()})\n\n"
        f"{states}"
        "Annotate only: detected and flagged, nothing blocked\n"
        "Off: explicitly turned off\n"
        "Not set: no filter, and the base policy sets none\n"
        "(inherited): comes from the base policy or the account default\n\n"
        f"{default} Bold cells are weaker than that default.\n"
        "Sorting ascending puts the weakest first."
    )


def guardrail_tooltip(eff: EffectiveGuardrail) -> str:
    if eff.note:
        return eff.note
    if eff.origin is GuardrailOrigin.CUSTOM and eff.guardrail is not None:
        base = eff.guardrail.base_policy_name
        based = f"based on {base}" if base else "with no base policy"
        return f"Custom guardrail defined on the account, {based}."
    return eff.name


_MODE_TIPS = {
    Mode.DEFAULT: "Default: content is filtered before it is returned.",
    Mode.ASYNC: "Asynchronous filter (streaming): completions stream back before the filters judge them, "
    "so filtered content can be shown briefly. The weakest mode.",
    Mode.BLOCKING: "Blocking: content is held until the filters have judged it.",
}


def mode_sort_key(eff: EffectiveGuardrail) -> int:
    """Weakest first; a guardrail with no mode at all sorts before every known mode."""
    return eff.mode.strictness if eff.mode is not None else -1


def mode_tooltip(eff: EffectiveGuardrail) -> str:
    if eff.mode is None:
        return "No mode is set on this guardrail or its base policy."
    if eff.mode is Mode.UNKNOWN:
        return f"A mode fcdesk does not know: {eff.raw_mode}."
    tip = _MODE_TIPS[eff.mode]
    if eff.raw_mode and eff.raw_mode.lower() == "deferred":
        tip += " (Sent as 'Deferred' by an older api-version.)"
    return tip


def blocklists_text(eff: EffectiveGuardrail) -> str:
    """``"2 (prompt, completion)"`` or ``"None"``."""
    lists = eff.guardrail.blocklists if eff.guardrail is not None else ()
    if not lists:
        return "None"
    sources: list[str] = []
    for bl in lists:
        word = bl.source.lower() if bl.source else "unknown source"
        if word not in sources:
            sources.append(word)
    return f"{len(lists)} ({', '.join(sources)})"


def blocklists_tooltip(eff: EffectiveGuardrail) -> str:
    lists = eff.guardrail.blocklists if eff.guardrail is not None else ()
    if not lists:
        return "No custom blocklists on this guardrail."
    lines = ["Custom blocklists:"]
    for bl in lists:
        action = {True: "blocking", False: "annotate only", None: "blocking not set"}[bl.blocking]
        lines.append(f"{bl.name or '(unnamed)'}: {bl.source or 'unknown source'}, {action}")
    return "\n".join(lines)


def other_filters(eff: EffectiveGuardrail) -> list[tuple[ContentFilter, Cell]]:
    """Filters whose name fcdesk does not know (kept and shown, never dropped), with their cells."""
    out = []
    for key, flt in eff.filters.items():
        if key in _CONTROL_INDEX:
            continue
        severity = flt.threshold is not None or flt.raw_threshold is not None
        out.append((flt, cell_of(flt, severity_control=severity, inherited=key in eff.inherited)))
    return out


def other_filter_label(flt: ContentFilter) -> str:
    return f"{flt.name} ({flt.source})" if flt.source else flt.name


def other_filters_text(eff: EffectiveGuardrail) -> str:
    """``"Ungrounded Material (Completion): Blocks ≥ Low"``, joined with "; ", or "—" when none."""
    parts = [f"{other_filter_label(flt)}: {cell.text}" for flt, cell in other_filters(eff)]
    return "; ".join(parts) if parts else "—"


# ------------------------------------------------------------------------------ per-guardrail facts


class CellsView:
    """Texts, sort keys, colours and italics of one tuple of cells.

    Shared by every effective guardrail with the same cells (content, not identity): a tenant with
    thousands of guardrails has few distinct configurations, and ``Cell.text`` is the costly part.
    """

    __slots__ = ("texts", "keys", "colors", "inherited", "joined")

    def __init__(self, cells: tuple[Cell, ...], colors: StateColors) -> None:
        self.texts = tuple(c.text for c in cells)
        self.joined = "\x1f".join(self.texts)
        self.keys = tuple(c.strictness for c in cells)
        self.colors = tuple(colors.cell(c) for c in cells)
        self.inherited = tuple(c.inherited for c in cells)


class GuardrailFacts:
    """What the matrix shows about one effective guardrail, computed once per ``eff.key``.

    Tooltips are not cached: they are built on hover, for one cell at a time.
    """

    __slots__ = ("eff", "view", "blocklists", "blocklists_key", "other", "other_key", "_search")

    def __init__(self, eff: EffectiveGuardrail, view: CellsView) -> None:
        self.eff = eff
        self.view = view
        lists = eff.guardrail.blocklists if eff.guardrail is not None else ()
        self.blocklists = blocklists_text(eff) if lists else "None"
        self.blocklists_key = len(lists)
        self.other = other_filters_text(eff)
        self.other_key = (0, "") if self.other == "—" else (self.other.count("; ") + 1, self.other.casefold())
        self._search: str | None = None

    @property
    def search(self) -> str:
        """The guardrail half of a row's filter text (not case-folded)."""
        if self._search is None:
            eff = self.eff
            self._search = "\x1f".join(
                (eff.name, eff.mode_label, *self.view.texts, self.blocklists, self.other)
            )
        return self._search


# ------------------------------------------------------------------------------ the model


class MatrixModel(RowTableModel[MatrixRow]):
    """The Guardrails matrix over :class:`MatrixRow` (``Inventory.matrix_rows(scope)``).

    Args:
        colors: cell-state colours (light or dark), injected by the view.

    Column order: Subscription, Resource group, Account, Project(s), Deployment, Model, Guardrail,
    Mode, then one column per :data:`CATALOGUE` control (:data:`CONTROL_COLUMN_OFFSET` onwards),
    then Blocklists and Other filters.
    """

    def __init__(self, colors: StateColors, parent: Any = None) -> None:
        self._colors = colors
        self._facts: dict[str, GuardrailFacts] = {}
        self._views: dict[tuple[Cell, ...], CellsView] = {}
        self._row_search: list[str] | None = None
        super().__init__(self._build_columns(), parent)
        self.blocklists_column = CONTROL_COLUMN_OFFSET + len(CATALOGUE)
        self.other_filters_column = self.blocklists_column + 1

    # ------------------------------------------------------------------ facts cache

    def facts(self, eff: EffectiveGuardrail) -> GuardrailFacts:
        """The cached texts/keys/colours of one effective guardrail.

        Keyed by ``eff.key``: the same key always resolves to the same content (a custom guardrail's
        id, or a system guardrail shared by many accounts). Cleared whenever the rows are replaced.
        """
        f = self._facts.get(eff.key)
        if f is None:
            cells = eff.cells
            view = self._views.get(cells)
            if view is None:
                view = self._views[cells] = CellsView(cells, self._colors)
            f = self._facts[eff.key] = GuardrailFacts(eff, view)
        return f

    def _clear_caches(self) -> None:
        self._facts = {}
        self._views = {}
        self._row_search = None

    def set_rows(self, rows: Sequence[MatrixRow]) -> None:
        self._clear_caches()
        super().set_rows(rows)

    def refresh_rows(self) -> None:
        self._clear_caches()
        super().refresh_rows()

    def set_colors(self, colors: StateColors) -> None:
        """Switch light/dark cell colours (repaints the control columns)."""
        self._colors = colors
        self._clear_caches()
        n = self.rowCount()
        if n:
            first = self.index(0, CONTROL_COLUMN_OFFSET)
            last = self.index(n - 1, CONTROL_COLUMN_OFFSET + len(CATALOGUE) - 1)
            self.dataChanged.emit(first, last, [Qt.ItemDataRole.BackgroundRole])

    def search_texts(self) -> list[str]:
        """Same content as the base class (every searchable column, case-folded), built faster.

        Each row's text is four case-folded parts, three of them shared: the deployment name, the
        location (per account), the model (per name and version) and the guardrail (per
        ``eff.key``). Tokens never contain the "\\x1f" separator (``str.split()`` splits on it).
        """
        if self._row_search is None:
            facts = self._facts
            get_facts = self.facts
            places: dict[str, str] = {}
            models: dict[tuple[str, str], str] = {}
            rails: dict[str, str] = {}
            out: list[str] = []
            append = out.append
            for r in self._rows:
                dep = r.deployment
                eff = r.effective
                place = places.get(dep.account_id)
                if place is None:
                    parts = (r.subscription_name, dep.resource_group, dep.account_name, r.projects or "—")
                    place = places[dep.account_id] = "\x1f".join(parts).casefold()
                mkey = (dep.model_name, dep.model_version)
                model = models.get(mkey)
                if model is None:
                    model = models[mkey] = dep.model_label.casefold()
                rail = rails.get(eff.key)
                if rail is None:
                    f = facts.get(eff.key) or get_facts(eff)
                    rail = rails[eff.key] = f.search.casefold()
                append("\x1f".join((dep.name.casefold(), place, model, rail)))
            self._row_search = out
        return self._row_search

    # ------------------------------------------------------------------ columns

    def _build_columns(self) -> list[Column[MatrixRow]]:
        facts = self.facts
        cols: list[Column[MatrixRow]] = [
            Column(
                "Subscription",
                lambda r: r.subscription_name,
                tooltip=lambda r: f"{r.subscription_name}\n{r.deployment.subscription_id}",
                width=NAME_WIDTH,
            ),
            Column("Resource group", lambda r: r.deployment.resource_group, width=130),
            Column(
                "Account",
                lambda r: r.deployment.account_name,
                tooltip=lambda r: r.deployment.account_id,
                header_tooltip="The Foundry resource (Cognitive Services account) the deployment belongs to.",
                width=NAME_WIDTH,
            ),
            Column(
                "Project(s)",
                lambda r: r.projects or "—",
                tooltip=lambda r: r.projects or "The account has no projects.",
                header_tooltip="Projects of the deployment's account: deployments belong to the account, "
                "so every project on it can use them.",
                width=NAME_WIDTH,
            ),
            Column(
                "Deployment", lambda r: r.deployment.name, tooltip=lambda r: r.deployment.id, width=NAME_WIDTH
            ),
            Column(
                "Model",
                lambda r: r.deployment.model_label,
                tooltip=lambda r: _model_tip(r),
                width=130,
            ),
            Column(
                "Guardrail",
                lambda r: r.effective.name,
                tooltip=lambda r: guardrail_tooltip(r.effective),
                italic=lambda r: r.effective.origin is GuardrailOrigin.ACCOUNT_DEFAULT,
                header_tooltip="The guardrail (RAI policy) the deployment uses. Italic: none is set, so the "
                "account default applies.",
                width=170,
            ),
            Column(
                "Mode",
                lambda r: r.effective.mode_label,
                sort_key=lambda r: mode_sort_key(r.effective),
                tooltip=lambda r: mode_tooltip(r.effective),
                header_tooltip="Guardrail mode. Sorting ascending puts the weakest first: asynchronous "
                "(streaming) filtering lets content through before it is judged.",
                width=150,
            ),
        ]
        assert len(cols) == CONTROL_COLUMN_OFFSET
        for i, ctl in enumerate(CATALOGUE):
            cols.append(self._control_column(i, ctl))
        cols.append(
            Column(
                "Blocklists",
                lambda r: facts(r.effective).blocklists,
                sort_key=lambda r: facts(r.effective).blocklists_key,
                tooltip=lambda r: blocklists_tooltip(r.effective),
                header_tooltip="Custom blocklists on the guardrail: how many, and on which side.",
                width=120,
            )
        )
        cols.append(
            Column(
                "Other filters",
                lambda r: facts(r.effective).other,
                sort_key=lambda r: facts(r.effective).other_key,
                tooltip=lambda r: facts(r.effective).other,
                header_tooltip="Filters fcdesk does not know by name (newer api-versions): "
                "kept and shown as sent.",
                width=200,
            )
        )
        return cols

    def _control_column(self, i: int, ctl: ControlDef) -> Column[MatrixRow]:
        facts = self.facts
        return Column(
            ctl.short,
            lambda r: facts(r.effective).view.texts[i],
            sort_key=lambda r: facts(r.effective).view.keys[i],
            tooltip=lambda r: cell_tooltip(i, r.effective.cells[i], r.effective),
            background=lambda r: facts(r.effective).view.colors[i],
            italic=lambda r: facts(r.effective).view.inherited[i],
            bold=lambda r: i in r.gaps,
            header_tooltip=control_header_tooltip(ctl),
            width=CONTROL_WIDTH,
        )

    def cell_color(self, row: MatrixRow, index: int) -> QColor:
        return self.facts(row.effective).view.colors[index]


def _model_tip(r: MatrixRow) -> str:
    dep = r.deployment
    parts = [dep.model_label]
    if dep.model_format:
        parts.append(f"Format: {dep.model_format}")
    if dep.sku_name:
        parts.append(
            f"SKU: {dep.sku_name}"
            + (f", capacity {dep.sku_capacity}" if dep.sku_capacity is not None else "")
        )
    return "\n".join(parts)
