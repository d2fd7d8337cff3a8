"""The demo tenant generator (fcdesk.core.demo) and the shipped resources/demo.fcsnap."""

from __future__ import annotations

import ast
import json
import re
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fcdesk.core import demo
from fcdesk.core.demo import ALERT_DEPLOYMENT_KEY, generate
from fcdesk.core.guardrails import (
    COMPLETION,
    PROMPT,
    CellState,
    GuardrailOrigin,
    Mode,
    Severity,
)
from fcdesk.core.inventory import Inventory, PolicyStatus
from fcdesk.core.model import idkey
from fcdesk.core.normalize import POLICY_STATE_FIELDS, policy_state_key
from fcdesk.core.policy import CONTROL_PARAMS, INITIATIVE_ID, MODE_REFERENCE
from fcdesk.core.records import Kind, RawRecord, Source

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "resources" / "demo.fcsnap"
HARMS = ("Hate", "Sexual", "Violence", "Selfharm")
ARM_ID = re.compile(r"(/[^/\s]+)+")


def _dump(records: list[RawRecord]) -> list[tuple[str, str, str, str]]:
    return [(str(r.kind), r.id, r.scope, json.dumps(r.body, ensure_ascii=False)) for r in records]


@pytest.fixture(scope="module")
def demo1() -> tuple:
    return generate()


@pytest.fixture(scope="module")
def inv(demo1) -> Inventory:
    return Inventory.build(*demo1)


def _bodies(records: list[RawRecord], kind: Kind) -> list[dict]:
    return [r.body for r in records if r.kind == kind]


# ------------------------------------------------------------------------------ determinism, meta


def test_same_arguments_give_byte_identical_records() -> None:
    meta_a, recs_a = generate(2, 7)
    meta_b, recs_b = generate(2, 7)
    assert meta_a == meta_b
    assert _dump(recs_a) == _dump(recs_b)


def test_a_different_seed_gives_different_ids() -> None:
    meta_a, recs_a = generate()
    meta_b, recs_b = generate(seed=1)
    assert meta_a.scopes != meta_b.scopes
    assert {r.id for r in recs_a}.isdisjoint({r.id for r in recs_b if r.kind == Kind.DEPLOYMENT})
    # ... but the same tenant story.
    assert Counter(r.kind for r in recs_a) == Counter(r.kind for r in recs_b)


def test_meta(demo1) -> None:
    meta, records = demo1
    assert meta.captured_at == datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    assert meta.source is Source.DEMO
    assert meta.tenant_name == "Contoso AI (demo)"
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", meta.tenant_id)
    assert meta.cloud == "public"
    assert not meta.partial
    assert meta.errors == []
    subs = [b["subscriptionId"] for b in _bodies(records, Kind.SUBSCRIPTION)]
    assert meta.scopes == subs
    assert all(b["tenantId"] == meta.tenant_id for b in _bodies(records, Kind.SUBSCRIPTION))


def test_rejects_a_scale_below_one() -> None:
    with pytest.raises(ValueError, match="scale"):
        generate(0)


def test_core_purity_demo_imports_only_stdlib_and_fcdesk_core() -> None:
    tree = ast.parse(Path(demo.__file__).read_text(encoding="utf-8"))
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            modules.add(node.module or "")
    stdlib = sys.stdlib_module_names
    outside = {m for m in modules if not m.startswith("fcdesk.core") and m.split(".")[0] not in stdlib}
    assert outside == set(), outside
    upper = ("fcdesk.store", "fcdesk.models", "fcdesk.views", "fcdesk.azure")
    assert not any(m.startswith(upper) for m in modules)


# ------------------------------------------------------------------------------ records are sound


@pytest.mark.parametrize("scale", [1, 3])
def test_every_record_normalises_and_ids_are_unique_arm_ids(scale: int) -> None:
    meta, records = generate(scale)
    inv = Inventory.build(meta, records)
    assert inv.errors == []
    assert inv.record_count == len(records)
    keys = Counter((r.kind, idkey(r.id)) for r in records)
    assert [k for k, n in keys.items() if n > 1] == []
    for r in records:
        if r.kind == Kind.POLICY_STATE:
            assert r.id == policy_state_key(r.body)
        else:
            assert ARM_ID.fullmatch(r.id), r.id
            assert r.body["id"] == r.id
        assert isinstance(r.scope, str)


def test_scale_multiplies_everything() -> None:
    _, one = generate(1)
    _, three = generate(3)
    c1, c3 = Counter(r.kind for r in one), Counter(r.kind for r in three)
    assert c1[Kind.DEPLOYMENT] == 40
    for kind in (Kind.DEPLOYMENT, Kind.SUBSCRIPTION, Kind.RESOURCE_GROUP, Kind.ACCOUNT, Kind.PROJECT,
                 Kind.RAI_POLICY, Kind.POLICY_ASSIGNMENT, Kind.POLICY_STATE, Kind.ASSESSMENT, Kind.ALERT,
                 Kind.PRICING, Kind.DEFENDER_AI_SETTING):
        assert c3[kind] == 3 * c1[kind], kind
    # global catalogue records are not copied
    assert c3[Kind.ASSESSMENT_METADATA] == c1[Kind.ASSESSMENT_METADATA]
    assert c3[Kind.POLICY_SET_DEFINITION] == c1[Kind.POLICY_SET_DEFINITION] == 1


def test_copies_get_unique_names() -> None:
    _, records = generate(3)
    sub_names = [b["displayName"] for b in _bodies(records, Kind.SUBSCRIPTION)]
    acct_names = [b["name"] for b in _bodies(records, Kind.ACCOUNT)]
    pol_names = [b["properties"]["displayName"] for b in _bodies(records, Kind.POLICY_ASSIGNMENT)]
    for names in (sub_names, acct_names, pol_names):
        assert len(names) == len(set(names))
    assert "Contoso AI Production" in sub_names
    assert "Contoso AI Production 3" in sub_names
    assert "contoso-foundry-prod-2" in acct_names


# ---------------------------------------------------------------------------------------- inventory


def test_scale1_inventory_minimums(inv: Inventory) -> None:
    assert len(inv.subscriptions) >= 3
    assert len(inv.resource_groups) >= 6
    assert len(inv.accounts) >= 8
    kinds = Counter(a.kind for a in inv.accounts.values())
    assert kinds["AIServices"] >= 1
    assert kinds["OpenAI"] >= 1
    foundry = [a for a in inv.accounts.values() if a.kind == "AIServices"]
    assert all(a.is_foundry for a in foundry)
    for acct in foundry:
        projects = inv.projects_of(acct.id)
        assert 1 <= len(projects) <= 3
        assert all(p.display_name and p.description for p in projects)
    for acct in inv.accounts.values():
        if acct.kind == "OpenAI":
            assert inv.projects_of(acct.id) == []
    assert len(inv.deployments) >= 40
    assert any(a.rai_monitor_storage for a in inv.accounts.values())
    assert sum(1 for a in inv.accounts.values() if a.abuse_penalty is not None) == 1


def test_models_and_skus_are_realistic(inv: Inventory) -> None:
    models = {(d.model_name, d.model_version, d.model_format) for d in inv.deployments}
    for expected in [("gpt-4o", "2024-11-20", "OpenAI"), ("gpt-4o-mini", "2024-07-18", "OpenAI"),
                     ("gpt-4.1", "2025-04-14", "OpenAI"), ("o3-mini", "2025-01-31", "OpenAI"),
                     ("o4-mini", "2025-04-16", "OpenAI"), ("gpt-5", "2025-08-07", "OpenAI"),
                     ("text-embedding-3-large", "1", "OpenAI")]:
        assert expected in models
    formats = {d.model_format for d in inv.deployments}
    assert {"OpenAI", "DeepSeek", "Meta", "Microsoft", "Mistral AI"} <= formats
    skus = {d.sku_name for d in inv.deployments}
    assert {"GlobalStandard", "Standard", "DataZoneStandard", "ProvisionedManaged"} <= skus
    assert all(isinstance(d.sku_capacity, int) and d.sku_capacity > 0 for d in inv.deployments)
    # Deployments of OpenAI-kind accounts are OpenAI models.
    for d in inv.deployments:
        if inv.account_of(d).kind == "OpenAI":
            assert d.model_format == "OpenAI", d.id


SWITCHES = [
    ("Jailbreak", PROMPT), ("Indirect Attack", PROMPT), ("Indirect Attack Spotlighting", PROMPT),
    ("Profanity", PROMPT), ("Profanity", COMPLETION),
    ("Protected Material Text", COMPLETION), ("Protected Material Code", COMPLETION),
]
HARM_KEYS = [(h, s) for h in HARMS for s in (PROMPT, COMPLETION)]


def _strict(eff) -> bool:
    harms = all(eff.cell(k).threshold is Severity.LOW for k in HARM_KEYS)
    harms = harms and all(_cells(eff, HARM_KEYS, CellState.BLOCK))
    return harms and all(eff.cell(k).state is CellState.BLOCK for k in SWITCHES)


def _cells(eff, keys, state: CellState) -> list[bool]:
    return [eff.cell(k).state is state for k in keys]


def test_guardrails_of_every_kind(inv: Inventory) -> None:
    effs = [(d, inv.effective(d)) for d in inv.deployments]
    system = GuardrailOrigin.SYSTEM
    v2, v1 = "Microsoft.DefaultV2", "Microsoft.Default"
    kinds = {
        "strict": [d for d, e in effs if _strict(e)],
        "DefaultV2": [d for d, e in effs if e.origin is system and d.rai_policy_name == v2],
        "Default": [d for d, e in effs if e.origin is system and d.rai_policy_name == v1],
        "annotate only": [
            d for d, e in effs if all(_cells(e, HARM_KEYS + SWITCHES, CellState.ANNOTATE))
        ],
        "a filter off": [
            d for d, e in effs if e.has_any_filtering and any(_cells(e, HARM_KEYS, CellState.OFF))
        ],
        "shield off, harms on": [
            d for d, e in effs if all(_cells(e, [("Jailbreak", PROMPT)], CellState.OFF))
            and all(_cells(e, HARM_KEYS, CellState.BLOCK))
        ],
        "no guardrail": [d for d, e in effs if e.origin is GuardrailOrigin.ACCOUNT_DEFAULT],
        "streaming": [d for d, e in effs if e.mode is Mode.ASYNC and e.raw_mode == "Asynchronous_filter"],
    }
    assert [k for k, deps in kinds.items() if not deps] == []
    assert len(kinds["no guardrail"]) >= 3
    assert all(d.rai_policy_name is None for d in kinds["no guardrail"])
    assert all(e.origin is not GuardrailOrigin.MISSING for _, e in effs)
    assert any(g.blocklists for g in inv.guardrails.values())  # the strict guardrail has blocklists


def test_older_api_and_unknown_filter_guardrails(demo1, inv: Inventory) -> None:
    _, records = demo1
    older = [b for b in _bodies(records, Kind.RAI_POLICY) if b["properties"]["mode"] == "Deferred"]
    assert older
    filters = older[0]["properties"]["contentFilters"]
    assert all("allowedContentLevel" in f and "severityThreshold" not in f for f in filters)
    rail = inv.guardrails[idkey(older[0]["id"])]
    assert rail.mode is Mode.ASYNC
    assert rail.raw_mode == "Deferred"
    assert all(f.threshold is not None for f in rail.filters.values())
    unknown = [g for g in inv.guardrails.values() if g.other_filters()]
    assert [f.name for g in unknown for f in g.other_filters()] == ["Ungrounded Material"]
    assert any(d.rai_policy_name == unknown[0].name and idkey(d.account_id) == idkey(unknown[0].account_id)
               for d in inv.deployments)


def test_one_subscription_has_no_content_filtering(inv: Inventory) -> None:
    unfiltered = inv.unfiltered_subscriptions()
    assert [s.display_name for s in unfiltered] == ["Contoso Research Sandbox"]
    sub = unfiltered[0].subscription_id.lower()
    deps = [d for d in inv.deployments if d.subscription_id.lower() == sub]
    assert deps
    for d in deps:
        rail = inv.effective(d).guardrail
        assert rail is not None
        assert rail.filters
        assert all(f.enabled is False for f in rail.filters.values())
    # ... and the other subscriptions do filter.
    assert len(inv.subscriptions) - len(unfiltered) >= 2


def test_names_with_markup_for_plain_text_rendering(inv: Inventory) -> None:
    assert any("<" in p.display_name and "&" in p.display_name for p in inv.projects.values())
    assert any("<" in p.display_name and "&" in p.display_name for p in inv.policies)


# ------------------------------------------------------------------------------------------ policies


def test_guardrail_policies_and_statuses(demo1, inv: Inventory) -> None:
    _, records = demo1
    assert len(inv.policies) >= 4
    assert inv.other_assignments >= 1
    assignments = _bodies(records, Kind.POLICY_ASSIGNMENT)
    other = [b for b in assignments if b["properties"]["policyDefinitionId"] != INITIATIVE_ID]
    assert other
    assert {idkey(b["id"]) for b in other}.isdisjoint({idkey(p.id) for p in inv.policies})
    rows = {r.policy.name: r for r in inv.policy_rows()}
    statuses = Counter(r.status for r in rows.values())
    assert statuses[PolicyStatus.COMPLIANT] >= 1
    assert statuses[PolicyStatus.VIOLATIONS] >= 1
    assert statuses[PolicyStatus.PENDING] >= 1
    for row in rows.values():
        assert row.policy.enforcement_mode == "Default"
        assert row.policy.scope in (f"/subscriptions/{row.policy.subscription_id}",
                                    f"/subscriptions/{row.policy.subscription_id}/resourceGroups/{row.policy.resource_group}")
        assert row.policy.display_name
        assert row.policy.description
        assert "assignedBy" in row.policy.metadata
        assert row.total > 0
        if row.status is PolicyStatus.COMPLIANT:
            assert all(a.azure is not None and a.azure.compliant and a.local.passed for a in row.assets)
        if row.status is PolicyStatus.PENDING:
            assert not inv.has_states(row.policy)
            assert all(a.azure is None for a in row.assets)
            assert any(not a.local.passed for a in row.assets)  # what-if has something to show
        if row.status is PolicyStatus.VIOLATIONS:
            assert row.violating > 0
    assert any(r.policy.resource_group for r in rows.values())
    assert any(r.policy.resource_group is None for r in rows.values())
    assert any(r.policy.created_by_fcdesk for r in rows.values())
    assert any(not r.policy.created_by_fcdesk for r in rows.values())
    excepting = [r for r in rows.values() if r.policy.not_scopes]
    assert excepting
    ns = excepting[0].policy.not_scopes
    assert any("/deployments/" in s for s in ns)
    assert any(s.lower().count("/") == 4 for s in ns)
    assert excepting[0].excepted
    assert excepting[0].status is not PolicyStatus.PENDING


def test_unchosen_controls_are_permissive(inv: Inventory) -> None:
    for pol in inv.policies:
        mins = {r.key for r in pol.minimum_controls}
        assert mins
        assert len(mins) < len(CONTROL_PARAMS)
        assert all(r.permissive for k, r in pol.requirements.items() if k not in mins)
        assert pol.mode_requirement.permissive
        assert pol.effect == "Audit"
        assert not pol.disabled


def test_states_match_local_evaluation_except_one_stale(demo1, inv: Inventory) -> None:
    _, records = demo1
    states = _bodies(records, Kind.POLICY_STATE)
    assert states
    for body in states:
        assert set(body) == set(POLICY_STATE_FIELDS)
        assert body["policySetDefinitionId"] == INITIATIVE_ID
        assert "/providers/Microsoft.CognitiveServices/accounts/" in body["resourceId"]
        assert body["complianceState"] in ("Compliant", "NonCompliant")
        ts = datetime.fromisoformat(body["timestamp"].replace("Z", "+00:00")[:19]).replace(tzinfo=UTC)
        assert ts < inv.meta.captured_at
        if body["policyDefinitionReferenceId"]:
            assert body["complianceState"] == "NonCompliant"
            assert body["policyDefinitionId"]
    known_refs = {p.reference_id for p in CONTROL_PARAMS.values()} | {MODE_REFERENCE}
    assert {b["policyDefinitionReferenceId"] for b in states} - {""} <= known_refs
    rows = inv.asset_rows()
    evaluated = [a for a in rows if a.azure is not None]
    assert len({(idkey(b["resourceId"]), idkey(b["policyAssignmentId"])) for b in states}) == len(evaluated)
    disagreeing = [a for a in rows if a.disagrees]
    assert len(disagreeing) == 1
    stale = disagreeing[0]
    assert stale.local.passed
    assert not stale.azure.compliant
    assert stale.azure.as_of < max(a.azure.as_of for a in evaluated)
    for a in evaluated:
        if a is stale:
            continue
        assert a.azure.compliant == a.local.passed
        assert a.azure.failed_references - {""} == a.local.failed_references
    assert any(a.local.passed for a in evaluated)
    assert any(not a.local.passed for a in evaluated)


# ------------------------------------------------------------------------------------------ security


def test_recommendations(demo1, inv: Inventory) -> None:
    _, records = demo1
    ai = inv.scoped_recommendations()
    assert {r.severity for r in ai if r.status == "Unhealthy"} >= {"High", "Medium", "Low"}
    assert {r.status for r in ai} >= {"Healthy", "Unhealthy", "NotApplicable"}
    assert all(idkey(r.resource_id) in inv.accounts for r in ai)
    assert all(r.display_name and r.description for r in ai)
    assert any(r.portal_link for r in ai)
    assert any(not r.portal_link for r in ai)
    names = {r.display_name for r in ai}
    assert "Azure AI Services resources should restrict network access" in names
    non_ai = [r for r in inv.recommendations if not r.on_ai_resource]
    assert 1 <= len(non_ai) <= 2
    assert len(inv.scoped_recommendations(ai_only=False)) == len(ai) + len(non_ai)
    assert len(_bodies(records, Kind.ASSESSMENT_METADATA)) == len({r.name for r in inv.recommendations})


def test_alerts(inv: Inventory) -> None:
    alerts = inv.alerts
    types = {a.alert_type for a in alerts}
    assert {
        "AI.Azure_Jailbreak.ContentFiltering.BlockedAttempt",
        "AI.Azure_Jailbreak.ContentFiltering.DetectedAttempt",
        "AI.Azure_CredentialTheftAttempt",
        "AI.Azure_DataLeakage.ModelResponse.CreditCard",
    } <= types
    assert {a.severity for a in alerts} >= {"High", "Medium", "Low"}
    assert {a.status for a in alerts} >= {"Active", "Resolved"}
    assert any(a.is_prompt_attack for a in alerts)
    deps = {(idkey(d.account_id), d.name): d for d in inv.deployments}
    for a in alerts:
        assert a.on_ai_resource
        assert len(a.resource_ids) == 1
        assert idkey(a.resource_ids[0]) in inv.accounts
        dep = deps[(idkey(a.resource_ids[0]), a.extended_properties[ALERT_DEPLOYMENT_KEY])]
        # Defender for AI only alerts where the plan is on.
        assert inv.plans[dep.subscription_id.lower()].enabled
        jailbreak = inv.effective(dep).cell(("Jailbreak", PROMPT)).state
        if a.alert_type.endswith("DetectedAttempt"):
            assert jailbreak is CellState.OFF, dep.id
        if a.alert_type.endswith("BlockedAttempt"):
            assert jailbreak is CellState.BLOCK, dep.id


def test_plans_and_defender_settings(demo1, inv: Inventory) -> None:
    _, records = demo1
    plans = list(inv.plans.values())
    assert len(plans) == len(inv.subscriptions)
    assert {p.tier for p in plans} == {"Free", "Standard"}
    assert sum(p.purview for p in plans) == 1
    assert any(p.enabled and not p.purview for p in plans)
    for body in _bodies(records, Kind.PRICING):
        assert body["id"].endswith("/providers/Microsoft.Security/pricings/AI")
        for ext in body["properties"].get("extensions", []):
            assert ext["isEnabled"] in ("True", "False")  # strings on the wire
    assert set(inv.ai_settings) == set(inv.accounts)
    assert {s.state for s in inv.ai_settings.values()} == {"Enabled", "Disabled"}


# ------------------------------------------------------------------------------------------- scale


def test_scale_250_is_fast() -> None:
    started = time.perf_counter()
    _, records = generate(250)
    elapsed = time.perf_counter() - started
    assert sum(1 for r in records if r.kind == Kind.DEPLOYMENT) == 10_000
    assert elapsed < 10, f"generate(250) took {elapsed:.1f} s"


# ------------------------------------------------------------------------------------ shipped file


def test_shipped_demo_snapshot_matches_the_generator() -> None:
    snapshot_mod = pytest.importorskip("fcdesk.store.snapshot")
    assert SHIPPED.is_file(), "resources/demo.fcsnap is missing: write_snapshot(path, *generate())"
    shipped = snapshot_mod.read_snapshot(SHIPPED)
    meta, records = generate(demo.DEMO_SCALE, demo.DEMO_SEED)
    for field in ("captured_at", "source", "tenant_id", "tenant_name", "cloud", "scopes", "partial", "label",
                  "errors"):
        assert getattr(shipped.meta, field) == getattr(meta, field), field
    assert shipped.meta.schema_version >= 1
    assert [(r.kind, r.id, r.scope) for r in shipped.records] == [(r.kind, r.id, r.scope) for r in records]
    assert [r.body for r in shipped.records] == [r.body for r in records]
