"""The Policies and Assets tabs (the spec's Policy/Assets toggle), driven through their widgets.

The tenant is hand-written raw ARM JSON (see ``_records``); Azure's policy states are derived from
fcdesk's own evaluation, as Azure would report them, except for two deliberate disagreements.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush
from PySide6.QtWidgets import QLabel

from fcdesk.core.demo import generate
from fcdesk.core.guardrails import PROMPT, Severity
from fcdesk.core.inventory import Inventory, Scope
from fcdesk.core.policy import (
    CONTROL_PARAMS,
    EFFECT_PARAM,
    INITIATIVE_ID,
    minimum,
    parameters_for,
)
from fcdesk.core.records import Kind, RawRecord, Source
from fcdesk.core.text import as_of, format_utc, html_to_plain, relative
from fcdesk.models.palette import LIGHT
from fcdesk.models.policies import (
    AssetSummaryModel,
    AssetTableModel,
    EvaluationModel,
    PolicyTableModel,
)
from fcdesk.models.table import SORT_ROLE
from fcdesk.models.workspace import OFFLINE_REASON, SnapshotInfo, WorkspaceContext
from fcdesk.views.policies_tab import (
    EMPTY_ASSETS_NO_POLICY,
    EMPTY_POLICIES,
    SELECT_ASSET,
    SELECT_POLICY,
    AssetsTab,
    PoliciesTab,
)
from fcdesk.views.widgets import Banner, DataTable, PlainLabel
from tests.helpers import builders as b

SUB_A = "aaaaaaaa-1111-4000-8000-00000000000a"
SUB_B = "aaaaaaaa-1111-4000-8000-00000000000b"
SUB_C = "aaaaaaaa-1111-4000-8000-00000000000c"
ACCT_PROD = b.account_id(SUB_A, "rg-ai", "acct-prod")
ACCT_LAB = b.account_id(SUB_A, "rg-lab", "acct-lab")
ACCT_DEV = b.account_id(SUB_B, "rg-dev", "acct-dev")
ACCT_C = b.account_id(SUB_C, "rg-c", "acct-c")
HTML_NAME = "<b>x</b>"
JAILBREAK = ("Jailbreak", PROMPT)
HATE_IN, HATE_OUT = ("Hate", "Prompt"), ("Hate", "Completion")
JAILBREAK_REF = CONTROL_PARAMS[JAILBREAK].reference_id
HARM_DEFINITION = "/providers/Microsoft.Authorization/policyDefinitions/930f48f9-f07e-427c-9494-52603581c6a9"
SCANNED = "2026-11-20T09:30:00Z"
SCANNED_TEXT = "2026-11-20 09:30 UTC"
P1, P2, P3, P4 = "Require jailbreak shield", "Harm filters at Medium", HTML_NAME, "Retired audit"

#: The offscreen platform warns when a top-level window is shown; nothing to do with the code under test.


# ------------------------------------------------------------------------------------ the tenant


def _full(*, jailbreak: bool = True, hate_out: str = "Medium") -> list[dict[str, Any]]:
    """Every control of the initiative present (an absent filter fails its reference)."""
    out = [
        b.flt(h, s, threshold=hate_out if (h, s) == HATE_OUT else "Medium")
        for h in b.HARMS
        for s in ("Prompt", "Completion")
    ]
    out.append(b.flt("Jailbreak", "Prompt", enabled=jailbreak, blocking=jailbreak))
    out += [b.flt(n, "Prompt") for n in ("Indirect Attack", "Indirect Attack Spotlighting", "Profanity")]
    out += [
        b.flt(n, "Completion") for n in ("Protected Material Text", "Protected Material Code", "Profanity")
    ]
    return out


def _assignment(
    scope: str,
    name: str,
    display_name: str,
    requirements: list[Any],
    *,
    not_scopes: list[str] = (),  # type: ignore[assignment]
    effect: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> RawRecord:
    """A guardrail policy, shaped like policy/createPolicyAssignment.json's response body."""
    arm_id = f"{scope}/providers/Microsoft.Authorization/policyAssignments/{name}"
    params = parameters_for({r.key: r for r in requirements}, None)
    if effect is not None:
        params[EFFECT_PARAM] = {"value": effect}
    body = {
        "id": arm_id,
        "type": "Microsoft.Authorization/policyAssignments",
        "name": name,
        "properties": {
            "displayName": display_name,
            "description": f"{display_name}: minimum controls.",
            "metadata": metadata or {"assignedBy": "Alice Admin"},
            "policyDefinitionId": INITIATIVE_ID,
            "notScopes": list(not_scopes),
            "parameters": params,
            "enforcementMode": "Default",
            "scope": scope,
        },
    }
    return RawRecord(Kind.POLICY_ASSIGNMENT, arm_id, body, scope)


def _state(resource: str, assignment: str, reference: str, compliant: bool) -> RawRecord:
    """One policyStates/latest/queryResults record (PolicyStates_Query…PolicyAssignmentScope.json)."""
    body = {
        "timestamp": SCANNED,
        "resourceId": resource,
        "policyAssignmentId": assignment,
        "policyDefinitionId": HARM_DEFINITION,
        "policySetDefinitionId": INITIATIVE_ID,
        "policyDefinitionReferenceId": reference,
        "isCompliant": compliant,
        "complianceState": "Compliant" if compliant else "NonCompliant",
        "subscriptionId": resource.split("/")[2],
        "resourceType": "Microsoft.CognitiveServices/accounts/deployments",
    }
    return RawRecord(Kind.POLICY_STATE, f"{resource}|{assignment}|{reference}", body)


def _states(
    base: list[RawRecord], *, pending: set[str], stale: dict[tuple[str, str], bool]
) -> list[RawRecord]:
    """Azure's verdicts as fcdesk evaluates them; ``stale[(deployment, policy)]`` overrides one."""
    inv = b.inventory(base)
    out = []
    for dep in inv.deployments:
        for pol in inv.governing(dep):
            if pol.label in pending:
                continue
            ev = inv.local(dep, pol)
            compliant = stale.get((dep.name, pol.label), ev.passed)
            refs = sorted(ev.failed_references) if not compliant else []
            if not compliant and not refs:
                refs = [JAILBREAK_REF]
            out.append(_state(dep.id, pol.id, "", compliant))
            out += [_state(dep.id, pol.id, ref, False) for ref in refs]
    return out


def _records() -> list[RawRecord]:
    """Three subscriptions.

    A "Contoso Prod": acct-prod (rg-ai: gpt-strict on strict, gpt-weak on weak, gpt-test on strict) and
    acct-lab (rg-lab, project "lab": lab-1 on strict).
      P1 "Require jailbreak shield" (subscription A, except gpt-test): gpt-strict (Azure says
         NonCompliant, a stale verdict: local passes), gpt-weak (jailbreak off: fails), lab-1 → 2 of 3.
      P2 "Harm filters at Medium" (resource group rg-ai): gpt-weak's Hate completion blocks only High,
         but Azure still says Compliant (the other disagreement) → Compliant.
    B "Contoso Dev": acct-dev: dev-1 on no guardrail. P3 "<b>x</b>" (no states: pending) and
      P4 "Retired audit" (effect Disabled).
    C "Contoso Empty": acct-c with c-1, no policy at all.
    """
    base = [
        b.subscription(SUB_A, "Contoso Prod"),
        b.subscription(SUB_B, "Contoso Dev"),
        b.subscription(SUB_C, "Contoso Empty"),
        b.account(ACCT_PROD),
        b.account(ACCT_LAB),
        b.account(ACCT_DEV),
        b.account(ACCT_C),
        b.project(ACCT_LAB, "lab", "Lab"),
        b.rai_policy(ACCT_PROD, "strict", _full()),
        b.rai_policy(ACCT_PROD, "weak", _full(jailbreak=False, hate_out="High")),
        b.rai_policy(ACCT_LAB, "strict", _full()),
        b.deployment(ACCT_PROD, "gpt-strict", "strict"),
        b.deployment(ACCT_PROD, "gpt-weak", "weak", model="gpt-4o-mini", version="2024-07-18"),
        b.deployment(ACCT_PROD, "gpt-test", "strict"),
        b.deployment(ACCT_LAB, "lab-1", "strict"),
        b.deployment(ACCT_DEV, "dev-1"),
        b.deployment(ACCT_C, "c-1"),
        _assignment(
            f"/subscriptions/{SUB_A}",
            "require-jailbreak",
            P1,
            [minimum(JAILBREAK)],
            not_scopes=[f"{ACCT_PROD}/deployments/gpt-test"],
        ),
        _assignment(
            f"/subscriptions/{SUB_A}/resourceGroups/rg-ai",
            "harm-medium",
            P2,
            [minimum(HATE_IN, Severity.MEDIUM), minimum(HATE_OUT, Severity.MEDIUM)],
            metadata={"assignedBy": "Bob", "createdBy": "fcdesk"},
        ),
        _assignment(f"/subscriptions/{SUB_B}", "html-name", P3, [minimum(JAILBREAK)]),
        _assignment(f"/subscriptions/{SUB_B}", "retired", P4, [minimum(JAILBREAK)], effect="Disabled"),
    ]
    stale = {("gpt-strict", P1): False, ("gpt-weak", P2): True}
    return base + _states(base, pending={P3, P4}, stale=stale)


@pytest.fixture
def inventory() -> Inventory:
    return b.inventory(_records())


@pytest.fixture
def context(qapp, inventory: Inventory) -> WorkspaceContext:
    return WorkspaceContext(inventory, SnapshotInfo(None, Source.DEMO))


@pytest.fixture
def policies(qtbot, context: WorkspaceContext) -> PoliciesTab:
    tab = PoliciesTab(context, colors=LIGHT)
    qtbot.addWidget(tab)
    qtbot.addWidget(tab.detail)
    tab.show()  # as in the window: a shown tab follows scope changes at once (hidden ones catch up lazily)
    return tab


@pytest.fixture
def assets(qtbot, context: WorkspaceContext) -> AssetsTab:
    tab = AssetsTab(context, colors=LIGHT)
    qtbot.addWidget(tab)
    qtbot.addWidget(tab.detail)
    tab.show()  # as in the window: a shown tab follows scope changes at once (hidden ones catch up lazily)
    return tab


# ------------------------------------------------------------------------------------ helpers


def _column(model: Any, header: str) -> int:
    return [c.header for c in model.columns].index(header)


def _texts(table: DataTable, header: str) -> list[str]:
    col = _column(table.source_model, header)
    return [table.proxy.index(r, col).data() for r in range(table.proxy.rowCount())]


def _cell(table: DataTable, row_pred: Any, header: str, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
    col = _column(table.source_model, header)
    for r in range(table.proxy.rowCount()):
        if row_pred(table.proxy.row_object(r)):
            return table.proxy.index(r, col).data(role)
    raise AssertionError("no such row")


def _tip(table: DataTable, row_pred: Any, header: str) -> str:
    """A tooltip as the user reads it (tooltips are escaped rich text so names show literally)."""
    raw = _cell(table, row_pred, header, Qt.ItemDataRole.ToolTipRole)
    return html.unescape(raw.removeprefix("<qt>").removesuffix("</qt>").replace("<br>", "\n"))


def _model_texts(model: Any, header: str) -> list[str]:
    col = _column(model, header)
    return [model.index(r, col).data() for r in range(model.rowCount())]


def _select_policy(tab: PoliciesTab, label: str) -> None:
    assert tab.table.select_row_object(lambda r: r.policy.label == label)


def _brush(color: Any) -> QBrush:
    return QBrush(color)


# ------------------------------------------------------------------------------------ models


def test_models_pass_the_qt_model_tester(qtmodeltester, inventory: Inventory) -> None:
    rows = inventory.policy_rows()
    pm = PolicyTableModel(LIGHT)
    pm.set_rows(rows)
    qtmodeltester.check(pm)
    am = AssetTableModel(LIGHT)
    am.set_rows(inventory.asset_rows())
    qtmodeltester.check(am)
    for first in ("deployment", "policy"):
        sm = AssetSummaryModel(LIGHT, first=first)
        sm.set_rows(inventory.asset_rows())
        qtmodeltester.check(sm)
    em = EvaluationModel(LIGHT)
    em.set_evaluation(inventory.asset_rows()[0].local)
    qtmodeltester.check(em)
    assert pm.rowCount() == 4 and am.rowCount() == 8 and em.rowCount() == 16


def test_policy_compliance_texts_and_colours_follow_the_spec(policies: PoliciesTab) -> None:
    t = policies.table
    status = {
        r.policy.label: _cell(t, lambda x, r=r: x is r, "Policy compliance") for r in t.proxy.visible_rows()
    }
    assert status == {
        P1: "Violations detected",
        P2: "Compliant",
        P3: "Pending evaluation",
        P4: "Disabled",
    }
    bg = Qt.ItemDataRole.BackgroundRole
    assert _cell(t, lambda r: r.policy.label == P1, "Policy compliance", bg) == _brush(LIGHT.fail)
    assert _cell(t, lambda r: r.policy.label == P2, "Policy compliance", bg) == _brush(LIGHT.ok)
    assert _cell(t, lambda r: r.policy.label == P3, "Policy compliance", bg) == _brush(LIGHT.pending)
    # default order: violations first (a severity order, not the alphabetical one)
    assert _texts(t, "Policy compliance") == [
        "Violations detected",
        "Pending evaluation",
        "Compliant",
        "Disabled",
    ]
    t.sortByColumn(_column(t.source_model, "Policy compliance"), Qt.SortOrder.DescendingOrder)
    assert _texts(t, "Policy compliance")[0] == "Disabled"


def test_policy_columns(policies: PoliciesTab) -> None:
    t = policies.table
    p1 = lambda r: r.policy.label == P1  # noqa: E731
    assert _cell(t, p1, "Violating") == "2 of 3"  # gpt-test is excepted: not counted
    assert "Azure's verdict where there is one" in _tip(t, p1, "Violating")
    assert "disagrees with Azure on 1 deployment." in _tip(t, p1, "Violating")
    assert _cell(t, p1, "Exceptions") == "1"
    tip = _tip(t, p1, "Exceptions")
    assert "Deployment gpt-test (account acct-prod, resource group rg-ai)" in tip
    assert _cell(t, lambda r: r.policy.label == P2, "Exceptions") == "None"
    assert _cell(t, p1, "Scope") == "Subscription Contoso Prod"
    assert _cell(t, lambda r: r.policy.label == P2, "Scope") == "Resource group rg-ai (Contoso Prod)"
    assert _cell(t, p1, "Controls") == "Prompt shield: jailbreak (user prompt attacks): Must block"
    assert _cell(t, p1, "As of") == SCANNED_TEXT
    assert _cell(t, lambda r: r.policy.label == P3, "As of") == "—"
    assert _cell(t, p1, "Created by") == "Alice Admin"
    assert _cell(t, lambda r: r.policy.label == P2, "Created by") == "Bob (edited with fcdesk)"  # assigned by Bob, managed with fcdesk since
    assert _cell(t, p1, "Policy", Qt.ItemDataRole.FontRole).bold()
    # Violating sorts by count, not by text ("10 of 12" < "2 of 3" as text)
    keys = {
        r.policy.label: _cell(t, lambda x, r=r: x is r, "Violating", SORT_ROLE)
        for r in t.proxy.visible_rows()
    }
    assert keys[P1] > keys[P2]


def test_scope_changes_change_the_rows(
    policies: PoliciesTab, assets: AssetsTab, context: WorkspaceContext
) -> None:
    assert policies.rows_shown() == 4 and assets.rows_shown() == 8
    context.set_scope(Scope(frozenset({SUB_B})))
    assert {r.policy.label for r in policies.table.proxy.visible_rows()} == {P3, P4}
    assert sorted((r.deployment.name, r.policy.label) for r in assets.table.proxy.visible_rows()) == sorted(
        [("dev-1", P3), ("dev-1", P4)]
    )
    # a project widens to its account's deployments; the rg-ai policy does not govern rg-lab
    context.set_scope(Scope(frozenset({SUB_A}), f"{ACCT_LAB}/projects/lab"))
    assert [r.policy.label for r in policies.table.proxy.visible_rows()] == [P1]
    assert [(r.deployment.name, r.policy.label) for r in assets.table.proxy.visible_rows()] == [("lab-1", P1)]
    context.set_scope(Scope())
    assert policies.rows_shown() == 4


def test_empty_scope_shows_a_helpful_placeholder(
    policies: PoliciesTab, assets: AssetsTab, context: WorkspaceContext
) -> None:
    assert policies.stack.currentWidget() is policies.table
    context.set_scope(Scope(frozenset({SUB_C})))
    assert policies.rows_shown() == 0
    assert policies.stack.currentWidget() is policies.empty_state
    assert policies.empty_state.text() == EMPTY_POLICIES
    assert assets.stack.currentWidget() is assets.empty_state
    assert assets.empty_state.text() == EMPTY_ASSETS_NO_POLICY
    assert not policies.select_first()
    context.set_scope(Scope(frozenset({SUB_A})))
    assert policies.stack.currentWidget() is policies.table


# ------------------------------------------------------------------------------------ policy dock


def test_selecting_a_policy_fills_the_dock(policies: PoliciesTab) -> None:
    v = policies.view
    assert v.placeholder.isVisibleTo(v) and not v.content.isVisibleTo(v)
    _select_policy(policies, P1)
    assert not v.placeholder.isVisibleTo(v)
    assert v.title.text() == P1
    assert v.subtitle.text() == "Subscription Contoso Prod"
    assert sorted(a.deployment.name for a in v.assets_model.rows()) == ["gpt-strict", "gpt-weak", "lab-1"]
    assert v.excepted.text() == "acct-prod / gpt-test"
    assert v.exceptions.text() == "Deployment gpt-test (account acct-prod, resource group rg-ai)"
    texts = [label.text() for label in policies.detail.findChildren(PlainLabel)]
    assert "Prompt shield: jailbreak (user prompt attacks)" in texts  # the requirement …
    assert "Must block" in texts  # … and what it requires
    assert "2 of 3 violating; 1 excepted deployment not counted" in texts

    # the spec: select an asset to compare its guardrail settings with the requirements
    assert v.assets_table.select_row_object(lambda a: a.deployment.name == "gpt-weak")
    assert v.asset_title.text() == "Required vs actual: acct-prod / gpt-weak"
    em = v.evaluation_model
    rows = {em.index(r, 0).data(): em.index(r, 3).data() for r in range(em.rowCount())}
    assert rows["Prompt shield: jailbreak (user prompt attacks)"] == "Fail"
    assert rows["Hate (prompt)"] == "Pass"
    assert em.index(0, 3).data() == "Fail"  # failures first
    assert em.index(0, 3).data(Qt.ItemDataRole.BackgroundRole) == _brush(LIGHT.fail)
    assert em.index(0, 2).data() == "Off"
    assert v.asset_banner.isHidden()  # Azure and fcdesk agree on gpt-weak

    assert v.assets_table.select_row_object(lambda a: a.deployment.name == "lab-1")
    rows = {em.index(r, 0).data(): em.index(r, 3).data() for r in range(em.rowCount())}
    assert set(rows.values()) == {"Pass"}


def test_first_violating_asset_is_compared_at_once(policies: PoliciesTab) -> None:
    _select_policy(policies, P1)
    current = policies.view.assets_table.current_row_object()
    assert current is not None and current.violating
    assert policies.view.evaluation_model.rowCount() == 16


def test_disagreement_note_for_a_stale_azure_verdict(policies: PoliciesTab) -> None:
    _select_policy(policies, P1)
    v = policies.view
    assert not v.disagree_banner.isHidden()
    assert "disagrees with Azure on 1 deployment" in v.disagree_banner.label.text()
    assert v.assets_table.select_row_object(lambda a: a.deployment.name == "gpt-strict")
    assert not v.asset_banner.isHidden()
    assert v.asset_banner.label.text() == (
        f"Azure says NonCompliant (as of {SCANNED_TEXT}); fcdesk's local evaluation passes: "
        "Azure may not have re-evaluated yet."
    )
    local = _cell(v.assets_table, lambda a: a.deployment.name == "gpt-strict", "Local check")
    assert local == "Pass ⚠ disagrees with Azure"
    # the other way round: Azure says Compliant, fcdesk's evaluation fails
    _select_policy(policies, P2)
    assert v.assets_table.select_row_object(lambda a: a.deployment.name == "gpt-weak")
    assert v.asset_banner.label.text().startswith(
        f"Azure says Compliant (as of {SCANNED_TEXT}); fcdesk's local"
    )
    assert "Hate out" in v.asset_banner.label.text()


def test_reload_keeps_the_selected_policy_and_asset(policies: PoliciesTab, context: WorkspaceContext) -> None:
    _select_policy(policies, P1)
    assert policies.view.assets_table.select_row_object(lambda a: a.deployment.name == "lab-1")
    context.set_scope(Scope(frozenset({SUB_A})))
    assert policies.view.title.text() == P1
    assert policies.view.assets_table.current_row_object().deployment.name == "lab-1"
    context.set_scope(Scope(frozenset({SUB_B})))  # P1 is out of scope: the dock empties
    assert policies.view.placeholder.isVisibleTo(policies.view)


def test_html_in_names_is_shown_literally(policies: PoliciesTab) -> None:
    assert _cell(policies.table, lambda r: r.policy.label == HTML_NAME, "Policy") == HTML_NAME
    _select_policy(policies, HTML_NAME)
    assert policies.view.title.text() == HTML_NAME
    labels = policies.detail.findChildren(QLabel)
    assert any(label.text() == HTML_NAME for label in labels)
    assert all(label.textFormat() == Qt.TextFormat.PlainText for label in labels)
    assert policies.view.title.textFormat() == Qt.TextFormat.PlainText


# ------------------------------------------------------------------------------------ toggle and writes


def test_toggle_asks_for_the_other_tab(qtbot, policies: PoliciesTab, assets: AssetsTab) -> None:
    assert policies.toggle.current() == 0 and assets.toggle.current() == 1
    with qtbot.waitSignal(policies.switchRequested, timeout=1000) as blocker:
        qtbot.mouseClick(policies.toggle.buttons[1], Qt.MouseButton.LeftButton)
    assert blocker.args == ["assets"]
    assert policies.toggle.current() == 0  # this tab stays "Policies"
    with qtbot.waitSignal(assets.switchRequested, timeout=1000) as blocker:
        qtbot.mouseClick(assets.toggle.buttons[0], Qt.MouseButton.LeftButton)
    assert blocker.args == ["policies"]
    with qtbot.assertNotEmitted(policies.switchRequested):
        qtbot.mouseClick(policies.toggle.buttons[0], Qt.MouseButton.LeftButton)


def test_write_buttons_are_disabled_offline_with_the_reason(policies: PoliciesTab, assets: AssetsTab) -> None:
    _select_policy(policies, P1)
    buttons = [
        policies.create_button,
        policies.edit_button,
        policies.delete_button,
        policies.view.fix_button,
        assets.build_button,
    ]
    for button in buttons:
        assert not button.isEnabled()
        assert button.toolTip() == OFFLINE_REASON
    assert [b_.text() for b_ in buttons] == [
        "Create policy…",
        "Edit policy…",
        "Delete policy…",
        "Fix now",
        "View in Build…",
    ]


def test_write_buttons_need_a_selection_when_online(
    qtbot, policies: PoliciesTab, assets: AssetsTab, context: WorkspaceContext
) -> None:
    context.set_write_disabled_reason(None)
    assert policies.create_button.isEnabled()
    assert not policies.edit_button.isEnabled()
    assert policies.edit_button.toolTip() == SELECT_POLICY
    assert not policies.view.fix_button.isEnabled()
    assert policies.view.fix_button.toolTip() == SELECT_ASSET
    assert not assets.build_button.isEnabled() and assets.build_button.toolTip() == SELECT_ASSET

    _select_policy(policies, P1)
    assert policies.edit_button.isEnabled() and policies.delete_button.isEnabled()
    with qtbot.waitSignal(policies.editPolicyRequested, timeout=1000) as blocker:
        qtbot.mouseClick(policies.edit_button, Qt.MouseButton.LeftButton)
    assert blocker.args[0].display_name == P1
    assert policies.view.assets_table.select_row_object(lambda a: a.deployment.name == "gpt-weak")
    assert policies.view.fix_button.isEnabled()
    with qtbot.waitSignal(policies.fixNowRequested, timeout=1000) as blocker:
        qtbot.mouseClick(policies.view.fix_button, Qt.MouseButton.LeftButton)
    assert blocker.args[0].name == "gpt-weak"
    with qtbot.waitSignal(policies.createPolicyRequested, timeout=1000):
        qtbot.mouseClick(policies.create_button, Qt.MouseButton.LeftButton)

    assert assets.table.select_row_object(lambda r: r.deployment.name == "lab-1")
    assert assets.build_button.isEnabled()
    with qtbot.waitSignal(assets.viewInBuildRequested, timeout=1000) as blocker:
        qtbot.mouseClick(assets.build_button, Qt.MouseButton.LeftButton)
    assert blocker.args[0].name == "lab-1"
    context.set_write_disabled_reason(OFFLINE_REASON)
    assert not policies.edit_button.isEnabled() and policies.edit_button.toolTip() == OFFLINE_REASON


# ------------------------------------------------------------------------------------ assets


def test_one_asset_row_per_deployment_and_governing_policy(assets: AssetsTab) -> None:
    pairs = sorted((r.deployment.name, r.policy.label) for r in assets.table.proxy.visible_rows())
    assert pairs == sorted(
        [
            ("gpt-strict", P1),
            ("gpt-strict", P2),
            ("gpt-weak", P1),
            ("gpt-weak", P2),
            ("gpt-test", P2),  # excepted from P1: governed by P2 only
            ("lab-1", P1),
            ("dev-1", P3),
            ("dev-1", P4),
        ]
    )
    assert _texts(assets.table, "Deployment").count("gpt-strict") == 2
    t = assets.table
    weak_p1 = lambda r: (r.deployment.name, r.policy.label) == ("gpt-weak", P1)  # noqa: E731
    assert _cell(t, weak_p1, "Policy compliance") == "Violation detected"
    assert _cell(t, weak_p1, "Failing controls") == "1: Jailbreak"
    assert _cell(t, weak_p1, "Local check") == "Fail"
    assert _cell(t, weak_p1, "Guardrail") == "weak"
    assert _cell(t, weak_p1, "Account") == "acct-prod"
    assert _cell(t, weak_p1, "Model") == "gpt-4o-mini 2024-07-18"
    assert _cell(t, weak_p1, "As of") == SCANNED_TEXT
    assert _cell(t, lambda r: r.policy.label == P3, "Policy compliance") == "Pending evaluation"
    assert _cell(t, lambda r: r.policy.label == P3, "As of") == "—"
    assert _cell(t, lambda r: r.policy.label == P4, "Policy compliance") == "Disabled"
    assert set(_texts(t, "Policy compliance")) == {
        "Compliant",
        "Violation detected",
        "Pending evaluation",
        "Disabled",
    }
    assert _texts(t, "Policy compliance")[0] == "Violation detected"  # default: violations first


def test_violations_only(qtbot, assets: AssetsTab) -> None:
    assets.violations_only.click()
    shown = assets.table.proxy.visible_rows()
    assert shown and all(r.violating for r in shown)
    # gpt-strict under P1 (Azure NonCompliant), gpt-weak under P1, dev-1 under P3 (no verdict: local fails);
    # not dev-1 under P4, whose effect is Disabled
    assert sorted((r.deployment.name, r.policy.label) for r in shown) == sorted(
        [("gpt-strict", P1), ("gpt-weak", P1), ("dev-1", P3)]
    )
    assert assets.filter.count.text() == "3 of 8"
    assets.violations_only.click()
    assert assets.rows_shown() == 8


def test_asset_dock_lists_every_governing_policy_and_its_failures(assets: AssetsTab) -> None:
    assert assets.table.select_row_object(lambda r: (r.deployment.name, r.policy.label) == ("gpt-weak", P2))
    v = assets.view
    assert v.title.text() == "gpt-weak"
    assert [a.policy.label for a in v.governing_model.rows()] == [P2, P1]  # the selected row's policy first
    assert _model_texts(v.governing_model, "Compliance") == ["Compliant", "Violation detected"]
    tables = v.sections.findChildren(DataTable, "assetEvaluationTable")
    assert len(tables) == 2
    by_policy = {}
    for table, asset in zip(tables, v.governing_model.rows(), strict=True):
        m = table.source_model
        by_policy[asset.policy.label] = [
            (m.index(r, 0).data(), m.index(r, 3).data()) for r in range(m.rowCount())
        ]
    assert by_policy[P2][0] == ("Hate (completion)", "Fail")
    assert by_policy[P1][0] == ("Prompt shield: jailbreak (user prompt attacks)", "Fail")
    assert [res for _, res in by_policy[P1]].count("Fail") == 1
    sections = [w.text() for w in v.sections.findChildren(PlainLabel, "assetPolicySection")]
    assert sections == [f"{P2}: Compliant", f"{P1}: Violation detected"]
    notes = [banner.label.text() for banner in v.sections.findChildren(Banner) if not banner.isHidden()]
    assert len(notes) == 1 and notes[0].startswith(f"Azure says Compliant (as of {SCANNED_TEXT})")


def test_excepted_deployment_dock_lists_only_its_governing_policy(assets: AssetsTab) -> None:
    assert assets.table.select_row_object(lambda r: r.deployment.name == "gpt-test")
    assert [a.policy.label for a in assets.view.governing_model.rows()] == [P2]


# ------------------------------------------------------------------------------------ demo tenant


def test_demo_tenant_shows_every_spec_status(qtbot, qapp) -> None:
    meta, records = generate()
    context = WorkspaceContext(Inventory.build(meta, records), SnapshotInfo(None, Source.DEMO))
    tab = PoliciesTab(context)  # colours from the palette, as the main window may pass none
    qtbot.addWidget(tab)
    qtbot.addWidget(tab.detail)
    statuses = set(_texts(tab.table, "Policy compliance"))
    assert {"Compliant", "Violations detected", "Pending evaluation"} <= statuses
    assert tab.select_first()
    assert tab.view.title.text() == tab.table.current_row_object().policy.label
    assert tab.view.evaluation_model.rowCount() > 0
    assets = AssetsTab(context)
    qtbot.addWidget(assets)
    qtbot.addWidget(assets.detail)
    assert assets.rows_shown() == len(context.inventory.asset_rows())
    assert assets.select_first()


def test_tabs_render_with_their_docks(qtbot, policies: PoliciesTab) -> None:
    policies.resize(1000, 600)
    policies.show()
    policies.detail.resize(420, 800)
    policies.detail.show()
    qtbot.waitExposed(policies)
    _select_policy(policies, P1)
    assert policies.view.evaluation_table.height() >= policies.view.evaluation_table.verticalHeader().length()


# ------------------------------------------------------------------------------------ text helpers


def test_text_helpers() -> None:
    when = datetime(2026, 11, 20, 9, 30, 59, tzinfo=UTC)
    assert format_utc(when) == "2026-11-20 09:30 UTC"
    assert format_utc(None) == "—"
    assert relative(when, when + timedelta(hours=3)) == "3 h ago"
    assert relative(when, when + timedelta(seconds=30)) == "just now"
    assert relative(when, when + timedelta(minutes=12)) == "12 min ago"
    assert relative(when, when + timedelta(days=4)) == "4 days ago"
    assert relative(when + timedelta(minutes=5), when) == "in 5 min"
    assert as_of(when, when + timedelta(hours=3)) == "2026-11-20 09:30 UTC (3 h ago)"
    html = (
        'To install: 1.&nbsp; <a href="https://docs.microsoft.com/x?a=1&amp;b=2">Follow the instructions</a> '
        "&amp; retry &lt;now&gt;"
    )
    assert html_to_plain(html) == (
        "To install: 1. Follow the instructions (https://docs.microsoft.com/x?a=1&b=2) & retry <now>"
    )
    assert html_to_plain("<p>One</p><p>Two<br>Three</p><ul><li>a</li><li>b</li></ul>") == (
        "One\n\nTwo\nThree\n\n• a\n• b"
    )
    assert html_to_plain("<a href='u'>u</a>") == "u"
    assert html_to_plain("plain 3 < 4") == "plain 3 < 4"
    assert html_to_plain("") == ""
