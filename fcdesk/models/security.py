"""Table models of the Security posture view (the derivations behind them: :mod:`fcdesk.core.posture`).

The names of :mod:`fcdesk.core.posture` are re-exported here, where the view has always found them.
"""

from __future__ import annotations

from typing import Any

from fcdesk.core.model import Alert, Recommendation
from fcdesk.core.posture import (
    AI_GUIDANCE,
    AI_PROTECTION_DOCS,
    DEFENDER_FOR_CLOUD_DOCS,
    ENABLE_GUIDANCE,
    INDIRECT_KEY,
    JAILBREAK_KEY,
    NOT_ENABLED,
    PURVIEW_NOTE,
    SEVERITY_ORDER,
    AccountDefender,
    AlertTarget,
    PlanRow,
    ShieldRow,
    account_name,
    alert_deployment_name,
    alert_link,
    alert_resource_text,
    alert_tag,
    alert_targets,
    alert_text,
    attention_count,
    is_active,
    is_unhealthy,
    needs_attention,
    on_off,
    plan_rows,
    recommendation_link,
    severity_rank,
    shield_off,
)
from fcdesk.core.text import EMPTY, format_utc
from fcdesk.models.palette import StateColors
from fcdesk.models.table import Column, RowTableModel

__all__ = [
    "AI_GUIDANCE",
    "AI_PROTECTION_DOCS",
    "DEFENDER_FOR_CLOUD_DOCS",
    "ENABLE_GUIDANCE",
    "INDIRECT_KEY",
    "JAILBREAK_KEY",
    "NOT_ENABLED",
    "PURVIEW_NOTE",
    "SEVERITY_ORDER",
    "AccountDefender",
    "AccountModel",
    "AlertModel",
    "AlertTarget",
    "PlanModel",
    "PlanRow",
    "RecommendationModel",
    "ShieldModel",
    "ShieldRow",
    "account_name",
    "alert_deployment_name",
    "alert_link",
    "alert_resource_text",
    "alert_tag",
    "alert_targets",
    "alert_text",
    "attention_count",
    "is_active",
    "is_unhealthy",
    "needs_attention",
    "on_off",
    "plan_rows",
    "recommendation_link",
    "severity_rank",
    "shield_off",
]


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
                    lambda p: on_off(p.plan.prompt_evidence) if p.plan else EMPTY,
                    width=130,
                    sort_key=lambda p: p.plan.prompt_evidence if p.plan else None,
                    header_tooltip="AIPromptEvidence: alerts include the suspicious prompt and response.",
                ),
                Column(
                    "Microsoft Purview",
                    lambda p: on_off(p.purview),
                    width=140,
                    sort_key=lambda p: p.purview,
                    header_tooltip="AIPromptSharingWithPurview extension of the Defender for AI plan.",
                ),
                Column(
                    "Accounts with Defender for AI on",
                    lambda p: f"{p.accounts_on} of {len(p.accounts)}",
                    sort_key=lambda p: (p.accounts_on, len(p.accounts)),
                    tooltip=lambda p: "\n".join(f"{a.account.name}: {on_off(a.on)}" for a in p.accounts),
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
                    "Jailbreak",
                    lambda s: s.jailbreak.text,
                    header_tooltip="Prompt shield: jailbreak (user prompt attacks)",
                    sort_key=lambda s: s.jailbreak.strictness,
                    background=lambda s: c.cell(s.jailbreak),
                    tooltip=lambda s: s.jailbreak.explanation,
                ),
                Column(
                    "Indirect",
                    lambda s: s.indirect.text,
                    header_tooltip="Prompt shield: indirect attacks (documents, tools)",
                    sort_key=lambda s: s.indirect.strictness,
                    background=lambda s: c.cell(s.indirect),
                    tooltip=lambda s: s.indirect.explanation,
                ),
            ],
            parent,
        )
