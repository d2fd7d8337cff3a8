"""The everyday polish of the window: appearance (light/dark, following the system), Help → About,
Help → Keyboard shortcuts, Help → Open logs folder, the demo banner's Sign in, remembered scope."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QBrush, QColor, QGuiApplication, QKeySequence, QPalette
from PySide6.QtWidgets import QApplication

from fcdesk import __version__
from fcdesk.app import demo_snapshot_path, load_inventory
from fcdesk.gui import build_window, file_locations
from fcdesk.models.matrix import CONTROL_COLUMN_OFFSET
from fcdesk.models.palette import DARK, LIGHT, colors_for
from fcdesk.store.settings import Settings
from fcdesk.views.about_dialog import about_text
from fcdesk.views.shortcuts_dialog import ShortcutsDialog, all_shortcuts
from fcdesk.views.theme import Appearance, ThemeController, palette_is_dark
from fcdesk.views.widgets import PlainLabel


@pytest.fixture
def restore_appearance(qapp: QApplication) -> Iterator[None]:
    """Theme switches change the whole application: put the style and palette back afterwards."""
    style, palette = qapp.style().name(), QPalette(qapp.palette())
    yield
    from PySide6.QtWidgets import QStyleFactory

    if qapp.style().name().lower() != style.lower():
        qapp.setStyle(QStyleFactory.create(style))
    qapp.setPalette(palette)


@pytest.fixture
def window(qtbot, qapp, tmp_path: Path, restore_appearance):
    win = build_window(qapp, load_inventory(demo_snapshot_path()), Settings(tmp_path / "settings.json"))
    qtbot.addWidget(win)
    return win


# ------------------------------------------------------------------------------------ appearance


def test_colors_switch_in_place_so_models_paint_the_new_theme(window, qtbot) -> None:
    """One shared colours object: switching to dark changes what the guardrail matrix paints, and the
    choice is a checked menu item that is remembered."""
    theme = window.services.theme
    assert theme is not None and theme.appearance is Appearance.SYSTEM and not theme.dark
    tab = window.tab("guardrails")

    def background() -> QColor:
        assert tab.rows_shown() > 0  # loads a stale tab
        value = tab.table.proxy.index(0, CONTROL_COLUMN_OFFSET).data(Qt.ItemDataRole.BackgroundRole)
        return value.color() if isinstance(value, QBrush) else QColor(value)

    light = background()
    assert light.isValid() and light.lightness() > 128
    with qtbot.waitSignal(theme.changed, timeout=1000) as blocker:
        window.appearance_actions[Appearance.DARK].trigger()
    assert blocker.args == [True]
    assert palette_is_dark(QGuiApplication.palette())
    assert QApplication.style().name().lower() == "fusion"
    dark = background()
    assert dark != light and dark.lightness() < 128
    assert window.services.colors.not_set == DARK.not_set and LIGHT.not_set.lightness() > 128  # constants untouched
    assert window.appearance_actions[Appearance.DARK].isChecked()
    assert DARK.block_low.name() in tab.legend_chips[0].styleSheet()  # the legend follows the cells
    window.show()
    muted = [w for w in window.findChildren(PlainLabel) if w.property("muted") and w.isVisible()]
    assert muted  # secondary text stays readable: light grey on the dark window
    qtbot.waitUntil(lambda: all(w.palette().color(QPalette.ColorRole.WindowText).lightness() > 128 for w in muted))
    # the banner re-tints when Qt delivers the palette change
    qtbot.waitUntil(lambda: "#1d2b3f" in window.source_banner.styleSheet(), timeout=1000)
    window.set_appearance(Appearance.SYSTEM)
    assert not palette_is_dark(QGuiApplication.palette()) and not theme.dark
    qtbot.waitUntil(lambda: "#e5effb" in window.source_banner.styleSheet(), timeout=1000)
    window.set_appearance(Appearance.DARK)
    window.save_state()
    assert Settings(window.services.settings.path).get("appearance") == "dark"


def test_appearance_choice_is_restored_and_light_forces_a_light_palette(qapp, tmp_path: Path, restore_appearance) -> None:
    settings = Settings(tmp_path / "s.json")
    settings.set("appearance", "light")
    colors = colors_for(True)  # as if the system were dark
    theme = ThemeController(qapp, colors, settings)
    assert theme.appearance is Appearance.LIGHT and not theme.dark
    assert colors.not_set == LIGHT.not_set
    assert not palette_is_dark(qapp.palette())
    settings.set("appearance", "sepia")  # unknown value: follow the system
    assert ThemeController(qapp, colors_for(False), settings).appearance is Appearance.SYSTEM


# ------------------------------------------------------------------------------------ help menu


def test_about_shows_the_one_version_and_where_files_live(window, qtbot) -> None:
    opened: list[QUrl] = []
    window.services.open_url = lambda url: opened.append(url) or True
    dialog = window.open_about()
    qtbot.addWidget(dialog)
    assert dialog.windowTitle() == "About fcdesk"
    text = dialog.copy_details()
    assert text.startswith(f"fcdesk {__version__}: Foundry Compliance Desk")
    assert QGuiApplication.clipboard().text() == text
    locations = dict(file_locations())
    for name, path in locations.items():
        assert f"{name}: {path}" in text
    assert str(locations["Logs"]).startswith(str(Path.cwd().anchor))  # absolute paths
    show_logs = dialog.findChild(type(dialog.copy_button), "showLogs")
    show_logs.click()
    assert opened == [QUrl.fromLocalFile(str(locations["Logs"]))]
    assert "Python: " in about_text([]) and "Qt: " in about_text([])


def test_shortcuts_dialog_lists_the_real_actions(window, qtbot) -> None:
    dialog = window.open_shortcuts()
    qtbot.addWidget(dialog)
    assert isinstance(dialog, ShortcutsDialog)
    native = QKeySequence.SequenceFormat.NativeText
    assert dialog.keys_for("Filter rows") == QKeySequence(QKeySequence.StandardKey.Find).toString(native)
    assert dialog.keys_for("Refresh") == QKeySequence(QKeySequence.StandardKey.Refresh).toString(native)
    assert dialog.keys_for("Export report…") == QKeySequence("Ctrl+E").toString(native)
    assert dialog.keys_for("Guardrails") == QKeySequence("Ctrl+3").toString(native)
    assert dialog.keys_for("Keyboard shortcuts").startswith(QKeySequence("Ctrl+/").toString(native))
    # a shortcut added to a menu later appears without touching the dialog
    window.audit_action.setShortcut(QKeySequence("Ctrl+Shift+A"))
    assert any(s.action == "Audit log…" for s in all_shortcuts(window.menuBar()))
    assert dialog.apply_filter("export") == 1
    assert dialog.apply_filter("") == len(dialog.shortcuts)
    groups = {s.group for s in dialog.shortcuts}
    assert {"File", "View", "Help", "Tables"} <= groups


def test_open_logs_folder_creates_and_opens_it(window, isolated_user_dirs) -> None:
    opened: list[QUrl] = []
    window.services.open_url = lambda url: opened.append(url) or True
    assert window.open_logs_folder() is True
    logs = isolated_user_dirs["data"] / "logs"
    assert logs.is_dir() and opened == [QUrl.fromLocalFile(str(logs))]
    window.services.open_url = lambda url: False  # no file manager: say where the logs are
    assert window.open_logs_folder() is False
    assert str(logs) in window.statusBar().currentMessage()


# ------------------------------------------------------------------------------------ first run, scope


def test_demo_banner_says_it_is_a_demo_and_offers_sign_in(window, qtbot) -> None:
    banner = window.source_banner
    assert "demo" in banner.label.text() and "nothing here is your data" in banner.label.text()
    assert banner.button is not None and banner.button.text() == "Sign in…"
    window.show()
    banner.button.click()
    assert window.sign_in_dialog is not None and window.sign_in_dialog.isVisible()
    window.sign_in_dialog.reject()


def test_scope_filters_and_each_tabs_view_are_remembered(qtbot, qapp, tmp_path: Path, restore_appearance) -> None:
    path = tmp_path / "settings.json"
    loaded = load_inventory(demo_snapshot_path())
    first = build_window(qapp, loaded, Settings(path))
    qtbot.addWidget(first)
    sandbox = next(s for s in loaded.inventory.subscriptions.values() if s.display_name == "Contoso Research Sandbox")
    first.set_subscription(sandbox.subscription_id)
    first.project_combo.setCurrentIndex(1)
    project = first.project_combo.currentData()
    rails = first.tab("guardrails")
    rails.filter_bar.edit.setText("gpt")
    rails.table.setColumnWidth(0, 77)
    rails.table.sortByColumn(0, Qt.SortOrder.DescendingOrder)
    first.close()
    second = build_window(qapp, loaded, Settings(path))
    qtbot.addWidget(second)
    assert second.subscription_combo.currentData() == sandbox.subscription_id.lower()
    assert second.project_combo.currentData() == project
    assert second.context.scope.project_id == project
    again = second.tab("guardrails")
    assert again.filter_bar.edit.text() == "gpt" and again.table.columnWidth(0) == 77
    header = again.table.horizontalHeader()
    assert (header.sortIndicatorSection(), header.sortIndicatorOrder()) == (0, Qt.SortOrder.DescendingOrder)


HIGH_DPI_PROBE = r"""
import json, sys
from fcdesk.app import demo_snapshot_path, load_inventory
from fcdesk.gui import build_window, make_app
app = make_app()
window = build_window(app, load_inventory(demo_snapshot_path()), None)
window.resize(800, 600)
window.show()
app.processEvents()
shot = window.grab()
about = window.open_about()
app.processEvents()
from PySide6.QtWidgets import QLabel
pixmap = about.findChild(QLabel, "aboutIcon").pixmap()
print(json.dumps({"dpr": shot.devicePixelRatio(), "width": shot.width(), "logical": window.width(), "icon": [pixmap.width(), pixmap.devicePixelRatio()]}))
"""


def test_crisp_at_200_percent_scale(tmp_path: Path) -> None:
    """At a 2× scale factor the app icon in About gets 128 physical pixels for its 64-pixel slot
    (from the SVG or the 128 px PNG, never a 64 px image scaled up), and grabs are at 2×."""
    import json
    import os
    import subprocess
    import sys

    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "QT_SCALE_FACTOR": "2"}
    out = subprocess.run(
        [sys.executable, "-c", HIGH_DPI_PROBE], env=env, capture_output=True, text=True, timeout=120, check=True
    )
    probe = json.loads(out.stdout.strip().splitlines()[-1])
    assert probe["dpr"] == 2.0 and probe["width"] == 2 * probe["logical"] > 0
    assert probe["icon"] == [128, 2.0]


def test_a_snapshot_read_after_start_is_not_called_a_demo_and_gets_the_remembered_scope(
    qtbot, qapp, qloop, tmp_path: Path, restore_appearance
) -> None:
    """A large snapshot opens after the window shows: meanwhile it says "Opening …" (not the demo
    banner with Sign in), closing early keeps the remembered scope, and once read the scope applies."""
    from fcdesk.core.demo import generate
    from fcdesk.store.snapshot import write_snapshot

    path = tmp_path / "tenant.fcsnap"
    meta, records = generate(scale=1, seed=0)
    write_snapshot(path, meta, records)
    settings_path = tmp_path / "settings.json"
    stored = Settings(settings_path)
    inv = load_inventory(path).inventory
    sandbox = next(s for s in inv.subscriptions.values() if s.display_name == "Contoso Research Sandbox")
    stored.set("window/subscription", sandbox.subscription_id.lower())
    stored.save()

    early = build_window(qapp, None, Settings(settings_path), opening=path)
    qtbot.addWidget(early)
    assert early.opening
    assert early.source_banner.label.text().startswith("Opening tenant.fcsnap")
    assert early.source_banner.button is None or not early.source_banner.button.isVisibleTo(early)
    assert "demo" not in early.status_label.text().lower()
    early.close()  # before the file was read
    assert Settings(settings_path).get("window/subscription") == sandbox.subscription_id.lower()

    window = build_window(qapp, None, Settings(settings_path), opening=path)
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.snapshotOpened, timeout=10000):
        window.open_snapshot(path)
    assert not window.opening
    assert window.subscription_combo.currentData() == sandbox.subscription_id.lower()
    assert window.context.scope.subscriptions == frozenset({sandbox.subscription_id.lower()})
    assert "Opening" not in window.source_banner.label.text()


def test_tab_switching_keys_work_with_the_focus_in_a_table(window, qtbot) -> None:
    window.show()
    qtbot.waitExposed(window)
    window.windowHandle().requestActivate()  # window shortcuts need the active window
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=2000)
    table = window.tab("policies").table
    table.setFocus()
    qtbot.keyClick(table, Qt.Key.Key_Tab, Qt.KeyboardModifier.ControlModifier)
    assert window.tabs.currentWidget() is window.tab("assets")
    qtbot.keyClick(window.tab("assets").table, Qt.Key.Key_PageUp, Qt.KeyboardModifier.ControlModifier)
    assert window.tabs.currentWidget() is window.tab("policies")
    qtbot.keyClick(window.tab("policies").table, Qt.Key.Key_PageUp, Qt.KeyboardModifier.ControlModifier)
    assert window.tabs.currentWidget() is window.tab("security")  # wraps around


def test_menu_shortcuts_win_over_the_filter_fields_keys(window) -> None:
    """Some platforms' key schemes make Ctrl+E / Ctrl+D line-editing keys, which a line edit claims
    before shortcuts run; in a filter field the window's menu shortcuts still fire. Shown with a key
    every line edit claims (Ctrl+Z, undo) made a menu shortcut; other keys stay the field's."""
    from PySide6.QtCore import QEvent
    from PySide6.QtGui import QKeyEvent

    edit = window.tab("guardrails").filter_bar.edit

    def claimed(key: Qt.Key) -> bool:
        event = QKeyEvent(QEvent.Type.ShortcutOverride, key, Qt.KeyboardModifier.ControlModifier)
        event.ignore()  # as Qt sends it: the focus widget accepts it to keep the key
        QApplication.sendEvent(edit, event)
        return event.isAccepted()

    assert claimed(Qt.Key.Key_Z)  # the field's own undo, while no menu uses the key
    undo_all = window.menuBar().actions()[1].menu().addAction("Undo everything")
    undo_all.setShortcut(QKeySequence("Ctrl+Z"))
    assert not claimed(Qt.Key.Key_Z)  # now the menu's
    assert not claimed(Qt.Key.Key_E) and window.export_action.shortcut().toString() == "Ctrl+E"


@pytest.mark.qt_log_ignore("This plugin does not support raise")  # offscreen: raise_() is a no-op
def test_one_shortcuts_dialog_at_a_time_and_the_theme_lives_with_its_window(window, qtbot) -> None:
    first = window.open_shortcuts()  # a child of the window, deleted when closed
    assert window.open_shortcuts() is first
    first.close()
    assert window.services.theme.parent() is window


def test_back_to_system_restores_a_native_style_and_its_palette(qapp, qtbot, restore_appearance) -> None:
    """On a platform whose own style is not Fusion (Windows, macOS), Dark switches to Fusion and
    "Follow system" puts the native style back with the platform palette (nothing forced)."""
    from PySide6.QtWidgets import QStyleFactory

    qapp.setStyle(QStyleFactory.create("Windows"))
    native = QPalette(qapp.palette())
    theme = ThemeController(qapp, colors_for(False), None)
    theme.set_appearance(Appearance.DARK)
    assert qapp.style().name().lower() == "fusion" and palette_is_dark(qapp.palette())
    theme.set_appearance(Appearance.SYSTEM)
    assert qapp.style().name().lower() == "windows"
    assert qapp.palette().color(QPalette.ColorRole.Window) == native.color(QPalette.ColorRole.Window)
    # the platform turns dark: its scheme hint, then its palette; fcdesk follows on the next turn
    seen: list[bool] = []
    theme.changed.connect(seen.append)
    qapp.setPalette(QPalette(QColor("#202124")))
    qapp.styleHints().colorSchemeChanged.emit(Qt.ColorScheme.Dark)
    qtbot.waitUntil(lambda: seen == [True], timeout=1000)
    assert theme.dark


def test_an_unreadable_startup_snapshot_gives_way_to_the_demo(qtbot, qapp, qloop, tmp_path: Path, restore_appearance) -> None:
    """At start the stored snapshot turns out unreadable: the window says why, stops saying
    "Opening…", and shows the demo; the remembered scope is not applied to the demo."""
    import asyncio

    from PySide6.QtWidgets import QMessageBox

    from fcdesk.gui import open_and_wait

    bad = tmp_path / "big.fcsnap"
    bad.write_bytes(b"SQLite format 3\x00" + b"\x00" * 200)
    settings_path = tmp_path / "settings.json"
    stored = Settings(settings_path)
    stored.set("window/subscription", "00000000-0000-0000-0000-0000000000aa")
    stored.save()
    window = build_window(qapp, None, Settings(settings_path), opening=bad)
    qtbot.addWidget(window)
    assert window.opening

    first = asyncio.ensure_future(open_and_wait(window, bad))
    qtbot.waitUntil(first.done, timeout=10000)
    assert first.result() is False and not window.opening
    assert "Opening" not in window.source_banner.label.text()
    box = window.findChild(QMessageBox)
    assert box is not None and "big.fcsnap" in box.text()
    box.close()

    second = asyncio.ensure_future(open_and_wait(window, demo_snapshot_path()))
    qtbot.waitUntil(second.done, timeout=10000)
    assert second.result() is True
    assert "made-up tenant" in window.source_banner.label.text()
    assert window.subscription_combo.currentData() is None  # "All subscriptions"


def test_a_crash_before_the_window_exists_is_in_the_log(
    monkeypatch: pytest.MonkeyPatch, isolated_user_dirs: dict[str, Path]
) -> None:
    """A windowed build has no stderr: a failure before the error dialog exists must reach the log."""
    import fcdesk.gui

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("the window could not be built")

    monkeypatch.setattr(fcdesk.gui, "build_window", broken)
    # it would replace pytest-qt's Qt message handler for the rest of the session
    monkeypatch.setattr(fcdesk.gui, "install_qt_log_bridge", lambda: None)
    with pytest.raises(RuntimeError, match="could not be built"):
        fcdesk.gui.run_gui(demo_snapshot_path())
    log = (isolated_user_dirs["data"] / "logs" / "fcdesk.log").read_text(encoding="utf-8")
    assert "CRITICAL fcdesk.gui: fcdesk stopped on an unexpected error" in log
    assert "RuntimeError: the window could not be built" in log and "Traceback" in log


def test_shortcuts_read_as_people_type_them(window, qtbot) -> None:
    dialog = window.open_shortcuts()
    assert "Backtab" not in " ".join(s.keys for s in dialog.shortcuts)
    previous = dialog.keys_for("Previous tab")
    assert previous is not None and previous.startswith(
        QKeySequence("Ctrl+Shift+Tab").toString(QKeySequence.SequenceFormat.NativeText)
    )
    copy = next(s for s in dialog.shortcuts if s.group == "Tables" and s.action.startswith("Copy"))
    assert copy.keys == QKeySequence(QKeySequence.StandardKey.Copy).toString(QKeySequence.SequenceFormat.NativeText)
    dialog.close()
