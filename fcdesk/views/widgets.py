"""Small building blocks shared by the tabs: tables, filter bar, banners, plain-text labels, write gates.

Everything that shows a name from Azure shows it as plain text: ``QLabel`` guesses rich text from
content, so every label here is forced to ``Qt.PlainText``.
"""

from __future__ import annotations

import base64
import binascii
import enum
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from PySide6.QtCore import QByteArray, QEvent, QItemSelectionModel, QModelIndex, QPoint, Qt, QUrl, Signal
from PySide6.QtGui import (
    QAction,
    QContextMenuEvent,
    QDesktopServices,
    QGuiApplication,
    QKeyEvent,
    QKeySequence,
    QPalette,
    QShowEvent,
)
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

from fcdesk.core.portal import PortalLink
from fcdesk.models.proxy import FastSortFilterProxy
from fcdesk.models.table import ROW_ROLE, RowTableModel, plain_tooltip
from fcdesk.models.workspace import CHECKING_REASON, POLICY_RIGHTS, WorkspaceContext
from fcdesk.views.theme import palette_is_dark

log = logging.getLogger(__name__)


class PlainLabel(QLabel):
    """A label that never interprets its text as HTML, and whose text can be selected and copied.

    ``muted``: secondary text in the palette's placeholder colour, kept in step when the
    application palette changes (a style sheet's ``palette(placeholder-text)`` is resolved once,
    so it stayed light-theme grey on a dark window).
    """

    def __init__(
        self, text: str = "", parent: QWidget | None = None, *, wrap: bool = True, muted: bool = False
    ) -> None:
        super().__init__(parent)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse | Qt.TextInteractionFlag.TextSelectableByKeyboard
        )
        self.setWordWrap(wrap)
        self._muted = muted
        if muted:
            self.setProperty("muted", True)
            self._mute()
        self.setText(text)

    def _mute(self) -> None:
        want = QGuiApplication.palette().color(QPalette.ColorRole.PlaceholderText)
        if self.palette().color(QPalette.ColorRole.WindowText) != want:  # no loop: acts once per switch
            pal = self.palette()
            pal.setColor(QPalette.ColorRole.WindowText, want)
            self.setPalette(pal)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt override
        if self._muted and event.type() in (QEvent.Type.ApplicationPaletteChange, QEvent.Type.PaletteChange):
            self._mute()
        super().changeEvent(event)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt override
        if self._muted:  # hidden widgets may miss the palette change
            self._mute()
        super().showEvent(event)


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


#: Opens a link in the user's browser (default ``QDesktopServices.openUrl``); injected so that tests
#: never start a browser.
OpenUrl = Callable[[QUrl], object]
#: ``factory(row_object)``: the context-menu action(s) a tab offers for a row, or None.
RowActionFactory = Callable[[Any], "QAction | Sequence[QAction] | None"]
#: A disabled menu entry says why in its text, cut to this many characters (in full in its tooltip).
MENU_REASON_CHARS = 60


def menu_text(text: str, reason: str | None = None) -> str:
    """A menu entry's text shown literally ("&" marks no mnemonic), with why it is disabled, if it is:
    "Edit policy… (Offline snapshot: sign in to make changes)"."""
    if reason:
        short = reason if len(reason) <= MENU_REASON_CHARS else reason[: MENU_REASON_CHARS - 1].rstrip() + "…"
        text = f"{text} ({short})"
    return text.replace("&", "&&")


def show_action_reason(action: QAction, reason: str | None) -> None:
    """Enable ``action``, or disable it with ``reason`` in its text, tooltip and status tip.

    The text without a reason is the action's ``baseText`` property (its first text when unset).
    """
    base = action.property("baseText")
    if not isinstance(base, str) or not base:
        base = action.text().replace("&&", "&")
        action.setProperty("baseText", base)
    action.setEnabled(reason is None)
    action.setText(menu_text(base, reason))
    tip = reason or action.property("enabledTip") or ""
    action.setToolTip(plain_tooltip(tip) or "")
    action.setStatusTip(tip)


class DataTable(QTableView):
    """A sortable, copyable table over a :class:`FastSortFilterProxy`, with a per-row context menu.

    The menu (right click, the Menu key or Shift+F10 on the current row) is built in one place,
    :meth:`build_context_menu`: Copy, Copy cell, "Copy ID"/"Copy IDs" and "Open in Azure portal" once
    :meth:`set_row_links` says what a row's id and portal link are, then what the tab adds through
    :meth:`add_context_action` (its write actions, gated like its buttons by :meth:`WriteGate.action`).

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
        # contextMenuEvent below: it tells a right click from the keyboard's menu request
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.DefaultContextMenu)
        self._extra_actions: list[RowActionFactory] = []
        self._row_id: Callable[[Any], str] | None = None
        self._portal_link: Callable[[Any], PortalLink] | None = None
        #: opens "Open in Azure portal" links; tests replace it so that no browser starts
        self.open_url: OpenUrl = QDesktopServices.openUrl
        self._open_menu: QMenu | None = None
        copy = QAction("Copy", self)
        copy.setShortcut(QKeySequence.StandardKey.Copy)
        copy.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        copy.triggered.connect(lambda: copy_rows_as_tsv(self))
        self.addAction(copy)
        self._copy_action = copy
        self.selectionModel().currentRowChanged.connect(self._on_current_changed)
        self.proxy.modelReset.connect(lambda: self.currentRowObjectChanged.emit(self.current_row_object()))

    # ------------------------------------------------------------------ context menu

    def add_context_action(self, factory: RowActionFactory) -> None:
        """Add per-row context menu entries: ``factory(row_object)`` returns an action, several, or None.

        Actions without a parent are given to the menu, and deleted with it.
        """
        self._extra_actions.append(factory)

    def set_row_links(
        self,
        row_id: Callable[[Any], str] | None,
        portal_link: Callable[[Any], PortalLink] | None = None,
        open_url: OpenUrl | None = None,
    ) -> None:
        """What "Copy ID" (a row's full ARM id) and "Open in Azure portal" use; None leaves them out."""
        self._row_id = row_id
        self._portal_link = portal_link
        if open_url is not None:
            self.open_url = open_url

    def row_ids(self, rows: Sequence[Any]) -> list[str]:
        """The rows' ids, in order, each once (an asset shows once per governing policy)."""
        if self._row_id is None:
            return []
        return list(dict.fromkeys(i for i in map(self._row_id, rows) if i))

    def build_context_menu(self, index: QModelIndex) -> QMenu | None:
        """The context menu of the row at ``index`` (a proxy index), not shown yet; None off the rows."""
        if not index.isValid():
            return None
        row = index.data(ROW_ROLE)
        menu = QMenu(self)
        menu.setObjectName("rowContextMenu")
        menu.setToolTipsVisible(True)  # a disabled entry's tooltip says why
        menu.addAction(self._copy_action)
        cell = str(index.data() or "")
        menu.addAction("Copy cell").triggered.connect(lambda: QGuiApplication.clipboard().setText(cell))
        if self._row_id is not None:
            self._add_copy_ids(menu, self._menu_rows(index.row()))
        if self._portal_link is not None and row is not None:
            self._add_portal_entries(menu, self._portal_link(row))
        extra = [act for factory in self._extra_actions for act in _as_actions(factory(row))]
        if extra:
            menu.addSeparator()
        for act in extra:
            if act.parent() is None:
                act.setParent(menu)
            menu.addAction(act)
        return menu

    def show_context_menu(self, index: QModelIndex, global_pos: QPoint) -> QMenu | None:
        """Build the row's menu and pop it up at ``global_pos`` (one menu at a time)."""
        if self._open_menu is not None:  # the platform may also send the Menu key as a context-menu event
            return None
        menu = self.build_context_menu(index)
        if menu is None:
            return None
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.aboutToHide.connect(self._context_menu_closed)
        # hidden without close() (e.g. by code) must free it too; deferred, so a trigger runs first
        menu.aboutToHide.connect(menu.deleteLater)
        self._open_menu = menu
        menu.popup(global_pos)
        return menu

    def show_context_menu_at_current(self) -> QMenu | None:
        """The keyboard's context menu: the current row's, at the current cell."""
        index = self.currentIndex()
        if not index.isValid():
            return None
        self.scrollTo(index)
        rect = self.visualRect(index).intersected(self.viewport().rect())
        pos = rect.center() if rect.isValid() else QPoint(0, 0)
        return self.show_context_menu(index, self.viewport().mapToGlobal(pos))

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:  # noqa: N802 - Qt override
        if event.reason() == QContextMenuEvent.Reason.Keyboard:
            self.show_context_menu_at_current()
        else:
            index = self.indexAt(self.viewport().mapFromGlobal(event.globalPos()))
            if index.isValid():
                self.show_context_menu(index, event.globalPos())
        event.accept()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        # Handled here rather than left to the platform: not every platform turns these keys into a
        # context-menu event (the offscreen one and X11 without a desktop do not).
        key, mods = event.key(), event.modifiers()
        if key == Qt.Key.Key_Menu or (key == Qt.Key.Key_F10 and mods == Qt.KeyboardModifier.ShiftModifier):
            event.accept()
            self.show_context_menu_at_current()
            return
        super().keyPressEvent(event)

    def _context_menu_closed(self) -> None:
        self._open_menu = None

    def _menu_rows(self, proxy_row: int) -> list[Any]:
        """What the id entries act on: the selection when the clicked row is in it, else that row."""
        rows = self._selected_proxy_rows()
        if proxy_row not in rows:
            rows = [proxy_row]
        return [self.proxy.row_object(r) for r in rows]

    def _selected_proxy_rows(self) -> list[int]:
        """Selected proxy rows in view order, read from the ranges (cheap after Ctrl+A)."""
        sel = self.selectionModel()
        rows: set[int] = set()
        for rng in sel.selection() if sel is not None else ():
            rows.update(range(rng.top(), rng.bottom() + 1))
        return sorted(r for r in rows if r < self.proxy.rowCount())

    def _add_copy_ids(self, menu: QMenu, rows: list[Any]) -> None:
        many = len(rows) > 1
        act = menu.addAction("Copy IDs" if many else "Copy ID")
        act.setObjectName("copyIdsAction" if many else "copyIdAction")
        ids = self.row_ids(rows)
        if not ids:
            show_action_reason(act, "Azure named no resource for it")
            return
        tip = f"The full Azure resource IDs of the {len(rows):,} selected rows, one per line"
        tip = tip if many else ids[0]
        act.setStatusTip(tip)
        act.setToolTip(plain_tooltip(tip) or "")
        act.triggered.connect(lambda: QGuiApplication.clipboard().setText("\n".join(ids)))

    def _add_portal_entries(self, menu: QMenu, link: PortalLink) -> None:
        menu.addSeparator()
        open_link = menu.addAction("Open in Azure portal")
        open_link.setObjectName("openInPortalAction")
        copy_link = menu.addAction("Copy portal link")
        copy_link.setObjectName("copyPortalLinkAction")
        for act in (open_link, copy_link):
            act.setProperty("url", link.url)
            if not link.url:
                show_action_reason(act, link.reason)
                continue
            act.setStatusTip(link.url)
            act.setToolTip(plain_tooltip(link.url) or "")
        url = link.url
        open_link.triggered.connect(lambda: self.open_url(QUrl(url)))
        copy_link.triggered.connect(lambda: QGuiApplication.clipboard().setText(url))

    # ------------------------------------------------------------------ view state

    def column_headers(self) -> list[str]:
        return [c.header for c in self.source_model.columns]

    def header_state(self) -> str:
        """The header's layout as base64 text (JSON-able): column widths, order and hidden columns, and
        the sort indicator."""
        return bytes(self.horizontalHeader().saveState().toBase64().data()).decode("ascii")

    def restore_header_state(self, text: str, columns: Sequence[str] | None = None) -> bool:
        """Restore a :meth:`header_state` and sort the rows as its indicator says.

        ``columns``: the headers the state was saved with. Qt restores a state into a table with
        more or fewer columns by position, which is right only when columns were added or removed
        at the end; any other change (or a foreign table's state) is refused, and a sort on a column
        that is gone leaves the table's own sort. Text that is not a header state, or one hiding
        every column, changes nothing. Returns whether it was applied.
        """
        if columns is not None and not _same_leading_columns(list(columns), self.column_headers()):
            log.debug("%s: header state of other columns ignored", self.objectName())
            return False
        try:
            raw = base64.b64decode(text.encode("ascii"), validate=True)
        except (AttributeError, UnicodeEncodeError, binascii.Error, ValueError):
            log.debug("%s: header state is not base64 text: ignored", self.objectName())
            return False
        header = self.horizontalHeader()
        before = header.saveState()
        sort_before = (header.sortIndicatorSection(), header.sortIndicatorOrder())
        if raw and raw == bytes(before.data()):  # as it is already: nothing to re-sort
            self._sort_as_indicated()
            return True
        if not raw or not header.restoreState(QByteArray(raw)):
            log.debug("%s: not a header state: ignored", self.objectName())
            return False
        if header.count() and header.hiddenSectionCount() >= header.count():
            log.debug("%s: header state hides every column: ignored", self.objectName())
            header.restoreState(before)
            self._sort_as_indicated()
            return False
        if header.sortIndicatorSection() >= header.count():  # sorted by a column that is gone
            header.setSortIndicator(*sort_before)
        self._sort_as_indicated()
        return True

    def view_state(self) -> dict[str, Any]:
        """The header state with the column headers it applies to (for :meth:`restore_view_state`)."""
        return {"header": self.header_state(), "columns": self.column_headers()}

    def restore_view_state(self, state: Mapping[str, Any]) -> bool:
        """Apply a :meth:`view_state`; anything malformed is ignored (logged at debug level)."""
        header, columns = state.get("header"), state.get("columns")
        if not isinstance(header, str) or not (
            isinstance(columns, list) and all(isinstance(c, str) for c in columns)
        ):
            log.debug("%s: malformed table state ignored", self.objectName())
            return False
        return self.restore_header_state(header, columns)

    def _sort_as_indicated(self) -> None:
        """Sort the proxy as the header's indicator says, once: restoring a state may not have."""
        header = self.horizontalHeader()
        wanted = (header.sortIndicatorSection(), header.sortIndicatorOrder())
        if 0 <= wanted[0] < header.count() and (self.proxy.sort_column(), self.proxy.sort_order()) != wanted:
            self.proxy.sort(*wanted)

    # ------------------------------------------------------------------ rows

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


def _as_actions(made: QAction | Sequence[QAction] | None) -> list[QAction]:
    if made is None:
        return []
    if isinstance(made, QAction):
        return [made]
    return [a for a in made if a is not None]


def _same_leading_columns(saved: list[str], current: list[str]) -> bool:
    """Whether a header state saved over ``saved`` columns fits ``current`` ones position by position:
    the same columns, or columns added or removed at the end only."""
    n = min(len(saved), len(current))
    return n > 0 and saved[:n] == current[:n]


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


_BANNER_STYLE = {  # (light, dark): tinted backgrounds with text at WCAG-AA contrast on each
    BannerKind.INFO: (
        "background:#e5effb; color:#14365c; border:1px solid #b6cdea;",
        "background:#1d2b3f; color:#d3e3fb; border:1px solid #34507a;",
    ),
    BannerKind.WARNING: (
        "background:#fff4d6; color:#5a4100; border:1px solid #ecd28a;",
        "background:#3a2f12; color:#f6e2a8; border:1px solid #6b5620;",
    ),
    BannerKind.ERROR: (
        "background:#fbe3e1; color:#6b1410; border:1px solid #efb7b2;",
        "background:#3f1d1b; color:#f7cdc9; border:1px solid #7a3430;",
    ),
}


class Banner(QFrame):
    """A one-line message above a table (plain text), with an optional action button.

    Its tint follows the application palette (light or dark): checked when shown, and on
    :meth:`restyle` (a widget with a style sheet gets no event when the application palette changes,
    so the window calls it when the appearance switches).
    """

    def __init__(self, kind: BannerKind = BannerKind.INFO, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind = kind
        # A property selector, not #objectName: callers may name the banner for tests and lookups.
        self.setProperty("bannerKind", kind.value)
        self._dark: bool | None = None
        self.restyle()
        lay = QHBoxLayout(self)
        lay.setContentsMargins(10, 6, 10, 6)
        self.label = PlainLabel("")
        lay.addWidget(self.label, 1)
        self.button: QPushButton | None = None
        self._action: Callable[[], None] | None = None
        self.setVisible(False)

    def show_message(self, text: str, action: tuple[str, Callable[[], None]] | None = None) -> None:
        self.restyle()
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

    def restyle(self) -> None:
        dark = palette_is_dark(QGuiApplication.palette())
        if dark == self._dark:  # only act on a real switch: re-setting a style sheet re-polishes
            return
        self._dark = dark
        self.setStyleSheet(
            f'QFrame[bannerKind="{self.kind.value}"] {{ {_BANNER_STYLE[self.kind][int(dark)]} border-radius:4px; }} '
            "QLabel { background: transparent; border: none; }"
        )

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt override
        self.restyle()
        super().showEvent(event)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt override
        if event.type() in (QEvent.Type.ApplicationPaletteChange, QEvent.Type.PaletteChange):
            self.restyle()
        super().changeEvent(event)


class WriteGate:
    """Keeps write buttons disabled, with the reason as tooltip and text, whenever writes are impossible.

    Context-menu entries made by :meth:`action` follow the same reasons, while their menu is open.
    """

    def __init__(self, context: WorkspaceContext, reason_label: QLabel | None = None) -> None:
        self._context = context
        self._buttons: list[tuple[QWidget | QAction, Callable[[], str | None] | None]] = []
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

    def action(
        self,
        text: str,
        trigger: Callable[[], object],
        extra_reason: Callable[[], str | None] | None = None,
        *,
        tip: str = "",
    ) -> QAction:
        """A context-menu twin of a gated button: enabled exactly when the button would be (for the
        row ``extra_reason`` looks at), else disabled with the reason in its text and tooltip.

        The action has no parent: the table gives it to the menu, and it leaves the gate when the
        menu is deleted.
        """
        act = QAction(menu_text(text))
        act.setProperty("baseText", text)
        act.setProperty("enabledTip", tip)
        act.triggered.connect(lambda _checked=False: trigger())
        self._buttons.append((act, extra_reason))
        act.destroyed.connect(lambda _=None, a=act: self.remove(a))
        self._apply(act, self.reason(extra_reason))
        return act

    def remove(self, widget: QWidget | QAction) -> None:
        self._buttons = [(w, r) for w, r in self._buttons if w is not widget]

    def reason(self, extra_reason: Callable[[], str | None] | None = None) -> str | None:
        """Why a write is unavailable: the context's reason first, then ``extra_reason``'s."""
        return self._context.write_disabled_reason or (extra_reason() if extra_reason else None)

    def update(self) -> None:
        base = self._context.write_disabled_reason
        for widget, extra in self._buttons:
            self._apply(widget, base or (extra() if extra else None))
        if self._label is not None:
            self._label.setText(base or "")
            self._label.setVisible(bool(base))

    @staticmethod
    def _apply(widget: QWidget | QAction, reason: str | None) -> None:
        if isinstance(widget, QAction):
            show_action_reason(widget, reason)
            return
        widget.setEnabled(reason is None)
        widget.setToolTip(reason or widget.property("enabledTip") or "")


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
