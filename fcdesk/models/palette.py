"""Colours for cell states: a second cue beside the text, never the only one.

Light and dark variants; views pick one from the application palette and pass it in.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QColor

from fcdesk.core.guardrails import Cell, CellState, Severity


@dataclass(frozen=True, slots=True)
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
    return DARK if dark else LIGHT
