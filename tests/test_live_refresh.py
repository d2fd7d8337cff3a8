"""Live refresh in the main window, against the real AzureSession and the ARM emulator.

Sign-in goes through the real dialog with ``AuthMethod.TOKEN`` (``FCDESK_ACCESS_TOKEN`` set to an
emulator token) on a custom cloud pointing at the emulator; every refresh runs on the qasync loop
while the tests spin Qt with ``qtbot.waitSignal``/``waitUntil`` (style A of style-anchors.md §7).
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QLabel, QWizard

from fcdesk.app import demo_snapshot_path, load_inventory
from fcdesk.azure.contract import TOKEN_ENV, AuthMethod
from fcdesk.core.records import Kind, Source
from fcdesk.gui import build_window
from fcdesk.models.workspace import OFFLINE_REASON
from fcdesk.store import paths
from fcdesk.store.library import SnapshotLibrary
from fcdesk.store.settings import Settings
from fcdesk.views.main_window import MainWindow
from fcdesk.views.refresh import RefreshOutcome, UiHeartbeat
from fcdesk.views.signin_dialog import SETTINGS_KEY, SignInChoice
from tests.arm_emulator import ArmEmulator, Faults, Scenario, emulator_process

REPO = Path(__file__).resolve().parents[1]
SANDBOX = "Contoso Research Sandbox"


# ------------------------------------------------------------------------------------ helpers


@pytest.fixture
def window(qtbot, qapp, qloop, tmp_path: Path) -> Iterator[MainWindow]:
    """The real window (real session factory and library). Not handed to ``qtbot.addWidget``: that
    closes widgets before fixtures are torn down, and a signed-in window first closes its session."""
    win = build_window(qapp, load_inventory(demo_snapshot_path()), Settings(tmp_path / "settings.json"))
    win.show()
    yield win
    with qtbot.waitSignal(win.signedOut, timeout=10000):  # stops a refresh, closes the session
        win.sign_out()
    win.close()
    assert not win.isVisible()
    win.deleteLater()


def deployments_of(scenario: Scenario) -> list[str]:
    return [r.id for r in scenario.of_kind(Kind.DEPLOYMENT)]


def sub_id(scenario: Scenario, name: str) -> str:
    return next(
        r.body["subscriptionId"] for r in scenario.of_kind(Kind.SUBSCRIPTION) if r.body["displayName"] == name
    )


def library() -> SnapshotLibrary:
    return SnapshotLibrary(paths.snapshot_dir())


def sign_in(qtbot, window: MainWindow, url: str, ca_file: str):
    """Drive the real dialog up to its subscriptions page (all subscriptions checked); returns it."""
    dialog = window.open_sign_in()
    assert dialog is not None and dialog.isVisible()
    page = dialog.account_page
    page.set_cloud("custom")
    page.arm_edit.setText(url)
    page.ca_edit.setText(ca_file)
    page.set_method(AuthMethod.TOKEN)
    with qtbot.waitSignal(dialog.signedIn, timeout=15000):
        qtbot.mouseClick(page.sign_in_button, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(dialog.subscriptionsLoaded, timeout=15000):
        qtbot.mouseClick(dialog.button(QWizard.WizardButton.NextButton), Qt.MouseButton.LeftButton)
    return dialog


def finish(qtbot, dialog) -> None:
    qtbot.mouseClick(dialog.button(QWizard.WizardButton.FinishButton), Qt.MouseButton.LeftButton)


# ------------------------------------------------------------------------------------ tests


def test_refresh_fills_the_tabs_shows_progress_and_saves_to_the_library(window, qtbot, monkeypatch) -> None:
    scenario = Scenario.demo(scale=1)
    switch_interval = sys.getswitchinterval()
    assert window.refresh_action.isEnabled() is False
    assert window.sign_in_action.isEnabled() and window.context.write_disabled_reason == OFFLINE_REASON
    assert window.sign_in_action in window.menuBar().actions()[0].menu().actions()
    # the user's scope survives the refresh (the demo snapshot and the scenario share their ids)
    sandbox = sub_id(scenario, SANDBOX)
    window.set_subscription(sandbox)
    with ArmEmulator(scenario, faults=Faults(latency_ms=20)) as emu:
        monkeypatch.setenv(TOKEN_ENV, emu.mint_token())
        dialog = sign_in(qtbot, window, emu.url, emu.ca_file)
        during: list[tuple[bool, str]] = []
        window.refresher.progressChanged.connect(
            lambda p: during.append(
                (window.refresh_progress.isVisible(), window.refresh_progress.label.text())
            )
        )
        with qtbot.waitSignal(window.refreshFinished, timeout=30000) as done:
            finish(qtbot, dialog)
        outcome: RefreshOutcome = done.args[0]

        assert during and all(visible for visible, _ in during)
        # "Deployments 120/480 · 312 requests": the stage and the counts
        assert any(re.fullmatch(r"[A-Z][a-z ]+ \d+/\d+ · \d+ requests?", text) for _, text in during), during
        assert not window.refresh_progress.isVisible()
        assert not outcome.result.cancelled and not outcome.result.meta.partial
        assert window.context.scope.subscriptions == {sandbox.lower()}
        window.set_subscription(None)
        assert window.tab("guardrails").rows_shown() == len(deployments_of(scenario)) == 40
        assert window.context.info.live and window.context.info.source == Source.LIVE
        assert window.status_label.text().startswith("Live data")
        # Live data from a signed-in session: writes are possible, gated by the caller's rights
        # (the emulator's default grant is Owner everywhere), checked in the background.
        assert window.context.write_disabled_reason is None
        create = window.tab("policies").create_button
        qtbot.waitUntil(create.isEnabled, timeout=10000)
        assert create.toolTip() == create.property("enabledTip")
        assert window.refresh_action.isEnabled() and window.session is not None
        assert "Signed in: " in window.account_label.text()

        entries = library().entries()
        assert len(entries) == 1 and entries[0].meta.source == Source.LIVE and not entries[0].meta.partial
        assert window.context.info.path == entries[0].path == outcome.path
        assert entries[0].counts.get(Kind.DEPLOYMENT) == 40

        # F5 refreshes again: a second library entry
        assert window.refresh_action.shortcut().toString() == "F5"
        with qtbot.waitSignal(window.refreshFinished, timeout=30000):
            window.refresh_action.trigger()
        assert len(library().entries()) == 2

    # the shorter thread switch interval applies only while a refresh runs
    assert sys.getswitchinterval() == switch_interval

    # a snapshot read from a file is offline again
    with qtbot.waitSignal(window.snapshotOpened, timeout=10000):
        window.open_snapshot(entries[0].path)
    assert window.context.write_disabled_reason == OFFLINE_REASON and not window.context.info.live


def test_the_window_stays_responsive_during_a_refresh(window, qtbot, monkeypatch) -> None:
    with emulator_process("--scale", "5", "--latency-ms", "20") as emu:
        monkeypatch.setenv(TOKEN_ENV, emu.token)
        dialog = sign_in(qtbot, window, emu.url, emu.ca_file)
        heartbeat = UiHeartbeat()
        heartbeat.start()
        started = time.perf_counter()
        with qtbot.waitSignal(window.refreshFinished, timeout=60000) as done:
            finish(qtbot, dialog)
        seconds = time.perf_counter() - started
        max_gap = heartbeat.stop()
    outcome: RefreshOutcome = done.args[0]
    print(
        f"\nUI heartbeat during a refresh of Scenario.demo(scale=5), 20 ms latency: max gap {max_gap:.1f} ms "
        f"({heartbeat.ticks} ticks, {seconds:.2f} s, {outcome.result.requests} requests, "
        f"{outcome.pushes} progressive updates; the controller's own figure {outcome.max_stall_ms:.1f} ms)"
    )
    assert window.tab("guardrails").rows_shown() == 200
    assert heartbeat.ticks > 10
    assert max_gap < 100, f"the GUI thread stalled for {max_gap:.0f} ms during the refresh"


def test_cancel_stops_within_a_second_and_keeps_what_was_fetched(window, qtbot, monkeypatch) -> None:
    scenario = Scenario.demo(scale=1)
    with ArmEmulator(scenario, faults=Faults(latency_ms=200), page_size=5) as emu:
        monkeypatch.setenv(TOKEN_ENV, emu.mint_token())
        dialog = sign_in(qtbot, window, emu.url, emu.ca_file)
        # the window fills progressively: deployments show while the capture is still running
        with qtbot.waitSignal(
            window.refresher.inventoryPushed, timeout=30000, check_params_cb=lambda n: n > 0
        ):
            finish(qtbot, dialog)
        assert window.refresher.running and window.context.info.live
        assert window.tab("guardrails").rows_shown() > 0
        assert "Refreshing from Azure" in window.source_banner.label.text()
        assert window.refresh_progress.isVisible() and window.refresh_progress.cancel_button.isEnabled()
        assert not window.refresh_action.isEnabled()  # one refresh at a time
        clicked = time.perf_counter()
        with qtbot.waitSignal(window.refreshFinished, timeout=5000) as done:
            qtbot.mouseClick(window.refresh_progress.cancel_button, Qt.MouseButton.LeftButton)
        stopped_after = time.perf_counter() - clicked
    print(f"\ncancel → refresh finished after {stopped_after * 1000:.0f} ms")
    assert stopped_after < 1.0
    outcome: RefreshOutcome = done.args[0]
    result = outcome.result
    assert result.cancelled and result.meta.partial and result.meta.label == "cancelled"
    fetched = [r for r in result.records if r.kind == Kind.DEPLOYMENT]
    assert 0 < len(fetched) <= len(deployments_of(scenario)) and len(result.records) < len(scenario.records)
    # the window shows exactly what was fetched, and says it is partial
    assert len(window.context.inventory.deployments) == len(fetched)
    assert window.tab("guardrails").rows_shown() == len(fetched)
    assert "partial capture" in window.status_label.text()
    assert "cancelled" in window.source_banner.label.text()
    assert not window.refresh_progress.isVisible() and window.refresh_action.isEnabled()
    entries = library().entries()
    assert len(entries) == 1 and entries[0].meta.partial and entries[0].meta.label == "cancelled"
    assert entries[0].path == outcome.path


def test_cancel_before_anything_arrived_keeps_the_data_shown(window, qtbot, monkeypatch) -> None:
    before = window.context.inventory
    with ArmEmulator(Scenario.demo(scale=1), faults=Faults(latency_ms=400)) as emu:
        monkeypatch.setenv(TOKEN_ENV, emu.mint_token())
        dialog = sign_in(qtbot, window, emu.url, emu.ca_file)
        window.refresher.started.connect(window.cancel_refresh)  # at once
        with qtbot.waitSignal(window.refreshFinished, timeout=5000) as done:
            finish(qtbot, dialog)
    outcome: RefreshOutcome = done.args[0]
    assert outcome.result.cancelled and outcome.result.records == [] and outcome.path is None
    assert window.context.inventory is before and not window.context.info.live
    assert library().entries() == []
    assert "nothing was fetched" in window.statusBar().currentMessage()


def test_a_forbidden_subscription_is_named_and_the_rest_is_shown(window, qtbot, monkeypatch) -> None:
    scenario = Scenario.demo(scale=1)
    sandbox = sub_id(scenario, SANDBOX)
    sandbox_deps = [
        d for d in deployments_of(scenario) if d.lower().startswith(f"/subscriptions/{sandbox.lower()}/")
    ]
    assert sandbox_deps
    with ArmEmulator(scenario, faults=Faults(latency_ms=20, forbidden_subscriptions={sandbox})) as emu:
        monkeypatch.setenv(TOKEN_ENV, emu.mint_token())
        dialog = sign_in(qtbot, window, emu.url, emu.ca_file)
        with qtbot.waitSignal(window.refreshFinished, timeout=30000) as done:
            finish(qtbot, dialog)
    outcome: RefreshOutcome = done.args[0]
    assert outcome.result.meta.partial and not outcome.result.cancelled
    banner = window.error_banner
    assert banner.isVisible()
    text = banner.label.text()
    assert text.startswith(f"1 subscription could not be read: {SANDBOX} (403 AuthorizationFailed)"), text
    assert "everything else is shown" in text
    assert banner.label.textFormat() == Qt.TextFormat.PlainText
    assert window.tab("guardrails").rows_shown() == len(deployments_of(scenario)) - len(sandbox_deps)
    assert library().entries()[0].meta.partial


def test_names_with_markup_from_azure_render_literally(window, qtbot, monkeypatch) -> None:
    with ArmEmulator(Scenario.demo(scale=1), faults=Faults(latency_ms=20)) as emu:
        monkeypatch.setenv(TOKEN_ENV, emu.mint_token())
        dialog = sign_in(qtbot, window, emu.url, emu.ca_file)
        with qtbot.waitSignal(window.refreshFinished, timeout=30000):
            finish(qtbot, dialog)
    combo = window.project_combo
    texts = [combo.itemText(i) for i in range(combo.count())]
    index = next(i for i, t in enumerate(texts) if "Red team & eval <sandbox>" in t)
    combo.setCurrentIndex(index)
    for tab in window.workspace_tabs:
        window.show_tab(tab.key)
        tab.select_first()
    shown = [
        label
        for label in window.findChildren(QLabel)
        if "<sandbox>" in label.text() or "&lt;sandbox" in label.text()
    ]
    assert all(label.textFormat() == Qt.TextFormat.PlainText for label in shown)
    assert not any("&lt;" in label.text() for label in shown)


def test_a_remembered_non_interactive_sign_in_refreshes_at_start(
    qtbot, qapp, qloop, tmp_path, monkeypatch
) -> None:
    with ArmEmulator(Scenario.demo(scale=1), faults=Faults(latency_ms=20)) as emu:
        settings = Settings(tmp_path / "settings.json")
        remembered = SignInChoice(
            method=AuthMethod.TOKEN, cloud="custom", arm_endpoint=emu.url, ca_file=emu.ca_file
        )
        settings.set(SETTINGS_KEY, remembered.to_settings())

        monkeypatch.delenv(TOKEN_ENV, raising=False)  # the token method needs its variable
        offline = build_window(qapp, load_inventory(demo_snapshot_path()), settings)
        qtbot.addWidget(offline)
        assert offline.maybe_sign_in_silently() is False and offline.session is None

        settings.set(
            SETTINGS_KEY, SignInChoice(method=AuthMethod.BROWSER).to_settings()
        )  # interactive: never
        monkeypatch.setenv(TOKEN_ENV, emu.mint_token())
        assert offline.maybe_sign_in_silently() is False

        settings.set(SETTINGS_KEY, remembered.to_settings())
        win = build_window(qapp, load_inventory(demo_snapshot_path()), settings)
        qtbot.addWidget(win)
        with qtbot.waitSignal(win.refreshFinished, timeout=30000):
            assert win.maybe_sign_in_silently() is True
        assert win.session is not None and win.context.info.live
        assert win.tab("guardrails").rows_shown() == 40
        with qtbot.waitSignal(win.signedOut, timeout=10000):
            win.sign_out()
        assert not win.refresh_action.isEnabled() and win.account_label.text() == ""

        # closing the window while signed in closes the session first, then the window
        win.show()
        with qtbot.waitSignal(win.refreshFinished, timeout=30000):
            assert win.maybe_sign_in_silently() is True
        session = win.session
        assert session is not None and win.close() is False  # not yet: the session is closing
        qtbot.waitUntil(lambda: not win.isVisible(), timeout=5000)
        assert win.session is None and session.identity is None


def test_ui_heartbeat_measures_the_longest_stall(qtbot, qapp) -> None:
    heartbeat = UiHeartbeat()
    heartbeat.start()
    qtbot.wait(50)
    QTimer.singleShot(0, lambda: time.sleep(0.15))  # the GUI thread is blocked for 150 ms
    qtbot.wait(100)
    gap = heartbeat.stop()
    assert 140 <= gap < 1000 and heartbeat.ticks >= 5
    assert not heartbeat.running


def test_the_window_starts_without_loading_the_azure_sdk(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from fcdesk.gui import build_window, make_app\n"
        "from fcdesk.app import demo_snapshot_path, load_inventory\n"
        "app = make_app([])\n"
        "w = build_window(app, load_inventory(demo_snapshot_path()), None)\n"
        "w.show(); app.processEvents()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('azure', 'aiohttp', 'msal')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"
