"""``fcdesk.actions.Actions``: guardrail policies and Fix now, written to the ARM emulator.

A real :class:`AzureSession` signs in with an emulator token; the SDK pipelines send every request.
What the emulator received (request log, bodies), what it stores, its RBAC and its own policy
evaluation are the evidence; the audit log is read back from disk.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import AsyncIterator
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from fcdesk.actions import (
    GUARDRAIL_ROLES_TEXT,
    POLICY_ROLES_TEXT,
    Actions,
    ConflictError,
    GuardrailChange,
    GuardrailTargets,
    RefusedError,
    WriteFailed,
    WriteResult,
)
from fcdesk.azure.clouds import custom_cloud
from fcdesk.azure.contract import TOKEN_ENV, AuthMethod, SignInOptions
from fcdesk.azure.session import AzureSession
from fcdesk.core.drafts import ControlChoice, PolicyDraft, draft_from_policy
from fcdesk.core.fix import failing_policies, meet_requirements, plan_from_effective, suggest_guardrail_name
from fcdesk.core.guardrails import COMPLETION, PROMPT, GuardrailOrigin, Severity
from fcdesk.core.inventory import Inventory, PolicyStatus
from fcdesk.core.model import Deployment, idkey
from fcdesk.core.policy import GuardrailPolicy
from fcdesk.core.records import Kind, RawRecord, SnapshotMeta
from fcdesk.store.audit import AuditEntry, AuditLog
from tests.arm_emulator import ArmEmulator, Faults, Rule, Scenario, run_async

ALICE = "alice@contoso.example"
TRIGGER = "/policyStates/latest/triggerEvaluation"


@pytest.fixture
def demo() -> Scenario:
    return Scenario.demo(scale=1)  # a fresh one per test: writes and grants change it


@pytest.fixture
def audit_path(tmp_path: Path) -> Path:
    return tmp_path / "audit.jsonl"


@contextlib.asynccontextmanager
async def signed_in(
    emu: ArmEmulator, audit_path: Path, monkeypatch: pytest.MonkeyPatch, principal: str = ALICE
) -> AsyncIterator[Actions]:
    """Actions of a session signed in to the emulator with a token for ``principal``."""
    monkeypatch.setenv(TOKEN_ENV, emu.mint_token(principal=principal))
    session = AzureSession()
    identity = await session.sign_in(
        SignInOptions(AuthMethod.TOKEN, custom_cloud(emu.url, ca_file=emu.ca_file))
    )
    actions = Actions(session, AuditLog(audit_path), principal=identity.principal, cloud=identity.cloud)
    try:
        yield actions
    finally:
        await actions.close()
        await session.close()


def audit(audit_path: Path) -> list[AuditEntry]:
    entries, damaged = AuditLog(audit_path).read()
    assert damaged == 0
    return entries


def writes(emu: ArmEmulator) -> list[tuple[str, str]]:
    """The PUT/DELETE requests the emulator saw: (method, path)."""
    return [(e.method, e.path) for e in emu.requests if e.method in ("PUT", "DELETE")]


def hate_draft(scope: str, name: str = "Block hate") -> PolicyDraft:
    return PolicyDraft(
        display_name=name,
        scope=scope,
        choices=[
            ControlChoice("Hate", (PROMPT, COMPLETION), Severity.MEDIUM),
            ControlChoice("Jailbreak", (PROMPT,)),
        ],
    )


def policy_named(demo: Scenario, name: str) -> GuardrailPolicy:
    return next(p for p in Inventory.build(demo.meta, demo.records).policies if p.name == name)


def failing_pair(
    demo: Scenario, origins: set[GuardrailOrigin]
) -> tuple[Inventory, Deployment, GuardrailPolicy]:
    """A deployment whose guardrail has one of ``origins`` and fails a policy (first in order)."""
    inv = Inventory.build(demo.meta, demo.records)
    for dep in inv.deployments:
        if inv.effective(dep).origin in origins:
            for pol, _ev in failing_policies(inv, dep):
                return inv, dep, pol
    raise AssertionError("the demo has no such deployment")


def summary_state(demo: Scenario, dep: Deployment, pol: GuardrailPolicy) -> str:
    """The emulator's overall verdict for (deployment, policy), as its policy states hold it."""
    found = [
        r.body["complianceState"]
        for r in demo.records
        if r.kind == Kind.POLICY_STATE
        and idkey(r.body.get("resourceId")) == dep.key
        and idkey(r.body.get("policyAssignmentId")) == pol.key
        and not r.body.get("policyDefinitionReferenceId")
    ]
    assert len(found) == 1, found
    return str(found[0])


async def new_guardrail_change(
    actions: Actions, inv: Inventory, dep: Deployment, pol: GuardrailPolicy
) -> GuardrailChange:
    """Fix now with a new guardrail for ``dep`` that meets ``pol`` (what the editor builds)."""
    plan, changed = meet_requirements(plan_from_effective(inv.effective(dep)), [pol])
    assert changed
    name = suggest_guardrail_name(dep, [g.name for g in inv.account_guardrails(dep.account_id)])
    seen = await actions.read_targets(dep.account_id, name, [dep.id])
    assert seen.rai_policy is None and idkey(dep.id) in seen.deployments
    return GuardrailChange(dep.account_id, name, plan, [dep.id], seen, create=True, governing=[pol.id])


# ------------------------------------------------------------------------------------- policies


def test_apply_creates_the_assignment_as_drafted(
    demo: Scenario, audit_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sub = demo.subscription_ids()[1]
    draft = hate_draft(f"/subscriptions/{sub}")
    shown = Inventory.build(demo.meta, demo.records)  # what the window showed before the write

    async def go() -> tuple[WriteResult, list[Any], dict[str, Any] | None, int]:
        with ArmEmulator(demo) as emu:
            async with signed_in(emu, audit_path, monkeypatch) as actions:
                result = await actions.apply_policy(draft)
            puts = [e.body for e in emu.requests if e.method == "PUT"]
            return result, puts, emu.resource(draft.assignment_id), emu.count(TRIGGER, method="POST")

    result, puts, stored, triggers = run_async(go())
    assert puts == [draft.assignment_body()]  # exactly the drafted body, sent once
    assert stored is not None and stored["properties"]["parameters"] == draft.parameters()
    [record] = result.records
    assert record.kind == Kind.POLICY_ASSIGNMENT and idkey(record.id) == idkey(draft.assignment_id)
    assert record.scope == f"/subscriptions/{sub}" and record.body == stored
    assert list(result.pending) == [idkey(draft.assignment_id)]
    assert datetime.now(UTC) - result.pending[idkey(draft.assignment_id)] < timedelta(minutes=1)
    assert result.removed == [] and result.evaluation_started and triggers == 1
    assert [(c.method, c.path) for c in result.calls] == [
        ("PUT", draft.assignment_id),
        ("POST", f"/subscriptions/{sub}/providers/Microsoft.PolicyInsights{TRIGGER}"),
    ]
    assert "Created the guardrail policy 'Block hate'" in result.message
    [entry] = audit(audit_path)
    assert (entry.operation, entry.outcome, entry.principal, entry.cloud) == (
        "policyAssignment.create",
        "succeeded",
        ALICE,
        "custom",
    )
    assert entry.target == draft.assignment_id and entry.before is None and entry.after == stored
    assert entry.request["method"] == "PUT" and entry.request["path"] == draft.assignment_id
    # The window patches its inventory with the result: the new policy shows, pending evaluation.
    inv = shown.patched(result.records, result.removed, pending=result.pending)
    row = next(r for r in inv.policy_rows() if r.policy.key == idkey(draft.assignment_id))
    assert row.status is PolicyStatus.PENDING


def test_update_rewrites_the_assignment_in_place(
    demo: Scenario, audit_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = policy_named(demo, "gr-dev-baseline")
    before = demo.find(policy.id).body
    draft = draft_from_policy(policy)
    draft.choices.append(ControlChoice("Profanity", (PROMPT, COMPLETION)))

    async def go() -> tuple[WriteResult, list[tuple[str, str]], list[Any], dict[str, Any] | None]:
        with ArmEmulator(demo) as emu:
            async with signed_in(emu, audit_path, monkeypatch) as actions:
                result = await actions.apply_policy(draft)
            bodies = [e.body for e in emu.requests if e.method == "PUT"]
            return result, writes(emu), bodies, emu.resource(policy.id)

    result, sent, bodies, stored = run_async(go())
    assert sent == [("PUT", policy.id)] and bodies == [draft.assignment_body()]
    assert stored is not None and stored["properties"]["parameters"]["allowedProfanityEnabledForPrompt"] == {
        "value": ["true"]
    }
    assert result.records[0].body == stored and result.removed == []
    [entry] = audit(audit_path)
    assert entry.operation == "policyAssignment.update" and entry.before == before and entry.after == stored


def test_an_assignment_changed_since_it_was_read_is_a_conflict(
    demo: Scenario, audit_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = policy_named(demo, "gr-dev-baseline")
    draft = draft_from_policy(policy)
    draft.choices.append(ControlChoice("Profanity", (PROMPT, COMPLETION)))

    async def go() -> tuple[str, list[tuple[str, str]], dict[str, Any] | None]:
        with ArmEmulator(demo) as emu:
            # Someone edits the assignment in the portal after fcdesk read it.
            emu.update(policy.id, lambda body: body["properties"].update({"description": "edited elsewhere"}))
            async with signed_in(emu, audit_path, monkeypatch) as actions:
                with pytest.raises(ConflictError) as info:
                    await actions.apply_policy(draft)
            return info.value.user_message, writes(emu), emu.resource(policy.id)

    message, sent, stored = run_async(go())
    assert "changed in Azure since it was read" in message and "Nothing was written" in message
    assert sent == [] and stored is not None and stored["properties"]["description"] == "edited elsewhere"
    assert [e.outcome for e in audit(audit_path)] == ["conflict"]


def test_creating_over_an_existing_assignment_is_a_conflict(
    demo: Scenario, audit_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = policy_named(demo, "gr-dev-baseline")
    draft = hate_draft(policy.scope)
    draft.name = policy.name  # a "new" policy whose name is taken at that scope

    async def go() -> tuple[ConflictError, list[tuple[str, str]]]:
        with ArmEmulator(demo) as emu:
            async with signed_in(emu, audit_path, monkeypatch) as actions:
                with pytest.raises(ConflictError) as caught:
                    await actions.apply_policy(draft)
            return caught.value, writes(emu)

    error, sent = run_async(go())
    assert sent == [] and "already exists" in error.user_message
    assert [(e.operation, e.outcome) for e in audit(audit_path)] == [("policyAssignment.create", "conflict")]


def test_a_new_scope_creates_the_assignment_there_and_deletes_the_old_one(
    demo: Scenario, audit_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = policy_named(demo, "gr-dev-baseline")
    rg = next(
        r.body["id"]
        for r in demo.of_kind(Kind.RESOURCE_GROUP)
        if idkey(r.body["id"]).startswith(idkey(policy.scope) + "/")
    )
    draft = draft_from_policy(policy)
    draft.scope, draft.exceptions = rg, []
    assert draft.scope_changed

    async def go() -> tuple[WriteResult, list[tuple[str, str]], Any, Any]:
        with ArmEmulator(demo) as emu:
            async with signed_in(emu, audit_path, monkeypatch) as actions:
                result = await actions.apply_policy(draft)
            return result, writes(emu), emu.resource(policy.id), emu.resource(draft.assignment_id)

    result, sent, old, new = run_async(go())
    assert sent == [("PUT", draft.assignment_id), ("DELETE", policy.id)]  # created first, then deleted
    assert old is None and new is not None and new["properties"]["scope"] == rg
    assert result.removed == [policy.id] and idkey(result.records[0].id) == idkey(draft.assignment_id)
    assert [(e.operation, e.outcome) for e in audit(audit_path)] == [
        ("policyAssignment.create", "succeeded"),
        ("policyAssignment.delete", "succeeded"),
    ]


def test_delete_removes_the_policy_and_audits_it(
    demo: Scenario, audit_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = policy_named(demo, "gr-prod-prompt-shields")
    before = demo.find(policy.id).body

    async def go() -> tuple[WriteResult, list[tuple[str, str]], Any]:
        with ArmEmulator(demo) as emu:
            async with signed_in(emu, audit_path, monkeypatch) as actions:
                assert [(c.method, c.path) for c in actions.delete_calls(policy)] == [("DELETE", policy.id)]
                result = await actions.delete_policy(policy)
            return result, writes(emu), emu.resource(policy.id)

    result, sent, stored = run_async(go())
    assert sent == [("DELETE", policy.id)] and stored is None
    assert result.removed == [policy.id] and result.records == []
    [entry] = audit(audit_path)
    assert (entry.operation, entry.outcome, entry.before, entry.after) == (
        "policyAssignment.delete",
        "succeeded",
        before,
        None,
    )


# ------------------------------------------------------------------------------------- rights


def test_a_reader_is_refused_before_anything_is_sent(
    demo: Scenario, audit_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo.only("Reader")
    policy = policy_named(demo, "gr-dev-baseline")
    draft = hate_draft(policy.scope)

    async def go() -> tuple[Any, Any, Any, list[str]]:
        with ArmEmulator(demo) as emu:
            async with signed_in(emu, audit_path, monkeypatch) as actions:
                rights = await actions.rights_for_policies(policy.scope)
                with pytest.raises(RefusedError) as refused:
                    await actions.apply_policy(draft)
                with pytest.raises(RefusedError):
                    await actions.delete_policy(policy)
            sent = [e.method for e in emu.requests if e.method != "GET"]
            return rights, refused.value, emu.count("/permissions"), sent

    rights, refused, permission_reads, sent = run_async(go())
    assert (
        not rights.allowed
        and POLICY_ROLES_TEXT in rights.reason
        and "policyAssignments/write" in rights.reason
    )
    assert refused.user_message == rights.reason
    assert sent == [] and permission_reads == 1  # the answer is cached per scope
    assert [(e.operation, e.outcome, e.error) for e in audit(audit_path)] == [
        ("policyAssignment.create", "refused", rights.reason),
        ("policyAssignment.delete", "refused", rights.reason),
    ]


def test_resource_policy_contributor_may_write_policies_but_not_guardrails(
    demo: Scenario, audit_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo.only("Resource Policy Contributor")
    inv, dep, pol = failing_pair(demo, {GuardrailOrigin.SYSTEM, GuardrailOrigin.ACCOUNT_DEFAULT})

    async def go() -> tuple[Any, Any, list[tuple[str, str]]]:
        with ArmEmulator(demo) as emu:
            async with signed_in(emu, audit_path, monkeypatch) as actions:
                policies = await actions.rights_for_policies(pol.scope)
                guardrails = await actions.rights_for_guardrail(dep.account_id)
                change = await new_guardrail_change(actions, inv, dep, pol)
                with pytest.raises(RefusedError):
                    await actions.apply_guardrail(change)
            return policies, guardrails, writes(emu)

    policies, guardrails, sent = run_async(go())
    assert policies.allowed and policies.reason == ""
    assert not guardrails.allowed and GUARDRAIL_ROLES_TEXT in guardrails.reason
    assert sent == []
    assert {(e.operation, e.outcome) for e in audit(audit_path)} == {
        ("raiPolicy.create", "refused"),
        ("deployment.setGuardrail", "refused"),
    }


def test_a_failed_rights_check_says_why_and_is_tried_again(
    demo: Scenario, audit_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scope = f"/subscriptions/{demo.subscription_ids()[0]}"
    faults = Faults(server_errors=Rule(path="/permissions", times=5, status=503, retry_after_ms=10))

    async def go() -> tuple[Any, Any]:
        with ArmEmulator(demo, faults=faults) as emu:
            async with signed_in(emu, audit_path, monkeypatch) as actions:
                return await actions.rights_for_policies(scope), await actions.rights_for_policies(scope)

    failed, retried = run_async(go())
    assert not failed.allowed
    assert failed.reason.startswith(
        f"Could not check your permissions at Subscription {demo.subscription_ids()[0]}: "
    )
    assert "HTTP 503" in failed.reason
    assert retried.allowed  # a failure is not cached


def test_an_evaluation_that_cannot_be_started_is_reported_not_raised(
    demo: Scenario, audit_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo.only("Security Admin")  # may assign policies, may not trigger a scan
    draft = hate_draft(f"/subscriptions/{demo.subscription_ids()[2]}")

    async def go() -> tuple[WriteResult, Any, bool]:
        with ArmEmulator(demo) as emu:
            async with signed_in(emu, audit_path, monkeypatch) as actions:
                result = await actions.apply_policy(draft)
                again = await actions.trigger_evaluation(draft.scope)
            return result, emu.resource(draft.assignment_id), again

    result, stored, again = run_async(go())
    assert stored is not None and result.records[0].body == stored
    assert not result.evaluation_started and not again
    assert "access denied (HTTP 403" in result.message and "within about 30 minutes" in result.message


# ------------------------------------------------------------------------------------- guardrails


def test_fix_now_points_the_deployment_at_a_new_guardrail_and_azure_then_agrees(
    demo: Scenario, audit_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inv, dep, pol = failing_pair(demo, {GuardrailOrigin.SYSTEM, GuardrailOrigin.ACCOUNT_DEFAULT})
    progress: list[str] = []

    async def go() -> tuple[GuardrailChange, WriteResult, str, str, Any, int]:
        with ArmEmulator(demo) as emu:
            emu.evaluate(pol.scope)
            verdict_before = summary_state(demo, dep, pol)
            async with signed_in(emu, audit_path, monkeypatch) as actions:
                change = await new_guardrail_change(actions, inv, dep, pol)
                result = await actions.apply_guardrail(change, on_progress=progress.append)
            return (
                change,
                result,
                verdict_before,
                summary_state(demo, dep, pol),
                emu.resource(dep.id),
                emu.count(TRIGGER),
            )

    change, result, verdict_before, verdict_after, stored, triggers = run_async(go())
    seen = change.seen.deployments[dep.key]
    assert stored["properties"]["raiPolicyName"] == change.rai_policy_name
    assert stored["properties"]["provisioningState"] == "Succeeded"  # the operation was followed to its end
    assert stored["etag"] != seen["etag"]
    assert [(r.kind, r.scope) for r in result.records] == [
        (Kind.RAI_POLICY, dep.account_id),
        (Kind.DEPLOYMENT, dep.account_id),
    ]
    assert result.records[1].body == stored
    assert list(result.pending) == [pol.key] and result.evaluation_started and triggers == 1
    assert (verdict_before, verdict_after) == ("NonCompliant", "Compliant")
    assert any(p.startswith("Create the guardrail") for p in progress) and any(
        p.startswith("Point the deployment") for p in progress
    )
    entries = audit(audit_path)
    assert [(e.operation, e.outcome) for e in entries] == [
        ("raiPolicy.create", "succeeded"),
        ("deployment.setGuardrail", "succeeded"),
    ]
    assert entries[1].before == seen and entries[1].after == stored
    # The window's own check agrees at once once the inventory is patched.
    patched = inv.patched(result.records, pending=result.pending)
    new_dep = next(d for d in patched.deployments if d.key == dep.key)
    assert patched.local(new_dep, pol).passed


def test_a_deployment_changed_since_it_was_read_is_a_conflict(
    demo: Scenario, audit_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inv, dep, pol = failing_pair(demo, {GuardrailOrigin.SYSTEM, GuardrailOrigin.ACCOUNT_DEFAULT})

    async def go() -> tuple[GuardrailChange, ConflictError, dict[str, Any], list[tuple[str, str]]]:
        with ArmEmulator(demo) as emu:
            async with signed_in(emu, audit_path, monkeypatch) as actions:
                change = await new_guardrail_change(actions, inv, dep, pol)
                changed = emu.update(dep.id, lambda b: b.setdefault("tags", {}).update(owner="someone else"))
                with pytest.raises(ConflictError) as caught:
                    await actions.apply_guardrail(change)
            return change, caught.value, changed, writes(emu)

    change, error, changed, sent = run_async(go())
    assert sent == []  # nothing written: not even the guardrail
    assert idkey(error.target) == dep.key
    assert (error.seen, error.now) == (change.seen.deployments[dep.key]["etag"], changed["etag"])
    assert "Nothing was written" in error.user_message
    assert {(e.operation, e.outcome) for e in audit(audit_path)} == {
        ("raiPolicy.create", "conflict"),
        ("deployment.setGuardrail", "conflict"),
    }


def test_a_new_guardrail_whose_name_was_taken_meanwhile_is_a_conflict(
    demo: Scenario, audit_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inv, dep, pol = failing_pair(demo, {GuardrailOrigin.SYSTEM, GuardrailOrigin.ACCOUNT_DEFAULT})

    async def go() -> tuple[ConflictError, list[tuple[str, str]]]:
        with ArmEmulator(demo) as emu:
            async with signed_in(emu, audit_path, monkeypatch) as actions:
                change = await new_guardrail_change(actions, inv, dep, pol)
                emu.put_resource(
                    {
                        "id": f"{dep.account_id}/raiPolicies/{change.rai_policy_name}",
                        "name": change.rai_policy_name,
                        "type": "Microsoft.CognitiveServices/accounts/raiPolicies",
                        "properties": {
                            "basePolicyName": "Microsoft.DefaultV2",
                            "mode": "Default",
                            "contentFilters": [],
                        },
                    }
                )
                with pytest.raises(ConflictError) as caught:
                    await actions.apply_guardrail(change)
            return caught.value, writes(emu)

    error, sent = run_async(go())
    assert sent == [] and "now exists" in error.user_message


def test_a_failed_deployment_write_reports_what_was_done_and_the_true_state(
    demo: Scenario, audit_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inv, dep, pol = failing_pair(demo, {GuardrailOrigin.SYSTEM, GuardrailOrigin.ACCOUNT_DEFAULT})
    faults = Faults(server_errors=Rule(path=f"/deployments/{dep.name}", method="PUT", times=None))

    async def go() -> tuple[GuardrailChange, WriteFailed, int]:
        with ArmEmulator(demo, faults=faults) as emu:
            async with signed_in(emu, audit_path, monkeypatch) as actions:
                change = await new_guardrail_change(actions, inv, dep, pol)
                with pytest.raises(WriteFailed) as caught:
                    await actions.apply_guardrail(change)
            return change, caught.value, emu.count(f"/deployments/{dep.name}", method="PUT")

    change, failed, deployment_puts = run_async(go())
    assert failed.cause is not None and failed.cause.status == 500 and deployment_puts == 2
    assert failed.user_message.startswith(f"Could not point the deployment '{dep.name}'")
    assert failed.done == [f"Created the guardrail '{change.rai_policy_name}' on account {dep.account_name}"]
    by_kind = {r.kind: r for r in failed.reread}
    assert (
        by_kind[Kind.DEPLOYMENT].body["properties"].get("raiPolicyName") == dep.rai_policy_name
    )  # unchanged
    assert by_kind[Kind.DEPLOYMENT].body["etag"] == change.seen.deployments[dep.key]["etag"]
    assert by_kind[Kind.RAI_POLICY].body["name"] == change.rai_policy_name  # that step did happen
    assert failed.removed == []
    entries = audit(audit_path)
    assert [(e.operation, e.outcome) for e in entries] == [
        ("raiPolicy.create", "succeeded"),
        ("deployment.setGuardrail", "failed"),
    ]
    assert "HTTP 500" in entries[1].error


def test_guardrail_calls_skip_deployments_already_pointing_at_the_guardrail(demo: Scenario) -> None:
    inv = Inventory.build(demo.meta, demo.records)
    rail = next(
        g
        for g in inv.guardrails.values()
        if len([d for d in inv.deployments if (d.rai_policy_name or "").lower() == g.name.lower()]) >= 2
    )
    users = [d for d in inv.deployments if (d.rai_policy_name or "").lower() == rail.name.lower()]
    other = next(d for d in inv.deployments if d.account_key == users[0].account_key and d not in users)
    bodies = {d.key: demo.find(d.id).body for d in [*users, other]}
    seen = GuardrailTargets(rail.account_id, demo.find(rail.id).body, bodies)
    change = GuardrailChange(
        rail.account_id,
        rail.name,
        plan_from_effective(inv.effective(users[0])),
        [*(d.id for d in users), other.id],
        seen,
    )
    actions = Actions(AzureSession(), AuditLog(), principal="p", cloud=custom_cloud("https://arm.example"))
    calls = actions.guardrail_calls(change)
    assert [(c.method, c.path.rsplit("/", 2)[-2]) for c in calls] == [
        ("PUT", "raiPolicies"),
        ("PUT", "deployments"),
        ("POST", "latest"),
    ]
    assert calls[1].path == other.id and calls[1].body["properties"]["raiPolicyName"] == rail.name
    assert "etag" not in calls[1].body and "id" not in calls[1].body
    assert calls[0].body["properties"]["contentFilters"] and calls[2].path.endswith(TRIGGER)


def demo_meta() -> SnapshotMeta:
    return SnapshotMeta(captured_at=datetime.now(UTC))


def test_a_new_guardrail_copies_the_blocklists_of_the_one_it_replaces() -> None:
    account = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/a"
    shared = {
        "id": f"{account}/raiPolicies/shared",
        "name": "shared",
        "etag": '"1"',
        "properties": {
            "type": "UserManaged",
            "basePolicyName": "Microsoft.DefaultV2",
            "contentFilters": [],
            "customBlocklists": [{"blocklistName": "words", "blocking": True, "source": "Prompt"}],
        },
    }
    dep = {"id": f"{account}/deployments/d", "name": "d", "properties": {"raiPolicyName": "shared"}}
    inv = Inventory.build(
        demo_meta(),
        [
            RawRecord(Kind.RAI_POLICY, shared["id"], shared, account),
            RawRecord(Kind.DEPLOYMENT, dep["id"], dep, account),
        ],
    )
    plan = plan_from_effective(inv.effective(inv.deployments[0]))
    seen = GuardrailTargets(account, None, {idkey(dep["id"]): dep})
    actions = Actions(AzureSession(), AuditLog(), principal="p", cloud=custom_cloud("https://arm.example"))
    copied = GuardrailChange(account, "d-guardrail", plan, [dep["id"]], seen, create=True, template=shared)
    fresh = GuardrailChange(account, "d-guardrail", plan, [dep["id"]], seen, create=True)
    props = actions.guardrail_calls(copied)[0].body["properties"]
    assert props["customBlocklists"] == shared["properties"]["customBlocklists"] and "type" not in props
    assert "customBlocklists" not in actions.guardrail_calls(fresh)[0].body["properties"]


# ------------------------------------------------------------------------------------- audit


def test_audit_lines_are_json_objects_with_every_field(
    demo: Scenario, audit_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo.only("Reader").grant(
        "Resource Policy Contributor", f"/subscriptions/{demo.subscription_ids()[1]}", principal=ALICE
    )
    allowed = hate_draft(f"/subscriptions/{demo.subscription_ids()[1]}")
    refused = hate_draft(f"/subscriptions/{demo.subscription_ids()[0]}")

    async def go() -> None:
        with ArmEmulator(demo) as emu:
            async with signed_in(emu, audit_path, monkeypatch) as actions:
                await actions.apply_policy(allowed)
                with pytest.raises(RefusedError):
                    await actions.apply_policy(refused)

    run_async(go())
    lines = audit_path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    names = {f.name for f in fields(AuditEntry)}
    for line in lines:
        data = json.loads(line)
        assert set(data) == names
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", data["time"])
        assert data["principal"] == ALICE and data["cloud"] == "custom"
        assert data["request"]["method"] == "PUT" and data["request"]["path"] == data["target"]
        assert data["request"]["apiVersion"]
    outcomes = [json.loads(line)["outcome"] for line in lines]
    assert outcomes == ["succeeded", "refused"]
    assert [json.loads(line)["target"] for line in lines] == [allowed.assignment_id, refused.assignment_id]
