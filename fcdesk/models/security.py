"""Table models and small derivations of the Security posture view.

Defender for Cloud recommendations (AI resources only), Defender alerts, the Defender for AI plan
per subscription, and the prompt-shield settings of the deployments an alert hit.
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
from fcdesk.core.text import EMPTY, format_utc
from fcdesk.models.palette import StateColors
from fcdesk.models.table import Column, RowTableModel

PUBLIC_PORTAL = "https://portal.azure.com"
JAILBREAK_KEY = ("Jailbreak", PROMPT)
INDIRECT_KEY = ("Indirect Attack", PROMPT)

#: Sorting ascending puts High first; unknown severities last.
SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2, "informational": 3}

NOT_ENABLED = "Not enabled"
ENABLE_GUIDANCE = (
    "Enable Defender for Cloud on this subscription to get recommendations; "
    "enable threat protection for AI services to get jailbreak alerts."
)
PURVIEW_NOTE = (
    "No public API backs the portal toggle; fcdesk uses the AIPromptSharingWithPurview extension of the "
    "Defender for AI plan, which also enables the billed plan."
)


def severity_rank(word: str) -> int:
    return SEVERITY_ORDER.get(word.strip().lower(), 9)


def account_name(resource_id: str) -> str:
    """The Cognitive Services account named in an ARM id, else the id's last segment."""
    return id_segment(resource_id, "accounts") or resource_id.rstrip("/").rsplit("/", 1)[-1] or resource_id


def portal_url(rec: Recommendation, portal_base: str = PUBLIC_PORTAL) -> str:
    """The assessment's own portal link, else the affected resource's page in the portal."""
    if rec.portal_link:
        return rec.portal_link
    return resource_url(rec.resource_id or rec.id, portal_base)


def resource_url(resource_id: str, portal_base: str = PUBLIC_PORTAL) -> str:
    return f"{portal_base.rstrip('/')}/#@/resource{resource_id}"


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
    tag = alert_tag(alert)
    return f"[{tag}] {alert.display_name}" if tag else alert.display_name


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
    account: Account
    state: str  #: the defenderForAISettings state, or "" when the account has none
    on: bool


@dataclass(slots=True)
class PlanRow:
    """The Defender for AI plan of one subscription and the per-account settings under it."""

    subscription: Subscription
    plan: DefenderPlan | None
    accounts: list[AccountDefender] = field(default_factory=list)

    @property
    def plan_text(self) -> str:
        if self.plan is None:
            return NOT_ENABLED
        return "Standard" if self.plan.enabled else (self.plan.tier or "Free")

    @property
    def enabled(self) -> bool:
        return self.plan is not None and self.plan.enabled

    @property
    def accounts_on(self) -> int:
        return sum(1 for a in self.accounts if a.on)


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
    rows = []
    for sub in subs:
        sid = sub.subscription_id.lower()
        plan = inventory.plans.get(sid)
        row = PlanRow(sub, plan)
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
    return sum(1 for r in recs if needs_attention(r)) + sum(1 for a in alerts if needs_attention(a))


# ------------------------------------------------------------------------------------------ models


def _on_off(value: bool) -> str:
    return "On" if value else "Off"


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
    COL_SEVERITY, COL_TIME, COL_ALERT, COL_RESOURCE, COL_STATUS = range(5)

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
                Column("Time", lambda a: format_utc(a.time), sort_key=lambda a: a.time, width=140),
                Column(
                    "Alert",
                    alert_text,
                    tooltip=lambda a: a.display_name + (f"\n{a.alert_type}" if a.alert_type else ""),
                    bold=lambda a: a.is_prompt_attack,
                    width=380,
                ),
                Column(
                    "Resource",
                    lambda a: (
                        ", ".join(account_name(r) for r in a.resource_ids) or a.compromised_entity or EMPTY
                    ),
                    tooltip=lambda a: "\n".join(a.resource_ids),
                    width=180,
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
    COL_SUBSCRIPTION, COL_PLAN, COL_EVIDENCE, COL_PURVIEW, COL_ACCOUNTS = range(5)

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
                    "Defender for AI plan",
                    lambda p: p.plan_text,
                    sort_key=lambda p: (p.enabled, p.plan is not None),
                    background=lambda p: c.ok if p.enabled else c.fail,
                    tooltip=lambda p: (
                        f"Threat protection for AI services: {p.plan_text}"
                        + (f", enabled {p.plan.enablement_time}" if p.plan and p.plan.enablement_time else "")
                    ),
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
                    lambda p: _on_off(p.plan.purview if p.plan else False),
                    width=140,
                    sort_key=lambda p: p.plan.purview if p.plan else False,
                    header_tooltip="AIPromptSharingWithPurview extension of the Defender for AI plan.",
                ),
                Column(
                    "Accounts with Defender for AI on",
                    lambda p: f"{p.accounts_on} of {len(p.accounts)}",
                    sort_key=lambda p: (p.accounts_on, len(p.accounts)),
                    tooltip=lambda p: "\n".join(
                        f"{a.account.name}: {'on' if a.on else 'off'}"
                        + (f" (setting {a.state})" if a.state else " (follows the plan)")
                        for a in p.accounts
                    ),
                    align_center=True,
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
