"""Issue 5 end to end: threat protection for AI and Microsoft Purview from the Security posture tab,
against the ARM emulator with the real AzureSession.

Sign-in is the real dialog with an emulator token (see tests/test_live_refresh.py); every write is
read first, confirmed in a message box that says it is billed and shows the request, and sent
through ``fcdesk.actions.Actions`` to the emulator, whose answer patches the window's inventory.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from fcdesk.actions import BILLING_NOTE, PURVIEW_NOTE_WRITE
from fcdesk.core.model import idkey
from fcdesk.core.portal import CUSTOM_CLOUD_REASON
from fcdesk.models.workspace import CHECKING_REASON, OFFLINE_REASON
from fcdesk.store.audit import AuditLog
from fcdesk.views.main_window import MainWindow
from fcdesk.views.security_tab import PLAN_ALREADY_ON, SecurityTab
from tests.arm_emulator import ArmEmulator, Faults, Rule, Scenario
from tests.helpers.live import go_live, live_window

SANDBOX = "Contoso Research Sandbox"  #: the demo's subscription with the Free AI plan
PRODUCTION = "Contoso AI Production"  #: Standard, Purview on
SANDBOX_ACCOUNT = "contoso-research-foundry"  #: its Defender for AI setting is Disabled


window = pytest.fixture(name="window")(live_window)


# ------------------------------------------------------------------------------------ helpers


def security(window: MainWindow) -> SecurityTab:
    window.show_tab("security")
    tab = window.tab("security")
    assert isinstance(tab, SecurityTab)
    return tab


def sub_id(window: MainWindow, name: str) -> str:
    inv = window.context.inventory
    return next(s.subscription_id for s in inv.subscriptions.values() if s.display_name == name)


def select_plan(tab: SecurityTab, name: str) -> None:
    assert tab.plans_table.select_row_object(lambda p: p.subscription.display_name == name)


def settled(qtbot, *buttons) -> None:
    """Wait until the permission checks behind the buttons have answered."""
    qtbot.waitUntil(lambda: all(b.toolTip() != CHECKING_REASON for b in buttons), timeout=10000)


def ask_to_enable(qtbot, window: MainWindow, tab: SecurityTab, emu: ArmEmulator | None = None) -> QMessageBox:
    """Select the sandbox subscription, click "Enable threat protection for AI…" once the rights
    check allows it (``emu``: its request log is cleared just before), and return the confirmation."""
    select_plan(tab, SANDBOX)
    qtbot.waitUntil(tab.enable_button.isEnabled, timeout=10000)
    if emu is not None:
        emu.reset_log()
    qtbot.mouseClick(tab.enable_button, Qt.MouseButton.LeftButton)
    return confirmation(qtbot, window)


def confirmation(qtbot, window: MainWindow) -> QMessageBox:
    """The confirmation the flow opened (after reading the current state from Azure)."""
    found: list[QMessageBox] = []

    def shown() -> bool:
        found[:] = [
            b for b in window.findChildren(QMessageBox) if b.isVisible() and b.objectName() == "confirmBox"
        ]
        return bool(found)

    qtbot.waitUntil(shown, timeout=10000)
    return found[0]


def pricing_id(sub: str) -> str:
    return f"/subscriptions/{sub}/providers/Microsoft.Security/pricings/AI"


def plan_cell(tab: SecurityTab, name: str, header: str) -> str:
    table = tab.plans_table
    col = [c.header for c in table.source_model.columns].index(header)
    for r in range(table.proxy.rowCount()):
        if table.proxy.row_object(r).subscription.display_name == name:
            return table.proxy.index(r, col).data()
    raise AssertionError(f"no plan row for {name}")


def writes(emu: ArmEmulator) -> list:
    return [r for r in emu.requests if r.method in ("PUT", "PATCH", "DELETE")]


def audit() -> list[tuple[str, str]]:
    return [(e.operation, e.outcome) for e in AuditLog().read()[0]]


# ------------------------------------------------------------------------------------ the plan


def test_owner_enables_threat_protection_after_confirming(window, qtbot, monkeypatch) -> None:
    with ArmEmulator(Scenario.demo(scale=1)) as emu:
        go_live(qtbot, window, emu, monkeypatch)
        tab = security(window)
        sub = sub_id(window, SANDBOX)
        select_plan(tab, SANDBOX)
        assert plan_cell(tab, SANDBOX, "Defender for AI plan") == "Free"
        qtbot.waitUntil(tab.enable_button.isEnabled, timeout=10000)
        emu.reset_log()
        qtbot.mouseClick(tab.enable_button, Qt.MouseButton.LeftButton)
        box = confirmation(qtbot, window)
        assert box.windowTitle() == "Enable threat protection for AI?"
        assert box.textFormat() == Qt.TextFormat.PlainText
        text = box.text()
        assert f"subscription '{SANDBOX}'" in text and "from Free to Standard" in text
        assert text.endswith(BILLING_NOTE)
        assert f"PUT {emu.url.rstrip('/')}{pricing_id(sub)}?api-version=" in box.detailedText()
        assert '"pricingTier": "Standard"' in box.detailedText()
        ok = box.button(QMessageBox.StandardButton.Ok)
        assert ok.text() == "Enable (billed)"
        assert box.defaultButton() is box.button(QMessageBox.StandardButton.Cancel)
        # read before asking: the confirmation shows what Azure has now
        assert [r.method for r in emu.requests if "/pricings/ai" in r.path.lower()] == ["GET"]

        with qtbot.waitSignal(window.flows.written, timeout=20000) as done:
            qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)
        assert "billed" in done.args[0].message
        assert emu.resource(pricing_id(sub))["properties"]["pricingTier"] == "Standard"
        # the tab shows Azure's answer at once
        assert plan_cell(tab, SANDBOX, "Defender for AI plan") == "Standard"
        select_plan(tab, SANDBOX)
        assert not tab.enable_button.isEnabled() and tab.enable_button.toolTip() == PLAN_ALREADY_ON
        assert audit() == [("pricing.enableAI", "succeeded")]


def test_cancel_at_the_confirmation_writes_nothing(window, qtbot, monkeypatch) -> None:
    with ArmEmulator(Scenario.demo(scale=1)) as emu:
        go_live(qtbot, window, emu, monkeypatch)
        tab = security(window)
        sub = sub_id(window, SANDBOX)
        before = emu.resource(pricing_id(sub))
        box = ask_to_enable(qtbot, window, tab, emu)
        qtbot.mouseClick(box.button(QMessageBox.StandardButton.Cancel), Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: window.statusBar().currentMessage() == "Nothing was changed.", timeout=5000)
        assert writes(emu) == []
        assert emu.resource(pricing_id(sub)) == before
        assert plan_cell(tab, SANDBOX, "Defender for AI plan") == "Free"
        assert audit() == []


def test_purview_toggle_says_the_plan_turns_on_and_is_billed(window, qtbot, monkeypatch) -> None:
    with ArmEmulator(Scenario.demo(scale=1)) as emu:
        go_live(qtbot, window, emu, monkeypatch)
        tab = security(window)
        sub = sub_id(window, SANDBOX)
        select_plan(tab, SANDBOX)
        toggle = tab.purview_button
        qtbot.waitUntil(toggle.isEnabled, timeout=10000)
        assert toggle.text() == "Microsoft Purview: Off" and not toggle.isChecked()
        qtbot.mouseClick(toggle, Qt.MouseButton.LeftButton)
        assert not toggle.isChecked()  # Azure's state until the write comes back
        box = confirmation(qtbot, window)
        assert box.windowTitle() == "Turn on Microsoft Purview?"
        text = box.text()
        assert PURVIEW_NOTE_WRITE in text and BILLING_NOTE in text
        assert "this also turns its Defender for AI plan on (Free → Standard)" in text
        assert '"name": "AIPromptSharingWithPurview"' in box.detailedText()
        ok = box.button(QMessageBox.StandardButton.Ok)
        assert ok.text() == "Turn on (billed)"
        with qtbot.waitSignal(window.flows.written, timeout=20000):
            qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)
        props = emu.resource(pricing_id(sub))["properties"]
        assert props["pricingTier"] == "Standard"
        assert {e["name"]: e["isEnabled"] for e in props["extensions"]}[
            "AIPromptSharingWithPurview"
        ] == "True"
        assert plan_cell(tab, SANDBOX, "Microsoft Purview") == "On"
        assert plan_cell(tab, SANDBOX, "Defender for AI plan") == "Standard"
        select_plan(tab, SANDBOX)
        assert toggle.isChecked() and toggle.text() == "Microsoft Purview: On"

        # and off again: the plan stays on, and the box says so
        qtbot.mouseClick(toggle, Qt.MouseButton.LeftButton)
        box = confirmation(qtbot, window)
        assert box.windowTitle() == "Turn off Microsoft Purview?"
        assert "The Defender for AI plan stays on (Standard), and billed." in box.text()
        with qtbot.waitSignal(window.flows.written, timeout=20000):
            qtbot.mouseClick(box.button(QMessageBox.StandardButton.Ok), Qt.MouseButton.LeftButton)
        props = emu.resource(pricing_id(sub))["properties"]
        assert props["pricingTier"] == "Standard"
        assert {e["name"]: e["isEnabled"] for e in props["extensions"]}[
            "AIPromptSharingWithPurview"
        ] == "False"
        assert plan_cell(tab, SANDBOX, "Microsoft Purview") == "Off"
        assert audit() == [("pricing.purviewOn", "succeeded"), ("pricing.purviewOff", "succeeded")]


def test_enable_threat_protection_for_one_account(window, qtbot, monkeypatch) -> None:
    with ArmEmulator(Scenario.demo(scale=1)) as emu:
        go_live(qtbot, window, emu, monkeypatch)
        tab = security(window)
        select_plan(tab, SANDBOX)
        page = tab.view.plan
        assert page.accounts_table.select_row_object(lambda a: a.account.name == SANDBOX_ACCOUNT)
        acct = page.accounts_table.current_row_object().account
        qtbot.waitUntil(page.account_button.isEnabled, timeout=10000)
        qtbot.mouseClick(page.account_button, Qt.MouseButton.LeftButton)
        box = confirmation(qtbot, window)
        assert f"account '{SANDBOX_ACCOUNT}'" in box.text() and "from Disabled to Enabled" in box.text()
        assert box.text().endswith(BILLING_NOTE)
        assert f"{acct.id}/defenderForAISettings/Default?api-version=" in box.detailedText()
        with qtbot.waitSignal(window.flows.written, timeout=20000):
            qtbot.mouseClick(box.button(QMessageBox.StandardButton.Ok), Qt.MouseButton.LeftButton)
        assert emu.resource(f"{acct.id}/defenderForAISettings/Default")["properties"]["state"] == "Enabled"
        setting = window.context.inventory.ai_settings[idkey(acct.id)]
        assert setting.state == "Enabled"
        rows = {r.account.name: r.on for r in page.accounts_model.rows()}
        assert rows[SANDBOX_ACCOUNT] is True
        assert audit() == [("defenderForAISettings.update", "succeeded")]


def test_a_plan_changed_since_it_was_read_is_a_conflict(window, qtbot, monkeypatch) -> None:
    with ArmEmulator(Scenario.demo(scale=1)) as emu:
        go_live(qtbot, window, emu, monkeypatch)
        tab = security(window)
        sub = sub_id(window, SANDBOX)
        box = ask_to_enable(qtbot, window, tab)
        # someone else turns the plan on while the confirmation is open
        emu.update(pricing_id(sub), lambda body: body["properties"].update(pricingTier="Standard"))
        emu.reset_log()
        with qtbot.waitSignal(window.flows.writeFailed, timeout=20000) as failed:
            qtbot.mouseClick(box.button(QMessageBox.StandardButton.Ok), Qt.MouseButton.LeftButton)
        assert "changed in Azure since it was read" in failed.args[0]
        assert "Nothing was written" in failed.args[0]
        assert writes(emu) == []
        assert audit() == [("pricing.enableAI", "conflict")]


def test_a_failed_write_shows_the_plan_as_azure_has_it(window, qtbot, monkeypatch) -> None:
    faults = Faults(server_errors=[Rule(path="/pricings/AI", method="PUT", status=500, times=None)])
    with ArmEmulator(Scenario.demo(scale=1), faults=faults) as emu:
        go_live(qtbot, window, emu, monkeypatch)
        tab = security(window)
        sub = sub_id(window, SANDBOX)
        box = ask_to_enable(qtbot, window, tab)
        with qtbot.waitSignal(window.flows.writeFailed, timeout=30000) as failed:
            qtbot.mouseClick(box.button(QMessageBox.StandardButton.Ok), Qt.MouseButton.LeftButton)
        assert "Could not turn on threat protection for AI" in failed.args[0]
        assert emu.resource(pricing_id(sub))["properties"]["pricingTier"] == "Free"
        assert window.context.inventory.plans[sub.lower()].tier == "Free"  # re-read, still Free
        assert plan_cell(tab, SANDBOX, "Defender for AI plan") == "Free"
        shown = next(b for b in window.findChildren(QMessageBox) if b.objectName() == "writeFailedBox")
        assert shown.windowTitle() == f"Could not turn on threat protection for AI for '{SANDBOX}'"
        assert audit() == [("pricing.enableAI", "failed")]


# ------------------------------------------------------------------------------------ rights


def test_a_reader_sees_every_security_write_disabled_with_the_reason(window, qtbot, monkeypatch) -> None:
    scenario = Scenario.demo(scale=1)
    scenario.only("Reader")
    with ArmEmulator(scenario) as emu:
        go_live(qtbot, window, emu, monkeypatch)
        tab = security(window)
        select_plan(tab, SANDBOX)
        account = tab.view.plan.account_button
        settled(qtbot, tab.enable_button, tab.purview_button, account)
        assert not tab.enable_button.isEnabled() and "Security Admin or Owner" in tab.enable_button.toolTip()
        assert not tab.purview_button.isEnabled()
        assert "Azure AI Account Owner role or Owner" in tab.purview_button.toolTip()
        assert not account.isEnabled() and "Owner" in account.toolTip()
        # the reasons are on screen, not only in tooltips
        assert "Threat protection: You need Security Admin or Owner" in tab.write_reason.text()
        assert "Microsoft Purview: " in tab.write_reason.text()
        assert tab.view.plan.account_reason.text() == account.toolTip()
        assert writes(emu) == []


def test_a_security_admin_may_enable_the_plan_but_not_toggle_purview(window, qtbot, monkeypatch) -> None:
    scenario = Scenario.demo(scale=1)
    scenario.only("Security Admin")
    with ArmEmulator(scenario) as emu:
        go_live(qtbot, window, emu, monkeypatch)
        tab = security(window)
        select_plan(tab, SANDBOX)
        settled(qtbot, tab.enable_button, tab.purview_button)
        assert tab.enable_button.isEnabled()
        assert not tab.purview_button.isEnabled()
        reason = tab.purview_button.toolTip()
        assert "the Azure AI Account Owner role or Owner (to configure Microsoft Purview)" in reason
        assert tab.write_reason.text() == f"Microsoft Purview: {reason}"
        assert writes(emu) == []


def test_offline_snapshot_disables_the_security_writes(window, qtbot) -> None:
    tab = security(window)
    select_plan(tab, SANDBOX)
    for button in (tab.enable_button, tab.purview_button, tab.view.plan.account_button):
        assert not button.isEnabled()
        assert button.toolTip() == OFFLINE_REASON == "Offline snapshot: sign in to make changes"
    assert tab.write_reason.text() == OFFLINE_REASON


# ------------------------------------------------------------------------------------ portal links


def test_portal_links_per_cloud(window, qtbot, monkeypatch) -> None:
    tab = security(window)
    page = tab.view.recommendation
    tenant = window.context.inventory.meta.tenant_id
    # the demo snapshot is from the public cloud: its resources open in portal.azure.com
    assert tab.recommendations_table.select_row_object(lambda r: not r.portal_link)
    rec = tab.recommendations_table.current_row_object()
    assert (
        page.portal_button.property("url") == f"https://portal.azure.com/#@{tenant}/resource{rec.resource_id}"
    )
    with ArmEmulator(Scenario.demo(scale=1)) as emu:
        go_live(qtbot, window, emu, monkeypatch)  # the emulator is a custom cloud
        assert window.context.inventory.meta.cloud == "custom"
        tab = security(window)
        assert tab.recommendations_table.select_first_row()
        assert not page.portal_button.isEnabled() and not page.copy_button.isEnabled()
        assert page.links.note.text() == CUSTOM_CLOUD_REASON
