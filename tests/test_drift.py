"""Drift between two snapshots (fcdesk.core.drift): every kind of change, found and classified.

Pairs come from the demo generator: the newer record list is a deep copy of the older one with some
bodies edited, so each test knows exactly which changes must be reported, and that nothing else is.
"""

from __future__ import annotations

import copy
import dataclasses
import random
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

import pytest

from fcdesk.core import drift as drift_module
from fcdesk.core.demo import generate
from fcdesk.core.drift import KIND_ORDER, TARGET_ORDER, Change, ChangeKind, Drift, Target, diff_inventories
from fcdesk.core.inventory import Inventory
from fcdesk.core.model import idkey
from fcdesk.core.normalize import policy_state_key
from fcdesk.core.policy import CONTROL_PARAMS
from fcdesk.core.records import Kind, RawRecord

META, BASE = generate(1, 0)
SUB_PROD = "fcbd04c3-4021-4ef7-8ca5-a5a19e4d6e3c"
SUB_DEV = "b4862b21-fb97-4435-8856-1712e8e5216a"
SUB_SANDBOX = "259f4329-e6f4-490b-9a16-4106cf6a659e"


def _account(sub: str, rg: str, name: str) -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.CognitiveServices/accounts/{name}"


def _assignment(scope: str, name: str) -> str:
    return f"{scope}/providers/Microsoft.Authorization/policyAssignments/{name}"


PROD = _account(SUB_PROD, "rg-foundry-prod-eastus2", "contoso-foundry-prod")
OPENAI_PROD = _account(SUB_PROD, "rg-openai-prod-sweden", "contoso-openai-prod")
WEU = _account(SUB_PROD, "rg-ai-shared-prod", "contoso-foundry-prod-weu")
DEV = _account(SUB_DEV, "rg-ai-dev", "contoso-foundry-dev")
OPENAI_DEV = _account(SUB_DEV, "rg-ai-dev", "contoso-openai-dev")
POLICY_FOUNDRY = _assignment(
    f"/subscriptions/{SUB_PROD}/resourceGroups/rg-foundry-prod-eastus2", "gr-foundry-prod"
)
POLICY_SHIELDS = _assignment(f"/subscriptions/{SUB_PROD}", "gr-prod-prompt-shields")
POLICY_DEV = _assignment(f"/subscriptions/{SUB_DEV}", "gr-dev-baseline")
POLICY_SANDBOX = _assignment(f"/subscriptions/{SUB_SANDBOX}", "gr-sandbox-minimum")

#: (kind, target, name, control, before, after): what a test expects of a change.
Row = tuple[ChangeKind, Target, str, str | None, str | None, str | None]


class Tenant:
    """A deep copy of demo records whose bodies a test edits, found by their ARM id."""

    def __init__(self, records: Iterable[RawRecord] = BASE) -> None:
        self.records = [RawRecord(r.kind, r.id, copy.deepcopy(r.body), r.scope) for r in records]

    def _index(self, kind: Kind, arm_id: str) -> int:
        found = [i for i, r in enumerate(self.records) if r.kind == kind and idkey(r.id) == idkey(arm_id)]
        assert len(found) == 1, (kind, arm_id, len(found))
        return found[0]

    def body(self, kind: Kind, arm_id: str) -> dict[str, Any]:
        return self.records[self._index(kind, arm_id)].body

    def props(self, kind: Kind, arm_id: str) -> dict[str, Any]:
        return self.body(kind, arm_id)["properties"]

    def remove(self, kind: Kind, arm_id: str) -> dict[str, Any]:
        return self.records.pop(self._index(kind, arm_id)).body

    def add(self, kind: Kind, body: dict[str, Any], scope: str = "") -> None:
        self.records.append(RawRecord(kind, body.get("id") or policy_state_key(body), body, scope))

    def copy_as(self, kind: Kind, arm_id: str, new_id: str, **fields: Any) -> dict[str, Any]:
        """Add a copy of a record under a new id (and ``name``/other top-level fields)."""
        body = copy.deepcopy(self.body(kind, arm_id))
        body.update(id=new_id, **fields)
        self.add(kind, body)
        return body

    def content_filter(self, rail_id: str, name: str, source: str) -> dict[str, Any]:
        filters = self.props(Kind.RAI_POLICY, rail_id)["contentFilters"]
        (flt,) = [f for f in filters if f["name"] == name and f["source"] == source]
        return flt

    def parameters(self, policy_id: str) -> dict[str, Any]:
        return self.props(Kind.POLICY_ASSIGNMENT, policy_id)["parameters"]

    def states(self, dep_id: str, policy_id: str) -> list[dict[str, Any]]:
        return [
            r.body
            for r in self.records
            if r.kind == Kind.POLICY_STATE
            and idkey(r.body["resourceId"]) == idkey(dep_id)
            and idkey(r.body["policyAssignmentId"]) == idkey(policy_id)
        ]

    def inventory(self, later_by: timedelta = timedelta(0)) -> Inventory:
        return Inventory.build(
            dataclasses.replace(META, captured_at=META.captured_at + later_by), self.records
        )


def diff(edit: Callable[[Tenant], None], older: Tenant | None = None) -> Drift:
    """The drift from ``older`` (default: the demo) to a copy of it edited by ``edit``."""
    older = older or Tenant()
    newer = Tenant(older.records)
    edit(newer)
    return diff_inventories(older.inventory(), newer.inventory(timedelta(days=1)))


def rows(changes: Iterable[Change]) -> set[Row]:
    return {(c.kind, c.target, c.name, c.control, c.before, c.after) for c in changes}


def of(drift: Drift, target: Target) -> list[Change]:
    return [c for c in drift.changes if c.target is target]


# ------------------------------------------------------------------------------- nothing changed


def test_identical_snapshots_have_no_changes() -> None:
    meta, records = generate(3, 7)
    again_meta, again = generate(3, 7)
    drift = diff_inventories(Inventory.build(meta, records), Inventory.build(again_meta, again))
    assert drift.changes == [] and not drift.loosened
    assert set(drift.counts().values()) == {0}


def _upper_ids(value: Any, key: str = "") -> Any:
    """Every ARM id in a body, upper-cased (ids are case-insensitive in Azure)."""
    if isinstance(value, dict):
        return {k: _upper_ids(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_upper_ids(v, key) for v in value]
    if isinstance(value, str) and value.startswith("/subscriptions/") and key != "raiPolicyName":
        return value.upper()
    return value


def test_record_order_and_id_case_do_not_matter() -> None:
    shuffled = [RawRecord(r.kind, r.id.upper(), _upper_ids(r.body), r.scope.upper()) for r in BASE]
    random.Random(4).shuffle(shuffled)
    older, newer = Tenant().inventory(), Tenant(shuffled).inventory()
    assert all(d.id.isupper() for d in newer.deployments) and len(newer.deployments) == 40
    assert any(ns.isupper() for p in newer.policies for ns in p.not_scopes)

    def verdicts(inv: Inventory) -> int:
        return sum(1 for d in inv.deployments for p in inv.governing(d) if inv.azure(d, p) is not None)

    assert verdicts(newer) == verdicts(older) > 30  # Azure's verdicts matched despite the case
    drift = diff_inventories(older, newer)
    assert drift.changes == []
    assert diff_inventories(newer, older).changes == []


# ------------------------------------------------------------------------------- guardrail edits


STRICT = f"{PROD}/raiPolicies/Contoso-Strict"
STANDARD = f"{PROD}/raiPolicies/Contoso-Standard"


def test_a_loosened_filter_loosens_the_guardrail_and_every_deployment_on_it() -> None:
    drift = diff(lambda t: t.content_filter(STRICT, "Hate", "Prompt").update(severityThreshold="High"))
    hate = ("Hate (prompt)", "Blocks ≥ Low", "Blocks ≥ High")
    L = ChangeKind.LOOSENED
    assert rows(of(drift, Target.GUARDRAIL)) == {
        (L, Target.GUARDRAIL, "contoso-foundry-prod/Contoso-Strict", *hate)
    }
    on_strict = {"gpt-4o", "gpt-4.1", "gpt-5", "DeepSeek-R1"}
    assert rows(of(drift, Target.DEPLOYMENT)) == {
        (L, Target.DEPLOYMENT, f"contoso-foundry-prod/{d}", *hate) for d in on_strict
    }
    assert {c.detail for c in of(drift, Target.DEPLOYMENT)} == {"guardrail Contoso-Strict edited"}
    assert {c.target_id for c in of(drift, Target.GUARDRAIL)} == {STRICT}
    assert {c.subscription_id for c in drift.changes} == {SUB_PROD}
    assert len(drift.changes) == 5 and drift.loosened


def test_a_tightened_filter_tightens_and_nothing_loosens() -> None:
    drift = diff(lambda t: t.content_filter(STANDARD, "Profanity", "Prompt").update(blocking=True))
    T = ChangeKind.TIGHTENED
    profanity = ("Profanity (prompt)", "Annotate only", "Blocks")
    assert rows(drift.changes) == {
        (T, Target.GUARDRAIL, "contoso-foundry-prod/Contoso-Standard", *profanity)
    } | {
        (T, Target.DEPLOYMENT, f"contoso-foundry-prod/{d}", *profanity)
        for d in ("gpt-4o-mini", "o4-mini", "text-embedding-3-large")
    }
    assert not drift.loosened


def test_an_unknown_level_replaced_by_another_is_changed_not_loosened() -> None:
    groundedness = f"{WEU}/raiPolicies/Preview-Groundedness"
    older = Tenant()
    older.content_filter(groundedness, "Violence", "Completion")["severityThreshold"] = "Extreme"
    drift = diff(
        lambda t: t.content_filter(groundedness, "Violence", "Completion").update(
            severityThreshold="Critical"
        ),
        older,
    )
    violence = (
        "Violence (completion)",
        "Blocks ≥ Extreme (unknown level)",
        "Blocks ≥ Critical (unknown level)",
    )
    C = ChangeKind.CHANGED
    assert rows(drift.changes) == {
        (C, Target.GUARDRAIL, "contoso-foundry-prod-weu/Preview-Groundedness", *violence),
        (C, Target.DEPLOYMENT, "contoso-foundry-prod-weu/Llama-3.3-70B-Instruct", *violence),
    }
    assert not drift.loosened
    # From a known level to an unknown one: fcdesk cannot tell what is blocked any more, a loosening.
    first = diff_inventories(Tenant().inventory(), older.inventory())
    assert {(c.kind, c.before, c.after) for c in first.changes} == {
        (ChangeKind.LOOSENED, "Blocks ≥ Medium", "Blocks ≥ Extreme (unknown level)")
    }


def test_guardrail_mode_blocklists_and_unknown_filters_of_a_guardrail() -> None:
    groundedness = f"{WEU}/raiPolicies/Preview-Groundedness"

    def edit(t: Tenant) -> None:
        t.props(Kind.RAI_POLICY, STRICT)["mode"] = "Asynchronous_filter"
        t.props(Kind.RAI_POLICY, STRICT)["customBlocklists"].pop()  # the completion one
        t.content_filter(groundedness, "Ungrounded Material", "Completion")["enabled"] = False

    drift = diff(edit)
    L = ChangeKind.LOOSENED
    assert rows(of(drift, Target.GUARDRAIL)) == {
        (
            L,
            Target.GUARDRAIL,
            "contoso-foundry-prod/Contoso-Strict",
            "Guardrail mode",
            "Default",
            "Streaming (async filter)",
        ),
        (
            L,
            Target.GUARDRAIL,
            "contoso-foundry-prod/Contoso-Strict",
            "Blocklist contoso-banned-terms (completion)",
            "Blocks",
            "Not set",
        ),
        (
            L,
            Target.GUARDRAIL,
            "contoso-foundry-prod-weu/Preview-Groundedness",
            "Ungrounded Material (completion)",
            "Annotate only",
            "Off",
        ),
    }
    # Deployments see what the matrix shows: the mode (blocklists and unknown filters are not columns).
    assert {(c.name, c.control) for c in of(drift, Target.DEPLOYMENT)} == {
        (f"contoso-foundry-prod/{d}", "Guardrail mode") for d in ("gpt-4o", "gpt-4.1", "gpt-5", "DeepSeek-R1")
    }


def test_guardrails_added_and_removed() -> None:
    legacy = f"{OPENAI_PROD}/raiPolicies/Legacy-2023"

    def edit(t: Tenant) -> None:
        t.remove(Kind.RAI_POLICY, legacy)
        t.copy_as(Kind.RAI_POLICY, STRICT, f"{PROD}/raiPolicies/Contoso-Canary", name="Contoso-Canary")

    drift = diff(edit)
    assert rows(of(drift, Target.GUARDRAIL)) == {
        (
            ChangeKind.ADDED,
            Target.GUARDRAIL,
            "contoso-foundry-prod/Contoso-Canary",
            None,
            None,
            "15 of 15 controls block; mode Default",
        ),
        (
            ChangeKind.REMOVED,
            Target.GUARDRAIL,
            "contoso-openai-prod/Legacy-2023",
            None,
            "7 of 15 controls block; mode Streaming (async filter)",
            None,
        ),
    }
    # The deployment on the deleted guardrail now has nothing: every control it had is loosened.
    orphan = of(drift, Target.DEPLOYMENT)
    assert {c.name for c in orphan} == {"contoso-openai-prod/gpt-35-turbo"}
    assert {c.kind for c in orphan} == {ChangeKind.LOOSENED}
    assert {c.detail for c in orphan} == {"guardrail Legacy-2023 → Legacy-2023 (not found)"}
    by_control = {c.control: (c.before, c.after) for c in orphan}
    assert by_control["Hate (prompt)"] == ("Blocks ≥ High", "Not set")
    assert by_control["Sexual (prompt)"] == ("Off", "Not set")
    assert by_control["Guardrail mode"] == ("Streaming (async filter)", "Not set")


# ------------------------------------------------------------------------------- deployments


def test_reassignment_is_changed_and_its_effect_is_per_control() -> None:
    mini = f"{DEV}/deployments/gpt-4o-mini"
    drift = diff(lambda t: t.props(Kind.DEPLOYMENT, mini).update(raiPolicyName="Dev-Hardened"))
    (moved,) = [c for c in drift.changes if c.control == "Guardrail"]
    assert (moved.kind, moved.target, moved.target_id) == (ChangeKind.CHANGED, Target.DEPLOYMENT, mini)
    assert (moved.before, moved.after, moved.detail) == (
        "Eval-AnnotateOnly",
        "Dev-Hardened",
        "guardrail Eval-AnnotateOnly → Dev-Hardened",
    )
    effects = [c for c in drift.changes if c is not moved]
    assert len(effects) == 16 and {c.kind for c in effects} == {ChangeKind.TIGHTENED}  # 15 controls + mode
    assert {c.detail for c in effects} == {"guardrail Eval-AnnotateOnly → Dev-Hardened"}
    by_control = {c.control: (c.before, c.after) for c in effects}
    assert by_control["Hate (prompt)"] == ("Annotate only", "Blocks ≥ Medium")
    assert by_control["Guardrail mode"] == ("Streaming (async filter)", "Default")
    assert not drift.loosened


def test_reassignment_to_the_same_settings_is_only_the_reassignment() -> None:
    embedding = f"{OPENAI_PROD}/deployments/text-embedding-3-small"  # no raiPolicyName: the account default
    standard_mini = f"{PROD}/deployments/gpt-4o-mini"

    def edit(t: Tenant) -> None:
        t.props(Kind.DEPLOYMENT, embedding)["raiPolicyName"] = "Microsoft.DefaultV2"
        t.props(Kind.DEPLOYMENT, standard_mini)["raiPolicyName"] = (
            "contoso-STANDARD"  # names are case-insensitive
        )

    drift = diff(edit)
    assert rows(drift.changes) == {
        (
            ChangeKind.CHANGED,
            Target.DEPLOYMENT,
            "contoso-openai-prod/text-embedding-3-small",
            "Guardrail",
            "None set (account default: Microsoft.DefaultV2)",
            "Microsoft.DefaultV2",
        )
    }


def test_deployments_added_and_removed() -> None:
    gone = f"{OPENAI_DEV}/deployments/gpt-35-turbo"
    canary = f"{PROD}/deployments/gpt-4o-canary"

    def edit(t: Tenant) -> None:
        t.remove(Kind.DEPLOYMENT, gone)
        t.copy_as(Kind.DEPLOYMENT, f"{PROD}/deployments/gpt-4o", canary, name="gpt-4o-canary")

    drift = diff(edit)
    assert rows(drift.changes) == {
        (
            ChangeKind.ADDED,
            Target.DEPLOYMENT,
            "contoso-foundry-prod/gpt-4o-canary",
            "Guardrail",
            None,
            "Contoso-Strict",
        ),
        (
            ChangeKind.REMOVED,
            Target.DEPLOYMENT,
            "contoso-openai-dev/gpt-35-turbo",
            "Guardrail",
            "Microsoft.Default",
            None,
        ),
    }
    assert {c.target_id for c in drift.changes} == {gone, canary}
    assert {c.detail for c in drift.changes} == {"model gpt-4o 2024-11-20", "model gpt-35-turbo 0125"}
    assert not drift.loosened


# ------------------------------------------------------------------------------- policies


def test_policy_edits_are_classified_per_aspect() -> None:
    llama = f"{WEU}/deployments/Llama-3.3-70B-Instruct"
    gpt5 = f"{PROD}/deployments/gpt-5"
    rg_openai = f"/subscriptions/{SUB_PROD}/resourceGroups/rg-openai-prod-sweden"
    pm_text_ref = CONTROL_PARAMS[("Protected Material Text", "Completion")].reference_id

    def edit(t: Tenant) -> None:
        shields = t.props(Kind.POLICY_ASSIGNMENT, POLICY_SHIELDS)
        shields["notScopes"] = [llama.upper(), gpt5]  # the resource group no longer excepted; gpt-5 now is
        shields["description"] = "Shields must block."
        shields["parameters"]["allowedJailbreakBlockingForPrompt"] = {"value": ["true", "false"]}
        shields["parameters"]["raiPolicyMode"] = {"value": ["Default"]}
        shields["overrides"] = [
            {
                "kind": "policyEffect",
                "value": "Disabled",
                "selectors": [{"kind": "policyDefinitionReferenceId", "in": [pm_text_ref]}],
            }
        ]
        t.parameters(POLICY_DEV)["effect"] = {"value": "Disabled"}
        t.parameters(POLICY_FOUNDRY)["allowedHateSeveritiesForPrompt"] = {"value": ["Low"]}

    drift = diff(edit)
    L, T, C, P = ChangeKind.LOOSENED, ChangeKind.TIGHTENED, ChangeKind.CHANGED, Target.POLICY
    shields, dev, foundry = (
        "Production prompt shields",
        "Development baseline guardrail",
        "Foundry production guardrail",
    )
    old_description = Tenant().props(Kind.POLICY_ASSIGNMENT, POLICY_SHIELDS)["description"]
    assert rows(drift.changes) == {
        (L, P, shields, "Exception", None, "deployment contoso-foundry-prod/gpt-5"),
        (T, P, shields, "Exception", "resource group rg-openai-prod-sweden", None),
        (C, P, shields, "Description", old_description, "Shields must block."),
        (
            L,
            P,
            shields,
            "Prompt shield: jailbreak (user prompt attacks)",
            "Must block",
            "Must be on (annotate or block)",
        ),
        (L, P, shields, "Protected material: text", "Must block", "Not checked"),
        (T, P, shields, "Guardrail mode", "Any mode", "Mode: Default"),
        (L, P, dev, "Effect", "Audit", "Disabled"),
        (T, P, foundry, "Hate (prompt)", "Must block ≥ Medium", "Must block ≥ Low"),
    }
    exceptions = {c.after or c.before: c.detail for c in drift.changes if c.control == "Exception"}
    assert exceptions == {
        "deployment contoso-foundry-prod/gpt-5": gpt5,
        "resource group rg-openai-prod-sweden": rg_openai,
    }
    assert {c.target_id for c in drift.changes} == {POLICY_SHIELDS, POLICY_DEV, POLICY_FOUNDRY}


def test_policies_added_and_removed_and_renamed() -> None:
    added = f"/subscriptions/{SUB_PROD}/providers/Microsoft.Authorization/policyAssignments/gr-new"

    def edit(t: Tenant) -> None:
        t.remove(Kind.POLICY_ASSIGNMENT, POLICY_SANDBOX)
        body = t.copy_as(Kind.POLICY_ASSIGNMENT, POLICY_SHIELDS, added, name="gr-new")
        body["properties"]["displayName"] = "New shields"
        t.props(Kind.POLICY_ASSIGNMENT, POLICY_FOUNDRY)["displayName"] = "Foundry production"

    drift = diff(edit)
    by_kind = {c.kind: c for c in drift.changes}
    assert (
        set(by_kind) == {ChangeKind.ADDED, ChangeKind.REMOVED, ChangeKind.CHANGED} and len(drift.changes) == 3
    )
    assert (by_kind[ChangeKind.ADDED].name, by_kind[ChangeKind.ADDED].target_id) == ("New shields", added)
    assert by_kind[ChangeKind.ADDED].after and by_kind[ChangeKind.ADDED].after.startswith(
        "Prompt shield: jailbreak"
    )
    assert by_kind[ChangeKind.ADDED].detail == f"Subscription {SUB_PROD}"
    assert by_kind[ChangeKind.REMOVED].name == "Research sandbox & red team <minimum controls>"
    assert (
        by_kind[ChangeKind.REMOVED].before
        and "Hate (prompt): Must block" in by_kind[ChangeKind.REMOVED].before
    )
    renamed = by_kind[ChangeKind.CHANGED]
    assert (renamed.control, renamed.before, renamed.after) == (
        "Display name",
        "Foundry production guardrail",
        "Foundry production",
    )
    assert {c.target for c in drift.changes} == {Target.POLICY} and not drift.loosened


# ------------------------------------------------------------------------------- compliance


def test_compliance_flips_are_changed_with_both_times_and_what_fails() -> None:
    gpt4o = f"{PROD}/deployments/gpt-4o"
    stale = f"{DEV}/deployments/gpt-4o"  # the demo's stale NonCompliant verdict
    hate_ref = CONTROL_PARAMS[("Hate", "Prompt")].reference_id

    def edit(t: Tenant) -> None:
        (summary,) = t.states(gpt4o, POLICY_FOUNDRY)
        summary.update(complianceState="NonCompliant", timestamp="2026-11-21T06:40:00Z")
        t.add(Kind.POLICY_STATE, {**summary, "policyDefinitionReferenceId": hate_ref})
        for body in t.states(stale, POLICY_DEV):
            if body["policyDefinitionReferenceId"]:
                t.records = [r for r in t.records if r.body is not body]
            else:
                body.update(complianceState="Compliant", timestamp="2026-11-21T06:12:00Z")

    drift = diff(edit)
    C, X = ChangeKind.CHANGED, Target.COMPLIANCE
    assert rows(drift.changes) == {
        (
            C,
            X,
            "contoso-foundry-prod/gpt-4o",
            "Foundry production guardrail",
            "Compliant",
            "Violation detected",
        ),
        (
            C,
            X,
            "contoso-foundry-dev/gpt-4o",
            "Development baseline guardrail",
            "Violation detected",
            "Compliant",
        ),
    }
    flips = {c.target_id: c for c in drift.changes}
    assert flips[gpt4o].related_id == POLICY_FOUNDRY and flips[stale].related_id == POLICY_DEV
    assert flips[gpt4o].detail.startswith(
        'policy "Foundry production guardrail": Azure now reports a violation (fails Hate)'
    )
    assert flips[gpt4o].detail.endswith("as of 2026-11-20 06:43 UTC → 2026-11-21 06:40 UTC")
    assert "Azure now reports it compliant" in flips[stale].detail
    assert not drift.loosened  # the guardrail change behind a flip is the loosening, not the flip


# ------------------------------------------------------------------------------- security


NEW_ACCOUNT = PROD.replace("contoso-foundry-prod", "contoso-foundry-new")


def _assessments(t: Tenant, account: str) -> list[dict[str, Any]]:
    return [
        r.body
        for r in t.records
        if r.kind == Kind.ASSESSMENT and r.body["properties"]["resourceDetails"]["id"] == account
    ]


def _alert_id(t: Tenant, status: str, severity: str) -> str:
    return next(
        r.id
        for r in t.records
        if r.kind == Kind.ALERT
        and (r.body["properties"]["status"], r.body["properties"]["severity"]) == (status, severity)
    )


def test_recommendations_and_alerts_new_resolved_and_gone() -> None:
    base = Tenant()
    unhealthy = next(b for b in _assessments(base, PROD) if b["properties"]["status"]["code"] == "Unhealthy")
    healthy = next(b for b in _assessments(base, DEV) if b["properties"]["status"]["code"] == "Healthy")
    active_high, resolved = _alert_id(base, "Active", "High"), _alert_id(base, "Resolved", "Medium")
    new_alert = active_high.replace("_49A3E80E", "_00000000")

    def edit(t: Tenant) -> None:
        t.props(Kind.ASSESSMENT, unhealthy["id"])["status"] = {"code": "Healthy"}
        t.remove(Kind.ASSESSMENT, healthy["id"])
        new_rec = copy.deepcopy(unhealthy)
        new_rec["id"] = unhealthy["id"].replace(PROD, NEW_ACCOUNT)
        new_rec["properties"]["resourceDetails"]["id"] = NEW_ACCOUNT
        t.add(Kind.ASSESSMENT, new_rec)
        t.copy_as(Kind.ALERT, active_high, new_alert)
        t.props(Kind.ALERT, active_high)["status"] = "Resolved"
        t.remove(Kind.ALERT, resolved)

    drift = diff(edit, base)
    recs = {c.kind: c for c in of(drift, Target.RECOMMENDATION)}
    title = unhealthy["properties"]["displayName"]
    assert rows(recs.values()) == {
        (ChangeKind.CHANGED, Target.RECOMMENDATION, title, "Status", "Unhealthy", "Healthy"),
        (ChangeKind.ADDED, Target.RECOMMENDATION, title, "Status", None, "Unhealthy"),
        (
            ChangeKind.REMOVED,
            Target.RECOMMENDATION,
            healthy["properties"]["displayName"],
            "Status",
            "Healthy",
            None,
        ),
    }
    assert recs[ChangeKind.CHANGED].detail == "Low severity; contoso-foundry-prod"
    assert recs[ChangeKind.ADDED].detail == "Low severity; contoso-foundry-new"
    alerts = {c.kind: c for c in of(drift, Target.ALERT)}
    assert {k: (c.before, c.after) for k, c in alerts.items()} == {
        ChangeKind.CHANGED: ("Active", "Resolved"),
        ChangeKind.REMOVED: ("Resolved", None),
        ChangeKind.ADDED: (None, "Active"),
    }
    assert (alerts[ChangeKind.CHANGED].target_id, alerts[ChangeKind.ADDED].target_id) == (
        active_high,
        new_alert,
    )
    assert alerts[ChangeKind.CHANGED].detail.startswith("High severity; contoso-foundry-dev; 2026-11-20 ")
    assert len(drift.changes) == 6 and not drift.loosened


def test_plans_purview_and_account_settings() -> None:
    def pricing(sub: str) -> str:
        return f"/subscriptions/{sub}/providers/Microsoft.Security/pricings/AI"

    def edit(t: Tenant) -> None:
        t.props(Kind.PRICING, pricing(SUB_PROD))["pricingTier"] = "Free"
        t.props(Kind.PRICING, pricing(SUB_SANDBOX)).update(
            pricingTier="Standard", extensions=[{"name": "AIPromptSharingWithPurview", "isEnabled": "True"}]
        )
        t.props(Kind.PRICING, pricing(SUB_DEV))["extensions"][0]["isEnabled"] = "False"  # prompt evidence
        t.props(Kind.DEFENDER_AI_SETTING, f"{PROD}/defenderForAISettings/Default")["state"] = "Disabled"
        t.props(Kind.DEFENDER_AI_SETTING, f"{DEV}/defenderForAISettings/Default")["state"] = "Unknown"

    drift = diff(edit)
    L, T, C, P = ChangeKind.LOOSENED, ChangeKind.TIGHTENED, ChangeKind.CHANGED, Target.PLAN
    prod, dev, sandbox = "Contoso AI Production", "Contoso AI Development", "Contoso Research Sandbox"
    assert rows(drift.changes) == {
        (L, P, prod, "Threat protection for AI", "Standard", "Free"),
        (L, P, prod, "Microsoft Purview", "On", "Off"),  # Purview and prompt evidence need the plan
        (L, P, prod, "Prompt evidence", "On", "Off"),
        (T, P, sandbox, "Threat protection for AI", "Free", "Standard"),
        (T, P, sandbox, "Microsoft Purview", "Off", "On"),
        (L, P, dev, "Prompt evidence", "On", "Off"),
        (L, P, "contoso-foundry-prod", "Defender for AI (account)", "Enabled", "Disabled"),
        (C, P, "contoso-foundry-dev", "Defender for AI (account)", "Enabled", "Unknown"),
    }
    assert {c.target_id for c in drift.changes if c.name == prod} == {pricing(SUB_PROD)}
    assert {c.target_id for c in drift.changes if c.name == "contoso-foundry-prod"} == {PROD}


# ------------------------------------------------------------------------------- all at once


def _everything(t: Tenant) -> None:
    t.content_filter(STRICT, "Hate", "Prompt")["severityThreshold"] = "High"
    t.content_filter(STANDARD, "Profanity", "Prompt")["blocking"] = True
    t.props(Kind.DEPLOYMENT, f"{DEV}/deployments/gpt-4o-mini")["raiPolicyName"] = "Dev-Hardened"
    t.remove(Kind.DEPLOYMENT, f"{OPENAI_DEV}/deployments/gpt-35-turbo")
    t.remove(Kind.RAI_POLICY, f"{OPENAI_PROD}/raiPolicies/Legacy-2023")
    t.remove(Kind.POLICY_ASSIGNMENT, POLICY_SANDBOX)
    t.parameters(POLICY_DEV)["effect"] = {"value": "Disabled"}
    t.props(Kind.PRICING, f"/subscriptions/{SUB_PROD}/providers/Microsoft.Security/pricings/AI")[
        "pricingTier"
    ] = "Free"
    (summary,) = t.states(f"{PROD}/deployments/gpt-4o", POLICY_FOUNDRY)
    summary["complianceState"] = "NonCompliant"


def test_everything_at_once_is_ordered_loosenings_first() -> None:
    drift = diff(_everything)
    ordered = drift.ordered()
    assert len(ordered) == len(drift.changes) and set(ordered) == set(drift.changes)
    keys = [(KIND_ORDER[c.kind], TARGET_ORDER[c.target], c.name.lower(), c.control or "") for c in ordered]
    assert keys == sorted(keys)
    assert ordered[0].kind is ChangeKind.LOOSENED and ordered[-1].kind is ChangeKind.TIGHTENED
    counts = drift.counts()
    assert list(counts) == ["added", "removed", "loosened", "tightened", "changed"]
    assert sum(counts.values()) == len(drift.changes)
    assert counts["loosened"] > 0 and counts["removed"] == 3 and counts["changed"] == 2  # reassignment, flip
    assert {c.target for c in drift.changes} == set(Target) - {Target.RECOMMENDATION, Target.ALERT}
    # Within the loosenings, deployments come before guardrails, policies and plans (Target order).
    loosened_targets = list(dict.fromkeys(c.target for c in ordered if c.kind is ChangeKind.LOOSENED))
    assert loosened_targets == [Target.DEPLOYMENT, Target.GUARDRAIL, Target.POLICY, Target.PLAN]


def test_change_json_shape_is_stable() -> None:
    drift = diff(_everything)
    flip = next(c for c in drift.changes if c.target is Target.COMPLIANCE)
    assert flip.to_json() == {
        "kind": "changed",
        "target": "compliance",
        "id": f"{PROD}/deployments/gpt-4o",
        "name": "contoso-foundry-prod/gpt-4o",
        "control": "Foundry production guardrail",
        "before": "Compliant",
        "after": "Violation detected",
        "detail": flip.detail,
        "subscriptionId": SUB_PROD,
        "relatedId": POLICY_FOUNDRY,
    }
    for change in drift.changes:
        assert list(change.to_json()) == [
            "kind",
            "target",
            "id",
            "name",
            "control",
            "before",
            "after",
            "detail",
            "subscriptionId",
            "relatedId",
        ]


# ------------------------------------------------------------------------------- scale


def test_guardrail_cells_are_compared_once_per_pair_not_per_deployment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    meta, records = generate(20, 0)
    newer = Tenant(records)
    for r in newer.records:  # loosen Contoso-Strict on every copy of the production account
        if r.kind == Kind.RAI_POLICY and r.body["name"] == "Contoso-Strict":
            for flt in r.body["properties"]["contentFilters"]:
                if (flt["name"], flt["source"]) == ("Hate", "Prompt"):
                    flt["severityThreshold"] = "High"
    calls: list[int] = []
    real = drift_module._effective_deltas

    def counting(old: Any, new: Any) -> Any:
        calls.append(1)
        return real(old, new)

    monkeypatch.setattr(drift_module, "_effective_deltas", counting)
    older_inv = Inventory.build(meta, records)
    drift = diff_inventories(older_inv, Inventory.build(meta, newer.records))
    loosened_deps = {c.target_id for c in drift.changes if c.target is Target.DEPLOYMENT}
    assert len(loosened_deps) == 20 * 4 and len(older_inv.deployments) == 800
    distinct = {older_inv.effective(d).fingerprint for d in older_inv.deployments}
    assert len(calls) <= 2 * len(distinct) < 100  # pairs of (older, newer) configurations, plus guardrails
