"""The Security posture tab: recommendations, alerts, plans, the dock, portal links per cloud, and
the write gates (offline, selection, rights).

Records are hand-written in the shapes of ``shared/azure-examples/security`` (assessments with their
assessmentMetadata, alerts, the "AI" pricing) and ``cognitiveservices`` (defenderForAISettings).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QBrush, QGuiApplication
from PySide6.QtWidgets import QLabel

from fcdesk.azure.clouds import CLOUDS
from fcdesk.core.demo import generate
from fcdesk.core.inventory import Inventory, Scope
from fcdesk.core.model import Alert, Recommendation
from fcdesk.core.portal import CUSTOM_CLOUD_REASON, PORTALS
from fcdesk.core.records import Kind, RawRecord, SnapshotMeta, Source
from fcdesk.models.palette import LIGHT
from fcdesk.models.security import (
    AI_PROTECTION_DOCS,
    DEFENDER_FOR_CLOUD_DOCS,
    ENABLE_GUIDANCE,
    PURVIEW_NOTE,
    AccountModel,
    AlertModel,
    PlanModel,
    RecommendationModel,
    ShieldModel,
    ShieldRow,
    alert_deployment_name,
    plan_rows,
)
from fcdesk.models.workspace import (
    CHECKING_REASON,
    DEFENDER_ACCOUNT_RIGHTS,
    OFFLINE_REASON,
    PURVIEW_RIGHTS,
    SECURITY_RIGHTS,
    SnapshotInfo,
    WorkspaceContext,
)
from fcdesk.views.security_tab import (
    ACCOUNT_ALREADY_ON,
    PLAN_ALREADY_ON,
    SELECT_SUBSCRIPTION,
    SecurityTab,
)
from fcdesk.views.widgets import DataTable
from tests.helpers import builders as b

SUB_A = "bbbbbbbb-2222-4000-8000-00000000000a"
SUB_B = "bbbbbbbb-2222-4000-8000-00000000000b"
SUB_C = "bbbbbbbb-2222-4000-8000-00000000000c"
SUB_D = "bbbbbbbb-2222-4000-8000-00000000000d"
ACCT_PROD = b.account_id(SUB_A, "rg-ai", "acct-prod")
ACCT_TWO = b.account_id(SUB_A, "rg-ai", "acct-two")
ACCT_DEV = b.account_id(SUB_B, "rg-dev", "acct-dev")
ACCT_C = b.account_id(SUB_C, "rg-c", "acct-c")
ACCT_D = b.account_id(SUB_D, "rg-d", "acct-d")
TENANT = "cccccccc-3333-4000-8000-000000000001"
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
    Sandbox" (no AI pricing, but Defender for Cloud assesses it), D "Contoso Empty" (no Defender for
    Cloud at all). Attention: 2 Unhealthy High recommendations + 2 Active High alerts."""
    shields_on = [b.flt("Jailbreak", "Prompt"), b.flt("Indirect Attack", "Prompt")]
    shields_off = [b.flt("Jailbreak", "Prompt", enabled=False, blocking=False)]
    return [
        b.subscription(SUB_A, "Contoso Prod"),
        b.subscription(SUB_B, "Contoso Dev"),
        b.subscription(SUB_C, "Contoso Sandbox"),
        b.subscription(SUB_D, "Contoso Empty"),
        b.account(ACCT_PROD),
        b.account(ACCT_TWO),
        b.account(ACCT_DEV),
        b.account(ACCT_C),
        b.account(ACCT_D),
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


def _inventory_in(cloud: str) -> Inventory:
    meta = SnapshotMeta(captured_at=b.CAPTURED_AT, source=Source.LIVE, tenant_id=TENANT, cloud=cloud)
    return Inventory.build(meta, _records())


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


def _accounts(tab: SecurityTab) -> list[tuple[str, ...]]:
    t = tab.view.plan.accounts_table
    headers = ("Account", "Threat protection")
    return [tuple(_texts(t, h)[r] for h in headers) for r in range(t.proxy.rowCount())]


@dataclass(frozen=True)
class _Answer:
    allowed: bool
    reason: str = ""


def _signed_in(context: WorkspaceContext, answers: dict[str, _Answer]) -> list[tuple[str, str]]:
    """Live data and a rights checker answering per kind of write; returns the checks asked for."""
    asked: list[tuple[str, str]] = []

    async def checker(kind: str, scope: str) -> _Answer:
        asked.append((kind, scope))
        return answers[kind]

    context.set_inventory(context.inventory, SnapshotInfo(None, Source.LIVE, live=True))
    context.set_rights_checker(checker)
    return asked


def _checked(tab: SecurityTab) -> bool:
    buttons = (tab.enable_button, tab.purview_button, tab.view.plan.account_button)
    return all(b.toolTip() != CHECKING_REASON for b in buttons)


# ------------------------------------------------------------------------------------ models


def test_models_pass_the_qt_model_tester(qtmodeltester, inventory: Inventory) -> None:
    rm = RecommendationModel(LIGHT)
    rm.set_rows(inventory.scoped_recommendations())
    qtmodeltester.check(rm)
    am = AlertModel(LIGHT)
    am.set_rows(inventory.alerts)
    qtmodeltester.check(am)
    plans = plan_rows(inventory)
    pm = PlanModel(LIGHT)
    pm.set_rows(plans)
    qtmodeltester.check(pm)
    acm = AccountModel(LIGHT)
    acm.set_rows([a for p in plans for a in p.accounts])
    qtmodeltester.check(acm)
    sm = ShieldModel(LIGHT)
    sm.set_rows([ShieldRow(d, inventory.effective(d)) for d in inventory.deployments])
    qtmodeltester.check(sm)
    assert (rm.rowCount(), am.rowCount(), pm.rowCount(), acm.rowCount(), sm.rowCount()) == (6, 5, 4, 5, 5)


def test_tab_contract(tab: SecurityTab) -> None:
    assert (tab.key, tab.base_title) == ("security", "Security posture")
    assert tab.findChild(DataTable, "recommendationsTable") is tab.recommendations_table
    assert tab.findChild(DataTable, "alertsTable") is tab.alerts_table
    assert tab.findChild(DataTable, "plansTable") is tab.plans_table
    assert tab.rows_shown() == 6
    for table in (*tab._tables(), tab.view.plan.accounts_table, tab.view.alert.shields_table):
        assert table.isSortingEnabled() and table.accessibleName()


def test_only_ai_resources_are_shown(tab: SecurityTab) -> None:
    resources = {r.resource_id for r in tab.recommendations_table.proxy.visible_rows()}
    assert STORAGE not in resources
    assert resources == {ACCT_PROD, ACCT_TWO, ACCT_DEV, ACCT_C}
    assert "stlogs" not in _texts(tab.recommendations_table, "Resource")
    assert "acct-prod" in _texts(tab.recommendations_table, "Resource")  # the account name, not the id
    assert {a.name for a in tab.alerts_table.proxy.visible_rows()} == {"a1", "a2", "a3", "a4"}  # no VM alert


def test_recommendation_columns(tab: SecurityTab) -> None:
    t = tab.recommendations_table
    assert [c.header for c in t.source_model.columns] == [
        "Recommendation",
        "Resource",
        "Severity",
        "Status",
        "Category",
    ]
    key_access = "AI resources should have key access disabled"
    row = [
        _cell(t, lambda r: r.resource_id == ACCT_DEV and r.name == K_LOCAL, h)
        for h in ("Recommendation", "Resource", "Severity", "Status", "Category")
    ]
    assert row == [key_access, "acct-dev", "High", "Unhealthy", "IdentityAndAccess"]
    t.sortByColumn(_col(t, "Category"), Qt.SortOrder.AscendingOrder)
    assert _texts(t, "Category")[0] == "IdentityAndAccess" and _texts(t, "Category")[-1] == "Networking"


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
    assert tab.title() == "Security posture (4 high)"
    with qtbot.waitSignal(tab.titleChanged, timeout=1000) as blocker:
        context.set_scope(Scope(frozenset({SUB_B})))
    assert blocker.args == ["Security posture (1 high)"]
    assert tab.rows_shown() == 1
    with qtbot.waitSignal(tab.titleChanged, timeout=1000) as blocker:
        context.set_scope(Scope(frozenset({SUB_C})))
    assert blocker.args == [
        "Security posture (1 high)"
    ]  # the Active High alert; its recommendation is Healthy
    with qtbot.waitSignal(tab.titleChanged, timeout=1000) as blocker:
        context.set_scope(Scope(frozenset({SUB_D})))
    assert blocker.args == ["Security posture"]  # nothing needs attention: no count
    context.set_scope(Scope())
    assert tab.title() == "Security posture (4 high)"


def test_alerts_table(tab: SecurityTab) -> None:
    t = tab.alerts_table
    assert [c.header for c in t.source_model.columns] == [
        "Severity",
        "Time",
        "Alert",
        "Type",
        "Resource",
        "Status",
    ]
    a1 = [_cell(t, lambda a: a.name == "a1", c.header) for c in t.source_model.columns]
    assert a1 == [
        "High",
        "2026-11-26 07:10 UTC",
        "[Jailbreak] A Jailbreak attempt was detected",
        "AI.Azure_Jailbreak.ContentFiltering.DetectedAttempt",
        "acct-prod / gpt-open",  # the account, and the deployment the alert names
        "Active",
    ]
    assert _cell(t, lambda a: a.name == "a1", "Alert", Qt.ItemDataRole.FontRole).bold()
    assert _cell(t, lambda a: a.name == "a3", "Alert") == "Credential theft attempt"
    assert _cell(t, lambda a: a.name == "a4", "Resource") == "acct-c"  # names no deployment
    assert [a.name for a in t.proxy.visible_rows()] == ["a2", "a1", "a3", "a4"]  # newest first
    t.sortByColumn(_col(t, "Severity"), Qt.SortOrder.AscendingOrder)
    assert _texts(t, "Severity") == ["High", "High", "High", "Medium"]
    t.sortByColumn(_col(t, "Status"), Qt.SortOrder.AscendingOrder)
    assert _texts(t, "Status")[-1] == "Resolved"  # active ones first


def test_plans_per_subscription(tab: SecurityTab) -> None:
    t = tab.plans_table
    headers = (
        "Defender for Cloud",
        "Defender for AI plan",
        "Prompt evidence",
        "Microsoft Purview",
        "Accounts with Defender for AI on",
    )
    rows = {
        p.subscription.display_name: tuple(_cell(t, lambda x, p=p: x is p, h) for h in headers)
        for p in t.proxy.visible_rows()
    }
    assert rows == {
        "Contoso Prod": ("On", "Standard", "On", "On", "2 of 2"),  # acct-two has no setting: follows the plan
        "Contoso Dev": ("On", "Free", "Off", "Off", "0 of 1"),
        "Contoso Sandbox": ("On", "Not enabled", "—", "Off", "0 of 1"),  # no AI pricing, but assessed
        "Contoso Empty": ("Not enabled", "Not enabled", "—", "Off", "0 of 1"),
    }
    t.sortByColumn(_col(t, "Defender for Cloud"), Qt.SortOrder.AscendingOrder)
    assert _texts(t, "Subscription")[0] == "Contoso Empty"
    empty = _cell(
        t,
        lambda p: p.subscription.subscription_id == SUB_D,
        "Defender for Cloud",
        Qt.ItemDataRole.BackgroundRole,
    )
    assert empty == QBrush(LIGHT.fail)


def test_banner_when_defender_is_not_enabled(tab: SecurityTab, context: WorkspaceContext) -> None:
    banner = tab.defender_banner
    assert banner.isVisibleTo(tab)
    assert banner.label.text() == (
        "Defender for Cloud is not enabled on Contoso Empty. Threat protection for AI is off on "
        f"Contoso Dev, Contoso Sandbox. {ENABLE_GUIDANCE}"
    )
    context.set_scope(Scope(frozenset({SUB_B, SUB_C})))  # Defender for Cloud is on: only the AI advice
    assert banner.label.text() == (
        "Threat protection for AI is off on Contoso Dev, Contoso Sandbox. Enable threat protection for AI "
        "services to get alerts for jailbreak attacks (billed)."
    )
    assert ENABLE_GUIDANCE == (
        "Enable Defender for Cloud on the subscription to get security posture recommendations; "
        "enable threat protection for AI services to get alerts for jailbreak attacks."
    )
    context.set_scope(Scope(frozenset({SUB_A})))
    assert not banner.isVisibleTo(tab)


def test_empty_states(tab: SecurityTab, context: WorkspaceContext) -> None:
    assert not tab.no_recommendations.isVisibleTo(tab) and not tab.no_alerts.isVisibleTo(tab)
    context.set_scope(Scope(frozenset({SUB_D})))
    assert tab.no_recommendations.isVisibleTo(tab) and tab.no_alerts.isVisibleTo(tab)
    assert tab.no_recommendations.text() == (
        "No Defender for Cloud recommendations for the AI resources in this scope. Defender for Cloud is "
        "not enabled on every subscription: see the plans below."
    )
    assert tab.no_alerts.text().startswith("No Defender alerts on the AI resources in this scope.")
    assert (tab.rec_group.title(), tab.alert_group.title()) == (
        "Microsoft Defender for Cloud — recommendations (0)",
        "Alerts (0)",
    )
    _select_plan(tab, SUB_D)
    assert _accounts(tab) == [("acct-d", "Off (follows the plan)")]


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
    assert page.links.note.isHidden()
    # no azurePortalUri: the affected resource's page in the portal
    _select_rec(tab, "AI resources should have key access disabled", ACCT_DEV)
    assert page.portal_button.property("url") == f"https://portal.azure.com/#@/resource{ACCT_DEV}"
    texts = [label.text() for label in page.findChildren(QLabel)]
    assert "acct-dev (resource group rg-dev)" in texts
    assert "High" in texts and "Unhealthy" in texts and "IdentityAndAccess" in texts
    assert page.description.text() == "AI resources should have key access disabled: why it matters."
    assert page.remediation.text() == "Fix: AI resources should have key access disabled."


@pytest.mark.parametrize(
    ("cloud", "portal"),
    [
        ("public", "https://portal.azure.com"),
        ("usgov", "https://portal.azure.us"),
        ("china", "https://portal.azure.cn"),
    ],
)
def test_portal_links_follow_the_cloud(
    qtbot, tab: SecurityTab, context: WorkspaceContext, opened: list[QUrl], cloud: str, portal: str
) -> None:
    context.set_inventory(_inventory_in(cloud), SnapshotInfo(None, Source.LIVE))
    page = tab.view.recommendation
    _select_rec(tab, "AI resources should have key access disabled", ACCT_DEV)
    url = f"{portal}/#@{TENANT}/resource{ACCT_DEV}"  # in the tenant the data came from
    assert page.portal_button.property("url") == url
    assert page.portal_button.isEnabled() and page.copy_button.isEnabled() and page.links.note.isHidden()
    qtbot.mouseClick(page.portal_button, Qt.MouseButton.LeftButton)
    assert opened == [QUrl(url)]
    _select_rec(tab, "AI resources should have key access disabled", ACCT_PROD)
    if REC_LINK.startswith(portal + "/"):
        assert page.portal_button.property("url") == REC_LINK  # the link Azure sent is kept
    else:  # a link into another cloud's portal is not followed: the resource's page instead
        assert page.portal_button.property("url") == f"{portal}/#@{TENANT}/resource{ACCT_PROD}"


@pytest.mark.parametrize(
    "link", ["javascript:alert(1)", "https://evil.example/phish", "https://portal.azure.com.evil.example/x"]
)
def test_a_foreign_link_in_a_snapshot_is_never_opened(link: str) -> None:
    from fcdesk.core.portal import item_link

    got = item_link(link, ACCT_PROD, "public", TENANT)
    assert got.url == f"https://portal.azure.com/#@{TENANT}/resource{ACCT_PROD}"


def test_a_custom_cloud_has_no_portal_link(qtbot, tab: SecurityTab, context: WorkspaceContext) -> None:
    context.set_inventory(_inventory_in("custom"), SnapshotInfo(None, Source.LIVE))
    assert CUSTOM_CLOUD_REASON == (
        "No Azure portal link: this data comes from a custom cloud, whose portal fcdesk does not know."
    )
    _select_rec(tab, "AI resources should have key access disabled", ACCT_PROD)  # has a link of its own
    _select_alert(tab, "a1")
    for page in (tab.view.recommendation, tab.view.alert):
        assert not page.portal_button.isEnabled() and not page.copy_button.isEnabled()
        assert page.portal_button.property("url") == ""
        assert page.links.note.text() == CUSTOM_CLOUD_REASON and not page.links.note.isHidden()
        assert CUSTOM_CLOUD_REASON in page.portal_button.toolTip()


def test_portals_are_those_of_the_clouds() -> None:
    assert PORTALS == {name: cloud.portal_url for name, cloud in CLOUDS.items()}


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
    texts = [label.text() for label in page.findChildren(QLabel)]
    assert "AI.Azure_Jailbreak.ContentFiltering.DetectedAttempt" in texts and "Active" in texts
    assert page.target_note.text() == "The alert names the deployment 'gpt-open'."
    m = page.shields_model
    assert [
        (m.index(r, 0).data(), m.index(r, 1).data(), m.index(r, 2).data()) for r in range(m.rowCount())
    ] == [("gpt-open", "open", "Off")]
    assert m.index(0, 2).data(Qt.ItemDataRole.BackgroundRole) == QBrush(LIGHT.off)
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


def test_plan_detail(qtbot, tab: SecurityTab, opened: list[QUrl]) -> None:
    page = tab.view.plan
    _select_plan(tab, SUB_A)
    assert tab.view.currentWidget() is page
    assert (page.title.text(), page.subtitle.text()) == ("Contoso Prod", f"Subscription {SUB_A}")
    assert page.guidance.isHidden() and page.cloud_docs_button.isHidden() and page.ai_docs_button.isHidden()
    texts = [label.text() for label in page.findChildren(QLabel)]
    for value in (
        "Standard",
        "2026-06-03T10:15:27.5523316Z",
        "AIPromptEvidence: On\nAIPromptSharingWithPurview: On",
    ):
        assert value in texts
    assert _accounts(tab) == [("acct-prod", "On (setting Enabled)"), ("acct-two", "On (follows the plan)")]

    _select_plan(tab, SUB_C)  # Defender for Cloud assesses it, threat protection for AI is off
    assert page.guidance.label.text().startswith(
        "Threat protection for AI services is off on this subscription"
    )
    assert page.cloud_docs_button.isHidden() and not page.ai_docs_button.isHidden()
    qtbot.mouseClick(page.ai_docs_button, Qt.MouseButton.LeftButton)
    assert opened == [QUrl(AI_PROTECTION_DOCS)]

    _select_plan(tab, SUB_D)  # no Defender for Cloud at all
    assert (
        page.guidance.label.text()
        == f"Defender for Cloud is not enabled on this subscription. {ENABLE_GUIDANCE}"
    )
    assert not page.cloud_docs_button.isHidden()
    qtbot.mouseClick(page.cloud_docs_button, Qt.MouseButton.LeftButton)
    assert opened[-1] == QUrl(DEFENDER_FOR_CLOUD_DOCS)


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


def test_keyboard_drives_the_dock(qtbot, tab: SecurityTab) -> None:
    tab.plans_table.setFocus()
    qtbot.keyClick(tab.plans_table, Qt.Key.Key_Down)
    assert tab.view.currentWidget() is tab.view.plan
    first = tab.view.plan.title.text()
    qtbot.keyClick(tab.plans_table, Qt.Key.Key_Down)
    assert tab.view.plan.title.text() != first
    tab.alerts_table.setFocus()
    qtbot.keyClick(tab.alerts_table, Qt.Key.Key_Down)
    assert tab.view.currentWidget() is tab.view.alert


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
    for button in (tab.enable_button, tab.purview_button, tab.view.plan.account_button):
        assert not button.isEnabled()
        assert button.toolTip() == OFFLINE_REASON
    assert tab.write_reason.text() == OFFLINE_REASON  # once, though both buttons say it
    assert tab.view.plan.account_reason.text() == OFFLINE_REASON
    assert tab.enable_button.text() == "Enable threat protection for AI…"
    assert tab.view.plan.account_button.text() == "Enable threat protection for this account…"
    assert tab.purview_button.isCheckable()
    assert tab.purview_note.text() == PURVIEW_NOTE
    assert PURVIEW_NOTE.startswith(
        "No public API backs the portal toggle; fcdesk uses the AIPromptSharingWithPurview"
    )


def test_plan_actions_when_online(qtbot, tab: SecurityTab, context: WorkspaceContext) -> None:
    context.set_write_disabled_reason(None)
    assert not tab.enable_button.isEnabled() and tab.enable_button.toolTip() == SELECT_SUBSCRIPTION
    assert not tab.purview_button.isEnabled() and tab.purview_button.toolTip() == SELECT_SUBSCRIPTION
    assert tab.write_reason.isHidden()  # "select a subscription" goes without saying

    _select_plan(tab, SUB_C)
    assert tab.enable_button.isEnabled()
    with qtbot.waitSignal(tab.enableThreatProtectionRequested, timeout=1000) as blocker:
        qtbot.mouseClick(tab.enable_button, Qt.MouseButton.LeftButton)
    assert blocker.args == [SUB_C]
    assert not tab.purview_button.isChecked() and tab.purview_button.text() == "Microsoft Purview: Off"

    _select_plan(tab, SUB_A)
    assert not tab.enable_button.isEnabled() and tab.enable_button.toolTip() == PLAN_ALREADY_ON
    assert tab.purview_button.isChecked() and tab.purview_button.text() == "Microsoft Purview: On"
    with qtbot.waitSignal(tab.purviewToggleRequested, timeout=1000) as blocker:
        qtbot.mouseClick(tab.purview_button, Qt.MouseButton.LeftButton)
    assert blocker.args == [SUB_A, False]
    assert tab.purview_button.isChecked()  # shows Azure's state until the written plan comes back
    account = tab.view.plan.account_button
    assert not account.isEnabled() and account.toolTip() == ACCOUNT_ALREADY_ON  # every account is on

    _select_plan(tab, SUB_B)  # acct-dev: its setting is Disabled; picked for the button
    assert tab.view.plan.accounts_table.current_row_object().account.name == "acct-dev"
    assert account.isEnabled()
    with qtbot.waitSignal(tab.enableAccountProtectionRequested, timeout=1000) as blocker:
        qtbot.mouseClick(account, Qt.MouseButton.LeftButton)
    assert blocker.args == [ACCT_DEV]


def test_rights_disable_the_buttons_with_the_reason(qtbot, qloop, tab: SecurityTab, context) -> None:
    reader = {
        SECURITY_RIGHTS: _Answer(False, "You need Security Admin or Owner at subscription Contoso Dev."),
        PURVIEW_RIGHTS: _Answer(False, "Turning Microsoft Purview on or off needs two things."),
        DEFENDER_ACCOUNT_RIGHTS: _Answer(False, "You need Owner on the account."),
    }
    asked = _signed_in(context, reader)
    _select_plan(tab, SUB_B)
    qtbot.waitUntil(lambda: _checked(tab), timeout=3000)
    for button, kind in (
        (tab.enable_button, SECURITY_RIGHTS),
        (tab.purview_button, PURVIEW_RIGHTS),
        (tab.view.plan.account_button, DEFENDER_ACCOUNT_RIGHTS),
    ):
        assert not button.isEnabled() and button.toolTip() == reader[kind].reason
    assert tab.write_reason.text() == (
        f"Threat protection: {reader[SECURITY_RIGHTS].reason}\n"
        f"Microsoft Purview: {reader[PURVIEW_RIGHTS].reason}"
    )
    assert not tab.write_reason.isHidden()
    assert tab.view.plan.account_reason.text() == reader[DEFENDER_ACCOUNT_RIGHTS].reason
    assert set(asked) == {
        (SECURITY_RIGHTS, f"/subscriptions/{SUB_B}"),
        (PURVIEW_RIGHTS, f"/subscriptions/{SUB_B}"),
        (DEFENDER_ACCOUNT_RIGHTS, ACCT_DEV),
    }


def test_a_security_admin_may_enable_but_not_toggle_purview(qtbot, qloop, tab: SecurityTab, context) -> None:
    no_purview = "You lack the Azure AI Account Owner role or Owner (to configure Microsoft Purview)."
    _signed_in(
        context,
        {
            SECURITY_RIGHTS: _Answer(True),
            PURVIEW_RIGHTS: _Answer(False, no_purview),
            DEFENDER_ACCOUNT_RIGHTS: _Answer(True),
        },
    )
    _select_plan(tab, SUB_B)
    qtbot.waitUntil(lambda: _checked(tab), timeout=3000)
    assert tab.enable_button.isEnabled() and tab.view.plan.account_button.isEnabled()
    assert not tab.purview_button.isEnabled() and tab.purview_button.toolTip() == no_purview
    assert tab.write_reason.text() == f"Microsoft Purview: {no_purview}"
    assert tab.view.plan.account_reason.isHidden()


# ------------------------------------------------------------------------------------ demo tenant


def test_demo_tenant(qtbot, qapp) -> None:
    meta, records = generate()
    inv = Inventory.build(meta, records)
    context = WorkspaceContext(inv, SnapshotInfo(None, Source.DEMO))
    tab = SecurityTab(context, open_url=lambda _url: None)  # colours from the palette
    qtbot.addWidget(tab)
    qtbot.addWidget(tab.detail)
    assert tab.rows_shown() == len([r for r in inv.recommendations if r.on_ai_resource])
    assert tab.title().startswith("Security posture (") and tab.title().endswith(" high)")
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
