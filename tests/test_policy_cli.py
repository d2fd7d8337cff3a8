"""``fcdesk policy`` and ``fcdesk guardrail`` as people and pipelines run them: real subprocesses
against the ARM emulator, signed in with an emulator token (``--auth token``)."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from fcdesk.azure.contract import TOKEN_ENV
from fcdesk.core.drafts import draft_from_document, parse_policy_text
from fcdesk.core.fix import failing_policies, sharing_deployments, suggest_guardrail_name
from fcdesk.core.guardrails import GuardrailOrigin
from fcdesk.core.inventory import Inventory
from fcdesk.core.model import Deployment
from fcdesk.core.policy import GuardrailPolicy
from fcdesk.core.records import Kind
from fcdesk.store.audit import AuditLog
from tests.arm_emulator import ArmEmulator, Faults, Rule, Scenario

REPO = Path(__file__).resolve().parent.parent
ALICE = "alice@contoso.example"


@pytest.fixture
def demo() -> Scenario:
    return Scenario.demo(scale=1)  # a fresh one per test: writes and grants change it


@pytest.fixture
def emulator(demo: Scenario) -> Iterator[ArmEmulator]:
    with ArmEmulator(demo) as emu:
        yield emu


def fcdesk(emu: ArmEmulator, *args: str, stdin: Any = subprocess.DEVNULL) -> subprocess.CompletedProcess[str]:
    """``python -m fcdesk ARGS --arm-endpoint … --auth token`` (stdin not a terminal by default)."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    env[TOKEN_ENV] = emu.mint_token(principal=ALICE)
    login = ["--arm-endpoint", emu.url, "--ca-file", emu.ca_file, "--auth", "token"]
    return subprocess.run(
        [sys.executable, "-m", "fcdesk", *args, *login],
        stdin=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
        check=False,
    )


def writes(emu: ArmEmulator) -> list[tuple[str, str]]:
    return [(e.method, e.path) for e in emu.requests if e.method != "GET"]


def audit() -> list[tuple[str, str]]:
    entries, damaged = AuditLog().read()  # FCDESK_DATA_DIR points into the test's folder
    assert damaged == 0
    return [(e.operation, e.outcome) for e in entries]


def clean(proc: subprocess.CompletedProcess[str]) -> None:
    """Expected failures are plain lines: no traceback, every stderr line ours."""
    assert "Traceback" not in proc.stderr
    assert all(line.startswith(("fcdesk: ", "usage:", " ")) for line in proc.stderr.splitlines() if line)


def policy_file(tmp_path: Path, scope: str, name: str = "Block hate") -> Path:
    path = tmp_path / "policy.yaml"
    controls = "controls:\n  - control: Hate\n    threshold: Medium\n  - Jailbreak\n"
    path.write_text(f"displayName: {name}\nscope: {scope}\n{controls}", encoding="utf-8")
    return path


def draft_of(path: Path) -> Any:
    return draft_from_document(parse_policy_text(path.read_text(encoding="utf-8"), filename=path.name))


def failing(
    demo: Scenario, origins: set[GuardrailOrigin], *, shared: bool = False
) -> tuple[Inventory, Deployment, GuardrailPolicy]:
    """A deployment on a guardrail of ``origins`` (shared with others, or not) failing a policy."""
    inv = Inventory.build(demo.meta, demo.records)
    for dep in inv.deployments:
        if inv.effective(dep).origin not in origins:
            continue
        users = (
            sharing_deployments(inv, dep.account_id, dep.rai_policy_name) if dep.rai_policy_name else [dep]
        )
        if (len(users) > 1) != shared:
            continue
        for pol, _ev in failing_policies(inv, dep):
            return inv, dep, pol
    raise AssertionError("the demo has no such deployment")


# ------------------------------------------------------------------------------------- policy apply


def test_dry_run_prints_the_requests_and_sends_no_write(
    emulator: ArmEmulator, demo: Scenario, tmp_path: Path
) -> None:
    path = policy_file(tmp_path, f"/subscriptions/{demo.subscription_ids()[1]}")
    draft = draft_of(path)
    proc = fcdesk(emulator, "policy", "apply", str(path), "--dry-run")
    assert proc.returncode == 0, proc.stderr
    clean(proc)
    assert f"PUT {emulator.url.rstrip('/')}{draft.assignment_id}?api-version=" in proc.stdout
    assert '"displayName": "Block hate"' in proc.stdout and '"allowedHateSeveritiesForPrompt"' in proc.stdout
    assert "/triggerEvaluation?api-version=" in proc.stdout
    assert "dry run: nothing was sent" in proc.stderr
    assert writes(emulator) == [] and emulator.requests  # it did read (existing assignments, rights)
    assert audit() == []


def test_without_yes_and_without_a_terminal_nothing_is_written(
    emulator: ArmEmulator, demo: Scenario, tmp_path: Path
) -> None:
    path = policy_file(tmp_path, f"/subscriptions/{demo.subscription_ids()[1]}")
    proc = fcdesk(emulator, "policy", "apply", str(path))
    assert proc.returncode == 2
    clean(proc)
    assert "pass --yes" in proc.stderr and "Nothing was written" in proc.stderr
    assert writes(emulator) == [] and emulator.resource(draft_of(path).assignment_id) is None


def test_apply_creates_then_updates(emulator: ArmEmulator, demo: Scenario, tmp_path: Path) -> None:
    path = policy_file(tmp_path, f"/subscriptions/{demo.subscription_ids()[1]}")
    draft = draft_of(path)
    created = fcdesk(emulator, "policy", "apply", str(path), "--yes")
    assert created.returncode == 0, created.stderr
    assert "Created the guardrail policy 'Block hate'" in created.stdout
    [put] = [e for e in emulator.requests if e.method == "PUT"]
    assert put.path == draft.assignment_id and put.body == draft.assignment_body()
    updated = fcdesk(emulator, "policy", "apply", str(path), "--yes")
    assert updated.returncode == 0, updated.stderr
    assert (
        updated.stdout.startswith("Update the guardrail policy")
        and "Updated the guardrail policy" in updated.stdout
    )
    assert [m for m, _p in writes(emulator)] == ["PUT", "POST", "PUT", "POST"]
    assert audit() == [("policyAssignment.create", "succeeded"), ("policyAssignment.update", "succeeded")]


@pytest.mark.parametrize(("answer", "code"), [("y\n", 0), ("n\n", 2)])
def test_on_a_terminal_it_asks_first(
    emulator: ArmEmulator, demo: Scenario, tmp_path: Path, answer: str, code: int
) -> None:
    path = policy_file(tmp_path, f"/subscriptions/{demo.subscription_ids()[1]}")
    leader, follower = pty.openpty()
    try:
        os.write(leader, answer.encode())
        proc = fcdesk(emulator, "policy", "apply", str(path), stdin=follower)
    finally:
        os.close(leader)
        os.close(follower)
    assert proc.returncode == code, proc.stderr
    assert "Proceed? [y/N]" in proc.stderr
    stored = emulator.resource(draft_of(path).assignment_id)
    assert (stored is not None) == (code == 0)


def test_an_invalid_file_exits_2_before_any_request(emulator: ArmEmulator, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("displayName: x\nscope: /subscriptions/s\ncolour: red\n", encoding="utf-8")
    proc = fcdesk(emulator, "policy", "apply", str(path), "--yes")
    assert proc.returncode == 2
    clean(proc)
    assert proc.stderr.strip().splitlines()[-1] == "fcdesk: Unknown key(s) in the policy file: colour."
    assert emulator.requests == []


def test_a_reader_is_refused_with_exit_4_and_nothing_sent(
    emulator: ArmEmulator, demo: Scenario, tmp_path: Path
) -> None:
    demo.only("Reader")
    path = policy_file(tmp_path, f"/subscriptions/{demo.subscription_ids()[1]}")
    proc = fcdesk(emulator, "policy", "apply", str(path), "--yes")
    assert proc.returncode == 4
    clean(proc)
    assert "refused: You need Owner or Resource Policy Contributor" in proc.stderr
    assert writes(emulator) == []
    assert audit() == [("policyAssignment.create", "refused")]
    dry = fcdesk(emulator, "policy", "apply", str(path), "--dry-run")
    assert dry.returncode == 4 and "PUT " in dry.stdout and writes(emulator) == []
    assert len(audit()) == 1  # a dry run attempts nothing, so audits nothing


def test_rights_that_cannot_be_checked_refuse_the_write(demo: Scenario, tmp_path: Path) -> None:
    path = policy_file(tmp_path, f"/subscriptions/{demo.subscription_ids()[1]}")
    faults = Faults(server_errors=Rule(path="/permissions", times=5, status=503, retry_after_ms=10))
    with ArmEmulator(demo, faults=faults) as emu:
        proc = fcdesk(emu, "policy", "apply", str(path), "--yes")
        sent = writes(emu)
    assert proc.returncode == 4
    clean(proc)
    assert (
        "refused: Could not check your permissions at Subscription" in proc.stderr
        and "HTTP 503" in proc.stderr
    )
    assert sent == []  # the write is not tried again behind the user's back
    assert audit() == [("policyAssignment.create", "refused")]


# ------------------------------------------------------------------------------------- delete, list


def test_delete_removes_a_guardrail_policy(emulator: ArmEmulator, demo: Scenario) -> None:
    policy = next(p for p in Inventory.build(demo.meta, demo.records).policies if p.name == "gr-dev-baseline")
    proc = fcdesk(emulator, "policy", "delete", policy.name, "--scope", policy.scope, "--yes")
    assert proc.returncode == 0, proc.stderr
    assert f"Deleted the guardrail policy '{policy.label}'" in proc.stdout
    assert writes(emulator) == [("DELETE", policy.id)] and emulator.resource(policy.id) is None
    assert audit() == [("policyAssignment.delete", "succeeded")]
    again = fcdesk(emulator, "policy", "delete", policy.name, "--scope", policy.scope, "--yes")
    assert again.returncode == 1 and "there is no policy assignment named 'gr-dev-baseline'" in again.stderr
    clean(again)


def test_list_shows_the_guardrail_policies_in_every_format(
    emulator: ArmEmulator, demo: Scenario, tmp_path: Path
) -> None:
    expected = {p.id.lower() for p in Inventory.build(demo.meta, demo.records).policies}
    as_json = fcdesk(emulator, "policy", "list", "--format", "json")
    assert as_json.returncode == 0, as_json.stderr
    listed = json.loads(as_json.stdout)
    assert {p["id"].lower() for p in listed} == expected
    baseline = next(p for p in listed if p["name"] == "gr-dev-baseline")
    assert "Hate (prompt): Must block ≥ Medium" in baseline["controls"]
    table = fcdesk(emulator, "policy", "list", "--subscription", demo.subscription_ids()[1])
    assert (
        table.returncode == 0
        and table.stdout.startswith("NAME")
        and "Development baseline guardrail" in table.stdout
    )
    assert "Production prompt shields" not in table.stdout  # another subscription's
    as_yaml = fcdesk(emulator, "policy", "list", "--format", "yaml")
    assert as_yaml.returncode == 0, as_yaml.stderr
    docs = list(yaml.safe_load_all(as_yaml.stdout))
    assert len(docs) == len(expected) and all(draft_from_document(doc) for doc in docs)
    # Each document is a policy file that apply accepts, and recognises as the existing policy.
    one = tmp_path / "baseline.yaml"
    one.write_text(yaml.safe_dump(next(d for d in docs if d["name"] == "gr-dev-baseline")), encoding="utf-8")
    proc = fcdesk(emulator, "policy", "apply", str(one), "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(
        "Update the guardrail policy 'Development baseline guardrail' (gr-dev-baseline)"
    )


# ------------------------------------------------------------------------------------- guardrail set


def test_meet_gives_a_deployment_on_a_system_guardrail_a_new_one(
    emulator: ArmEmulator, demo: Scenario
) -> None:
    inv, dep, pol = failing(demo, {GuardrailOrigin.SYSTEM, GuardrailOrigin.ACCOUNT_DEFAULT})
    name = suggest_guardrail_name(dep, [g.name for g in inv.account_guardrails(dep.account_id)])
    proc = fcdesk(emulator, "guardrail", "set", dep.id, "--meet", pol.name, "--yes")
    assert proc.returncode == 0, proc.stderr
    assert f"→ '{name}' (new)" in proc.stdout and "Controls that change:" in proc.stdout
    assert " → Blocks" in proc.stdout
    stored = emulator.resource(dep.id)
    assert stored is not None and stored["properties"]["raiPolicyName"] == name
    assert emulator.resource(f"{dep.account_id}/raiPolicies/{name}") is not None
    assert [(m, p.rsplit("/", 2)[-2]) for m, p in writes(emulator)] == [
        ("PUT", "raiPolicies"),
        ("PUT", "deployments"),
        ("POST", "latest"),
    ]
    assert audit() == [("raiPolicy.create", "succeeded"), ("deployment.setGuardrail", "succeeded")]


def test_meet_refuses_a_shared_guardrail_unless_told(emulator: ArmEmulator, demo: Scenario) -> None:
    inv, dep, pol = failing(demo, {GuardrailOrigin.CUSTOM}, shared=True)
    others = [
        d.name
        for d in sharing_deployments(inv, dep.account_id, dep.rai_policy_name or "")
        if d.key != dep.key
    ]
    refused = fcdesk(emulator, "guardrail", "set", dep.id, "--meet", pol.id, "--yes")
    assert refused.returncode == 2
    clean(refused)
    assert all(name in refused.stderr for name in others) and "--update-shared" in refused.stderr
    assert writes(emulator) == []
    shared = fcdesk(emulator, "guardrail", "set", dep.id, "--meet", pol.id, "--update-shared", "--yes")
    assert shared.returncode == 0, shared.stderr
    assert [(m, p.rsplit("/", 2)[-2:]) for m, p in writes(emulator)][0] == (
        "PUT",
        ["raiPolicies", dep.rai_policy_name],
    )
    assert not any("/deployments/" in p for _m, p in writes(emulator))  # they already point at it
    assert audit() == [("raiPolicy.update", "succeeded")]


def test_point_a_deployment_at_a_system_guardrail(emulator: ArmEmulator, demo: Scenario) -> None:
    _inv, dep, _pol = failing(demo, {GuardrailOrigin.CUSTOM}, shared=True)
    proc = fcdesk(emulator, "guardrail", "set", dep.id, "--guardrail", "microsoft.defaultv2", "--yes")
    assert proc.returncode == 0, proc.stderr
    assert f"'{dep.rai_policy_name}' → 'Microsoft.DefaultV2'" in proc.stdout
    stored = emulator.resource(dep.id)
    assert stored is not None and stored["properties"]["raiPolicyName"] == "Microsoft.DefaultV2"
    assert [m for m, p in writes(emulator) if "/raiPolicies/" in p] == []
    unknown = fcdesk(emulator, "guardrail", "set", dep.id, "--guardrail", "no-such-guardrail", "--yes")
    assert unknown.returncode == 2 and "has no guardrail named 'no-such-guardrail'" in unknown.stderr


def test_a_failed_write_exits_1_and_says_what_is_true_now(demo: Scenario) -> None:
    _inv, dep, pol = failing(demo, {GuardrailOrigin.SYSTEM, GuardrailOrigin.ACCOUNT_DEFAULT})
    faults = Faults(server_errors=Rule(path=f"/deployments/{dep.name}", method="PUT", times=None))
    with ArmEmulator(demo, faults=faults) as emu:
        proc = fcdesk(emu, "guardrail", "set", dep.id, "--meet", pol.name, "--yes")
        stored = emu.resource(dep.id)
    assert proc.returncode == 1
    clean(proc)
    assert f"Could not point the deployment '{dep.name}'" in proc.stderr and "HTTP 500" in proc.stderr
    assert "done before the failure: Created the guardrail" in proc.stderr
    current = dep.rai_policy_name or "account default"
    assert f"now in Azure: the deployment {dep.name} uses the guardrail '{current}'." in proc.stderr
    assert stored is not None and stored["properties"].get("raiPolicyName") == dep.rai_policy_name
    assert audit() == [("raiPolicy.create", "succeeded"), ("deployment.setGuardrail", "failed")]


def test_bad_arguments_exit_2(emulator: ArmEmulator, demo: Scenario) -> None:
    dep_id = demo.of_kind(Kind.DEPLOYMENT)[0].id
    cases = [
        ("guardrail", "set", dep_id, "--guardrail", "x", "--name", "y"),
        ("guardrail", "set", "/subscriptions/s/resourceGroups/rg", "--guardrail", "x"),
        ("policy", "delete", "p", "--scope", "/subscriptions/s/providers/x"),
        ("policy",),
    ]
    for args in cases:
        proc = fcdesk(emulator, *args)
        assert proc.returncode == 2, (args, proc.stderr)
        clean(proc)
    assert writes(emulator) == []
