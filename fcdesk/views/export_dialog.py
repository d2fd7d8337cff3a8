"""File → Export report…: the data shown as an HTML, CSV, JSON or Excel report.

The dialog chooses the format, the scope (everything, or the window's subscription/project filter)
and optionally an older snapshot of the same tenant to compare with (the report then carries the
drift, loosenings first); "Export…" asks where to save (a ``QFileDialog``, which confirms
overwriting). The report is written by :func:`fcdesk.reports.export_report` on a worker thread (the
older snapshot is read there too), and the dialog says where it went, with "Open folder".
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from fcdesk.core.inventory import ALL, Inventory, Scope
from fcdesk.core.text import as_of
from fcdesk.models.workspace import SnapshotInfo
from fcdesk.store.library import LibraryEntry, SnapshotLibrary, older_entries
from fcdesk.views.geometry import remember_geometry, restore_geometry
from fcdesk.views.widgets import Banner, BannerKind, PlainLabel

log = logging.getLogger(__name__)

#: (format, what the user reads, file filter), in the order offered; the formats of fcdesk.reports.
FORMAT_CHOICES: tuple[tuple[str, str, str], ...] = (
    ("html", "&HTML page: to read, print or share", "HTML report (*.html)"),
    ("csv", "&CSV: tables for a spreadsheet or a script", "CSV (*.csv)"),
    ("json", "&JSON: the stable report document", "JSON (*.json)"),
    ("xlsx", "Exce&l workbook: one sheet per table", "Excel workbook (*.xlsx)"),
)
EXPORT_DIR_KEY = "export/dir"
GEOMETRY_KEY = "exportDialog/geometry"


class ExportSettings(Protocol):
    """What the dialog needs from the settings (``fcdesk.store.settings.Settings`` fits)."""

    def get(self, key: str, default: object = None) -> object: ...
    def set(self, key: str, value: object) -> None: ...
    def get_bytes(self, key: str) -> bytes | None: ...
    def set_bytes(self, key: str, value: bytes) -> None: ...


def default_file_name(inventory: Inventory, fmt: str) -> str:
    """``fcdesk-report-contoso-ai-2026-11-20-0930.html``: the tenant and the capture time."""
    meta = inventory.meta
    tenant = re.sub(r"[^a-z0-9]+", "-", (meta.tenant_name or meta.tenant_id).lower()).strip("-") or "tenant"
    return f"fcdesk-report-{tenant[:40]}-{meta.captured_at.strftime('%Y-%m-%d-%H%M')}.{fmt}"


def scope_text(inventory: Inventory, scope: Scope) -> str:
    """The window's filter in words: ``project research (account acct-1)``, ``subscription Contoso Prod``."""
    if scope.project_id is not None:
        project = inventory.projects.get(scope.project_id.lower())
        if project is not None:
            account = inventory.accounts.get(project.account_id.lower())
            return f"project {project.label}" + (f" (account {account.name})" if account else "")
    names = [
        sub.display_name
        for key, sub in inventory.subscriptions.items()
        if scope.subscriptions is not None and key.lower() in scope.subscriptions
    ]
    return "subscription " + ", ".join(names) if names else "every subscription"


class ExportDialog(QDialog):
    """Export a report of ``inventory``. Non-modal: ``show()``/``open()``, never ``exec()``.

    Args:
        inventory: the data shown in the window.
        info: where it came from (its file is named in the report, with its SHA-256).
        scope: the window's filter, offered as the report's scope.
        library: lists the older snapshots to compare with (none without it).
        load: blocking; reads an older snapshot into an :class:`Inventory` (run on a worker thread).
        settings: remembers the folder of the last export and the dialog's geometry.
        export: blocking; writes the report (default :func:`fcdesk.reports.export_report`).

    Signals:
        ready(): the older snapshots are listed.
        exported(object): the report was written (its ``Path``).
        failed(str): it could not be (the message shown).
    """

    ready = Signal()
    exported = Signal(object)
    failed = Signal(str)

    def __init__(
        self,
        inventory: Inventory,
        info: SnapshotInfo,
        scope: Scope = ALL,
        parent: QWidget | None = None,
        *,
        library: SnapshotLibrary | None = None,
        load: Callable[[Path], Inventory] | None = None,
        settings: ExportSettings | None = None,
        export: Callable[..., Path] | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("exportDialog")
        self.setWindowTitle("Export report")
        self.setModal(False)
        self.inventory = inventory
        self.info = info
        self.scope = scope
        self._library = library
        self._load = load
        self._settings = settings
        self._export = export
        self._tasks: set[asyncio.Future[Any]] = set()

        meta = inventory.meta
        tenant = meta.tenant_name or meta.tenant_id or "unknown tenant"
        source = info.path.name if info.path is not None else "data not saved to a file"
        intro = PlainLabel(f"A report of {tenant} as of {as_of(meta.captured_at)} ({source}).")
        intro.setObjectName("exportIntro")

        self.formats = QButtonGroup(self)
        format_box = QVBoxLayout()
        for index, (fmt, text, _filter) in enumerate(FORMAT_CHOICES):
            button = QRadioButton(text, self)
            button.setObjectName(f"format-{fmt}")
            self.formats.addButton(button, index)
            format_box.addWidget(button)
        self.formats.button(0).setChecked(True)

        self.scope_all = QRadioButton("Every&thing in the snapshot", self)
        self.scope_all.setObjectName("scopeAll")
        where = scope_text(inventory, scope).replace("&", "&&")  # a name's "&" is no mnemonic
        self.scope_filter = QRadioButton(
            f"Only the window's &filter: {where}" if scope != ALL else "Only the window's &filter (none set)",
            self,
        )
        self.scope_filter.setObjectName("scopeFilter")
        self.scope_filter.setEnabled(scope != ALL)
        (self.scope_filter if scope != ALL else self.scope_all).setChecked(True)
        scope_box = QVBoxLayout()
        scope_box.addWidget(self.scope_all)
        scope_box.addWidget(self.scope_filter)

        self.against = QComboBox(self)
        self.against.setObjectName("againstCombo")
        self.against.setAccessibleName("Compare with an older snapshot")
        self.against.addItem("No comparison", None)
        self.against.setToolTip(
            "Include what changed since an older snapshot of the same tenant (loosenings first)."
        )
        self.against_note = PlainLabel("", muted=True)
        self.against_note.setObjectName("againstNote")

        form = QFormLayout()
        form.addRow(PlainLabel("Format:", wrap=False), format_box)
        form.addRow(PlainLabel("Scope:", wrap=False), scope_box)
        form.addRow(PlainLabel("Against an older snapshot:", wrap=False), self.against)
        form.addRow(PlainLabel(wrap=False), self.against_note)

        self.result = Banner(BannerKind.INFO, self)
        self.result.setObjectName("exportResult")
        self.error_banner = Banner(BannerKind.ERROR, self)
        self.error_banner.setObjectName("exportError")
        self.busy = QProgressBar(self)
        self.busy.setObjectName("exportBusy")
        self.busy.setRange(0, 0)
        self.busy.setTextVisible(False)
        self.busy.setMaximumWidth(140)
        self.busy.setVisible(False)
        self.stage = PlainLabel("", wrap=False, muted=True)
        self.export_button = QPushButton("E&xport…", self)
        self.export_button.setObjectName("exportButton")
        self.export_button.setDefault(True)
        self.export_button.clicked.connect(self.choose_file)
        close = QPushButton("Close", self)
        close.setAutoDefault(False)
        close.clicked.connect(self.close)

        lay = QVBoxLayout(self)
        lay.addWidget(intro)
        lay.addLayout(form)
        lay.addWidget(self.result)
        lay.addWidget(self.error_banner)
        lay.addStretch(1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.busy)
        bottom.addWidget(self.stage, 1)
        bottom.addWidget(self.export_button)
        bottom.addWidget(close)
        lay.addLayout(bottom)
        self.resize(620, 420)
        restore_geometry(self, settings, GEOMETRY_KEY)
        self._start(self._list_older())

    # ------------------------------------------------------------------ choices

    def format(self) -> str:
        return FORMAT_CHOICES[max(self.formats.checkedId(), 0)][0]

    def set_format(self, fmt: str) -> None:
        self.formats.button([f for f, _t, _x in FORMAT_CHOICES].index(fmt)).setChecked(True)

    def report_scope(self) -> Scope:
        return self.scope if self.scope_filter.isChecked() else ALL

    def against_path(self) -> Path | None:
        data = self.against.currentData()
        return Path(data) if data else None

    async def _list_older(self) -> None:
        """The older snapshots of the same tenant in the library (read on a worker thread)."""
        if self._library is None or self._load is None:
            self.against.setEnabled(False)
            self.against_note.setText("No snapshot library to compare with.")
            self.ready.emit()
            return
        self.against_note.setText("Reading the library…")
        try:
            entries = await asyncio.to_thread(self._library.entries)
        except OSError as exc:
            entries = []
            log.info("library unreadable for the export: %s", exc)
        older = older_entries(entries, self.inventory.meta, self.info.path)
        for entry in older:
            self.against.addItem(_entry_text(entry), str(entry.path))
        self.against.setEnabled(bool(older))
        self.against_note.setText(
            "" if older else "No older snapshot of this tenant in the library to compare with."
        )
        self.ready.emit()

    # ------------------------------------------------------------------ exporting

    def choose_file(self) -> QFileDialog:
        """Ask where to save the report (the save dialog confirms overwriting), then write it."""
        fmt = self.format()
        folder = self._settings.get(EXPORT_DIR_KEY) if self._settings is not None else None
        start = Path(folder) if isinstance(folder, str) and Path(folder).is_dir() else Path.home()
        file_filter = next(x for f, _t, x in FORMAT_CHOICES if f == fmt)
        suggested = start / default_file_name(self.inventory, fmt)
        dialog = QFileDialog(self, "Export report", str(suggested), file_filter)
        dialog.setObjectName("exportFileDialog")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setDefaultSuffix(fmt)
        dialog.fileSelected.connect(lambda path: self.export_to(Path(path)))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def export_to(self, path: Path, fmt: str | None = None) -> asyncio.Future[None]:
        """Write the report to ``path`` (format: ``fmt``, default the one chosen) on a worker thread."""
        return self._start(self._write(Path(path), fmt or self.format()))

    async def _write(self, path: Path, fmt: str) -> None:
        self.export_button.setEnabled(False)
        self.busy.setVisible(True)
        self.result.clear()
        self.error_banner.clear()
        against = self.against_path()
        self.stage.setText(
            "Reading the older snapshot and writing the report…" if against else "Writing the report…"
        )
        try:
            written = await asyncio.to_thread(self._write_blocking, path, fmt, against)
        except Exception as exc:  # noqa: BLE001 - every failure is said in the dialog
            log.info("export failed: %s", type(exc).__name__, exc_info=True)
            message = getattr(exc, "user_message", "") or (
                f"{exc.strerror or exc}." if isinstance(exc, OSError) else str(exc)
            )
            self._done_writing()
            self.error_banner.show_message(f"The report could not be written: {message}")
            self.failed.emit(message)
            return
        self._done_writing()
        if self._settings is not None:
            self._settings.set(EXPORT_DIR_KEY, str(written.parent))
        self.result.show_message(
            f"Report written to {written}", ("Open folder", lambda: _open_folder(written))
        )
        self.exported.emit(written)

    def _done_writing(self) -> None:
        self.export_button.setEnabled(True)
        self.busy.setVisible(False)
        self.stage.setText("")

    def _write_blocking(self, path: Path, fmt: str, against: Path | None) -> Path:
        """Worker thread: read the older snapshot (if any), then write the report."""
        export = self._export
        if export is None:
            from fcdesk.reports import export_report as export
        older = self._load(against) if against is not None and self._load is not None else None
        return export(
            self.inventory,
            path,
            fmt,
            snapshot_path=self.info.path,
            against=older,
            scope=self.report_scope(),
        )

    # ------------------------------------------------------------------ lifetime

    def _start(self, work: Any) -> asyncio.Future[None]:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    @property
    def working(self) -> bool:
        return any(not task.done() for task in self._tasks)

    def done(self, result: int) -> None:
        """Closing stops waiting for work in flight (a report being written is still finished)."""
        for task in list(self._tasks):
            task.cancel()
        remember_geometry(self, self._settings, GEOMETRY_KEY)
        super().done(result)


def _entry_text(entry: LibraryEntry) -> str:
    """``2026-11-20 09:30 UTC (3 days ago) · “baseline” · 2026-11-20T093000Z-live.fcsnap``."""
    meta = entry.meta
    if meta is None:
        return entry.path.name
    label = f" · “{meta.label}”" if meta.label else ""
    return f"{as_of(meta.captured_at)}{label} · {entry.path.name}"


def _open_folder(path: Path) -> bool:
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(path.parent)))


__all__ = [
    "EXPORT_DIR_KEY",
    "FORMAT_CHOICES",
    "GEOMETRY_KEY",
    "ExportDialog",
    "default_file_name",
    "scope_text",
]
