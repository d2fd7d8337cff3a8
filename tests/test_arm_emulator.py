"""The ARM emulator (tests/arm_emulator), checked with the real Azure SDK (.aio clients over HTTPS).

These tests also pin down SDK behaviour fcdesk's capture must live with (retries, error types); the
names say which. No Qt here: coroutines run through ``run_async`` (a fresh loop in a fresh thread).
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import select
import signal
import ssl
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import isodate
import orjson
import pytest
from azure.core.exceptions import (
    ClientAuthenticationError,
    DecodeError,
    DeserializationError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.core.rest import HttpRequest
from azure.mgmt.cognitiveservices.aio import CognitiveServicesManagementClient
from azure.mgmt.policyinsights.aio import PolicyInsightsClient
from azure.mgmt.policyinsights.models import QueryOptions
from azure.mgmt.resource.policy.aio import PolicyClient
from azure.mgmt.resource.resources.aio import ResourceManagementClient
from azure.mgmt.resource.subscriptions.aio import SubscriptionClient
from azure.mgmt.security.aio import SecurityCenter

from fcdesk.core.inventory import Inventory
from fcdesk.core.normalize import POLICY_STATE_FIELDS, policy_state_key
from fcdesk.core.policy import INITIATIVE_ID, INITIATIVE_NAME
from fcdesk.core.records import Kind, RawRecord, SnapshotMeta
from fcdesk.store.snapshot import write_snapshot
from tests.arm_emulator import (
    ArmEmulator,
    EmulatorCredential,
    Faults,
    Rule,
    Scenario,
    run_async,
    sdk_kwargs,
)
from tests.arm_emulator.crawl import canonical, crawl
from tests.arm_emulator.scenario import EXAMPLES_NOT_SERVED, examples_served, idkey
from tests.arm_emulator.server import FilterError, parse_filter

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "tests" / "fixtures" / "azure-examples"
PAGE = 3  # small, so that paging is exercised everywhere
CS_ACCOUNTS = "Microsoft.CognitiveServices/accounts"


# ------------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def demo() -> Scenario:
    return Scenario.demo(scale=2)  # 6 subscriptions: two pages of /subscriptions


@pytest.fixture(scope="module")
def emu(demo: Scenario):
    with ArmEmulator(demo, page_size=PAGE) as emulator:
        yield emulator


@pytest.fixture
def shared(emu: ArmEmulator) -> ArmEmulator:
    emu.reset_log()
    return emu


def bodies(scenario: Scenario, kind: Kind) -> list[dict[str, Any]]:
    return [r.body for r in scenario.records if r.kind == kind]


def ids_under(scenario: Scenario, kind: Kind, prefix: str) -> list[str]:
    key = idkey(prefix) + "/"
    return [r.id for r in scenario.records if r.kind == kind and idkey(r.id).startswith(key)]


def first_account_with(scenario: Scenario, minimum: int) -> str:
    """An account id with at least ``minimum`` deployments."""
    counts = Counter(r.id.rsplit("/deployments/", 1)[0] for r in scenario.of_kind(Kind.DEPLOYMENT))
    return next(acct for acct, n in counts.items() if n >= minimum)


def split_account(acct_id: str) -> tuple[str, str, str]:
    parts = acct_id.split("/")
    return parts[2], parts[4], parts[-1]


def ctx_for(emulator: ArmEmulator) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=emulator.ca_file)


async def raw(
    emulator: ArmEmulator,
    method: str,
    path: str,
    *,
    token: str | None = "mint",
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One request with aiohttp, no SDK (path relative to the emulator, query included)."""
    hdrs = dict(headers or {})
    if token == "mint":
        hdrs["Authorization"] = "Bearer " + emulator.mint_token()
    elif token is not None:
        hdrs["Authorization"] = "Bearer " + token
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx_for(emulator))) as session:
        async with session.request(method, emulator.url + path.lstrip("/"), headers=hdrs) as resp:
            return resp.status, dict(resp.headers), await resp.read()


# ------------------------------------------------------------------------------- inventory via SDK


def test_subscriptions_and_resource_groups_through_the_sdk(shared: ArmEmulator, demo: Scenario) -> None:
    want_subs = [b["subscriptionId"] for b in bodies(demo, Kind.SUBSCRIPTION)]
    sub = want_subs[1]

    async def go():
        async with EmulatorCredential(shared) as cred:
            async with SubscriptionClient(cred, **sdk_kwargs(shared)) as client:
                listed = [s.subscription_id async for s in client.subscriptions.list()]
                one = await client.subscriptions.get(sub)
                tenants = [t async for t in client.tenants.list()]
            async with ResourceManagementClient(cred, sub, **sdk_kwargs(shared)) as client:
                groups = [g.id async for g in client.resource_groups.list()]
            return listed, one, groups, tenants, cred.scopes_seen

    listed, one, groups, tenants, scopes = run_async(go())
    assert listed == want_subs  # six subscriptions, page size 3: two pages through nextLink
    assert shared.count("/subscriptions", method="GET") >= 2
    assert one.display_name == next(
        b["displayName"] for b in bodies(demo, Kind.SUBSCRIPTION) if b["subscriptionId"] == sub
    )
    assert groups == ids_under(demo, Kind.RESOURCE_GROUP, f"/subscriptions/{sub}")
    assert [(t.tenant_id, t.display_name) for t in tenants] == [(demo.meta.tenant_id, demo.meta.tenant_name)]
    assert tenants[0].default_domain.endswith(".onmicrosoft.com")
    assert set(scopes) == {(shared.url + ".default",)}


def test_cognitive_services_endpoints_serve_the_scenario(shared: ArmEmulator, demo: Scenario) -> None:
    sub = demo.subscription_ids()[0]
    want_accounts = ids_under(demo, Kind.ACCOUNT, f"/subscriptions/{sub}")

    async def go():
        out: dict[str, Any] = {}
        async with (
            EmulatorCredential(shared) as cred,
            CognitiveServicesManagementClient(cred, sub, **sdk_kwargs(shared)) as client,
        ):
            out["accounts"] = [a.id async for a in client.accounts.list()]
            for acct_id in out["accounts"]:
                _, rg, name = split_account(acct_id)
                out[acct_id] = {
                    "deployments": [d.id async for d in client.deployments.list(rg, name)],
                    "rai": [p.id async for p in client.rai_policies.list(rg, name)],
                    "projects": [p.id async for p in client.projects.list(rg, name)],
                    "defender": [p.id async for p in client.defender_for_ai_settings.list(rg, name)],
                }
            acct_id = out["accounts"][0]
            _, rg, name = split_account(acct_id)
            dep_name = out[acct_id]["deployments"][-1].rsplit("/", 1)[-1]
            rai_name = out[acct_id]["rai"][0].rsplit("/", 1)[-1]
            out["one_dep"] = await client.deployments.get(rg, name, dep_name)
            out["one_rai"] = await client.rai_policies.get(rg, name, rai_name)
            out["one_acct"] = await client.accounts.get(rg, name)
        return out

    got = run_async(go())
    assert got["accounts"] == want_accounts
    for acct_id in want_accounts:
        assert got[acct_id]["deployments"] == ids_under(demo, Kind.DEPLOYMENT, acct_id)
        assert got[acct_id]["rai"] == ids_under(demo, Kind.RAI_POLICY, acct_id)
        assert got[acct_id]["projects"] == ids_under(demo, Kind.PROJECT, acct_id)
        assert got[acct_id]["defender"] == ids_under(demo, Kind.DEFENDER_AI_SETTING, acct_id)
    first = want_accounts[0]
    assert got["one_dep"].id == ids_under(demo, Kind.DEPLOYMENT, first)[-1]
    assert got["one_rai"].id == ids_under(demo, Kind.RAI_POLICY, first)[0]
    assert got["one_rai"].properties.content_filters  # the body made it through the SDK's models
    assert got["one_acct"].id == first and got["one_acct"].kind == "AIServices"


def test_paging_returns_everything_exactly_once_through_the_sdk_pager(
    shared: ArmEmulator, demo: Scenario
) -> None:
    acct_id = first_account_with(demo, 7)
    sub, rg, name = split_account(acct_id)
    want = ids_under(demo, Kind.DEPLOYMENT, acct_id)

    async def go():
        async with (
            EmulatorCredential(shared) as cred,
            CognitiveServicesManagementClient(cred, sub, **sdk_kwargs(shared)) as client,
        ):
            return [d.id async for d in client.deployments.list(rg, name)]

    got = run_async(go())
    assert got == want and len(set(got)) == len(got)
    pages = [r for r in shared.requests if r.path.endswith(f"/{name}/deployments")]
    assert len(pages) == math.ceil(len(want) / PAGE)
    assert ["$skiptoken" in r.query for r in pages] == [False] + [True] * (len(pages) - 1)
    assert all(r.query.get("api-version") for r in pages)  # the SDK re-adds it to every nextLink


def test_policy_assignments_and_the_initiative(shared: ArmEmulator, demo: Scenario) -> None:
    sub = demo.subscription_ids()[0]
    want = ids_under(demo, Kind.POLICY_ASSIGNMENT, f"/subscriptions/{sub}")
    rg_scoped = [i for i in want if "/resourcegroups/" in i.lower()]
    assert rg_scoped, "the demo has a resource-group-scoped guardrail policy"

    async def go():
        async with (
            EmulatorCredential(shared) as cred,
            PolicyClient(cred, sub, **sdk_kwargs(shared)) as client,
        ):
            everything = [a.id async for a in client.policy_assignments.list()]
            at_scope = [a.id async for a in client.policy_assignments.list(filter="atScope()")]
            initiative = await client.policy_set_definitions.get_built_in(INITIATIVE_NAME)
            by_definition = [
                a.id
                async for a in client.policy_assignments.list(
                    filter=f"policyDefinitionId eq '{INITIATIVE_ID}'"
                )
            ]
            return everything, at_scope, initiative, by_definition

    everything, at_scope, initiative, by_definition = run_async(go())
    assert everything == want  # includes the resource-group-scoped ones
    # ARM semantics: atScope() leaves out assignments made *inside* the scope (resource groups).
    assert at_scope == [i for i in want if i not in rg_scoped]
    assert initiative.id == INITIATIVE_ID and initiative.display_name.startswith("[Preview]: Guardrail")
    guardrails = [
        b["id"]
        for b in bodies(demo, Kind.POLICY_ASSIGNMENT)
        if b["properties"]["policyDefinitionId"] == INITIATIVE_ID and b["id"] in want
    ]
    assert by_definition == guardrails


def test_policy_states_query_with_filter_select_and_paging(shared: ArmEmulator, demo: Scenario) -> None:
    sub = demo.subscription_ids()[0]
    states = [
        r.body for r in demo.of_kind(Kind.POLICY_STATE) if f"/subscriptions/{sub}/" in r.body["resourceId"]
    ]
    initiative_filter = f"policySetDefinitionId eq '{INITIATIVE_ID.upper()}'"  # ids are case-insensitive
    select = ",".join(POLICY_STATE_FIELDS)

    async def go():
        async with (
            EmulatorCredential(shared) as cred,
            PolicyInsightsClient(cred, sub, **sdk_kwargs(shared)) as client,
        ):
            ops = client.policy_states
            every = [
                s
                async for s in ops.list_query_results_for_subscription(
                    "latest", sub, query_options=QueryOptions(filter=initiative_filter, select=select)
                )
            ]
            bad = [
                s
                async for s in ops.list_query_results_for_subscription(
                    "latest",
                    sub,
                    query_options=QueryOptions(
                        filter=f"{initiative_filter} and complianceState eq 'NonCompliant'",
                        select="resourceId",
                    ),
                )
            ]
            top = [
                s
                async for s in ops.list_query_results_for_subscription(
                    "latest", sub, query_options=QueryOptions(top=4)
                )
            ]
            summary = await ops.summarize_for_subscription("latest", sub)
            return every, bad, top, summary

    every, bad, top, summary = run_async(go())
    fields = (
        "resourceId",
        "policyAssignmentId",
        "policyDefinitionReferenceId",
        "complianceState",
        "timestamp",
    )
    assert [
        (
            s.resource_id,
            s.policy_assignment_id,
            s.policy_definition_reference_id,
            s.compliance_state,
            s.timestamp,
        )
        for s in every
    ] == [tuple(b[f] for f in fields[:4]) + (isodate.parse_datetime(b["timestamp"]),) for b in states]
    assert len(bad) == sum(b["complianceState"] == "NonCompliant" for b in states)
    assert all(s.compliance_state is None and s.policy_assignment_id is None for s in bad)  # $select honoured
    assert len(top) == 4
    posts = [r for r in shared.requests if r.path.endswith("/queryResults")]
    assert all(r.method == "POST" for r in posts)
    assert sum("$skiptoken" in r.query for r in posts) >= math.ceil(len(states) / PAGE) - 1
    nc_resources = {b["resourceId"] for b in states if b["complianceState"] == "NonCompliant"}
    assert summary.value[0].results.non_compliant_resources == len(nc_resources)
    assert {a.policy_assignment_id for a in summary.value[0].policy_assignments} == {
        b["policyAssignmentId"] for b in states
    }


def test_policy_states_raw_shape_matches_the_published_example(shared: ArmEmulator, demo: Scenario) -> None:
    sub = demo.subscription_ids()[0]
    path = (
        f"/subscriptions/{sub}/providers/Microsoft.PolicyInsights/policyStates/latest/queryResults"
        "?api-version=2019-10-01&$select=resourceId,complianceState"
    )
    status, headers, body = run_async(raw(shared, "POST", path))
    page = orjson.loads(body)
    example = json.loads(
        (
            EXAMPLES / "policyinsights/PolicyStates_QueryResourceGroupLevelPolicyAssignmentScope.json"
        ).read_text()
    )["responses"]["200"]["body"]
    assert status == 200
    assert set(example) <= set(page) and "@odata.nextLink" in page
    assert page["@odata.count"] == len(page["value"]) == PAGE
    assert all(set(v) == {"resourceId", "complianceState"} for v in page["value"])
    assert page["@odata.nextLink"].startswith(shared.url) and "%24skiptoken=" not in page["@odata.nextLink"]
    assert "$skiptoken=" in page["@odata.nextLink"] and "select=" in page["@odata.nextLink"]


def test_security_endpoints(shared: ArmEmulator, demo: Scenario) -> None:
    sub = demo.subscription_ids()[0]

    async def go():
        async with (
            EmulatorCredential(shared) as cred,
            SecurityCenter(cred, sub, **sdk_kwargs(shared)) as client,
        ):
            out = {
                "assessments": [a.id async for a in client.assessments.list(scope=f"/subscriptions/{sub}")],
                "metadata": [m.id async for m in client.assessments_metadata.list()],
                "metadata_sub": [m.name async for m in client.assessments_metadata.list_by_subscription()],
                "alerts": [a.id async for a in client.alerts.list()],
                "pricing": await client.pricings.get(scope_id=f"subscriptions/{sub}", pricing_name="AI"),
                "pricings": await client.pricings.list(scope_id=f"subscriptions/{sub}"),
            }
            try:
                await client.pricings.get(scope_id=f"subscriptions/{sub}", pricing_name="VirtualMachines")
            except ResourceNotFoundError as exc:
                out["missing"] = exc
            return out

    got = run_async(go())
    assert got["assessments"] == [
        r.id for r in demo.of_kind(Kind.ASSESSMENT) if r.scope == f"/subscriptions/{sub}"
    ]
    assert got["metadata"] == [b["id"] for b in bodies(demo, Kind.ASSESSMENT_METADATA)]
    assert got["metadata_sub"] == [b["name"] for b in bodies(demo, Kind.ASSESSMENT_METADATA)]
    assert got["alerts"] == ids_under(demo, Kind.ALERT, f"/subscriptions/{sub}")
    ai = next(
        b
        for b in bodies(demo, Kind.PRICING)
        if b["id"] == f"/subscriptions/{sub}/providers/Microsoft.Security/pricings/AI"
    )
    assert got["pricing"].pricing_tier == ai["properties"]["pricingTier"]
    assert [p.id for p in got["pricings"].value] == [ai["id"]]
    assert got["missing"].status_code == 404 and got["missing"].error.code == "NotFound"


def test_send_request_goes_through_the_same_pipeline(shared: ArmEmulator, demo: Scenario) -> None:
    """Raw bodies via the SDK's own pipeline are byte-for-byte what the scenario holds."""
    acct = demo.of_kind(Kind.ACCOUNT)[0]
    sub = acct.id.split("/")[2]

    async def go():
        async with (
            EmulatorCredential(shared) as cred,
            CognitiveServicesManagementClient(cred, sub, **sdk_kwargs(shared)) as client,
        ):
            resp = await client._send_request(HttpRequest("GET", f"{acct.id}?api-version=2025-09-01"))
            return resp.status_code, resp.json(), resp.headers

    status, body, headers = run_async(go())
    assert status == 200 and body == acct.body
    assert headers["Content-Type"] == "application/json; charset=utf-8"


# ------------------------------------------------------------------------------- exact round trip


def test_capture_snapshot_emulator_capture_round_trips_exactly(demo: Scenario, tmp_path: Path) -> None:
    with ArmEmulator(demo, page_size=PAGE) as first:
        records, requests = run_async(crawl(first.url, first.ca_file, first.mint_token()))
    assert canonical(records) == canonical(demo.records)
    assert requests == len(first.requests)
    path = tmp_path / "captured.fcsnap"
    write_snapshot(path, demo.meta, records)
    with ArmEmulator(Scenario.from_snapshot(path), page_size=7) as second:
        again, _ = run_async(crawl(second.url, second.ca_file, second.mint_token()))
    assert canonical(again) == canonical(demo.records)


def test_synthetic_scenario_is_a_valid_large_tenant_and_round_trips() -> None:
    scenario = Scenario.synthetic(subscriptions=3, accounts_per_sub=4, deployments_per_account=5)
    inv = Inventory.build(scenario.meta, scenario.records)
    assert inv.errors == []
    assert len(inv.subscriptions) == 3 and len(inv.accounts) == 12 and len(inv.deployments) == 60
    assert all(a.kind == "AIServices" and a.allow_project_management for a in inv.accounts.values())
    assert all(
        len(inv.projects_of(a.id)) == 2 and len(inv.account_guardrails(a.id)) == 2
        for a in inv.accounts.values()
    )
    assert len(inv.ai_settings) == 12 and len(inv.plans) == 3 and len(inv.alerts) == 3
    assert len(inv.policies) == 3 and inv.state_count >= 60 and inv.recommendations
    assert Scenario.synthetic(2, 2, 2).records == Scenario.synthetic(2, 2, 2).records  # deterministic
    with ArmEmulator(scenario, page_size=4) as emulator:
        records, _ = run_async(crawl(emulator.url, emulator.ca_file, emulator.mint_token()))
    assert canonical(records) == canonical(scenario.records)


def test_default_synthetic_size_matches_the_benchmark_brief() -> None:
    scenario = Scenario.synthetic()
    kinds = Counter(str(r.kind) for r in scenario.records)
    assert kinds["subscription"] == 20 and kinds["account"] == 200 and kinds["deployment"] == 2000
    assert kinds["policy_assignment"] == 20 and kinds["pricing"] == 20 and kinds["project"] == 400


# ------------------------------------------------------------------------------- published examples


def test_every_published_example_is_served_or_deliberately_skipped() -> None:
    files = {str(p.relative_to(EXAMPLES)) for p in EXAMPLES.rglob("*.json")}
    builtins_not_served = {f for f in files if f.startswith("policy-builtins/") and "policySet_" not in f}
    assert files == set(examples_served()) | set(EXAMPLES_NOT_SERVED) | builtins_not_served


def test_published_examples_are_served_unchanged_and_normalise(tmp_path: Path) -> None:
    scenario = Scenario.from_examples(EXAMPLES)
    by_kind: dict[Kind, list[RawRecord]] = {}
    for rec in scenario.records:
        by_kind.setdefault(Kind(rec.kind), []).append(rec)
    assert set(by_kind) == set(Kind)  # every kind the snapshot knows has a published example

    def list_path(rec: RawRecord) -> tuple[str, str]:
        kind, sub = Kind(rec.kind), rec.scope.split("/")[-1]
        s = f"/subscriptions/{sub}"
        return {
            Kind.SUBSCRIPTION: ("GET", "/subscriptions"),
            Kind.RESOURCE_GROUP: ("GET", f"{s}/resourcegroups"),
            Kind.ACCOUNT: ("GET", f"{s}/providers/Microsoft.CognitiveServices/accounts"),
            Kind.PROJECT: ("GET", f"{rec.scope}/projects"),
            Kind.DEPLOYMENT: ("GET", f"{rec.scope}/deployments"),
            Kind.RAI_POLICY: ("GET", f"{rec.scope}/raiPolicies"),
            Kind.DEFENDER_AI_SETTING: ("GET", f"{rec.scope}/defenderForAISettings"),
            Kind.POLICY_ASSIGNMENT: ("GET", f"{s}/providers/Microsoft.Authorization/policyAssignments"),
            Kind.POLICY_SET_DEFINITION: ("GET", rec.id),
            Kind.POLICY_STATE: (
                "POST",
                f"{s}/providers/Microsoft.PolicyInsights/policyStates/latest/queryResults",
            ),
            Kind.ASSESSMENT: ("GET", f"{s}/providers/Microsoft.Security/assessments"),
            Kind.ASSESSMENT_METADATA: ("GET", "/providers/Microsoft.Security/assessmentMetadata"),
            Kind.ALERT: ("GET", f"{s}/providers/Microsoft.Security/alerts"),
            Kind.PRICING: ("GET", rec.id),
        }[kind]

    async def fetch_all(emulator: ArmEmulator) -> dict[tuple[str, str], list[dict[str, Any]]]:
        token = emulator.mint_token()
        out: dict[tuple[str, str], list[dict[str, Any]]] = {}
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx_for(emulator))) as session:
            for method, path in {list_path(r) for r in scenario.records}:
                url: str | None = f"{emulator.url}{path.lstrip('/')}?api-version=2099-01-01"
                items: list[dict[str, Any]] = []
                while url:
                    async with session.request(
                        method, url, headers={"Authorization": f"Bearer {token}"}
                    ) as resp:
                        assert resp.status == 200, (path, await resp.text())
                        page = await resp.json()
                    if "value" not in page:
                        items.append(page)
                        break
                    items += page["value"]
                    url = page.get("nextLink") or page.get("@odata.nextLink")
                out[(method, path)] = items
        return out

    with ArmEmulator(scenario, page_size=2) as emulator:
        served = run_async(fetch_all(emulator))
    # Every example body is served unchanged, where a client would list it.
    served_records: list[RawRecord] = []
    for rec in scenario.records:
        assert rec.body in served[list_path(rec)], f"{rec.kind} {rec.id} not served unchanged"
    for (_, path), items in served.items():
        kind = next(Kind(r.kind) for r in scenario.records if list_path(r)[1] == path)
        for body in items:
            rid = policy_state_key(body) if kind == Kind.POLICY_STATE else body["id"]
            served_records.append(RawRecord(kind, rid, body, ""))
    assert canonical([RawRecord(r.kind, r.id, r.body, "") for r in served_records]) == canonical(
        [RawRecord(r.kind, r.id, r.body, "") for r in scenario.records]
    )
    inv = Inventory.build(scenario.meta, served_records)
    assert inv.errors == []
    assert inv.deployments and inv.guardrails and inv.policies == [] and inv.other_assignments == 1
    assert inv.state_count == len(by_kind[Kind.POLICY_STATE]) and inv.recommendations and inv.alerts


# ------------------------------------------------------------------------------- protocol details


def test_headers_errors_and_case_insensitive_paths(shared: ArmEmulator, demo: Scenario) -> None:
    sub = demo.subscription_ids()[0]
    acct = ids_under(demo, Kind.ACCOUNT, f"/subscriptions/{sub}")[0]

    async def go():
        return {
            "ok": await raw(shared, "GET", f"{acct.upper()}/DEPLOYMENTS?API-VERSION=2025-09-01"),
            "no_version": await raw(shared, "GET", f"/subscriptions/{sub}/resourcegroups"),
            "unknown": await raw(
                shared, "GET", f"/subscriptions/{sub}/providers/Microsoft.Nope/things?api-version=1"
            ),
            "no_sub": await raw(
                shared,
                "GET",
                "/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups?api-version=1",
            ),
            "no_acct": await raw(shared, "GET", f"{acct}-gone/deployments?api-version=1"),
            "bad_token": await raw(shared, "GET", f"{acct}/deployments?api-version=1&$skiptoken=Zm9vYmFy"),
        }

    got = run_async(go())
    status, headers, body = got["ok"]
    assert status == 200
    assert [d["id"] for d in orjson.loads(body)["value"]] == ids_under(demo, Kind.DEPLOYMENT, acct)[:PAGE]
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert headers["x-ms-request-id"] and int(headers["x-ms-ratelimit-remaining-subscription-reads"]) >= 0
    expected = {
        "no_version": (400, "MissingApiVersionParameter"),
        "unknown": (404, "InvalidResourceType"),
        "no_sub": (404, "SubscriptionNotFound"),
        "no_acct": (404, "ResourceNotFound"),
        "bad_token": (400, "InvalidSkipToken"),
    }
    for name, (want_status, want_code) in expected.items():
        status, headers, body = got[name]
        assert (status, orjson.loads(body)["error"]["code"]) == (want_status, want_code), name
        assert headers["Content-Type"] == "application/json; charset=utf-8" and headers["x-ms-request-id"]


def test_missing_or_malformed_bearer_is_401(shared: ArmEmulator) -> None:
    async def go():
        return [
            await raw(shared, "GET", "/subscriptions?api-version=1", token=None),
            await raw(
                shared,
                "GET",
                "/subscriptions?api-version=1",
                token=None,
                headers={"Authorization": "Basic eDp5"},
            ),
        ]

    for status, headers, body in run_async(go()):
        assert status == 401
        assert orjson.loads(body)["error"]["code"] == "AuthenticationFailed"
        assert headers["WWW-Authenticate"].startswith("Bearer ")
    assert shared.count(status=401) == 2


def test_expired_token_is_401_and_the_sdk_raises_client_authentication_error(
    shared: ArmEmulator, demo: Scenario
) -> None:
    sub = demo.subscription_ids()[0]

    async def go():
        async with EmulatorCredential(shared, token=shared.mint_token(expires_in=-1)) as cred:
            async with SubscriptionClient(cred, **sdk_kwargs(shared)) as client:
                await client.subscriptions.get(sub)

    with pytest.raises(ClientAuthenticationError) as info:
        run_async(go())
    assert info.value.status_code == 401 and info.value.error.code == "ExpiredAuthenticationToken"
    assert shared.count(status=401, fault="expired_token") == 1  # not retried


def test_token_lifetime_override_and_strict_tokens(demo: Scenario) -> None:
    strict = Scenario(demo.meta, demo.records, accept_any_token=False)
    with ArmEmulator(strict, faults=Faults(token_lifetime_s=0)) as emulator:
        born_expired = emulator.mint_token()
        emulator.faults.token_lifetime_s = None
        fresh = emulator.mint_token()
        forged = fresh[:-4] + ("AAAA" if not fresh.endswith("AAAA") else "BBBB")

        async def go():
            path = "/subscriptions?api-version=1"
            return [
                await raw(emulator, "GET", path, token=t)
                for t in (born_expired, fresh, forged, "az-cli-token")
            ]

        (s1, _, b1), (s2, _, _), (s3, _, b3), (s4, _, b4) = run_async(go())
    assert (s1, orjson.loads(b1)["error"]["code"]) == (401, "ExpiredAuthenticationToken")
    assert s2 == 200
    assert (s3, orjson.loads(b3)["error"]["code"]) == (401, "InvalidAuthenticationToken")
    assert (s4, orjson.loads(b4)["error"]["code"]) == (401, "InvalidAuthenticationToken")
    with ArmEmulator(demo) as lenient:  # accept_any_token=True (default): a real az CLI token works
        assert run_async(raw(lenient, "GET", "/subscriptions?api-version=1", token="az-cli-token"))[0] == 200
        assert lenient.requests[-1].principal == "external token"


def test_token_is_checked_on_arrival_not_after_the_latency(demo: Scenario) -> None:
    """A token valid when the request arrives is accepted even if it expires while ARM works."""
    with ArmEmulator(demo, faults=Faults(latency_ms=800)) as emulator:
        token = emulator.mint_token(expires_in=0.5)
        status, _, _ = run_async(raw(emulator, "GET", "/subscriptions?api-version=1", token=token))
        took = emulator.requests[0].duration_s
    assert status == 200 and took >= 0.8


def test_minted_tokens_are_jwt_shaped_with_useful_claims(shared: ArmEmulator, demo: Scenario) -> None:
    import base64

    payload = shared.mint_token(expires_in=60, principal="alice@contoso.com").split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["upn"] == "alice@contoso.com" and claims["tid"] == demo.meta.tenant_id
    assert 50 < claims["exp"] - time.time() <= 60.01 and claims["aud"] == shared.url


def test_forbidden_subscription_is_403_authorization_failed(demo: Scenario) -> None:
    forbidden, allowed = demo.subscription_ids()[:2]

    async def accounts(emulator: ArmEmulator, sub: str) -> list[str]:
        async with (
            EmulatorCredential(emulator) as cred,
            CognitiveServicesManagementClient(cred, sub, **sdk_kwargs(emulator)) as client,
        ):
            return [a.id async for a in client.accounts.list()]

    with ArmEmulator(demo, faults=Faults(forbidden_subscriptions={forbidden.upper()})) as emulator:
        with pytest.raises(HttpResponseError) as info:
            run_async(accounts(emulator, forbidden))
        assert run_async(accounts(emulator, allowed)) == ids_under(
            demo, Kind.ACCOUNT, f"/subscriptions/{allowed}"
        )
        assert run_async(raw(emulator, "GET", "/subscriptions?api-version=1"))[0] == 200  # still listed
        assert emulator.faults.counts["forbidden"] == 1
    assert info.value.status_code == 403 and info.value.error.code == "AuthorizationFailed"
    assert forbidden in info.value.error.message


# ------------------------------------------------------------------------------- faults vs the SDK


async def deployments(emulator: ArmEmulator, acct_id: str, **client_kwargs: Any) -> list[str]:
    sub, rg, name = split_account(acct_id)
    async with (
        EmulatorCredential(emulator) as cred,
        CognitiveServicesManagementClient(cred, sub, **sdk_kwargs(emulator, **client_kwargs)) as client,
    ):
        return [d.id async for d in client.deployments.list(rg, name)]


async def policy_states(emulator: ArmEmulator, sub: str, **client_kwargs: Any) -> list[Any]:
    async with (
        EmulatorCredential(emulator) as cred,
        PolicyInsightsClient(cred, sub, **sdk_kwargs(emulator, **client_kwargs)) as client,
    ):
        return [s async for s in client.policy_states.list_query_results_for_subscription("latest", sub)]


def test_get_429_with_retry_after_is_retried_by_azure_core_after_waiting(demo: Scenario) -> None:
    acct = demo.of_kind(Kind.ACCOUNT)[0].id
    rule = Rule(path="/deployments", times=1, retry_after=1, method="GET")
    with ArmEmulator(demo, faults=Faults(throttle=[rule])) as emulator:
        started = time.monotonic()
        got = run_async(deployments(emulator, acct))
        elapsed = time.monotonic() - started
        log = [(r.status, r.fault) for r in emulator.requests]
    assert got == ids_under(demo, Kind.DEPLOYMENT, acct)
    assert log == [(429, "throttle"), (200, "")]
    assert elapsed >= 1.0, elapsed
    assert (rule.matched, rule.fired, rule.exhausted) == (1, 1, True)


def test_post_429_without_retry_after_is_not_retried_by_azure_core(demo: Scenario) -> None:
    """The capture must retry policy-state queries itself: azure-core retries a POST 429 only when it
    carries ``Retry-After`` (and ``retry-after-ms`` alone does not count)."""
    sub = demo.subscription_ids()[0]
    for rule in (Rule(path="/queryResults", method="POST"), Rule(path="/queryResults", retry_after_ms=200)):
        with ArmEmulator(demo, faults=Faults(throttle=rule)) as emulator:
            with pytest.raises(HttpResponseError) as info:
                run_async(policy_states(emulator, sub))
            assert info.value.status_code == 429
            assert info.value.error.code == "SubscriptionRequestsThrottled"
            assert emulator.count("/queryResults") == 1  # exactly one request: no retry
    with ArmEmulator(demo, faults=Faults(throttle=Rule(path="/queryResults", retry_after=0.2))) as emulator:
        assert run_async(policy_states(emulator, sub))  # with Retry-After it is retried
        assert [r.status for r in emulator.requests] == [429, 200]


def test_get_429_with_only_retry_after_ms_is_retried_and_waits(demo: Scenario) -> None:
    acct = demo.of_kind(Kind.ACCOUNT)[0].id
    with ArmEmulator(demo, faults=Faults(throttle=Rule(path="/deployments", retry_after_ms=400))) as emulator:
        started = time.monotonic()
        assert run_async(deployments(emulator, acct))
        assert time.monotonic() - started >= 0.4
        assert [r.status for r in emulator.requests] == [429, 200]


def test_server_errors_are_retried_for_get_and_even_for_post(demo: Scenario) -> None:
    acct = demo.of_kind(Kind.ACCOUNT)[0].id
    sub = acct.split("/")[2]
    faults = Faults(
        server_errors=[
            Rule(path="/deployments", status=503, times=2, retry_after=0),
            Rule(path="/queryResults", status=500, times=1),
        ]
    )
    with ArmEmulator(demo, faults=faults) as emulator:
        assert run_async(deployments(emulator, acct)) == ids_under(demo, Kind.DEPLOYMENT, acct)
        assert run_async(policy_states(emulator, sub))  # azure-core retries POST on 500/503/504
        assert [(r.status, r.fault) for r in emulator.requests] == [
            (503, "server_errors"),
            (503, "server_errors"),
            (200, ""),
            (500, "server_errors"),
            (200, ""),
        ]
    assert faults.counts["server_errors"] == 3


def test_malformed_json_breaks_only_that_accounts_deployments(demo: Scenario) -> None:
    accounts = [r.id for r in demo.of_kind(Kind.ACCOUNT)][:3]
    bad = accounts[1]
    faults = Faults(malformed=[Rule(path=f"{bad}/deployments", times=None)])

    async def go(emulator: ArmEmulator) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for acct in accounts:
            try:
                out[acct] = await deployments(emulator, acct)
            except (DecodeError, DeserializationError) as exc:
                out[acct] = exc
        return out

    with ArmEmulator(demo, faults=faults) as emulator:
        got = run_async(go(emulator))
    assert isinstance(got[bad], DecodeError)  # truncated JSON → azure.core DecodeError
    for acct in accounts:
        if acct != bad:
            assert got[acct] == ids_under(demo, Kind.DEPLOYMENT, acct)
    assert faults.counts["malformed"] == 1


@pytest.mark.parametrize(
    ("mode", "error"),
    [("invalid", DecodeError), ("html", DeserializationError), ("empty", AttributeError)],
)
def test_other_malformed_bodies_and_what_the_sdk_raises(
    demo: Scenario, mode: str, error: type[Exception]
) -> None:
    """An empty 200 body makes the SDK pager fail with a bare AttributeError: catch broadly."""
    acct = demo.of_kind(Kind.ACCOUNT)[0].id
    with ArmEmulator(demo, faults=Faults(malformed=Rule(path="/deployments", mode=mode))) as emulator:
        with pytest.raises(error):
            run_async(deployments(emulator, acct))


def test_dropped_connection_surfaces_as_service_error(demo: Scenario) -> None:
    """aiohttp (≥ 3.10) itself resends an idempotent request once when the server disconnects, so a
    single dropped GET is invisible; a dropped POST is not resent by anyone."""
    acct = demo.of_kind(Kind.ACCOUNT)[0].id
    sub = acct.split("/")[2]
    with ArmEmulator(demo, faults=Faults(drop=Rule(path="/deployments", times=2))) as emulator:
        with pytest.raises((ServiceRequestError, ServiceResponseError)):
            run_async(deployments(emulator, acct, retry_total=0))
        assert emulator.count("/deployments", fault="drop") == 2
    with ArmEmulator(demo, faults=Faults(drop=Rule(path="/deployments", times=3))) as emulator:
        assert run_async(deployments(emulator, acct)) == ids_under(
            demo, Kind.DEPLOYMENT, acct
        )  # azure-core retried
    with ArmEmulator(demo, faults=Faults(drop=Rule(path="/queryResults"))) as emulator:
        with pytest.raises((ServiceRequestError, ServiceResponseError)):
            run_async(policy_states(emulator, sub))
        assert emulator.count("/queryResults") == 1


def test_hang_makes_a_client_with_a_small_read_timeout_time_out(demo: Scenario) -> None:
    acct = demo.of_kind(Kind.ACCOUNT)[0].id
    with ArmEmulator(demo, faults=Faults(hang=Rule(path="/deployments"))) as emulator:
        started = time.monotonic()
        with pytest.raises(ServiceResponseError):
            run_async(deployments(emulator, acct, retry_total=0, read_timeout=0.5, connection_timeout=2))
        assert 0.5 <= time.monotonic() - started < 10
        assert emulator.requests[0].fault == "hang" and emulator.requests[0].status == 0


def test_hang_is_bounded_and_released_by_stop(demo: Scenario) -> None:
    acct = demo.of_kind(Kind.ACCOUNT)[0].id
    # Bounded: the server closes the connection after hold_s; azure-core then retries and succeeds.
    with ArmEmulator(demo, faults=Faults(hang=Rule(path="/deployments", hold_s=0.3))) as emulator:
        started = time.monotonic()
        assert run_async(deployments(emulator, acct)) == ids_under(demo, Kind.DEPLOYMENT, acct)
        assert 0.3 <= time.monotonic() - started < 10

    # Released by stop(): a request held for up to 60 s ends as soon as the emulator stops.
    emulator = ArmEmulator(demo, faults=Faults(hang=Rule(path="/subscriptions", hold_s=60))).start()

    async def held() -> tuple[float, BaseException | None]:
        task = asyncio.ensure_future(raw(emulator, "GET", "/subscriptions?api-version=1"))
        deadline = time.monotonic() + 10
        while not emulator.count(fault="hang") and time.monotonic() < deadline:
            await asyncio.sleep(0.01)  # waits for a condition (the server saw the request)
        assert emulator.count(fault="hang") == 1
        started = time.monotonic()
        await asyncio.get_running_loop().run_in_executor(None, emulator.stop)
        try:
            await asyncio.wait_for(task, 10)
        except (aiohttp.ClientError, ConnectionError) as exc:
            return time.monotonic() - started, exc
        return time.monotonic() - started, None

    took, error = run_async(held())
    assert error is not None and took < 5


def test_rate_limit_bucket_throttles_like_arm(demo: Scenario) -> None:
    sub = demo.subscription_ids()[0]
    with ArmEmulator(demo, faults=Faults(rate_limit=(3, 0.5))) as emulator:

        async def go():
            return [
                await raw(emulator, "GET", f"/subscriptions/{sub}/resourcegroups?api-version=1")
                for _ in range(4)
            ]

        answers = run_async(go())
    remaining = [int(h["x-ms-ratelimit-remaining-subscription-reads"]) for _, h, _ in answers]
    assert [s for s, _, _ in answers] == [200, 200, 200, 429]
    assert remaining == [2, 1, 0, 0]
    assert orjson.loads(answers[3][2])["error"]["code"] == "SubscriptionRequestsThrottled"
    assert int(answers[3][1]["Retry-After"]) >= 1
    assert emulator.faults.counts["rate_limited"] == 1


def test_fault_rules_are_deterministic_and_parse_from_text() -> None:
    def fired(seed: int) -> list[bool]:
        faults = Faults(throttle=Rule(path="/x", probability=0.5, times=None), seed=seed)
        return [faults.pick("throttle", "GET", "/a/x") is not None for _ in range(40)]

    assert fired(7) == fired(7) and fired(7) != fired(8) and 5 < sum(fired(7)) < 35
    faults = Faults(server_errors=Rule(path="re:/accounts/[^/]+/deployments$", skip=1, times=1, method="get"))
    picks = [
        faults.pick("server_errors", m, p) is not None
        for m, p in [
            ("GET", "/s/accounts/a/deployments"),
            ("POST", "/s/accounts/a/deployments"),
            ("GET", "/s/accounts/a/deployments/x"),
            ("GET", "/s/ACCOUNTS/b/Deployments"),
            ("GET", "/s/accounts/c/deployments"),
        ]
    ]
    assert picks == [False, False, False, True, False]  # skip the first match, fire once, GET only
    rule = Rule.parse("/deployments,times=2,retry_after=1.5,method=GET,retry_after_ms=none")
    assert (rule.path, rule.times, rule.retry_after, rule.method, rule.retry_after_ms) == (
        "/deployments",
        2,
        1.5,
        "GET",
        None,
    )
    assert Rule.parse("/x,times=all").times is None
    with pytest.raises(ValueError):
        Rule.parse("/x,bogus=1")
    with pytest.raises(ValueError):
        Rule(mode="sideways")


def test_odata_filter_subset() -> None:
    rec = {
        "compliancestate": "NonCompliant",
        "policysetdefinitionid": "/Providers/X",
        "iscompliant": False,
        "n": 3,
    }
    assert parse_filter("complianceState eq 'noncompliant'")(rec)
    assert parse_filter("policySetDefinitionId eq '/providers/x' and complianceState eq 'NonCompliant'")(rec)
    assert not parse_filter("complianceState ne 'NonCompliant'")(rec)
    assert parse_filter("(complianceState eq 'Compliant' or IsCompliant eq false) and not n eq 4")(rec)
    assert parse_filter("missing eq null and n eq 3")(rec)
    assert parse_filter("policySetDefinitionId eq 'it''s'")({"policysetdefinitionid": "It's"})
    for bad in ("complianceState gt 'a'", "startswith(resourceId, 'x')", "complianceState eq", "a eq 'b' c"):
        with pytest.raises(FilterError):
            parse_filter(bad)


# ------------------------------------------------------------------------------- plumbing


def test_run_async_works_from_inside_a_running_loop_and_propagates_errors() -> None:
    async def inner() -> int:
        return 42

    async def outer() -> int:
        assert asyncio.get_running_loop().is_running()
        return run_async(inner())  # a loop is running in this thread: still fine

    assert run_async(outer()) == 42

    async def boom() -> None:
        raise KeyError("x")

    with pytest.raises(KeyError):
        run_async(boom())


def test_standalone_entry_point_serves_and_stops_on_sigterm(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.arm_emulator", "--scenario", "demo", "--port", "0", "--page-size", "2"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        assert ready, "no JSON line within 60 s"
        info = json.loads(proc.stdout.readline())
        assert set(info) == {"url", "ca_file", "token"} and info["url"].startswith("https://127.0.0.1:")

        async def fetch() -> list[str]:
            ctx = ssl.create_default_context(cafile=info["ca_file"])
            ids: list[str] = []
            url: str | None = info["url"] + "subscriptions?api-version=2022-12-01"
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx)) as session:
                while url:
                    async with session.get(url, headers={"Authorization": f"Bearer {info['token']}"}) as resp:
                        assert resp.status == 200
                        page = await resp.json()
                    ids += [s["subscriptionId"] for s in page["value"]]
                    url = page.get("nextLink")
            return ids

        assert run_async(fetch()) == Scenario.demo().subscription_ids()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        stderr = proc.stderr.read()
        assert "fcdesk capture --arm-endpoint" in stderr and "FCDESK_ACCESS_TOKEN=" in stderr
        assert not Path(info["ca_file"]).exists()  # the throw-away CA is cleaned up
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        proc.stdout.close()
        proc.stderr.close()


def test_throughput_500_concurrent_gets_with_40ms_latency() -> None:
    scenario = Scenario.synthetic(subscriptions=20, accounts_per_sub=2, deployments_per_account=2)
    subs = scenario.subscription_ids()
    with ArmEmulator(scenario, faults=Faults(latency_ms=40)) as emulator:
        token = emulator.mint_token()

        async def blast() -> tuple[float, Counter[int]]:
            connector = aiohttp.TCPConnector(ssl=ctx_for(emulator), limit=0)
            async with aiohttp.ClientSession(
                connector=connector, headers={"Authorization": f"Bearer {token}"}
            ) as s:

                async def one(i: int) -> int:
                    sub = subs[i % len(subs)]
                    url = f"{emulator.url}subscriptions/{sub}/providers/{CS_ACCOUNTS}?api-version=1"
                    async with s.get(url) as resp:
                        await resp.read()
                        return resp.status

                started = time.perf_counter()
                statuses = await asyncio.gather(*(one(i) for i in range(500)))
                return time.perf_counter() - started, Counter(statuses)

        seconds, statuses = run_async(blast())
        peak_in_flight = _peak_overlap(emulator.requests)
    print(
        f"\n500 concurrent GETs (40 ms latency, 500 new TLS connections): {seconds:.2f} s, "
        f"{500 / seconds:.0f} req/s, peak overlap {peak_in_flight}"
    )
    assert statuses == Counter({200: 500})
    assert seconds < 3.0
    assert peak_in_flight >= 50  # requests really overlap (latency is awaited, not blocking)


def _peak_overlap(log: list[Any]) -> int:
    events = sorted([(r.time, 1) for r in log] + [(r.time + r.duration_s, -1) for r in log])
    peak = current = 0
    for _, delta in events:
        current += delta
        peak = max(peak, current)
    return peak


def test_meta_and_records_helpers(demo: Scenario) -> None:
    assert demo.tenant_id == demo.meta.tenant_id and "records" in repr(demo)
    scenario = Scenario.from_records(SnapshotMeta(captured_at=demo.meta.captured_at), demo.records[:5])
    assert scenario.tenant_id and scenario.accept_any_token and len(scenario.records) == 5
    with pytest.raises(ValueError):
        ArmEmulator(demo, page_size=0)
