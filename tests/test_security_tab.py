"""The Security posture tab: recommendations, alerts, plans, the dock, and the write gates.

Records are hand-written in the shapes of ``shared/azure-examples/security`` (assessments with their
assessmentMetadata, alerts, the "AI" pricing) and ``cognitiveservices`` (defenderForAISettings).
"""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QBrush, QGuiApplication
from PySide6.QtWidgets import QLabel

from fcdesk.core.demo import generate
from fcdesk.core.inventory import Inventory, Scope
from fcdesk.core.model import Alert, Recommendation
from fcdesk.core.records import Kind, RawRecord, Source
from fcdesk.models.palette import LIGHT
from fcdesk.models.security import (
    ENABLE_GUIDANCE,
    PURVIEW_NOTE,
    AlertModel,
    PlanModel,
    RecommendationModel,
    ShieldModel,
    ShieldRow,
    alert_deployment_name,
    plan_rows,
)
from fcdesk.models.workspace import OFFLINE_REASON, SnapshotInfo, WorkspaceContext
from fcdesk.views.security_tab import SELECT_SUBSCRIPTION, SecurityTab
from fcdesk.views.widgets import DataTable
from tests.helpers import builders as b

SUB_A = "bbbbbbbb-2222-4000-8000-00000000000a"
SUB_B = "bbbbbbbb-2222-4000-8000-00000000000b"
SUB_C = "bbbbbbbb-2222-4000-8000-00000000000c"
ACCT_PROD = b.account_id(SUB_A, "rg-ai", "acct-prod")
ACCT_TWO = b.account_id(SUB_A, "rg-ai", "acct-two")
ACCT_DEV = b.account_id(SUB_B, "rg-dev", "acct-dev")
ACCT_C = b.account_id(SUB_C, "rg-c", "acct-c")
STORAGE = f"/subscriptions/{SUB_A}/resourceGroups/rg-ai/providers/Microsoft.Storage/storageAccounts/stlogs"
VM = f"/subscriptions/{SUB_A}/resourceGroups/rg-ai/providers/Microsoft.Compute/virtualMachines/vm1"
K_LOCAL, K_NET, K_DIAG, K_STORAGE = (
    "aaaa0000-0000-4000-8000-000000000001",
    "aaaa0000-0000-4000-8000-000000000002",
    "aaaa0000-0000-4000-8000-000000000003",
    "aaaa0000-0000-4000-8000-000000000004",
)
HTML_REC = "<b>Restrict</b> network access"
REC_LINK = (
    "https://portal.azure.com/#blade/Microsoft_Azure_Security/RecommendationsBlade/assessmentKey/" + K_LOCAL
)
REMEDIATION = (
    'To restrict access: 1.&nbsp; <a href="https://learn.microsoft.com/azure/ai-services/network?a=1&amp;b=2">'
    "Configure virtual networks</a> &amp; private endpoints."
)


# ------------------------------------------------------------------------------------ records


def _metadata(key: str, name: str, severity: str, category: str, remediation: str = "") -> RawRecord:
    arm_id = f"/providers/Microsoft.Security/assessmentMetadata/{key}"
    body = {
        "id": arm_id,
        "name": key,
        "type": "Microsoft.Security/assessmentMetadata",
        "properties": {
            "displayName": name,
            "description": f"{name}: why it matters.",
            "remediationDescription": remediation or f"Fix: {name}.",
            "categories": [category],
            "severity": severity,
            "assessmentType": "BuiltIn",
        },
    }
    return RawRecord(Kind.ASSESSMENT_METADATA, arm_id, body)


def _assessment(resource: str, key: str, name: str, status: str, *, link: bool = False) -> RawRecord:
    arm_id = f"{resource}/providers/Microsoft.Security/assessments/{key}"
    props: dict[str, Any] = {
        "resourceDetails": {"source": "Azure", "id": resource},
        "displayName": name,
        "status": {"code": status},
    }
    if link:
        props["links"] = {"azurePortalUri": REC_LINK}
    body = {"id": arm_id, "name": key, "type": "Microsoft.Security/assessments", "properties": props}
    return RawRecord(Kind.ASSESSMENT, arm_id, body, f"/subscriptions/{resource.split('/')[2]}")


def _alert(
    resource: str,
    name: str,
    display: str,
    severity: str,
    status: str,
    *,
    alert_type: str,
    deployment: str | None = None,
    when: str = "2026-11-26T07:10:00.0000000Z",
) -> RawRecord:
    sub = resource.split("/")[2]
    arm_id = (
        f"/subscriptions/{sub}/resourceGroups/rg-ai/providers/Microsoft.Security/locations/eastus/alerts/"
    )
    arm_id += name
    ext = {"resourceType": "Azure AI Services"}
    if deployment is not None:
        ext["Deployment name"] = deployment
    body = {
        "id": arm_id,
        "name": name,
        "type": "Microsoft.Security/Locations/alerts",
        "properties": {
            "alertType": alert_type,
            "alertDisplayName": display,
            "description": f"{display}. <i>Investigate</i> &amp; respond.",
            "severity": severity,
            "status": status,
            "startTimeUtc": when,
            "timeGeneratedUtc": when,
            "resourceIdentifiers": [{"azureResourceId": resource, "type": "AzureResource"}],
            "remediationSteps": [
                "Review the prompts in the evidence.",
                "Turn the <b>jailbreak</b> shield on.",
            ],
            "compromisedEntity": resource.rsplit("/", 1)[-1],
            "alertUri": f"https://portal.azure.com/#blade/Microsoft_Azure_Security/AlertBlade/alertId/{name}",
            "extendedProperties": ext,
        },
    }
    return RawRecord(Kind.ALERT, arm_id, body, f"/subscriptions/{sub}")


def _pricing(sub: str, tier: str, *, evidence: bool = False, purview: bool = False) -> RawRecord:
    arm_id = f"/subscriptions/{sub}/providers/Microsoft.Security/pricings/AI"
    props: dict[str, Any] = {"pricingTier": tier, "freeTrialRemainingTime": "PT0S"}
    if tier == "Standard":
        props["enablementTime"] = "2026-06-03T10:15:27.5523316Z"
        props["extensions"] = [
            {"name": "AIPromptEvidence", "isEnabled": "True" if evidence else "False"},
            {"name": "AIPromptSharingWithPurview", "isEnabled": "True" if purview else "False"},
        ]
    body = {"id": arm_id, "name": "AI", "type": "Microsoft.Security/pricings", "properties": props}
    return RawRecord(Kind.PRICING, arm_id, body, f"/subscriptions/{sub}")


def _defender(acct: str, state: str) -> RawRecord:
    arm_id = f"{acct}/defenderForAISettings/Default"
    body = {
        "id": arm_id,
        "name": "Default",
        "type": "Microsoft.CognitiveServices/accounts/defenderForAISettings",
        "properties": {"state": state},
    }
    return RawRecord(Kind.DEFENDER_AI_SETTING, arm_id, body, acct)


def _records() -> list[RawRecord]:
    """A "Contoso Prod" (Defender for AI Standard, Purview on), B "Contoso Dev" (Free), C "Contoso
    Sandbox" (no AI pricing at all). Attention: 2 Unhealthy High recommendations + 2 Active High alerts."""
    shields_on = [b.flt("Jailbreak", "Prompt"), b.flt("Indirect Attack", "Prompt")]
    shields_off = [b.flt("Jailbreak", "Prompt", enabled=False, blocking=False)]
    return [
        b.subscription(SUB_A, "Contoso Prod"),
        b.subscription(SUB_B, "Contoso Dev"),
        b.subscription(SUB_C, "Contoso Sandbox"),
        b.account(ACCT_PROD),
        b.account(ACCT_TWO),
        b.account(ACCT_DEV),
        b.account(ACCT_C),
        b.rai_policy(ACCT_PROD, "shielded", shields_on),
        b.rai_policy(ACCT_PROD, "open", shields_off),
        b.deployment(ACCT_PROD, "gpt-shielded", "shielded"),
        b.deployment(ACCT_PROD, "gpt-open", "open"),
        b.deployment(ACCT_DEV, "dev-1"),
        b.deployment(ACCT_C, "c-1"),
        b.deployment(ACCT_C, "c-2"),
        _pricing(SUB_A, "Standard", evidence=True, purview=True),
        _pricing(SUB_B, "Free"),
        _defender(ACCT_PROD, "Enabled"),
        _defender(ACCT_DEV, "Disabled"),
        _metadata(K_LOCAL, "AI resources should have key access disabled", "High", "IdentityAndAccess"),
        _metadata(K_NET, HTML_REC, "Medium", "Networking", REMEDIATION),
        _metadata(K_DIAG, "Diagnostic logs should be enabled", "Low", "Monitoring"),
        _metadata(K_STORAGE, "Secure transfer to storage accounts", "High", "Data"),
        _assessment(
            ACCT_PROD, K_LOCAL, "AI resources should have key access disabled", "Unhealthy", link=True
        ),
        _assessment(ACCT_DEV, K_LOCAL, "AI resources should have key access disabled", "Unhealthy"),
        _assessment(ACCT_C, K_LOCAL, "AI resources should have key access disabled", "Healthy"),
        _assessment(ACCT_PROD, K_NET, HTML_REC, "Unhealthy"),
        _assessment(ACCT_PROD, K_DIAG, "Diagnostic logs should be enabled", "Unhealthy"),
        _assessment(ACCT_TWO, K_DIAG, "Diagnostic logs should be enabled", "Healthy"),
        _assessment(STORAGE, K_STORAGE, "Secure transfer to storage accounts", "Unhealthy"),
        _alert(
            ACCT_PROD,
            "a1",
            "A Jailbreak attempt was detected",
            "High",
            "Active",
            alert_type="AI.Azure_Jailbreak.ContentFiltering.DetectedAttempt",
            deployment="gpt-open",
        ),
        _alert(
            ACCT_DEV,
            "a2",
            "A Jailbreak attempt was blocked",
            "Medium",
            "Active",
            alert_type="AI.Azure_Jailbreak.ContentFiltering.BlockedAttempt",
            deployment="dev-1",
            when="2026-11-26T08:00:00Z",
        ),
        _alert(
            ACCT_PROD,
            "a3",
            "Credential theft attempt",
            "High",
            "Resolved",
            alert_type="AI.Azure_CredentialTheftAttempt",
            deployment="gpt-shielded",
            when="2026-11-25T01:00:00Z",
        ),
        _alert(
            ACCT_C,
            "a4",
            "Phishing URL in a model response",
            "High",
            "Active",
            alert_type="AI.Azure_MaliciousUrl.ModelResponse",
            when="2026-11-24T01:00:00Z",
        ),
        _alert(VM, "a5", "Suspicious process on a VM", "High", "Active", alert_type="VM_EICAR"),
    ]


@pytest.fixture
def inventory() -> Inventory:
    return b.inventory(_records())


@pytest.fixture
def context(qapp, inventory: Inventory) -> WorkspaceContext:
    return WorkspaceContext(inventory, SnapshotInfo(None, Source.DEMO))


@pytest.fixture
def opened() -> list[QUrl]:
    return []


@pytest.fixture
def tab(qtbot, context: WorkspaceContext, opened: list[QUrl]) -> SecurityTab:
    widget = SecurityTab(context, colors=LIGHT, open_url=opened.append)
    qtbot.addWidget(widget)
    qtbot.addWidget(widget.detail)
    widget.show()  # as in the window: a shown tab follows scope changes at once (hidden ones catch up lazily)
    return widget


# ------------------------------------------------------------------------------------ helpers


def _col(table: DataTable, header: str) -> int:
    return [c.header for c in table.source_model.columns].index(header)


def _texts(table: DataTable, header: str) -> list[str]:
    col = _col(table, header)
    return [table.proxy.index(r, col).data() for r in range(table.proxy.rowCount())]


def _cell(table: DataTable, pred: Any, header: str, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
    col = _col(table, header)
    for r in range(table.proxy.rowCount()):
        if pred(table.proxy.row_object(r)):
            return table.proxy.index(r, col).data(role)
    raise AssertionError("no such row")


def _select_rec(tab: SecurityTab, name: str, resource: str) -> Recommendation:
    assert tab.recommendations_table.select_row_object(
        lambda r: r.display_name == name and r.resource_id == resource
    )
    return tab.recommendations_table.current_row_object()


def _select_alert(tab: SecurityTab, name: str) -> Alert:
    assert tab.alerts_table.select_row_object(lambda a: a.name == name)
    return tab.alerts_table.current_row_object()


def _select_plan(tab: SecurityTab, sub: str) -> None:
    assert tab.plans_table.select_row_object(lambda p: p.subscription.subscription_id == sub)


# ------------------------------------------------------------------------------------ models


def test_models_pass_the_qt_model_tester(qtmodeltester, inventory: Inventory) -> None:
    rm = RecommendationModel(LIGHT)
    rm.set_rows(inventory.scoped_recommendations())
    qtmodeltester.check(rm)
    am = AlertModel(LIGHT)
    am.set_rows(inventory.alerts)
    qtmodeltester.check(am)
    pm = PlanModel(LIGHT)
    pm.set_rows(plan_rows(inventory))
    qtmodeltester.check(pm)
    sm = ShieldModel(LIGHT)
    sm.set_rows([ShieldRow(d, inventory.effective(d)) for d in inventory.deployments])
    qtmodeltester.check(sm)
    assert (rm.rowCount(), am.rowCount(), pm.rowCount(), sm.rowCount()) == (6, 5, 3, 5)


def test_tab_contract(tab: SecurityTab) -> None:
    assert (tab.key, tab.base_title) == ("security", "Security posture")
    assert tab.findChild(DataTable, "recommendationsTable") is tab.recommendations_table
    assert tab.findChild(DataTable, "alertsTable") is tab.alerts_table
    assert tab.findChild(DataTable, "plansTable") is tab.plans_table
    assert tab.rows_shown() == 6


def test_only_ai_resources_are_shown(tab: SecurityTab) -> None:
    resources = {r.resource_id for r in tab.recommendations_table.proxy.visible_rows()}
    assert STORAGE not in resources
    assert resources == {ACCT_PROD, ACCT_TWO, ACCT_DEV, ACCT_C}
    assert "stlogs" not in _texts(tab.recommendations_table, "Resource")
    assert "acct-prod" in _texts(tab.recommendations_table, "Resource")  # the account name, not the id
    assert {a.name for a in tab.alerts_table.proxy.visible_rows()} == {"a1", "a2", "a3", "a4"}  # no VM alert


def test_severity_sorts_high_first_not_alphabetically(tab: SecurityTab) -> None:
    t = tab.recommendations_table
    order = {"High": 0, "Medium": 1, "Low": 2}
    severities = _texts(t, "Severity")
    assert severities[0] == "High"
    assert severities == sorted(severities, key=order.__getitem__)
    assert {"High", "Medium", "Low"} == set(severities)  # all three present: the order is a real check
    t.sortByColumn(_col(t, "Severity"), Qt.SortOrder.DescendingOrder)
    assert _texts(t, "Severity")[0] == "Low"
    t.sortByColumn(_col(t, "Severity"), Qt.SortOrder.AscendingOrder)
    assert _texts(t, "Severity")[:3] == ["High", "High", "High"]
    assert _texts(t, "Severity")[3] == "Medium"  # alphabetical order would give "Low" here
    high = _cell(t, lambda r: r.severity == "High", "Severity", Qt.ItemDataRole.BackgroundRole)
    assert high == QBrush(LIGHT.high)


def test_title_counts_what_needs_attention(qtbot, tab: SecurityTab, context: WorkspaceContext) -> None:
    assert tab.title() == "Security posture (4)"
    with qtbot.waitSignal(tab.titleChanged, timeout=1000) as blocker:
        context.set_scope(Scope(frozenset({SUB_B})))
    assert blocker.args == ["Security posture (1)"]
    assert tab.rows_shown() == 1
    with qtbot.waitSignal(tab.titleChanged, timeout=1000) as blocker:
        context.set_scope(Scope(frozenset({SUB_C})))
    assert blocker.args == ["Security posture (1)"]  # the Active High alert; its recommendation is Healthy
    context.set_scope(Scope())
    assert tab.title() == "Security posture (4)"


def test_alerts_table_marks_prompt_attacks(tab: SecurityTab) -> None:
    t = tab.alerts_table
    assert _cell(t, lambda a: a.name == "a1", "Alert") == "[Jailbreak] A Jailbreak attempt was detected"
    assert _cell(t, lambda a: a.name == "a3", "Alert") == "Credential theft attempt"
    assert _cell(t, lambda a: a.name == "a1", "Time") == "2026-11-26 07:10 UTC"
    assert _cell(t, lambda a: a.name == "a1", "Resource") == "acct-prod"
    assert [a.name for a in t.proxy.visible_rows()] == ["a2", "a1", "a3", "a4"]  # newest first
    t.sortByColumn(_col(t, "Severity"), Qt.SortOrder.AscendingOrder)
    assert _texts(t, "Severity") == ["High", "High", "High", "Medium"]


def test_plans_per_subscription(tab: SecurityTab) -> None:
    t = tab.plans_table
    rows = {
        p.subscription.display_name: tuple(
            _cell(t, lambda x, p=p: x is p, h)
            for h in (
                "Defender for AI plan",
                "Prompt evidence",
                "Microsoft Purview",
                "Accounts with Defender for AI on",
            )
        )
        for p in t.proxy.visible_rows()
    }
    assert rows == {
        "Contoso Prod": ("Standard", "On", "On", "2 of 2"),  # acct-two has no setting: follows the plan
        "Contoso Dev": ("Free", "Off", "Off", "0 of 1"),
        "Contoso Sandbox": ("Not enabled", "—", "Off", "0 of 1"),
    }


def test_banner_when_defender_is_not_enabled(tab: SecurityTab, context: WorkspaceContext) -> None:
    banner = tab.defender_banner
    assert banner.isVisibleTo(tab)
    text = banner.label.text()
    assert "Contoso Dev" in text and "Contoso Sandbox" in text and "Contoso Prod" not in text
    assert text.endswith(ENABLE_GUIDANCE)
    assert ENABLE_GUIDANCE == (
        "Enable Defender for Cloud on this subscription to get recommendations; "
        "enable threat protection for AI services to get jailbreak alerts."
    )
    context.set_scope(Scope(frozenset({SUB_A})))
    assert not banner.isVisibleTo(tab)


# ------------------------------------------------------------------------------------ the dock


def test_recommendation_detail_with_its_portal_link(qtbot, tab: SecurityTab, opened: list[QUrl]) -> None:
    page = tab.view.recommendation
    _select_rec(tab, "AI resources should have key access disabled", ACCT_PROD)
    assert tab.view.currentWidget() is page
    assert page.title.text() == "AI resources should have key access disabled"
    assert page.portal_button.text() == "Open in Azure portal"
    assert page.portal_button.property("url") == REC_LINK
    qtbot.mouseClick(page.portal_button, Qt.MouseButton.LeftButton)
    assert opened == [QUrl(REC_LINK)]
    qtbot.mouseClick(page.copy_button, Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == REC_LINK
    # no azurePortalUri: the affected resource's page in the portal
    _select_rec(tab, "AI resources should have key access disabled", ACCT_DEV)
    assert page.portal_button.property("url") == f"https://portal.azure.com/#@/resource{ACCT_DEV}"
    texts = [label.text() for label in page.findChildren(QLabel)]
    assert "acct-dev (resource group rg-dev)" in texts
    assert "High" in texts and "Unhealthy" in texts and "IdentityAndAccess" in texts


def test_portal_base_is_a_parameter(qtbot, context: WorkspaceContext) -> None:
    opened: list[QUrl] = []
    tab = SecurityTab(context, colors=LIGHT, portal_base="https://portal.azure.us/", open_url=opened.append)
    qtbot.addWidget(tab)
    qtbot.addWidget(tab.detail)
    _select_rec(tab, "AI resources should have key access disabled", ACCT_DEV)
    qtbot.mouseClick(tab.view.recommendation.portal_button, Qt.MouseButton.LeftButton)
    assert opened == [QUrl(f"https://portal.azure.us/#@/resource{ACCT_DEV}")]


def test_remediation_html_is_shown_as_plain_text(tab: SecurityTab) -> None:
    page = tab.view.recommendation
    _select_rec(tab, HTML_REC, ACCT_PROD)
    assert page.title.text() == HTML_REC  # a name with markup shows literally
    assert page.remediation.text() == (
        "To restrict access: 1. Configure virtual networks "
        "(https://learn.microsoft.com/azure/ai-services/network?a=1&b=2) & private endpoints."
    )
    assert all(label.textFormat() == Qt.TextFormat.PlainText for label in tab.detail.findChildren(QLabel))
    assert _cell(tab.recommendations_table, lambda r: r.name == K_NET, "Recommendation") == HTML_REC


def test_alert_detail_shows_the_shields_of_the_deployment_hit(
    qtbot, tab: SecurityTab, opened: list[QUrl]
) -> None:
    page = tab.view.alert
    alert = _select_alert(tab, "a1")
    assert tab.view.currentWidget() is page
    assert page.title.text() == "[Jailbreak] A Jailbreak attempt was detected"
    assert page.description.text() == "A Jailbreak attempt was detected. Investigate & respond."
    assert page.steps.text() == "1. Review the prompts in the evidence.\n2. Turn the jailbreak shield on."
    assert page.target_note.text() == "The alert names the deployment 'gpt-open'."
    m = page.shields_model
    assert [(m.index(r, 0).data(), m.index(r, 2).data()) for r in range(m.rowCount())] == [
        ("gpt-open", "Off")
    ]
    assert not page.jailbreak_banner.isHidden()
    assert page.jailbreak_banner.kind.value == "error"
    assert (
        "The Jailbreak shield is off on the attacked deployment: gpt-open (open)"
        in page.jailbreak_banner.label.text()
    )
    qtbot.mouseClick(page.portal_button, Qt.MouseButton.LeftButton)
    assert opened == [QUrl(alert.portal_link)]

    _select_alert(tab, "a2")  # dev-1 on the account default: Microsoft.DefaultV2 blocks jailbreaks
    assert [m.index(r, 2).data() for r in range(m.rowCount())] == ["Blocks (inherited)"]
    assert page.jailbreak_banner.isHidden()

    _select_alert(tab, "a4")  # names no deployment: every deployment of the account
    assert sorted(s.deployment.name for s in m.rows()) == ["c-1", "c-2"]
    assert page.target_note.text().startswith("The alert does not name a deployment")


def test_alert_deployment_key(inventory: Inventory) -> None:
    alerts = {a.name: a for a in inventory.alerts}
    assert alert_deployment_name(alerts["a1"]) == "gpt-open"
    assert alert_deployment_name(alerts["a4"]) is None
    meta, records = generate()
    demo = Inventory.build(meta, records)
    assert all(alert_deployment_name(a) for a in demo.alerts)  # the demo's key is recognised


def test_only_one_detail_at_a_time(tab: SecurityTab) -> None:
    view = tab.view
    assert view.currentWidget() is view.placeholder
    _select_rec(tab, HTML_REC, ACCT_PROD)
    assert view.currentWidget() is view.recommendation
    _select_alert(tab, "a1")
    assert view.currentWidget() is view.alert
    assert not tab.recommendations_table.selectionModel().hasSelection()
    _select_plan(tab, SUB_B)
    assert view.currentWidget() is view.plan
    assert not tab.alerts_table.selectionModel().hasSelection()
    assert view.plan.title.text() == "Contoso Dev"
    assert not view.plan.guidance.isHidden()
    # the same recommendation again (its row is still the table's current index) drives the dock again
    _select_rec(tab, HTML_REC, ACCT_PROD)
    assert view.currentWidget() is view.recommendation
    assert not tab.plans_table.selectionModel().hasSelection()


def test_reload_keeps_the_detail(tab: SecurityTab, context: WorkspaceContext) -> None:
    _select_alert(tab, "a1")
    context.set_scope(Scope(frozenset({SUB_A})))
    assert tab.view.currentWidget() is tab.view.alert
    assert tab.alerts_table.current_row_object().name == "a1"
    context.set_scope(Scope(frozenset({SUB_B})))  # a1 is out of scope
    assert tab.view.currentWidget() is tab.view.placeholder


# ------------------------------------------------------------------------------------ writes


def test_write_buttons_disabled_offline(tab: SecurityTab) -> None:
    _select_plan(tab, SUB_C)
    for button in (tab.enable_button, tab.purview_button):
        assert not button.isEnabled()
        assert button.toolTip() == OFFLINE_REASON
    assert tab.enable_button.text() == "Enable threat protection for AI…"
    assert tab.purview_button.isCheckable()
    assert tab.purview_note.text() == PURVIEW_NOTE
    assert PURVIEW_NOTE.startswith(
        "No public API backs the portal toggle; fcdesk uses the AIPromptSharingWithPurview"
    )


def test_plan_actions_when_online(qtbot, tab: SecurityTab, context: WorkspaceContext) -> None:
    context.set_write_disabled_reason(None)
    assert not tab.enable_button.isEnabled() and tab.enable_button.toolTip() == SELECT_SUBSCRIPTION
    assert not tab.purview_button.isEnabled() and tab.purview_button.toolTip() == SELECT_SUBSCRIPTION

    _select_plan(tab, SUB_C)
    assert tab.enable_button.isEnabled()
    with qtbot.waitSignal(tab.enableThreatProtectionRequested, timeout=1000) as blocker:
        qtbot.mouseClick(tab.enable_button, Qt.MouseButton.LeftButton)
    assert blocker.args == [SUB_C]
    assert not tab.purview_button.isChecked()

    _select_plan(tab, SUB_A)
    assert not tab.enable_button.isEnabled()  # already on
    assert tab.purview_button.isChecked() and tab.purview_button.text() == "Microsoft Purview: On"
    with qtbot.waitSignal(tab.purviewToggleRequested, timeout=1000) as blocker:
        qtbot.mouseClick(tab.purview_button, Qt.MouseButton.LeftButton)
    assert blocker.args == [SUB_A, False]
    assert tab.purview_button.isChecked()  # shows Azure's state until a refresh says otherwise


# ------------------------------------------------------------------------------------ demo tenant


def test_demo_tenant(qtbot, qapp) -> None:
    meta, records = generate()
    inv = Inventory.build(meta, records)
    context = WorkspaceContext(inv, SnapshotInfo(None, Source.DEMO))
    tab = SecurityTab(context, open_url=lambda _url: None)  # colours from the palette
    qtbot.addWidget(tab)
    qtbot.addWidget(tab.detail)
    assert tab.rows_shown() == len([r for r in inv.recommendations if r.on_ai_resource])
    assert tab.title().startswith("Security posture (")
    assert set(_texts(tab.plans_table, "Microsoft Purview")) == {"On", "Off"}
    detected = [
        a for a in tab.alerts_table.proxy.visible_rows() if a.is_prompt_attack and a.severity == "High"
    ]
    assert detected
    assert tab.alerts_table.select_row_object(lambda a: a is detected[0])
    assert (
        not tab.view.alert.jailbreak_banner.isHidden()
    )  # the demo's detected jailbreak hit a shield that is off


def test_renders(qtbot, tab: SecurityTab) -> None:
    tab.resize(1100, 800)
    tab.show()
    qtbot.waitExposed(tab)
    _select_alert(tab, "a1")
    table = tab.view.alert.shields_table
    assert table.height() >= table.horizontalHeader().height() + table.verticalHeader().length()
