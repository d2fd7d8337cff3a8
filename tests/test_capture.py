"""The live capture, with the real Azure SDK clients, against the ARM emulator (TLS on loopback).

Nothing of ours is mocked: ``fcdesk.azure.capture`` drives the real ``azure.mgmt.*.aio`` clients and
their pipelines; the emulator plays ARM, including its faults (429, 5xx, dropped connections,
hangs, malformed JSON, 403 per subscription, expiring tokens).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from fcdesk.azure.auth import EnvTokenCredential, SerializedCredential, list_tenants
from fcdesk.azure.capture import STAGES, capture, readable_subscriptions, sequential_capture
from fcdesk.azure.clouds import custom_cloud
from fcdesk.azure.contract import (
    TOKEN_ENV,
    AuthMethod,
    CaptureOptions,
    CaptureResult,
    Progress,
    SignInOptions,
)
from fcdesk.azure.errors import ArmError
from fcdesk.azure.session import AzureSession
from fcdesk.core.normalize import POLICY_STATE_FIELDS
from fcdesk.core.records import Kind, RawRecord, Source
from fcdesk.store.snapshot import write_snapshot
from tests.arm_emulator import ArmEmulator, EmulatorCredential, Faults, Rule, Scenario, run_async


@pytest.fixture(scope="module")
def demo() -> Scenario:
    return Scenario.demo(scale=1)


def options_for(emu: ArmEmulator, **kwargs: Any) -> CaptureOptions:
    return CaptureOptions(cloud=custom_cloud(emu.url, ca_file=emu.ca_file), **kwargs)


def run_capture(
    emu: ArmEmulator, credential: Any = None, *, fn: Any = capture, **kwargs: Any
) -> CaptureResult:
    return run_async(fn(credential or EmulatorCredential(emu), options_for(emu, **kwargs)))


def keyed(records: list[RawRecord]) -> dict[tuple[str, str], dict[str, Any]]:
    """(kind, id) → body; policy states reduced to the fields the capture selects."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for rec in records:
        body = rec.body
        if rec.kind == Kind.POLICY_STATE:
            body = {k: body.get(k) for k in POLICY_STATE_FIELDS}
        out[(str(rec.kind), rec.id)] = body
    return out


def assert_no_duplicates(records: list[RawRecord]) -> None:
    counts = Counter((str(r.kind), r.id) for r in records)
    assert [key for key, n in counts.items() if n > 1] == []


def sub_of(rec: RawRecord) -> str:
    arm_id = rec.body.get("resourceId") if rec.kind == Kind.POLICY_STATE else rec.id
    parts = str(arm_id).split("/")
    return parts[2].lower() if len(parts) > 2 and parts[1].lower() == "subscriptions" else ""


# --------------------------------------------------------------------------------- completeness


def test_full_capture_equals_the_scenario(demo: Scenario) -> None:
    with ArmEmulator(demo) as emu:
        result = run_capture(emu, label="nightly")
    assert result.errors == [] and not result.cancelled
    assert_no_duplicates(result.records)
    got, want = keyed(result.records), keyed(demo.records)
    assert set(got) == set(want)
    assert [key for key in want if got[key] != want[key]] == []  # bodies verbatim
    meta = result.meta
    assert meta.source == Source.LIVE and not meta.partial and meta.errors == []
    assert meta.tenant_id == demo.meta.tenant_id and meta.cloud == "custom" and meta.label == "nightly"
    assert sorted(meta.scopes) == sorted(demo.subscription_ids())
    assert meta.captured_at.tzinfo is not None and abs(time.time() - meta.captured_at.timestamp()) < 60
    assert result.requests == len(emu.requests) and result.seconds > 0
    # Scopes are what each record was fetched under (the emulator serves them from there again).
    scopes = {(str(r.kind), r.id): r.scope for r in result.records}
    assert all(scopes[(str(r.kind), r.id)].lower() == r.scope.lower() for r in demo.records)


def test_capture_round_trips_through_a_snapshot(demo: Scenario, tmp_path: Path) -> None:
    with ArmEmulator(demo) as emu:
        first = run_capture(emu)
    path = tmp_path / "live.fcsnap"
    write_snapshot(path, first.meta, first.records)
    with ArmEmulator(Scenario.from_snapshot(path)) as emu:
        second = run_capture(emu)
    assert second.errors == []
    assert keyed(second.records) == keyed(first.records)
    assert sorted((str(r.kind), r.id, r.scope) for r in second.records) == sorted(
        (str(r.kind), r.id, r.scope) for r in first.records
    )


def test_paging_is_followed_to_the_end_without_duplicates(demo: Scenario) -> None:
    with ArmEmulator(demo, page_size=3) as emu:
        result = run_capture(emu)
        log = emu.requests
    assert result.errors == []
    assert_no_duplicates(result.records)
    assert keyed(result.records) == keyed(demo.records)
    paged = [e for e in log if "$skiptoken" in e.query]
    assert any(e.method == "GET" and e.path.endswith("/deployments") for e in paged)
    # Policy states page with @odata.nextLink, and the next page is POSTed again.
    assert any(e.method == "POST" and e.path.endswith("/queryResults") for e in paged)
    assert all(e.status == 200 for e in log)


def test_sequential_baseline_reads_the_same(demo: Scenario) -> None:
    with ArmEmulator(demo, page_size=7) as emu:
        concurrent = run_capture(emu)
        sequential = run_capture(emu, fn=sequential_capture)
    assert sequential.errors == [] and keyed(sequential.records) == keyed(concurrent.records)
    assert sequential.requests == concurrent.requests


def test_subscription_filter_reads_only_those(demo: Scenario) -> None:
    wanted = demo.subscription_ids()[1]
    with ArmEmulator(demo) as emu:
        result = run_capture(emu, subscriptions=[wanted])
        paths = [e.path.lower() for e in emu.requests]
    assert result.errors == [] and result.meta.scopes == [wanted]
    subs = {sub_of(r) for r in result.records} - {""}
    assert subs == {wanted.lower()}
    others = [s.lower() for s in demo.subscription_ids() if s != wanted]
    assert not any(other in path for other in others for path in paths)


def test_progress_and_record_batches(demo: Scenario) -> None:
    seen: list[Progress] = []
    batches: list[list[RawRecord]] = []
    with ArmEmulator(demo, faults=Faults(latency_ms=20)) as emu:
        result = run_async(
            capture(
                EmulatorCredential(emu), options_for(emu), on_progress=seen.append, on_records=batches.append
            )
        )
    assert [r for batch in batches for r in batch] == result.records
    assert len(batches) > 10  # progressive, not one batch at the end
    assert (
        seen[-1].stage == "Done" and seen[-1].done == seen[-1].total and seen[-1].requests == result.requests
    )
    assert {p.stage for p in seen} <= set(STAGES) and seen[0].stage == "Subscriptions"
    order = [STAGES.index(p.stage) for p in seen]
    assert order[0] == 0 and max(order) == len(STAGES) - 1
    assert all(b.requests >= a.requests for a, b in zip(seen, seen[1:], strict=False))
    # Throttled: at most ~20 a second, plus one per stage change.
    changes = sum(1 for a, b in zip(seen, seen[1:], strict=False) if a.stage != b.stage)
    assert len(seen) <= 20 * result.seconds + changes + 3


# ----------------------------------------------------------------------------------- throttling


def _retry_gap(log: list[Any], path_part: str, method: str) -> float:
    """Seconds between the 429 answer on ``path_part`` and the next request to the same path."""
    first = next(e for e in log if path_part in e.path and e.method == method and e.status == 429)
    again = next(e for e in log if e.path == first.path and e.method == method and e.time > first.time)
    return again.time - (first.time + first.duration_s)


def test_429_with_retry_after_on_get_waits_then_succeeds(demo: Scenario) -> None:
    faults = Faults(throttle=Rule(path="/deployments", method="GET", times=1, retry_after=1))
    with ArmEmulator(demo, faults=faults) as emu:
        result = run_capture(emu)
        log = emu.requests
    assert result.errors == [] and faults.counts["throttle"] == 1
    assert keyed(result.records) == keyed(demo.records)
    assert _retry_gap(log, "/deployments", "GET") >= 0.95


def test_429_with_retry_after_on_the_policy_states_post(demo: Scenario) -> None:
    faults = Faults(throttle=Rule(path="/queryResults", method="POST", times=1, retry_after=1))
    with ArmEmulator(demo, faults=faults) as emu:
        result = run_capture(emu)
        log = emu.requests
    assert result.errors == [] and faults.counts["throttle"] == 1
    assert keyed(result.records) == keyed(demo.records)
    assert _retry_gap(log, "/queryResults", "POST") >= 0.95


def test_post_429_without_retry_after_is_retried_by_us(demo: Scenario) -> None:
    # azure-core would hand this 429 straight back: it retries a POST 429 only with Retry-After.
    faults = Faults(throttle=Rule(path="/queryResults", method="POST", times=2))
    with ArmEmulator(demo, faults=faults) as emu:
        result = run_capture(emu)
    assert result.errors == [] and faults.counts["throttle"] == 2
    assert keyed(result.records) == keyed(demo.records)


def test_retry_after_ms_is_honoured(demo: Scenario) -> None:
    faults = Faults(throttle=Rule(path="/raiPolicies", times=1, retry_after_ms=700))
    with ArmEmulator(demo, faults=faults) as emu:
        result = run_capture(emu)
        log = emu.requests
    assert result.errors == []
    assert _retry_gap(log, "/raiPolicies", "GET") >= 0.65


def test_429_past_the_retry_budget_is_an_error_on_that_scope_only(demo: Scenario) -> None:
    faults = Faults(throttle=Rule(path="/alerts", times=None, retry_after_ms=10))
    with ArmEmulator(demo, faults=faults) as emu:
        result = run_capture(emu, max_retries=2)
    assert {e.code for e in result.errors} == {"429"}
    assert len(result.errors) == len(demo.subscription_ids())
    assert all(
        "throttled" in e.message and "SubscriptionRequestsThrottled" in e.message for e in result.errors
    )
    assert faults.counts["throttle"] == 3 * len(demo.subscription_ids())
    missing = set(keyed(demo.records)) - set(keyed(result.records))
    assert missing and {kind for kind, _ in missing} == {"alert"}


# ---------------------------------------------------------------------------------- scope errors


def test_forbidden_subscription_is_a_partial_result(demo: Scenario) -> None:
    forbidden = demo.subscription_ids()[1]
    with ArmEmulator(demo, faults=Faults(forbidden_subscriptions={forbidden})) as emu:
        result = run_capture(emu)
        under_it = emu.count(f"/subscriptions/{forbidden}")
    assert result.meta.partial and not result.cancelled
    assert len(result.errors) == 1 and result.meta.errors == result.errors
    error = result.errors[0]
    assert error.scope == f"/subscriptions/{forbidden}" and error.code == "403"
    assert "access denied" in error.message and "AuthorizationFailed" in error.message
    assert under_it == 2  # its probe (accounts + resource groups); the rest of it is skipped
    assert readable_subscriptions(result) == [s for s in demo.subscription_ids() if s != forbidden]
    got = keyed(result.records)
    want = {
        key: body
        for key, body in keyed(demo.records).items()
        if key[0] != "assessment_metadata"
        and not (key[0] != "subscription" and sub_of(RawRecord(key[0], key[1], body)) == forbidden.lower())
    }
    assert {k: v for k, v in got.items() if k[0] != "assessment_metadata"} == want
    assert (("subscription", f"/subscriptions/{forbidden}")) in got  # listed, but unreadable
    assert {k for k in got if k[0] == "assessment_metadata"} <= set(keyed(demo.records))


def test_malformed_json_on_one_accounts_deployments(demo: Scenario) -> None:
    account = next(
        r
        for r in demo.records
        if r.kind == Kind.ACCOUNT
        and r.body.get("properties", {}).get("allowProjectManagement")
        and any(p.kind == Kind.PROJECT and p.scope == r.id for p in demo.records)
    )
    name = account.body["name"]
    faults = Faults(malformed=Rule(path=f"accounts/{name}/deployments", times=None))
    with ArmEmulator(demo, faults=faults) as emu:
        result = run_capture(emu)
    assert len(result.errors) == 1
    error = result.errors[0]
    assert error.scope == account.id and error.code == "MalformedJson" and "not valid JSON" in error.message
    assert result.meta.partial
    got, want = keyed(result.records), keyed(demo.records)
    missing = set(want) - set(got)
    assert missing == {
        (str(r.kind), r.id) for r in demo.records if r.kind == Kind.DEPLOYMENT and r.scope == account.id
    }
    # The account's other lists, and every other account, are complete.
    for kind in (Kind.PROJECT, Kind.RAI_POLICY, Kind.DEFENDER_AI_SETTING):
        theirs = {(str(r.kind), r.id) for r in demo.records if r.kind == kind and r.scope == account.id}
        assert theirs and theirs <= set(got)
    assert all(got[key] == want[key] for key in got)


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_then_success(demo: Scenario, status: int) -> None:
    faults = Faults(server_errors=Rule(path="/raiPolicies", status=status, times=2))
    with ArmEmulator(demo, faults=faults) as emu:
        result = run_capture(emu)
    assert result.errors == [] and faults.counts["server_errors"] == 2
    assert keyed(result.records) == keyed(demo.records)


def test_dropped_connection_then_success(demo: Scenario) -> None:
    faults = Faults(drop=[Rule(path="/projects", times=1), Rule(path="/queryResults", times=1)])
    with ArmEmulator(demo, faults=faults) as emu:
        result = run_capture(emu)
    assert result.errors == [] and faults.counts["drop"] == 2
    assert keyed(result.records) == keyed(demo.records)


def test_a_hang_times_out_and_is_retried(demo: Scenario) -> None:
    faults = Faults(hang=Rule(path="/alerts", times=1, hold_s=30))
    with ArmEmulator(demo, faults=faults) as emu:
        t0 = time.monotonic()
        result = run_capture(emu, request_timeout_s=1.0)
        elapsed = time.monotonic() - t0
    assert result.errors == [] and faults.counts["hang"] == 1
    assert keyed(result.records) == keyed(demo.records)
    assert 1.0 <= elapsed < 10


def test_a_hang_past_the_retries_is_a_timeout_error_on_its_subscription(demo: Scenario) -> None:
    faults = Faults(hang=Rule(path="/pricings/AI", times=None, hold_s=30))
    with ArmEmulator(demo, faults=faults) as emu:
        result = run_capture(emu, request_timeout_s=0.3, max_retries=1)
    assert {e.code for e in result.errors} == {"Timeout"}
    assert {e.scope for e in result.errors} == {f"/subscriptions/{s}" for s in demo.subscription_ids()}
    assert {k[0] for k in set(keyed(demo.records)) - set(keyed(result.records))} == {"pricing"}


# ------------------------------------------------------------------------------------- cancelling


def test_cancel_stops_within_a_second_with_what_was_fetched(demo: Scenario) -> None:
    # Slow answers and a request that never answers: cancelling must not wait for either.
    faults = Faults(latency_ms=150, hang=Rule(path="/alerts", times=None, hold_s=30))
    marks: dict[str, float] = {}

    async def go() -> tuple[CaptureResult, list[asyncio.Task[Any]]]:
        cancel = asyncio.Event()
        fetched = 0

        def on_records(batch: list[RawRecord]) -> None:
            nonlocal fetched
            fetched += len(batch)
            if fetched >= 20 and not cancel.is_set():
                marks["set"] = time.monotonic()
                cancel.set()

        result = await capture(
            EmulatorCredential(emu),
            options_for(emu, concurrency=4, request_timeout_s=30),
            on_records=on_records,
            cancel=cancel,
        )
        marks["returned"] = time.monotonic()
        await asyncio.sleep(0)
        return result, [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]

    with ArmEmulator(demo, faults=faults) as emu:
        result, leftover = run_async(go())
    assert marks["returned"] - marks["set"] < 1.0
    assert result.cancelled and result.meta.partial
    assert result.errors[-1].code == "cancelled" and result.errors[-1].message == "Cancelled by the user"
    assert 20 <= len(result.records) < len(demo.records)
    assert leftover == []
    want = keyed(demo.records)
    assert all(want[key] == body for key, body in keyed(result.records).items())


# ---------------------------------------------------------------------------------------- tokens


def test_tokens_expiring_mid_capture_are_renewed(demo: Scenario) -> None:
    # The credential claims an hour, the server says 1.5 s: ARM answers 401 ExpiredAuthenticationToken,
    # and the capture renews the token and retries, without an error.
    faults = Faults(latency_ms=100, token_lifetime_s=0.6)
    with ArmEmulator(demo, faults=faults) as emu:
        credential = EmulatorCredential(emu, expires_in=0.6)
        result = run_capture(emu, credential, concurrency=2)
        expired = emu.count(status=401)
    assert result.errors == [] and keyed(result.records) == keyed(demo.records)
    assert result.seconds > 2 * 0.6
    assert faults.counts["expired_token"] >= 2 and expired == faults.counts["expired_token"]
    # Exactly one renewal per rejected request: every 401 is followed by one retry, never a second one.
    assert result.requests == len(emu.requests) and result.requests - expired == 53
    assert len(credential.scopes_seen) > 1


class _MintingSyncCredential:
    """A sync credential (like azure-identity's browser/device-code ones) minting emulator tokens
    that really expire in 1.2 s, and saying so."""

    def __init__(self, emu: ArmEmulator) -> None:
        self.emu = emu
        self.calls = 0

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        self.calls += 1
        return AccessToken(self.emu.mint_token(expires_in=1.2), int(time.time() + 1.2))


def test_short_lived_tokens_are_refreshed_before_they_expire(demo: Scenario) -> None:
    with ArmEmulator(demo, faults=Faults(latency_ms=100)) as emu:
        inner = _MintingSyncCredential(emu)
        result = run_capture(emu, SerializedCredential(inner), concurrency=4)
    assert result.errors == [] and keyed(result.records) == keyed(demo.records)
    assert result.seconds > 1.2 and inner.calls > 1


def test_env_token_credential_drives_a_capture_and_nothing_logs_the_token(
    demo: Scenario, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with ArmEmulator(demo, page_size=50) as emu:
        token = emu.mint_token(principal="auditor@contoso.example")
        monkeypatch.setenv(TOKEN_ENV, token)
        cloud = custom_cloud(emu.url, ca_file=emu.ca_file)

        async def go() -> tuple[Any, Any, Any]:
            session = AzureSession()
            try:
                identity = await session.sign_in(SignInOptions(AuthMethod.TOKEN, cloud=cloud))
                subs = await session.subscriptions()
                result = await session.capture(CaptureOptions(subscriptions=[subs[0].subscription_id]))
            finally:
                await session.close()
            return identity, subs, result

        identity, subs, result = run_async(go())
    assert identity.principal == "auditor@contoso.example" and identity.tenant_id == demo.meta.tenant_id
    assert identity.method is AuthMethod.TOKEN and "in memory" in identity.token_cache
    assert sorted(s.subscription_id for s in subs) == sorted(demo.subscription_ids())
    assert (
        result.errors == [] and result.meta.cloud == "custom" and result.meta.tenant_id == demo.meta.tenant_id
    )
    assert len(result.records) > 20
    assert caplog.records, "expected the SDK and fcdesk to log something at DEBUG"
    signature = token.rsplit(".", 1)[-1]
    for text in (caplog.text, *(str(r.args) for r in caplog.records)):
        assert token not in text and signature not in text


def test_env_token_credential_rereads_a_refreshed_value(
    demo: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    with ArmEmulator(demo, faults=Faults(latency_ms=100)) as emu:
        monkeypatch.setenv(TOKEN_ENV, emu.mint_token(expires_in=1.0))
        credential = EnvTokenCredential()

        async def go() -> CaptureResult:
            async def refresh() -> None:  # what a scheduler refreshing the variable would do
                for _ in range(20):
                    await asyncio.sleep(0.3)
                    monkeypatch.setenv(TOKEN_ENV, emu.mint_token(expires_in=1.0))

            refresher = asyncio.create_task(refresh())
            try:
                return await capture(credential, options_for(emu, concurrency=4))
            finally:
                refresher.cancel()

        result = run_async(go())
    assert result.errors == [] and result.seconds > 1.0 and credential.calls > 1


def test_tenants_are_listed(demo: Scenario) -> None:
    with ArmEmulator(demo) as emu:
        cloud = custom_cloud(emu.url, ca_file=emu.ca_file)
        try:
            tenants = run_async(list_tenants(EmulatorCredential(emu), cloud))
        except ArmError as exc:
            if exc.status == 404 and exc.code == "InvalidResourceType":
                pytest.skip("the ARM emulator does not serve GET /tenants (yet)")
            raise
    assert [t.tenant_id for t in tenants] == [demo.meta.tenant_id]


# ---------------------------------------------------------------------------------- scale (fast)


def test_synthetic_tenant_is_complete_and_concurrent_beats_sequential() -> None:
    scenario = Scenario.synthetic(3, 3, 4)
    with ArmEmulator(scenario, faults=Faults(latency_ms=30)) as emu:
        fast = run_capture(emu)
        slow = run_capture(emu, fn=sequential_capture)
    referenced = {str(r.body["name"]).lower() for r in scenario.records if r.kind == Kind.ASSESSMENT}
    want = [
        r
        for r in scenario.records
        if r.kind != Kind.ASSESSMENT_METADATA or str(r.body["name"]).lower() in referenced
    ]
    assert len(want) == len(scenario.records) - 1  # one of its catalogue entries is referenced by nothing
    assert fast.errors == [] and keyed(fast.records) == keyed(want)
    assert keyed(slow.records) == keyed(fast.records)
    assert fast.seconds * 3 < slow.seconds


# ------------------------------------------------------------------------------------ unit pieces


def test_retry_after_headers() -> None:
    from fcdesk.azure._http import retry_after_s

    assert retry_after_s({"retry-after-ms": "1500"}) == 1.5
    assert retry_after_s({"x-ms-retry-after-ms": "20"}) == 0.02
    assert retry_after_s({"retry-after": "7"}) == 7.0
    assert retry_after_s({"x-ms-user-quota-resets-after": "00:00:04"}) == 4.0
    soon = retry_after_s({"retry-after": "Wed, 21 Oct 2099 07:28:00 GMT"})
    assert soon is not None and soon > 1e6
    assert retry_after_s({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
    assert retry_after_s({}) is None and retry_after_s({"retry-after": "soon"}) is None


def test_throttling_buckets_are_per_subscription() -> None:
    from fcdesk.azure._http import bucket_key

    assert bucket_key("https://management.azure.com/subscriptions/ABC/resourcegroups?x=1") == "abc"
    assert bucket_key("/subscriptions/abc/providers/Microsoft.Security/alerts") == "abc"
    assert (
        bucket_key("https://management.azure.com/providers/Microsoft.Security/assessmentMetadata") == "tenant"
    )
    assert bucket_key("https://management.azure.com/subscriptions?api-version=1") == "tenant"


def test_env_proxy_is_read_once_and_honours_no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    from fcdesk.azure._http import env_proxy

    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert env_proxy("https://management.azure.com/") is None
    monkeypatch.setenv("https_proxy", "http://proxy.contoso.example:3128")
    assert env_proxy("https://management.azure.com/") == "http://proxy.contoso.example:3128"
    monkeypatch.setenv("no_proxy", "127.0.0.1,.azure.com")
    assert env_proxy("https://management.azure.com/") is None
    assert env_proxy("https://127.0.0.1:8443/") is None


def test_arm_errors_read_as_plain_sentences() -> None:
    from fcdesk.azure._http import _arm_error

    err = _arm_error(403, b'{"error": {"code": "AuthorizationFailed", "message": "No access to scope x."}}')
    assert err.short_code == "403" and err.code == "AuthorizationFailed"
    assert err.sentence("Listing the alerts") == (
        "Listing the alerts failed: access denied (HTTP 403, AuthorizationFailed). No access to scope x."
    )
    odata = _arm_error(
        400, b'{"error": {"code": "InvalidFilter", "message": {"lang": "en", "value": "Bad $filter"}}}'
    )
    assert odata.code == "InvalidFilter" and odata.message == "Bad $filter"
    html = _arm_error(502, b"<html>bad gateway</html>")
    assert html.code == "Http502" and "server error" in html.sentence("x")
    assert ArmError(None, "Timeout", "No answer within 30 s.").short_code == "Timeout"
    expired = _arm_error(401, b'{"error": {"code": "ExpiredAuthenticationToken", "message": "expired"}}')
    assert expired.is_expired_token and expired.ends_subscription


def test_the_pipeline_never_registers_providers_and_leaves_retries_to_us(demo: Scenario) -> None:
    from fcdesk.azure._http import CLIENTS, ArmHttp

    async def go() -> dict[str, list[str]]:
        with ArmEmulator(demo) as emu:
            async with ArmHttp(EmulatorCredential(emu), custom_cloud(emu.url, ca_file=emu.ca_file)) as http:
                out = {}
                for name in CLIENTS:
                    pipeline = http.client(name)._client._pipeline
                    out[name] = [type(p).__name__ for p in pipeline._impl_policies]
                    retry = next(p for p in pipeline._impl_policies if type(p).__name__ == "AsyncRetryPolicy")
                    assert retry.total_retries == 0
                return out

    for names in run_async(go()).values():
        assert "ArmAuthPolicy" in names and "AsyncRetryPolicy" in names
        assert not any("Registration" in n for n in names)
