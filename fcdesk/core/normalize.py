"""Raw ARM JSON → domain objects.

Accepts the published payloads of ``shared/azure-examples`` unchanged, both field spellings across
api-versions (``severityThreshold``/``allowedContentLevel``, ``Deferred``/``Asynchronous_filter``),
unknown filter names and enum values (kept), and missing optional fields. A payload that cannot be
understood at all raises :class:`MalformedPayload` with a message that names the field; callers
record it as an error on that scope and carry on.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from fcdesk.core.guardrails import (
    Blocklist,
    ContentFilter,
    Guardrail,
    GuardrailType,
    Mode,
    Severity,
    canonical_filter_name,
    canonical_source,
)
from fcdesk.core.model import (
    AbusePenalty,
    Account,
    Alert,
    ComplianceRecord,
    ComplianceState,
    DefenderForAISetting,
    DefenderPlan,
    Deployment,
    Project,
    Recommendation,
    ResourceGroup,
    Subscription,
    id_segment,
    parent_id,
)
from fcdesk.core.policy import (
    EFFECT_PARAM,
    FCDESK_METADATA_KEY,
    FCDESK_METADATA_VALUE,
    INITIATIVE_NAME,
    GuardrailPolicy,
    _as_list,
    _param_value,
    disabled_by_overrides,
    requirements_from_parameters,
)


class MalformedPayload(ValueError):
    """A payload fcdesk cannot interpret (the message names what is wrong)."""


def _obj(body: Any, what: str) -> Mapping[str, Any]:
    if type(body) is not dict and not isinstance(body, Mapping):  # dict first: ABC checks are slow
        raise MalformedPayload(f"{what}: expected a JSON object, got {type(body).__name__}")
    return body


def _props(body: Mapping[str, Any]) -> Mapping[str, Any]:
    props = body.get("properties")
    if props is None:
        return {}
    if type(props) is not dict and not isinstance(props, Mapping):
        raise MalformedPayload(f"'properties' is a {type(props).__name__}, not an object")
    return props


def _str(value: Any) -> str:
    return "" if value is None else str(value)


def _req_id(body: Mapping[str, Any], what: str) -> str:
    arm_id = body.get("id")
    if not isinstance(arm_id, str) or not arm_id.startswith("/"):
        raise MalformedPayload(f"{what} has no valid 'id'")
    return arm_id


def _bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def parse_time(value: Any) -> datetime | None:
    """ISO-8601 with up to 7 fractional digits (ARM's habit) → aware UTC datetime."""
    if not isinstance(value, str) or not value:
        return None
    return _parse_time(value)


@functools.lru_cache(maxsize=4096)  # captures repeat a few timestamps hundreds of thousands of times
def _parse_time(value: str) -> datetime | None:
    text = value.strip().replace("Z", "+00:00")
    if "." in text:
        head, _, tail = text.partition(".")
        frac = tail[: len(tail) - len(tail.lstrip("0123456789"))]  # leading digits only
        zone = tail[len(frac) :]
        text = f"{head}.{frac[:6]}{zone}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


# ------------------------------------------------------------------------------------ inventory


def subscription(body: Any) -> Subscription:
    b = _obj(body, "subscription")
    sub_id = _str(b.get("subscriptionId")) or (id_segment(_str(b.get("id")), "subscriptions") or "")
    if not sub_id:
        raise MalformedPayload("subscription has neither 'subscriptionId' nor 'id'")
    return Subscription(
        id=_str(b.get("id")) or f"/subscriptions/{sub_id}",
        subscription_id=sub_id,
        display_name=_str(b.get("displayName")) or sub_id,
        state=_str(b.get("state")),
        tenant_id=_str(b.get("tenantId")),
    )


def resource_group(body: Any) -> ResourceGroup:
    b = _obj(body, "resource group")
    arm_id = _req_id(b, "resource group")
    return ResourceGroup(
        id=arm_id,
        name=_str(b.get("name")) or (id_segment(arm_id, "resourceGroups") or ""),
        subscription_id=id_segment(arm_id, "subscriptions") or "",
        location=_str(b.get("location")),
    )


def account(body: Any) -> Account:
    b = _obj(body, "account")
    arm_id = _req_id(b, "account")
    p = _props(b)
    penalty = p.get("abusePenalty")
    abuse = None
    if isinstance(penalty, Mapping):
        pct = penalty.get("rateLimitPercentage")
        abuse = AbusePenalty(
            action=_str(penalty.get("action")),
            rate_limit_percentage=float(pct) if isinstance(pct, int | float) else None,
            expiration=_str(penalty.get("expiration")),
        )
    monitor = p.get("raiMonitorConfig")
    storage = ""
    if isinstance(monitor, Mapping):
        storage = _str(monitor.get("adxStorageResourceId") or monitor.get("storageResourceId"))
    sku = b.get("sku")
    return Account(
        id=arm_id,
        name=_str(b.get("name")) or arm_id.rsplit("/", 1)[-1],
        subscription_id=id_segment(arm_id, "subscriptions") or "",
        resource_group=id_segment(arm_id, "resourceGroups") or "",
        kind=_str(b.get("kind")),
        location=_str(b.get("location")),
        sku=_str(sku.get("name")) if isinstance(sku, Mapping) else "",
        endpoint=_str(p.get("endpoint")),
        allow_project_management=_bool(p.get("allowProjectManagement")) is True,
        abuse_penalty=abuse,
        rai_monitor_storage=storage,
        provisioning_state=_str(p.get("provisioningState")),
    )


def project(body: Any) -> Project:
    b = _obj(body, "project")
    arm_id = _req_id(b, "project")
    p = _props(b)
    return Project(
        id=arm_id,
        name=_str(b.get("name")) or arm_id.rsplit("/", 1)[-1],
        account_id=parent_id(arm_id),
        display_name=_str(p.get("displayName")),
        description=_str(p.get("description")),
        is_default=_bool(p.get("isDefault")) is True,
    )


def deployment(body: Any) -> Deployment:
    b = _obj(body, "deployment")
    arm_id = _req_id(b, "deployment")
    p = _props(b)
    model = p.get("model") if isinstance(p.get("model"), Mapping) else {}
    sku = b.get("sku") if isinstance(b.get("sku"), Mapping) else {}
    capacity = sku.get("capacity")
    rai = p.get("raiPolicyName")
    intern = sys.intern  # the same account/subscription/group strings repeat on every deployment
    account_id = intern(parent_id(arm_id))
    return Deployment(
        id=arm_id,
        name=_str(b.get("name")) or arm_id.rsplit("/", 1)[-1],
        account_id=account_id,
        subscription_id=intern(id_segment(arm_id, "subscriptions") or ""),
        resource_group=intern(id_segment(arm_id, "resourceGroups") or ""),
        account_name=intern(account_id.rsplit("/", 1)[-1]),
        model_name=_str(model.get("name")),
        model_version=_str(model.get("version")),
        model_format=_str(model.get("format")),
        sku_name=_str(sku.get("name")),
        sku_capacity=capacity if isinstance(capacity, int) and not isinstance(capacity, bool) else None,
        rai_policy_name=intern(rai) if isinstance(rai, str) and rai.strip() else None,
        provisioning_state=_str(p.get("provisioningState")),
    )


# ----------------------------------------------------------------------------------- guardrails


_FILTERS: dict[tuple[Any, ...], ContentFilter] = {}


def content_filter(entry: Any) -> ContentFilter:
    """One filter entry. Identical entries share one (immutable) object: a large tenant repeats the
    same few dozen settings hundreds of thousands of times."""
    e = _obj(entry, "content filter")
    name = e.get("name")
    if not isinstance(name, str) or not name.strip():
        raise MalformedPayload("a content filter has no 'name'")
    raw_sev = e.get("severityThreshold", e.get("allowedContentLevel"))
    # Everything the normalised filter is made of (not the raw dict's other keys): entries that agree
    # on these are the same filter.
    key = (name, e.get("source"), e.get("enabled"), e.get("blocking"), raw_sev)
    try:
        hash(key)
    except TypeError:  # a non-scalar value: not shareable, still fine
        key = None
    if key is not None:
        shared = _FILTERS.get(key)
        if shared is not None:
            return shared
    flt = ContentFilter(
        name=canonical_filter_name(name),
        source=canonical_source(e.get("source")),
        enabled=_bool(e.get("enabled")),
        blocking=_bool(e.get("blocking")),
        threshold=Severity.parse(raw_sev),
        raw_threshold=_str(raw_sev) or None,
        raw=dict(e),
    )
    if key is not None and len(_FILTERS) < 10_000:
        _FILTERS[key] = flt
    return flt


def rai_policy(body: Any) -> Guardrail:
    b = _obj(body, "RAI policy")
    arm_id = _req_id(b, "RAI policy")
    p = _props(b)
    filters: dict[tuple[str, str], ContentFilter] = {}
    raw_filters = p.get("contentFilters") or []
    if not isinstance(raw_filters, list):
        raise MalformedPayload("'contentFilters' is not a list")
    for entry in raw_filters:
        flt = content_filter(entry)
        filters[flt.key] = flt  # identity is (name, source): a later duplicate wins, as in ARM
    lists = []
    for bl in p.get("customBlocklists") or []:
        if isinstance(bl, Mapping):
            lists.append(
                Blocklist(
                    _str(bl.get("blocklistName") or bl.get("name")),
                    canonical_source(bl.get("source")),
                    _bool(bl.get("blocking")),
                )
            )
    raw_mode = p.get("mode")
    type_text = _str(p.get("type"))
    return Guardrail(
        id=arm_id,
        name=_str(b.get("name")) or arm_id.rsplit("/", 1)[-1],
        account_id=parent_id(arm_id),
        type=GuardrailType.SYSTEM if type_text == "SystemManaged" else GuardrailType.USER,
        mode=Mode.parse(raw_mode),
        raw_mode=_str(raw_mode) or None,
        base_policy_name=_str(p.get("basePolicyName")) or None,
        filters=filters,
        blocklists=tuple(lists),
    )


# ----------------------------------------------------------------------------------- policy


def is_guardrail_assignment(body: Any) -> bool:
    if not isinstance(body, Mapping):
        return False
    p = body.get("properties")
    if not isinstance(p, Mapping):
        return False
    def_id = _str(p.get("policyDefinitionId")).lower()
    return def_id.endswith(f"/policysetdefinitions/{INITIATIVE_NAME}")


def guardrail_policy(body: Any) -> GuardrailPolicy:
    b = _obj(body, "policy assignment")
    arm_id = _req_id(b, "policy assignment")
    p = _props(b)
    scope = _str(p.get("scope"))
    if not scope:
        # The scope is the part of the id before /providers/Microsoft.Authorization.
        idx = arm_id.lower().find("/providers/microsoft.authorization/")
        scope = arm_id[:idx] if idx > 0 else ""
    params = p.get("parameters") or {}
    if not isinstance(params, Mapping):
        raise MalformedPayload("'parameters' is not an object")
    reqs, mode_req = requirements_from_parameters(params)
    effect = _as_list(_param_value(params, EFFECT_PARAM))
    metadata = p.get("metadata") if isinstance(p.get("metadata"), Mapping) else {}
    not_scopes = [s for s in (p.get("notScopes") or []) if isinstance(s, str)]
    return GuardrailPolicy(
        id=arm_id,
        name=_str(b.get("name")) or arm_id.rsplit("/", 1)[-1],
        display_name=_str(p.get("displayName")),
        description=_str(p.get("description")),
        scope=scope,
        subscription_id=id_segment(scope, "subscriptions") or "",
        resource_group=id_segment(scope, "resourceGroups"),
        not_scopes=not_scopes,
        requirements=reqs,
        mode_requirement=mode_req,
        effect=str(effect[0]) if effect else "Audit",
        enforcement_mode=_str(p.get("enforcementMode")) or "Default",
        created_by_fcdesk=FCDESK_METADATA_VALUE in (_str(metadata.get(FCDESK_METADATA_KEY)), _str(metadata.get("createdBy"))),
        parameters=dict(params),
        metadata=dict(metadata),
        disabled_references=disabled_by_overrides(p.get("overrides")),
        raw_overrides=list(p.get("overrides") or []) if isinstance(p.get("overrides"), list) else [],
        raw_properties=dict(p),
    )


#: The policy-state fields fcdesk reads: a capture ``$select``s exactly these (states are the bulk
#: of a large tenant, so every field left out counts).
POLICY_STATE_FIELDS = (
    "resourceId",
    "policyAssignmentId",
    "policySetDefinitionId",
    "policyDefinitionReferenceId",
    "policyDefinitionId",
    "complianceState",
    "timestamp",
)


_STATES = {
    "Compliant": ComplianceState.COMPLIANT,
    "NonCompliant": ComplianceState.NON_COMPLIANT,
    "compliant": ComplianceState.COMPLIANT,
    "noncompliant": ComplianceState.NON_COMPLIANT,
}


def policy_state(body: Any) -> ComplianceRecord:
    b = _obj(body, "policy state")
    resource = _str(b.get("resourceId"))
    assignment = _str(b.get("policyAssignmentId"))
    if not resource or not assignment:
        raise MalformedPayload("policy state lacks 'resourceId' or 'policyAssignmentId'")
    raw_state = _str(b.get("complianceState"))
    if not raw_state and isinstance(b.get("isCompliant"), bool):
        raw_state = "Compliant" if b["isCompliant"] else "NonCompliant"
    state = _STATES.get(raw_state) or _STATES.get(raw_state.lower(), ComplianceState.UNKNOWN)
    return ComplianceRecord(
        resource_id=resource,
        assignment_id=sys.intern(assignment),
        reference_id=sys.intern(_str(b.get("policyDefinitionReferenceId"))),
        state=state,
        raw_state=raw_state or "Unknown",
        timestamp=parse_time(b.get("timestamp")),
        policy_set_definition_id=_str(b.get("policySetDefinitionId")),
    )


def policy_state_key(body: Mapping[str, Any]) -> str:
    """A stable synthetic id for a policy-state record (they have none of their own)."""
    return "|".join(
        _str(body.get(k)).lower()
        for k in ("resourceId", "policyAssignmentId", "policyDefinitionReferenceId", "policyDefinitionId")
    )


# ----------------------------------------------------------------------------------- security


def assessment(body: Any, metadata: Mapping[str, Mapping[str, Any]] | None = None) -> Recommendation:
    """An assessment; severity and texts come from its inline metadata or the metadata list."""
    b = _obj(body, "assessment")
    arm_id = _req_id(b, "assessment")
    p = _props(b)
    details = p.get("resourceDetails") if isinstance(p.get("resourceDetails"), Mapping) else {}
    resource = _str(details.get("id") or details.get("Id") or details.get("ResourceId"))
    if not resource:
        idx = arm_id.lower().find("/providers/microsoft.security/assessments/")
        resource = arm_id[:idx] if idx > 0 else ""
    status = p.get("status") if isinstance(p.get("status"), Mapping) else {}
    name = _str(b.get("name"))
    meta = p.get("metadata") if isinstance(p.get("metadata"), Mapping) else None
    if meta is None and metadata is not None:
        found = metadata.get(name.lower())
        meta = _props(found) if isinstance(found, Mapping) else None
    meta = meta or {}
    links = p.get("links") if isinstance(p.get("links"), Mapping) else {}
    cats = meta.get("categories")
    return Recommendation(
        id=arm_id,
        name=name,
        display_name=_str(p.get("displayName") or meta.get("displayName")) or name,
        resource_id=resource,
        status=_str(status.get("code")) or "Unknown",
        severity=_str(meta.get("severity")),
        category=", ".join(map(str, cats)) if isinstance(cats, list) else _str(cats),
        description=_str(meta.get("description") or status.get("description")),
        remediation=_str(meta.get("remediationDescription")),
        portal_link=_str(links.get("azurePortalUri")),
        subscription_id=id_segment(arm_id, "subscriptions") or "",
        cause=_str(status.get("cause")),
    )


def alert(body: Any) -> Alert:
    b = _obj(body, "alert")
    arm_id = _req_id(b, "alert")
    p = _props(b)
    resources = []
    for ident in p.get("resourceIdentifiers") or []:
        if isinstance(ident, Mapping) and ident.get("azureResourceId"):
            resources.append(_str(ident["azureResourceId"]))
    steps = p.get("remediationSteps")
    ext = p.get("extendedProperties")
    return Alert(
        id=arm_id,
        name=_str(b.get("name")),
        alert_type=_str(p.get("alertType")),
        display_name=_str(p.get("alertDisplayName")) or _str(p.get("alertType")) or "(alert)",
        severity=_str(p.get("severity")),
        status=_str(p.get("status")),
        time=parse_time(p.get("startTimeUtc")) or parse_time(p.get("timeGeneratedUtc")),
        resource_ids=resources,
        subscription_id=id_segment(arm_id, "subscriptions") or "",
        description=_str(p.get("description")),
        remediation_steps=[str(s) for s in steps] if isinstance(steps, list) else [],
        compromised_entity=_str(p.get("compromisedEntity")),
        portal_link=_str(p.get("alertUri")),
        extended_properties=dict(ext) if isinstance(ext, Mapping) else {},
    )


def pricing(body: Any) -> DefenderPlan:
    b = _obj(body, "pricing")
    arm_id = _req_id(b, "pricing")
    p = _props(b)
    exts: dict[str, bool] = {}
    for ext in p.get("extensions") or []:
        if isinstance(ext, Mapping) and ext.get("name"):
            exts[_str(ext["name"])] = _bool(ext.get("isEnabled")) is True
    return DefenderPlan(
        subscription_id=id_segment(arm_id, "subscriptions") or "",
        tier=_str(p.get("pricingTier")) or "Free",
        extensions=exts,
        enablement_time=_str(p.get("enablementTime")),
    )


def defender_ai_setting(body: Any) -> DefenderForAISetting:
    b = _obj(body, "Defender for AI setting")
    arm_id = _req_id(b, "Defender for AI setting")
    return DefenderForAISetting(account_id=parent_id(arm_id), state=_str(_props(b).get("state")) or "Unknown")
