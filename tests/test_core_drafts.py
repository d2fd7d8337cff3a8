"""Policy drafts: assignment bodies, what-if, policy files; fix plans; patched inventories; the audit log."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fcdesk.core.drafts import (
    ControlChoice,
    DraftError,
    PolicyDraft,
    choices_from_requirements,
    document_from_draft,
    draft_from_document,
    draft_from_policy,
    parse_policy_text,
    requirement,
    scope_text,
    what_if,
)
from fcdesk.core.fix import (
    FilterSetting,
    Unsatisfiable,
    control_diff,
    deployment_put_body,
    effective_after,
    meet_requirements,
    plan_from_effective,
    rai_policy_body,
    sharing_deployments,
    suggest_guardrail_name,
    valid_guardrail_name,
)
from fcdesk.core.guardrails import COMPLETION, PROMPT, Mode, Severity
from fcdesk.core.inventory import PolicyStatus
from fcdesk.core.policy import INITIATIVE_ID, evaluate
from fcdesk.core.records import Kind, RawRecord
from fcdesk.store.audit import AuditEntry, AuditLog
from tests.helpers import builders as b

INITIATIVE = (
    Path(__file__).parent
    / "fixtures"
    / "azure-examples"
    / "policy-builtins"
    / "policySet_AllowDeploymentControl_Audit.json"
)
SUB = "11111111-1111-1111-1111-111111111111"
ACCT = b.account_id(SUB, "rg-a", "acct")
ACCT_B = b.account_id(SUB, "rg-b", "acct-b")
HARMS = ("Hate", "Sexual", "Violence", "Selfharm")


def _all_medium() -> list[dict]:
    return [b.flt(h, s, threshold="Medium") for h in HARMS for s in (PROMPT, COMPLETION)]


def _tenant() -> list[RawRecord]:
    """rg-a: d-strict (custom, Low everywhere), d-v2 (DefaultV2), d-none (no name), two sharing 'shared';
    rg-b: d-other (DefaultV2)."""
    strict = [b.flt(h, s, threshold="Low") for h in HARMS for s in (PROMPT, COMPLETION)]
    strict.append(b.flt("Jailbreak", PROMPT))
    return [
        b.subscription(SUB, "Prod"),
        b.account(ACCT),
        b.account(ACCT_B),
        b.rai_policy(ACCT, "strict", strict),
        b.rai_policy(
            ACCT, "shared", [b.flt("Hate", PROMPT, threshold="High")], blocklists=[("words", PROMPT)]
        ),
        b.deployment(ACCT, "d-strict", "strict"),
        b.deployment(ACCT, "d-v2", "Microsoft.DefaultV2"),
        b.deployment(ACCT, "d-none"),
        b.deployment(ACCT, "d-shared-1", "shared"),
        b.deployment(ACCT, "d-shared-2", "shared"),
        b.deployment(ACCT_B, "d-other", "Microsoft.DefaultV2"),
    ]


def _dep(inv, name):
    return next(d for d in inv.deployments if d.name == name)


def _draft(**kw) -> PolicyDraft:
    base = {
        "display_name": "Block hate at Low",
        "scope": f"/subscriptions/{SUB}",
        "choices": [ControlChoice("Hate", (PROMPT, COMPLETION), Severity.LOW)],
    }
    base.update(kw)
    return PolicyDraft(**base)


# ------------------------------------------------------------------------------------ drafts


def test_assignment_body_sets_only_known_parameters_with_allowed_values() -> None:
    initiative = json.loads(INITIATIVE.read_text(encoding="utf-8"))["properties"]["parameters"]
    draft = _draft(
        choices=[
            ControlChoice("Hate", (PROMPT, COMPLETION), Severity.LOW),
            ControlChoice("Jailbreak", (PROMPT,)),
            ControlChoice("Profanity", (COMPLETION,), blocking=False),
        ],
        modes=frozenset({Mode.DEFAULT}),
        exceptions=[f"/subscriptions/{SUB}/resourceGroups/rg-b"],
    )
    body = draft.assignment_body()
    props = body["properties"]
    assert props["policyDefinitionId"] == INITIATIVE_ID
    assert props["notScopes"] == [f"/subscriptions/{SUB}/resourceGroups/rg-b"]
    assert props["metadata"] == {"managedBy": "fcdesk"}  # Azure sets createdBy/createdOn itself
    for name, entry in props["parameters"].items():
        assert name in initiative, name
        allowed = initiative[name].get("allowedValues")
        assert isinstance(entry["value"], list)
        if allowed:
            assert set(entry["value"]) <= set(allowed), name
    params = props["parameters"]
    assert params["allowedHateSeveritiesForPrompt"]["value"] == ["Low"]  # "blocks ≥ Low" is Low only
    assert params["allowedHateBlockingForCompletion"]["value"] == ["true"]
    assert params["allowedProfanityBlockingForCompletion"]["value"] == ["true", "false"]
    assert params["allowedProfanityEnabledForCompletion"]["value"] == ["true"]
    # Controls not chosen are permissive, so the policy does not enforce the initiative's defaults.
    assert set(params["allowedSexualSeveritiesForPrompt"]["value"]) == {"High", "Medium", "Low"}
    assert params["raiPolicyMode"]["value"] == ["Default"]
    # ... and their references are switched off, so an absent filter does not fail them either.
    refs = initiative_refs()
    (override,) = props["overrides"]
    assert override["kind"] == "policyEffect" and override["value"] == "Disabled"
    (selector,) = override["selectors"]
    assert selector["kind"] == "policyDefinitionReferenceId" and set(selector["in"]) <= refs
    assert {r.split(" on ")[1].split(" for ")[0] for r in selector["in"]} == {
        "Sexual",
        "Violence",
        "Self-harm",
        "XPIA",
        "Spotlighting",
        "Protected Material Text",
        "Protected Material Code",
        "Profanity",
    }
    assert any(r.endswith("Profanity for Model Deployments - Prompt") for r in selector["in"])
    assert not any(
        r.endswith("- Completion") or "Hate" in r or "Jailbreak" in r or "mode" in r for r in selector["in"]
    )


def initiative_refs() -> set[str]:
    doc = json.loads(INITIATIVE.read_text(encoding="utf-8"))
    return {p["policyDefinitionReferenceId"] for p in doc["properties"]["policyDefinitions"]}


def test_draft_problems_name_each_missing_piece() -> None:
    empty = PolicyDraft()
    problems = " ".join(empty.problems())
    assert "Add at least one control" in problems and "scope" in problems and "policy name" in problems
    outside = _draft(exceptions=["/subscriptions/other/resourceGroups/x"])
    assert any("not inside the scope" in p for p in outside.problems())
    assert _draft(display_name="x" * 129).problems() == ["The policy name is longer than 128 characters."]
    assert _draft().problems() == []


def test_assignment_name_is_stable_valid_and_kept_on_edit() -> None:
    draft = _draft(display_name="Block <b>hate</b>: at Low?")
    name = draft.assignment_name
    assert name == _draft(display_name="Block <b>hate</b>: at Low?").assignment_name
    assert len(name) <= 64 and all(ch.isalnum() or ch == "-" for ch in name)
    edited = draft_from_policy(draft.as_policy())
    edited.display_name = "Renamed"
    assert edited.assignment_name == name


def test_edit_round_trip_reproduces_the_body_and_detects_scope_change() -> None:
    draft = _draft(
        choices=[ControlChoice("Hate", (PROMPT,), Severity.MEDIUM), ControlChoice("Jailbreak", (PROMPT,))]
    )
    policy = draft.as_policy()
    again = draft_from_policy(policy)
    assert again.choices == draft.choices
    assert (
        again.assignment_body()["properties"]["parameters"]
        == draft.assignment_body()["properties"]["parameters"]
    )
    assert not again.scope_changed
    again.scope = f"/subscriptions/{SUB}/resourceGroups/rg-a"
    assert again.scope_changed


def test_requirements_the_wizard_cannot_express_are_kept() -> None:
    off = requirement(("Profanity", PROMPT))
    must_be_off = type(off)(off.key, frozenset({False}), off.allowed_blocking, None)
    choices, kept = choices_from_requirements({must_be_off.key: must_be_off})
    assert choices == [] and kept == [must_be_off]


def test_what_if_counts_scope_exceptions_and_failing_controls() -> None:
    inv = b.inventory(_tenant())
    draft = _draft(exceptions=[_dep(inv, "d-shared-1").id])
    result = what_if(inv, draft)
    assert result.in_scope == 6 and result.excepted == 1
    names = sorted(r.deployment.name for r in result.violating)
    # DefaultV2 and no-name deployments block at Medium: they fail "≥ Low"; 'shared' sets High.
    assert names == ["d-none", "d-other", "d-shared-2", "d-v2"]
    assert dict(result.by_control) == {"Hate (prompt)": 4, "Hate (completion)": 4}
    narrow = what_if(inv, _draft(scope=f"/subscriptions/{SUB}/resourceGroups/rg-b"))
    assert narrow.in_scope == 1 and [r.deployment.name for r in narrow.violating] == ["d-other"]
    assert "4 of 5 deployments" in result.headline and "1 excepted" in result.headline


def test_policy_file_yaml_round_trip_and_edit_detection() -> None:
    text = f"""
displayName: Shields on
scope: /subscriptions/{SUB}/resourceGroups/rg-a
controls:
  - control: jailbreak
  - control: Self-harm
    sources: [completion]
    threshold: low
    blocking: false
modes: [Default]
exceptions:
  - {ACCT}/deployments/d-v2
"""
    draft = draft_from_document(parse_policy_text(text, filename="p.yaml"))
    assert draft.choices == [
        ControlChoice("Jailbreak", (PROMPT,)),
        ControlChoice("Selfharm", (COMPLETION,), Severity.LOW, blocking=False),
    ]
    assert draft.modes == frozenset({Mode.DEFAULT}) and draft.resource_group == "rg-a"
    doc = document_from_draft(draft)
    again = draft_from_document(json.loads(json.dumps(doc)), existing=[draft.as_policy()])
    assert again.choices == draft.choices and again.is_edit


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ([], "mapping"),
        ({"scope": f"/subscriptions/{SUB}"}, "displayName"),
        ({"displayName": "x", "scope": "/providers/x"}, "'scope' must be"),
        (
            {"displayName": "x", "scope": f"/subscriptions/{SUB}", "controls": [{"control": "Nope"}]},
            "unknown control",
        ),
        (
            {
                "displayName": "x",
                "scope": f"/subscriptions/{SUB}",
                "controls": [{"control": "Jailbreak", "sources": ["completion"]}],
            },
            "prompt only",
        ),
        (
            {
                "displayName": "x",
                "scope": f"/subscriptions/{SUB}",
                "controls": [{"control": "Hate", "threshold": "Severe"}],
            },
            "Low, Medium or High",
        ),
        (
            {
                "displayName": "x",
                "scope": f"/subscriptions/{SUB}",
                "controls": [{"control": "Jailbreak", "threshold": "Low"}],
            },
            "no threshold",
        ),
        (
            {
                "displayName": "x",
                "scope": f"/subscriptions/{SUB}",
                "controls": ["Hate"],
                "modes": ["Blocking"],
            },
            "modes",
        ),
        (
            {"displayName": "x", "scope": f"/subscriptions/{SUB}", "controls": ["Hate"], "extra": 1},
            "Unknown key",
        ),
        ({"displayName": "x", "scope": f"/subscriptions/{SUB}"}, "Add at least one control"),
    ],
)
def test_policy_file_errors_are_plain_sentences(doc: object, message: str) -> None:
    with pytest.raises(DraftError, match=message):
        draft_from_document(doc)


def test_malformed_yaml_says_where() -> None:
    with pytest.raises(DraftError, match=r"line 2"):
        parse_policy_text("displayName: x\n  - : [\n")
    with pytest.raises(DraftError, match="not valid JSON"):
        parse_policy_text("{bad", filename="p.json")


def test_scope_text_reads_like_people_talk() -> None:
    assert scope_text(f"/subscriptions/{SUB}") == f"Subscription {SUB}"
    assert scope_text(f"{ACCT}/deployments/d1") == "Deployment d1 (account acct, resource group rg-a)"


# ------------------------------------------------------------------------------------ fix plans


def test_meet_requirements_raises_exactly_the_failing_controls() -> None:
    inv = b.inventory(_tenant())
    dep = _dep(inv, "d-v2")
    policy = _draft(
        choices=[ControlChoice("Hate", (PROMPT,), Severity.LOW), ControlChoice("Profanity", (COMPLETION,))]
    ).as_policy()
    before = inv.effective(dep)
    plan = plan_from_effective(before)
    new, changed = meet_requirements(plan, [policy])
    assert changed == ["Hate (prompt)", "Profanity (completion)"]
    after = effective_after(new, "fixed", dep.account_id)
    assert evaluate(policy, after).passed and not evaluate(policy, before).passed
    diff = control_diff(before, after)
    assert [(c.label, c.before, c.after) for c in diff] == [
        ("Hate (prompt)", "Blocks ≥ Medium", "Blocks ≥ Low"),
        ("Profanity (completion)", "Not set", "Blocks"),
    ]
    # A passing control stays as it was, even when stricter than needed.
    strict = plan_from_effective(inv.effective(_dep(inv, "d-strict")))
    again, changed2 = meet_requirements(
        strict, [_draft(choices=[ControlChoice("Hate", (PROMPT,), Severity.HIGH)]).as_policy()]
    )
    assert changed2 == [] and again.settings == strict.settings


def test_controls_switched_off_by_overrides_are_neither_checked_nor_raised() -> None:
    inv = b.inventory(_tenant())
    dep = _dep(inv, "d-v2")  # DefaultV2: no profanity, no indirect-attack filters
    policy = _draft(choices=[ControlChoice("Hate", (PROMPT,), Severity.MEDIUM)]).as_policy()
    assert evaluate(policy, inv.effective(dep)).passed
    assert [r.label for r in evaluate(policy, inv.effective(dep)).results] == [
        "Hate (prompt)",
        "Hate (completion)",
    ]
    _, changed = meet_requirements(plan_from_effective(inv.effective(dep)), [policy])
    assert changed == []
    # Without the override the initiative's own rule applies: an absent filter fails.
    policy.disabled_references = frozenset()
    policy._content_key = None
    failures = {r.label for r in evaluate(policy, inv.effective(dep)).failures}
    assert "Profanity (prompt)" in failures and "Hate (prompt)" not in failures


def test_meet_requirements_takes_the_least_strict_level_every_policy_allows() -> None:
    inv = b.inventory(_tenant())
    plan = plan_from_effective(inv.effective(_dep(inv, "d-shared-1")))  # Hate prompt blocks ≥ High
    medium = _draft(choices=[ControlChoice("Hate", (PROMPT,), Severity.MEDIUM)]).as_policy()
    new, _ = meet_requirements(plan, [medium])
    assert new.settings[("Hate", PROMPT)] == FilterSetting(True, True, Severity.MEDIUM)


def test_contradicting_policies_are_unsatisfiable() -> None:
    inv = b.inventory(_tenant())
    plan = plan_from_effective(inv.effective(_dep(inv, "d-v2")))
    on = _draft(choices=[ControlChoice("Profanity", (PROMPT,))]).as_policy()
    req = requirement(("Profanity", PROMPT))
    off_policy = _draft(display_name="off", choices=[ControlChoice("Profanity", (PROMPT,))]).as_policy()
    off_policy.requirements[req.key] = type(req)(req.key, frozenset({False}), req.allowed_blocking, None)
    with pytest.raises(Unsatisfiable, match="Profanity"):
        meet_requirements(plan, [on, off_policy])


def test_rai_policy_body_keeps_other_properties_of_the_guardrail_updated() -> None:
    inv = b.inventory(_tenant())
    current = next(r for r in _tenant() if r.kind == Kind.RAI_POLICY and r.body["name"] == "shared").body
    plan = plan_from_effective(inv.effective(_dep(inv, "d-shared-1")))
    body = rai_policy_body(plan, current)
    props = body["properties"]
    assert props["customBlocklists"] == current["properties"]["customBlocklists"]
    assert "type" not in props and props["basePolicyName"] == "Microsoft.DefaultV2"
    hate = next(f for f in props["contentFilters"] if f["name"] == "Hate" and f["source"] == PROMPT)
    assert hate == {
        "name": "Hate",
        "source": "Prompt",
        "enabled": True,
        "blocking": True,
        "severityThreshold": "High",
    }
    jb = next(f for f in props["contentFilters"] if f["name"] == "Jailbreak")
    assert "severityThreshold" not in jb


def test_deployment_put_body_is_the_deployment_whole_minus_read_only_fields() -> None:
    current = b.deployment(ACCT, "d1", "Microsoft.DefaultV2").body | {"etag": '"1"', "systemData": {}}
    body = deployment_put_body(current, "fixed")
    assert body["properties"]["raiPolicyName"] == "fixed"
    assert body["properties"]["model"] == current["properties"]["model"] and body["sku"] == current["sku"]
    assert not {"id", "name", "type", "etag", "systemData"} & set(body)
    assert "provisioningState" not in body["properties"]
    assert current["properties"]["raiPolicyName"] == "Microsoft.DefaultV2"  # the input is not modified


def test_guardrail_names_and_sharing() -> None:
    inv = b.inventory(_tenant())
    dep = _dep(inv, "d-v2")
    assert suggest_guardrail_name(dep, []) == "d-v2-guardrail"
    assert suggest_guardrail_name(dep, ["D-V2-guardrail"]) == "d-v2-guardrail-2"
    assert valid_guardrail_name("Microsoft.Mine") and valid_guardrail_name("a b") and valid_guardrail_name("")
    assert valid_guardrail_name("ok_name-1.2") is None
    assert sorted(d.name for d in sharing_deployments(inv, ACCT, "SHARED")) == ["d-shared-1", "d-shared-2"]


# ------------------------------------------------------------------------------------ patched inventories


def test_patched_inventory_reevaluates_at_once_and_marks_pending() -> None:
    records = _tenant()
    inv = b.inventory(records)
    dep = _dep(inv, "d-v2")
    policy_body = {
        "id": f"/subscriptions/{SUB}/providers/Microsoft.Authorization/policyAssignments/p1",
        "name": "p1",
    }
    policy_body |= _draft().assignment_body()
    policy_rec = RawRecord(Kind.POLICY_ASSIGNMENT, policy_body["id"], policy_body, f"/subscriptions/{SUB}")
    written = datetime.now(UTC)
    inv2 = inv.patched([policy_rec], pending={policy_body["id"].lower(): written})
    assert len(inv.policies) == 0 and len(inv2.policies) == 1  # the original is untouched
    row = inv2.policy_rows()[0]
    assert row.status is PolicyStatus.PENDING and row.pending_since == written
    assert row.status_text.startswith("Pending evaluation (since ")
    assert {a.deployment.name for a in row.assets if not a.local.passed} == {
        "d-v2",
        "d-none",
        "d-shared-1",
        "d-shared-2",
        "d-other",
    }

    fixed = b.rai_policy(ACCT, "fixed", [b.flt("Hate", s, threshold="Low") for s in (PROMPT, COMPLETION)])
    moved = b.deployment(ACCT, "d-v2", "fixed")
    inv3 = inv2.patched([fixed, moved])
    dep3 = _dep(inv3, "d-v2")
    assert inv3.effective(dep3).name == "fixed"
    assert inv3.local(dep3, inv3.policies[0]).passed
    assert len(inv3.deployments) == len(inv.deployments)
    assert inv.effective(dep).name == "Microsoft.DefaultV2"

    inv4 = inv3.patched(removed=[policy_body["id"].upper()])
    assert inv4.policies == [] and inv4.policy_rows() == []


def test_pending_clears_when_azure_evaluated_after_the_write() -> None:
    inv = b.inventory(_tenant())
    policy_body = {
        "id": f"/subscriptions/{SUB}/providers/Microsoft.Authorization/policyAssignments/p1",
        "name": "p1",
    }
    policy_body |= _draft().assignment_body()
    rec = RawRecord(Kind.POLICY_ASSIGNMENT, policy_body["id"], policy_body, f"/subscriptions/{SUB}")
    key = policy_body["id"].lower()
    inv2 = inv.patched([rec], pending={key: datetime.now(UTC) - timedelta(hours=1)})
    inv2._evaluated_assignments[key] = datetime.now(UTC)
    assert inv2.pending_since(inv2.policies[0]) is None


# ------------------------------------------------------------------------------------ audit log


def test_audit_log_appends_json_lines_and_skips_damaged_ones(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    assert log.read() == ([], 0)
    first = AuditEntry(
        "2026-11-26T10:00:00Z",
        "ana@contoso.com",
        "AzureCloud",
        "policyAssignment.create",
        "/x",
        "succeeded",
        None,
        {"a": 1},
    )
    log.append(first)
    with (tmp_path / "audit.jsonl").open("a", encoding="utf-8") as fh:
        fh.write("{not json\n")
    second = AuditEntry(
        "2026-11-26T10:01:00Z",
        "ana@contoso.com",
        "AzureCloud",
        "raiPolicy.update",
        "/y",
        "failed",
        error="HTTP 500",
    )
    log.append(second)
    entries, damaged = log.read()
    assert entries == [first, second] and damaged == 1
    lines = (tmp_path / "audit.jsonl").read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[0])
    assert set(record) == {
        "time",
        "principal",
        "cloud",
        "operation",
        "target",
        "outcome",
        "before",
        "after",
        "error",
        "request",
    }
    assert log.read(limit=1)[0] == [second]


def test_editing_a_policy_keeps_what_it_checks_and_what_fcdesk_does_not_manage() -> None:
    """An assignment made elsewhere (no overrides, some controls 'present, any setting'): an
    unchanged edit judges every deployment as before and sends back the properties it does not own."""
    from fcdesk.core.demo import generate
    from fcdesk.core.inventory import Inventory
    from fcdesk.core.normalize import guardrail_policy
    from fcdesk.core.policy import evaluate as judge

    meta, records = generate(1, 0)
    inv = Inventory.build(meta, records)
    for policy in inv.policies:
        raw = next(r.body for r in records if r.kind == Kind.POLICY_ASSIGNMENT and r.id.lower() == policy.key)
        raw = json.loads(json.dumps(raw))
        raw["properties"]["nonComplianceMessages"] = [{"message": "Use an approved guardrail."}]
        raw["properties"]["definitionVersion"] = "1.*.*-preview"
        original = guardrail_policy(raw)
        draft = draft_from_policy(original)
        body = draft.assignment_body()["properties"]
        assert body["nonComplianceMessages"] == [{"message": "Use an approved guardrail."}]
        assert body["definitionVersion"] == "1.*.*-preview" and "scope" not in body
        rewritten = guardrail_policy({"id": raw["id"], "name": raw["name"], "properties": body})
        for dep in inv.deployments:
            eff = inv.effective(dep)
            before, after = judge(original, eff), judge(rewritten, eff)
            assert before.passed == after.passed and before.failed_references == after.failed_references
