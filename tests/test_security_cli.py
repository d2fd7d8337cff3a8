"""``fcdesk security`` as people and pipelines run it: real subprocesses against the ARM emulator,
signed in with an emulator token (``--auth token``)."""

from __future__ import annotations

import os
import pty
from collections.abc import Iterator
from typing import Any

import pytest

from fcdesk.actions import BILLING_NOTE, PURVIEW_NOTE_WRITE
from fcdesk.azure._http import api_versions
from fcdesk.core.records import Kind
from tests.arm_emulator import ArmEmulator, Faults, Rule, Scenario
from tests.test_arm_emulator_security import subs_by_tier
from tests.test_policy_cli import audit, clean, fcdesk, writes

PURVIEW = "AIPromptSharingWithPurview"


@pytest.fixture
def demo() -> Scenario:
    return Scenario.demo(scale=1)  # a fresh one per test: writes and grants change it


@pytest.fixture
def emulator(demo: Scenario) -> Iterator[ArmEmulator]:
    with ArmEmulator(demo) as emu:
        yield emu


def plan_id(sub: str) -> str:
    return f"/subscriptions/{sub}/providers/Microsoft.Security/pricings/AI"


def plan_of(emu: ArmEmulator, sub: str) -> tuple[str, str | None]:
    """(tier, the Purview extension's isEnabled) of the AI plan the emulator stores."""
    props = emu.resource(plan_id(sub))["properties"]
    flags = {e["name"]: e["isEnabled"] for e in props.get("extensions", [])}
    return props["pricingTier"], flags.get(PURVIEW)


def disabled_account(demo: Scenario, sub: str) -> str:
    """An account of ``sub`` whose Defender for AI setting is Disabled."""
    for rec in demo.of_kind(Kind.DEFENDER_AI_SETTING):
        if rec.body["properties"]["state"] == "Disabled" and rec.id.split("/")[2] == sub:
            return rec.id.rsplit("/defenderForAISettings/", 1)[0]
    raise AssertionError("the demo has no such account")


def setting_of(emu: ArmEmulator, acct: str) -> str:
    return emu.resource(f"{acct}/defenderForAISettings/Default")["properties"]["state"]


# ------------------------------------------------------------------------------------- enable-ai-protection


def test_dry_run_prints_the_puts_and_the_billing_note_and_sends_none(
    emulator: ArmEmulator, demo: Scenario
) -> None:
    sub = subs_by_tier(demo)["Free"]
    acct = disabled_account(demo, sub)
    proc = fcdesk(
        emulator, "security", "enable-ai-protection", "--subscription", sub, "--account", acct, "--dry-run"
    )
    assert proc.returncode == 0, proc.stderr
    clean(proc)
    base = emulator.url.rstrip("/")
    assert f"PUT {base}{plan_id(sub)}?api-version={api_versions()['pricings']}" in proc.stdout
    assert f"PUT {base}{acct}/defenderForAISettings/Default?api-version=" in proc.stdout
    assert '"pricingTier": "Standard"' in proc.stdout and '"state": "Enabled"' in proc.stdout
    assert "Defender for AI plan: tier Free → Standard" in proc.stdout
    assert "Defender for AI setting Disabled → Enabled" in proc.stdout
    assert BILLING_NOTE in proc.stdout
    assert "dry run: nothing was sent" in proc.stderr
    assert writes(emulator) == [] and emulator.requests  # it did read (the plan, the setting, rights)
    assert audit() == []


def test_yes_turns_the_plan_and_the_account_setting_on(emulator: ArmEmulator, demo: Scenario) -> None:
    sub = subs_by_tier(demo)["Free"]
    acct = disabled_account(demo, sub)
    proc = fcdesk(
        emulator, "security", "enable-ai-protection", "--subscription", sub, "--account", acct, "--yes"
    )
    assert proc.returncode == 0, proc.stderr
    clean(proc)
    assert plan_of(emulator, sub) == ("Standard", None) and setting_of(emulator, acct) == "Enabled"
    assert writes(emulator) == [("PUT", plan_id(sub)), ("PUT", f"{acct}/defenderForAISettings/Default")]
    assert f"Threat protection for AI is on for subscription {sub}" in proc.stdout and "billed" in proc.stdout
    assert audit() == [("pricing.enableAI", "succeeded"), ("defenderForAISettings.update", "succeeded")]
    again = fcdesk(emulator, "security", "enable-ai-protection", "--subscription", sub, "--account", acct)
    assert again.returncode == 0 and "Nothing to do" in again.stdout
    assert len(writes(emulator)) == 2


def test_without_yes_and_without_a_terminal_nothing_is_written(emulator: ArmEmulator, demo: Scenario) -> None:
    sub = subs_by_tier(demo)["Free"]
    proc = fcdesk(emulator, "security", "enable-ai-protection", "--subscription", sub)
    assert proc.returncode == 2
    clean(proc)
    assert "pass --yes" in proc.stderr and "Nothing was written" in proc.stderr
    assert writes(emulator) == [] and plan_of(emulator, sub) == ("Free", None)


@pytest.mark.parametrize(("answer", "code"), [("y\n", 0), ("n\n", 2)])
def test_on_a_terminal_it_asks_first(emulator: ArmEmulator, demo: Scenario, answer: str, code: int) -> None:
    sub = subs_by_tier(demo)["Free"]
    leader, follower = pty.openpty()
    try:
        os.write(leader, answer.encode())
        proc = fcdesk(emulator, "security", "purview", "on", "--subscription", sub, stdin=follower)
    finally:
        os.close(leader)
        os.close(follower)
    assert proc.returncode == code, proc.stderr
    assert "Proceed? [y/N]" in proc.stderr
    assert plan_of(emulator, sub) == (("Standard", "True") if code == 0 else ("Free", None))


# ------------------------------------------------------------------------------------- purview


def test_purview_on_shows_the_billed_plan_then_off_keeps_it(emulator: ArmEmulator, demo: Scenario) -> None:
    sub = subs_by_tier(demo)["Free"]
    on = fcdesk(emulator, "security", "purview", "on", "--subscription", f"/subscriptions/{sub}", "--yes")
    assert on.returncode == 0, on.stderr
    clean(on)
    assert "Microsoft Purview: off → on" in on.stdout
    assert "Defender for AI plan: tier Free → Standard (Purview turns the billed plan on)" in on.stdout
    assert PURVIEW_NOTE_WRITE in on.stdout and BILLING_NOTE in on.stdout
    assert plan_of(emulator, sub) == ("Standard", "True")
    off = fcdesk(emulator, "security", "purview", "off", "--subscription", sub, "--yes")
    assert off.returncode == 0, off.stderr
    assert "Microsoft Purview: on → off" in off.stdout and "stays Standard" in off.stdout
    assert BILLING_NOTE not in off.stdout
    assert plan_of(emulator, sub) == ("Standard", "False")
    [_, body] = [e.body for e in emulator.requests if e.method == "PUT"]
    assert body == {
        "properties": {"pricingTier": "Standard", "extensions": [{"name": PURVIEW, "isEnabled": "False"}]}
    }
    assert audit() == [("pricing.purviewOn", "succeeded"), ("pricing.purviewOff", "succeeded")]
    same = fcdesk(emulator, "security", "purview", "off", "--subscription", sub, "--yes")
    assert same.returncode == 0 and "already off: nothing to do" in same.stdout and len(audit()) == 2


def test_a_reader_is_refused_with_exit_4_and_nothing_sent(emulator: ArmEmulator, demo: Scenario) -> None:
    demo.only("Reader")
    sub = subs_by_tier(demo)["Free"]
    proc = fcdesk(emulator, "security", "purview", "on", "--subscription", sub, "--yes")
    assert proc.returncode == 4
    clean(proc)
    assert "refused: Turning Microsoft Purview on or off" in proc.stderr and "Nothing was sent" in proc.stderr
    assert "PUT " in proc.stdout  # the request is shown, not sent
    acct = disabled_account(demo, sub)
    both = fcdesk(
        emulator, "security", "enable-ai-protection", "--subscription", sub, "--account", acct, "--yes"
    )
    assert both.returncode == 4
    assert (
        "Security Admin or Owner" in both.stderr and "Azure AI Account Owner) on the account" in both.stderr
    )
    assert writes(emulator) == []
    assert audit() == [
        ("pricing.purviewOn", "refused"),
        ("pricing.enableAI", "refused"),
        ("defenderForAISettings.update", "refused"),
    ]


def test_security_admin_may_enable_the_plan_but_not_purview(emulator: ArmEmulator, demo: Scenario) -> None:
    demo.only("Security Admin")
    sub = subs_by_tier(demo)["Free"]
    plan = fcdesk(emulator, "security", "enable-ai-protection", "--subscription", sub, "--yes")
    assert plan.returncode == 0, plan.stderr
    purview = fcdesk(emulator, "security", "purview", "on", "--subscription", sub, "--yes")
    assert purview.returncode == 4 and "Azure AI Account Owner" in purview.stderr
    assert plan_of(emulator, sub) == ("Standard", None)


def test_a_failed_write_exits_1_and_says_what_is_true_now(demo: Scenario) -> None:
    sub = subs_by_tier(demo)["Free"]
    faults = Faults(server_errors=Rule(path="/pricings/AI", method="PUT", times=None))
    with ArmEmulator(demo, faults=faults) as emu:
        proc = fcdesk(emu, "security", "purview", "on", "--subscription", sub, "--yes")
    assert proc.returncode == 1
    clean(proc)
    assert "Could not turn Microsoft Purview on" in proc.stderr and "HTTP 500" in proc.stderr
    assert (
        f"now in Azure: the Defender for AI plan of subscription {sub} is Free, Microsoft Purview off."
        in proc.stderr
    )
    assert audit() == [("pricing.purviewOn", "failed")]


def test_a_later_step_that_fails_says_what_was_done_before(demo: Scenario) -> None:
    sub = subs_by_tier(demo)["Free"]
    acct = disabled_account(demo, sub)
    faults = Faults(server_errors=Rule(path="/defenderForAISettings/Default", method="PUT", times=None))
    with ArmEmulator(demo, faults=faults) as emu:
        proc = fcdesk(
            emu, "security", "enable-ai-protection", "--subscription", sub, "--account", acct, "--yes"
        )
        stored: Any = (plan_of(emu, sub), setting_of(emu, acct))
    assert proc.returncode == 1
    clean(proc)
    assert f"done before the failure: Threat protection for AI is on for subscription {sub}" in proc.stderr
    assert (
        "now in Azure: the Defender for AI setting of account" in proc.stderr
        and "is Disabled." in proc.stderr
    )
    assert stored == (("Standard", None), "Disabled")


def test_bad_arguments_exit_2(emulator: ArmEmulator, demo: Scenario) -> None:
    subs = subs_by_tier(demo)
    elsewhere = next(
        r.id.rsplit("/defenderForAISettings/", 1)[0]
        for r in demo.of_kind(Kind.DEFENDER_AI_SETTING)
        if r.id.split("/")[2] != subs["Free"]
    )
    cases: list[tuple[str, ...]] = [
        ("security",),
        ("security", "purview", "maybe", "--subscription", subs["Free"]),
        ("security", "purview", "on"),
        ("security", "purview", "on", "--subscription", "/subscriptions/a/resourceGroups/b"),
        ("security", "enable-ai-protection", "--subscription", subs["Free"], "--account", "/subscriptions/x"),
        ("security", "enable-ai-protection", "--subscription", subs["Free"], "--account", elsewhere),
    ]
    for args in cases:
        proc = fcdesk(emulator, *args)
        assert proc.returncode == 2, (args, proc.stderr)
        clean(proc)
    assert emulator.requests == []
