"""The audit log viewer: every write fcdesk sent to Azure, newest first, with its full record.

Entries are read on a worker thread (``asyncio.to_thread(audit.read)`` on the qasync loop), so a
long log never blocks the window. The table sorts and filters; the detail pane shows the whole
entry (error, request, and the resource before and after as indented JSON) in read-only,
selectable text. Everything is plain text: targets and errors come from Azure.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QColor, QDesktopServices, QFontDatabase, QGuiApplication, QPalette
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QHBoxLayout,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from fcdesk.core.text import EMPTY, plural
from fcdesk.models.palette import StateColors, colors_for
from fcdesk.models.table import Column, RowTableModel
from fcdesk.store.audit import OUTCOMES, AuditEntry, AuditLog
from fcdesk.views.widgets import Banner, BannerKind, DataTable, FilterBar, PlainLabel, form_box, set_form_rows

EMPTY_TEXT = "No writes yet: every change fcdesk makes to Azure is recorded here."
COL_TIME = 0
_OUTCOME_TEXT = {
    "succeeded": "✓ Succeeded",
    "failed": "✗ Failed",
    "conflict": "⚠ Conflict: nothing written",
    "refused": "⚠ Refused: no rights",
}
_KIND_WORDS = {
    "deployments": "deployment",
    "raipolicies": "guardrail",
    "policyassignments": "policy assignment",
    "pricings": "Defender plan",
    "defenderforaisettings": "Defender for AI setting",
}


def parse_time(text: str) -> datetime | None:
    """An entry's ISO 8601 time as an aware UTC datetime, or None when unreadable."""
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def short_target(arm_id: str) -> str:
    """``gpt-4o (deployment)`` for a deployment id; the id itself when it has no name segment."""
    parts = [p for p in arm_id.split("/") if p]
    if len(parts) < 2:
        return arm_id or EMPTY
    kind = _KIND_WORDS.get(parts[-2].lower(), parts[-2])
    return f"{parts[-1]} ({kind})"


def pretty_json(value: Any) -> str:
    """Indented JSON, as stored (``null`` for a resource that did not exist)."""
    return json.dumps(value, indent=2, ensure_ascii=False)


def entry_json(entry: AuditEntry) -> str:
    """The whole entry as indented JSON: what "Copy entry" puts on the clipboard."""
    return pretty_json(asdict(entry))


@dataclass(frozen=True, slots=True)
class AuditRow:
    """One entry with its parsed time and its position in the file (ties sort by position)."""

    entry: AuditEntry
    when: datetime | None
    position: int

    @property
    def local_text(self) -> str:
        return self.when.astimezone().strftime("%Y-%m-%d %H:%M:%S") if self.when else self.entry.time or EMPTY

    @property
    def utc_text(self) -> str:
        return (
            self.when.strftime("%Y-%m-%d %H:%M:%S UTC")
            if self.when
            else f"Unreadable time: {self.entry.time}"
        )

    @property
    def outcome_text(self) -> str:
        return _OUTCOME_TEXT.get(self.entry.outcome, self.entry.outcome or EMPTY)


class AuditModel(RowTableModel[AuditRow]):
    """Time, principal, operation, target and outcome per entry; time sorts as a datetime."""

    def __init__(self, colors: StateColors, parent: Any = None) -> None:
        self._colors = colors
        super().__init__(
            [
                Column(
                    "Time",
                    lambda r: r.local_text,
                    sort_key=lambda r: (r.when or datetime.min.replace(tzinfo=UTC), r.position),
                    tooltip=lambda r: r.utc_text,
                    header_tooltip="When the write was sent, in local time (hover for UTC).",
                    width=140,
                ),
                Column("Principal", lambda r: r.entry.principal or EMPTY, width=150),
                Column("Operation", lambda r: r.entry.operation or EMPTY, width=170),
                Column(
                    "Target",
                    lambda r: short_target(r.entry.target),
                    tooltip=lambda r: r.entry.target,
                    header_tooltip="The Azure resource written (hover for its full id).",
                    width=190,
                ),
                Column(
                    "Outcome",
                    lambda r: r.outcome_text,
                    tooltip=lambda r: r.entry.error or r.outcome_text,
                    background=self._outcome_color,
                    width=150,
                ),
            ],
            parent,
        )

    def _outcome_color(self, row: AuditRow) -> QColor | None:
        c = self._colors
        return {"succeeded": c.ok, "failed": c.fail, "conflict": c.medium, "refused": c.medium}.get(
            row.entry.outcome
        )


class AuditDialog(QDialog):
    """The audit log, newest first, with a detail pane. Non-modal: ``show()``/``open()``, never ``exec()``.

    Args:
        audit: the log to show; read on a worker thread when the dialog opens and on Refresh.

    Signals:
        loaded(int, int): entries read and damaged lines skipped, after each (re)load.

    Object names: ``auditDialog``, ``auditTable``, ``auditFilter``, ``outcomeFilter``, ``refreshButton``,
    ``copyEntry``, ``openLocation``, ``damagedNote``, ``emptyState``, ``auditError``, ``auditDetail``,
    ``detailError``, ``requestJson``, ``beforeJson``, ``afterJson``.
    """

    loaded = Signal(int, int)

    def __init__(
        self, audit: AuditLog, parent: QWidget | None = None, *, colors: StateColors | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("auditDialog")
        self.setWindowTitle("Audit log")
        self.resize(1180, 720)
        self.audit = audit
        if colors is None:
            colors = colors_for(self.palette().color(QPalette.ColorRole.Window).lightness() < 128)
        self.model = AuditModel(colors, self)
        self.damaged = 0
        self._task: asyncio.Future[None] | None = None

        lay = QVBoxLayout(self)
        bar = QHBoxLayout()
        self.filter_bar = FilterBar("Filter by principal, operation, target…", self)
        self.filter_bar.setObjectName("auditFilter")
        bar.addWidget(self.filter_bar, 1)
        self.outcome_filter = QComboBox(self)
        self.outcome_filter.setObjectName("outcomeFilter")
        self.outcome_filter.setAccessibleName("Outcome filter")
        self.outcome_filter.addItem("All outcomes", "")
        for outcome in OUTCOMES:
            self.outcome_filter.addItem(_OUTCOME_TEXT[outcome], outcome)
        self.outcome_filter.currentIndexChanged.connect(self._on_outcome_filter)
        bar.addWidget(self.outcome_filter)
        self.refresh_button = QPushButton("&Refresh", self)
        self.refresh_button.setObjectName("refreshButton")
        self.refresh_button.clicked.connect(self.refresh)
        bar.addWidget(self.refresh_button)
        lay.addLayout(bar)

        self.error_banner = Banner(BannerKind.ERROR, self)
        self.error_banner.setObjectName("auditError")
        lay.addWidget(self.error_banner)
        self.damaged_note = Banner(BannerKind.WARNING, self)
        self.damaged_note.setObjectName("damagedNote")
        lay.addWidget(self.damaged_note)

        self.stack = QStackedWidget(self)
        self.empty_state = PlainLabel("Reading the audit log…", muted=True)
        self.empty_state.setObjectName("emptyState")
        self.empty_state.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.stack.addWidget(self.empty_state)

        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.table = DataTable(self.model, splitter, object_name="auditTable")
        self.table.setAccessibleName("Audit log entries")
        self.table.setSelectionMode(DataTable.SelectionMode.SingleSelection)
        self.filter_bar.bind(self.table)
        splitter.addWidget(self.table)
        splitter.addWidget(self._build_detail())
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setSizes([760, 420])
        self.stack.addWidget(splitter)
        lay.addWidget(self.stack, 1)

        bottom = QHBoxLayout()
        self.path_label = PlainLabel(str(audit.path), wrap=False, muted=True)
        self.path_label.setObjectName("auditPath")
        bottom.addWidget(self.path_label, 1)
        self.open_button = QPushButton("&Open file location", self)
        self.open_button.setObjectName("openLocation")
        self.open_button.setToolTip("Show the folder that holds the audit log.")
        self.open_button.clicked.connect(self.open_location)
        bottom.addWidget(self.open_button)
        close = QPushButton("Close", self)
        close.clicked.connect(self.close)
        bottom.addWidget(close)
        lay.addLayout(bottom)

        self.table.currentRowObjectChanged.connect(self.show_entry)
        self.table.sortByColumn(COL_TIME, Qt.SortOrder.DescendingOrder)
        self.show_entry(None)
        self.refresh()

    def _build_detail(self) -> QWidget:
        box = QWidget(self)
        box.setObjectName("auditDetail")
        lay = QVBoxLayout(box)
        lay.setContentsMargins(6, 0, 0, 0)
        form_widget, self.detail_form = form_box()
        lay.addWidget(form_widget)
        self.detail_error = PlainLabel("")
        self.detail_error.setObjectName("detailError")
        lay.addWidget(self.detail_error)
        self.tabs = QTabWidget(box)
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.before_edit = self._json_edit("beforeJson", mono)
        self.after_edit = self._json_edit("afterJson", mono)
        self.request_edit = self._json_edit("requestJson", mono)
        self.tabs.addTab(self.before_edit, "&Before")
        self.tabs.addTab(self.after_edit, "&After")
        self.tabs.addTab(self.request_edit, "Re&quest")
        lay.addWidget(self.tabs, 1)
        self.copy_button = QPushButton("&Copy entry", box)
        self.copy_button.setObjectName("copyEntry")
        self.copy_button.setToolTip("Copy the whole entry as JSON.")
        self.copy_button.clicked.connect(self.copy_entry)
        lay.addWidget(self.copy_button, 0, Qt.AlignmentFlag.AlignRight)
        return box

    def _json_edit(self, name: str, font: Any) -> QPlainTextEdit:
        edit = QPlainTextEdit(self)
        edit.setObjectName(name)
        edit.setReadOnly(True)
        edit.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse | Qt.TextInteractionFlag.TextSelectableByKeyboard
        )
        edit.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        edit.setFont(font)
        return edit

    # ------------------------------------------------------------------ loading

    def refresh(self) -> None:
        """(Re)read the log on a worker thread; ignored while a read is running."""
        if self._task is not None and not self._task.done():
            return
        self._task = asyncio.ensure_future(self._load())

    @property
    def loading(self) -> bool:
        return self._task is not None and not self._task.done()

    async def _load(self) -> None:
        self.refresh_button.setEnabled(False)
        self.error_banner.clear()
        try:
            entries, damaged = await asyncio.to_thread(self.audit.read)
        except OSError as exc:
            self.error_banner.show_message(f"The audit log could not be read: {exc.strerror or exc}")
            entries, damaged = [], 0
        # Not in a ``finally``: a cancelled read (the dialog closed) must not touch its widgets.
        self.refresh_button.setEnabled(True)
        self.set_entries(entries, damaged)
        self.loaded.emit(len(entries), damaged)

    def set_entries(self, entries: list[AuditEntry], damaged: int = 0) -> None:
        """Show ``entries`` (file order, oldest first), keeping the selected entry when it is still there."""
        current = self.table.current_row_object()
        self.damaged = damaged
        self.model.set_rows([AuditRow(e, parse_time(e.time), i) for i, e in enumerate(entries)])
        if damaged:
            self.damaged_note.show_message(
                f"{plural(damaged, 'damaged line')} in the audit log could not be read and "
                f"{'was' if damaged == 1 else 'were'} skipped."
            )
        else:
            self.damaged_note.clear()
        self.empty_state.setText(EMPTY_TEXT)
        self.stack.setCurrentIndex(1 if entries else 0)
        self.open_button.setEnabled(self.audit.path.parent.exists())
        if not (current is not None and self.table.select_row_object(lambda r: r.entry == current.entry)):
            self.table.select_first_row()

    def done(self, result: int) -> None:
        """Closing stops a read still running (its result would land in a closed dialog)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
        super().done(result)

    # ------------------------------------------------------------------ filtering

    def _on_outcome_filter(self, _index: int) -> None:
        outcome = self.outcome_filter.currentData()
        self.table.proxy.set_predicate((lambda r: r.entry.outcome == outcome) if outcome else None)

    def entries_shown(self) -> list[AuditEntry]:
        """The entries as the table shows them (filtered, in view order)."""
        return [r.entry for r in self.table.proxy.visible_rows()]

    # ------------------------------------------------------------------ detail

    def current_entry(self) -> AuditEntry | None:
        row = self.table.current_row_object()
        return row.entry if row is not None else None

    def show_entry(self, row: AuditRow | None) -> None:
        self.copy_button.setEnabled(row is not None)
        if row is None:
            set_form_rows(self.detail_form, [])
            self.detail_error.setVisible(False)
            for edit in (self.before_edit, self.after_edit, self.request_edit):
                edit.setPlainText("")
            return
        e = row.entry
        set_form_rows(
            self.detail_form,
            [
                ("Time", f"{row.local_text} (local)\n{row.utc_text}"),
                ("Principal", e.principal or EMPTY),
                ("Cloud", e.cloud or EMPTY),
                ("Operation", e.operation or EMPTY),
                ("Target", e.target or EMPTY),
                ("Outcome", row.outcome_text),
            ],
        )
        self.detail_error.setText(f"Error: {e.error}" if e.error else "")
        self.detail_error.setVisible(bool(e.error))
        self.before_edit.setPlainText(pretty_json(e.before))
        self.after_edit.setPlainText(pretty_json(e.after))
        self.request_edit.setPlainText(pretty_json(dict(e.request)))

    def copy_entry(self) -> str:
        """Put the selected entry on the clipboard as JSON; returns the text (empty: nothing selected)."""
        entry = self.current_entry()
        if entry is None:
            return ""
        text = entry_json(entry)
        QGuiApplication.clipboard().setText(text)
        return text

    def open_location(self) -> bool:
        """Open the folder of the audit log in the system file manager."""
        return QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.audit.path.parent)))
