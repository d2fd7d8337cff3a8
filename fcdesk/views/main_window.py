"""The main window: scope filters, the four workspace tabs, a Details dock and a status bar."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from PySide6.QtCore import QByteArray, Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSizePolicy,
    QStackedWidget,
    QTabWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)
from qasync import asyncSlot

from fcdesk import __version__
from fcdesk.core.inventory import ALL, Inventory, Scope
from fcdesk.core.records import Source
from fcdesk.models.palette import StateColors
from fcdesk.models.workspace import SnapshotInfo, WorkspaceContext
from fcdesk.views.base import WorkspaceTab
from fcdesk.views.guardrails_tab import GuardrailsTab
from fcdesk.views.policies_tab import AssetsTab, PoliciesTab
from fcdesk.views.security_tab import SecurityTab
from fcdesk.views.widgets import Banner, BannerKind, PlainLabel

log = logging.getLogger(__name__)

SNAPSHOT_FILTER = "fcdesk snapshots (*.fcsnap);;All files (*)"


class SettingsStore(Protocol):
    """What the window needs from settings (injected; ``fcdesk.store.settings.Settings`` fits)."""

    def get(self, key: str, default: object = None) -> object: ...
    def set(self, key: str, value: object) -> None: ...
    def get_bytes(self, key: str) -> bytes | None: ...
    def set_bytes(self, key: str, value: bytes) -> None: ...
    def save(self) -> None: ...


class SnapshotOpenError(Exception):
    """Raised by the loader with a message fit for the user (no traceback)."""


@dataclass(slots=True)
class WindowServices:
    """Everything the window uses from outside the GUI, injected by the composition root."""

    #: blocking: reads and builds an inventory (run on a worker thread by the window)
    load_snapshot: Callable[[Path], tuple[Inventory, SnapshotInfo]]
    settings: SettingsStore | None = None
    colors: StateColors | None = None
    snapshot_dir: Callable[[], Path] | None = None


def _relative(when: datetime, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    secs = (now - when).total_seconds()
    if secs < 0:
        return "in the future"
    if secs < 90:
        return "just now"
    if secs < 5400:
        return f"{round(secs / 60)} min ago"
    if secs < 48 * 3600:
        return f"{round(secs / 3600)} h ago"
    return f"{round(secs / 86400)} days ago"


class MainWindow(QMainWindow):
    """Signals:
    snapshotOpened(str): a snapshot file was opened successfully (its path).
    openFailed(str): opening a snapshot failed (the user-facing message).
    """

    snapshotOpened = Signal(str)
    openFailed = Signal(str)

    def __init__(self, context: WorkspaceContext, services: WindowServices, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.context = context
        self.services = services
        self._loading: asyncio.Task[None] | None = None
        self.setWindowTitle("fcdesk")
        self.resize(1480, 900)
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowTabbedDocks)

        self._build_toolbar()
        self._build_tabs()
        self._build_dock()
        self._build_menus()
        self._build_statusbar()

        context.inventoryChanged.connect(self._on_inventory_changed)
        context.scopeChanged.connect(self._update_status)
        self._on_inventory_changed()
        self._restore_state()

    # ------------------------------------------------------------------------------ building

    def _build_toolbar(self) -> None:
        bar = QToolBar("Scope", self)
        bar.setObjectName("scopeToolbar")
        bar.setMovable(False)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, bar)
        bar.addWidget(QLabel(" Subscription "))
        self.subscription_combo = QComboBox(bar)
        self.subscription_combo.setObjectName("subscriptionFilter")
        self.subscription_combo.setAccessibleName("Subscription filter")
        self.subscription_combo.setMinimumContentsLength(28)
        self.subscription_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        bar.addWidget(self.subscription_combo)
        bar.addWidget(QLabel("  Project "))
        self.project_combo = QComboBox(bar)
        self.project_combo.setObjectName("projectFilter")
        self.project_combo.setAccessibleName("Project filter")
        self.project_combo.setMinimumContentsLength(28)
        self.project_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.project_combo.setToolTip(
            "Deployments belong to the Foundry resource (account), so a project shows its account's deployments."
        )
        bar.addWidget(self.project_combo)
        spacer = QWidget(bar)
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        bar.addWidget(spacer)
        self.refresh_action = QAction("Refresh", self)
        self.refresh_action.setShortcut(QKeySequence.StandardKey.Refresh)
        self.refresh_action.setEnabled(False)
        self.refresh_action.setToolTip("Offline snapshot: sign in to refresh from Azure")
        bar.addAction(self.refresh_action)
        self.subscription_combo.currentIndexChanged.connect(self._on_subscription_changed)
        self.project_combo.currentIndexChanged.connect(self._on_project_changed)

    def _build_tabs(self) -> None:
        central = QWidget(self)
        lay = QVBoxLayout(central)
        lay.setContentsMargins(8, 6, 8, 0)
        lay.setSpacing(6)
        self.source_banner = Banner(BannerKind.INFO, central)
        self.source_banner.setObjectName("sourceBanner")
        self.error_banner = Banner(BannerKind.WARNING, central)
        self.error_banner.setObjectName("errorBanner")
        lay.addWidget(self.source_banner)
        lay.addWidget(self.error_banner)
        self.tabs = QTabWidget(central)
        self.tabs.setObjectName("workspaceTabs")
        self.tabs.setDocumentMode(True)
        colors = self.services.colors
        self.workspace_tabs: list[WorkspaceTab] = [
            PoliciesTab(self.context, colors=colors),
            AssetsTab(self.context, colors=colors),
            GuardrailsTab(self.context, colors=colors),
            SecurityTab(self.context, colors=colors),
        ]
        for tab in self.workspace_tabs:
            self.tabs.addTab(tab, tab.title())
            tab.titleChanged.connect(lambda text, t=tab: self.tabs.setTabText(self.tabs.indexOf(t), text))
            tab.switchRequested.connect(self.show_tab)
        lay.addWidget(self.tabs, 1)
        self.setCentralWidget(central)
        self.tabs.currentChanged.connect(self._on_tab_changed)

    def _build_dock(self) -> None:
        self.details_dock = QDockWidget("Details", self)
        self.details_dock.setObjectName("detailsDock")
        self.details_dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
            | QDockWidget.DockWidgetFeature.DockWidgetClosable
        )
        self.details_stack = QStackedWidget(self.details_dock)
        for tab in self.workspace_tabs:
            self.details_stack.addWidget(tab.detail)
        self.details_dock.setWidget(self.details_stack)
        self.details_dock.setMinimumWidth(360)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.details_dock)
        self.resizeDocks([self.details_dock], [500], Qt.Orientation.Horizontal)

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        open_act = file_menu.addAction("&Open snapshot…")
        open_act.setShortcut(QKeySequence.StandardKey.Open)
        open_act.triggered.connect(self._choose_snapshot)
        file_menu.addSeparator()
        quit_act = file_menu.addAction("&Quit")
        quit_act.setShortcut(QKeySequence("Ctrl+Q"))  # StandardKey.Quit is unbound on some platforms
        quit_act.triggered.connect(self.close)

        view_menu = self.menuBar().addMenu("&View")
        for i, tab in enumerate(self.workspace_tabs):
            act = view_menu.addAction(tab.base_title)
            act.setShortcut(QKeySequence(f"Ctrl+{i + 1}"))
            act.triggered.connect(lambda _=False, k=tab.key: self.show_tab(k))
        view_menu.addSeparator()
        find = view_menu.addAction("&Filter rows")
        find.setShortcut(QKeySequence.StandardKey.Find)
        find.triggered.connect(self.focus_filter)
        view_menu.addAction(self.details_dock.toggleViewAction())

        help_menu = self.menuBar().addMenu("&Help")
        about = help_menu.addAction("&About fcdesk")
        about.triggered.connect(self._about)

    def _build_statusbar(self) -> None:
        self.status_label = PlainLabel("", wrap=False)
        self.status_label.setObjectName("statusSource")
        self.statusBar().addWidget(self.status_label, 1)

    # ------------------------------------------------------------------------------ scope filters

    def _fill_filters(self) -> None:
        inv = self.context.inventory
        scope = self.context.scope
        self.subscription_combo.blockSignals(True)
        self.subscription_combo.clear()
        subs = inv.scoped_subscriptions(ALL)
        self.subscription_combo.addItem(f"All subscriptions ({len(subs)})", None)
        for sub in subs:
            self.subscription_combo.addItem(sub.display_name, sub.subscription_id.lower())
            self.subscription_combo.setItemData(
                self.subscription_combo.count() - 1, sub.subscription_id, Qt.ItemDataRole.ToolTipRole
            )
        if scope.subscriptions is not None and len(scope.subscriptions) == 1:
            (only,) = tuple(scope.subscriptions)
            idx = self.subscription_combo.findData(only)
            self.subscription_combo.setCurrentIndex(max(idx, 0))
        self.subscription_combo.blockSignals(False)
        self._fill_projects()

    def _fill_projects(self) -> None:
        inv = self.context.inventory
        scope = self.context.scope
        self.project_combo.blockSignals(True)
        self.project_combo.clear()
        self.project_combo.addItem("All projects", None)
        projects = []
        for proj in inv.projects.values():
            acct = inv.accounts.get(proj.account_id.lower())
            sub = acct.subscription_id.lower() if acct else ""
            if scope.subscriptions is None or sub in scope.subscriptions:
                projects.append((f"{acct.name if acct else '?'} / {proj.label}", proj.id))
        for text, pid in sorted(projects, key=lambda p: p[0].lower()):
            self.project_combo.addItem(text, pid)
        if scope.project_id is not None:
            idx = self.project_combo.findData(scope.project_id)
            self.project_combo.setCurrentIndex(max(idx, 0))
        self.project_combo.blockSignals(False)

    def _on_subscription_changed(self, _index: int) -> None:
        sub = self.subscription_combo.currentData()
        self.context.set_scope(Scope(frozenset({sub}) if sub else None, None))
        self._fill_projects()

    def _on_project_changed(self, _index: int) -> None:
        self.context.set_scope(Scope(self.context.scope.subscriptions, self.project_combo.currentData()))

    def set_subscription(self, subscription_id: str | None) -> None:
        idx = self.subscription_combo.findData(subscription_id.lower() if subscription_id else None)
        self.subscription_combo.setCurrentIndex(max(idx, 0))

    # ------------------------------------------------------------------------------ reactions

    def _on_inventory_changed(self) -> None:
        self._fill_filters()
        self._update_status()
        for tab in self.workspace_tabs:
            self.tabs.setTabText(self.tabs.indexOf(tab), tab.title())

    def _update_status(self) -> None:
        inv = self.context.inventory
        meta = inv.meta
        info = self.context.info
        source = {Source.DEMO: "Demo snapshot", Source.LIVE: "Live capture", Source.IMPORT: "Imported snapshot"}.get(
            info.source, "Snapshot"
        )
        when = meta.captured_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        tenant = meta.tenant_name or meta.tenant_id or "unknown tenant"
        parts = [f"{source}: {tenant}", f"as of {when} ({_relative(meta.captured_at)})", f"{meta.cloud} cloud"]
        if info.path is not None:
            parts.append(info.path.name)
        if meta.partial:
            parts.append("partial capture")
        self.status_label.setText("  ·  ".join(parts))
        self.status_label.setToolTip(str(info.path) if info.path else "")
        self.setWindowTitle(f"fcdesk — {tenant} — {source}")
        if info.source is Source.DEMO:
            self.source_banner.show_message(
                f"You are looking at a demo tenant ({tenant}). Everything is read-only; nothing here is your data."
            )
        else:
            self.source_banner.show_message(
                f"Offline snapshot as of {when}: read-only. " if self.context.write_disabled_reason else ""
            )
        if inv.errors:
            scopes = sorted({e.scope.rsplit("/", 1)[-1] or "capture" for e in inv.errors})
            shown = ", ".join(scopes[:3]) + (f" and {len(scopes) - 3} more" if len(scopes) > 3 else "")
            self.error_banner.show_message(
                f"{len(inv.errors)} part(s) of this capture could not be read ({shown}); everything else is shown. "
                f"First: {inv.errors[0].message}"
            )
        else:
            self.error_banner.clear()

    def _on_tab_changed(self, index: int) -> None:
        if 0 <= index < len(self.workspace_tabs):
            self.details_stack.setCurrentWidget(self.workspace_tabs[index].detail)

    def show_tab(self, key: str) -> None:
        for tab in self.workspace_tabs:
            if tab.key == key:
                self.tabs.setCurrentWidget(tab)
                return

    def tab(self, key: str) -> WorkspaceTab:
        for tab in self.workspace_tabs:
            if tab.key == key:
                return tab
        raise KeyError(key)

    def focus_filter(self) -> None:
        current = self.tabs.currentWidget()
        if isinstance(current, WorkspaceTab):
            current.focus_filter()

    # ------------------------------------------------------------------------------ snapshots

    def _choose_snapshot(self) -> None:
        start = str(self.services.snapshot_dir()) if self.services.snapshot_dir else ""
        dialog = QFileDialog(self, "Open snapshot", start, SNAPSHOT_FILTER)
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.fileSelected.connect(lambda p: self.open_snapshot(Path(p)))
        dialog.open()

    @asyncSlot(object)
    async def open_snapshot(self, path: Path) -> None:
        """Read a snapshot on a worker thread; on failure keep what is shown and say why."""
        self.statusBar().showMessage(f"Opening {path.name}…")
        self.setCursor(Qt.CursorShape.BusyCursor)
        try:
            inventory, info = await asyncio.to_thread(self.services.load_snapshot, path)
        except SnapshotOpenError as exc:
            self._open_failed(str(exc))
            return
        finally:
            self.unsetCursor()
            self.statusBar().clearMessage()
        self.context.set_inventory(inventory, info)
        self.snapshotOpened.emit(str(path))

    def _open_failed(self, message: str) -> None:
        self.openFailed.emit(message)
        box = QMessageBox(QMessageBox.Icon.Warning, "Could not open snapshot", message, QMessageBox.StandardButton.Ok, self)
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.open()

    # ------------------------------------------------------------------------------ misc

    def _about(self) -> None:
        box = QMessageBox(self)
        box.setWindowTitle("About fcdesk")
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setText(
            f"fcdesk {__version__}\n\nFoundry Compliance Desk: guardrails, guardrail policies and security "
            "posture of your Azure AI model deployments, online and offline."
        )
        box.open()

    def _restore_state(self) -> None:
        settings = self.services.settings
        if settings is None:
            return
        geometry = settings.get_bytes("window/geometry")
        if geometry:
            self.restoreGeometry(QByteArray(geometry))
        state = settings.get_bytes("window/state")
        if state:
            self.restoreState(QByteArray(state))
        last = settings.get("window/tab")
        if isinstance(last, str):
            self.show_tab(last)

    def save_state(self) -> None:
        settings = self.services.settings
        if settings is None:
            return
        settings.set_bytes("window/geometry", bytes(self.saveGeometry().data()))
        settings.set_bytes("window/state", bytes(self.saveState().data()))
        current = self.tabs.currentWidget()
        if isinstance(current, WorkspaceTab):
            settings.set("window/tab", current.key)
        try:
            settings.save()
        except OSError as exc:
            log.warning("Could not save window settings: %s", exc)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_state()
        super().closeEvent(event)
