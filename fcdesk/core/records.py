"""Raw ARM records: what Azure sent, kept verbatim so later versions can re-derive the domain.

A snapshot, the demo generator and (later) the live fetcher and the ARM emulator all speak in
``RawRecord`` lists. The domain (``fcdesk.core.inventory``) is always derived from them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class Kind(enum.StrEnum):
    """What a raw record is. The value is what is stored in snapshot files: never rename one."""

    SUBSCRIPTION = "subscription"  #: GET /subscriptions item
    RESOURCE_GROUP = "resource_group"  #: GET /subscriptions/{sub}/resourcegroups item
    ACCOUNT = "account"  #: Microsoft.CognitiveServices/accounts
    PROJECT = "project"  #: {acct}/projects/{name}
    DEPLOYMENT = "deployment"  #: {acct}/deployments/{name}
    RAI_POLICY = "rai_policy"  #: {acct}/raiPolicies/{name} (a guardrail)
    POLICY_SET_DEFINITION = "policy_set_definition"  #: the built-in guardrail initiative
    POLICY_ASSIGNMENT = "policy_assignment"  #: Microsoft.Authorization/policyAssignments
    POLICY_STATE = "policy_state"  #: one policyStates/latest/queryResults record
    ASSESSMENT = "assessment"  #: Microsoft.Security/assessments
    ASSESSMENT_METADATA = "assessment_metadata"  #: Microsoft.Security/assessmentMetadata
    ALERT = "alert"  #: Microsoft.Security/locations/alerts
    PRICING = "pricing"  #: Microsoft.Security/pricings/{name} (the "AI" plan matters)
    DEFENDER_AI_SETTING = "defender_ai_setting"  #: {acct}/defenderForAISettings/Default


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One ARM JSON object as received.

    ``id`` is the ARM id, or for records without one (policy states) a synthetic stable key.
    ``scope`` is the ARM scope it was fetched under (a subscription or account id), used to
    attribute errors and to serve it again from the emulator.
    """

    kind: Kind | str  #: a plain ``str`` for kinds written by a newer fcdesk (kept, never dropped)
    id: str
    body: dict[str, Any]
    scope: str = ""


@dataclass(frozen=True, slots=True)
class ScopeError:
    """A part of a capture that failed: the rest of the capture is still good."""

    scope: str  #: ARM id of the subscription/account/... that failed ("" for the whole capture)
    message: str  #: human-readable, already safe to show
    code: str = ""  #: HTTP status or error code, e.g. "403", "AuthorizationFailed", "Timeout"


class Source(enum.StrEnum):
    DEMO = "demo"
    LIVE = "live"
    IMPORT = "import"


@dataclass(slots=True)
class SnapshotMeta:
    """The header of one capture."""

    captured_at: datetime  #: timezone-aware UTC
    source: Source | str = Source.DEMO  #: a plain ``str`` when written by a newer fcdesk
    tenant_id: str = ""
    tenant_name: str = ""
    cloud: str = "public"  #: public | usgov | china | custom
    scopes: list[str] = field(default_factory=list)  #: subscription ids requested
    partial: bool = False  #: cancelled, or some scope failed
    label: str = ""
    errors: list[ScopeError] = field(default_factory=list)
    app_version: str = ""  #: filled in by the writer
    schema_version: int = 0  #: filled in by the writer / reader
