"""The ARM emulator's writes (tests/arm_emulator/writes.py): policy assignments, guardrails (RAI
policies), deployments as ARM long-running operations, RBAC, and Azure Policy's evaluation of the
guardrail initiative by the emulator's own rule interpreter (policy_engine.py).

Requests go through plain aiohttp, and through the real SDK clients wherever one exists, to show that
the emulator's answers (status codes, LRO headers, error bodies) are what those clients expect.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import threading
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson
import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.cognitiveservices.aio import CognitiveServicesManagementClient
from azure.mgmt.cognitiveservices.models import (
    Deployment,
    DeploymentModel,
    DeploymentProperties,
    PatchResourceTagsAndSku,
    RaiPolicy,
    RaiPolicyContentFilter,
    RaiPolicyProperties,
    Sku,
)
from azure.mgmt.policyinsights.aio import PolicyInsightsClient
from azure.mgmt.policyinsights.models import QueryOptions
from azure.mgmt.resource.policy.aio import PolicyClient

from fcdesk.core.records import Kind, RawRecord
from tests.arm_emulator import (
    ArmEmulator,
    EmulatorCredential,
    Faults,
    RequestLog,
    Rule,
    Scenario,
    run_async,
    sdk_kwargs,
)
from tests.arm_emulator import policy_engine as engine
from tests.arm_emulator.roles import ROLES, matches
from tests.arm_emulator.scenario import idkey, stable_etag
from tests.arm_emulator.wire import object_id

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "tests" / "fixtures" / "azure-examples"
INITIATIVE = engine.INITIATIVE_ID
ASSIGNMENTS = "providers/Microsoft.Authorization/policyAssignments"
TRIGGER = "providers/Microsoft.PolicyInsights/policyStates/latest/triggerEvaluation"
API_POLICY, API_CS, API_INSIGHTS = "2023-04-01", "2025-09-01", "2019-10-01"


def ref(name: str) -> str:
    return f"CognitiveServices Content Filter Control on {name} for Model Deployments"


HATE, JAILBREAK, XPIA, SPOTLIGHTING = ref("Hate"), ref("Jailbreak"), ref("XPIA"), ref("Spotlighting")
PROFANITY = {ref("Profanity") + " - Prompt", ref("Profanity") + " - Completion"}
#: What Microsoft.DefaultV2 fails under the initiative's defaults: the filters it does not have.
DEFAULTV2_GAPS = {XPIA, SPOTLIGHTING, *PROFANITY}


# ------------------------------------------------------------------------------------ fixtures



async def call(
    emulator: ArmEmulator,
    method: str,
    path: str,
    body: Any = None,
    *,
    principal: str = "tester",
    token: str | None = None,
) -> tuple[int, dict[str, str], Any]:
    """One request with aiohttp (path relative to the emulator, or absolute); the JSON answer."""
    headers = {"Authorization": "Bearer " + (token or emulator.mint_token(principal=principal))}
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else orjson.dumps(body)
        headers["Content-Type"] = "application/json"
    url = path if path.startswith("https://") else emulator.url + path.lstrip("/")
    ctx = ssl.create_default_context(cafile=emulator.ca_file)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx)) as session:
        async with session.request(method, url, headers=headers, data=data) as resp:
            raw = await resp.read()
            return resp.status, dict(resp.headers), orjson.loads(raw) if raw else None


def request(emulator: ArmEmulator, method: str, path: str, body: Any = None, **kwargs: Any):
    return run_async(call(emulator, method, path, body, **kwargs))


async def query_states(emulator: ArmEmulator, scope: str, flt: str | None = None) -> list[dict[str, Any]]:
    """Every policy state under ``scope`` (following ``@odata.nextLink``)."""
    url: str | None = (
        f"{scope}/providers/Microsoft.PolicyInsights/policyStates/latest/queryResults"
        f"?api-version={API_INSIGHTS}" + (f"&$filter={quote(flt)}" if flt else "")
    )
    out: list[dict[str, Any]] = []
    while url:
        status, _, page = await call(emulator, "POST", url)
        assert status == 200, page
        out += page["value"]
        url = page.get("@odata.nextLink")
    return out


def verdicts(states: list[dict[str, Any]], assignment_id: str) -> dict[str, tuple[str, set[str]]]:
    """Per resource key: (the summary's complianceState, the failing references) for one assignment."""
    out: dict[str, tuple[str, set[str]]] = {}
    for s in states:
        if idkey(s["policyAssignmentId"]) != idkey(assignment_id):
            continue
        key = idkey(s["resourceId"])
        summary, failed = out.get(key, ("", set()))
        if not s["policyDefinitionReferenceId"]:
            summary = s["complianceState"]
        elif s["complianceState"] == "NonCompliant":
            failed = failed | {s["policyDefinitionReferenceId"]}
        out[key] = (summary, failed)
    return out


def deployments_in(scenario: Scenario, scope: str) -> list[RawRecord]:
    prefix = idkey(scope) + "/"
    return [r for r in scenario.of_kind(Kind.DEPLOYMENT) if idkey(r.id).startswith(prefix)]


def account_of(arm_id: str) -> str:
    return arm_id.split("/deployments/")[0].split("/raiPolicies/")[0]


def split_account(acct_id: str) -> tuple[str, str, str]:
    parts = acct_id.split("/")
    return parts[2], parts[4], parts[-1]


def initiative_assignment(scope: str, name: str, **params: list[str]) -> tuple[str, dict[str, Any]]:
    """(path, body) of a guardrail policy: the initiative with ``params`` (the rest: defaults)."""
    body = {
        "properties": {
            "displayName": name,
            "policyDefinitionId": INITIATIVE,
            "parameters": {k: {"value": v} for k, v in params.items()},
        }
    }
    return f"{scope}/{ASSIGNMENTS}/{name}?api-version={API_POLICY}", body


def example(name: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / name).read_text(encoding="utf-8"))


# ------------------------------------------------------------------------------------ published requests


def test_published_write_examples_are_accepted_unchanged() -> None:
    scenario = Scenario.from_examples(EXAMPLES)
    with ArmEmulator(scenario) as emu:
        # Policy assignment: the request body as published; the answer is the published 201 body
        # plus what Azure adds (the system metadata and systemData).
        ex = example("policy/createPolicyAssignment.json")
        params = ex["parameters"]
        path = f"/{params['scope']}/{ASSIGNMENTS}/{params['policyAssignmentName']}"
        status, _, got = request(
            emu, "PUT", f"{path}?api-version={params['api-version']}", params["parameters"]
        )
        want = ex["responses"]["201"]["body"]
        assert status == 201
        assert {k: v for k, v in got.items() if k != "systemData"} == {
            **want,
            "properties": {**want["properties"], "metadata": got["properties"]["metadata"]},
        }
        meta = got["properties"]["metadata"]
        assert meta["assignedBy"] == "Special Someone" and meta["createdBy"] == object_id("tester")
        # The examples already serve that assignment (its 201 body): this PUT updates it.
        assert meta["createdOn"].endswith("Z") and meta["updatedBy"] == object_id("tester")
        assert emu.resource(want["id"]) == got

        # RAI policy: an update of the published GetRaiPolicy (same id), so 200.
        ex = example("cognitiveservices/PutRaiPolicy.json")
        p = ex["parameters"]
        acct = (
            f"/subscriptions/{p['subscriptionId']}/resourceGroups/{p['resourceGroupName']}"
            f"/providers/Microsoft.CognitiveServices/accounts/{p['accountName']}"
        )
        status, _, got = request(
            emu,
            "PUT",
            f"{acct}/raiPolicies/{p['raiPolicyName']}?api-version={p['api-version']}",
            p["raiPolicy"],
        )
        want = ex["responses"]["200"]["body"]
        assert status == 200
        assert (got["id"], got["name"], got["type"]) == (
            want["id"],
            want["name"],
            "Microsoft.CognitiveServices/accounts/raiPolicies",
        )
        assert got["properties"] == {**want["properties"], "type": "UserManaged"}
        assert got["etag"].startswith('"') and got["etag"] != stable_etag(want["id"])

        # Deployment: PutDeployment's account already lists that deployment, so 200 (an update).
        ex = example("cognitiveservices/PutDeployment.json")
        p = ex["parameters"]
        acct = (
            f"/subscriptions/{p['subscriptionId']}/resourceGroups/{p['resourceGroupName']}"
            f"/providers/Microsoft.CognitiveServices/accounts/{p['accountName']}"
        )
        dep_path = f"{acct}/deployments/{p['deploymentName']}?api-version={p['api-version']}"
        status, headers, got = request(emu, "PUT", dep_path, p["deployment"])
        want = ex["responses"]["200"]["body"]
        assert status == 200 and headers["Retry-After"] == "0"
        assert f"api-version={p['api-version']}" in headers["Azure-AsyncOperation"]
        assert (got["id"], got["sku"], got["properties"]["model"]) == (
            want["id"],
            want["sku"],
            want["properties"]["model"],
        )
        assert got["properties"]["provisioningState"] == "Updating"

        # UpdateDeployment (PATCH) names a deployment of an account that has none yet: create it first.
        ex = example("cognitiveservices/UpdateDeployment.json")
        p = ex["parameters"]
        acct = (
            f"/subscriptions/{p['subscriptionId']}/resourceGroups/{p['resourceGroupName']}"
            f"/providers/Microsoft.CognitiveServices/accounts/{p['accountName']}"
        )
        dep_path = f"{acct}/deployments/{p['deploymentName']}?api-version={p['api-version']}"
        put_body = example("cognitiveservices/PutDeployment.json")["parameters"]["deployment"]
        assert request(emu, "PATCH", dep_path, p["deployment"])[0] == 404
        assert request(emu, "PUT", dep_path, put_body)[0] == 201
        status, _, got = request(emu, "PATCH", dep_path, p["deployment"])
        want = ex["responses"]["200"]["body"]
        assert status == 200
        assert (got["id"], got["sku"], got["properties"]) == (want["id"], want["sku"], want["properties"])

        # Policy evaluation, subscription and resource group (whose group must exist: create it).
        p = example("policyinsights/PolicyStates_TriggerSubscriptionEvaluation.json")["parameters"]
        path = f"/subscriptions/{p['subscriptionId']}/{TRIGGER}?api-version={p['api-version']}"
        status, headers, _ = request(emu, "POST", path)
        assert (
            status == 202
            and "/providers/Microsoft.PolicyInsights/asyncOperationResults/" in headers["Location"]
        )
        p = example("policyinsights/PolicyStates_TriggerResourceGroupEvaluation.json")["parameters"]
        rg = f"/subscriptions/{p['subscriptionId']}/resourceGroups/{p['resourceGroupName']}"
        path = f"{rg}/{TRIGGER}?api-version={p['api-version']}"
        assert request(emu, "POST", path)[0] == 404  # ResourceGroupNotFound
        emu.put_resource(
            {"id": rg, "name": p["resourceGroupName"], "type": "Microsoft.Resources/resourceGroups"}
        )
        status, headers, _ = request(emu, "POST", path)
        assert status == 202 and headers["Location"].startswith(emu.url)
        assert request(emu, "GET", headers["Location"])[0] == 202  # lro_polls = 1
        assert request(emu, "GET", headers["Location"])[0] == 200
    # The request log keeps exactly what was sent.
    puts = [r for r in emu.requests if r.method == "PUT"]
    assert puts[0].body == example("policy/createPolicyAssignment.json")["parameters"]["parameters"]


# ------------------------------------------------------------------------------------ policy assignments


def test_assignment_create_update_delete_through_the_sdk_and_the_lists(
    emu: ArmEmulator, scenario: Scenario
) -> None:
    sub = scenario.subscription_ids()[0]
    scope = f"/subscriptions/{sub}"
    rg = next(r.id for r in scenario.of_kind(Kind.RESOURCE_GROUP) if sub in r.id)
    params = {"allowedHateSeveritiesForPrompt": {"value": ["Low"]}, "effect": {"value": "Audit"}}
    sent = {
        "properties": {
            "displayName": "fcdesk: strict hate",
            "policyDefinitionId": INITIATIVE,
            "parameters": params,
            "metadata": {"createdBy": "fcdesk", "assignedBy": "Tester"},
        }
    }
    name = "gr-fcdesk-test"
    arm_id = f"{scope}/{ASSIGNMENTS}/{name}"

    async def go() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with EmulatorCredential(emu) as cred, PolicyClient(cred, sub, **sdk_kwargs(emu)) as client:
            ops = client.policy_assignments
            out["created"] = await ops.create(scope, name, sent)
            out["listed"] = [a.id async for a in ops.list()]
            out["at_rg"] = await ops.create(rg, "gr-rg", {"properties": {"policyDefinitionId": INITIATIVE}})
            out["updated"] = await ops.create(
                scope, name, {"properties": {**sent["properties"], "displayName": "renamed"}}
            )
            out["relisted"] = [a.id async for a in ops.list()]
            out["got"] = await ops.get(scope, name)
            out["deleted"] = await ops.delete(scope, name)
            out["again"] = await ops.delete(scope, name)
            out["final"] = [a.id async for a in ops.list()]
            with pytest.raises(ResourceNotFoundError):
                await ops.get(scope, name)
        return out

    before = [r.id for r in scenario.of_kind(Kind.POLICY_ASSIGNMENT) if sub in r.id]
    got = run_async(go())
    created, updated = got["created"], got["updated"]
    assert created.id == arm_id and created.scope == scope and created.not_scopes == []
    assert created.enforcement_mode == "Default" and created.parameters[
        "allowedHateSeveritiesForPrompt"
    ].value == ["Low"]
    # Azure Policy owns createdBy/createdOn/updatedBy/updatedOn in metadata: the request's are replaced.
    assert created.metadata["createdBy"] == object_id("tester") and created.metadata["assignedBy"] == "Tester"
    assert created.metadata["updatedBy"] is None and created.system_data.created_by == "tester"
    assert got["listed"] == [*before, arm_id]
    assert got["at_rg"].id == f"{rg}/{ASSIGNMENTS}/gr-rg" and got["at_rg"].scope == rg
    assert (
        updated.display_name == "renamed" and updated.metadata["createdOn"] == created.metadata["createdOn"]
    )
    assert updated.metadata["updatedBy"] == object_id("tester") and updated.metadata["updatedOn"]
    assert got["relisted"].count(arm_id) == 1 and got["got"].display_name == "renamed"
    assert got["deleted"].id == arm_id and got["again"] is None
    assert got["final"] == [*before, got["at_rg"].id]
    # The log holds the exact bodies sent, and the statuses ARM uses (201 for an update too).
    puts = [r for r in emu.requests if r.method == "PUT"]
    assert puts[0].body == sent and [r.status for r in puts] == [201, 201, 201]
    assert [r.status for r in emu.requests if r.method == "DELETE"] == [200, 204]


def test_assignment_requests_are_validated(emu: ArmEmulator, scenario: Scenario) -> None:
    sub = scenario.subscription_ids()[0]
    scope = f"/subscriptions/{sub}"
    other = f"/subscriptions/{scenario.subscription_ids()[1]}/resourceGroups/rg-x"
    cases: list[tuple[str, Any, int, str]] = [
        (scope, {"properties": {"displayName": "no definition"}}, 400, "InvalidRequestContent"),
        (scope, {"nothing": 1}, 400, "InvalidRequestContent"),
        (scope, b"{not json", 400, "InvalidRequestContent"),
        (
            scope,
            initiative_assignment(scope, "x", allowedHateSeverities=["Low"])[1],
            400,
            "UndefinedPolicyParameter",
        ),
        (
            scope,
            initiative_assignment(scope, "x", allowedHateSeveritiesForPrompt=["Lowest"])[1],
            400,
            "InvalidPolicyParameters",
        ),
        (
            scope,
            {
                "properties": {
                    "policyDefinitionId": INITIATIVE,
                    "parameters": {"raiPolicyMode": {"value": "Default"}},
                }
            },
            400,
            "InvalidPolicyParameters",
        ),
        (
            scope,
            {"properties": {"policyDefinitionId": INITIATIVE, "parameters": {"effect": {"value": "Deny"}}}},
            400,
            "InvalidPolicyParameters",
        ),
        (
            scope,
            {"properties": {"policyDefinitionId": INITIATIVE, "notScopes": [f"{other}"]}},
            400,
            "InvalidNotScopes",
        ),
        (
            f"{scope}/resourceGroups/no-such-rg",
            initiative_assignment(scope, "x")[1],
            404,
            "ResourceGroupNotFound",
        ),
        (
            "/subscriptions/00000000-0000-0000-0000-00000000dead",
            initiative_assignment(scope, "x")[1],
            404,
            "SubscriptionNotFound",
        ),
    ]
    before = list(scenario.records)
    for where, body, status, code in cases:
        got = request(emu, "PUT", f"{where}/{ASSIGNMENTS}/gr-bad?api-version={API_POLICY}", body)
        assert (got[0], got[2]["error"]["code"]) == (status, code), (where, body, got)
    message = request(emu, "PUT", f"{scope}/{ASSIGNMENTS}/gr-bad?api-version=1", cases[4][1])[2]["error"][
        "message"
    ]
    assert (
        "'allowedHateSeveritiesForPrompt'" in message
        and '"Lowest"' in message
        and "Low, Medium, High" in message
    )
    assert scenario.records == before  # nothing was stored
    # A valid one with a notScope under the scope is fine; DELETE of what does not exist is a 204.
    ok = {"properties": {"policyDefinitionId": INITIATIVE, "notScopes": [f"{scope}/resourceGroups/anything"]}}
    assert request(emu, "PUT", f"{scope}/{ASSIGNMENTS}/gr-ok?api-version=1", ok)[0] == 201
    assert request(emu, "DELETE", f"{scope}/{ASSIGNMENTS}/gr-none?api-version=1")[0] == 204


def test_deleting_an_assignment_deletes_its_policy_states(emu: ArmEmulator, scenario: Scenario) -> None:
    assignment = next(
        r for r in scenario.of_kind(Kind.POLICY_ASSIGNMENT) if r.body["name"] == "gr-prod-prompt-shields"
    )
    sub = assignment.id.split("/")[2]
    mine = f"policyAssignmentId eq '{assignment.id}'"
    assert run_async(query_states(emu, f"/subscriptions/{sub}", mine))  # the demo has states for it
    others = len(run_async(query_states(emu, f"/subscriptions/{sub}"))) - len(
        run_async(query_states(emu, f"/subscriptions/{sub}", mine))
    )
    status, _, body = request(emu, "DELETE", f"{assignment.id}?api-version={API_POLICY}")
    assert status == 200 and body == assignment.body
    assert run_async(query_states(emu, f"/subscriptions/{sub}", mine)) == []
    assert len(run_async(query_states(emu, f"/subscriptions/{sub}"))) == others
    assert request(emu, "GET", f"{assignment.id}?api-version={API_POLICY}")[0] == 404


# ------------------------------------------------------------------------------------ RAI policies


def test_rai_policy_put_get_list_through_the_sdk(emu: ArmEmulator, scenario: Scenario) -> None:
    acct = scenario.of_kind(Kind.ACCOUNT)[0].id
    sub, rg, name = split_account(acct)
    policy = RaiPolicy(
        properties=RaiPolicyProperties(
            base_policy_name="Microsoft.DefaultV2",
            mode="Default",
            content_filters=[
                RaiPolicyContentFilter(
                    name="Hate", enabled=True, blocking=True, severity_threshold="Low", source="Prompt"
                ),
                RaiPolicyContentFilter(name="Jailbreak", enabled=True, blocking=True, source="Prompt"),
            ],
        )
    )

    async def go() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with (
            EmulatorCredential(emu) as cred,
            CognitiveServicesManagementClient(cred, sub, **sdk_kwargs(emu)) as client,
        ):
            ops = client.rai_policies
            out["created"] = await ops.create_or_update(rg, name, "fcdesk-strict", policy)
            out["got"] = await ops.get(rg, name, "fcdesk-strict")
            out["updated"] = await ops.create_or_update(rg, name, "fcdesk-strict", policy)
            out["listed"] = [p.name async for p in ops.list(rg, name)]
            with pytest.raises(ResourceNotFoundError):
                await ops.get(rg, name, "no-such-guardrail")
            with pytest.raises(HttpResponseError) as info:
                await ops.create_or_update(rg, name, "Microsoft.DefaultV2", policy)
            out["system"] = info.value
            with pytest.raises(ResourceNotFoundError) as info:
                await ops.create_or_update(rg, name + "-gone", "fcdesk-strict", policy)
            out["no_account"] = info.value
        return out

    before = [r.body["name"] for r in scenario.of_kind(Kind.RAI_POLICY) if r.id.startswith(acct + "/")]
    got = run_async(go())
    created, updated = got["created"], got["updated"]
    assert created.id == f"{acct}/raiPolicies/fcdesk-strict" and created.properties.type == "UserManaged"
    assert [(f.name, f.severity_threshold) for f in got["got"].properties.content_filters] == [
        ("Hate", "Low"),
        ("Jailbreak", None),
    ]
    assert got["got"].etag == created.etag and updated.etag not in (created.etag, None)
    assert got["listed"] == [*before, "fcdesk-strict"]
    assert got["system"].status_code == 400 and got["system"].error.code == "OperationNotAllowed"
    assert got["no_account"].status_code == 404
    assert [r.status for r in emu.requests if r.method == "PUT"] == [201, 200, 400, 404]
    bad = {
        "properties": {
            "contentFilters": [{"name": "Hate", "severityThreshold": "Extreme", "source": "Prompt"}]
        }
    }
    assert request(emu, "PUT", f"{acct}/raiPolicies/bad?api-version={API_CS}", bad)[0] == 400


# ------------------------------------------------------------------------------------ deployments


def test_deployment_put_is_an_arm_long_running_operation_through_the_sdk(
    emu: ArmEmulator, scenario: Scenario
) -> None:
    dep = next(r for r in scenario.of_kind(Kind.DEPLOYMENT) if r.body["properties"].get("raiPolicyName"))
    acct = account_of(dep.id)
    sub, rg, name = split_account(acct)
    other_rail = next(
        r.body["name"]
        for r in scenario.of_kind(Kind.RAI_POLICY)
        if r.id.startswith(acct + "/") and r.body["name"] != dep.body["properties"]["raiPolicyName"]
    )
    old_etag = emu.resource(dep.id)["etag"]
    assert old_etag == stable_etag(dep.id)  # given when the scenario was built
    emu.lro_polls = 2

    async def go() -> tuple[Any, Any]:
        async with (
            EmulatorCredential(emu) as cred,
            CognitiveServicesManagementClient(cred, sub, **sdk_kwargs(emu)) as client,
        ):
            current = await client.deployments.get(rg, name, dep.body["name"])
            current.properties.rai_policy_name = other_rail
            poller = await client.deployments.begin_create_or_update(
                rg, name, dep.body["name"], current, polling_interval=0
            )
            changed = await poller.result()
            new = Deployment(
                sku=Sku(name="GlobalStandard", capacity=5),
                properties=DeploymentProperties(
                    model=DeploymentModel(format="OpenAI", name="gpt-4o-mini", version="2024-07-18"),
                    rai_policy_name="Microsoft.DefaultV2",
                ),
            )
            poller = await client.deployments.begin_create_or_update(
                rg, name, "fcdesk-new", new, polling_interval=0
            )
            return changed, await poller.result()

    changed, created = run_async(go())
    assert (
        changed.properties.rai_policy_name == other_rail
        and changed.properties.provisioning_state == "Succeeded"
    )
    assert changed.etag not in (old_etag, None) and changed.etag == emu.resource(dep.id)["etag"]
    assert (
        created.id == f"{acct}/deployments/fcdesk-new"
        and created.properties.provisioning_state == "Succeeded"
    )
    log = [(r.method, r.path.rsplit("/", 2)[-2], r.status) for r in emu.requests]
    polls = [("GET", "operationResults", 200)] * 3  # two "InProgress", then "Succeeded"
    dep_name = dep.body["name"]
    assert log == [
        ("GET", "deployments", 200),
        ("PUT", "deployments", 200),
        *polls,
        ("GET", "deployments", 200),  # azure-core's final GET of the resource
        ("PUT", "deployments", 201),
        *polls,
        ("GET", "deployments", 200),
    ], log
    assert (
        emu.requests[1].path.endswith(dep_name)
        and emu.requests[1].body["properties"]["raiPolicyName"] == other_rail
    )

    # By hand: what the first answer says, and the state while the operation runs.
    emu.lro_polls = 1
    body = {"properties": {"model": {"format": "OpenAI", "name": "gpt-4o"}}}
    status, headers, first = request(emu, "PUT", f"{acct}/deployments/by-hand?api-version=2024-10-01", body)
    location = scenario.find(acct).body["location"]
    assert status == 201 and first["properties"]["provisioningState"] == "Creating"
    assert (
        f"/providers/Microsoft.CognitiveServices/locations/{location}/operationResults/"
        in headers["Azure-AsyncOperation"]
    )
    assert (
        headers["Azure-AsyncOperation"].endswith("?api-version=2024-10-01") and headers["Retry-After"] == "0"
    )
    assert "x-ms-ratelimit-remaining-subscription-writes" in headers
    assert emu.resource(first["id"])["properties"]["provisioningState"] == "Creating"
    op = headers["Azure-AsyncOperation"]
    assert request(emu, "GET", op)[2]["status"] == "InProgress"
    assert emu.resource(first["id"])["properties"]["provisioningState"] == "Creating"
    done = request(emu, "GET", op)[2]
    assert done["status"] == "Succeeded" and done["name"] == op.split("/")[-1].split("?")[0]
    assert emu.resource(first["id"])["properties"]["provisioningState"] == "Succeeded"
    assert emu.resource(first["id"])["etag"] == first["etag"]
    assert request(emu, "GET", op.replace(done["name"], "00000000-0000-0000-0000-000000000000"))[0] == 404


def test_deployment_put_checks_the_guardrail_name_and_the_model(emu: ArmEmulator, scenario: Scenario) -> None:
    acct = scenario.of_kind(Kind.ACCOUNT)[0].id
    own = next(r.body["name"] for r in scenario.of_kind(Kind.RAI_POLICY) if r.id.startswith(acct + "/"))
    here = {r.body["name"].lower() for r in scenario.of_kind(Kind.RAI_POLICY) if r.id.startswith(acct + "/")}
    elsewhere = next(
        r.body["name"] for r in scenario.of_kind(Kind.RAI_POLICY) if r.body["name"].lower() not in here
    )
    model = {"format": "OpenAI", "name": "gpt-4o", "version": "2024-11-20"}
    path = f"{acct}/deployments/d1?api-version={API_CS}"
    for rail in (own.upper(), "Microsoft.Default", "microsoft.defaultv2", "Microsoft.Nil", None):
        props = {"model": model, **({"raiPolicyName": rail} if rail else {})}
        assert request(emu, "PUT", path, {"properties": props})[0] in (200, 201), rail
    for props in (
        {"model": model, "raiPolicyName": elsewhere},
        {"model": model, "raiPolicyName": "Nope"},
        {"raiPolicyName": own},
    ):
        status, _, err = request(emu, "PUT", path, {"properties": props})
        assert (status, err["error"]["code"]) == (400, "InvalidResourceProperties"), props
    assert (
        elsewhere
        in request(emu, "PUT", path, {"properties": {"model": model, "raiPolicyName": elsewhere}})[2][
            "error"
        ]["message"]
    )
    assert "raiPolicyName" not in emu.resource(f"{acct}/deployments/d1")["properties"]  # the last good PUT


def test_deployment_patch_changes_only_sku_and_tags(emu: ArmEmulator, scenario: Scenario) -> None:
    dep = scenario.of_kind(Kind.DEPLOYMENT)[0]
    sub, rg, name = split_account(account_of(dep.id))

    async def go() -> Any:
        async with (
            EmulatorCredential(emu) as cred,
            CognitiveServicesManagementClient(cred, sub, **sdk_kwargs(emu)) as client,
        ):
            patch = PatchResourceTagsAndSku(sku=Sku(name="GlobalStandard", capacity=7), tags={"team": "ai"})
            poller = await client.deployments.begin_update(
                rg, name, dep.body["name"], patch, polling_interval=0
            )
            return await poller.result()

    before = emu.resource(dep.id)
    got = run_async(go())
    assert got.sku.capacity == 7 and got.tags == {"team": "ai"} and got.etag != before["etag"]
    after = emu.resource(dep.id)
    assert after["properties"] == before["properties"] and after["sku"] == {
        "name": "GlobalStandard",
        "capacity": 7,
    }
    status, _, err = request(
        emu, "PATCH", f"{dep.id}?api-version={API_CS}", {"properties": {"raiPolicyName": "Microsoft.Nil"}}
    )
    assert (status, err["error"]["code"]) == (400, "InvalidRequestContent") and "PUT" in err["error"][
        "message"
    ]
    assert emu.resource(dep.id) == after


# ------------------------------------------------------------------------------------ RBAC


def test_permissions_list_the_roles_held_at_or_above_the_scope(emu: ArmEmulator, scenario: Scenario) -> None:
    dep = scenario.of_kind(Kind.DEPLOYMENT)[0]
    sub_scope = "/".join(dep.id.split("/")[:3])
    rg_scope = "/".join(dep.id.split("/")[:5])

    def perms(scope: str, **kwargs: Any) -> list[dict[str, list[str]]]:
        status, _, body = request(
            emu,
            "GET",
            f"{scope}/providers/Microsoft.Authorization/permissions?api-version=2022-04-01",
            **kwargs,
        )
        assert status == 200, body
        return body["value"]

    assert perms(sub_scope) == [{"actions": ["*"], "notActions": [], "dataActions": [], "notDataActions": []}]
    for role in ROLES:
        scenario.only(role)
        assert perms(rg_scope) == [ROLES[role].permission()], role
    scenario.only("reader").grant(
        "Resource Policy Contributor", scope=rg_scope.upper(), principal="Alice@contoso.com"
    )
    reader, rpc = ROLES["Reader"].permission(), ROLES["Resource Policy Contributor"].permission()
    assert perms(sub_scope, principal="alice@contoso.com") == [reader]
    assert perms(rg_scope, principal="alice@contoso.com") == [reader, rpc]
    assert perms(dep.id, principal="alice@contoso.com") == [reader, rpc]
    assert perms(rg_scope, principal="bob@contoso.com") == [reader]
    assert perms(rg_scope, token="az-cli-token") == [
        reader
    ]  # a token from elsewhere: grants to everyone only
    scenario.only("Owner", principal="alice@contoso.com")
    assert perms(rg_scope, token="az-cli-token") == [] and perms(rg_scope, principal="alice@contoso.com")
    assert (
        request(
            emu,
            "GET",
            f"{sub_scope}/resourceGroups/nope/providers/Microsoft.Authorization/permissions?api-version=1",
        )[0]
        == 404
    )
    with pytest.raises(ValueError):
        scenario.grant("Global Administrator")
    assert scenario.roles_of("x", "/subscriptions/a") == []


def test_action_matching_is_arms() -> None:
    assert matches("*", "Microsoft.CognitiveServices/accounts/deployments/write")
    assert matches("*/read", "Microsoft.Authorization/policyAssignments/read")
    assert not matches("*/read", "Microsoft.Authorization/policyAssignments/write")
    assert matches("Microsoft.Authorization/*/Write", "microsoft.authorization/policyassignments/write")
    assert matches(
        "Microsoft.Authorization/policyassignments/*", "Microsoft.Authorization/policyAssignments/delete"
    )
    assert not matches(
        "Microsoft.Authorization/policyassignments/*", "Microsoft.Authorization/policyAssignmentsX"
    )
    assert ROLES["Contributor"].allows("Microsoft.CognitiveServices/accounts/raiPolicies/write")
    assert not ROLES["Contributor"].allows("Microsoft.Authorization/policyAssignments/write")
    assert not ROLES["Security Admin"].allows(
        "Microsoft.PolicyInsights/policyStates/triggerEvaluation/action"
    )
    assert ROLES["Cognitive Services Contributor"].allows(
        "Microsoft.CognitiveServices/accounts/raiPolicies/write"
    )


def _writes(scenario: Scenario) -> dict[str, tuple[str, str, Any]]:
    """One request of each write kind against the demo (name → (method, path, body))."""
    dep = next(r for r in scenario.of_kind(Kind.DEPLOYMENT))
    acct = account_of(dep.id)
    sub = "/".join(dep.id.split("/")[:3])
    existing = scenario.of_kind(Kind.POLICY_ASSIGNMENT)[0].id
    put_dep = {
        "sku": dep.body["sku"],
        "properties": {**dep.body["properties"], "raiPolicyName": "Microsoft.Nil"},
    }
    return {
        "assignment": (
            "PUT",
            initiative_assignment(sub, "gr-new")[0],
            initiative_assignment(sub, "gr-new")[1],
        ),
        "delete": ("DELETE", f"{existing}?api-version={API_POLICY}", None),
        "guardrail": (
            "PUT",
            f"{acct}/raiPolicies/new?api-version={API_CS}",
            {"properties": {"mode": "Default"}},
        ),
        "deployment": ("PUT", f"{dep.id}?api-version={API_CS}", put_dep),
        "patch": ("PATCH", f"{dep.id}?api-version={API_CS}", {"tags": {"a": "b"}}),
        "evaluate": ("POST", f"{sub}/{TRIGGER}?api-version={API_INSIGHTS}", None),
    }


ACTIONS = {
    "assignment": "Microsoft.Authorization/policyAssignments/write",
    "delete": "Microsoft.Authorization/policyAssignments/delete",
    "guardrail": "Microsoft.CognitiveServices/accounts/raiPolicies/write",
    "deployment": "Microsoft.CognitiveServices/accounts/deployments/write",
    "patch": "Microsoft.CognitiveServices/accounts/deployments/write",
    "evaluate": "Microsoft.PolicyInsights/policyStates/triggerEvaluation/action",
}


def test_a_reader_gets_403_on_every_write_and_nothing_changes(emu: ArmEmulator, scenario: Scenario) -> None:
    scenario.only("Reader")
    before = list(scenario.records)
    sub = scenario.subscription_ids()[0]
    for name, (method, path, body) in _writes(scenario).items():
        status, _, err = request(emu, method, path, body, principal="reader@contoso.com")
        assert status == 403 and err["error"]["code"] == "AuthorizationFailed", name
        message = err["error"]["message"]
        assert f"action '{ACTIONS[name]}'" in message and "'reader@contoso.com'" in message, message
        assert object_id("reader@contoso.com") in message
    assert scenario.records == before
    # Reads stay allowed, policy-state queries (POST) included.
    assert request(emu, "GET", f"/subscriptions/{sub}/{ASSIGNMENTS}?api-version={API_POLICY}")[0] == 200
    assert run_async(query_states(emu, f"/subscriptions/{sub}"))
    assert all(r.status == 403 for r in emu.requests if r.method != "GET" and "queryResults" not in r.path)


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("Owner", set(ACTIONS)),
        ("Contributor", {"guardrail", "deployment", "patch", "evaluate"}),
        ("Resource Policy Contributor", {"assignment", "delete", "evaluate"}),
        ("Security Admin", {"assignment", "delete"}),
        ("Cognitive Services Contributor", {"guardrail", "deployment", "patch"}),
        ("Azure AI Account Owner", {"guardrail", "deployment", "patch"}),
    ],
)
def test_each_role_may_do_exactly_its_writes(base: Scenario, role: str, allowed: set[str]) -> None:
    scenario = Scenario(base.meta, base.records).only(role, principal="user@contoso.com")
    writes = _writes(scenario)
    with ArmEmulator(scenario) as emu:
        got = {
            name: request(emu, method, path, body, principal="user@contoso.com")[0]
            for name, (method, path, body) in writes.items()
        }
        method, path, body = writes["guardrail"]
        assert request(emu, method, path, body, principal="someone-else")[0] == 403  # the grant is alice's
    assert {name for name, status in got.items() if status != 403} == allowed, got
    assert all(status in (200, 201, 202) for name, status in got.items() if name in allowed), got


# ------------------------------------------------------------------------------------ evaluation


def _compliant_pair_with_jailbreak_required(scenario: Scenario) -> tuple[RawRecord, RawRecord, RawRecord]:
    """(assignment, deployment, its custom guardrail): compliant in the demo, the guardrail's own
    Jailbreak filter enabled and blocking, and the assignment requiring exactly that."""
    states = [r.body for r in scenario.of_kind(Kind.POLICY_STATE)]
    rails = {idkey(r.id): r for r in scenario.of_kind(Kind.RAI_POLICY)}
    for a in scenario.of_kind(Kind.POLICY_ASSIGNMENT):
        params = engine.set_parameters(a.body)
        if params["allowedJailbreakEnabledForPrompt"] != ["true"] or a.body["properties"]["notScopes"]:
            continue
        for s in states:
            if (
                idkey(s["policyAssignmentId"]) != idkey(a.id)
                or s["policyDefinitionReferenceId"]
                or s["complianceState"] != "Compliant"
            ):
                continue
            dep = scenario.find(s["resourceId"])
            rail = rails.get(
                idkey(f"{account_of(dep.id)}/raiPolicies/{dep.body['properties'].get('raiPolicyName')}")
            )
            if rail is not None and any(
                f["name"] == "Jailbreak" for f in rail.body["properties"]["contentFilters"]
            ):
                return a, dep, rail
    raise AssertionError("the demo has no such pair")


def test_trigger_evaluation_through_the_sdk_flips_a_changed_guardrail(
    emu: ArmEmulator, scenario: Scenario
) -> None:
    assignment, dep, rail = _compliant_pair_with_jailbreak_required(scenario)
    sub = dep.id.split("/")[2]
    sharing = [
        d
        for d in scenario.of_kind(Kind.DEPLOYMENT)
        if account_of(d.id) == account_of(dep.id)
        and d.body["properties"].get("raiPolicyName") == rail.body["name"]
    ]
    mine = f"policyAssignmentId eq '{assignment.id}'"
    # The same query as the SDK's below: its answer is cached until the states change.
    first = verdicts(run_async(query_states(emu, f"/subscriptions/{sub}", mine)), assignment.id)
    assert first[idkey(dep.id)] == ("Compliant", set())
    other_states = [
        s
        for s in run_async(query_states(emu, f"/subscriptions/{sub}"))
        if idkey(s["policyAssignmentId"]) != idkey(assignment.id)
    ]

    def no_jailbreak(body: dict[str, Any]) -> None:
        for f in body["properties"]["contentFilters"]:
            if f["name"] == "Jailbreak":
                f["enabled"] = False

    emu.update(rail.id, no_jailbreak)  # someone edits the guardrail in the portal

    async def go() -> list[Any]:
        async with (
            EmulatorCredential(emu) as cred,
            PolicyInsightsClient(cred, sub, **sdk_kwargs(emu)) as client,
        ):
            poller = await client.policy_states.begin_trigger_subscription_evaluation(sub, polling_interval=0)
            await poller.result()
            return [
                s
                async for s in client.policy_states.list_query_results_for_subscription(
                    "latest", sub, query_options=QueryOptions(filter=mine)
                )
            ]

    states = run_async(go())
    assert [
        (r.method, r.status)
        for r in emu.requests
        if "Microsoft.PolicyInsights/" in r.path and "queryResults" not in r.path
    ] == [
        ("POST", 202),
        ("GET", 202),  # lro_polls = 1
        ("GET", 200),
    ]
    rows = [s.as_dict() for s in states]
    after = verdicts(
        [
            {
                "resourceId": s["resource_id"],
                "policyAssignmentId": s["policy_assignment_id"],
                "policyDefinitionReferenceId": s["policy_definition_reference_id"],
                "complianceState": s["compliance_state"],
            }
            for s in rows
        ],
        assignment.id,
    )
    for d in sharing:
        assert after[idkey(d.id)] == ("NonCompliant", {JAILBREAK}), d.id
    assert set(after) == {
        idkey(d.id) for d in deployments_in(scenario, assignment.body["properties"]["scope"])
    }
    one = next(
        s
        for s in rows
        if idkey(s["resource_id"]) == idkey(dep.id) and s["policy_definition_reference_id"] == JAILBREAK
    )
    assert one["is_compliant"] is False and one["policy_set_definition_id"] == INITIATIVE
    assert one["subscription_id"] == sub and one["resource_group"] == dep.id.split("/")[4]
    assert one["policy_definition_id"].endswith("f3a9c2e0-7b4d-4d8f-9c3a-2e1f6b9a8d4e")
    # Twelve references judged, plus the summary, for every deployment.
    assert len(rows) == 13 * len(after)
    # Other assignments' states in the subscription were evaluated again, not dropped or duplicated.
    again = [
        s
        for s in run_async(query_states(emu, f"/subscriptions/{sub}"))
        if idkey(s["policyAssignmentId"]) != idkey(assignment.id)
    ]
    assert {(s["resourceId"], s["policyAssignmentId"]) for s in again} >= {
        (s["resourceId"], s["policyAssignmentId"])
        for s in other_states
        if scenario.find(s["resourceId"]) is not None
    }
    summaries = Counter(
        (s["resourceId"], s["policyAssignmentId"]) for s in again if not s["policyDefinitionReferenceId"]
    )
    assert set(summaries.values()) == {1}


def test_not_scopes_exclude_themselves_and_everything_under_them(
    emu: ArmEmulator, scenario: Scenario
) -> None:
    sub = scenario.subscription_ids()[0]
    scope = f"/subscriptions/{sub}"
    deps = deployments_in(scenario, scope)
    groups = sorted({"/".join(d.id.split("/")[:5]) for d in deps})
    excluded_rg = groups[0]
    excluded_dep = next(d for d in deps if not d.id.startswith(excluded_rg + "/"))
    path, body = initiative_assignment(scope, "gr-with-exceptions")
    # ARM ids are case-insensitive: so are the exceptions.
    body["properties"]["notScopes"] = [excluded_rg.upper(), excluded_dep.id.lower()]
    assert request(emu, "PUT", path, body)[0] == 201
    assignment_id = f"{scope}/{ASSIGNMENTS}/gr-with-exceptions"
    new = emu.evaluate(scope)
    judged = verdicts(
        run_async(query_states(emu, scope, f"policyAssignmentId eq '{assignment_id}'")), assignment_id
    )
    want = {idkey(d.id) for d in deps if not d.id.startswith(excluded_rg + "/") and d.id != excluded_dep.id}
    assert set(judged) == want and len(want) < len(deps) - 1
    assert {idkey(b["resourceId"]) for b in new if b["policyAssignmentId"] == assignment_id} == want
    other_sub = scenario.subscription_ids()[1]
    assert not [
        s
        for s in run_async(query_states(emu, f"/subscriptions/{other_sub}"))
        if s["policyAssignmentId"] == assignment_id
    ]
    # Without the exceptions the next evaluation judges them too.
    body["properties"]["notScopes"] = []
    assert request(emu, "PUT", path, body)[0] == 201
    emu.evaluate(excluded_rg)  # an evaluation of the resource group only
    judged = verdicts(
        run_async(query_states(emu, scope, f"policyAssignmentId eq '{assignment_id}'")), assignment_id
    )
    assert set(judged) == want | {idkey(d.id) for d in deps if d.id.startswith(excluded_rg + "/")}
    assert idkey(excluded_dep.id) not in judged  # outside the resource group evaluated: not judged yet


def test_blocking_hate_at_low_fails_default_v2_on_exactly_the_hate_reference(
    emu: ArmEmulator, scenario: Scenario
) -> None:
    sub = scenario.subscription_ids()[0]
    scope = f"/subscriptions/{sub}"
    # "Hate on prompts must be blocked at Low" (Low is the strictest threshold); completions: any.
    strict_params = {
        "allowedHateSeveritiesForPrompt": ["Low"],
        "allowedHateSeveritiesForCompletion": ["Low", "Medium", "High"],
    }
    for name, params in (("gr-baseline", {}), ("gr-low-hate", strict_params)):
        path, body = initiative_assignment(scope, name, **params)
        assert request(emu, "PUT", path, body)[0] == 201
    # A deployment on a guardrail that does block hate prompts at Low.
    acct = next(r.id for r in scenario.of_kind(Kind.ACCOUNT) if r.id.startswith(scope + "/"))
    rail = {
        "properties": {
            "basePolicyName": "Microsoft.DefaultV2",
            "contentFilters": [
                {
                    "name": "Hate",
                    "source": "Prompt",
                    "severityThreshold": "Low",
                    "enabled": True,
                    "blocking": True,
                }
            ],
        }
    }
    assert request(emu, "PUT", f"{acct}/raiPolicies/hate-low?api-version={API_CS}", rail)[0] == 201
    dep = {"properties": {"model": {"format": "OpenAI", "name": "gpt-4o"}, "raiPolicyName": "hate-low"}}
    assert request(emu, "PUT", f"{acct}/deployments/on-hate-low?api-version={API_CS}", dep)[0] == 201
    emu.evaluate(scope)
    states = run_async(query_states(emu, scope))
    baseline = verdicts(states, f"{scope}/{ASSIGNMENTS}/gr-baseline")
    strict = verdicts(states, f"{scope}/{ASSIGNMENTS}/gr-low-hate")
    on_v2 = [
        d
        for d in deployments_in(scenario, scope)
        if d.body["properties"].get("raiPolicyName", "Microsoft.DefaultV2") == "Microsoft.DefaultV2"
    ]
    assert on_v2 and set(strict) == set(baseline)
    for d in on_v2:
        assert baseline[idkey(d.id)] == ("NonCompliant", DEFAULTV2_GAPS)
        assert strict[idkey(d.id)] == ("NonCompliant", DEFAULTV2_GAPS | {HATE})
    # The guardrail blocking at Low passes Hate under the strict policy, and fails the default one
    # (whose allowed severities, Medium and High, leave out the stricter Low).
    mine = idkey(f"{acct}/deployments/on-hate-low")
    assert strict[mine][1] == DEFAULTV2_GAPS and baseline[mine][1] == DEFAULTV2_GAPS | {HATE}
    # The pure function says the same.
    v2 = {"properties": {"raiPolicyName": "Microsoft.DefaultV2"}}
    low = {"properties": {"parameters": {k: {"value": v} for k, v in strict_params.items()}}}
    assert engine.noncompliant(low, v2, {}) - engine.noncompliant({"properties": {}}, v2, {}) == {HATE}
    assert engine.noncompliant({"properties": {}}, v2, {}) == DEFAULTV2_GAPS


def test_effect_overrides_switch_references_off() -> None:
    v2 = {"properties": {"raiPolicyName": "Microsoft.DefaultV2"}}
    gaps = sorted(DEFAULTV2_GAPS)
    off = {
        "properties": {
            "overrides": [
                {
                    "kind": "policyEffect",
                    "value": "Disabled",
                    "selectors": [{"kind": "policyDefinitionReferenceId", "in": gaps[:2]}],
                }
            ]
        }
    }
    assert engine.noncompliant(off, v2, {}) == set(gaps[2:])
    keep = {
        "properties": {
            "overrides": [
                {
                    "kind": "policyEffect",
                    "value": "Disabled",
                    "selectors": [{"kind": "policyDefinitionReferenceId", "notIn": gaps[:1]}],
                }
            ]
        }
    }
    assert engine.noncompliant(keep, v2, {}) == set(gaps[:1])
    judged = {r.reference_id for r in engine.judge(off, v2, {})}
    assert not judged & set(gaps[:2])  # a Disabled reference is not evaluated at all


def test_the_independent_evaluator_agrees_with_the_demo_but_for_its_one_stale_state(
    emu: ArmEmulator, scenario: Scenario
) -> None:
    """The demo's states come from fcdesk's evaluator; the emulator judges with its own interpreter of
    the built-in JSON. They must agree except where the demo keeps a deliberately stale verdict."""
    demo = {}
    for s in (r.body for r in scenario.of_kind(Kind.POLICY_STATE)):
        demo.setdefault((idkey(s["resourceId"]), idkey(s["policyAssignmentId"])), set())
        if s["policyDefinitionReferenceId"] and s["complianceState"] == "NonCompliant":
            demo[(idkey(s["resourceId"]), idkey(s["policyAssignmentId"]))].add(
                s["policyDefinitionReferenceId"]
            )
    emu.evaluate("/")
    ours: dict[tuple[str, str], set[str]] = {}
    for s in (r.body for r in scenario.of_kind(Kind.POLICY_STATE)):
        key = (idkey(s["resourceId"]), idkey(s["policyAssignmentId"]))
        ours.setdefault(key, set())
        if s["policyDefinitionReferenceId"] and s["complianceState"] == "NonCompliant":
            ours[key].add(s["policyDefinitionReferenceId"])
    assert set(demo) <= set(ours)
    differ = {key: (demo[key], ours[key]) for key in demo if demo[key] != ours[key]}
    assert len(differ) == 1, differ
    ((was, now),) = differ.values()
    assert was == {JAILBREAK} and now == set()  # the guardrail was tightened after Azure's last scan


def test_effective_guardrail_and_rule_interpreter_details() -> None:
    custom = {
        "name": "Mine",
        "properties": {
            "basePolicyName": "Microsoft.DefaultV2",
            "contentFilters": [
                {
                    "name": "Hate",
                    "source": "Prompt",
                    "enabled": True,
                    "blocking": True,
                    "allowedContentLevel": "Low",
                },
                {"name": "Jailbreak", "source": "Prompt", "enabled": False, "blocking": False},
            ],
        },
    }
    eff = engine.effective_rai_policy({"properties": {"raiPolicyName": "mine"}}, {"Mine": custom})
    by_key = {(f["name"], f["source"]): f for f in eff["contentFilters"]}
    assert eff["mode"] == "Default" and len(eff["contentFilters"]) == 11  # 2 own + 9 of DefaultV2
    assert by_key[("Hate", "Prompt")]["severityThreshold"] == "Low"  # the older api's name for it
    assert by_key[("Jailbreak", "Prompt")]["enabled"] is False  # its own, not the base's
    assert by_key[("Hate", "Completion")]["severityThreshold"] == "Medium"  # from the base
    assert engine.effective_rai_policy({"properties": {}}, {})["name"] == "Microsoft.DefaultV2"

    def filters_of(name: str) -> list[dict[str, Any]]:
        return engine.effective_rai_policy({"properties": {"raiPolicyName": name}}, {})["contentFilters"]

    assert filters_of("Gone") == [] and len(filters_of("Microsoft.Default")) == 8
    nothing = engine.noncompliant({"properties": {}}, {"properties": {"raiPolicyName": "Microsoft.Nil"}}, {})
    assert len(nothing) == 11  # every filter reference fails; the mode (Default) is allowed
    assert (
        engine.noncompliant(
            {"properties": {"parameters": {"effect": {"value": "Disabled"}}}},
            {"properties": {"raiPolicyName": "Microsoft.Nil"}},
            {},
        )
        == set()
    )
    async_mode = {"Mine": {"properties": {**custom["properties"], "mode": "Asynchronous_filter"}}}
    mode_ref = "CognitiveServices guardrail mode for Model Deployments"
    assert mode_ref in engine.noncompliant(
        {"properties": {}}, {"properties": {"raiPolicyName": "Mine"}}, async_mode
    )
    ctx = engine.RuleContext({"type": engine.DATA_TYPE, "x": True}, {"p": ["TRUE"]})
    assert engine.holds({"field": "x", "in": "[parameters('p')]"}, ctx)  # booleans as strings, any case
    assert engine.holds({"field": "TYPE", "EQUALS": engine.DATA_TYPE.upper()}, ctx)
    assert engine.holds({"field": "missing", "notIn": ["a"]}, ctx) and not engine.holds(
        {"field": "missing", "in": ["a"]}, ctx
    )
    for bad in (
        {"field": "x", "like": "y"},
        {"field": "x", "in": "[concat('a')]"},
        {"value": "a", "equals": "a"},
    ):
        with pytest.raises(engine.PolicyRuleError):
            engine.holds(bad, ctx)


# ------------------------------------------------------------------------------------ state & faults


def test_etags_are_stable_at_load_and_new_after_every_change(
    emu: ArmEmulator, scenario: Scenario, base: Scenario
) -> None:
    dep = scenario.of_kind(Kind.DEPLOYMENT)[0]
    rail = scenario.of_kind(Kind.RAI_POLICY)[0]
    assert (
        Scenario(base.meta, base.records).find(dep.id).body["etag"] == dep.body["etag"] == stable_etag(dep.id)
    )
    assert rail.body["etag"] == stable_etag(rail.id)
    status, _, seen = request(emu, "GET", f"{dep.id}?api-version={API_CS}")
    assert status == 200 and seen == dep.body
    # Someone else changes it: the next read shows a new etag (what fcdesk compares before writing).
    changed = emu.update(dep.id, lambda b: {**b, "tags": {"owner": "someone else"}})
    assert changed["etag"] != seen["etag"] and changed["tags"] == {"owner": "someone else"}
    assert request(emu, "GET", f"{dep.id}?api-version={API_CS}")[2] == changed == emu.resource(dep.id)
    # put_resource adds or replaces, never duplicates; remove_resource deletes.
    copy = {**changed, "id": dep.id.upper()}
    stored = emu.put_resource(copy)
    assert (
        stored["etag"] != changed["etag"] and sum(idkey(r.id) == idkey(dep.id) for r in scenario.records) == 1
    )
    listed = request(emu, "GET", f"{account_of(dep.id)}/deployments?api-version={API_CS}")[2]["value"]
    assert [d["etag"] for d in listed if idkey(d["id"]) == idkey(dep.id)] == [stored["etag"]]
    assert emu.remove_resource(dep.id)["etag"] == stored["etag"] and emu.resource(dep.id) is None
    assert request(emu, "GET", f"{dep.id}?api-version={API_CS}")[0] == 404
    with pytest.raises(KeyError):
        emu.update(dep.id, lambda b: None)
    with pytest.raises(ValueError):
        emu.put_resource({"id": f"{account_of(dep.id)}/widgets/w", "type": "Microsoft.Nope/widgets"})


def test_mutation_helpers_are_safe_while_the_server_answers(emu: ArmEmulator, scenario: Scenario) -> None:
    dep = scenario.of_kind(Kind.DEPLOYMENT)[0]
    acct = account_of(dep.id)
    written: list[str] = [dep.body["etag"]]
    stop = threading.Event()

    def writer() -> None:
        n = 0
        while not stop.is_set() and n < 300:
            n += 1
            written.append(emu.update(dep.id, lambda b, n=n: {**b, "tags": {"n": str(n)}})["etag"])

    async def reader() -> list[tuple[int, Any, Any]]:
        token = emu.mint_token()
        ctx = ssl.create_default_context(cafile=emu.ca_file)
        async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=ctx), headers={"Authorization": f"Bearer {token}"}
        ) as session:

            async def one(i: int) -> tuple[int, Any, Any]:
                path = dep.id if i % 2 else f"{acct}/deployments"
                body = {"sku": dep.body["sku"], "properties": dep.body["properties"]}
                method = "PUT" if i % 14 == 1 else "GET"  # PUTs of the deployment itself (odd i)
                async with session.request(
                    method,
                    f"{emu.url}{path.lstrip('/')}?api-version={API_CS}",
                    json=body if method == "PUT" else None,
                ) as resp:
                    return resp.status, method, orjson.loads(await resp.read())

            return await asyncio.gather(*(one(i) for i in range(150)))

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        answers = run_async(reader())
    finally:
        stop.set()
        thread.join()
    assert {status for status, _, _ in answers} <= {200, 201}
    etags = set(written) | {body["etag"] for status, method, body in answers if method == "PUT"}
    for _, _, body in answers:
        items = body["value"] if "value" in body else [body]
        mine = [d for d in items if idkey(d["id"]) == idkey(dep.id)]
        assert len(mine) <= 1 and all(d["etag"] in etags for d in mine)
    assert sum(idkey(r.id) == idkey(dep.id) for r in scenario.records) == 1
    final = request(emu, "GET", f"{dep.id}?api-version={API_CS}")[2]
    assert final == emu.resource(dep.id) and final["etag"] in etags


def test_faults_apply_to_writes(base: Scenario) -> None:
    scenario = Scenario(base.meta, base.records)
    dep = scenario.of_kind(Kind.DEPLOYMENT)[0]
    sub, rg, name = split_account(account_of(dep.id))
    faults = Faults(
        server_errors=Rule(path="/deployments/", method="PUT", status=500, times=2),
        throttle=Rule(path="/policyAssignments/", method="PUT", retry_after=0),
    )

    async def put(emu: ArmEmulator, **client_kwargs: Any) -> Any:
        async with (
            EmulatorCredential(emu) as cred,
            CognitiveServicesManagementClient(cred, sub, **sdk_kwargs(emu, **client_kwargs)) as client,
        ):
            current = await client.deployments.get(rg, name, dep.body["name"])
            current.properties.rai_policy_name = "Microsoft.Default"
            poller = await client.deployments.begin_create_or_update(
                rg, name, dep.body["name"], current, polling_interval=0
            )
            return await poller.result()

    with ArmEmulator(scenario, faults=faults) as emu:
        with pytest.raises(HttpResponseError) as info:
            run_async(put(emu, retry_total=0))
        assert info.value.status_code == 500 and emu.resource(dep.id) == dep.body  # nothing written
        done = run_async(put(emu))  # azure-core retries the PUT after the second 500
        assert done.properties.rai_policy_name == "Microsoft.Default"
        assert [(r.method, r.status, r.fault) for r in emu.requests if r.method == "PUT"] == [
            ("PUT", 500, "server_errors"),
            ("PUT", 500, "server_errors"),
            ("PUT", 200, ""),
        ]
        path, body = initiative_assignment(f"/subscriptions/{sub}", "gr-throttled")
        assert request(emu, "PUT", path, body)[0] == 429
        assert request(emu, "PUT", path, body)[0] == 201
    assert faults.counts["server_errors"] == 2 and faults.counts["throttle"] == 1


def test_request_log_stays_compatible() -> None:
    entry = RequestLog("GET", "/subscriptions", {}, 200, 0.0)
    assert entry.body is None and entry.principal == "" and entry.fault == ""
