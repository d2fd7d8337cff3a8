"""The normaliser accepts every published payload unchanged, both api-version spellings, unknown values."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fcdesk.core import normalize as nz
from fcdesk.core.guardrails import CellState, Mode, Severity
from fcdesk.core.inventory import Inventory
from fcdesk.core.model import ComplianceState
from fcdesk.core.records import Kind, RawRecord, SnapshotMeta

EXAMPLES = Path(__file__).parent / "fixtures" / "azure-examples"


def body(rel: str, status: str | None = None) -> dict:
    doc = json.loads((EXAMPLES / rel).read_text(encoding="utf-8"))
    responses = doc["responses"]
    return responses[status]["body"] if status else next(r["body"] for r in responses.values() if "body" in r)


def items(rel: str) -> list[dict]:
    return body(rel)["value"]


def test_accounts_list_and_get() -> None:
    accts = [nz.account(a) for a in items("cognitiveservices/ListAccountsBySubscription.json")]
    assert [a.kind for a in accts][:3] == ["Bing.Search", "CRIS", "Face"]
    assert all(a.subscription_id == "00000000-1111-2222-3333-444444444444" for a in accts)
    one = nz.account(body("cognitiveservices/GetAccount.json"))
    assert (one.name, one.resource_group, one.location, one.sku) == ("myAccount", "myResourceGroup", "westus", "F0")
    assert one.abuse_penalty is None and not one.is_foundry


def test_projects_and_deployments() -> None:
    projects = [nz.project(p) for p in items("cognitiveservices/ListProjects.json")]
    assert [p.label for p in projects] == ["myProject1", "myProject2"]
    assert projects[0].account_id.endswith("/accounts/myAccount") and projects[0].is_default
    assert nz.project(body("cognitiveservices/GetProject.json")).name
    for rel in ("cognitiveservices/ListDeployments.json",):
        (dep,) = [nz.deployment(d) for d in items(rel)]
        assert (dep.model_name, dep.model_version, dep.model_format) == ("ada", "1", "OpenAI")
        assert dep.sku_capacity == 1 and dep.rai_policy_name is None
        assert dep.account_name == "accountName"
    for rel in ("cognitiveservices/GetDeployment.json", "cognitiveservices/PutDeployment.json", "cognitiveservices/UpdateDeployment.json"):
        assert nz.deployment(body(rel)).name == "deploymentName"


@pytest.mark.parametrize(
    "rel",
    [
        "cognitiveservices/GetRaiPolicy.json",
        "cognitiveservices/PutRaiPolicy.json",
        "cognitiveservices/GetSubscriptionRaiPolicy.json",
    ],
)
def test_rai_policy_examples(rel: str) -> None:
    rail = nz.rai_policy(body(rel))
    assert rail.base_policy_name == "Microsoft.Default"
    assert rail.mode is Mode.ASYNC
    hate_prompt = rail.filters[("Hate", "Prompt")]
    assert (hate_prompt.enabled, hate_prompt.blocking, hate_prompt.threshold) == (False, False, Severity.HIGH)
    assert rail.filters[("Jailbreak", "Prompt")].threshold is None
    assert ("Protected Material Code", "Completion") in rail.filters


def test_list_rai_policies_and_filter_catalogue() -> None:
    (rail,) = [nz.rai_policy(p) for p in items("cognitiveservices/ListRaiPolicies.json")]
    assert len(rail.filters) == 12
    names = {f["name"] for f in items("cognitiveservices/ListRaiContentFilters.json")}
    # The catalogue endpoint spells names without spaces: they map onto the REST filter names.
    from fcdesk.core.guardrails import CONTROL_BY_KEY, canonical_filter_name

    known = {k[0] for k in CONTROL_BY_KEY}
    assert {canonical_filter_name(n) for n in names} <= known


def test_older_api_spelling_and_deferred_mode() -> None:
    raw = copy.deepcopy(items("cognitiveservices/ListRaiPolicies.json")[0])
    raw["properties"]["mode"] = "Deferred"
    for f in raw["properties"]["contentFilters"]:
        if "severityThreshold" in f:
            f["allowedContentLevel"] = f.pop("severityThreshold")
    rail = nz.rai_policy(raw)
    assert rail.mode is Mode.ASYNC and rail.raw_mode == "Deferred"
    assert rail.filters[("Violence", "Completion")].threshold is Severity.MEDIUM


def test_unknown_names_and_values_are_kept() -> None:
    raw = copy.deepcopy(items("cognitiveservices/ListRaiPolicies.json")[0])
    raw["properties"]["mode"] = "Turbo"
    raw["properties"]["contentFilters"].append(
        {"name": "Ungrounded Material", "source": "Completion", "enabled": True, "blocking": True, "severityThreshold": "Low"}
    )
    raw["properties"]["contentFilters"][1]["severityThreshold"] = "VeryHigh"
    rail = nz.rai_policy(raw)
    assert rail.mode is Mode.UNKNOWN and rail.raw_mode == "Turbo"
    assert [f.name for f in rail.other_filters()] == ["Ungrounded Material"]
    odd = rail.filters[("Hate", "Completion")]
    assert odd.threshold is None and odd.raw_threshold == "VeryHigh"
    inv = Inventory.build(
        SnapshotMeta(datetime(2026, 1, 1, tzinfo=UTC)),
        [
            RawRecord(Kind.RAI_POLICY, raw["id"], raw),
            RawRecord(
                Kind.DEPLOYMENT,
                "d",
                {"id": raw["id"].rsplit("/raiPolicies/", 1)[0] + "/deployments/d", "name": "d", "properties": {"raiPolicyName": raw["name"]}},
            ),
        ],
    )
    eff = inv.effective(inv.deployments[0])
    assert eff.cell(("Hate", "Completion")).text == "Blocks ≥ VeryHigh (unknown level)"
    assert eff.mode_label == "Turbo (unknown)"


def test_missing_optional_fields() -> None:
    dep = nz.deployment({"id": "/subscriptions/s/resourceGroups/r/providers/Microsoft.CognitiveServices/accounts/a/deployments/d"})
    assert dep.name == "d" and dep.model_label == "(unknown model)" and dep.sku_capacity is None
    rail = nz.rai_policy({"id": "/subscriptions/s/resourceGroups/r/providers/Microsoft.CognitiveServices/accounts/a/raiPolicies/p"})
    assert rail.filters == {} and rail.mode is None


@pytest.mark.parametrize(
    "bad",
    [[], "text", {"name": "no id"}, {"id": "x", "properties": []}, {"id": "/s", "properties": {"contentFilters": "nope"}}],
)
def test_malformed_payload_messages(bad: object) -> None:
    with pytest.raises(nz.MalformedPayload) as err:
        nz.rai_policy(bad)
    assert str(err.value)


def test_malformed_record_is_an_error_on_its_scope_only() -> None:
    good = items("cognitiveservices/ListDeployments.json")[0]
    inv = Inventory.build(
        SnapshotMeta(datetime(2026, 1, 1, tzinfo=UTC)),
        [RawRecord(Kind.DEPLOYMENT, "bad", {"properties": 3}, scope="/subscriptions/s/acct"), RawRecord(Kind.DEPLOYMENT, good["id"], good)],
    )
    assert len(inv.deployments) == 1
    assert len(inv.errors) == 1 and inv.errors[0].scope == "/subscriptions/s/acct"
    assert "Malformed deployment payload" in inv.errors[0].message


def test_policy_examples() -> None:
    assignment = body("policy/createPolicyAssignment.json", "201")
    assert not nz.is_guardrail_assignment(assignment)
    pol = nz.guardrail_policy(assignment)  # parses even though it is not a guardrail policy
    assert pol.scope == "/subscriptions/ae640e6b-ba3e-4256-9d62-2993eecfa6f2" and pol.resource_group is None
    states = [nz.policy_state(s) for s in items("policyinsights/PolicyStates_QueryResourceGroupLevelPolicyAssignmentScope.json")]
    assert [s.state for s in states] == [ComplianceState.NON_COMPLIANT, ComplianceState.COMPLIANT]
    assert states[0].timestamp == datetime(2019, 10, 13, 0, 38, 50, tzinfo=UTC)
    comps = items("policyinsights/PolicyStates_QueryResourceScopeExpandComponents.json")
    assert nz.policy_state(comps[0]).resource_id


def test_security_examples() -> None:
    meta = body("security/GetAssessmentsMetadata_example.json")
    recs = [nz.assessment(a, {meta["name"].lower(): meta}) for a in items("security/ListAssessments_example.json")]
    assert [r.status for r in recs] == ["Healthy", "NotApplicable"]
    assert recs[0].severity == "Medium" and recs[0].category == "Compute"
    assert not recs[0].on_ai_resource
    expanded = nz.assessment(body("security/GetAssessmentWithExpand_example.json"))
    assert expanded.status and expanded.resource_id
    alerts = [nz.alert(a) for a in items("security/GetAlertsSubscription_example.json")]
    assert alerts[0].severity == "High" and alerts[0].resource_ids[0].endswith("/virtualMachines/vm1")
    assert alerts[0].time == datetime(2020, 2, 22, tzinfo=UTC)
    plan = nz.pricing(body("security/GetPricingByNameCloudPosture_example.json"))
    assert plan.enabled and plan.extensions["AgentlessVmScanning"] is True
    assert nz.pricing(body("security/PutPricingByName_example.json")).tier == "Standard"
    settings = [nz.defender_ai_setting(s) for s in items("cognitiveservices/ListDefenderForAISetting.json")]
    assert settings[0].state == "Enabled" and settings[0].account_id.endswith("/accounts/accountName")
    assert nz.defender_ai_setting(body("cognitiveservices/GetDefenderForAISetting.json")).state
    assert nz.defender_ai_setting(body("cognitiveservices/UpdateDefenderForAISetting.json")).state


def test_inventory_examples() -> None:
    sub = nz.subscription(body("resources/GetSubscription.json"))
    assert (sub.display_name, sub.tenant_id) == ("Example Subscription", "31c75423-32d6-4322-88b7-c478bdde4858")
    rg = nz.resource_group(body("resources/CreateResourceGroup.json", "200"))
    assert rg.name and rg.subscription_id


def test_every_example_json_parses_through_some_normaliser() -> None:
    """No published payload is left untested: each file is read by the normaliser for its kind."""
    routes = {
        "ListAccountsBySubscription": nz.account, "GetAccount": nz.account,
        "ListProjects": nz.project, "GetProject": nz.project,
        "ListDeployments": nz.deployment, "GetDeployment": nz.deployment, "PutDeployment": nz.deployment,
        "UpdateDeployment": nz.deployment,
        "ListRaiPolicies": nz.rai_policy, "GetRaiPolicy": nz.rai_policy, "PutRaiPolicy": nz.rai_policy,
        "GetSubscriptionRaiPolicy": nz.rai_policy,
        "GetDefenderForAISetting": nz.defender_ai_setting, "ListDefenderForAISetting": nz.defender_ai_setting,
        "UpdateDefenderForAISetting": nz.defender_ai_setting,
        "createPolicyAssignment": nz.guardrail_policy,
        "PolicyStates_QueryResourceGroupLevelPolicyAssignmentScope": nz.policy_state,
        "PolicyStates_QueryResourceScopeExpandComponents": nz.policy_state,
        "ListAssessments_example": nz.assessment, "GetAssessmentWithExpand_example": nz.assessment,
        "GetAlertsSubscription_example": nz.alert,
        "GetPricingByNameCloudPosture_example": nz.pricing, "PutPricingByName_example": nz.pricing,
        "GetSubscription": nz.subscription, "CreateResourceGroup": nz.resource_group,
    }
    parsed = 0
    for path in sorted(EXAMPLES.rglob("*.json")):
        fn = routes.get(path.stem)
        if fn is None:
            continue
        doc = json.loads(path.read_text(encoding="utf-8"))
        for resp in doc["responses"].values():
            payload = resp.get("body")
            if payload is None:
                continue
            for obj in payload.get("value", [payload]) if isinstance(payload, dict) else []:
                fn(obj)
                parsed += 1
    assert parsed >= 30


def test_effective_guardrail_states_stay_distinct() -> None:
    (raw,) = items("cognitiveservices/ListRaiPolicies.json")
    dep = {"id": raw["id"].rsplit("/raiPolicies/", 1)[0] + "/deployments/d", "name": "d", "properties": {"raiPolicyName": raw["name"]}}
    inv = Inventory.build(SnapshotMeta(datetime(2026, 1, 1, tzinfo=UTC)), [RawRecord(Kind.RAI_POLICY, raw["id"], raw), RawRecord(Kind.DEPLOYMENT, dep["id"], dep)])
    eff = inv.effective(inv.deployments[0])
    assert eff.cell(("Hate", "Prompt")).state is CellState.OFF
    assert eff.cell(("Hate", "Completion")).text == "Blocks ≥ Medium"
    assert eff.cell(("Sexual", "Prompt")).text == "Blocks ≥ High"
    assert eff.cell(("Jailbreak", "Prompt")).text == "Blocks"
    # Not in the policy and not in its base (Microsoft.Default): not set, not "off".
    assert eff.cell(("Indirect Attack", "Prompt")).state is CellState.NOT_SET
    # Explicit wins over the base; the base supplies nothing else here.
    assert not eff.cell(("Hate", "Completion")).inherited


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2020-02-22T00:00:00.0000000Z", datetime(2020, 2, 22, tzinfo=UTC)),
        ("2020-02-22T00:00:00.1234567+00:00", datetime(2020, 2, 22, 0, 0, 0, 123456, tzinfo=UTC)),
        ("2020-02-22T02:00:00.5+02:00", datetime(2020, 2, 22, 0, 0, 0, 500000, tzinfo=UTC)),
        ("2019-10-13T00:38:50Z", datetime(2019, 10, 13, 0, 38, 50, tzinfo=UTC)),
        ("2019-10-13T00:38:50", datetime(2019, 10, 13, 0, 38, 50, tzinfo=UTC)),
        ("not a time", None),
        ("", None),
    ],
)
def test_parse_time_arm_formats(text: str, expected: datetime | None) -> None:
    assert nz.parse_time(text) == expected
