"""The main window: scope filters, the four workspace tabs, a Details dock and a status bar.

Live Azure: "Sign in…" opens :class:`~fcdesk.views.signin_dialog.SignInDialog` with a session from
the injected ``session_factory`` (the composition root imports the SDK lazily, on first sign-in);
"Refresh" (F5) runs a :class:`~fcdesk.views.refresh.RefreshController` that fills the tabs as
records arrive, shows its progress in the status bar with a Cancel button, and saves every capture
to the snapshot library through the injected ``save_snapshot`` (then applies the retention rule,
when it is on).

Offline: File → Snapshot library…, Compare with previous, Export report… and Tools → What-if…
(:class:`~fcdesk.views.snapshot_flows.SnapshotFlows`) need no network at all.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import shiboken6
from PySide6.QtCore import QByteArray, QEvent, QObject, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QDesktopServices, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDockWidget,
    QFileDialog,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMenu,
    QMenuBar,
    QMessageBox,
    QSizePolicy,
    QStackedWidget,
    QTabWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)
from qasync import asyncSlot

from fcdesk.azure.contract import Identity, LiveSession
from fcdesk.core.gcpause import freeze_long_lived, paused_gc
from fcdesk.core.inventory import ALL, Inventory, Scope
from fcdesk.core.policy import GuardrailPolicy
from fcdesk.core.records import Source
from fcdesk.core.text import as_of
from fcdesk.models.palette import StateColors
from fcdesk.models.workspace import REFRESH_REASON, SnapshotInfo, WorkspaceContext
from fcdesk.views.base import WorkspaceTab
from fcdesk.views.guardrails_tab import GuardrailsTab
from fcdesk.views.policies_tab import AssetsTab, PoliciesTab
from fcdesk.views.refresh import (
    RefreshController,
    RefreshOutcome,
    RefreshProgress,
    SaveSnapshot,
    describe_capture_errors,
)
from fcdesk.views.security_tab import SecurityTab
from fcdesk.views.signin_dialog import (
    SessionFactory,
    SignInChoice,
    SignInDialog,
    SignInServices,
    StoreSecret,
    remembered_choice,
)
from fcdesk.views.snapshot_flows import SnapshotFlows
from fcdesk.views.theme import Appearance, ThemeController
from fcdesk.views.widgets import Banner, BannerKind, PlainLabel
from fcdesk.views.write_flows import WriteFlows

log = logging.getLogger(__name__)

SNAPSHOT_FILTER = "fcdesk snapshots (*.fcsnap);;All files (*)"
#: How the status bar names the data shown, by where it came from (live data says "Live data").
_SOURCE_WORDS = {
    Source.DEMO: "Demo snapshot",
    Source.LIVE: "Offline snapshot",
    Source.IMPORT: "Imported snapshot",
}


class SettingsStore(Protocol):
    """What the window needs from settings (injected; ``fcdesk.store.settings.Settings`` fits)."""

    def get(self, key: str, default: object = None) -> object: ...
    def set(self, key: str, value: object) -> None: ...
    def get_bytes(self, key: str) -> bytes | None: ...
    def set_bytes(self, key: str, value: bytes) -> None: ...
    def save(self) -> None: ...


class MenuKeysFirst(QObject):
    """Installed on the filter fields: the window's menu shortcuts win over the field's own keys.

    A line edit claims standard editing keys before shortcuts run, and some platforms' key schemes
    make Ctrl+E (end of line) and Ctrl+D (delete) such keys, so Export and Compare with previous
    would be dead while the focus is in a filter field, which is where Ctrl+F puts it."""

    def __init__(self, menu_bar: QMenuBar) -> None:
        super().__init__(menu_bar)
        self._menu_bar = menu_bar

    def _menu_keys(self) -> set[str]:
        keys: set[str] = set()
        for top in self._menu_bar.actions():
            menu = top.menu()
            for act in menu.actions() if isinstance(menu, QMenu) else ():
                keys.update(k.toString() for k in act.shortcuts() if not k.isEmpty())
        return keys

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.ShortcutOverride and isinstance(event, QKeyEvent):
            pressed = QKeySequence(event.keyCombination()).toString()
            if pressed in self._menu_keys():
                event.ignore()  # not the field's: let the shortcut fire
                return True
        return False


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
    #: a new, signed-out live session (the composition root imports the SDK on the first call)
    session_factory: SessionFactory | Callable[..., LiveSession] | None = None
    #: blocking: saves a capture into the snapshot library (run on a worker thread)
    save_snapshot: SaveSnapshot | None = None
    #: the auth helpers' keyring writer for a service principal's secret (a coroutine)
    store_secret: StoreSecret | None = None
    #: blocking: imports the live path (SDK) ahead of use; run once on a worker thread
    warm_up: Callable[[], None] | None = None
    #: the writer for a signed-in session (``fcdesk.actions.Actions``); None: live data stays read-only
    actions_factory: Callable[[LiveSession, Identity], Any] | None = None
    #: the audit log every write is appended to (viewable with Tools → Audit log)
    audit_log: Any = None
    #: light/dark appearance (View → Appearance); None: the menu is not offered
    theme: ThemeController | None = None
    #: where fcdesk keeps its files, shown in Help → About ((what, path) pairs)
    locations: Callable[[], Sequence[tuple[str, Path]]] | None = None
    #: the log folder (Help → Open logs folder); None: the item is not offered
    log_dir: Callable[[], Path] | None = None
    #: opens a URL or a local folder (injectable: tests never launch a browser or file manager)
    open_url: Callable[[QUrl], bool] = QDesktopServices.openUrl


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
    signedIn(object): a live session is in use (its Identity).
    signInFailed(str): a silent sign-in at start failed (plain text); the snapshot stays.
    signedOut(): the live session was closed.
    refreshFinished(object): a refresh ended (a RefreshOutcome: complete, partial or cancelled).
    refreshFailed(str): a refresh fetched nothing (plain text); the data shown is unchanged.
    """

    snapshotOpened = Signal(str)
    openFailed = Signal(str)
    signedIn = Signal(object)
    signInFailed = Signal(str)
    signedOut = Signal()
    refreshFinished = Signal(object)
    refreshFailed = Signal(str)

    def __init__(self, context: WorkspaceContext, services: WindowServices, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.context = context
        self.services = services
        self._loading: asyncio.Task[None] | None = None
        self._catch_up_pending = False
        self.session: LiveSession | None = None
        self.identity: Identity | None = None
        self.choice: SignInChoice | None = None
        self.sign_in_dialog: SignInDialog | None = None
        self._closers: set[asyncio.Future[None]] = set()  #: previous sessions being closed
        self._closing_down = False
        self._closing_task: asyncio.Future[None] | None = None
        self._warm: asyncio.Future[None] | None = None
        self.refresher = RefreshController(context, services.save_snapshot, self)
        self._shortcuts_dialog: QDialog | None = None
        self._scope_waiting = False  #: the remembered scope waits for the start-up snapshot
        if services.theme is not None:
            services.theme.setParent(self)  # it follows the system's scheme as long as the window lives
        self.setWindowTitle("fcdesk")
        self.resize(1480, 900)
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowTabbedDocks)

        self._build_toolbar()
        self._build_tabs()
        self._build_dock()
        self._build_statusbar()
        self.flows = WriteFlows(
            context,
            self,
            colors=services.colors,
            audit=services.audit_log,
            status=lambda text: self.statusBar().showMessage(text, 20000),
        )
        self.flows.busyChanged.connect(lambda _busy: self._update_live_actions())
        self.flows.connect_tabs(*self.workspace_tabs)
        self.snapshots = SnapshotFlows(
            context,
            self,
            snapshot_dir=services.snapshot_dir,
            load=lambda path: services.load_snapshot(path)[0],
            open_snapshot=self.open_snapshot,
            selected_policy=self._selected_policy,
            settings=services.settings,
            colors=services.colors,
            status=lambda text: self.statusBar().showMessage(text, 15000),
        )
        self._build_menus()

        context.inventoryChanged.connect(self._on_inventory_changed)
        context.scopeChanged.connect(self._update_status)
        # after the tabs' own handlers: the visible tab has reloaded, hidden ones are stale
        context.inventoryChanged.connect(self._catch_up_tabs)
        context.scopeChanged.connect(self._catch_up_tabs)
        context.infoChanged.connect(self._update_status)
        self.refresher.started.connect(self._on_refresh_started)
        self.refresher.progressChanged.connect(self.refresh_progress.update_progress)
        self.refresher.finished.connect(self._on_refresh_finished)
        self.refresher.failed.connect(self._on_refresh_failed)
        self.refresh_progress.cancelRequested.connect(self.cancel_refresh)
        self._label_at_start()
        self._on_inventory_changed()
        self._update_live_actions()
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
        self.sign_in_action = QAction("Sign in…", self)
        self.sign_in_action.setObjectName("signInAction")
        self.sign_in_action.setToolTip("Sign in to Azure and choose the subscriptions to read")
        self.sign_in_action.triggered.connect(self.open_sign_in)
        bar.addAction(self.sign_in_action)
        self.refresh_action = QAction("Refresh", self)
        self.refresh_action.setObjectName("refreshAction")
        self.refresh_action.setShortcut(QKeySequence.StandardKey.Refresh)
        self.refresh_action.setEnabled(False)
        self.refresh_action.setToolTip("Offline snapshot: sign in to refresh from Azure")
        self.refresh_action.triggered.connect(self.refresh)
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
        # the window's opener, looked up when used (tests swap services.open_url)
        opener = lambda url: self.services.open_url(url)  # noqa: E731
        self.workspace_tabs: list[WorkspaceTab] = [
            PoliciesTab(self.context, colors=colors, open_url=opener),
            AssetsTab(self.context, colors=colors, open_url=opener),
            GuardrailsTab(self.context, colors=colors, open_url=opener),
            SecurityTab(self.context, colors=colors, open_url=opener),
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
        file_menu.addAction(self.sign_in_action)
        file_menu.addAction(self.refresh_action)
        file_menu.addSeparator()
        open_act = file_menu.addAction("&Open snapshot…")
        open_act.setShortcut(QKeySequence.StandardKey.Open)
        open_act.triggered.connect(self._choose_snapshot)
        self.open_action = open_act
        self.library_action = file_menu.addAction("Snapshot &library…")
        self.library_action.setObjectName("libraryAction")
        self.library_action.setShortcut(QKeySequence("Ctrl+L"))
        self.library_action.setToolTip("The snapshots on this computer: open, label, compare, export, delete")
        self.library_action.setEnabled(self.services.snapshot_dir is not None)
        self.library_action.triggered.connect(self.snapshots.open_library)
        self.previous_action = file_menu.addAction("&Compare with previous")
        self.previous_action.setObjectName("compareWithPreviousAction")
        self.previous_action.setShortcut(QKeySequence("Ctrl+D"))
        self.previous_action.setToolTip("What changed since the newest older snapshot of this tenant")
        self.previous_action.setEnabled(self.services.snapshot_dir is not None)
        self.previous_action.triggered.connect(self.snapshots.compare_with_previous)
        file_menu.addSeparator()
        self.export_action = file_menu.addAction("&Export report…")
        self.export_action.setObjectName("exportReportAction")
        self.export_action.setShortcut(QKeySequence("Ctrl+E"))
        self.export_action.setToolTip("Write the data shown as an HTML, CSV, JSON or Excel report")
        self.export_action.triggered.connect(self.snapshots.open_export)
        file_menu.addSeparator()
        quit_act = file_menu.addAction("&Quit")
        quit_act.setShortcut(QKeySequence("Ctrl+Q"))  # StandardKey.Quit is unbound on some platforms
        quit_act.triggered.connect(self.close)

        view_menu = self.menuBar().addMenu("&View")
        for i, tab in enumerate(self.workspace_tabs):
            act = view_menu.addAction(tab.base_title)
            act.setShortcut(QKeySequence(f"Ctrl+{i + 1}"))
            act.triggered.connect(lambda _=False, k=tab.key: self.show_tab(k))
        # Window-wide, so they work with the focus in a table (which would take Ctrl+Tab itself).
        next_tab = view_menu.addAction("&Next tab")
        next_tab.setShortcuts([QKeySequence(QKeySequence.StandardKey.NextChild), QKeySequence("Ctrl+PgDown")])
        next_tab.triggered.connect(lambda: self._step_tab(1))
        prev_tab = view_menu.addAction("&Previous tab")
        prev_tab.setShortcuts([QKeySequence(QKeySequence.StandardKey.PreviousChild), QKeySequence("Ctrl+PgUp")])
        prev_tab.triggered.connect(lambda: self._step_tab(-1))
        view_menu.addSeparator()
        find = view_menu.addAction("&Filter rows")
        find.setShortcut(QKeySequence.StandardKey.Find)
        find.triggered.connect(self.focus_filter)
        view_menu.addAction(self.details_dock.toggleViewAction())

        tools_menu = self.menuBar().addMenu("&Tools")
        self.audit_action = tools_menu.addAction("&Audit log…")
        self.audit_action.setObjectName("auditLogAction")
        self.audit_action.setToolTip("Every change fcdesk made to Azure, with before and after")
        self.audit_action.setEnabled(self.services.audit_log is not None)
        self.audit_action.triggered.connect(self.flows.open_audit_log)
        self.what_if_action = tools_menu.addAction("&What-if…")
        self.what_if_action.setObjectName("whatIfAction")
        self.what_if_action.setToolTip(
            "Try a guardrail policy on the data in hand (the selected policy, or a new one): "
            "which deployments would violate it. Nothing is written."
        )
        self.what_if_action.triggered.connect(lambda: self.snapshots.open_what_if())
        self._policies_tab().table.add_context_action(self.snapshots.what_if_action)

        if self.services.theme is not None:
            view_menu.addSeparator()
            appearance = view_menu.addMenu("&Appearance")
            group = QActionGroup(appearance)
            self.appearance_actions: dict[Appearance, QAction] = {}
            for choice in Appearance:
                act = appearance.addAction(choice.label)
                act.setCheckable(True)
                act.setChecked(choice is self.services.theme.appearance)
                act.setObjectName(f"appearance{choice.value.title()}")
                act.triggered.connect(lambda _=False, c=choice: self.set_appearance(c))
                group.addAction(act)
                self.appearance_actions[choice] = act
            self.services.theme.changed.connect(self._on_theme_changed)

        help_menu = self.menuBar().addMenu("&Help")
        self.shortcuts_action = help_menu.addAction("&Keyboard shortcuts")
        self.shortcuts_action.setObjectName("shortcutsAction")
        self.shortcuts_action.setShortcuts(
            [QKeySequence("Ctrl+/"), QKeySequence(QKeySequence.StandardKey.HelpContents)]
        )
        self.shortcuts_action.triggered.connect(self.open_shortcuts)
        if self.services.log_dir is not None:
            logs = help_menu.addAction("Open &logs folder")
            logs.setObjectName("openLogsAction")
            logs.setToolTip("The log files (tokens and secrets are never written to them)")
            logs.triggered.connect(self.open_logs_folder)
        help_menu.addSeparator()
        self._menu_keys_first = MenuKeysFirst(self.menuBar())
        for tab in self.workspace_tabs:
            for edit in tab.findChildren(QLineEdit):
                edit.installEventFilter(self._menu_keys_first)
        about = help_menu.addAction("&About fcdesk")
        about.setObjectName("aboutAction")
        about.setMenuRole(QAction.MenuRole.AboutRole)
        about.triggered.connect(self.open_about)

    def _build_statusbar(self) -> None:
        self.status_label = PlainLabel("", wrap=False)
        self.status_label.setObjectName("statusSource")
        self.statusBar().addWidget(self.status_label, 1)
        self.refresh_progress = RefreshProgress(self)
        self.statusBar().addPermanentWidget(self.refresh_progress)
        self.account_label = PlainLabel("", wrap=False, muted=True)
        self.account_label.setObjectName("statusAccount")
        self.statusBar().addPermanentWidget(self.account_label)

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
        self._update_status()  # tab titles follow each tab's titleChanged when it reloads

    def _update_status(self) -> None:
        inv = self.context.inventory
        meta = inv.meta
        info = self.context.info
        source = _SOURCE_WORDS.get(info.source, "Snapshot")
        if info.live:
            source = "Live data"
        when = meta.captured_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        tenant = meta.tenant_name or meta.tenant_id or "unknown tenant"
        label = "" if info.live else (info.label or meta.label)
        parts = [f"{source}: {tenant}", f"as of {when} ({_relative(meta.captured_at)})", f"{meta.cloud} cloud"]
        if label:
            parts.append(f"“{label}”")
        if info.path is not None:
            parts.append(info.path.name)
        if info.live and info.label == "refreshing":
            parts.append("refreshing…")
        elif meta.partial:
            parts.append("partial capture")
        if not info.live:
            parts.append("read-only")
        self.status_label.setText("  ·  ".join(parts))
        self.status_label.setToolTip(str(info.path) if info.path else "")
        title = f"fcdesk — {tenant} — {source}"
        if not info.live:
            title += (f" “{label}”" if label else "") + " (read-only)"
        self.setWindowTitle(title)
        if self.opening:
            name = info.path.name if info.path is not None else "the snapshot"
            self.status_label.setText(f"Opening {name}…")
            self.setWindowTitle("fcdesk")
            self.source_banner.show_message(f"Opening {name}: the tabs fill as soon as it is read.")
        elif info.live and info.label == "refreshing":
            self.source_banner.show_message(
                f"Refreshing from Azure ({tenant}): the tabs fill as data arrives."
            )
        elif info.live:
            reason = self.context.write_disabled_reason
            text = f"Live data from Azure as of {when}."
            if reason:
                text += f" Read-only: {reason.lower()}."
            if info.label == "cancelled":
                text += " The refresh was cancelled: what was fetched is shown."
            self.source_banner.show_message(text)
        elif info.source is Source.DEMO:
            self.source_banner.show_message(
                f"This is a demo: {tenant} is a made-up tenant, and nothing here is your data. Sign in to "
                "see your own Azure AI deployments; everything stays read-only until you do.",
                ("Sign in…", self.open_sign_in) if self.services.session_factory is not None else None,
            )
        else:
            which = f"“{label}”" if label else (info.path.name if info.path is not None else "")
            partial = " A partial capture: some of the tenant could not be read." if meta.partial else ""
            which = f"{which} " if which else ""
            self.source_banner.show_message(
                f"Offline snapshot {which}of {tenant}, as of {as_of(meta.captured_at)}: read-only, nothing "
                f"here changes Azure.{partial} Sign in and refresh for live data.",
                ("Snapshot library…", self.snapshots.open_library) if self.services.snapshot_dir else None,
            )
        if inv.errors:
            self.error_banner.show_message(describe_capture_errors(inv.errors, inv.subscription_name))
        else:
            self.error_banner.clear()

    def _catch_up_tabs(self) -> None:
        """Reload stale hidden tabs one per event-loop turn, so timers and paints run in between."""
        if not self._catch_up_pending:
            self._catch_up_pending = True
            QTimer.singleShot(0, self._catch_up_one)

    def _catch_up_one(self) -> None:
        self._catch_up_pending = False
        stale = [t for t in self.workspace_tabs if t.stale]
        if stale:
            stale[0].ensure_fresh()
            if len(stale) > 1:
                self._catch_up_tabs()

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

    def _policies_tab(self) -> PoliciesTab:
        tab = self.tab("policies")
        assert isinstance(tab, PoliciesTab)
        return tab

    def _selected_policy(self) -> GuardrailPolicy | None:
        row = self._policies_tab().table.current_row_object()
        return row.policy if row is not None else None

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
            inventory, info = await asyncio.to_thread(self._load_prepared, path)
        except SnapshotOpenError as exc:
            self._open_failed(str(exc))
            return
        finally:
            self.unsetCursor()
            self.statusBar().clearMessage()
        self.context.set_inventory(inventory, info)
        self.snapshotOpened.emit(str(path))
        self.snapshots.refresh_library()  # the browser marks the snapshot now open

    def _load_prepared(self, path: Path) -> tuple[Inventory, SnapshotInfo]:
        """Worker thread: read the snapshot and derive the rows it will be shown with."""
        with paused_gc():  # no collection may scan the fresh objects before they are frozen
            inventory, info = self.services.load_snapshot(path)
            inventory.prepare(self.context.scope_for(inventory))
            freeze_long_lived()  # see fcdesk.core.gcpause
        library = self.snapshots.library()
        if library is not None and not info.label:
            info = replace(info, label=library.label_of(path, inventory.meta))  # as edited in the library
        return inventory, info

    def _open_failed(self, message: str) -> None:
        if self.opening:  # the start-up snapshot is unreadable: no placeholder "opening" for ever
            self.context.set_info(replace(self.context.info, opening=False, path=None))
            self._stop_waiting_for_scope()  # the remembered scope is not for whatever opens next
        self.openFailed.emit(message)
        box = QMessageBox(QMessageBox.Icon.Warning, "Could not open snapshot", message, QMessageBox.StandardButton.Ok, self)
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.open()

    # ------------------------------------------------------------------------------ labels

    def _label_at_start(self) -> None:
        """The label edited in the library for the snapshot shown at start (a small JSON file)."""
        info, library = self.context.info, self.snapshots.library()
        if library is None or info.live or info.path is None or info.label:
            return
        try:
            label = library.label_of(info.path, self.context.inventory.meta)
        except OSError as exc:  # a label is never worth failing the start for
            log.warning("Could not read the snapshot labels: %s", exc)
            return
        if label:
            self.context.set_info(replace(info, label=label))

    # ------------------------------------------------------------------------------ live Azure

    def sign_in_services(self) -> SignInServices | None:
        factory = self.services.session_factory
        if factory is None:
            return None
        return SignInServices(
            session_factory=factory,
            settings=self.services.settings,
            store_secret=self.services.store_secret,
            prepare=self.prepare_live,
        )

    def open_sign_in(self) -> SignInDialog | None:
        """Open the sign-in wizard (window-modal, ``open()``); on OK the new session refreshes."""
        services = self.sign_in_services()
        if services is None:
            self.statusBar().showMessage("Live Azure is not available in this build.", 8000)
            return None
        if self.sign_in_dialog is not None and self.sign_in_dialog.isVisible():
            self.sign_in_dialog.raise_()
            self.sign_in_dialog.activateWindow()
            return self.sign_in_dialog
        old = self.sign_in_dialog
        if old is not None and old.idle:
            old.deleteLater()
        dialog = SignInDialog(services, self)
        dialog.accepted.connect(lambda d=dialog: self._sign_in_accepted(d))
        self.sign_in_dialog = dialog
        self._start_warm_up()  # while the user fills in the form
        dialog.open()
        return dialog

    def _start_warm_up(self) -> asyncio.Future[None] | None:
        if self.services.warm_up is None:
            return None
        if self._warm is None:
            self._warm = asyncio.ensure_future(asyncio.to_thread(self.services.warm_up))
        return self._warm

    async def prepare_live(self) -> None:
        """Wait until the live path is imported (on a worker thread, once), so that neither the
        sign-in nor the first capture imports the SDK on the GUI thread."""
        warm = self._start_warm_up()
        if warm is not None:
            await asyncio.shield(warm)

    def _sign_in_accepted(self, dialog: SignInDialog) -> None:
        session = dialog.take_session()
        if session is None or dialog.identity is None or dialog.choice is None:
            return
        self.use_session(session, dialog.identity, dialog.choice)
        self.refresh()

    def use_session(self, session: LiveSession, identity: Identity, choice: SignInChoice) -> None:
        """Make ``session`` the window's live session (closing the previous one); say who is signed in."""
        previous = self.session
        if previous is not None and previous is not session:
            if self.refresher.running:
                self.refresher.cancel()
            self._close_later(previous)
        self.session, self.identity, self.choice = session, identity, choice
        factory = self.services.actions_factory
        previous_actions = self.flows.actions
        self.flows.set_actions(factory(session, identity) if factory is not None else None)
        if previous_actions is not None:
            self._closers.add(asyncio.ensure_future(previous_actions.close()))
        tenant = choice.tenant_name or identity.tenant_id
        self.account_label.setText(f"Signed in: {identity.principal} · {tenant}")
        self.account_label.setToolTip(
            f"{identity.method} sign-in · {identity.cloud.label} · token cache: {identity.token_cache}"
        )
        self._update_live_actions()
        self.signedIn.emit(identity)

    def remembered_sign_in(self) -> SignInChoice | None:
        return remembered_choice(self.services.settings)

    def maybe_sign_in_silently(self) -> bool:
        """At start: repeat a remembered non-interactive sign-in (CLI, or the token variable set), refresh.

        Returns whether it started. Otherwise the snapshot stays and the user clicks Sign in.
        """
        choice = self.remembered_sign_in()
        if self.services.session_factory is None or choice is None or not choice.silent_capable():
            return False
        if self.session is not None:
            return False
        self.sign_in_silently(choice)
        return True

    @asyncSlot(object)
    async def sign_in_silently(self, choice: SignInChoice) -> None:
        factory = self.services.session_factory
        if factory is None:
            return
        self.statusBar().showMessage("Signing in to Azure…")
        await self.prepare_live()
        session = factory()
        try:
            identity = await session.sign_in(choice.sign_in_options())
        except asyncio.CancelledError:
            await session.close()
            raise
        except Exception as exc:  # noqa: BLE001 - plain text in the window; the snapshot stays
            log.info("silent sign-in failed: %s", type(exc).__name__)
            await session.close()
            message = " ".join(str(exc).split()) or type(exc).__name__
            self.statusBar().clearMessage()
            self.source_banner.show_message(
                f"Could not sign in to Azure automatically: {message[:300]}",
                ("Sign in…", self.open_sign_in),
            )
            self.signInFailed.emit(message)
            return
        self.statusBar().clearMessage()
        self.use_session(session, identity, choice)
        await self.run_refresh()

    @asyncSlot()
    async def refresh(self) -> None:
        """Capture from Azure into the window (progressively) and the library (F5)."""
        await self.run_refresh()

    async def run_refresh(self) -> None:
        session, choice = self.session, self.choice
        if session is None or choice is None or self.refresher.running or self.flows.busy:
            return
        options = choice.capture_options(self.identity)
        tenant = choice.tenant_name or (self.identity.tenant_id if self.identity else "")
        await self.prepare_live()
        try:
            await self.refresher.run(session, options, tenant_name=tenant)
        finally:
            self.context.set_busy_reason(None)
            self._update_live_actions()

    def cancel_refresh(self) -> None:
        self.refresher.cancel()

    def _on_refresh_started(self) -> None:
        self.refresh_progress.begin("Connecting…")
        self.context.set_busy_reason(REFRESH_REASON)  # its data would replace what a write changed
        self._update_live_actions()

    def _on_refresh_finished(self, outcome: RefreshOutcome) -> None:
        self.refresh_progress.end()
        self.context.set_busy_reason(None)
        result = outcome.result
        how = "cancelled" if result.cancelled else ("partial" if result.meta.partial else "complete")
        saved = f"; saved as {outcome.path.name}" if outcome.path else ""
        if result.cancelled and not result.records:
            saved = "; nothing was fetched, the data shown is unchanged"
        if outcome.save_error:
            saved = f"; NOT saved: {outcome.save_error}"
        self.statusBar().showMessage(
            f"Refresh {how}: {len(result.records):,} records, {result.requests:,} requests "
            f"in {result.seconds:.1f} s{saved}",
            15000,
        )
        self._update_live_actions()
        if outcome.path is not None:
            self.snapshots.apply_retention_after_save(outcome.path)
            self.snapshots.refresh_library()
        self.refreshFinished.emit(outcome)

    def _on_refresh_failed(self, message: str) -> None:
        self.refresh_progress.end()
        self.context.set_busy_reason(None)
        self.error_banner.show_message(f"The refresh failed: {message}")
        self._update_live_actions()
        self.refreshFailed.emit(message)

    def _update_live_actions(self) -> None:
        running = self.refresher.running
        writing = self.flows.busy
        signed_in = self.session is not None
        available = self.services.session_factory is not None
        self.sign_in_action.setEnabled(available and not running)
        self.sign_in_action.setText("Sign in again…" if signed_in else "Sign in…")
        self.refresh_action.setEnabled(signed_in and not running and not writing)
        self.open_action.setEnabled(not running)
        if running:
            self.refresh_action.setToolTip("A refresh is running")
        elif writing:
            self.refresh_action.setToolTip("A change is being written to Azure")
        elif signed_in:
            self.refresh_action.setToolTip("Read the chosen subscriptions from Azure again (F5)")
        else:
            self.refresh_action.setToolTip("Offline snapshot: sign in to refresh from Azure")

    async def shutdown(self) -> None:
        """Stop a refresh and close the live session (awaitable; used on exit and by sign-out)."""
        if self.refresher.running:
            self.refresher.cancel()
            while self.refresher.running:
                await asyncio.sleep(0.02)
        dialog = self.sign_in_dialog
        if dialog is not None and shiboken6.isValid(dialog):
            if dialog.isVisible():
                dialog.reject()
            while shiboken6.isValid(dialog) and not dialog.idle:
                await asyncio.sleep(0.02)
        if self._closers:
            await asyncio.gather(*list(self._closers), return_exceptions=True)
        session, self.session, self.identity = self.session, None, None
        actions = self.flows.actions
        self.flows.set_actions(None)
        await self.context.settle_rights_checks()
        if actions is not None:
            await actions.close()
        if session is not None:
            await session.close()
        self.account_label.setText("")
        self._update_live_actions()

    @asyncSlot()
    async def sign_out(self) -> None:
        await self.shutdown()
        self.signedOut.emit()

    def _close_later(self, session: LiveSession) -> None:
        closing = asyncio.ensure_future(session.close())
        self._closers.add(closing)
        closing.add_done_callback(self._closers.discard)

    # ------------------------------------------------------------------------------ misc

    def open_about(self) -> QDialog:
        from fcdesk.views.about_dialog import AboutDialog

        locations = self.services.locations() if self.services.locations is not None else ()
        dialog = AboutDialog(locations, self, open_url=self.services.open_url)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def open_shortcuts(self) -> QDialog:
        from fcdesk.views.shortcuts_dialog import ShortcutsDialog, all_shortcuts

        dialog = self._shortcuts_dialog
        if dialog is not None and shiboken6.isValid(dialog) and dialog.isVisible():
            dialog.raise_()
            dialog.activateWindow()
            return dialog
        dialog = ShortcutsDialog(all_shortcuts(self.menuBar()), self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()  # modeless: it can stay open beside the window while the keys are tried
        self._shortcuts_dialog = dialog
        return dialog

    def _step_tab(self, step: int) -> None:
        self.tabs.setCurrentIndex((self.tabs.currentIndex() + step) % self.tabs.count())

    def open_logs_folder(self) -> bool:
        if self.services.log_dir is None:
            return False
        folder = self.services.log_dir()
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self.statusBar().showMessage(
                f"Could not create the logs folder {folder}: {exc.strerror or exc}", 15000
            )
            return False
        opened = bool(self.services.open_url(QUrl.fromLocalFile(str(folder))))
        if not opened:
            self.statusBar().showMessage(f"Could not open a file manager. The logs are in {folder}", 20000)
        return opened

    def set_appearance(self, appearance: Appearance) -> None:
        theme = self.services.theme
        if theme is None:
            return
        theme.set_appearance(appearance)
        self.appearance_actions[theme.appearance].setChecked(True)

    def _on_theme_changed(self, _dark: bool) -> None:
        # Models read the shared colours at paint time; tabs that baked colours (legends) rebuild.
        self.source_banner.restyle()
        self.error_banner.restyle()
        for tab in self.workspace_tabs:
            tab.colors_changed()

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
        self._restore_scope(settings)
        for tab in self.workspace_tabs:  # filters, toggles, column widths/order and sorting
            saved = settings.get(f"view/{tab.key}")
            if isinstance(saved, dict):
                tab.restore_view_state(saved)

    @property
    def opening(self) -> bool:
        """The start-up snapshot is still being read (the tabs are empty placeholders)."""
        return self.context.info.opening

    def _restore_scope(self, settings: SettingsStore) -> None:
        """The subscription and project chosen last time, when the data shown still has them (a
        snapshot still opening: once it has opened)."""
        if self.opening:
            if not self._scope_waiting:
                self._scope_waiting = True
                self.snapshotOpened.connect(self._restore_scope_once)
            return
        sub, project = settings.get("window/subscription"), settings.get("window/project")
        if isinstance(sub, str) and self.subscription_combo.findData(sub) > 0:
            self.set_subscription(sub)
        if isinstance(project, str):
            idx = self.project_combo.findData(project)
            if idx > 0:
                self.project_combo.setCurrentIndex(idx)

    def _stop_waiting_for_scope(self) -> None:
        if self._scope_waiting:
            self._scope_waiting = False
            self.snapshotOpened.disconnect(self._restore_scope_once)

    def _restore_scope_once(self, _path: str) -> None:
        self._stop_waiting_for_scope()
        if self.services.settings is not None:
            self._restore_scope(self.services.settings)

    def save_state(self) -> None:
        settings = self.services.settings
        if settings is None:
            return
        settings.set_bytes("window/geometry", bytes(self.saveGeometry().data()))
        settings.set_bytes("window/state", bytes(self.saveState().data()))
        current = self.tabs.currentWidget()
        if isinstance(current, WorkspaceTab):
            settings.set("window/tab", current.key)
        if not self.opening:  # the placeholder's "all subscriptions" is not a choice the user made
            settings.set("window/subscription", self.subscription_combo.currentData())
            settings.set("window/project", self.project_combo.currentData())
        for tab in self.workspace_tabs:
            settings.set(f"view/{tab.key}", tab.view_state())
        try:
            settings.save()
        except OSError as exc:
            log.warning("Could not save window settings: %s", exc)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_state()
        if (self.session is not None or self.refresher.running) and not self._closing_down:
            # Stop the refresh and close the session first (a refresh in flight is saved as
            # cancelled), then close for real. The app quits with the last window, after which
            # nothing asynchronous runs any more.
            event.ignore()
            self._closing_down = True
            self._closing_task = asyncio.ensure_future(self._close_after_shutdown())
            return
        super().closeEvent(event)

    async def _close_after_shutdown(self) -> None:
        try:
            await asyncio.wait_for(self.shutdown(), timeout=5)
        except Exception:  # noqa: BLE001 - closing the window must not fail
            log.warning("Could not stop the live session cleanly", exc_info=True)
        self.close()
