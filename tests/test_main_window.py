"""The main window as a user drives it: scope filters, tabs, opening snapshots, remembered state."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from fcdesk.app import demo_snapshot_path, load_inventory
from fcdesk.core.demo import generate
from fcdesk.core.inventory import Scope
from fcdesk.gui import build_window
from fcdesk.models.workspace import OFFLINE_REASON
from fcdesk.store.settings import Settings
from fcdesk.store.snapshot import write_snapshot


@pytest.fixture
def window(qtbot, qapp, tmp_path: Path):
    win = build_window(qapp, load_inventory(demo_snapshot_path()), Settings(tmp_path / "settings.json"))
    qtbot.addWidget(win)
    return win


def test_opens_on_the_demo_with_four_tabs_and_a_source_banner(window) -> None:
    titles = [window.tabs.tabText(i) for i in range(window.tabs.count())]
    assert titles[0] == "Policies" and titles[1] == "Assets"
    assert titles[2].startswith("Guardrails") and titles[3].startswith("Security posture")
    assert "Demo snapshot: Contoso AI (demo)" in window.status_label.text()
    assert "as of 2026-11-20 09:30 UTC" in window.status_label.text()
    assert "made-up tenant" in window.source_banner.label.text()
    assert window.refresh_action.isEnabled() is False
    create = window.tab("policies").findChild(type(window.tab("policies").create_button), "createPolicyButton")
    assert create is not None and not create.isEnabled() and create.toolTip() == OFFLINE_REASON


def test_subscription_filter_scopes_every_tab(window) -> None:
    guardrails, assets, policies = window.tab("guardrails"), window.tab("assets"), window.tab("policies")
    all_rows = (guardrails.rows_shown(), assets.rows_shown(), policies.rows_shown())
    inv = window.context.inventory
    sandbox = next(s for s in inv.subscriptions.values() if s.display_name == "Contoso Research Sandbox")
    window.set_subscription(sandbox.subscription_id)
    assert window.context.scope == Scope(frozenset({sandbox.subscription_id}))
    expected = len(inv.scoped_deployments(window.context.scope))
    assert guardrails.rows_shown() == expected < all_rows[0]
    assert policies.rows_shown() == len(inv.scoped_policies(window.context.scope)) < all_rows[2]
    assert assets.rows_shown() < all_rows[1]
    # the project list narrows to the chosen subscription
    projects = [window.project_combo.itemText(i) for i in range(window.project_combo.count())]
    assert projects[0] == "All projects" and all("research" in p for p in projects[1:])
    window.set_subscription(None)
    assert (guardrails.rows_shown(), assets.rows_shown(), policies.rows_shown()) == all_rows


def test_project_filter_shows_its_accounts_deployments(window) -> None:
    inv = window.context.inventory
    window.project_combo.setCurrentIndex(1)
    pid = window.project_combo.currentData()
    proj = inv.projects[pid.lower()]
    expected = [d for d in inv.deployments if d.account_id.lower() == proj.account_id.lower()]
    assert window.tab("guardrails").rows_shown() == len(expected) > 0


def test_names_with_markup_are_plain_text_in_filters(window) -> None:
    texts = [window.project_combo.itemText(i) for i in range(window.project_combo.count())]
    assert any("Red team & eval <sandbox>" in t for t in texts)


def test_tab_shortcuts_and_toggle(window, qtbot) -> None:
    actions = {a.shortcut().toString(): a for m in window.menuBar().actions() if m.menu() for a in m.menu().actions()}
    assert {"Ctrl+1", "Ctrl+2", "Ctrl+3", "Ctrl+4", "Ctrl+F", "Ctrl+O", "Ctrl+Q"} <= set(actions)
    actions["Ctrl+3"].trigger()
    assert window.tabs.currentWidget() is window.tab("guardrails")
    window.show()
    window.tab("policies").switchRequested.emit("assets")
    assert window.tabs.currentWidget() is window.tab("assets")
    assert window.details_dock.isVisible()
    assert window.details_stack.currentWidget() is window.tab("assets").detail


def test_opening_a_corrupt_snapshot_keeps_the_data_and_says_why(window, qtbot, qloop, tmp_path: Path) -> None:
    bad = tmp_path / "broken.fcsnap"
    bad.write_bytes(b"SQLite format 3\x00" + b"\x00" * 50)
    before = window.context.inventory
    with qtbot.waitSignal(window.openFailed, timeout=5000) as blocker:
        window.open_snapshot(bad)
    assert "broken.fcsnap" in blocker.args[0]
    assert window.context.inventory is before
    box = window.findChild(QMessageBox)
    assert box is not None and box.textFormat() == Qt.TextFormat.PlainText and "broken.fcsnap" in box.text()
    box.close()


def test_opening_another_snapshot_replaces_the_workspace(window, qtbot, qloop, tmp_path: Path) -> None:
    path = tmp_path / "scaled.fcsnap"
    write_snapshot(path, *generate(scale=2, seed=5))
    with qtbot.waitSignal(window.snapshotOpened, timeout=10000):
        window.open_snapshot(path)
    assert window.tab("guardrails").rows_shown() == 80
    assert "scaled.fcsnap" in window.status_label.text()


def test_window_state_is_remembered(qtbot, qapp, tmp_path: Path) -> None:
    settings_path = tmp_path / "settings.json"
    loaded = load_inventory(demo_snapshot_path())
    first = build_window(qapp, loaded, Settings(settings_path))
    qtbot.addWidget(first)
    first.show_tab("security")
    first.resize(640, 480)  # within the offscreen screen: restoreGeometry clamps to it
    first.close()
    assert settings_path.exists()
    second = build_window(qapp, loaded, Settings(settings_path))
    qtbot.addWidget(second)
    assert second.tabs.currentWidget() is second.tab("security")
    assert (second.size().width(), second.size().height()) == (640, 480)


def test_hidden_tabs_catch_up_after_the_visible_one(window, qtbot) -> None:
    window.show()
    qtbot.waitExposed(window)
    window.show_tab("policies")
    inv = window.context.inventory
    sandbox = next(s for s in inv.subscriptions.values() if s.display_name == "Contoso Research Sandbox")
    window.set_subscription(sandbox.subscription_id)
    # the visible tab reloaded at once; the hidden ones are only marked stale ...
    assert not window.tab("policies").stale
    assert window.tab("guardrails").stale and window.tab("security").stale
    # ... and the window brings them up to date on later event-loop turns, titles included
    qtbot.waitUntil(lambda: not any(t.stale for t in window.workspace_tabs), timeout=3000)
    gaps = sum(1 for r in inv.matrix_rows(window.context.scope) if r.has_gap)
    assert window.tabs.tabText(window.tabs.indexOf(window.tab("guardrails"))) == f"Guardrails ({gaps} gaps)"
