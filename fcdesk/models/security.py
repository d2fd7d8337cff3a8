"""Table models and small derivations of the Security posture view.

Defender for Cloud recommendations (AI resources only), Defender alerts, Defender for Cloud and its
"AI" plan (threat protection for AI services) per subscription with the Defender for AI setting of
each account, and the prompt-shield settings of the deployments an alert hit. Portal links follow
the cloud the data came from (:mod:`fcdesk.core.portal`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from fcdesk.core.guardrails import PROMPT, Cell, CellState, EffectiveGuardrail
from fcdesk.core.inventory import ALL, Inventory, Scope
from fcdesk.core.model import (
    Account,
    Alert,
    DefenderPlan,
    Deployment,
    Recommendation,
    Subscription,
    id_segment,
    idkey,
)
from fcdesk.core.portal import PortalLink, item_link
from fcdesk.core.text import EMPTY, format_utc
from fcdesk.models.palette import StateColors
from fcdesk.models.table import Column, RowTableModel

JAILBREAK_KEY = ("Jailbreak", PROMPT)
INDIRECT_KEY = ("Indirect Attack", PROMPT)

#: Sorting ascending puts High first; unknown severities last.
SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2, "informational": 3}

NOT_ENABLED = "Not enabled"
ENABLE_GUIDANCE = (
    "Enable Defender for Cloud on the subscription to get security posture recommendations; "
    "enable threat protection for AI services to get alerts for jailbreak attacks."
)
AI_GUIDANCE = "Enable threat protection for AI services to get alerts for jailbreak attacks (billed)."
#: Microsoft's how-tos the guidance points at (the same pages serve every cloud).
DEFENDER_FOR_CLOUD_DOCS = "https://learn.microsoft.com/azure/defender-for-cloud/connect-azure-subscription"
AI_PROTECTION_DOCS = "https://learn.microsoft.com/azure/defender-for-cloud/ai-onboarding"
PURVIEW_NOTE = (
    "No public API backs the portal toggle; fcdesk uses the AIPromptSharingWithPurview extension of the "
    "Defender for AI plan, which also enables the billed plan."
)


def _on_off(value: bool) -> str:
    return "On" if value else "Off"


def severity_rank(word: str) -> int:
    return SEVERITY_ORDER.get(word.strip().lower(), 9)


def account_name(resource_id: str) -> str:
    """The Cognitive Services account named in an ARM id, else the id's last segment."""
    return id_segment(resource_id, "accounts") or resource_id.rstrip("/").rsplit("/", 1)[-1] or resource_id


def recommendation_link(rec: Recommendation, cloud: str, tenant_id: str = "") -> PortalLink:
    """The assessment's own portal link, else the affected resource's page in the cloud's portal."""
    return item_link(rec.portal_link, rec.resource_id or rec.id, cloud, tenant_id)


def alert_link(alert: Alert, cloud: str, tenant_id: str = "") -> PortalLink:
    """The alert's own portal link, else its first resource's page in the cloud's portal."""
    return item_link(alert.portal_link, alert.resource_ids[0] if alert.resource_ids else "", cloud, tenant_id)


def is_unhealthy(rec: Recommendation) -> bool:
    return rec.status.strip().lower() == "unhealthy"


def is_active(alert: Alert) -> bool:
    return alert.status.strip().lower() == "active"


def needs_attention(item: Recommendation | Alert) -> bool:
    """Unhealthy High-severity recommendations and Active High-severity alerts."""
    if item.severity.strip().lower() != "high":
        return False
    return is_unhealthy(item) if isinstance(item, Recommendation) else is_active(item)


def alert_tag(alert: Alert) -> str:
    """ "Jailbreak" / "Prompt attack" for prompt-attack alerts, else ""."""
    if not alert.is_prompt_attack:
        return ""
    text = f"{alert.alert_type} {alert.display_name}".lower()
    return "Jailbreak" if "jailbreak" in text else "Prompt attack"


def alert_text(alert: Alert) -> str:
    """The alert's name, tagged "[Jailbreak]" / "[Prompt attack]" for prompt attacks."""
    tag = alert_tag(alert)
    return f"[{tag}] {alert.display_name}" if tag else alert.display_name


def alert_resource_text(alert: Alert) -> str:
    """The accounts an alert concerns, with the deployment hit when known: "acct-prod / gpt-4o"."""
    named = alert_deployment_name(alert)
    parts = []
    for rid in alert.resource_ids:
        deployment = id_segment(rid, "deployments") or (named if len(alert.resource_ids) == 1 else None)
        parts.append(account_name(rid) + (f" / {deployment}" if deployment else ""))
    return ", ".join(parts) or alert.compromised_entity or EMPTY


def _norm(key: str) -> str:
    return re.sub(r"[^a-z]", "", key.lower())


def alert_deployment_name(alert: Alert) -> str | None:
    """The deployment an alert names in ``extendedProperties`` ("Deployment name" in Defender's alerts;
    other spellings such as ``deploymentName`` accepted)."""
    for key, value in alert.extended_properties.items():
        if _norm(key) in ("deploymentname", "deployment", "modeldeploymentname", "modeldeployment") and value:
            return str(value)
    return None


@dataclass(slots=True)
class AlertTarget:
    """The deployments an alert concerns, and how fcdesk found them (a sentence for the dock)."""

    deployments: list[Deployment]
    how: str
    exact: bool = False  #: the alert identifies these deployments (not a fallback to the whole account)


def alert_targets(inventory: Inventory, alert: Alert) -> AlertTarget:
    """The deployment hit by an alert when identifiable, else every deployment of the account(s)."""
    account_keys: list[str] = []
    named_deps: list[Deployment] = []
    for rid in alert.resource_ids:
        key = idkey(rid)
        if "/deployments/" in key:
            named_deps += [d for d in inventory.deployments if idkey(d.id) == key]
            key = key.split("/deployments/")[0]
        if "/providers/microsoft.cognitiveservices/accounts/" in key:
            account_keys.append(key)
    if named_deps:
        return AlertTarget(named_deps, "The alert names this deployment.", exact=True)
    acct_deps = [d for d in inventory.deployments if idkey(d.account_id) in account_keys]
    name = alert_deployment_name(alert)
    if name:
        hit = [d for d in acct_deps if d.name.lower() == name.lower()]
        if hit:
            return AlertTarget(hit, f"The alert names the deployment '{name}'.", exact=True)
        if acct_deps:
            return AlertTarget(
                acct_deps,
                f"The alert names the deployment '{name}', which is not in this snapshot: showing every "
                "deployment of the account.",
            )
    if acct_deps:
        return AlertTarget(
            acct_deps, "The alert does not name a deployment: showing every deployment of the account."
        )
    return AlertTarget([], "The alert names no model deployment fcdesk knows.")


def shield_off(cell: Cell) -> bool:
    """Not set or explicitly off: the shield detects nothing."""
    return cell.state in (CellState.NOT_SET, CellState.OFF)


@dataclass(slots=True)
class ShieldRow:
    deployment: Deployment
    effective: EffectiveGuardrail

    @property
    def jailbreak(self) -> Cell:
        return self.effective.cell(JAILBREAK_KEY)

    @property
    def indirect(self) -> Cell:
        return self.effective.cell(INDIRECT_KEY)


@dataclass(slots=True)
class AccountDefender:
    """Threat protection for AI on one account: its Defender for AI setting, or the plan it follows."""

    account: Account
    state: str  #: the defenderForAISettings state, or "" when the account has none
    on: bool

    @property
    def protection_text(self) -> str:
        """ "On (setting Enabled)", "Off (follows the plan)"."""
        return _on_off(self.on) + (f" (setting {self.state})" if self.state else " (follows the plan)")


@dataclass(slots=True)
class PlanRow:
    """Defender for Cloud, its "AI" plan and the per-account settings under it, for one subscription."""

    subscription: Subscription
    plan: DefenderPlan | None
    accounts: list[AccountDefender] = field(default_factory=list)
    #: Defender for Cloud answers for the subscription: its AI pricing could be read, or it assessed
    #: something there (a recommendation on any resource).
    defender_for_cloud: bool = False

    @property
    def plan_text(self) -> str:
        if self.plan is None:
            return NOT_ENABLED
        return "Standard" if self.plan.enabled else (self.plan.tier or "Free")

    @property
    def cloud_text(self) -> str:
        return "On" if self.defender_for_cloud else NOT_ENABLED

    @property
    def enabled(self) -> bool:
        """Threat protection for AI services (the plan's Standard tier) is on."""
        return self.plan is not None and self.plan.enabled

    @property
    def purview(self) -> bool:
        return self.plan is not None and self.plan.purview

    @property
    def accounts_on(self) -> int:
        return sum(1 for a in self.accounts if a.on)

    @property
    def guidance(self) -> str:
        """What to do when Defender for Cloud or threat protection for AI is off ("" when both are on)."""
        if not self.defender_for_cloud:
            return f"Defender for Cloud is not enabled on this subscription. {ENABLE_GUIDANCE}"
        if not self.enabled:
            return (
                "Threat protection for AI services is off on this subscription: Defender raises no "
                "jailbreak alerts for its AI resources. Enable it to get them (billed)."
            )
        return ""


def plan_rows(inventory: Inventory, scope: Scope = ALL) -> list[PlanRow]:
    """One row per subscription in scope (for a project: its account's subscription and that account)."""
    accounts = sorted(inventory.accounts.values(), key=lambda a: a.name.lower())
    subs = list(inventory.scoped_subscriptions(scope))
    known = {s.subscription_id.lower() for s in inventory.subscriptions.values()}
    for acct in accounts:  # subscriptions seen only through their accounts
        sid = acct.subscription_id.lower()
        if sid not in known and (scope.subscriptions is None or sid in scope.subscriptions):
            known.add(sid)
            subs.append(
                Subscription(
                    f"/subscriptions/{acct.subscription_id}", acct.subscription_id, acct.subscription_id
                )
            )
    project_account: str | None = None
    if scope.project_id is not None:
        proj = inventory.projects.get(idkey(scope.project_id))
        project_account = idkey(proj.account_id) if proj else "(none)"
        acct = inventory.accounts.get(project_account)
        subs = [
            s for s in subs if acct is not None and s.subscription_id.lower() == acct.subscription_id.lower()
        ]
    assessed = {
        (r.subscription_id or id_segment(r.id, "subscriptions") or "").lower()
        for r in inventory.recommendations
    }
    rows = []
    for sub in subs:
        sid = sub.subscription_id.lower()
        plan = inventory.plans.get(sid)
        row = PlanRow(sub, plan, defender_for_cloud=plan is not None or sid in assessed)
        for acct in accounts:
            if acct.subscription_id.lower() != sid:
                continue
            if project_account is not None and idkey(acct.id) != project_account:
                continue
            setting = inventory.ai_settings.get(idkey(acct.id))
            state = setting.state if setting else ""
            # A per-account setting decides; without one the account follows the subscription's plan.
            on = state.lower() == "enabled" if setting else (plan is not None and plan.enabled)
            row.accounts.append(AccountDefender(acct, state, on))
        rows.append(row)
    return rows


def attention_count(recs: list[Recommendation], alerts: list[Alert]) -> int:
    """What the tab's title counts: unhealthy High recommendations and active High alerts."""
    return sum(1 for r in recs if needs_attention(r)) + sum(1 for a in alerts if needs_attention(a))


# ------------------------------------------------------------------------------------------ models


class RecommendationModel(RowTableModel[Recommendation]):
    COL_NAME, COL_RESOURCE, COL_SEVERITY, COL_STATUS, COL_CATEGORY = range(5)

    def __init__(self, colors: StateColors, parent: Any = None) -> None:
        self.colors = colors
        c = colors
        super().__init__(
            [
                Column(
                    "Recommendation", lambda r: r.display_name, tooltip=lambda r: r.display_name, width=360
                ),
                Column(
                    "Resource",
                    lambda r: account_name(r.resource_id),
                    tooltip=lambda r: r.resource_id,
                    width=200,
                ),
                Column(
                    "Severity",
                    lambda r: r.severity or "Unknown",
                    # within one severity, what needs attention (Unhealthy) comes first
                    sort_key=lambda r: (severity_rank(r.severity), not is_unhealthy(r)),
                    background=lambda r: c.severity(r.severity) if is_unhealthy(r) else None,
                    header_tooltip="Defender for Cloud's risk level (sorts High first, unhealthy first).",
                ),
                Column(
                    "Status",
                    lambda r: r.status,
                    sort_key=lambda r: (not is_unhealthy(r), r.status.casefold()),
                    tooltip=lambda r: r.cause,
                ),
                Column("Category", lambda r: r.category or EMPTY),
            ],
            parent,
        )


class AlertModel(RowTableModel[Alert]):
    COL_SEVERITY, COL_TIME, COL_ALERT, COL_TYPE, COL_RESOURCE, COL_STATUS = range(6)

    def __init__(self, colors: StateColors, parent: Any = None) -> None:
        self.colors = colors
        c = colors
        super().__init__(
            [
                Column(
                    "Severity",
                    lambda a: a.severity or "Unknown",
                    sort_key=lambda a: severity_rank(a.severity),
                    background=lambda a: c.severity(a.severity),
                ),
                Column("Time", lambda a: format_utc(a.time), sort_key=lambda a: a.time, width=160),
                Column(
                    "Alert",
                    alert_text,
                    tooltip=lambda a: a.display_name,
                    bold=lambda a: a.is_prompt_attack,
                    width=320,
                ),
                Column(
                    "Type",
                    lambda a: a.alert_type or EMPTY,
                    tooltip=lambda a: a.alert_type,
                    width=200,
                    header_tooltip="Defender's alert type (alertType).",
                ),
                Column(
                    "Resource", alert_resource_text, tooltip=lambda a: "\n".join(a.resource_ids), width=180
                ),
                Column(
                    "Status",
                    lambda a: a.status or EMPTY,
                    sort_key=lambda a: (not is_active(a), a.status.casefold()),
                ),
            ],
            parent,
        )


class PlanModel(RowTableModel[PlanRow]):
    COL_SUBSCRIPTION, COL_CLOUD, COL_PLAN, COL_EVIDENCE, COL_PURVIEW, COL_ACCOUNTS = range(6)

    def __init__(self, colors: StateColors, parent: Any = None) -> None:
        self.colors = colors
        c = colors
        super().__init__(
            [
                Column(
                    "Subscription",
                    lambda p: p.subscription.display_name,
                    tooltip=lambda p: p.subscription.subscription_id,
                    width=220,
                ),
                Column(
                    "Defender for Cloud",
                    lambda p: p.cloud_text,
                    sort_key=lambda p: p.defender_for_cloud,
                    background=lambda p: None if p.defender_for_cloud else c.fail,
                    tooltip=lambda p: p.guidance if not p.defender_for_cloud else "",
                    width=140,
                ),
                Column(
                    "Defender for AI plan",
                    lambda p: p.plan_text,
                    sort_key=lambda p: (p.enabled, p.plan is not None),
                    background=lambda p: c.ok if p.enabled else c.fail,
                    tooltip=lambda p: (
                        f"Threat protection for AI services: {p.plan_text}"
                        + (f", enabled {p.plan.enablement_time}" if p.plan and p.plan.enablement_time else "")
                    ),
                    header_tooltip="The Defender for Cloud plan 'AI' (threat protection for AI services).",
                    width=150,
                ),
                Column(
                    "Prompt evidence",
                    lambda p: _on_off(p.plan.prompt_evidence) if p.plan else EMPTY,
                    width=130,
                    sort_key=lambda p: p.plan.prompt_evidence if p.plan else None,
                    header_tooltip="AIPromptEvidence: alerts include the suspicious prompt and response.",
                ),
                Column(
                    "Microsoft Purview",
                    lambda p: _on_off(p.purview),
                    width=140,
                    sort_key=lambda p: p.purview,
                    header_tooltip="AIPromptSharingWithPurview extension of the Defender for AI plan.",
                ),
                Column(
                    "Accounts with Defender for AI on",
                    lambda p: f"{p.accounts_on} of {len(p.accounts)}",
                    sort_key=lambda p: (p.accounts_on, len(p.accounts)),
                    tooltip=lambda p: "\n".join(f"{a.account.name}: {_on_off(a.on)}" for a in p.accounts),
                    align_center=True,
                ),
            ],
            parent,
        )


class AccountModel(RowTableModel[AccountDefender]):
    """The accounts of one subscription and whether Defender for AI protects each (the plan's dock).

    Two columns, to fit the dock: the account (its id and resource group in the tooltip) and its
    threat protection with where that comes from: "Off (setting Disabled)", "On (follows the plan)".
    """

    COL_ACCOUNT, COL_PROTECTION = range(2)

    def __init__(self, colors: StateColors, parent: Any = None) -> None:
        self.colors = colors
        c = colors
        super().__init__(
            [
                Column(
                    "Account",
                    lambda a: a.account.name,
                    tooltip=lambda a: f"{a.account.id}\nResource group {a.account.resource_group}",
                ),
                Column(
                    "Threat protection",
                    lambda a: a.protection_text,
                    sort_key=lambda a: (a.on, a.state.casefold()),
                    background=lambda a: c.ok if a.on else c.fail,
                    header_tooltip=(
                        "Defender for AI on the account: its defenderForAISettings state, or without one "
                        "the subscription's plan."
                    ),
                ),
            ],
            parent,
        )


class ShieldModel(RowTableModel[ShieldRow]):
    """The prompt shields of the deployments an alert hit."""

    COL_DEPLOYMENT, COL_GUARDRAIL, COL_JAILBREAK, COL_INDIRECT = range(4)

    def __init__(self, colors: StateColors, parent: Any = None) -> None:
        self.colors = colors
        c = colors
        super().__init__(
            [
                Column("Deployment", lambda s: s.deployment.name, tooltip=lambda s: s.deployment.id),
                Column(
                    "Guardrail",
                    lambda s: s.effective.name,
                    tooltip=lambda s: s.effective.note or s.effective.name,
                ),
                Column(
                    "Jailbreak shield",
                    lambda s: s.jailbreak.text,
                    sort_key=lambda s: s.jailbreak.strictness,
                    background=lambda s: c.cell(s.jailbreak),
                    tooltip=lambda s: s.jailbreak.explanation,
                ),
                Column(
                    "Indirect attack shield",
                    lambda s: s.indirect.text,
                    sort_key=lambda s: s.indirect.strictness,
                    background=lambda s: c.cell(s.indirect),
                    tooltip=lambda s: s.indirect.explanation,
                ),
            ],
            parent,
        )
