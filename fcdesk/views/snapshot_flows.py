"""The window's snapshot flows: the library browser, drift, report export, the what-if, retention.

:class:`SnapshotFlows` opens the dialogs of File → Snapshot library…, File → Compare with previous,
File → Export report… and Tools → What-if… for the main window, and applies the retention rule
after a refresh was saved. None of them needs the network: everything reads the snapshot library
and the data in hand. Blocking file I/O runs on worker threads (``asyncio.to_thread``); dialogs are
non-modal (``show()``/``open()``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import shiboken6
from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMessageBox, QWidget
from qasync import asyncSlot

from fcdesk.core.drafts import draft_from_policy
from fcdesk.core.inventory import Inventory
from fcdesk.core.policy import GuardrailPolicy
from fcdesk.core.text import as_of, plural
from fcdesk.models.palette import StateColors
from fcdesk.models.workspace import WorkspaceContext
from fcdesk.store.library import Retention, SnapshotLibrary, previous_entry

if TYPE_CHECKING:  # the dialogs are imported when first opened: none of them is needed at start-up
    from fcdesk.views.drift_dialog import DriftDialog, Side
    from fcdesk.views.export_dialog import ExportDialog
    from fcdesk.views.library_dialog import LibraryDialog, LibrarySettings

log = logging.getLogger(__name__)


class SnapshotFlows(QObject):
    """Opens the snapshot dialogs of one window and keeps them in step with it.

    Args:
        context: the window's data (the inventory shown, where it came from, the scope).
        window: the parent of the dialogs.
        snapshot_dir: the library folder (None: no library, its actions do nothing).
        load: blocking; reads a snapshot into an :class:`Inventory` (run on worker threads).
        open_snapshot: shows a snapshot in the window (the library's Open).
        selected_policy: the policy selected on the Policies tab (the what-if starts from it).
        settings: the retention rule, dialog geometry, the export folder.
        status: shows a short message in the window's status bar.
    """

    def __init__(
        self,
        context: WorkspaceContext,
        window: QWidget,
        *,
        snapshot_dir: Callable[[], Path] | None,
        load: Callable[[Path], Inventory],
        open_snapshot: Callable[[Path], object],
        selected_policy: Callable[[], GuardrailPolicy | None],
        settings: LibrarySettings | None = None,
        colors: StateColors | None = None,
        status: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(window)
        self.context = context
        self.window = window
        self._snapshot_dir = snapshot_dir
        self._load = load
        self._open_snapshot = open_snapshot
        self._selected_policy = selected_policy
        self.settings = settings
        self.colors = colors
        self._status = status or (lambda _text: None)
        self.library_dialog: LibraryDialog | None = None
        self.export_dialog: ExportDialog | None = None
        self.what_if_wizard: Any = None  #: the open what-if PolicyWizard, if any
        self.drift_dialogs: list[DriftDialog] = []
        self._background: set[asyncio.Future[None]] = set()  #: retention after a save

    def library(self) -> SnapshotLibrary | None:
        """The snapshot library (None when the window was given no library folder)."""
        return SnapshotLibrary(self._snapshot_dir()) if self._snapshot_dir is not None else None

    # ------------------------------------------------------------------------------ library

    def open_library(self) -> LibraryDialog | None:
        """Open the snapshot library browser (one at a time)."""
        from fcdesk.views.library_dialog import LibraryDialog

        library = self.library()
        if library is None:
            return None
        dialog = self.library_dialog
        if _showing(dialog):
            dialog.raise_()  # type: ignore[union-attr]
            dialog.activateWindow()  # type: ignore[union-attr]
            return dialog
        dialog = LibraryDialog(
            library,
            self.window,
            open_path=lambda: self.context.info.path,
            settings=self.settings,
            colors=self.colors,
        )
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.openRequested.connect(self._open_snapshot)
        dialog.compareRequested.connect(self.compare)
        dialog.labelChanged.connect(self._label_changed)
        self.library_dialog = dialog
        dialog.show()
        return dialog

    def refresh_library(self) -> None:
        """List the library again in the open browser (a snapshot was opened, saved or deleted)."""
        if _showing(self.library_dialog):
            self.library_dialog.refresh()  # type: ignore[union-attr]

    def _label_changed(self, path: Path, label: str) -> None:
        info = self.context.info
        if info.path is not None and not info.live and Path(path).absolute() == info.path.absolute():
            self.context.set_info(replace(info, label=label))

    # ------------------------------------------------------------------------------ drift

    def compare(self, first: Side, second: Side) -> DriftDialog:
        """Open a drift view of two snapshots; the one open in the window is not read again."""
        from fcdesk.views.drift_dialog import DriftDialog, Side

        info = self.context.info
        shown = info.path.absolute() if info.path is not None else None
        sides = [
            Side(self.context.inventory, side.label or info.label)
            if isinstance(side.source, Path) and side.source.absolute() == shown
            else side
            for side in (first, second)
        ]
        dialog = DriftDialog(self._load, self.window, colors=self.colors, settings=self.settings)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.drift_dialogs = [d for d in self.drift_dialogs if shiboken6.isValid(d)] + [dialog]
        dialog.show()
        dialog.compare(*sides)
        return dialog

    @asyncSlot()
    async def compare_with_previous(self) -> None:
        """The data shown against the newest older snapshot of the same tenant in the library."""
        from fcdesk.views.drift_dialog import Side

        library = self.library()
        if library is None:
            return
        meta, info = self.context.inventory.meta, self.context.info
        try:
            entries = await asyncio.to_thread(library.entries)
        except OSError as exc:
            self._tell("Compare with previous", f"The library could not be read: {exc.strerror or exc}.")
            return
        previous = previous_entry(entries, meta, info.path)
        if previous is None or previous.meta is None:
            tenant = meta.tenant_name or meta.tenant_id or "this tenant"
            self._tell(
                "Compare with previous",
                f"There is no snapshot of {tenant} older than the one shown ({as_of(meta.captured_at)}) "
                "in the library: refresh again later, or import an older .fcsnap file.",
            )
            return
        label = "" if info.live else (info.label or meta.label)
        self.compare(Side(previous.path, previous.meta.label), Side(self.context.inventory, label))

    def _tell(self, title: str, text: str) -> None:
        ok = QMessageBox.StandardButton.Ok
        box = QMessageBox(QMessageBox.Icon.Information, title, text, ok, self.window)
        box.setObjectName("windowNotice")
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    # ------------------------------------------------------------------------------ reports

    def open_export(self) -> ExportDialog:
        """Open the report export dialog for the data shown (one at a time)."""
        from fcdesk.views.export_dialog import ExportDialog

        dialog = self.export_dialog
        if _showing(dialog):
            dialog.raise_()  # type: ignore[union-attr]
            return dialog  # type: ignore[return-value]
        dialog = ExportDialog(
            self.context.inventory,
            self.context.info,
            self.context.scope,
            self.window,
            library=self.library(),
            load=self._load,
            settings=self.settings,
        )
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.export_dialog = dialog
        dialog.show()
        return dialog

    # ------------------------------------------------------------------------------ what-if

    def open_what_if(self, policy: GuardrailPolicy | None = None) -> Any:
        """The policy wizard in what-if mode on the data in hand, pre-filled from ``policy`` (default:
        the policy selected on the Policies tab). Its Finish only closes: nothing is ever written."""
        from fcdesk.views.policy_wizard import PolicyWizard

        wizard = self.what_if_wizard
        if _showing(wizard):
            wizard.raise_()
            return wizard
        policy = policy if policy is not None else self._selected_policy()
        subs = self.context.scope.subscriptions
        wizard = PolicyWizard(
            self.context.inventory,
            draft=draft_from_policy(policy) if policy is not None else None,
            default_scope=f"/subscriptions/{next(iter(subs))}" if subs and len(subs) == 1 else None,
            rights=None,
            what_if_only=True,
            parent=self.window,
        )
        wizard.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.what_if_wizard = wizard
        wizard.open()
        return wizard

    def what_if_action(self, row: Any) -> QAction | None:
        """The Policies table's context menu entry for a policy row."""
        if row is None:
            return None
        action = QAction("What-if with this policy…")  # no parent: the menu owns it and deletes it
        action.triggered.connect(lambda: self.open_what_if(row.policy))
        return action

    # ------------------------------------------------------------------------------ retention

    def apply_retention_after_save(self, saved: Path) -> asyncio.Future[None] | None:
        """After a refresh was saved: apply the retention rule when it is on (on a worker thread),
        keeping ``saved`` and the snapshot shown. Returns the task (None: the rule is off)."""
        from fcdesk.views.library_dialog import load_retention

        library = self.library()
        retention = load_retention(self.settings)
        if library is None or not retention.enabled:
            return None
        protect = [saved] + ([self.context.info.path] if self.context.info.path is not None else [])
        task = asyncio.ensure_future(self._apply_retention(library, retention, protect))
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def _apply_retention(
        self, library: SnapshotLibrary, retention: Retention, protect: list[Path]
    ) -> None:
        try:
            deleted = await asyncio.to_thread(library.apply_retention, retention, protect)
        except OSError as exc:
            log.warning("Could not apply the retention rule: %s", exc)
            return
        if deleted:
            self._status(f"Retention: deleted {plural(len(deleted), 'old snapshot')}.")
            self.refresh_library()


def _showing(widget: QWidget | None) -> bool:
    return widget is not None and shiboken6.isValid(widget) and widget.isVisible()
