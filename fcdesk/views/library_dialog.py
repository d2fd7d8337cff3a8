"""The snapshot library browser (File → Snapshot library…): every capture kept on this computer.

One row per ``.fcsnap`` file of the library: capture time, tenant, cloud, scopes, counts, complete
or partial, label, source, size; unreadable files are listed too (so they can be deleted). From
here a snapshot is opened, labelled, exported, deleted, imported or compared with another one (two
selected → Compare…, or one → Compare with previous). The retention rule (keep the newest N of each
tenant and the newest of each week) is set here and can be applied at once, after a confirmation
that lists what would be deleted. The snapshot open in the window is never deleted.

Every file operation runs on a worker thread (``asyncio.to_thread``); dialogs are opened with
``open()``, never ``exec()``. Every name is plain text.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QAction, QColor, QDesktopServices, QKeySequence, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from fcdesk.core.records import Kind, Source
from fcdesk.core.text import EMPTY, as_of, format_utc, plural
from fcdesk.models.palette import StateColors, colors_for
from fcdesk.models.table import Column, RowTableModel
from fcdesk.store.library import LABEL_MAX, LibraryEntry, Retention, SnapshotLibrary, previous_entry
from fcdesk.store.snapshot import SUFFIX, SnapshotError
from fcdesk.views.drift_dialog import Side
from fcdesk.views.geometry import remember_geometry, restore_geometry
from fcdesk.views.widgets import Banner, BannerKind, DataTable, FilterBar, PlainLabel, heading

log = logging.getLogger(__name__)

EMPTY_LIBRARY = "No snapshots yet: sign in and refresh, or import a .fcsnap file."
SNAPSHOT_FILTER = f"fcdesk snapshots (*{SUFFIX});;All files (*)"
GEOMETRY_KEY = "libraryDialog/geometry"
OPEN_HERE = "This snapshot is open in the window"
_SOURCE_TEXT = {Source.LIVE: "Live capture", Source.DEMO: "Demo", Source.IMPORT: "Imported"}


class LibrarySettings(Protocol):
    """What the browser needs from the settings (``fcdesk.store.settings.Settings`` fits)."""

    def get(self, key: str, default: object = None) -> object: ...
    def set(self, key: str, value: object) -> None: ...
    def get_bytes(self, key: str) -> bytes | None: ...
    def set_bytes(self, key: str, value: bytes) -> None: ...
    def save(self) -> None: ...


def load_retention(settings: LibrarySettings | None) -> Retention:
    """The retention rule stored in ``settings`` (defaults without settings)."""
    return Retention.from_json(settings.get(Retention.SETTINGS_KEY) if settings is not None else None)


def human_size(size: int) -> str:
    """``812 KB``, ``14.2 MB``: a file size as people read it (1000-based, as file managers show it)."""
    if size < 1000:
        return f"{size} bytes"
    if size < 1000**2:
        return f"{size / 1000:.0f} KB"
    if size < 1000**3:
        return f"{size / 1000**2:.1f} MB"
    return f"{size / 1000**3:.1f} GB"


def entry_line(entry: LibraryEntry) -> str:
    """``2026-11-20 09:30 UTC · Contoso AI · “baseline” · 2026-11-20T093000Z-live.fcsnap``."""
    meta = entry.meta
    if meta is None:
        return f"{entry.path.name} (unreadable)"
    parts = [format_utc(meta.captured_at), meta.tenant_name or meta.tenant_id or "unknown tenant"]
    if meta.label:
        parts.append(f"“{meta.label}”")
    parts.append(entry.path.name)
    return " · ".join(parts)


@dataclass(frozen=True, slots=True)
class LibraryRow:
    """One file of the library, and whether it is the snapshot open in the window."""

    entry: LibraryEntry
    is_open: bool = False

    @property
    def state_text(self) -> str:
        meta = self.entry.meta
        if meta is None:
            return "Unreadable"
        if not meta.partial:
            return "Complete"
        if meta.label == "cancelled":
            return "Partial (cancelled)"
        return f"Partial ({plural(len(meta.errors), 'error')})" if meta.errors else "Partial"

    @property
    def state_tooltip(self) -> str:
        meta = self.entry.meta
        if meta is None:
            return self.entry.error
        if not meta.partial:
            return "Every scope was read."
        lines = ["Some of the tenant could not be read:"] + [
            f"• {e.scope or 'tenant'}: {e.message}" for e in meta.errors[:20]
        ]
        return "\n".join(lines)

    @property
    def tenant_text(self) -> str:
        meta = self.entry.meta
        return (meta.tenant_name or meta.tenant_id or EMPTY) if meta is not None else EMPTY

    @property
    def source_text(self) -> str:
        meta = self.entry.meta
        return _SOURCE_TEXT.get(meta.source, str(meta.source)) if meta is not None else EMPTY

    def count(self, kind: Kind) -> int | None:
        return self.entry.counts.get(kind) if self.entry.ok else None


class LibraryModel(RowTableModel[LibraryRow]):
    """Captured, tenant, cloud, scopes, deployments, state, label, source, size, file."""

    def __init__(self, colors: StateColors, parent: Any = None) -> None:
        self._colors = colors
        super().__init__(
            [
                Column(
                    "",
                    lambda r: "● Open" if r.is_open else "",
                    sort_key=lambda r: not r.is_open,
                    tooltip=lambda r: OPEN_HERE if r.is_open else "",
                    header_tooltip="The snapshot open in the window",
                    bold=lambda r: r.is_open,
                    searchable=False,
                    width=64,
                ),
                Column(
                    "Captured",
                    lambda r: format_utc(r.entry.meta.captured_at) if r.entry.meta else EMPTY,
                    sort_key=lambda r: r.entry.meta.captured_at.timestamp() if r.entry.meta else None,
                    tooltip=lambda r: as_of(r.entry.meta.captured_at) if r.entry.meta else "",
                    bold=lambda r: r.is_open,
                    width=165,
                ),
                Column(
                    "Tenant",
                    lambda r: r.tenant_text,
                    tooltip=lambda r: r.entry.meta.tenant_id if r.entry.meta else "",
                    width=160,
                ),
                Column("Cloud", lambda r: r.entry.meta.cloud if r.entry.meta else EMPTY, width=60),
                Column(
                    "Scopes",
                    lambda r: plural(len(r.entry.meta.scopes), "subscription") if r.entry.meta else EMPTY,
                    sort_key=lambda r: len(r.entry.meta.scopes) if r.entry.meta else None,
                    tooltip=lambda r: "\n".join(r.entry.meta.scopes) if r.entry.meta else "",
                    width=115,
                ),
                Column(
                    "Deployments",
                    lambda r: _number(r.count(Kind.DEPLOYMENT)),
                    sort_key=lambda r: r.count(Kind.DEPLOYMENT),
                    tooltip=_counts_tooltip,
                    header_tooltip="Model deployments in the snapshot (hover a cell for every count)",
                    searchable=False,
                    width=95,
                ),
                Column(
                    "State",
                    lambda r: r.state_text,
                    tooltip=lambda r: r.state_tooltip,
                    background=self._state_color,
                    width=120,
                ),
                Column(
                    "Label",
                    lambda r: r.entry.meta.label if r.entry.meta else "",
                    tooltip=lambda r: r.entry.meta.label if r.entry.meta else "",
                    width=180,
                ),
                Column(
                    "Source",
                    lambda r: r.source_text,
                    width=90,
                ),
                Column("Size", lambda r: human_size(r.entry.size), sort_key=lambda r: r.entry.size, width=70),
                Column("File", lambda r: r.entry.path.name, tooltip=lambda r: str(r.entry.path)),
            ],
            parent,
        )

    def _state_color(self, row: LibraryRow) -> QColor | None:
        if row.entry.meta is None:
            return self._colors.fail
        return self._colors.medium if row.entry.meta.partial else None


def _number(value: int | None) -> str:
    return EMPTY if value is None else f"{value:,}"


#: What the counts of a snapshot are called, in the order listed (other kinds are not listed).
_COUNTED = (
    (Kind.SUBSCRIPTION, "subscription"),
    (Kind.ACCOUNT, "account"),
    (Kind.PROJECT, "project"),
    (Kind.DEPLOYMENT, "deployment"),
    (Kind.RAI_POLICY, "guardrail"),
    (Kind.POLICY_ASSIGNMENT, "policy assignment"),
    (Kind.POLICY_STATE, "policy state"),
    (Kind.ASSESSMENT, "recommendation"),
    (Kind.ALERT, "alert"),
)


def counts_text(entry: LibraryEntry, separator: str = " · ") -> str:
    """``3 subscriptions · 8 accounts · 40 deployments · 14 guardrails · …`` (plain words)."""
    counts = entry.counts
    return separator.join(plural(counts[kind], word) for kind, word in _COUNTED if counts.get(kind))


def _counts_tooltip(row: LibraryRow) -> str:
    return counts_text(row.entry, "\n") if row.entry.ok else ""


class LibraryDialog(QDialog):
    """The snapshot library. Non-modal: ``show()``/``open()``, never ``exec()``.

    Args:
        library: the folder shown.
        open_path: the path of the snapshot open in the window (None: none from a file); never deleted.
        settings: the retention rule and the dialog's geometry (optional).

    Signals:
        loaded(int): the listing was (re)read: the number of files.
        openRequested(object): open this snapshot (a ``Path``) in the window.
        compareRequested(object, object): compare two snapshots (two :class:`Side`, older first).
        labelChanged(object, str): a snapshot (``Path``) got a new label.
        finishedOperation(str): a file operation ended (the message shown).
        retentionChanged(object): the rule (a :class:`Retention`) was changed.

    Object names: ``libraryDialog``, ``libraryTable``, ``libraryFilter``, ``libraryEmpty``,
    ``libraryMessage``, ``libraryError``, ``libraryBusy``, ``openButton``, ``compareButton``,
    ``previousButton``, ``labelButton``, ``exportButton``, ``deleteButton``, ``importButton``,
    ``retentionEnabled``, ``retentionKeep``, ``retentionWeekly``, ``applyRetention``.
    """

    loaded = Signal(int)
    openRequested = Signal(object)
    compareRequested = Signal(object, object)
    labelChanged = Signal(object, str)
    finishedOperation = Signal(str)
    retentionChanged = Signal(object)

    def __init__(
        self,
        library: SnapshotLibrary,
        parent: QWidget | None = None,
        *,
        open_path: Callable[[], Path | None] = lambda: None,
        settings: LibrarySettings | None = None,
        colors: StateColors | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("libraryDialog")
        self.setWindowTitle("Snapshot library")
        self.setModal(False)
        self.library = library
        self._open_path = open_path
        self._settings = settings
        if colors is None:
            colors = colors_for(self.palette().color(QPalette.ColorRole.Window).lightness() < 128)
        self.model = LibraryModel(colors, self)
        self._tasks: set[asyncio.Future[Any]] = set()
        self._busy = 0
        self._closing = False
        self._select_after: Path | None = None

        title = heading("Snapshot library")
        self.root_label = PlainLabel(str(library.root), wrap=False, muted=True)
        self.root_label.setObjectName("libraryRoot")
        self.folder_button = QPushButton("Open &folder", self)
        self.folder_button.setObjectName("openFolderButton")
        self.folder_button.setToolTip("Show the library folder in the file manager.")
        self.folder_button.clicked.connect(self.open_folder)
        top = QHBoxLayout()
        top.addWidget(title)
        top.addWidget(self.root_label, 1)
        top.addWidget(self.folder_button)

        self.filter_bar = FilterBar("Filter by tenant, label, file…", self)
        self.filter_bar.setObjectName("libraryFilter")
        self.message = Banner(BannerKind.INFO, self)
        self.message.setObjectName("libraryMessage")
        self.error_banner = Banner(BannerKind.ERROR, self)
        self.error_banner.setObjectName("libraryError")

        self.table = DataTable(self.model, self, object_name="libraryTable")
        self.table.setAccessibleName("Snapshots in the library")
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.filter_bar.bind(self.table)
        self.empty_state = PlainLabel("Reading the library…", muted=True)
        self.empty_state.setObjectName("libraryEmpty")
        self.empty_state.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.empty_state)
        self.stack.addWidget(self.table)

        self.open_button = self._button("&Open", "openButton", "Open the snapshot in the window (Enter).")
        self.compare_button = self._button(
            "&Compare…", "compareButton", "Show what changed between the two selected snapshots."
        )
        self.previous_button = self._button(
            "Compare with &previous",
            "previousButton",
            "Show what changed since the newest older snapshot of the same tenant.",
        )
        self.label_button = self._button("&Label…", "labelButton", "Edit the snapshot's label (F2).")
        self.export_button = self._button("E&xport…", "exportButton", "Save a copy of the snapshot file.")
        self.delete_button = self._button("&Delete…", "deleteButton", "Delete the selected snapshots (Del).")
        self.import_button = self._button("&Import…", "importButton", "Copy .fcsnap files into the library.")
        self.open_button.clicked.connect(self.open_selected)
        self.compare_button.clicked.connect(self.compare_selected)
        self.previous_button.clicked.connect(self.compare_with_previous)
        self.label_button.clicked.connect(self.edit_label)
        self.export_button.clicked.connect(self.choose_export)
        self.delete_button.clicked.connect(self.confirm_delete)
        self.import_button.clicked.connect(self.choose_import)
        actions = QHBoxLayout()
        for button in (self.open_button, self.compare_button, self.previous_button, self.label_button):
            actions.addWidget(button)
        actions.addStretch(1)
        for button in (self.import_button, self.export_button, self.delete_button):
            actions.addWidget(button)

        splitter = QSplitter(Qt.Orientation.Vertical, self)
        splitter.setChildrenCollapsible(False)
        splitter.addWidget(self.stack)
        self.detail = PlainLabel("", muted=True)
        self.detail.setObjectName("libraryDetail")
        self.detail.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        splitter.addWidget(self.detail)
        splitter.setStretchFactor(0, 4)
        splitter.setStretchFactor(1, 1)

        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.filter_bar)
        lay.addWidget(self.message)
        lay.addWidget(self.error_banner)
        lay.addWidget(splitter, 1)
        lay.addLayout(actions)
        lay.addWidget(self._build_retention())
        bottom = QHBoxLayout()
        self.busy = QProgressBar(self)
        self.busy.setObjectName("libraryBusy")
        self.busy.setRange(0, 0)
        self.busy.setMaximumWidth(140)
        self.busy.setTextVisible(False)
        self.busy.setAccessibleName("Working")
        self.busy.setVisible(False)
        bottom.addWidget(self.busy)
        bottom.addStretch(1)
        close = QPushButton("Close", self)
        close.setAutoDefault(False)
        close.clicked.connect(self.close)
        bottom.addWidget(close)
        lay.addLayout(bottom)

        self._add_shortcut("Open snapshot", QKeySequence(Qt.Key.Key_Return), self.open_selected)
        self._add_shortcut("Open snapshot", QKeySequence(Qt.Key.Key_Enter), self.open_selected)
        self._add_shortcut("Edit label", QKeySequence(Qt.Key.Key_F2), self.edit_label)
        self._add_shortcut("Delete", QKeySequence.StandardKey.Delete, self.confirm_delete)
        self.table.doubleClicked.connect(lambda _index: self.open_selected())
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._update_buttons())
        self.table.currentRowObjectChanged.connect(lambda _row: self._update_buttons())

        self.resize(1180, 680)
        restore_geometry(self, settings, GEOMETRY_KEY)
        self._update_buttons()
        self.refresh()

    def _button(self, text: str, name: str, tip: str) -> QPushButton:
        button = QPushButton(text, self)
        button.setObjectName(name)
        button.setToolTip(tip)
        button.setProperty("enabledTip", tip)
        button.setAutoDefault(False)
        return button

    def _add_shortcut(self, text: str, keys: QKeySequence, slot: Callable[[], object]) -> None:
        action = QAction(text, self.table)
        action.setShortcut(keys)
        action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        action.triggered.connect(slot)
        self.table.addAction(action)

    def _build_retention(self) -> QGroupBox:
        box = QGroupBox("Retention", self)
        retention = load_retention(self._settings)
        self.retention_enabled = QCheckBox("Apply a&utomatically after each refresh:", box)
        self.retention_enabled.setObjectName("retentionEnabled")
        self.retention_enabled.setChecked(retention.enabled)
        self.retention_keep = QSpinBox(box)
        self.retention_keep.setObjectName("retentionKeep")
        self.retention_keep.setAccessibleName("Snapshots kept per tenant")
        self.retention_keep.setRange(Retention.MIN_KEEP, Retention.MAX_KEEP)
        self.retention_keep.setValue(retention.keep_last)
        self.retention_keep.setPrefix("keep the newest ")
        self.retention_keep.setSuffix(" of each tenant")
        self.retention_weekly = QCheckBox("and the newest of each &week", box)
        self.retention_weekly.setObjectName("retentionWeekly")
        self.retention_weekly.setChecked(retention.weekly)
        self.apply_retention_button = QPushButton("Apply retention &now…", box)
        self.apply_retention_button.setObjectName("applyRetention")
        self.apply_retention_button.setAutoDefault(False)
        self.apply_retention_button.setToolTip(
            "List what the rule would delete now and ask before deleting. The snapshot open in the "
            "window and unreadable files are always kept."
        )
        self.apply_retention_button.clicked.connect(self.plan_retention)
        for signal in (
            self.retention_enabled.toggled,
            self.retention_keep.valueChanged,
            self.retention_weekly.toggled,
        ):
            signal.connect(self._retention_edited)
        lay = QHBoxLayout(box)
        lay.addWidget(self.retention_enabled)
        lay.addWidget(self.retention_keep)
        lay.addWidget(self.retention_weekly)
        lay.addStretch(1)
        lay.addWidget(self.apply_retention_button)
        return box

    # ------------------------------------------------------------------ background work

    def _start(self, work: Coroutine[Any, Any, None]) -> asyncio.Future[None]:
        """Run ``work`` on the loop with the buttons disabled and the busy bar shown meanwhile."""
        task = asyncio.ensure_future(self._busy_while(work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _busy_while(self, work: Coroutine[Any, Any, None]) -> None:
        self._busy += 1
        self._update_buttons()
        try:
            await work
        finally:
            self._busy -= 1
            if not self._closing:
                self._update_buttons()

    @property
    def working(self) -> bool:
        """A file operation or a listing is in progress."""
        return any(not task.done() for task in self._tasks)

    def done(self, result: int) -> None:
        """Closing stops waiting for work in flight, and keeps the geometry and the retention rule."""
        self._closing = True
        for task in list(self._tasks):
            task.cancel()
        remember_geometry(self, self._settings, GEOMETRY_KEY)
        if self._settings is not None:
            try:
                self._settings.save()
            except OSError as exc:
                log.warning("Could not save the settings: %s", exc)
        super().done(result)

    def _say(self, text: str) -> None:
        self.error_banner.clear()
        self.message.show_message(text)
        self.finishedOperation.emit(text)

    def _fail(self, text: str) -> None:
        self.message.clear()
        self.error_banner.show_message(text)
        self.finishedOperation.emit(text)

    # ------------------------------------------------------------------ listing

    def refresh(self) -> asyncio.Future[None]:
        """Read the library again (on a worker thread), keeping the selection where possible."""
        return self._start(self._load())

    async def _load(self) -> None:
        try:
            entries = await asyncio.to_thread(self.library.entries)
        except OSError as exc:
            self._fail(f"The library could not be read: {exc.strerror or exc}")
            entries = []
        self.set_entries(entries)
        self.loaded.emit(len(entries))

    def set_entries(self, entries: Sequence[LibraryEntry]) -> None:
        """Show ``entries``; the selection follows the same files (or the file just added)."""
        keep = {row.entry.path for row in self.table.selected_row_objects()}
        if self._select_after is not None:
            keep = {self._select_after}
            self._select_after = None
        opened = self._open_path()
        self.model.set_rows([LibraryRow(e, opened is not None and _same(e.path, opened)) for e in entries])
        self.empty_state.setText(EMPTY_LIBRARY)
        self.stack.setCurrentWidget(self.table if entries else self.empty_state)
        if not any(self.table.select_row_object(lambda r, p=p: r.entry.path == p) for p in keep):
            self.table.select_first_row()
        self._update_buttons()

    def entries(self) -> list[LibraryEntry]:
        """The files listed (every one, whatever the filter)."""
        return [row.entry for row in self.model.rows()]

    def select_paths(self, paths: Sequence[Path]) -> None:
        """Select these files (for tests and for "select the one just imported")."""
        self.table.clearSelection()
        model = self.table.selectionModel()
        for r in range(self.table.proxy.rowCount()):
            if self.table.proxy.row_object(r).entry.path in paths:
                model.select(
                    self.table.proxy.index(r, 0),
                    model.SelectionFlag.Select | model.SelectionFlag.Rows,
                )
                model.setCurrentIndex(self.table.proxy.index(r, 0), model.SelectionFlag.NoUpdate)

    def selected_entries(self) -> list[LibraryEntry]:
        return [row.entry for row in self.table.selected_row_objects()]

    def _update_buttons(self) -> None:
        selected = self.selected_entries()
        readable = [e for e in selected if e.ok]
        opened = self._open_path()
        idle = self._busy == 0
        one = readable[0] if len(selected) == 1 and readable else None
        self._enable(self.open_button, idle and one is not None, "Select one readable snapshot")
        two = len(readable) == 2 == len(selected)
        self._enable(self.compare_button, idle and two, "Select two snapshots")
        previous = one is not None and self._previous(one) is not None
        self._enable(
            self.previous_button,
            idle and previous,
            "Select one snapshot" if one is None else "No older snapshot of this tenant in the library",
        )
        self._enable(self.label_button, idle and one is not None, "Select one readable snapshot")
        self._enable(self.export_button, idle and one is not None, "Select one readable snapshot")
        holds_open = opened is not None and any(_same(e.path, opened) for e in selected)
        self._enable(
            self.delete_button,
            idle and bool(selected) and not holds_open,
            OPEN_HERE + ": open another one first" if holds_open else "Select the snapshots to delete",
        )
        self.import_button.setEnabled(idle)
        self.apply_retention_button.setEnabled(idle)
        self.busy.setVisible(not idle)
        if len(selected) == 1:
            self.detail.setText(self._detail_text(selected[0]))
        else:
            self.detail.setText(plural(len(selected), "snapshot") + " selected" if selected else "")

    @staticmethod
    def _enable(button: QPushButton, enabled: bool, reason: str) -> None:
        button.setEnabled(enabled)
        button.setToolTip(str(button.property("enabledTip")) if enabled else reason)

    def _previous(self, entry: LibraryEntry) -> LibraryEntry | None:
        return previous_entry(self.entries(), entry.meta, entry.path) if entry.meta is not None else None

    @staticmethod
    def _detail_text(entry: LibraryEntry) -> str:
        meta = entry.meta
        if meta is None:
            return f"{entry.path}\n{entry.error}"
        counts = counts_text(entry)
        lines = [
            str(entry.path),
            f"Tenant: {meta.tenant_name or EMPTY} ({meta.tenant_id or 'no id'}) · {meta.cloud} cloud · "
            f"captured {as_of(meta.captured_at)} by fcdesk {meta.app_version or EMPTY}",
            f"Subscriptions: {', '.join(meta.scopes) or EMPTY}",
            f"Contents: {counts or 'nothing'}",
        ]
        lines += [f"Not read: {e.scope or 'tenant'}: {e.message}" for e in meta.errors[:5]]
        return "\n".join(lines)

    # ------------------------------------------------------------------ open and compare

    def open_selected(self) -> None:
        entries = [e for e in self.selected_entries() if e.ok]
        if len(entries) == 1 and self.open_button.isEnabled():
            self.openRequested.emit(entries[0].path)

    def compare_selected(self) -> None:
        entries = [e for e in self.selected_entries() if e.meta is not None]
        if len(entries) != 2:
            return
        older, newer = sorted(entries, key=lambda e: e.meta.captured_at)  # type: ignore[union-attr]
        self.compareRequested.emit(_side(older), _side(newer))

    def compare_with_previous(self) -> None:
        entries = [e for e in self.selected_entries() if e.ok]
        if len(entries) != 1:
            return
        previous = self._previous(entries[0])
        if previous is None:
            self._say("There is no older snapshot of this tenant in the library.")
            return
        self.compareRequested.emit(_side(previous), _side(entries[0]))

    # ------------------------------------------------------------------ label

    def edit_label(self) -> QInputDialog | None:
        """Ask for the selected snapshot's new label (a non-modal input dialog)."""
        entries = [e for e in self.selected_entries() if e.meta is not None]
        if len(entries) != 1 or not self.label_button.isEnabled():
            return None
        entry = entries[0]
        dialog = QInputDialog(self)
        dialog.setObjectName("labelDialog")
        dialog.setWindowTitle("Snapshot label")
        dialog.setLabelText(f"Label of the snapshot of {entry_line(entry)}:")
        for label in dialog.findChildren(QLabel):  # the tenant's name is data, never markup
            label.setTextFormat(Qt.TextFormat.PlainText)
        dialog.setTextEchoMode(QLineEdit.EchoMode.Normal)
        dialog.setTextValue(entry.meta.label)  # type: ignore[union-attr]
        line = dialog.findChild(QLineEdit)
        if line is not None:
            line.setMaxLength(LABEL_MAX)
        dialog.textValueSelected.connect(lambda text, p=entry.path: self.set_label(p, text))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def set_label(self, path: Path, label: str) -> asyncio.Future[None]:
        """Store ``label`` for the snapshot at ``path`` (on a worker thread), then list again."""

        async def work() -> None:
            try:
                stored = await asyncio.to_thread(self.library.set_label, path, label)
            except (OSError, SnapshotError, ValueError) as exc:
                self._fail(f"The label could not be saved: {_why(exc)}")
                return
            self._select_after = path
            await self._load()
            self.labelChanged.emit(path, stored)
            self._say(f"Label saved: “{stored}”." if stored else "Label removed.")

        return self._start(work())

    # ------------------------------------------------------------------ delete

    def confirm_delete(self) -> QMessageBox | None:
        """Ask before deleting the selected snapshots (never the one open in the window)."""
        entries = self.selected_entries()
        if not entries or not self.delete_button.isEnabled():
            return None
        names = [entry_line(e) for e in entries]
        text = (
            f"Delete the snapshot {names[0]}?"
            if len(entries) == 1
            else f"Delete these {len(entries)} snapshots?\n\n" + _listing(names)
        )
        return self._confirm(
            "Delete snapshots",
            text + "\n\nThis cannot be undone.",
            "Delete",
            lambda: self.delete([e.path for e in entries]),
            detail="\n".join(names) if len(names) > 1 else "",
        )

    def delete(self, paths: Sequence[Path]) -> asyncio.Future[None]:
        """Delete these snapshots (on a worker thread), except the one open in the window."""

        async def work() -> None:
            opened = self._open_path()
            protect = [opened] if opened is not None else []
            try:
                deleted = await asyncio.to_thread(self.library.delete_many, list(paths), protect)
            except (OSError, ValueError) as exc:
                self._fail(f"The snapshots could not be deleted: {_why(exc)}")
                return
            await self._load()
            kept = len(paths) - len(deleted)
            text = f"Deleted {plural(len(deleted), 'snapshot')}."
            if kept:
                text += f" {plural(kept, 'snapshot')} could not be deleted (open in the window, or in use)."
            self._say(text)

        return self._start(work())

    def _confirm(
        self, title: str, text: str, action: str, on_yes: Callable[[], object], detail: str = ""
    ) -> QMessageBox:
        """A plain-text question whose ``action`` button runs ``on_yes``; Cancel is the default."""
        box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Cancel, self)
        box.setObjectName("libraryConfirm")
        box.setTextFormat(Qt.TextFormat.PlainText)
        if detail:
            box.setDetailedText(detail)
        yes = box.addButton(action, QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.buttonClicked.connect(lambda button: on_yes() if button is yes else None)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        return box

    # ------------------------------------------------------------------ import and export

    def choose_import(self) -> QFileDialog:
        dialog = QFileDialog(self, "Import snapshots", str(Path.home()), SNAPSHOT_FILTER)
        dialog.setObjectName("importDialog")
        dialog.setFileMode(QFileDialog.FileMode.ExistingFiles)
        dialog.filesSelected.connect(lambda files: self.import_files([Path(f) for f in files]))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def import_files(self, files: Sequence[Path]) -> asyncio.Future[None]:
        """Copy these files into the library (each checked first, on a worker thread)."""

        async def work() -> None:
            imported: list[Path] = []
            failed: list[str] = []
            for src in files:
                try:
                    imported.append(await asyncio.to_thread(self.library.import_file, src))
                except SnapshotError as exc:
                    failed.append(exc.user_message)
                except OSError as exc:
                    failed.append(f'"{src.name}" could not be copied: {exc.strerror or exc}.')
            self._select_after = imported[-1] if imported else None
            await self._load()
            if failed:
                done = f"Imported {plural(len(imported), 'snapshot')}. " if imported else ""
                self._fail(done + " ".join(failed))
            else:
                self._say(f"Imported {plural(len(imported), 'snapshot')}.")

        return self._start(work())

    def choose_export(self) -> QFileDialog | None:
        entries = [e for e in self.selected_entries() if e.ok]
        if len(entries) != 1:
            return None
        src = entries[0].path
        dialog = QFileDialog(self, "Export snapshot", str(Path.home() / src.name), SNAPSHOT_FILTER)
        dialog.setObjectName("exportDialog")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setDefaultSuffix(SUFFIX.lstrip("."))
        dialog.fileSelected.connect(lambda dest: self.export(src, Path(dest)))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def export(self, src: Path, dest: Path) -> asyncio.Future[None]:
        """Copy the snapshot ``src`` to ``dest`` byte for byte (on a worker thread)."""

        async def work() -> None:
            try:
                written = await asyncio.to_thread(self.library.export_file, src, dest)
            except (OSError, SnapshotError, ValueError) as exc:
                self._fail(f"The snapshot could not be exported: {_why(exc)}")
                return
            self.error_banner.clear()
            text = f"Exported to {written}."
            entry = next((e for e in self.entries() if e.path == src), None)
            if entry is not None and entry.meta is not None and entry.meta.label:
                # The copy is the capture itself (its SHA-256 unchanged): a label given here stays here.
                text += " Labels given in the library stay in it: the copy carries the capture's own label."
            self.message.show_message(text, ("Show folder", lambda: _open_folder(written.parent)))
            self.finishedOperation.emit(f"Exported to {written}.")

        return self._start(work())

    def open_folder(self) -> bool:
        """Show the library folder in the file manager (created first if needed)."""
        try:
            self.library.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self._fail(f"The library folder could not be created: {exc.strerror or exc}")
            return False
        return _open_folder(self.library.root)

    # ------------------------------------------------------------------ retention

    def retention(self) -> Retention:
        """The rule as set in the dialog."""
        return Retention(
            enabled=self.retention_enabled.isChecked(),
            keep_last=self.retention_keep.value(),
            weekly=self.retention_weekly.isChecked(),
        )

    def _retention_edited(self) -> None:
        retention = self.retention()
        if self._settings is not None:
            self._settings.set(Retention.SETTINGS_KEY, retention.to_json())
        self.retentionChanged.emit(retention)

    def plan_retention(self) -> asyncio.Future[None]:
        """List (on a worker thread) what the rule would delete now, then ask before deleting it."""

        async def work() -> None:
            retention = self.retention()
            opened = self._open_path()
            protect = [opened] if opened is not None else []
            try:
                doomed = await asyncio.to_thread(self.library.retention_plan, retention, protect)
            except OSError as exc:
                self._fail(f"The library could not be read: {exc.strerror or exc}")
                return
            if not doomed:
                self._say(f"Nothing to delete: {retention.describe().lower()} keeps every snapshot.")
                return
            names = [entry_line(e) for e in doomed]
            text = (
                f"{retention.describe()} (the snapshot open in the window is always kept).\n\n"
                f"This deletes {plural(len(doomed), 'snapshot')}:\n\n{_listing(names)}\n\n"
                "This cannot be undone."
            )
            self._confirm(
                "Apply retention",
                text,
                f"Delete {plural(len(doomed), 'snapshot')}",
                lambda: self.delete([e.path for e in doomed]),
                detail="\n".join(names),
            )

        return self._start(work())


def _side(entry: LibraryEntry) -> Side:
    return Side(entry.path, entry.meta.label if entry.meta is not None else "")


def _same(a: Path, b: Path) -> bool:
    return Path(a).absolute() == Path(b).absolute()


def _why(exc: Exception) -> str:
    if isinstance(exc, SnapshotError):
        return exc.user_message
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc}."
    return str(exc)


def _listing(names: Sequence[str], limit: int = 12) -> str:
    shown = "\n".join(f"• {n}" for n in names[:limit])
    return shown + (f"\n… and {len(names) - limit} more (see Show Details)" if len(names) > limit else "")


def _open_folder(folder: Path) -> bool:
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))


__all__ = [
    "EMPTY_LIBRARY",
    "GEOMETRY_KEY",
    "LibraryDialog",
    "LibraryModel",
    "LibraryRow",
    "entry_line",
    "human_size",
    "load_retention",
]
