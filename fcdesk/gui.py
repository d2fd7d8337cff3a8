"""Start the window: the QApplication, the qasync loop, and the first snapshot."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from PySide6.QtCore import QSize, Qt, QtMsgType, qInstallMessageHandler
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QMessageBox

from fcdesk import __version__
from fcdesk.app import (
    Loaded,
    demo_snapshot_path,
    live_session_factory,
    load_inventory,
    make_actions,
    quiet_executor_debug_log,
    save_to_library,
    startup_snapshot,
    store_sp_secret,
    warm_up_live,
)
from fcdesk.appinfo import APP_ID, ICON_NAME
from fcdesk.azure.contract import TOKEN_ENV, LiveSession
from fcdesk.core.gcpause import freeze_long_lived
from fcdesk.core.inventory import Inventory
from fcdesk.core.records import RawRecord, SnapshotMeta, Source
from fcdesk.logsetup import configure_logging, register_secret
from fcdesk.models.palette import colors_for
from fcdesk.models.workspace import SnapshotInfo, WorkspaceContext
from fcdesk.resources_path import resource_path
from fcdesk.store import paths
from fcdesk.store.audit import AuditLog
from fcdesk.store.settings import FILE_NAME as SETTINGS_FILE
from fcdesk.store.settings import Settings
from fcdesk.store.snapshot import SnapshotError
from fcdesk.views.error_dialog import ExceptionReporter
from fcdesk.views.main_window import MainWindow, SnapshotOpenError, WindowServices
from fcdesk.views.theme import ThemeController

log = logging.getLogger("fcdesk.gui")

#: Files above this size open on a worker thread after the window is shown.
SYNC_OPEN_LIMIT = 32 * 1024 * 1024


def ensure_platform() -> None:
    """Use the offscreen platform when there is no display (CI, SSH), unless told otherwise."""
    if sys.platform.startswith("linux") and not os.environ.get("QT_QPA_PLATFORM"):
        if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
            os.environ["QT_QPA_PLATFORM"] = "offscreen"


def install_qt_log_bridge(sink: Callable[[QtMsgType, str], None] | None = None) -> None:
    """Route Qt's own messages into Python logging (and optionally to ``sink``)."""
    levels = {
        QtMsgType.QtDebugMsg: logging.DEBUG,
        QtMsgType.QtInfoMsg: logging.INFO,
        QtMsgType.QtWarningMsg: logging.WARNING,
        QtMsgType.QtCriticalMsg: logging.ERROR,
        QtMsgType.QtFatalMsg: logging.CRITICAL,
    }

    def handler(mode: QtMsgType, _context: object, message: str) -> None:
        logging.getLogger("qt").log(levels.get(mode, logging.WARNING), "%s", message)
        if sink is not None:
            sink(mode, message)

    qInstallMessageHandler(handler)


def make_app(argv: list[str] | None = None) -> QApplication:
    ensure_platform()
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        app = QApplication(argv if argv is not None else sys.argv[:1])
    app.setApplicationName("fcdesk")
    app.setApplicationDisplayName("fcdesk")
    app.setApplicationVersion(__version__)
    app.setOrganizationName("fcdesk")
    app.setDesktopFileName(APP_ID)  # the Wayland app id / WM class: matches <APP_ID>.desktop
    app.setWindowIcon(app_icon())
    return app


def app_icon() -> QIcon:
    """The scalable icon plus the hand-checked PNG sizes (crisp at 16-32 px, and shown even where
    Qt's SVG image plugin is missing)."""
    icon = QIcon()
    svg = resource_path("icons/fcdesk.svg")
    if svg.exists():
        icon.addFile(str(svg))
    for size in (16, 24, 32, 48, 64, 128, 256, 512):
        png = resource_path(f"icons/hicolor/{size}x{size}/apps/{ICON_NAME}.png")
        if png.exists():
            icon.addFile(str(png), QSize(size, size))
    return icon


def read_for_window(path: Path) -> tuple[Inventory, SnapshotInfo]:
    """Blocking loader handed to the window; failures become a user-facing SnapshotOpenError."""
    try:
        loaded = load_inventory(path)
    except SnapshotError as exc:
        raise SnapshotOpenError(exc.user_message) from exc
    return loaded.inventory, SnapshotInfo(loaded.path, loaded.source)


def empty_inventory() -> Inventory:
    return Inventory.build(SnapshotMeta(captured_at=datetime.now(UTC), source=Source.DEMO, tenant_name="(loading)"), [])


def build_window(
    app: QApplication,
    loaded: Loaded | None,
    settings: Settings | None,
    *,
    session_factory: Callable[..., LiveSession] | None = live_session_factory,
    save_snapshot: Callable[[SnapshotMeta, list[RawRecord]], Path] | None = save_to_library,
    opening: Path | None = None,
) -> MainWindow:
    """The main window with its services. The Azure SDK is not imported here: ``session_factory``
    imports it on the first sign-in, so the window starts without it. ``opening``: with no
    ``loaded`` data, the snapshot about to be read (``MainWindow.open_snapshot``)."""
    if loaded is not None:
        context = WorkspaceContext(loaded.inventory, SnapshotInfo(loaded.path, loaded.source))
    elif opening is not None:  # a large snapshot is read after the window shows: say so, not "demo"
        context = WorkspaceContext(empty_inventory(), SnapshotInfo(opening, Source.IMPORT, opening=True))
    else:
        context = WorkspaceContext(empty_inventory(), SnapshotInfo(None, Source.DEMO))
    colors = colors_for(False)  # the ThemeController below sets them for the appearance in use
    services = WindowServices(
        load_snapshot=read_for_window,
        settings=settings,
        colors=colors,
        snapshot_dir=paths.snapshot_dir,
        session_factory=session_factory,
        save_snapshot=save_snapshot,
        store_secret=store_sp_secret,
        warm_up=warm_up_live if session_factory is live_session_factory else None,
        actions_factory=make_actions,
        audit_log=AuditLog(),
        theme=ThemeController(app, colors, settings),
        locations=file_locations,
        log_dir=paths.log_dir,
    )
    return MainWindow(context, services)


def file_locations() -> list[tuple[str, Path]]:
    """Where fcdesk keeps its files on this computer (Help → About lists them)."""
    return [
        ("Settings", paths.config_dir() / SETTINGS_FILE),
        ("Snapshots", paths.snapshot_dir()),
        ("Audit log", AuditLog().path),
        ("Logs", paths.log_dir()),
    ]


def _startup_load(path: Path) -> tuple[Loaded | None, str | None]:
    """Load small files now (the window shows with data); big ones later on a worker thread."""
    try:
        if path.exists() and path.stat().st_size > SYNC_OPEN_LIMIT:
            return None, None
        return load_inventory(path), None
    except SnapshotError as exc:
        return None, exc.user_message


async def open_and_wait(window: MainWindow, path: Path) -> bool:
    """Open ``path`` in the window (on a worker thread); True once shown, False if it failed."""
    done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

    def finish(ok: bool) -> None:
        if not done.done():
            done.set_result(ok)

    opened = lambda _p: finish(True)  # noqa: E731
    failed = lambda _m: finish(False)  # noqa: E731
    window.snapshotOpened.connect(opened)
    window.openFailed.connect(failed)
    try:
        window.open_snapshot(path)
        return await done
    finally:
        window.snapshotOpened.disconnect(opened)
        window.openFailed.disconnect(failed)


def run_gui(snapshot: Path | None) -> int:
    configure_logging()  # first: everything after it, Qt's own messages included, reaches the file
    register_secret(os.environ.get(TOKEN_ENV))
    log.info("fcdesk %s starting", __version__)
    try:
        return _run_gui(snapshot)
    except Exception:
        # Before the error dialog is installed, or after it is gone; in a windowed build there is
        # no stderr, so the log file is the only place this can be read.
        log.critical("fcdesk stopped on an unexpected error", exc_info=True)
        raise


def _run_gui(snapshot: Path | None) -> int:
    import qasync

    app = make_app()
    install_qt_log_bridge()
    quiet_executor_debug_log()
    path = startup_snapshot(snapshot)
    loaded, error = _startup_load(path)
    if loaded is None and error is not None and snapshot is not None:
        # The file asked for is unreadable: say so, and show the usual snapshot instead.
        fallback, _ = _startup_load(startup_snapshot(None))
        loaded = fallback
    window = build_window(app, loaded, Settings(), opening=path if loaded is None and error is None else None)
    window.show()
    freeze_long_lived()  # the window, its models and the first inventory stay: see core.gcpause
    if error is not None:
        box = QMessageBox(QMessageBox.Icon.Warning, "Could not open snapshot", error, QMessageBox.StandardButton.Ok, window)
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.open()

    async def amain() -> int:
        # Installed once the qasync loop runs, so its exception handler is covered too.
        reporter = ExceptionReporter(lambda: window, window.open_logs_folder)
        reporter.install()
        app.aboutToQuit.connect(reporter.uninstall)
        closing = asyncio.Event()
        app.aboutToQuit.connect(closing.set)
        if loaded is None and error is None:
            # the stored snapshot first, so a live refresh is not overwritten by it; if it cannot be
            # read (the window says why), the demo rather than an empty window
            if not await open_and_wait(window, path) and path != demo_snapshot_path():
                await open_and_wait(window, demo_snapshot_path())
        # A remembered non-interactive sign-in (Azure CLI, or the token variable set) refreshes in
        # the background; otherwise the stored snapshot stays until the user clicks Sign in.
        window.maybe_sign_in_silently()
        await closing.wait()
        return 0

    if sys.version_info >= (3, 12):
        return asyncio.run(amain(), loop_factory=qasync.QEventLoop)
    return qasync.run(amain())
