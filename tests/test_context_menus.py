"""Row context menus of every workspace table: copy ids, portal links and the tabs' write actions.

Menus are read from ``DataTable.build_context_menu`` (what right click, the Menu key and Shift+F10
pop up); one test opens them from the keyboard for real. Links open through an injected recorder,
and ``QDesktopServices.openUrl`` is replaced by a failing stub, so no browser ever starts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QItemSelectionModel, QPoint, Qt, QUrl
from PySide6.QtGui import QAction, QContextMenuEvent, QDesktopServices, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QApplication, QMenu

from fcdesk.core.demo import generate
from fcdesk.core.guardrails import GuardrailOrigin
from fcdesk.core.inventory import Inventory
from fcdesk.core.portal import CUSTOM_CLOUD_REASON
from fcdesk.core.records import Source
from fcdesk.models.policies import asset_needs_fixing
from fcdesk.models.security import alert_link, recommendation_link
from fcdesk.models.workspace import (
    CHECKING_REASON,
    GUARDRAIL_RIGHTS,
    OFFLINE_REASON,
    POLICY_RIGHTS,
    SnapshotInfo,
    WorkspaceContext,
)
from fcdesk.views.base import WorkspaceTab
from fcdesk.views.guardrails_tab import GuardrailsTab
from fcdesk.views.policies_tab import AssetsTab, PoliciesTab
from fcdesk.views.security_tab import PLAN_ALREADY_ON, SecurityTab
from fcdesk.views.widgets import MENU_REASON_CHARS, DataTable, menu_text

TABS: tuple[type[WorkspaceTab], ...] = (PoliciesTab, AssetsTab, GuardrailsTab, SecurityTab)
#: The entries every table with ids starts its menu with.
LEAD = ["Copy", "Copy cell", "Copy ID", "Open in Azure portal", "Copy portal link"]
#: A real popup on the offscreen platform: it cannot raise windows nor grab the keyboard, and says so.
OFFSCREEN_POPUP = "This plugin does not support (raise|grabbing the keyboard)"


@pytest.fixture(scope="module")
def demo() -> tuple[Any, list[Any]]:
    return generate()


@pytest.fixture
def inventory(demo: tuple[Any, list[Any]]) -> Inventory:
    return Inventory.build(*demo)


@pytest.fixture
def context(qapp, inventory: Inventory) -> WorkspaceContext:
    return WorkspaceContext(inventory, SnapshotInfo(None, Source.DEMO))  # read-only, as the demo is


@pytest.fixture(autouse=True)
def no_browser(monkeypatch: pytest.MonkeyPatch) -> None:
    """Opening a link through Qt's default would start a browser: fail instead."""

    def fail(url: QUrl) -> bool:
        raise AssertionError(f"a browser was asked to open {url.toString()}")

    monkeypatch.setattr(QDesktopServices, "openUrl", fail)


@pytest.fixture
def opened() -> list[QUrl]:
    return []


@pytest.fixture
def make(qtbot, context: WorkspaceContext, opened: list[QUrl]) -> Callable[[type[WorkspaceTab]], Any]:
    def build(cls: type[WorkspaceTab]) -> Any:
        tab = cls(context, open_url=opened.append)
        qtbot.addWidget(tab)
        qtbot.addWidget(tab.detail)
        return tab

    return build


@pytest.fixture
def menus() -> Iterator[list[QMenu]]:
    """Menus built by a test, deleted after it."""
    built: list[QMenu] = []
    yield built
    for menu in built:
        menu.deleteLater()


# ------------------------------------------------------------------------------------ helpers


def _row(table: DataTable, pred: Callable[[Any], bool]) -> int:
    for r in range(table.proxy.rowCount()):
        if pred(table.proxy.row_object(r)):
            return r
    raise AssertionError("no such row")


def _menu(table: DataTable, row: int, menus: list[QMenu], column: int = 0) -> QMenu:
    menu = table.build_context_menu(table.proxy.index(row, column))
    assert menu is not None
    menus.append(menu)
    return menu


def _texts(menu: QMenu) -> list[str]:
    return [a.property("baseText") or a.text() for a in menu.actions() if not a.isSeparator()]


def _action(menu: QMenu, text: str) -> QAction:
    found = [a for a in menu.actions() if (a.property("baseText") or a.text()) == text]
    assert len(found) == 1, f"{text!r} not in {_texts(menu)}"
    return found[0]


def _select_rows(table: DataTable, rows: list[int]) -> None:
    sel = table.selectionModel()
    sel.clearSelection()
    flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
    for r in rows:
        sel.select(table.proxy.index(r, 0), flags)


def _public(resource_id: str, tenant: str) -> str:
    return f"https://portal.azure.com/#@{tenant}/resource{resource_id}"


# ------------------------------------------------------------------------------------ every table


def test_every_workspace_table_offers_copy_id_and_the_portal(make, menus) -> None:
    for cls in TABS:
        tab = make(cls)
        for table in tab.state_tables():
            assert table.proxy.rowCount() > 0, table.objectName()
            menu = _menu(table, 0, menus)
            texts = _texts(menu)
            assert texts[:5] == LEAD, table.objectName()
            portal = _action(menu, "Open in Azure portal")
            assert portal.isEnabled() and portal.statusTip().startswith("https://portal.azure.com/")
            assert _action(menu, "Copy ID").statusTip().startswith("/subscriptions/")
            assert _action(menu, "Copy").shortcut() == QKeySequence(QKeySequence.StandardKey.Copy)


@pytest.mark.parametrize(
    ("cls", "table_name", "expected"),
    [
        (PoliciesTab, "policiesTable", lambda r: r.policy.id),
        (AssetsTab, "assetsTable", lambda r: r.deployment.id),
        (GuardrailsTab, "guardrailsTable", lambda r: r.deployment.id),
        (SecurityTab, "recommendationsTable", lambda r: r.id),
        (SecurityTab, "alertsTable", lambda r: r.id),
        (SecurityTab, "plansTable", lambda p: f"/subscriptions/{p.subscription.subscription_id}"),
    ],
)
def test_copy_id_puts_the_rows_full_arm_id_on_the_clipboard(
    make, menus, cls: type[WorkspaceTab], table_name: str, expected: Callable[[Any], str]
) -> None:
    tab = make(cls)
    table = tab.findChild(DataTable, table_name)
    row = min(2, table.proxy.rowCount() - 1)
    QGuiApplication.clipboard().setText("before")
    _action(_menu(table, row, menus), "Copy ID").trigger()
    want = expected(table.proxy.row_object(row))
    assert want.startswith("/subscriptions/") and want.count("/") >= 2
    assert QGuiApplication.clipboard().text() == want


def test_copy_ids_of_a_multi_selection_one_per_line(make, menus) -> None:
    tab = make(GuardrailsTab)
    table = tab.table
    _select_rows(table, [1, 3, 4])
    wanted = [table.proxy.row_object(r).deployment.id for r in (1, 3, 4)]
    menu = _menu(table, 3, menus)  # a right click on a selected row keeps the selection
    assert "Copy ID" not in _texts(menu)
    _action(menu, "Copy IDs").trigger()
    assert QGuiApplication.clipboard().text() == "\n".join(wanted)
    assert len(set(wanted)) == 3
    # a row outside the selection: its id only
    single = _menu(table, 0, menus)
    assert "Copy IDs" not in _texts(single)
    _action(single, "Copy ID").trigger()
    assert QGuiApplication.clipboard().text() == table.proxy.row_object(0).deployment.id


def test_copy_ids_name_each_deployment_once(make, menus) -> None:
    """An asset shows once per governing policy; its id is copied once."""
    tab = make(AssetsTab)
    table = tab.table
    rows = [r.deployment.id for r in table.proxy.visible_rows()]
    twice = next(i for i in rows if rows.count(i) > 1)
    picked = [r for r, i in enumerate(rows) if i == twice]
    _select_rows(table, picked)
    _action(_menu(table, picked[0], menus), "Copy IDs").trigger()
    assert QGuiApplication.clipboard().text() == twice


def test_copy_cell_copies_the_clicked_cell(make, menus) -> None:
    tab = make(PoliciesTab)
    table = tab.table
    _action(_menu(table, 1, menus, column=1), "Copy cell").trigger()
    assert QGuiApplication.clipboard().text() == table.proxy.index(1, 1).data() != ""


def test_a_custom_guardrail_row_copies_its_guardrail_id(make, menus) -> None:
    tab = make(GuardrailsTab)
    table = tab.table
    row = _row(table, lambda r: r.effective.origin is GuardrailOrigin.CUSTOM)
    rail = table.proxy.row_object(row).effective.guardrail
    _action(_menu(table, row, menus), "Copy guardrail ID").trigger()
    assert QGuiApplication.clipboard().text() == rail.id
    assert "/raiPolicies/" in rail.id
    default = _row(table, lambda r: r.effective.origin is not GuardrailOrigin.CUSTOM)
    assert "Copy guardrail ID" not in _texts(_menu(table, default, menus))


# ------------------------------------------------------------------------------------ portal


def test_open_in_portal_calls_the_opener_with_the_rows_link(make, menus, opened, inventory) -> None:
    tenant = inventory.meta.tenant_id
    policies = make(PoliciesTab)
    pol = policies.table.proxy.row_object(0).policy
    _action(_menu(policies.table, 0, menus), "Open in Azure portal").trigger()
    assert opened == [QUrl(_public(pol.id, tenant))]

    security = make(SecurityTab)
    recs = security.recommendations_table
    row = _row(recs, lambda r: bool(r.portal_link))  # a link Azure sent: used as it is
    rec = recs.proxy.row_object(row)
    _action(_menu(recs, row, menus), "Open in Azure portal").trigger()
    assert opened[-1] == QUrl(recommendation_link(rec, "public", tenant).url) == QUrl(rec.portal_link)
    alerts = security.alerts_table
    alert = alerts.proxy.row_object(0)
    _action(_menu(alerts, 0, menus), "Open in Azure portal").trigger()
    assert opened[-1] == QUrl(alert_link(alert, "public", tenant).url)
    plans = security.plans_table
    sub = plans.proxy.row_object(0).subscription.subscription_id
    menu = _menu(plans, 0, menus)
    _action(menu, "Open in Azure portal").trigger()
    assert opened[-1] == QUrl(_public(f"/subscriptions/{sub}", tenant))
    _action(menu, "Copy portal link").trigger()
    assert QGuiApplication.clipboard().text() == _public(f"/subscriptions/{sub}", tenant)
    assert len(opened) == 4


def test_a_custom_cloud_disables_the_portal_with_the_reason(qtbot, menus, opened, demo) -> None:
    meta, records = demo
    inv = Inventory.build(dataclasses.replace(meta, cloud="custom"), records)
    context = WorkspaceContext(inv, SnapshotInfo(None, Source.DEMO))
    tab = GuardrailsTab(context, open_url=opened.append)
    qtbot.addWidget(tab)
    menu = _menu(tab.table, 0, menus)
    for text in ("Open in Azure portal", "Copy portal link"):
        act = _action(menu, text)
        assert not act.isEnabled()
        assert act.statusTip() == CUSTOM_CLOUD_REASON
        assert act.text() == menu_text(text, CUSTOM_CLOUD_REASON)
        assert act.text().startswith(f"{text} (No Azure portal link") and act.text().endswith("…)")
        assert len(act.text()) <= len(text) + MENU_REASON_CHARS + 3
    _action(menu, "Open in Azure portal").trigger()  # disabled: nothing opens
    assert opened == []


# ------------------------------------------------------------------------------------ write actions


def test_write_actions_are_disabled_with_the_reason_on_a_read_only_snapshot(make, menus) -> None:
    cases = [
        (PoliciesTab, "policiesTable", ["Edit policy…", "Delete policy…", "Fix violating deployments…"]),
        (GuardrailsTab, "guardrailsTable", ["Edit guardrail…"]),
        (SecurityTab, "plansTable", ["Enable threat protection for AI…"]),
    ]
    for cls, name, texts in cases:
        tab = make(cls)
        table = tab.findChild(DataTable, name)
        menu = _menu(table, 0, menus)
        for text in texts:
            act = _action(menu, text)
            assert not act.isEnabled(), text
            assert act.statusTip() == OFFLINE_REASON
            assert OFFLINE_REASON in act.toolTip()
            assert act.text() == f"{text} ({OFFLINE_REASON})"
    assets = make(AssetsTab)
    row = _row(assets.table, asset_needs_fixing)
    act = _action(_menu(assets.table, row, menus), "Fix now…")
    assert not act.isEnabled() and act.statusTip() == OFFLINE_REASON


def test_policy_row_actions_emit_the_tabs_signals_for_the_clicked_row(qtbot, make, menus, context) -> None:
    context.set_write_disabled_reason(None)
    tab = make(PoliciesTab)
    table = tab.table
    assert table.select_first_row()  # the current row is another one than the row clicked
    row = _row(table, lambda r: r.violating > 0 and table.proxy.row_object(0) is not r)
    policy_row = table.proxy.row_object(row)
    menu = _menu(table, row, menus)
    signals = (("Edit policy…", tab.editPolicyRequested), ("Delete policy…", tab.deletePolicyRequested))
    for text, signal in signals:
        act = _action(menu, text)
        assert act.isEnabled() and act.text() == text
        with qtbot.waitSignal(signal, timeout=1000) as blocker:
            act.trigger()
        assert blocker.args[0] is policy_row.policy
    with qtbot.waitSignal(tab.fixManyRequested, timeout=1000) as blocker:
        _action(menu, "Fix violating deployments…").trigger()
    assert blocker.args[0] == [a.deployment for a in policy_row.assets if a.violating] != []

    # the policy's assets in the dock: "Fix now…" as the button beside them
    assert table.select_row_object(lambda r: r is policy_row)
    dock = tab.view.assets_table
    asset_row = _row(dock, lambda a: a.violating)
    asset = dock.proxy.row_object(asset_row)
    dock_menu = _menu(dock, asset_row, menus)
    assert _texts(dock_menu)[:5] == LEAD
    _action(dock_menu, "Copy ID").trigger()
    assert QGuiApplication.clipboard().text() == asset.deployment.id
    with qtbot.waitSignal(tab.fixNowRequested, timeout=1000) as blocker:
        _action(dock_menu, "Fix now…").trigger()
    assert blocker.args[0] is asset.deployment


def test_asset_row_offers_fix_now_on_a_violation_and_view_in_build_otherwise(
    qtbot, make, menus, context
) -> None:
    context.set_write_disabled_reason(None)
    tab = make(AssetsTab)
    table = tab.table
    bad = _row(table, asset_needs_fixing)
    good = _row(table, lambda r: not asset_needs_fixing(r))
    assert "Fix now…" in _texts(_menu(table, bad, menus))
    menu = _menu(table, good, menus)
    assert "Fix now…" not in _texts(menu)
    with qtbot.waitSignal(tab.viewInBuildRequested, timeout=1000) as blocker:
        _action(menu, "View in Build…").trigger()
    assert blocker.args[0] is table.proxy.row_object(good).deployment


def test_guardrail_row_actions(qtbot, make, menus, context) -> None:
    context.set_write_disabled_reason(None)
    tab = make(GuardrailsTab)
    table = tab.table
    gap = _row(table, lambda r: r.has_gap)
    menu = _menu(table, gap, menus)
    assert not _action(menu, "Compare selected").isEnabled()  # one row selected at most
    with qtbot.waitSignal(tab.editGuardrailRequested, timeout=1000) as blocker:
        _action(menu, "Edit guardrail…").trigger()
    assert blocker.args[0] is table.proxy.row_object(gap)
    with qtbot.waitSignal(tab.createPolicyFromGapsRequested, timeout=1000) as blocker:
        _action(menu, "Create policy from gaps…").trigger()
    assert blocker.args[0] == [r for r in table.proxy.visible_rows() if r.has_gap]
    no_gap = _row(table, lambda r: not r.has_gap)
    assert "Create policy from gaps…" not in _texts(_menu(table, no_gap, menus))
    _select_rows(table, [0, 1])
    assert _action(_menu(table, 0, menus), "Compare selected").isEnabled()


def test_plan_row_actions_follow_the_plan(qtbot, make, menus, context) -> None:
    context.set_write_disabled_reason(None)
    tab = make(SecurityTab)
    plans = tab.plans_table
    off = _row(plans, lambda p: not p.enabled)
    on = _row(plans, lambda p: p.enabled)
    off_plan = plans.proxy.row_object(off)
    menu = _menu(plans, off, menus)
    with qtbot.waitSignal(tab.enableThreatProtectionRequested, timeout=1000) as blocker:
        _action(menu, "Enable threat protection for AI…").trigger()
    assert blocker.args == [off_plan.subscription.subscription_id]
    purview = "Turn Microsoft Purview " + ("off…" if off_plan.purview else "on…")
    with qtbot.waitSignal(tab.purviewToggleRequested, timeout=1000) as blocker:
        _action(menu, purview).trigger()
    assert blocker.args == [off_plan.subscription.subscription_id, not off_plan.purview]
    already = _action(_menu(plans, on, menus), "Enable threat protection for AI…")
    assert not already.isEnabled() and already.statusTip() == PLAN_ALREADY_ON

    # the subscription's accounts in the dock: the account button's action
    assert plans.select_row_object(lambda p: any(not a.on for a in p.accounts))
    accounts = tab.view.plan.accounts_table
    row = _row(accounts, lambda a: not a.on)
    acct = accounts.proxy.row_object(row)
    with qtbot.waitSignal(tab.enableAccountProtectionRequested, timeout=1000) as blocker:
        _action(_menu(accounts, row, menus), "Enable threat protection for this account…").trigger()
    assert blocker.args == [acct.account.id]


@dataclass(frozen=True)
class _Answer:
    allowed: bool
    reason: str = ""


def test_an_open_menu_follows_the_rights_check(qtbot, qloop, make, menus, context) -> None:
    no = "You need Owner or Resource Policy Contributor on this subscription."
    asked: set[tuple[str, str]] = set()

    async def checker(kind: str, scope: str) -> _Answer:
        asked.add((kind, scope))
        return _Answer(kind == GUARDRAIL_RIGHTS, "" if kind == GUARDRAIL_RIGHTS else no)

    context.set_inventory(context.inventory, SnapshotInfo(None, Source.LIVE, live=True))
    context.set_rights_checker(checker)
    tab = make(PoliciesTab)
    menu = _menu(tab.table, 0, menus)
    edit = _action(menu, "Edit policy…")
    assert not edit.isEnabled() and edit.statusTip() == CHECKING_REASON  # asked in the background
    qtbot.waitUntil(lambda: edit.statusTip() == no, timeout=3000)
    assert not edit.isEnabled() and no in edit.toolTip()
    assert edit.text() == menu_text("Edit policy…", no)
    assert (POLICY_RIGHTS, tab.table.proxy.row_object(0).policy.scope) in asked
    fix = _action(menu, "Fix violating deployments…")
    qtbot.waitUntil(lambda: fix.isEnabled(), timeout=3000)  # guardrail rights: allowed
    assert fix.text() == "Fix violating deployments…"


# ------------------------------------------------------------------------------------ opening


def _popup(qtbot) -> QMenu:
    qtbot.waitUntil(lambda: isinstance(QApplication.activePopupWidget(), QMenu), timeout=2000)
    menu = QApplication.activePopupWidget()
    assert isinstance(menu, QMenu)
    return menu


def _close(qtbot, menu: QMenu) -> None:
    menu.close()
    qtbot.waitUntil(lambda: QApplication.activePopupWidget() is None, timeout=2000)


@pytest.mark.qt_log_ignore(OFFSCREEN_POPUP)
def test_menu_key_and_shift_f10_open_the_current_rows_menu_at_its_cell(qtbot, make, monkeypatch) -> None:
    at: list[QPoint] = []
    popup = QMenu.popup

    def recording_popup(menu: QMenu, pos: QPoint, *args: Any) -> None:
        at.append(QPoint(pos))  # where it was asked to go (the screen's edges may move it)
        popup(menu, pos, *args)

    monkeypatch.setattr(QMenu, "popup", recording_popup)
    tab = make(GuardrailsTab)
    tab.resize(1000, 500)
    tab.show()
    qtbot.waitExposed(tab)
    table = tab.table
    table.setFocus()
    assert table.select_row_object(lambda r: r is table.proxy.row_object(3))
    current = table.current_row_object()
    shift = Qt.KeyboardModifier.ShiftModifier
    for key, mods in ((Qt.Key.Key_Menu, Qt.KeyboardModifier.NoModifier), (Qt.Key.Key_F10, shift)):
        qtbot.keyClick(table, key, mods)
        menu = _popup(qtbot)
        assert menu.objectName() == "rowContextMenu" and menu.parent() is table
        assert _action(menu, "Copy ID").statusTip() == current.deployment.id
        cell = table.visualRect(table.currentIndex())
        assert at[-1] == table.viewport().mapToGlobal(cell.center())
        assert table.show_context_menu_at_current() is None  # one menu at a time
        _close(qtbot, menu)
    assert len(at) == 2
    qtbot.keyClick(table, Qt.Key.Key_Down)  # other keys still move the current row
    assert table.current_row_object() is table.proxy.row_object(4)


@pytest.mark.qt_log_ignore(OFFSCREEN_POPUP)
def test_right_click_opens_the_clicked_rows_menu_with_added_entries(qtbot, make, context) -> None:
    """The main window adds "What-if with this policy…" through ``add_context_action``."""
    tab = make(PoliciesTab)
    tab.resize(1000, 500)
    tab.show()
    qtbot.waitExposed(tab)
    table = tab.table
    asked: list[Any] = []

    def what_if(row: Any) -> QAction | None:
        action = QAction("What-if with this policy…", tab)  # parented elsewhere, like the window's
        action.triggered.connect(lambda: asked.append(row.policy))
        return action

    table.add_context_action(what_if)
    cell = table.visualRect(table.proxy.index(2, 1)).center()
    event = QContextMenuEvent(QContextMenuEvent.Reason.Mouse, cell, table.viewport().mapToGlobal(cell))
    QApplication.sendEvent(table.viewport(), event)
    menu = _popup(qtbot)
    assert _texts(menu)[-1] == "What-if with this policy…"
    assert _action(menu, "Copy ID").statusTip() == table.proxy.row_object(2).policy.id
    _action(menu, "What-if with this policy…").trigger()
    assert asked == [table.proxy.row_object(2).policy]
    _close(qtbot, menu)
    # below the last row: no menu
    empty = QPoint(5, table.viewport().height() - 2)
    assert not table.indexAt(empty).isValid()
    QApplication.sendEvent(
        table.viewport(),
        QContextMenuEvent(QContextMenuEvent.Reason.Mouse, empty, table.viewport().mapToGlobal(empty)),
    )
    QApplication.processEvents()
    assert QApplication.activePopupWidget() is None


def test_the_main_windows_what_if_entry_is_still_there(qtbot, qapp, tmp_path: Path, menus) -> None:
    from fcdesk.app import demo_snapshot_path, load_inventory
    from fcdesk.gui import build_window
    from fcdesk.store.settings import Settings

    win = build_window(qapp, load_inventory(demo_snapshot_path()), Settings(tmp_path / "settings.json"))
    qtbot.addWidget(win)
    table = win.tab("policies").table
    menu = _menu(table, 0, menus)
    texts = _texts(menu)
    assert texts[-1] == "What-if with this policy…" and "Edit policy…" in texts
    assert _action(menu, "What-if with this policy…").isEnabled()
