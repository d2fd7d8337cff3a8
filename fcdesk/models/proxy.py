"""A sort/filter proxy that stays fast at 100,000 rows.

``QSortFilterProxyModel`` calls ``lessThan``/``data`` from C++ once per comparison, which is millions
of Python calls on a large matrix. This proxy instead asks the source :class:`RowTableModel` for a
whole column of native sort keys (cached) and for the rows' search text, and sorts / filters the
row permutation with Python's list sort: tens of milliseconds at 100,000 rows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QAbstractProxyModel, QModelIndex, QPersistentModelIndex, Qt, Signal

from fcdesk.models.table import RowTableModel

_Index = QModelIndex | QPersistentModelIndex


class FastSortFilterProxy(QAbstractProxyModel):
    """Sorts by :data:`SORT_ROLE` keys and filters by text tokens and an optional row predicate.

    Signals:
        countChanged(int, int): visible rows, total rows (after any sort/filter/reset).
    """

    countChanged = Signal(int, int)

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._map: list[int] = []  # proxy row -> source row
        self._inv: list[int] = []  # source row -> proxy row (-1 hidden)
        self._tokens: tuple[str, ...] = ()
        self._predicate: Callable[[Any], bool] | None = None
        self._sort_column = -1
        self._sort_order = Qt.SortOrder.AscendingOrder

    # ------------------------------------------------------------------ configuration

    def source(self) -> RowTableModel[Any]:
        model = self.sourceModel()
        assert isinstance(model, RowTableModel)
        return model

    def setSourceModel(self, model: RowTableModel[Any]) -> None:  # type: ignore[override]
        old = self.sourceModel()
        if old is not None:
            old.modelReset.disconnect(self._on_source_reset)
            old.dataChanged.disconnect(self._on_source_data_changed)
        self.beginResetModel()
        super().setSourceModel(model)
        model.modelReset.connect(self._on_source_reset)
        model.dataChanged.connect(self._on_source_data_changed)
        self._rebuild()
        self.endResetModel()
        self._emit_count()

    def set_filter_text(self, text: str) -> None:
        tokens = tuple(t for t in text.casefold().split() if t)
        if tokens != self._tokens:
            self._tokens = tokens
            self._reset()

    def set_predicate(self, predicate: Callable[[Any], bool] | None) -> None:
        """A row filter on the row objects (e.g. "gaps only"); ``None`` removes it."""
        self._predicate = predicate
        self._reset()

    def sort_column(self) -> int:
        return self._sort_column

    def sort_order(self) -> Qt.SortOrder:
        return self._sort_order

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self._sort_column, self._sort_order = column, order
        if self.sourceModel() is None:
            return
        self.layoutAboutToBeChanged.emit()
        old_map = self._map
        persistent = self.persistentIndexList()
        src_rows = [old_map[p.row()] if 0 <= p.row() < len(old_map) else -1 for p in persistent]
        self._map = self._sorted(list(old_map))
        self._rebuild_inverse()
        new = [
            self.index(self._inv[s], p.column()) if s >= 0 and self._inv[s] >= 0 else QModelIndex()
            for p, s in zip(persistent, src_rows, strict=True)
        ]
        self.changePersistentIndexList(persistent, new)
        self.layoutChanged.emit()

    # ------------------------------------------------------------------ internals

    def _sorted(self, rows: list[int]) -> list[int]:
        src = self.source()
        if self._sort_column < 0 or self._sort_column >= src.columnCount():
            return rows
        keys = src.sort_keys(self._sort_column)
        rows.sort(key=keys.__getitem__, reverse=self._sort_order == Qt.SortOrder.DescendingOrder)
        return rows

    def _rebuild(self) -> None:
        src = self.sourceModel()
        if src is None:
            self._map, self._inv = [], []
            return
        assert isinstance(src, RowTableModel)
        rows = src.rows()
        candidates = range(len(rows))
        if self._predicate is not None:
            pred = self._predicate
            candidates = [i for i in candidates if pred(rows[i])]  # type: ignore[assignment]
        if self._tokens:
            texts = src.search_texts()
            toks = self._tokens
            if len(toks) == 1:
                (tok,) = toks
                candidates = [i for i in candidates if tok in texts[i]]  # type: ignore[assignment]
            else:
                candidates = [i for i in candidates if all(t in texts[i] for t in toks)]  # type: ignore[assignment]
        self._map = self._sorted(list(candidates))
        self._rebuild_inverse()

    def _rebuild_inverse(self) -> None:
        inv = [-1] * self.source().rowCount()
        for proxy_row, source_row in enumerate(self._map):
            inv[source_row] = proxy_row
        self._inv = inv

    def _reset(self) -> None:
        self.beginResetModel()
        self._rebuild()
        self.endResetModel()
        self._emit_count()

    def _emit_count(self) -> None:
        src = self.sourceModel()
        self.countChanged.emit(len(self._map), src.rowCount() if src is not None else 0)

    def _on_source_reset(self) -> None:
        self._reset()

    def _on_source_data_changed(self, top: QModelIndex, bottom: QModelIndex, roles: list[int] = ()) -> None:  # type: ignore[assignment]
        # Values may have changed: sort keys and search text are stale, so re-filter and re-sort.
        self._reset()

    # ------------------------------------------------------------------ Qt proxy contract

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._map)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        src = self.sourceModel()
        return 0 if parent.isValid() or src is None else src.columnCount()

    def index(self, row: int, column: int, parent: _Index = QModelIndex()) -> QModelIndex:  # noqa: B008
        if parent.isValid() or not (0 <= row < len(self._map)) or not (0 <= column < self.columnCount()):
            return QModelIndex()
        return self.createIndex(row, column)

    def parent(self, index: _Index = QModelIndex()) -> QModelIndex:  # type: ignore[override]  # noqa: B008
        return QModelIndex()

    def sibling(self, row: int, column: int, idx: _Index) -> QModelIndex:
        return self.index(row, column)

    def hasChildren(self, parent: _Index = QModelIndex()) -> bool:  # noqa: B008
        return not parent.isValid() and bool(self._map)

    def mapToSource(self, proxy_index: _Index) -> QModelIndex:
        if not proxy_index.isValid() or proxy_index.row() >= len(self._map):
            return QModelIndex()
        return self.source().index(self._map[proxy_index.row()], proxy_index.column())

    def mapFromSource(self, source_index: _Index) -> QModelIndex:
        if not source_index.isValid() or source_index.row() >= len(self._inv):
            return QModelIndex()
        row = self._inv[source_index.row()]
        return self.index(row, source_index.column()) if row >= 0 else QModelIndex()

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal:
            src = self.sourceModel()
            return src.headerData(section, orientation, role) if src is not None else None
        if role == Qt.ItemDataRole.DisplayRole and 0 <= section < len(self._map):
            return str(section + 1)
        return None

    def row_object(self, proxy_row: int) -> Any:
        return self.source().row_at(self._map[proxy_row])

    def visible_rows(self) -> list[Any]:
        rows = self.source().rows()
        return [rows[i] for i in self._map]
