"""The drift table: one row per :class:`~fcdesk.core.drift.Change` between two snapshots.

Rows come in :meth:`Drift.ordered` order (loosenings first); sorting a column sorts by a native key
(the kind by :data:`~fcdesk.core.drift.KIND_ORDER`, so ascending still puts loosenings first).
Every kind has a word and a symbol as well as a colour, so colour is never the only cue, and every
name is plain text (item views never interpret it as markup).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Iterable
from typing import Any

from PySide6.QtGui import QColor

from fcdesk.core.drift import KIND_ORDER, Change, ChangeKind, Target
from fcdesk.core.text import EMPTY
from fcdesk.models.palette import StateColors
from fcdesk.models.table import Column, RowTableModel

#: Kinds in the order the view lists them (loosenings first), with their words and symbols.
KIND_WORD: dict[ChangeKind, str] = {
    ChangeKind.LOOSENED: "Loosened",
    ChangeKind.REMOVED: "Removed",
    ChangeKind.ADDED: "Added",
    ChangeKind.CHANGED: "Changed",
    ChangeKind.TIGHTENED: "Tightened",
}
KIND_SYMBOL: dict[ChangeKind, str] = {
    ChangeKind.LOOSENED: "▼",
    ChangeKind.REMOVED: "−",
    ChangeKind.ADDED: "+",
    ChangeKind.CHANGED: "~",
    ChangeKind.TIGHTENED: "▲",
}

KIND_EXPLAINED: dict[ChangeKind, str] = {
    ChangeKind.LOOSENED: "Weaker than before: a control blocks less, a protection was turned off, "
    "or a policy was relaxed.",
    ChangeKind.REMOVED: "Present in the older snapshot, gone from the newer one.",
    ChangeKind.ADDED: "New in the newer snapshot.",
    ChangeKind.CHANGED: "Different: a reassignment, a renamed or re-described policy, or a status that "
    "flipped (Azure's compliance verdict, a recommendation or an alert); its cause is listed separately.",
    ChangeKind.TIGHTENED: "Stricter than before.",
}

TARGET_TEXT: dict[Target, str] = {
    Target.DEPLOYMENT: "Deployment",
    Target.GUARDRAIL: "Guardrail",
    Target.POLICY: "Policy",
    Target.COMPLIANCE: "Compliance",
    Target.RECOMMENDATION: "Recommendation",
    Target.ALERT: "Alert",
    Target.PLAN: "Defender plan",
}

ABSENT = EMPTY  #: what a before/after that does not exist shows as


def kind_text(kind: ChangeKind) -> str:
    """``▼ Loosened``: the symbol and the word."""
    return f"{KIND_SYMBOL.get(kind, '•')} {KIND_WORD.get(kind, str(kind).capitalize())}"


def target_text(target: Target) -> str:
    return TARGET_TEXT.get(target, str(target).capitalize())


def kind_color(colors: StateColors, kind: ChangeKind) -> QColor | None:
    """Loosened red, tightened green, removed amber, added blue, changed grey: the text says it too."""
    return {
        ChangeKind.LOOSENED: colors.fail,
        ChangeKind.TIGHTENED: colors.ok,
        ChangeKind.REMOVED: colors.medium,
        ChangeKind.ADDED: colors.pending,
        ChangeKind.CHANGED: colors.not_set,
    }.get(kind)


def kind_counts(changes: Iterable[Change]) -> dict[ChangeKind, int]:
    """Changes per kind, every kind present (zero when none), in :data:`KIND_WORD` order."""
    counted = Counter(c.kind for c in changes)
    return {kind: counted.get(kind, 0) for kind in KIND_WORD}


def target_counts(changes: Iterable[Change]) -> dict[Target, int]:
    """Changes per target, only those with changes, in :data:`TARGET_TEXT` order."""
    counted = Counter(c.target for c in changes)
    return {target: counted[target] for target in TARGET_TEXT if counted.get(target)}


def change_filter(kinds: Collection[ChangeKind], target: Target | None) -> Callable[[Change], bool]:
    """A row predicate: the change is of one of ``kinds`` and (unless None) about ``target``."""
    wanted = frozenset(kinds)
    return lambda c: c.kind in wanted and (target is None or c.target == target)


def change_line(change: Change) -> str:
    """One plain line: ``Loosened · Deployment gpt-4o · Hate (prompt): Blocks ≥ Low → Off``."""
    what = f"{target_text(change.target)} {change.name}"
    control = f" · {change.control}" if change.control else ""
    values = ""
    if change.before is not None or change.after is not None:
        values = f": {change.before or ABSENT} → {change.after or ABSENT}"
    detail = f" ({change.detail})" if change.detail else ""
    return f"{KIND_WORD.get(change.kind, change.kind)} · {what}{control}{values}{detail}"


class DriftTableModel(RowTableModel[Change]):
    """Change, what, name, control, before, after, detail; the kind sorts loosenings first."""

    COL_KIND, COL_TARGET, COL_NAME, COL_CONTROL, COL_BEFORE, COL_AFTER, COL_DETAIL = range(7)

    def __init__(self, colors: StateColors, parent: Any = None) -> None:
        self._colors = colors
        super().__init__(
            [
                Column(
                    "Change",
                    lambda c: kind_text(c.kind),
                    sort_key=lambda c: KIND_ORDER.get(c.kind, len(KIND_ORDER)),
                    tooltip=lambda c: KIND_EXPLAINED.get(c.kind, ""),
                    background=lambda c: kind_color(self._colors, c.kind),
                    bold=lambda c: c.kind is ChangeKind.LOOSENED,
                    header_tooltip="Loosened changes come first: they are what a reviewer must see.",
                    width=110,
                ),
                Column("What", lambda c: target_text(c.target), width=95),
                Column("Name", lambda c: c.name or EMPTY, tooltip=lambda c: c.target_id, width=240),
                Column("Control", lambda c: c.control or EMPTY, tooltip=lambda c: c.control or "", width=180),
                Column(
                    "Before",
                    lambda c: ABSENT if c.before is None else c.before,
                    tooltip=lambda c: c.before or "",
                    width=125,
                ),
                Column(
                    "After",
                    lambda c: ABSENT if c.after is None else c.after,
                    tooltip=lambda c: c.after or "",
                    bold=lambda c: c.kind is ChangeKind.LOOSENED,
                    width=125,
                ),
                Column("Detail", lambda c: c.detail, tooltip=lambda c: c.detail),
            ],
            parent,
        )
