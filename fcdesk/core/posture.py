"""The Security posture, as pure derivations: what the Security posture tab and the reports show.

Defender for Cloud recommendations (AI resources only), Defender alerts, Defender for Cloud and its
"AI" plan (threat protection for AI services) per subscription with the Defender for AI setting of
each account, and the prompt-shield settings of the deployments an alert hit. Portal links follow
the cloud the data came from (:mod:`fcdesk.core.portal`). No Qt: the table models of the tab are in
:mod:`fcdesk.models.security`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

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
from fcdesk.core.text import EMPTY

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


def on_off(value: bool) -> str:
    """ "On" / "Off"."""
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
        return on_off(self.on) + (f" (setting {self.state})" if self.state else " (follows the plan)")


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
    by_subscription: dict[str, list[Account]] = {}
    for acct in accounts:
        by_subscription.setdefault(acct.subscription_id.lower(), []).append(acct)
    rows = []
    for sub in subs:
        sid = sub.subscription_id.lower()
        plan = inventory.plans.get(sid)
        row = PlanRow(sub, plan, defender_for_cloud=plan is not None or sid in assessed)
        for acct in by_subscription.get(sid, ()):
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
