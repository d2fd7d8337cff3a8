"""Helpers for the GUI tests that sign the real window in to the ARM emulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from PySide6.QtWidgets import QMessageBox

from fcdesk.app import demo_snapshot_path, load_inventory
from fcdesk.azure.contract import TOKEN_ENV
from fcdesk.gui import build_window
from fcdesk.store.settings import Settings
from fcdesk.views.main_window import MainWindow
from tests.arm_emulator import ArmEmulator
from tests.test_live_refresh import finish, sign_in


def live_window(qtbot, qapp, qloop, tmp_path: Path) -> Iterator[MainWindow]:
    """The real window on the demo snapshot; signed out and closed afterwards (use as a fixture:
    ``window = pytest.fixture(name="window")(live_window)``)."""
    win = build_window(qapp, load_inventory(demo_snapshot_path()), Settings(tmp_path / "settings.json"))
    win.show()
    yield win
    for box in win.findChildren(QMessageBox):
        box.close()
    with qtbot.waitSignal(win.signedOut, timeout=10000):
        win.sign_out()
    win.close()
    win.deleteLater()


def go_live(qtbot, window: MainWindow, emu: ArmEmulator, monkeypatch, principal: str = "tester") -> None:
    """Sign in through the real dialog with an emulator token and wait for the first refresh."""
    monkeypatch.setenv(TOKEN_ENV, emu.mint_token(principal=principal))
    dialog = sign_in(qtbot, window, emu.url, emu.ca_file)
    with qtbot.waitSignal(window.refreshFinished, timeout=30000):
        finish(qtbot, dialog)
    assert window.context.info.live and window.flows.actions is not None
