"""``fcdesk.actions.Actions``: threat protection for AI (the Defender for AI plan, per-account Defender for
AI settings) and Microsoft Purview, written to the ARM emulator.

A real :class:`AzureSession` signs in with an emulator token and the SDK pipelines send every request;
the evidence is what the emulator received and stores, its RBAC, and the audit log read back from disk.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fcdesk.actions import (
    AI_PLAN,
    BILLING_NOTE,
    DEFENDER_SETTING_ROLES_TEXT,
    DEFENDER_SETTING_WRITE,
    EVIDENCE_EXTENSION,
    PRICING_WRITE,
    PURVIEW_EXTENSION,
    PURVIEW_NOTE_WRITE,
    Actions,
    ConflictError,
    RefusedError,
    WriteFailed,
    WriteResult,
)
from fcdesk.azure._http import api_versions
from fcdesk.azure.clouds import custom_cloud
from fcdesk.azure.session import AzureSession
from fcdesk.azure.writes import route
from fcdesk.core.inventory import Inventory
from fcdesk.core.model import idkey
from fcdesk.core.records import Kind, RawRecord
from fcdesk.store.audit import AuditLog
from tests.arm_emulator import ArmEmulator, Faults, Rule, Scenario, run_async
from tests.test_actions import ALICE, audit, signed_in, writes
from tests.test_arm_emulator_security import subs_by_tier


@pytest.fixture
def demo() -> Scenario:
    return Scenario.demo(scale=1)  # a fresh one per test: writes and grants change it


@pytest.fixture
def audit_path(tmp_path: Path) -> Path:
    return tmp_path / "audit.jsonl"


def plan_id(sub: str) -> str:
    return f"/subscriptions/{sub}/providers/Microsoft.Security/pricings/AI"


def flags(body: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["isEnabled"] for e in body["properties"].get("extensions", [])}


def a_setting(demo: Scenario, state: str) -> tuple[str, dict[str, Any]]:
    """(account id, Defender for AI setting) of the first account whose setting has ``state``."""
    rec = next(r for r in demo.of_kind(Kind.DEFENDER_AI_SETTING) if r.body["properties"]["state"] == state)
    return rec.id.rsplit("/defenderForAISettings/", 1)[0], rec.body


def puts(emu: ArmEmulator) -> list[tuple[str, Any]]:
    return [(e.path, e.body) for e in emu.requests if e.method == "PUT"]


# ------------------------------------------------------------------------------------- the plan


def test_enable_turns_the_plan_to_standard_and_audits_it(
    demo: Scenario, audit_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sub = subs_by_tier(demo)["Free"]
    shown = Inventory.build(demo.meta, demo.records)
    assert not shown.plans[sub.lower()].enabled

    async def go() -> tuple[dict[str, Any] | None, WriteResult, list[tuple[str, Any]], dict[str, Any] | None]:
        with ArmEmulator(demo) as emu:
            async with signed_in(emu, audit_path, monkeypatch) as actions:
                seen = await actions.read_ai_plan(sub)
                result = await actions.set_ai_plan(sub, seen)
            return seen, result, puts(emu), emu.resource(plan_id(sub))

    seen, result, sent, stored = run_async(go())
    assert sent == [(plan_id(sub), {"properties": {"pricingTier": "Standard"}})]
    assert stored is not None and stored["properties"]["pricingTier"] == "Standard"
    [record] = result.records
    assert (record.kind, record.id, record.scope, record.body) == (
        Kind.PRICING,
        plan_id(sub),
        f"/subscriptions/{sub}",
        stored,
    )
    assert "billed" in result.message and "Standard" in result.message
    assert [(c.method, c.path, c.api_version) for c in result.calls] == [
        ("PUT", plan_id(sub), api_versions()["pricings"])
    ]
    [entry] = audit(audit_path)
    assert (entry.operation, entry.outcome, entry.principal, entry.target) == (
        "pricing.enableAI",
        "succeeded",
        ALICE,
        plan_id(sub),
    )
    assert entry.before == seen and entry.after == stored
    # The window patches its inventory with the result: the plan shows on at once.
    assert shown.patched(result.records).plans[sub.lower()].enabled


def test_purview_on_keeps_the_other_extensions_and_turns_the_plan_on(
    demo: Scenario, audit_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sub = subs_by_tier(demo)["Free"]
    future = {"name": "SomeFutureExtension", "isEnabled": "True", "additionalExtensionProperties": {"a": "b"}}
    free = {
        **demo.find(plan_id(sub)).body,
        "properties": {
            "pricingTier": "Free",
            "extensions": [
                {
                    "name": EVIDENCE_EXTENSION,
                    "isEnabled": "False",
                    "operationStatus": {"code": "Succeeded", "message": "Successfully disabled extension"},
                },
                future,
            ],
        },
    }

    async def go() -> tuple[WriteResult, list[tuple[str, Any]], dict[str, Any] | None]:
        with ArmEmulator(demo) as emu:
            emu.put_resource(free)
            async with signed_in(emu, audit_path, monkeypatch) as actions:
                seen = await actions.read_ai_plan(sub)
                result = await actions.set_ai_plan(sub, seen, purview=True)
            return result, puts(emu), emu.resource(plan_id(sub))

    result, sent, stored = run_async(go())
    assert sent == [
        (
            plan_id(sub),
            {
                "properties": {
                    "pricingTier": "Standard",
                    "extensions": [
                        {"name": EVIDENCE_EXTENSION, "isEnabled": "False"},  # read-only status left out
                        future,
                        {"name": PURVIEW_EXTENSION, "isEnabled": "True"},
                    ],
                }
            },
        )
    ]
    assert stored["properties"]["pricingTier"] == "Standard"
    assert flags(stored) == {
        EVIDENCE_EXTENSION: "False",
        "SomeFutureExtension": "True",
        PURVIEW_EXTENSION: "True",
    }
    assert "Microsoft Purview is on" in result.message and "billed" in result.message
    assert [(e.operation, e.outcome) for e in audit(audit_path)] == [("pricing.purviewOn", "succeeded")]
    plan = Inventory.build(demo.meta, []).patched(result.records).plans[sub.lower()]
    assert plan.enabled and plan.purview and not plan.prompt_evidence


def test_purview_off_keeps_the_tier_and_the_evidence_extension(
    demo: Scenario, audit_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sub = subs_by_tier(demo)["Purview"]

    async def go() -> tuple[WriteResult, list[tuple[str, Any]], dict[str, Any] | None]:
        with ArmEmulator(demo) as emu:
            async with signed_in(emu, audit_path, monkeypatch) as actions:
                seen = await actions.read_ai_plan(sub)
                result = await actions.set_ai_plan(sub, seen, enable=False, purview=False)
            return result, puts(emu), emu.resource(plan_id(sub))

    result, sent, stored = run_async(go())
    [(_, body)] = sent
    assert body["properties"]["pricingTier"] == "Standard"
    assert flags(body) == {EVIDENCE_EXTENSION: "True", PURVIEW_EXTENSION: "False"}
    assert flags(stored) == {EVIDENCE_EXTENSION: "True", PURVIEW_EXTENSION: "False"}
    assert result.message.startswith(f"Microsoft Purview is off for subscription {sub}")
    assert [(e.operation, e.outcome) for e in audit(audit_path)] == [("pricing.purviewOff", "succeeded")]


def test_plan_calls_are_pure_and_never_bill_when_turning_purview_off(demo: Scenario) -> None:
    actions = Actions(AzureSession(), AuditLog(), principal="p", cloud=custom_cloud("https://arm.example"))
    sub = subs_by_tier(demo)["Free"]
    free = demo.find(plan_id(sub)).body
    # Purview off on a Free plan (enable left at its default): the tier stays Free.
    [off] = actions.ai_plan_calls(sub, free, purview=False)
    assert off.body == {
        "properties": {
            "pricingTier": "Free",
            "extensions": [{"name": PURVIEW_EXTENSION, "isEnabled": "False"}],
        }
    }
    assert off.operation == "pricing.purviewOff" and "the Defender for AI plan stays Free" in off.what
    [on] = actions.ai_plan_calls(sub, None, purview=True)
    assert on.body["properties"]["pricingTier"] == "Standard" and "Free → Standard" in on.what
    assert (on.method, route(on.path)) == ("PUT", ("security", api_versions()["pricings"]))
    assert on.path.endswith(f"/pricings/{AI_PLAN}")
    with pytest.raises(ValueError):
        actions.ai_plan_calls(sub, free, enable=False)
    assert "billed" in BILLING_NOTE and "$" not in BILLING_NOTE
    assert PURVIEW_EXTENSION in PURVIEW_NOTE_WRITE and "no public api" in PURVIEW_NOTE_WRITE.lower()


# ------------------------------------------------------------------------------------- per account


def test_the_per_account_setting_is_written_and_audited(
    demo: Scenario, audit_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    acct, before = a_setting(demo, "Disabled")
    inv = Inventory.build(demo.meta, demo.records)  # what the window showed before the write

    async def go() -> tuple[WriteResult, list[tuple[str, Any]], dict[str, Any] | None]:
        with ArmEmulator(demo) as emu:
            async with signed_in(emu, audit_path, monkeypatch) as actions:
                seen = await actions.read_defender_setting(acct)
                result = await actions.set_defender_setting(acct, seen, enabled=True)
            return result, puts(emu), emu.resource(before["id"])

    result, sent, stored = run_async(go())
    assert sent == [(before["id"], {"properties": {"state": "Enabled"}})]
    assert stored["properties"]["state"] == "Enabled" and stored["etag"] != before.get("etag")
    [record] = result.records
    assert (record.kind, record.scope, record.body) == (Kind.DEFENDER_AI_SETTING, acct, stored)
    assert result.message.startswith("Threat protection for AI is on for account")
    [entry] = audit(audit_path)
    assert (entry.operation, entry.outcome, entry.after) == (
        "defenderForAISettings.update",
        "succeeded",
        stored,
    )
    assert inv.ai_settings[idkey(acct)].state == "Disabled"
    assert inv.patched(result.records).ai_settings[idkey(acct)].state == "Enabled"


# ------------------------------------------------------------------------------------- rights


def test_a_reader_is_refused_each_write_before_anything_is_sent(
    demo: Scenario, audit_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo.only("Reader")
    sub = subs_by_tier(demo)["Free"]
    acct, setting = a_setting(demo, "Disabled")

    async def go() -> tuple[list[Any], list[str], list[tuple[str, str]]]:
        with ArmEmulator(demo) as emu:
            async with signed_in(emu, audit_path, monkeypatch) as actions:
                rights = [
                    await actions.rights_for_defender(sub),
                    await actions.rights_for_purview(sub),
                    await actions.rights_for_defender_account(acct),
                ]
                seen = await actions.read_ai_plan(sub)
                refused = []
                for write in (
                    actions.set_ai_plan(sub, seen),
                    actions.set_ai_plan(sub, seen, purview=True),
                    actions.set_defender_setting(acct, setting, enabled=True),
                ):
                    with pytest.raises(RefusedError) as caught:
                        await write
                    refused.append(caught.value.user_message)
            return rights, refused, writes(emu)

    rights, refused, sent = run_async(go())
    assert not any(r.allowed for r in rights)
    assert refused == [r.reason for r in rights]
    assert "Security Admin or Owner" in rights[0].reason and PRICING_WRITE in rights[0].reason
    assert "Azure AI Account Owner" in rights[1].reason and "Security Admin or Owner" in rights[1].reason
    assert DEFENDER_SETTING_ROLES_TEXT in rights[2].reason and DEFENDER_SETTING_WRITE in rights[2].reason
    assert sent == []
    assert [(e.operation, e.outcome) for e in audit(audit_path)] == [
        ("pricing.enableAI", "refused"),
        ("pricing.purviewOn", "refused"),
        ("defenderForAISettings.update", "refused"),
    ]


def test_security_admin_may_enable_the_plan_but_not_purview_nor_the_account_setting(
    demo: Scenario, audit_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo.only("Security Admin")
    sub = subs_by_tier(demo)["Free"]
    acct, setting = a_setting(demo, "Disabled")

    async def go() -> tuple[Any, Any, dict[str, Any] | None, list[tuple[str, str]]]:
        with ArmEmulator(demo) as emu:
            async with signed_in(emu, audit_path, monkeypatch) as actions:
                seen = await actions.read_ai_plan(sub)
                await actions.set_ai_plan(sub, seen)
                with pytest.raises(RefusedError) as purview:
                    await actions.set_ai_plan(sub, await actions.read_ai_plan(sub), purview=True)
                with pytest.raises(RefusedError) as account:
                    await actions.set_defender_setting(acct, setting, enabled=True)
                plan = emu.resource(plan_id(sub))
            return purview.value, account.value, plan, writes(emu)

    purview, account, plan, sent = run_async(go())
    assert plan["properties"]["pricingTier"] == "Standard" and PURVIEW_EXTENSION not in flags(plan)
    assert sent == [("PUT", plan_id(sub))]  # the plan only
    assert "You lack the Azure AI Account Owner role or Owner" in purview.user_message
    assert "Microsoft.CognitiveServices/accounts/write" in purview.user_message
    assert PRICING_WRITE not in purview.user_message.split("missing", 1)[1]  # that part it has
    assert "Owner" in account.user_message and DEFENDER_SETTING_WRITE in account.user_message


def test_azure_ai_account_owner_alone_may_not_turn_purview_on_and_owner_may_do_everything(
    demo: Scenario, audit_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sub = subs_by_tier(demo)["Standard"]
    acct, _ = a_setting(demo, "Disabled")
    demo.only("Azure AI Account Owner", principal=ALICE).grant("Owner", principal="bob@contoso.example")

    async def go() -> tuple[list[Any], list[Any], list[tuple[str, str]]]:
        with ArmEmulator(demo) as emu:
            async with signed_in(emu, audit_path, monkeypatch) as actions:
                alice = [
                    await actions.rights_for_purview(sub),
                    await actions.rights_for_defender(sub),
                    await actions.rights_for_defender_account(acct),
                ]
                with pytest.raises(RefusedError):
                    await actions.set_ai_plan(sub, await actions.read_ai_plan(sub), purview=True)
            async with signed_in(emu, audit_path, monkeypatch, principal="bob@contoso.example") as actions:
                bob = [
                    await actions.rights_for_purview(sub),
                    await actions.rights_for_defender(sub),
                    await actions.rights_for_defender_account(acct),
                ]
                await actions.set_ai_plan(sub, await actions.read_ai_plan(sub), purview=True)
            return alice, bob, writes(emu)

    alice, bob, sent = run_async(go())
    assert [r.allowed for r in alice] == [False, False, True]
    assert "You lack Security Admin or Owner (to change the Defender for AI plan)" in alice[0].reason
    assert f"(missing {PRICING_WRITE})" in alice[0].reason  # the role itself is recognised
    assert all(r.allowed for r in bob)
    assert sent == [("PUT", plan_id(sub))]  # bob's


# ------------------------------------------------------------------------ conflicts and failures


def test_a_plan_changed_between_read_and_write_is_a_conflict(
    demo: Scenario, audit_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sub = subs_by_tier(demo)["Standard"]
    acct, _ = a_setting(demo, "Enabled")

    def evidence_off(body: dict[str, Any]) -> None:
        for ext in body["properties"]["extensions"]:
            if ext["name"] == EVIDENCE_EXTENSION:
                ext["isEnabled"] = "False"

    async def go() -> tuple[ConflictError, ConflictError, list[tuple[str, str]], dict[str, Any] | None]:
        with ArmEmulator(demo) as emu:
            async with signed_in(emu, audit_path, monkeypatch) as actions:
                seen = await actions.read_ai_plan(sub)
                emu.update(plan_id(sub), evidence_off)  # someone else, meanwhile
                with pytest.raises(ConflictError) as plan:
                    await actions.set_ai_plan(sub, seen, purview=True)
                setting = await actions.read_defender_setting(acct)
                emu.update(setting["id"], lambda b: b["properties"].update(state="Disabled"))
                with pytest.raises(ConflictError) as account:
                    await actions.set_defender_setting(acct, setting, enabled=True)
            return plan.value, account.value, writes(emu), emu.resource(plan_id(sub))

    plan, account, sent, stored = run_async(go())
    assert sent == []
    assert flags(stored)[PURVIEW_EXTENSION] == "False"  # nothing written
    assert "was changed in Azure since it was read" in plan.user_message
    assert "Nothing was written" in plan.user_message
    assert (plan.seen, plan.now) == (
        f"Standard ({EVIDENCE_EXTENSION} on, {PURVIEW_EXTENSION} off)",
        f"Standard ({EVIDENCE_EXTENSION} off, {PURVIEW_EXTENSION} off)",
    )
    assert account.seen != account.now and "Nothing was written" in account.user_message
    assert [(e.operation, e.outcome) for e in audit(audit_path)] == [
        ("pricing.purviewOn", "conflict"),
        ("defenderForAISettings.update", "conflict"),
    ]


def test_a_failed_put_re_reads_the_plan_and_reports_its_true_state(
    demo: Scenario, audit_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sub = subs_by_tier(demo)["Free"]
    faults = Faults(server_errors=Rule(path="/pricings/AI", method="PUT", times=None))

    async def go() -> tuple[WriteFailed, int]:
        with ArmEmulator(demo, faults=faults) as emu:
            async with signed_in(emu, audit_path, monkeypatch) as actions:
                seen = await actions.read_ai_plan(sub)
                with pytest.raises(WriteFailed) as caught:
                    await actions.set_ai_plan(sub, seen)
            return caught.value, emu.count("/pricings/AI", method="PUT")

    failed, put_count = run_async(go())
    assert failed.cause is not None and failed.cause.status == 500 and put_count == 2  # one retry
    assert failed.user_message.startswith("Could not turn on threat protection for AI")
    [record] = failed.reread
    assert (record.kind, record.id, record.scope) == (Kind.PRICING, plan_id(sub), f"/subscriptions/{sub}")
    assert record.body["properties"]["pricingTier"] == "Free"  # the true state
    [entry] = audit(audit_path)
    assert (entry.operation, entry.outcome) == ("pricing.enableAI", "failed") and "HTTP 500" in entry.error


# ------------------------------------------------------------------------------------- inventory


def test_patched_updates_plans_and_settings_and_leaves_the_original_alone(demo: Scenario) -> None:
    inv = Inventory.build(demo.meta, demo.records)
    subs = subs_by_tier(demo)
    acct, setting = a_setting(demo, "Enabled")
    free = demo.find(plan_id(subs["Free"])).body
    on = {
        **free,
        "properties": {
            "pricingTier": "Standard",
            "extensions": [{"name": PURVIEW_EXTENSION, "isEnabled": "True"}],
        },
    }
    other = {**on, "id": on["id"].replace("/AI", "/CloudPosture"), "name": "CloudPosture"}
    off = {**setting, "properties": {"state": "Disabled"}}
    patched = inv.patched(
        [
            RawRecord(Kind.PRICING, on["id"], on, f"/subscriptions/{subs['Free']}"),
            RawRecord(Kind.PRICING, other["id"], other, f"/subscriptions/{subs['Free']}"),
            RawRecord(Kind.DEFENDER_AI_SETTING, off["id"], off, acct),
        ]
    )
    assert patched.plans[subs["Free"].lower()].purview
    assert patched.ai_settings[idkey(acct)].state == "Disabled"
    assert len(patched.plans) == len(inv.plans)  # CloudPosture is not the AI plan
    assert not inv.plans[subs["Free"].lower()].enabled and inv.ai_settings[idkey(acct)].state == "Enabled"
    assert patched.deployments == inv.deployments and patched.policies == inv.policies
