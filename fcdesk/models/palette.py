"""Colours for cell states: a second cue beside the text, never the only one.

Light and dark variants. The window holds ONE mutable :class:`StateColors` (from :func:`colors_for`)
and hands it to every model and view; when the appearance changes (the system switches to dark, or
View → Appearance), :meth:`StateColors.use` rewrites it in place, so models that read it in
``data()`` paint the new colours on the next repaint without being rebuilt. ``LIGHT`` and ``DARK``
are the values; never modify them.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from PySide6.QtGui import QColor

from fcdesk.core.guardrails import Cell, CellState, Severity


@dataclass(slots=True, eq=False)
class StateColors:
    not_set: QColor
    off: QColor
    annotate: QColor
    block_high: QColor
    block_medium: QColor
    block_low: QColor
    fail: QColor
    ok: QColor
    pending: QColor
    high: QColor
    medium: QColor
    low: QColor

    def cell(self, cell: Cell) -> QColor:
        if cell.state is CellState.NOT_SET:
            return self.not_set
        if cell.state is CellState.OFF:
            return self.off
        if cell.state is CellState.ANNOTATE:
            return self.annotate
        if cell.threshold is Severity.HIGH:
            return self.block_high
        if cell.threshold is Severity.LOW or not cell.severity_control:
            return self.block_low
        return self.block_medium

    def use(self, other: StateColors) -> None:
        """Take every colour of ``other`` (a theme switch: this object is shared by the models)."""
        for f in fields(self):
            setattr(self, f.name, QColor(getattr(other, f.name)))

    @property
    def dark(self) -> bool:
        """Whether these are the dark variant's colours (cells are darker than mid-grey)."""
        return self.not_set.lightness() < 128

    def severity(self, word: str) -> QColor | None:
        return {"high": self.high, "medium": self.medium, "low": self.low}.get(word.lower())


LIGHT = StateColors(
    not_set=QColor("#e3e3e8"),
    off=QColor("#f6c9c6"),
    annotate=QColor("#fbe3b4"),
    block_high=QColor("#e4f1d2"),
    block_medium=QColor("#cde8c4"),
    block_low=QColor("#b3dcb8"),
    fail=QColor("#f6c9c6"),
    ok=QColor("#cde8c4"),
    pending=QColor("#dfe6f3"),
    high=QColor("#f6c9c6"),
    medium=QColor("#fbe3b4"),
    low=QColor("#dfe6f3"),
)

DARK = StateColors(
    not_set=QColor("#3a3a40"),
    off=QColor("#6b2b2b"),
    annotate=QColor("#6b5120"),
    block_high=QColor("#34482a"),
    block_medium=QColor("#2c5a33"),
    block_low=QColor("#21663b"),
    fail=QColor("#6b2b2b"),
    ok=QColor("#2c5a33"),
    pending=QColor("#2e3a52"),
    high=QColor("#6b2b2b"),
    medium=QColor("#6b5120"),
    low=QColor("#2e3a52"),
)


def colors_for(dark: bool) -> StateColors:
    """A fresh, private copy of the light or dark colours (see :meth:`StateColors.use`)."""
    return replace(DARK if dark else LIGHT)
