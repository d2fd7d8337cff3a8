"""Issue 4 end to end: the window's write flows against the ARM emulator, with the real AzureSession.

Sign-in is the real dialog with an emulator token (see tests/test_live_refresh.py); every write goes
through ``fcdesk.actions.Actions`` and the SDK pipelines to the emulator, whose own policy engine
(an independent interpreter of the built-in definitions) produces the states fcdesk reads back.
"""

from __future__ import annotations

import asyncio

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWizard

from fcdesk.core.drafts import draft_from_policy, what_if
from fcdesk.core.guardrails import PROMPT, Severity
from fcdesk.core.inventory import PolicyStatus
from fcdesk.core.model import idkey
from fcdesk.models.workspace import CHECKING_REASON, POLICY_RIGHTS
from fcdesk.store.audit import AuditLog
from fcdesk.views.main_window import MainWindow
from fcdesk.views.policy_wizard import PolicyWizard
from tests.arm_emulator import ArmEmulator, Faults, Rule, Scenario
from tests.helpers.live import go_live, live_window

ASSIGNMENTS = "/providers/Microsoft.Authorization/policyAssignments/"


window = pytest.fixture(name="window")(live_window)


def refresh(qtbot, window: MainWindow) -> None:
    with qtbot.waitSignal(window.refreshFinished, timeout=30000):
        window.refresh_action.trigger()


def click_ok(qtbot, window: MainWindow) -> None:
    """Confirm the message box the flow opened (delete, move)."""
    box = None

    def shown() -> bool:
        nonlocal box
        box = next((b for b in window.findChildren(QMessageBox) if b.isVisible()), None)
        return box is not None

    qtbot.waitUntil(shown, timeout=5000)
    assert box is not None
    qtbot.mouseClick(box.button(QMessageBox.StandardButton.Ok), Qt.MouseButton.LeftButton)


def puts(emu: ArmEmulator, fragment: str) -> list:
    return [r for r in emu.requests if r.method in ("PUT", "DELETE") and fragment.lower() in r.path.lower()]


def first_subscription(scenario: Scenario) -> str:
    return scenario.subscription_ids()[0]


# ------------------------------------------------------------------------------------ the wizard


def test_wizard_creates_the_assignment_and_the_what_if_matches_azure(window, qtbot, monkeypatch) -> None:
    scenario = Scenario.demo(scale=1)
    with ArmEmulator(scenario) as emu:
        go_live(qtbot, window, emu, monkeypatch)
        tab = window.tab("policies")
        window.show_tab("policies")
        qtbot.waitUntil(tab.create_button.isEnabled, timeout=10000)
        qtbot.mouseClick(tab.create_button, Qt.MouseButton.LeftButton)
        wizard: PolicyWizard = window.flows.wizard
        assert isinstance(wizard, PolicyWizard) and wizard.isVisible()

        page = wizard.controls_page
        page.set_filter("Hate")
        page.prompt_check.setChecked(True)
        page.completion_check.setChecked(True)
        page.set_threshold(Severity.LOW)
        qtbot.mouseClick(page.add_button, Qt.MouseButton.LeftButton)
        page.set_filter("Jailbreak")
        qtbot.mouseClick(page.add_button, Qt.MouseButton.LeftButton)
        next_button = wizard.button(QWizard.WizardButton.NextButton)
        qtbot.mouseClick(next_button, Qt.MouseButton.LeftButton)
        sub = first_subscription(scenario)
        wizard.scope_page.set_subscription(sub)
        qtbot.waitUntil(lambda: wizard.idle and next_button.isEnabled(), timeout=10000)
        qtbot.mouseClick(next_button, Qt.MouseButton.LeftButton)  # exceptions: none
        qtbot.mouseClick(next_button, Qt.MouseButton.LeftButton)
        qtbot.keyClicks(wizard.name_page.name_edit, "Block <b>hate</b> at Low")
        qtbot.mouseClick(next_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: wizard.idle, timeout=10000)
        draft = wizard.result_draft()
        predicted = what_if(window.context.inventory, draft)
        assert str(len(predicted.violating)) in wizard.review_page.headline.text()
        assert predicted.evaluated > len(predicted.violating) > 0

        with qtbot.waitSignal(window.flows.written, timeout=20000) as done:
            qtbot.mouseClick(wizard.button(QWizard.WizardButton.FinishButton), Qt.MouseButton.LeftButton)
        result = done.args[0]

        # The body Azure received is exactly the draft's.
        (sent,) = puts(emu, ASSIGNMENTS)
        assert sent.body == draft.assignment_body()
        assert emu.resource(draft.assignment_id) is not None
        # The window shows it at once, pending evaluation; Azure was asked to evaluate the scope.
        assert result.evaluation_started
        assert any(r.method == "POST" and r.path.endswith("/triggerEvaluation") for r in emu.requests)
        rows = {r.policy.key: r for r in window.context.inventory.policy_rows()}
        row = rows[idkey(draft.assignment_id)]
        assert row.status is PolicyStatus.PENDING and row.status_text.startswith("Pending evaluation (since ")
        # After a refresh Azure's verdicts (from the emulator's own engine) are in, and they agree
        # with the what-if: the same deployments violate it.
        refresh(qtbot, window)
        inv = window.context.inventory
        pol = next(p for p in inv.policies if p.key == idkey(draft.assignment_id))
        azure_violating = sorted(
            a.deployment.key
            for a in inv.policy_rows()[inv.policies.index(pol)].assets
            if a.azure and not a.azure.compliant
        )
        assert azure_violating == sorted(r.deployment.key for r in predicted.violating)
        assert (
            next(r for r in inv.policy_rows() if r.policy.key == pol.key).status is not PolicyStatus.PENDING
        )

        # The audit log has the write.
        entries, damaged = AuditLog().read()
        assert damaged == 0
        assert [(e.operation, e.outcome) for e in entries] == [("policyAssignment.create", "succeeded")]
        assert entries[0].target.lower() == draft.assignment_id.lower() and entries[0].after is not None


def test_edit_and_delete_a_policy(window, qtbot, monkeypatch) -> None:
    scenario = Scenario.demo(scale=1)
    with ArmEmulator(scenario) as emu:
        go_live(qtbot, window, emu, monkeypatch)
        inv = window.context.inventory
        policy = inv.policies[0]
        wizard = window.flows.open_wizard(draft_from_policy(policy))
        assert wizard.windowTitle() == "Edit guardrail policy"
        wizard.controls_page.set_filter("Profanity")
        qtbot.mouseClick(wizard.controls_page.add_button, Qt.MouseButton.LeftButton)
        for _ in range(4):
            qtbot.waitUntil(lambda: wizard.idle, timeout=10000)
            qtbot.mouseClick(wizard.button(QWizard.WizardButton.NextButton), Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: wizard.idle, timeout=10000)
        with qtbot.waitSignal(window.flows.written, timeout=20000):
            qtbot.mouseClick(wizard.button(QWizard.WizardButton.FinishButton), Qt.MouseButton.LeftButton)
        stored = emu.resource(policy.id)
        params = stored["properties"]["parameters"]
        assert params["allowedProfanityEnabledForPrompt"]["value"] == ["true"]
        assert stored["properties"]["displayName"] == policy.display_name
        edited = next(p for p in window.context.inventory.policies if p.key == policy.key)
        assert any(r.key == ("Profanity", PROMPT) for r in edited.minimum_controls)

        # Delete: confirmed, then gone from Azure and from the window.
        with qtbot.waitSignal(window.flows.written, timeout=20000):
            window.flows.delete_policy(edited)
            click_ok(qtbot, window)
        assert emu.resource(policy.id) is None
        assert policy.key not in {p.key for p in window.context.inventory.policies}
        ops = [e.operation for e in AuditLog().read()[0]]
        assert ops == ["policyAssignment.update", "policyAssignment.delete"]


# ------------------------------------------------------------------------------------ Fix now


def violating_asset(window: MainWindow):
    inv = window.context.inventory
    return next(
        a for a in inv.asset_rows() if a.azure is not None and not a.azure.compliant and not a.local.passed
    )


def open_editor(qtbot, window: MainWindow, deployments):
    window.flows.fix(deployments)
    qtbot.waitUntil(
        lambda: window.flows.editor is not None and window.flows.editor.isVisible(), timeout=10000
    )
    return window.flows.editor


def test_fix_now_makes_a_deployment_compliant(window, qtbot, monkeypatch) -> None:
    scenario = Scenario.demo(scale=1)
    with ArmEmulator(scenario) as emu:
        go_live(qtbot, window, emu, monkeypatch)
        asset = violating_asset(window)
        dep, policy = asset.deployment, asset.policy
        editor = open_editor(qtbot, window, [dep])
        qtbot.waitUntil(lambda: editor.save_blocked_reason() != CHECKING_REASON, timeout=5000)
        changed = editor.meet_requirements()
        assert changed
        assert editor.live_text().startswith("✓")
        name = editor.save_value().rai_policy_name
        review = editor.review()
        assert review is not None and review.rows()
        with qtbot.waitSignal(window.flows.written, timeout=30000):
            qtbot.mouseClick(review.confirm_button, Qt.MouseButton.LeftButton)
        assert not editor.isVisible()

        # Azure has the guardrail and the deployment points at it (the deployment PUT was an LRO).
        stored = emu.resource(dep.id)
        assert stored["properties"]["raiPolicyName"] == name
        assert stored["properties"]["provisioningState"] == "Succeeded"
        # The local evaluation updated at once; the policy is pending evaluation.
        inv = window.context.inventory
        now_dep = next(d for d in inv.deployments if d.key == dep.key)
        now_pol = next(p for p in inv.policies if p.key == policy.key)
        assert inv.local(now_dep, now_pol).passed
        assert inv.pending_since(now_pol) is not None
        # After Azure's re-evaluation (triggered by the write) and a refresh, Azure agrees.
        refresh(qtbot, window)
        inv = window.context.inventory
        now_dep = next(d for d in inv.deployments if d.key == dep.key)
        now_pol = next(p for p in inv.policies if p.key == policy.key)
        verdict = inv.azure(now_dep, now_pol)
        assert verdict is not None and verdict.compliant
        ops = [(e.operation, e.outcome) for e in AuditLog().read()[0]]
        assert (
            ops[-1] == ("deployment.setGuardrail", "succeeded") and ("raiPolicy.create", "succeeded") in ops
        )


def test_a_changed_etag_is_a_conflict_and_writes_nothing(window, qtbot, monkeypatch) -> None:
    scenario = Scenario.demo(scale=1)
    with ArmEmulator(scenario) as emu:
        go_live(qtbot, window, emu, monkeypatch)
        dep = violating_asset(window).deployment
        editor = open_editor(qtbot, window, [dep])
        qtbot.waitUntil(lambda: editor.save_blocked_reason() != CHECKING_REASON, timeout=5000)
        editor.meet_requirements()
        review = editor.review()
        # Someone else changes the deployment after the editor read it.
        emu.update(dep.id, lambda body: body.setdefault("tags", {}).update({"owner": "someone else"}))
        emu.reset_log()
        with qtbot.waitSignal(window.flows.writeFailed, timeout=20000) as failed:
            qtbot.mouseClick(review.confirm_button, Qt.MouseButton.LeftButton)
        assert (
            "changed in Azure since it was read" in failed.args[0] and "Nothing was written" in failed.args[0]
        )
        assert not [r for r in emu.requests if r.method == "PUT"]
        qtbot.waitUntil(lambda: not editor.busy, timeout=5000)
        assert editor.isVisible() and "Nothing was written" in editor.error_banner.label.text()
        assert [(e.operation, e.outcome) for e in AuditLog().read()[0]][-1][1] == "conflict"


def test_a_failed_put_leaves_the_true_state_shown(window, qtbot, monkeypatch) -> None:
    scenario = Scenario.demo(scale=1)
    faults = Faults(server_errors=[Rule(path="/deployments/", method="PUT", status=500, times=None)])
    with ArmEmulator(scenario, faults=faults) as emu:
        go_live(qtbot, window, emu, monkeypatch)
        dep = violating_asset(window).deployment
        before = dep.rai_policy_name
        editor = open_editor(qtbot, window, [dep])
        qtbot.waitUntil(lambda: editor.save_blocked_reason() != CHECKING_REASON, timeout=5000)
        editor.meet_requirements()
        save = editor.save_value()
        review = editor.review()
        with qtbot.waitSignal(window.flows.writeFailed, timeout=30000) as failed:
            qtbot.mouseClick(review.confirm_button, Qt.MouseButton.LeftButton)
        message = failed.args[0]
        assert "Done before the failure" in message and save.rai_policy_name in message
        # Azure: the guardrail was created, the deployment unchanged; the window shows exactly that.
        assert emu.resource(f"{dep.account_id}/raiPolicies/{save.rai_policy_name}") is not None
        assert emu.resource(dep.id)["properties"].get("raiPolicyName") == before
        inv = window.context.inventory
        assert next(d for d in inv.deployments if d.key == dep.key).rai_policy_name == before
        assert save.rai_policy_name.lower() in {
            g.name.lower() for g in inv.account_guardrails(dep.account_id)
        }
        outcomes = [(e.operation, e.outcome) for e in AuditLog().read()[0]]
        assert outcomes == [("raiPolicy.create", "succeeded"), ("deployment.setGuardrail", "failed")]


# ------------------------------------------------------------------------------------ rights


def test_a_reader_finds_every_write_disabled_with_the_reason(window, qtbot, monkeypatch) -> None:
    scenario = Scenario.demo(scale=1)
    scenario.only("Reader")
    with ArmEmulator(scenario) as emu:
        go_live(qtbot, window, emu, monkeypatch)
        policies = window.tab("policies")
        window.show_tab("policies")
        create = policies.create_button
        qtbot.waitUntil(lambda: create.toolTip() != CHECKING_REASON, timeout=10000)
        assert not create.isEnabled()
        assert "Owner or Resource Policy Contributor" in create.toolTip()
        policies.select_first()
        for button in (policies.edit_button, policies.delete_button):
            qtbot.waitUntil(lambda b=button: b.toolTip() != CHECKING_REASON, timeout=10000)
            assert not button.isEnabled() and "Owner or Resource Policy Contributor" in button.toolTip()
        guardrails = window.tab("guardrails")
        window.show_tab("guardrails")
        guardrails.select_first()
        edit = guardrails.edit_button
        qtbot.waitUntil(lambda: edit.toolTip() != CHECKING_REASON, timeout=10000)
        assert not edit.isEnabled() and "to change guardrails" in edit.toolTip()
        assert not [r for r in emu.requests if r.method in ("PUT", "DELETE", "PATCH")]


def test_resource_policy_contributor_may_edit_policies_but_not_guardrails(window, qtbot, monkeypatch) -> None:
    scenario = Scenario.demo(scale=1)
    scenario.only("Resource Policy Contributor")
    with ArmEmulator(scenario) as emu:
        go_live(qtbot, window, emu, monkeypatch)
        policies = window.tab("policies")
        window.show_tab("policies")
        qtbot.waitUntil(policies.create_button.isEnabled, timeout=10000)
        guardrails = window.tab("guardrails")
        window.show_tab("guardrails")
        guardrails.select_first()
        qtbot.waitUntil(lambda: guardrails.edit_button.toolTip() != CHECKING_REASON, timeout=10000)
        assert not guardrails.edit_button.isEnabled()


def test_offline_snapshot_disables_every_write(window, qtbot) -> None:
    policies = window.tab("policies")
    assert not policies.create_button.isEnabled()
    assert policies.create_button.toolTip() == "Offline snapshot: sign in to make changes"
    assert window.audit_action.isEnabled()
    dialog = window.flows.open_audit_log()
    qtbot.waitUntil(lambda: not dialog.loading, timeout=5000)
    assert dialog.entries_shown() == [] and dialog.empty_state.isVisibleTo(dialog)
    dialog.close()


def test_a_role_on_one_resource_group_enables_create(window, qtbot, monkeypatch) -> None:
    scenario = Scenario.demo(scale=1)
    account = scenario.of_kind("account")[0]
    rg = account.id.split("/providers/")[0]
    scenario.only("Reader").grant("Resource Policy Contributor", scope=rg)
    with ArmEmulator(scenario) as emu:
        go_live(qtbot, window, emu, monkeypatch)
        window.show_tab("policies")
        create = window.tab("policies").create_button
        qtbot.waitUntil(create.isEnabled, timeout=10000)
        # The wizard still checks the scope finally chosen: the whole subscription is refused.
        answer = None

        async def check() -> None:
            nonlocal answer
            answer = await window.context.rights_answer(POLICY_RIGHTS, rg.split("/resourceGroups/")[0])

        task = asyncio.ensure_future(check())
        qtbot.waitUntil(task.done, timeout=10000)
        assert answer is not None and not answer.allowed
        assert "Owner or Resource Policy Contributor" in answer.reason


def test_a_failed_policy_write_reopens_the_wizard_with_what_was_entered(window, qtbot, monkeypatch) -> None:
    scenario = Scenario.demo(scale=1)
    faults = Faults(server_errors=[Rule(path="/policyAssignments/", method="PUT", status=500, times=None)])
    with ArmEmulator(scenario, faults=faults) as emu:
        go_live(qtbot, window, emu, monkeypatch)
        policy = window.context.inventory.policies[0]
        draft = draft_from_policy(policy)
        draft.description = "entered by hand"
        with qtbot.waitSignal(window.flows.writeFailed, timeout=20000) as failed:
            window.flows.apply_policy(draft)
        assert "server error" in failed.args[0]
        qtbot.waitUntil(
            lambda: window.flows.wizard is not None and window.flows.wizard.isVisible(), timeout=5000
        )
        again = window.flows.wizard.result_draft()
        assert again.description == "entered by hand" and again.existing is policy
        assert emu.resource(policy.id)["properties"].get("description") != "entered by hand"
        assert not window.flows.busy and window.refresh_action.isEnabled()
        window.flows.wizard.reject()
