"""The ARM write client (``fcdesk.azure.writes``) with the real SDK pipelines, against the emulator.

Writes are retried on 429 and on failures without an answer, but a 5xx only once; long-running
operations are followed on the ARM endpoint only; permissions are matched like ARM does.
"""

from __future__ import annotations

import contextlib
import importlib.util
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from fcdesk.actions import DEPLOYMENT_WRITE, POLICY_DELETE, POLICY_WRITE, RAI_POLICY_WRITE
from fcdesk.azure._http import ArmHttp, api_versions
from fcdesk.azure.clouds import custom_cloud
from fcdesk.azure.contract import TOKEN_ENV, AuthMethod, SignInOptions
from fcdesk.azure.errors import ArmError, SignInError
from fcdesk.azure.session import AzureSession
from fcdesk.azure.writes import (
    PERMISSIONS_API_VERSION,
    ArmWriter,
    EvaluationTrigger,
    permissions_path,
    permits,
    route,
    trigger_evaluation_path,
)
from fcdesk.core.records import Kind
from tests.arm_emulator import ArmEmulator, EmulatorCredential, Faults, Rule, Scenario, run_async


@pytest.fixture
def demo() -> Scenario:
    return Scenario.demo(scale=1)  # a fresh one per test: writes and grants change it


@contextlib.asynccontextmanager
async def writer(emu: ArmEmulator, principal: str = "tester", **kwargs: Any) -> AsyncIterator[ArmWriter]:
    cloud = custom_cloud(emu.url, ca_file=emu.ca_file)
    async with ArmHttp(EmulatorCredential(emu, principal=principal), cloud, **kwargs) as http:
        yield ArmWriter(http, poll_interval_s=0.01)


def first(demo: Scenario, kind: Kind) -> dict[str, Any]:
    return demo.of_kind(kind)[0].body


def account_of(arm_id: str) -> str:
    return arm_id.rsplit("/", 2)[0]


def rai_body() -> dict[str, Any]:
    return {
        "properties": {
            "basePolicyName": "Microsoft.DefaultV2",
            "mode": "Default",
            "contentFilters": [
                {
                    "name": "Hate",
                    "source": "Prompt",
                    "enabled": True,
                    "blocking": True,
                    "severityThreshold": "Low",
                }
            ],
        }
    }


# ------------------------------------------------------------------------------------- pure parts


def test_permits_matches_actions_as_arm_does() -> None:
    policy_contributor = [
        {"actions": ["*/read", "Microsoft.Authorization/policyassignments/*"], "notActions": []}
    ]
    assert permits(policy_contributor, POLICY_WRITE) and permits(policy_contributor, POLICY_DELETE)
    assert permits(policy_contributor, "Microsoft.CognitiveServices/accounts/read")
    assert not permits(policy_contributor, DEPLOYMENT_WRITE)
    contributor = [
        {
            "actions": ["*"],
            "notActions": ["Microsoft.Authorization/*/Write", "Microsoft.Authorization/*/Delete"],
        }
    ]
    assert permits(contributor, DEPLOYMENT_WRITE) and permits(contributor, RAI_POLICY_WRITE)
    assert not permits(contributor, POLICY_WRITE) and not permits(contributor, POLICY_DELETE)
    # notActions subtract from their own entry only: another role held at the scope still allows.
    assert permits(
        [*contributor, {"actions": ["Microsoft.Authorization/policyAssignments/write"]}], POLICY_WRITE
    )
    # "*" spans segments, but a pattern is the whole action, not a prefix.
    assert permits([{"actions": ["Microsoft.CognitiveServices/*/write"]}], RAI_POLICY_WRITE)
    assert not permits([{"actions": ["Microsoft.CognitiveServices/accounts/write"]}], RAI_POLICY_WRITE)
    assert not permits([], POLICY_WRITE)
    assert not permits([{"actions": "*"}, "garbage"], POLICY_WRITE)  # type: ignore[list-item]


def test_each_path_goes_through_its_provider_client_with_the_sdk_api_version() -> None:
    v = api_versions()
    acct = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/a"
    assert route("/subscriptions/s/providers/Microsoft.Authorization/policyAssignments/p") == (
        "policy",
        v["policy"],
    )
    assert route(f"{acct}/deployments/d") == ("cognitive", v["cognitive"])
    assert route(f"{acct}/raiPolicies/r") == ("cognitive", v["cognitive"])
    assert route(trigger_evaluation_path("/subscriptions/s")) == ("insights", v["trigger_evaluation"])
    assert v["trigger_evaluation"] == "2019-10-01"  # the pinned azure-mgmt-policyinsights' default
    assert route(permissions_path(acct)) == ("resources", PERMISSIONS_API_VERSION)
    # Why the permissions api-version is a constant: no installed package defines it.
    assert importlib.util.find_spec("azure.mgmt.authorization") is None


# ------------------------------------------------------------------------------------- permissions


def test_permissions_follow_the_callers_roles(demo: Scenario) -> None:
    sub = f"/subscriptions/{demo.subscription_ids()[0]}"
    dep_id = first(demo, Kind.DEPLOYMENT)["id"]
    demo.only("Reader").grant("Resource Policy Contributor", sub, principal="policy-admin")

    async def go() -> tuple[list[Any], list[Any]]:
        with ArmEmulator(demo) as emu:
            async with writer(emu, "reader") as arm:
                reader = await arm.permissions(sub)
            async with writer(emu, "policy-admin") as arm:
                admin = await arm.permissions(account_of(dep_id))
            assert emu.count("/providers/Microsoft.Authorization/permissions", method="GET") == 2
        return reader, admin

    reader, admin = run_async(go())
    assert permits(reader, "Microsoft.CognitiveServices/accounts/deployments/read")
    assert not permits(reader, POLICY_WRITE)
    assert permits(admin, POLICY_WRITE) and permits(admin, POLICY_DELETE)  # inherited from the subscription
    assert not permits(admin, DEPLOYMENT_WRITE) and not permits(admin, RAI_POLICY_WRITE)


# ------------------------------------------------------------------------------------- retries


def test_a_throttled_put_is_retried_after_retry_after(demo: Scenario) -> None:
    acct = account_of(first(demo, Kind.DEPLOYMENT)["id"])
    path = f"{acct}/raiPolicies/fcdesk-throttled"
    faults = Faults(throttle=Rule(path="/raiPolicies/", method="PUT", times=2, retry_after_ms=50))

    async def go() -> dict[str, Any]:
        with ArmEmulator(demo, faults=faults) as emu:
            async with writer(emu) as arm:
                stored = await arm.put(path, rai_body())
            assert emu.count("/raiPolicies/fcdesk-throttled", method="PUT") == 3
            assert emu.count(method="PUT", status=429) == 2
            assert emu.resource(path) == stored
        return stored

    stored = run_async(go())
    assert stored["properties"]["contentFilters"][0]["severityThreshold"] == "Low" and stored["etag"]


def test_a_server_error_on_put_is_retried_once_then_surfaces(demo: Scenario) -> None:
    acct = account_of(first(demo, Kind.DEPLOYMENT)["id"])
    path = f"{acct}/raiPolicies/fcdesk-failing"
    faults = Faults(server_errors=Rule(path="/raiPolicies/", method="PUT", times=None))

    async def go() -> tuple[ArmError, float, int]:
        with ArmEmulator(demo, faults=faults) as emu:
            async with writer(emu, max_retries=4) as arm:
                t0 = time.monotonic()
                with pytest.raises(ArmError) as caught:
                    await arm.put(path, rai_body())
                elapsed = time.monotonic() - t0
            assert emu.resource(path) is None
            return caught.value, elapsed, emu.count(method="PUT")

    error, elapsed, puts = run_async(go())
    assert error.status == 500 and error.code == "InternalServerError"
    assert puts == 2  # one retry, not max_retries
    assert elapsed < 3.0


def test_one_server_error_on_put_is_absorbed_but_reads_keep_their_retries(demo: Scenario) -> None:
    dep_id = first(demo, Kind.DEPLOYMENT)["id"]
    path = f"{account_of(dep_id)}/raiPolicies/fcdesk-once"
    faults = Faults(
        server_errors=[
            Rule(path="/raiPolicies/fcdesk-once", method="PUT", times=1),
            Rule(path=dep_id.rsplit("/", 1)[-1], method="GET", times=3, status=503),
        ]
    )

    async def go() -> tuple[dict[str, Any], dict[str, Any] | None, int, int]:
        with ArmEmulator(demo, faults=faults) as emu:
            async with writer(emu, max_retries=4) as arm:
                stored = await arm.put(path, rai_body())
                dep = await arm.get(dep_id)
            return stored, dep, emu.count(method="PUT"), emu.count(dep_id, method="GET")

    stored, dep, puts, gets = run_async(go())
    assert stored["name"] == "fcdesk-once" and puts == 2
    assert dep is not None and dep["id"].lower() == dep_id.lower() and gets == 4  # three 503s, then 200


def test_a_put_whose_connection_drops_is_sent_again(demo: Scenario) -> None:
    path = f"{account_of(first(demo, Kind.DEPLOYMENT)['id'])}/raiPolicies/fcdesk-dropped"
    faults = Faults(drop=Rule(path="/raiPolicies/fcdesk-dropped", method="PUT", times=1))

    async def go() -> tuple[dict[str, Any], int]:
        with ArmEmulator(demo, faults=faults) as emu:
            async with writer(emu) as arm:
                stored = await arm.put(path, rai_body())
            return stored, emu.count(method="PUT")

    stored, puts = run_async(go())
    assert stored["id"].endswith("/fcdesk-dropped") and puts == 2


# ------------------------------------------------------------------------------------- operations


def test_a_deployment_put_is_followed_to_its_end(demo: Scenario) -> None:
    dep = first(demo, Kind.DEPLOYMENT)
    body = {k: v for k, v in dep.items() if k not in ("id", "name", "type", "etag", "systemData")}
    body["properties"] = {**dep["properties"], "raiPolicyName": "Microsoft.Default"}
    body["properties"].pop("provisioningState", None)

    async def go() -> tuple[dict[str, Any], list[tuple[str, str]], dict[str, Any] | None]:
        with ArmEmulator(demo) as emu:
            emu.lro_polls = 3
            async with writer(emu) as arm:
                final = await arm.put(dep["id"], body, wait=True)
            log = [(e.method, e.path.rsplit("/", 2)[-2]) for e in emu.requests]
            return final, log, emu.resource(dep["id"])

    final, log, stored = run_async(go())
    assert final["properties"]["raiPolicyName"] == "Microsoft.Default"
    assert final["properties"]["provisioningState"] == "Succeeded"
    assert final["etag"] and final["etag"] != dep["etag"] and final == stored
    # PUT, four polls (three "InProgress", then "Succeeded"), then the resource re-read.
    assert log == [("PUT", "deployments")] + [("GET", "operationResults")] * 4 + [("GET", "deployments")]


def test_an_evaluation_is_started_without_waiting_and_can_be_awaited(demo: Scenario) -> None:
    sub = f"/subscriptions/{demo.subscription_ids()[0]}"

    async def go() -> tuple[EvaluationTrigger, int, int]:
        with ArmEmulator(demo) as emu:
            emu.lro_polls = 2
            async with writer(emu) as arm:
                trigger = await arm.start_evaluation(sub)
                polled_before = emu.count("/asyncOperationResults/")
                await arm.wait_evaluation(trigger)
            return trigger, polled_before, emu.count("/asyncOperationResults/")

    trigger, before, after = run_async(go())
    assert trigger.scope == sub and trigger.status_url and "asyncOperationResults" in trigger.status_url
    assert before == 0 and after == 3  # 202, 202, then 200


def test_a_status_link_off_the_arm_endpoint_is_never_followed(demo: Scenario) -> None:
    trigger = EvaluationTrigger(
        f"/subscriptions/{demo.subscription_ids()[0]}", "https://attacker.example/op", False
    )

    async def go() -> tuple[ArmError, int]:
        with ArmEmulator(demo) as emu:
            async with writer(emu) as arm:
                with pytest.raises(ArmError) as caught:
                    await arm.wait_evaluation(trigger)
            return caught.value, len(emu.requests)

    error, requests = run_async(go())
    assert error.code == "InvalidStatusLink" and requests == 0


def test_delete_says_whether_there_was_something_to_delete(demo: Scenario) -> None:
    assignment = demo.of_kind(Kind.POLICY_ASSIGNMENT)[0].body["id"]

    async def go() -> tuple[bool, bool, dict[str, Any] | None]:
        with ArmEmulator(demo) as emu:
            async with writer(emu) as arm:
                first_time = await arm.delete(assignment)
                second_time = await arm.delete(assignment)
                return first_time, second_time, await arm.get(assignment)

    assert run_async(go()) == (True, False, None)


# ------------------------------------------------------------------------------------- session


def test_the_session_lends_a_writer_with_its_credential_and_cloud(
    demo: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    sub = f"/subscriptions/{demo.subscription_ids()[0]}"

    async def go() -> tuple[list[Any], list[str]]:
        with ArmEmulator(demo) as emu:
            monkeypatch.setenv(TOKEN_ENV, emu.mint_token(principal="carol@contoso.example"))
            session = AzureSession()
            with pytest.raises(SignInError):
                async with session.arm():
                    pass
            await session.sign_in(SignInOptions(AuthMethod.TOKEN, custom_cloud(emu.url, ca_file=emu.ca_file)))
            try:
                async with session.arm() as arm:
                    perms = await arm.permissions(sub)
            finally:
                await session.close()
            return perms, [e.principal for e in emu.requests]

    perms, principals = run_async(go())
    assert permits(perms, POLICY_WRITE)  # the demo's default grant: Owner for everyone
    assert principals and set(principals) == {"carol@contoso.example"}
