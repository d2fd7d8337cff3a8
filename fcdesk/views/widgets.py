"""Small building blocks shared by the tabs: tables, filter bar, banners, plain-text labels, write gates.

Everything that shows a name from Azure shows it as plain text: ``QLabel`` guesses rich text from
content, so every label here is forced to ``Qt.PlainText``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt, Signal
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
    QWizard,
)

from fcdesk.models.proxy import FastSortFilterProxy
from fcdesk.models.table import ROW_ROLE, RowTableModel, plain_tooltip
from fcdesk.models.workspace import CHECKING_REASON, POLICY_RIGHTS, WorkspaceContext


class PlainLabel(QLabel):
    """A label that never interprets its text as HTML, and whose text can be selected and copied."""

    def __init__(
        self, text: str = "", parent: QWidget | None = None, *, wrap: bool = True, muted: bool = False
    ) -> None:
        super().__init__(parent)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse | Qt.TextInteractionFlag.TextSelectableByKeyboard
        )
        self.setWordWrap(wrap)
        if muted:
            self.setProperty("muted", True)
            self.setStyleSheet("color: palette(placeholder-text);")
        self.setText(text)


def heading(text: str, level: int = 1) -> PlainLabel:
    label = PlainLabel(text, wrap=True)
    font = label.font()
    font.setPointSizeF(font.pointSizeF() * (1.35 if level == 1 else 1.1))
    font.setBold(True)
    label.setFont(font)
    return label


def copy_rows_as_tsv(view: QTableView, *, all_columns: bool = True) -> str:
    """Copy the selected rows (visible order) as tab-separated text with a header line.

    Reads the selection as ranges and the text straight from the row objects: walking
    ``selectedIndexes()`` and ``model.data`` cell by cell takes tens of seconds at 100,000 rows.
    """
    model = view.model()
    sel = view.selectionModel()
    if model is None or sel is None:
        return ""
    rows: list[int] = []
    for rng in sel.selection():
        rows.extend(range(rng.top(), rng.bottom() + 1))
    rows = sorted(set(rows))
    if not rows:
        return ""
    cols = [c for c in range(model.columnCount()) if all_columns and not view.isColumnHidden(c)]
    single = sel.selection()
    if len(rows) == 1 and len(single) == 1 and single[0].left() == single[0].right():
        text = str(model.data(model.index(rows[0], single[0].left())) or "")
    elif isinstance(model, FastSortFilterProxy):
        columns = model.source().columns
        getters = [columns[c].text for c in cols]
        header = "\t".join(columns[c].header for c in cols)
        text = "\n".join(
            [header] + ["\t".join(g(obj) for g in getters) for obj in map(model.row_object, rows)]
        )
    else:
        header = "\t".join(str(model.headerData(c, Qt.Orientation.Horizontal) or "") for c in cols)
        lines = [header] + ["\t".join(str(model.data(model.index(r, c)) or "") for c in cols) for r in rows]
        text = "\n".join(lines)
    QGuiApplication.clipboard().setText(text)
    return text


class DataTable(QTableView):
    """A sortable, copyable table over a :class:`FastSortFilterProxy`.

    Signals:
        currentRowObjectChanged(object): the row object under the current index (None when empty).
    """

    currentRowObjectChanged = Signal(object)

    def __init__(
        self, source: RowTableModel[Any], parent: QWidget | None = None, *, object_name: str = ""
    ) -> None:
        super().__init__(parent)
        if object_name:
            self.setObjectName(object_name)
        self.source_model = source
        self.proxy = FastSortFilterProxy(self)
        self.proxy.setSourceModel(source)
        self.setModel(self.proxy)
        # The header otherwise checks on every repaint whether whole columns are selected, which
        # scans every row: 10 s per repaint after Ctrl+A on 100,000 rows.
        self.horizontalHeader().setSelectionModel(QItemSelectionModel(self.proxy, self.horizontalHeader()))
        self.setSortingEnabled(True)
        self.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        vh = self.verticalHeader()
        vh.setVisible(False)
        vh.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vh.setDefaultSectionSize(self.fontMetrics().height() + 10)
        hh = self.horizontalHeader()
        hh.setSectionsMovable(True)
        hh.setHighlightSections(False)
        hh.setStretchLastSection(True)
        for i, col in enumerate(source.columns):
            if col.width:
                self.setColumnWidth(i, col.width)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._context_menu)
        self._extra_actions: list[Callable[[Any], QAction | None]] = []
        copy = QAction("Copy", self)
        copy.setShortcut(QKeySequence.StandardKey.Copy)
        copy.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        copy.triggered.connect(lambda: copy_rows_as_tsv(self))
        self.addAction(copy)
        self._copy_action = copy
        self.selectionModel().currentRowChanged.connect(self._on_current_changed)
        self.proxy.modelReset.connect(lambda: self.currentRowObjectChanged.emit(self.current_row_object()))

    def add_context_action(self, factory: Callable[[Any], QAction | None]) -> None:
        """Add a per-row context menu action; ``factory(row_object)`` returns it or None."""
        self._extra_actions.append(factory)

    def _context_menu(self, pos: Any) -> None:
        idx = self.indexAt(pos)
        if not idx.isValid():
            return
        menu = QMenu(self)
        menu.addAction(self._copy_action)
        copy_cell = menu.addAction("Copy cell")
        copy_cell.triggered.connect(lambda: QGuiApplication.clipboard().setText(str(idx.data() or "")))
        row = idx.data(ROW_ROLE)
        for factory in self._extra_actions:
            act = factory(row)
            if act is not None:
                menu.addAction(act)
        menu.popup(self.viewport().mapToGlobal(pos))

    def _on_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self.currentRowObjectChanged.emit(current.data(ROW_ROLE) if current.isValid() else None)

    def current_row_object(self) -> Any:
        idx = self.currentIndex()
        return idx.data(ROW_ROLE) if idx.isValid() else None

    def selected_row_objects(self) -> list[Any]:
        sel = self.selectionModel()
        rows = sorted({i.row() for i in sel.selectedRows()}) if sel else []
        return [self.proxy.row_object(r) for r in rows]

    def _first_visual_column(self) -> int:
        """The leftmost column as shown (sections may have been moved), so selecting never scrolls."""
        return max(self.horizontalHeader().logicalIndex(0), 0)

    def select_first_row(self) -> bool:
        if self.proxy.rowCount() == 0:
            return False
        idx = self.proxy.index(0, self._first_visual_column())
        self.selectionModel().setCurrentIndex(
            idx, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
        )
        return True

    def select_row_object(self, predicate: Callable[[Any], bool]) -> bool:
        for r in range(self.proxy.rowCount()):
            if predicate(self.proxy.row_object(r)):
                idx = self.proxy.index(r, self._first_visual_column())
                self.selectionModel().setCurrentIndex(
                    idx,
                    QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows,
                )
                self.scrollTo(idx)
                return True
        return False


class FilterBar(QWidget):
    """A filter field with a "shown of total" count. Emits ``textChanged`` on every keystroke."""

    textChanged = Signal(str)

    def __init__(self, placeholder: str = "Filter…", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.edit = QLineEdit(self)
        self.edit.setPlaceholderText(placeholder)
        self.edit.setClearButtonEnabled(True)
        self.edit.setAccessibleName("Filter rows")
        self.edit.textChanged.connect(self.textChanged)
        self.count = PlainLabel("", wrap=False, muted=True)
        lay.addWidget(self.edit, 1)
        lay.addWidget(self.count)

    def bind(self, table: DataTable) -> None:
        self.textChanged.connect(table.proxy.set_filter_text)
        table.proxy.countChanged.connect(self.show_count)
        self.show_count(table.proxy.rowCount(), table.source_model.rowCount())

    def show_count(self, shown: int, total: int) -> None:
        self.count.setText(f"{shown:,} of {total:,}" if shown != total else f"{total:,} rows")


class BannerKind(enum.Enum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


_BANNER_STYLE = {
    BannerKind.INFO: "background:#e5effb; color:#14365c; border:1px solid #b6cdea;",
    BannerKind.WARNING: "background:#fff4d6; color:#5a4100; border:1px solid #ecd28a;",
    BannerKind.ERROR: "background:#fbe3e1; color:#6b1410; border:1px solid #efb7b2;",
}


class Banner(QFrame):
    """A one-line message above a table (plain text), with an optional action button."""

    def __init__(self, kind: BannerKind = BannerKind.INFO, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind = kind
        # A property selector, not #objectName: callers may name the banner for tests and lookups.
        self.setProperty("bannerKind", kind.value)
        self.setStyleSheet(
            f'QFrame[bannerKind="{kind.value}"] {{ {_BANNER_STYLE[kind]} border-radius:4px; }} '
            "QLabel { background: transparent; border: none; }"
        )
        lay = QHBoxLayout(self)
        lay.setContentsMargins(10, 6, 10, 6)
        self.label = PlainLabel("")
        lay.addWidget(self.label, 1)
        self.button: QPushButton | None = None
        self._action: Callable[[], None] | None = None
        self.setVisible(False)

    def show_message(self, text: str, action: tuple[str, Callable[[], None]] | None = None) -> None:
        self.label.setText(text)
        if action is not None:
            if self.button is None:
                self.button = QPushButton(self)
                self.layout().addWidget(self.button)
            self.button.setText(action[0])
            if self._action is not None:
                self.button.clicked.disconnect(self._action)
            self._action = action[1]
            self.button.clicked.connect(self._action)
            self.button.setVisible(True)
        elif self.button is not None:
            self.button.setVisible(False)
        self.setVisible(bool(text))

    def clear(self) -> None:
        self.label.setText("")
        self.setVisible(False)


class WriteGate:
    """Keeps write buttons disabled, with the reason as tooltip and text, whenever writes are impossible."""

    def __init__(self, context: WorkspaceContext, reason_label: QLabel | None = None) -> None:
        self._context = context
        self._buttons: list[tuple[QWidget, Callable[[], str | None] | None]] = []
        self._label = reason_label
        context.scopeChanged.connect(self.update)
        context.inventoryChanged.connect(self.update)
        context.rightsChanged.connect(self.update)

    def add(self, widget: QWidget, extra_reason: Callable[[], str | None] | None = None) -> QWidget:
        """``extra_reason`` adds a per-selection reason (e.g. "Select a policy first")."""
        self._buttons.append((widget, extra_reason))
        widget.destroyed.connect(lambda _=None, w=widget: self.remove(w))
        self.update()
        return widget

    def remove(self, widget: QWidget) -> None:
        self._buttons = [(w, r) for w, r in self._buttons if w is not widget]

    def update(self) -> None:
        base = self._context.write_disabled_reason
        for widget, extra in self._buttons:
            reason = base or (extra() if extra else None)
            widget.setEnabled(reason is None)
            widget.setToolTip(reason or widget.property("enabledTip") or "")
        if self._label is not None:
            self._label.setText(base or "")
            self._label.setVisible(bool(base))


def create_reason(context: WorkspaceContext) -> str | None:
    """Why "Create policy…" is unavailable: the caller may create guardrail policies on none of the
    subscriptions in view, nor on any resource group in them that holds a Foundry account (a role
    given on one resource group shows only there). The wizard checks the scope finally chosen."""
    inv = context.inventory
    subs = context.scope.subscriptions or {s.lower() for s in inv.subscriptions}
    if not subs:
        return "No subscription in hand: sign in and refresh first"
    reasons = [context.rights_reason(POLICY_RIGHTS, f"/subscriptions/{sub}") for sub in sorted(subs)]
    if any(r is None for r in reasons):
        return None
    if CHECKING_REASON in reasons:
        return CHECKING_REASON
    groups = sorted(
        {
            f"/subscriptions/{a.subscription_id}/resourceGroups/{a.resource_group}".lower()
            for a in inv.accounts.values()
            if a.subscription_id.lower() in subs
        }
    )
    rg_reasons = [context.rights_reason(POLICY_RIGHTS, rg) for rg in groups]
    if any(r is None for r in rg_reasons):
        return None
    if CHECKING_REASON in rg_reasons:
        return CHECKING_REASON
    return reasons[0]


class PlainWizard(QWizard):
    """A QWizard in which nothing is markup: names from Azure show as typed, ``<b>`` included.

    QWizard creates its title and subtitle labels as pages show, with ``Qt.AutoText``: they are
    switched to plain text on every page change.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.currentIdChanged.connect(lambda _id: self._plain_labels())

    def _plain_labels(self) -> None:
        for label in self.findChildren(QLabel):
            if label.textFormat() != Qt.TextFormat.PlainText:
                label.setTextFormat(Qt.TextFormat.PlainText)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        self._plain_labels()


def write_button(text: str, tip: str = "") -> QPushButton:
    btn = QPushButton(text)
    btn.setProperty("enabledTip", tip)
    return btn


class SegmentedToggle(QWidget):
    """Exclusive checkable buttons that look like one control (the Policy/Assets toggle)."""

    changed = Signal(int)

    def __init__(self, labels: Sequence[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        self.group = QButtonGroup(self)
        self.group.setExclusive(True)
        self.buttons: list[QToolButton] = []
        for i, label in enumerate(labels):
            b = QToolButton(self)
            b.setText(label)
            b.setCheckable(True)
            b.setAutoRaise(False)
            b.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
            b.setMinimumWidth(90)
            self.group.addButton(b, i)
            lay.addWidget(b)
            self.buttons.append(b)
        self.buttons[0].setChecked(True)
        self.group.idClicked.connect(self.changed)

    def set_current(self, index: int) -> None:
        self.buttons[index].setChecked(True)

    def current(self) -> int:
        return self.group.checkedId()


def set_form_rows(form: QFormLayout, rows: Sequence[tuple[str, ...]]) -> None:
    """Replace a form's rows: ``(key, value)`` or ``(key, value, tooltip)``, all plain text."""
    while form.rowCount():
        form.removeRow(0)
    for row in rows:
        value = PlainLabel(row[1])
        if len(row) > 2 and row[2]:
            value.setToolTip(plain_tooltip(row[2]))
        form.addRow(PlainLabel(row[0], muted=True), value)  # keys wrap too: long ones must not squeeze values


def form_box() -> tuple[QWidget, QFormLayout]:
    """A key/value form for a detail pane; a row whose key and value cannot share a line wraps."""
    box = QWidget()
    form = QFormLayout(box)
    form.setContentsMargins(0, 0, 0, 0)
    form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft)
    form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
    form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
    return box, form


class DetailPanel(QScrollArea):
    """A scrollable detail pane: a title, key/value rows and free sections, all plain text."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._new_body()
        self.placeholder("Select a row to see its details.")

    def _new_body(self) -> None:
        # A fresh body per rebuild: emptying and refilling one layout left word-wrapped labels
        # with stale heights (clipped text) until the next resize.
        self._body = QWidget()
        self._layout = QVBoxLayout(self._body)
        self._layout.setContentsMargins(12, 12, 12, 12)
        self._layout.setSpacing(8)
        self.setWidget(self._body)  # deletes the previous body

    def clear(self) -> None:
        self._new_body()

    def placeholder(self, text: str) -> None:
        self.clear()
        self._layout.addWidget(PlainLabel(text, muted=True))
        self._layout.addStretch(1)

    def add_title(self, text: str, subtitle: str = "") -> None:
        self._layout.addWidget(heading(text))
        if subtitle:
            self._layout.addWidget(PlainLabel(subtitle, muted=True))

    def add_fields(self, pairs: Sequence[tuple[str, str]]) -> QFormLayout:
        box, form = form_box()
        set_form_rows(form, pairs)
        self._layout.addWidget(box)
        return form

    def add_section(self, title: str) -> None:
        self._layout.addWidget(heading(title, level=2))

    def add_text(self, text: str, *, muted: bool = False) -> PlainLabel:
        label = PlainLabel(text, muted=muted)
        self._layout.addWidget(label)
        return label

    def add_widget(self, widget: QWidget, stretch: int = 0) -> None:
        self._layout.addWidget(widget, stretch)

    def finish(self) -> None:
        self._layout.addStretch(1)
