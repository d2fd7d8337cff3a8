"""Domain entities derived from raw ARM JSON (see ``fcdesk.core.normalize``).

ARM ids are case-insensitive; every cross-reference in fcdesk goes through :func:`idkey`.
Names from Azure are data, never markup: views render them as plain text.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


def idkey(arm_id: str | None) -> str:
    """The case-insensitive key of an ARM id (no trailing slash)."""
    return (arm_id or "").rstrip("/").lower()


def id_segment(arm_id: str, name: str) -> str | None:
    """The value after ``/{name}/`` in an ARM id (case-insensitive), e.g. ``resourceGroups``."""
    parts = arm_id.strip("/").split("/")
    lowered = name.lower()
    for i in range(len(parts) - 1):
        if parts[i].lower() == lowered:
            return parts[i + 1]
    return None


def parent_id(arm_id: str, levels: int = 2) -> str:
    """Strip ``levels`` path segments: ``.../accounts/a/deployments/d`` → ``.../accounts/a``."""
    parts = arm_id.rstrip("/").split("/")
    return "/".join(parts[:-levels]) if len(parts) > levels else ""


def subscription_scope(subscription_id: str) -> str:
    return f"/subscriptions/{subscription_id}"


def rg_scope(subscription_id: str, resource_group: str) -> str:
    return f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}"


@dataclass(slots=True)
class Subscription:
    id: str  #: /subscriptions/{guid}
    subscription_id: str
    display_name: str
    state: str = ""
    tenant_id: str = ""


@dataclass(slots=True)
class ResourceGroup:
    id: str
    name: str
    subscription_id: str
    location: str = ""


@dataclass(slots=True)
class AbusePenalty:
    """Account-level abuse monitoring penalty (read-only in Azure)."""

    action: str = ""
    rate_limit_percentage: float | None = None
    expiration: str = ""


@dataclass(slots=True)
class Account:
    id: str
    name: str
    subscription_id: str
    resource_group: str
    kind: str
    location: str = ""
    sku: str = ""
    endpoint: str = ""
    allow_project_management: bool = False
    abuse_penalty: AbusePenalty | None = None
    rai_monitor_storage: str = ""  #: where RAI monitoring writes (raiMonitorConfig), if configured
    provisioning_state: str = ""

    @property
    def is_foundry(self) -> bool:
        return self.kind.lower() == "aiservices" and self.allow_project_management

    @property
    def abuse_monitoring_text(self) -> str:
        parts: list[str] = []
        if self.abuse_penalty and self.abuse_penalty.action:
            pct = self.abuse_penalty.rate_limit_percentage
            parts.append(
                f"Abuse penalty active: {self.abuse_penalty.action}"
                + (f" at {pct:g}%" if pct is not None else "")
                + (f" until {self.abuse_penalty.expiration}" if self.abuse_penalty.expiration else "")
            )
        else:
            parts.append("No abuse penalty")
        parts.append(
            f"RAI monitoring writes to {self.rai_monitor_storage}"
            if self.rai_monitor_storage
            else "RAI monitoring storage not configured (Microsoft-managed)"
        )
        return "; ".join(parts)


@dataclass(slots=True)
class Project:
    id: str
    name: str
    account_id: str
    display_name: str = ""
    description: str = ""
    is_default: bool = False

    @property
    def label(self) -> str:
        return self.display_name or self.name


@dataclass(slots=True)
class Deployment:
    id: str
    name: str
    account_id: str
    subscription_id: str
    resource_group: str
    account_name: str
    model_name: str = ""
    model_version: str = ""
    model_format: str = ""
    sku_name: str = ""
    sku_capacity: int | None = None
    rai_policy_name: str | None = None
    provisioning_state: str = ""
    key: str = field(default="", compare=False)  #: ``idkey(id)``, precomputed: used on every lookup
    account_key: str = field(default="", compare=False)  #: ``idkey(account_id)``

    def __post_init__(self) -> None:
        self.key = idkey(self.id)
        self.account_key = idkey(self.account_id)

    @property
    def model_label(self) -> str:
        return f"{self.model_name} {self.model_version}".strip() if self.model_name else "(unknown model)"


class ComplianceState(enum.StrEnum):
    COMPLIANT = "Compliant"
    NON_COMPLIANT = "NonCompliant"
    UNKNOWN = "Unknown"  #: Exempt, Conflict, NotStarted...: kept as the raw word in ``raw_state``


@dataclass(slots=True)
class ComplianceRecord:
    """Azure's verdict for one resource, one assignment and one policy reference."""

    resource_id: str
    assignment_id: str
    reference_id: str
    state: ComplianceState
    raw_state: str
    timestamp: datetime | None
    policy_set_definition_id: str = ""


@dataclass(slots=True)
class Recommendation:
    """A Defender for Cloud assessment, with its metadata's severity and texts."""

    id: str
    name: str  #: assessment key (metadata name)
    display_name: str
    resource_id: str
    status: str  #: Healthy | Unhealthy | NotApplicable | ...
    severity: str  #: High | Medium | Low | "" (unknown)
    category: str = ""
    description: str = ""
    remediation: str = ""
    portal_link: str = ""
    subscription_id: str = ""
    cause: str = ""

    @property
    def on_ai_resource(self) -> bool:
        return "/providers/microsoft.cognitiveservices/accounts/" in self.resource_id.lower()


@dataclass(slots=True)
class Alert:
    id: str
    name: str
    alert_type: str
    display_name: str
    severity: str
    status: str
    time: datetime | None
    resource_ids: list[str]
    subscription_id: str = ""
    description: str = ""
    remediation_steps: list[str] = field(default_factory=list)
    compromised_entity: str = ""
    portal_link: str = ""
    extended_properties: dict[str, Any] = field(default_factory=dict)

    @property
    def is_prompt_attack(self) -> bool:
        text = f"{self.alert_type} {self.display_name}".lower()
        return "jailbreak" in text or "prompt injection" in text or "prompt attack" in text

    @property
    def on_ai_resource(self) -> bool:
        return self.alert_type.upper().startswith("AI.") or any(
            "/providers/microsoft.cognitiveservices/accounts/" in r.lower() for r in self.resource_ids
        )


@dataclass(slots=True)
class DefenderPlan:
    """The Defender for Cloud "AI" pricing of one subscription."""

    subscription_id: str
    tier: str  #: Free | Standard
    extensions: dict[str, bool] = field(default_factory=dict)
    enablement_time: str = ""

    @property
    def enabled(self) -> bool:
        return self.tier.lower() == "standard"

    @property
    def purview(self) -> bool:
        """Microsoft Purview for AI interactions: the AIPromptSharingWithPurview extension."""
        return self.enabled and self.extensions.get("AIPromptSharingWithPurview", False)

    @property
    def prompt_evidence(self) -> bool:
        return self.enabled and self.extensions.get("AIPromptEvidence", False)


@dataclass(slots=True)
class DefenderForAISetting:
    account_id: str
    state: str  #: Enabled | Disabled
