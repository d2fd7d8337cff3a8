"""A table model over plain row objects, described by a list of :class:`Column`.

* DisplayRole returns formatted text; :data:`SORT_ROLE` returns the column's *native* sort key
  (strictness rank, datetime, int), never the display text.
* :data:`ROW_ROLE` returns the row object itself, so a view can map a proxy selection back to it.
* ``data()`` stays cheap: it only calls the column's small accessor. Sort keys and search text are
  computed once per column per :meth:`RowTableModel.set_rows` and cached for the proxy.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QFont

R = TypeVar("R")

SORT_ROLE = int(Qt.ItemDataRole.UserRole) + 1  #: native sort key of a cell
ROW_ROLE = int(Qt.ItemDataRole.UserRole) + 2  #: the row object behind a cell

_Index = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True, slots=True)
class Column(Generic[R]):
    header: str
    text: Callable[[R], str]
    sort_key: Callable[[R], Any] | None = None  #: native key; default: the text, case-folded
    tooltip: Callable[[R], str] | None = None
    background: Callable[[R], QColor | None] | None = None
    foreground: Callable[[R], QColor | None] | None = None
    italic: Callable[[R], bool] | None = None
    bold: Callable[[R], bool] | None = None
    header_tooltip: str = ""
    align_center: bool = False
    searchable: bool = True  #: included in the text filter
    width: int | None = None  #: preferred initial width in pixels


def plain_tooltip(text: str | None) -> str | None:
    """Tooltip text shown literally: Qt would render a tooltip that *looks* like HTML as rich text.

    Names from Azure are data, never markup, so tooltips are always escaped and wrapped.
    """
    if not text:
        return None
    return "<qt>" + html.escape(text).replace("\n", "<br>") + "</qt>"


def _none_last(key: Any) -> tuple[bool, Any]:
    return (key is None, key if key is not None else 0)


class RowTableModel(QAbstractTableModel, Generic[R]):
    """Rows of ``R`` shown through ``columns``. Replace rows only through :meth:`set_rows`."""

    def __init__(self, columns: Sequence[Column[R]], parent: Any = None) -> None:
        super().__init__(parent)
        self._columns: tuple[Column[R], ...] = tuple(columns)
        self._rows: list[R] = []
        self._sort_cache: dict[int, list[Any]] = {}
        self._search: list[str] | None = None
        self._italic = QFont()
        self._italic.setItalic(True)
        self._bold = QFont()
        self._bold.setBold(True)

    # ------------------------------------------------------------------ data API used by views/proxy

    @property
    def columns(self) -> tuple[Column[R], ...]:
        return self._columns

    def set_rows(self, rows: Sequence[R]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self._sort_cache.clear()
        self._search = None
        self.endResetModel()

    def rows(self) -> list[R]:
        return self._rows

    def row_at(self, row: int) -> R:
        return self._rows[row]

    def refresh_rows(self) -> None:
        """The row objects changed in place: drop caches and repaint everything."""
        self._sort_cache.clear()
        self._search = None
        if self._rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._rows) - 1, len(self._columns) - 1))

    def sort_keys(self, column: int) -> list[Any]:
        keys = self._sort_cache.get(column)
        if keys is None:
            col = self._columns[column]
            if col.sort_key is not None:
                fn = col.sort_key
                keys = [_none_last(fn(r)) for r in self._rows]
            else:
                text = col.text
                keys = [text(r).casefold() for r in self._rows]
            self._sort_cache[column] = keys
        return keys

    def search_texts(self) -> list[str]:
        if self._search is None:
            cols = [c.text for c in self._columns if c.searchable]
            self._search = ["\x1f".join(fn(r) for fn in cols).casefold() for r in self._rows]
        return self._search

    # ------------------------------------------------------------------ Qt model contract

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 (Qt signature)
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._columns)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        r, c = index.row(), index.column()
        if r >= len(self._rows) or c >= len(self._columns):
            return None
        row, col = self._rows[r], self._columns[c]
        if role == Qt.ItemDataRole.DisplayRole:
            return col.text(row)
        if role == SORT_ROLE:
            return self.sort_keys(c)[r]
        if role == ROW_ROLE:
            return row
        if role == Qt.ItemDataRole.ToolTipRole:
            return plain_tooltip(col.tooltip(row)) if col.tooltip else None
        if role == Qt.ItemDataRole.BackgroundRole and col.background:
            color = col.background(row)
            return QBrush(color) if color is not None else None
        if role == Qt.ItemDataRole.ForegroundRole and col.foreground:
            color = col.foreground(row)
            return QBrush(color) if color is not None else None
        if role == Qt.ItemDataRole.FontRole:
            if col.bold and col.bold(row):
                return self._bold
            if col.italic and col.italic(row):
                return self._italic
            return None
        if role == Qt.ItemDataRole.TextAlignmentRole and col.align_center:
            return int(Qt.AlignmentFlag.AlignCenter)
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(self._columns):
            return None
        col = self._columns[section]
        if role == Qt.ItemDataRole.DisplayRole:
            return col.header
        if role == Qt.ItemDataRole.ToolTipRole:
            return plain_tooltip(col.header_tooltip or col.header)
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
