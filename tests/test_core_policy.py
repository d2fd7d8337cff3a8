"""Strictness order, effective guardrails, the control→parameter table and local evaluation."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fcdesk.core.guardrails import (
    CATALOGUE,
    COMPLETION,
    PROMPT,
    Cell,
    CellState,
    ContentFilter,
    GuardrailOrigin,
    Severity,
    cell_of,
)
from fcdesk.core.inventory import AssetStatus, Inventory, PolicyStatus, Scope
from fcdesk.core.policy import (
    ALL_SEVERITIES,
    BOTH,
    CONTROL_PARAMS,
    INITIATIVE_ID,
    MODE_PARAM,
    MODE_REFERENCE,
    ControlRequirement,
    Mode,
    ModeRequirement,
    minimum,
    parameters_for,
    requirements_from_parameters,
)
from fcdesk.core.records import Kind, RawRecord, SnapshotMeta

INITIATIVE = Path(__file__).parent / "fixtures" / "azure-examples" / "policy-builtins" / "policySet_AllowDeploymentControl_Audit.json"
SUB = "11111111-1111-1111-1111-111111111111"
ACCT = f"/subscriptions/{SUB}/resourceGroups/rg-a/providers/Microsoft.CognitiveServices/accounts/acct"


def initiative() -> dict:
    return json.loads(INITIATIVE.read_text(encoding="utf-8"))


# ------------------------------------------------------------------------------------- strictness


def test_strictness_order_weakest_first() -> None:
    cells = [
        Cell(CellState.BLOCK, Severity.LOW),
        Cell(CellState.ANNOTATE),
        Cell(CellState.NOT_SET),
        Cell(CellState.BLOCK, Severity.HIGH),
        Cell(CellState.OFF),
        Cell(CellState.BLOCK, Severity.MEDIUM),
    ]
    ordered = [c.text for c in sorted(cells, key=lambda c: c.strictness)]
    assert ordered == ["Not set", "Off", "Annotate only", "Blocks ≥ High", "Blocks ≥ Medium", "Blocks ≥ Low"]


def test_low_threshold_is_strictest_and_never_shown_raw() -> None:
    low = cell_of(ContentFilter("Hate", PROMPT, True, True, Severity.LOW, "Low"), severity_control=True)
    high = cell_of(ContentFilter("Hate", PROMPT, True, True, Severity.HIGH, "High"), severity_control=True)
    assert low.strictness > high.strictness
    assert low.text == "Blocks ≥ Low" and "strictest" in low.explanation
    assert "only high" in high.explanation


@pytest.mark.parametrize(
    ("enabled", "blocking", "state"),
    [(False, True, CellState.OFF), (False, False, CellState.OFF), (True, False, CellState.ANNOTATE), (True, True, CellState.BLOCK), (None, None, CellState.NOT_SET)],
)
def test_cell_states(enabled: bool | None, blocking: bool | None, state: CellState) -> None:
    assert cell_of(ContentFilter("Jailbreak", PROMPT, enabled, blocking, None), severity_control=False).state is state


# ------------------------------------------------------------------------------------- parameter table


def test_every_parameter_we_set_exists_in_the_initiative_with_allowed_values() -> None:
    params = initiative()["properties"]["parameters"]
    ours = parameters_for({c.key: minimum(c.key, Severity.LOW) for c in CATALOGUE}, ModeRequirement(frozenset({Mode.DEFAULT})))
    for name, entry in ours.items():
        assert name in params, name
        allowed = params[name]["allowedValues"]
        assert set(entry["value"]) <= set(allowed), (name, entry["value"], allowed)
    # and every initiative parameter except the effect is covered by the table
    assert set(params) - {"effect"} == set(ours)


def test_reference_ids_match_the_initiative() -> None:
    refs = {r["policyDefinitionReferenceId"] for r in initiative()["properties"]["policyDefinitions"]}
    assert {p.reference_id for p in CONTROL_PARAMS.values()} | {MODE_REFERENCE} == refs


def test_unchosen_controls_are_permissive_and_defaults_enforce_everything() -> None:
    params = parameters_for({("Hate", PROMPT): minimum(("Hate", PROMPT), Severity.MEDIUM)}, None)
    assert params["allowedHateSeveritiesForPrompt"]["value"] == ["Low", "Medium"]
    assert params["allowedHateEnabledForPrompt"]["value"] == ["true"]
    assert params["allowedSexualEnabledForPrompt"]["value"] == ["true", "false"]
    assert params["allowedSexualSeveritiesForPrompt"]["value"] == ["Low", "Medium", "High"]
    assert params[MODE_PARAM]["value"] == ["Default", "Asynchronous_filter"]
    reqs, mode = requirements_from_parameters(params)
    assert [r.key for r in reqs.values() if not r.permissive] == [("Hate", PROMPT)]
    assert mode.permissive
    # No parameters at all: the initiative's defaults require every control.
    reqs, mode = requirements_from_parameters({})
    assert not any(r.permissive for r in reqs.values())
    assert reqs[("Hate", COMPLETION)].allowed_severities == frozenset({Severity.MEDIUM, Severity.HIGH})
    assert mode.allowed == frozenset({Mode.DEFAULT})


def test_requirement_text() -> None:
    assert minimum(("Hate", PROMPT), Severity.MEDIUM).text == "Must block ≥ Medium"
    assert minimum(("Jailbreak", PROMPT)).text == "Must block"
    assert ControlRequirement(("Hate", PROMPT), BOTH, BOTH, ALL_SEVERITIES).text == "Present (any setting)"
    assert ControlRequirement(("Hate", PROMPT), frozenset({True}), BOTH, ALL_SEVERITIES).text == "Must be on (annotate or block)"


def test_string_encoded_parameter_values() -> None:
    reqs, _ = requirements_from_parameters({"allowedJailbreakEnabledForPrompt": {"value": '["true"]'}, "allowedJailbreakBlockingForPrompt": {"value": ["TRUE", "maybe"]}})
    jb = reqs[("Jailbreak", PROMPT)]
    assert jb.allowed_enabled == frozenset({True}) and jb.allowed_blocking == frozenset({True})
    assert jb.unknown_values == ("maybe",)


# ------------------------------------------------------------------------------------- evaluation


def _rai(name: str, filters: list[dict], mode: str = "Default", base: str | None = None, rg: str = "rg-a") -> RawRecord:
    props: dict = {"mode": mode, "contentFilters": filters}
    if base:
        props["basePolicyName"] = base
    rid = f"{ACCT.replace('rg-a', rg)}/raiPolicies/{name}"
    return RawRecord(Kind.RAI_POLICY, rid, {"id": rid, "name": name, "properties": props})


def _dep(name: str, rai: str | None, rg: str = "rg-a") -> RawRecord:
    acct = ACCT.replace("rg-a", rg)
    props = {"model": {"format": "OpenAI", "name": "gpt-4o", "version": "2024-11-20"}}
    if rai:
        props["raiPolicyName"] = rai
    return RawRecord(Kind.DEPLOYMENT, f"{acct}/deployments/{name}", {"id": f"{acct}/deployments/{name}", "name": name, "properties": props})


def _assign(name: str, params: dict, scope: str = f"/subscriptions/{SUB}", not_scopes: list[str] | None = None) -> RawRecord:
    aid = f"{scope}/providers/Microsoft.Authorization/policyAssignments/{name}"
    body = {"id": aid, "name": name, "properties": {"displayName": name, "policyDefinitionId": INITIATIVE_ID, "scope": scope, "parameters": params, "notScopes": not_scopes or []}}
    return RawRecord(Kind.POLICY_ASSIGNMENT, aid, body)


def _state(dep: RawRecord, assign: RawRecord, state: str, ref: str = "") -> RawRecord:
    b = {"resourceId": dep.id, "policyAssignmentId": assign.id, "policyDefinitionReferenceId": ref, "complianceState": state, "timestamp": "2026-11-20T06:00:00Z"}
    return RawRecord(Kind.POLICY_STATE, f"{dep.id}|{assign.id}|{ref}", b)


def _sev(name: str, source: str, sev: str, enabled: bool = True, blocking: bool = True) -> dict:
    return {"name": name, "source": source, "enabled": enabled, "blocking": blocking, "severityThreshold": sev}


STRICT = [_sev(h, s, "Low") for h in ("Hate", "Sexual", "Violence", "Selfharm") for s in (PROMPT, COMPLETION)]
HATE_MEDIUM = {("Hate", PROMPT): minimum(("Hate", PROMPT), Severity.MEDIUM)}


def build(records: list[RawRecord]) -> Inventory:
    inv = Inventory.build(SnapshotMeta(datetime(2026, 11, 20, 9, tzinfo=UTC)), records)
    assert inv.errors == []
    return inv


def test_threshold_at_or_stricter_passes_and_looser_fails() -> None:
    strict, loose = _rai("strict", STRICT + [{"name": n, "source": s, "enabled": True, "blocking": True} for n, s in [("Jailbreak", PROMPT)]]), _rai(
        "loose", [_sev("Hate", PROMPT, "High")] + STRICT[1:]
    )
    d1, d2 = _dep("d-strict", "strict"), _dep("d-loose", "loose")
    pol = _assign("p", parameters_for(HATE_MEDIUM, None))
    inv = build([strict, loose, d1, d2, pol])
    policy = inv.policies[0]
    deps = {d.name: d for d in inv.deployments}
    ev_strict = inv.local(deps["d-strict"], policy)
    ev_loose = inv.local(deps["d-loose"], policy)
    # Absent filters (Indirect Attack, Profanity, ...) fail their references even with permissive lists.
    failing = {r.key for r in ev_strict.failures}
    assert ("Hate", PROMPT) not in failing and ("Indirect Attack", PROMPT) in failing
    hate = next(r for r in ev_loose.results if r.key == ("Hate", PROMPT))
    assert not hate.passed and hate.required == "Must block ≥ Medium" and hate.actual == "Blocks ≥ High"
    assert "threshold is High" in hate.reason


def _complete(extra: list[dict] | None = None) -> list[dict]:
    switches = [
        ("Jailbreak", PROMPT), ("Indirect Attack", PROMPT), ("Indirect Attack Spotlighting", PROMPT),
        ("Protected Material Text", COMPLETION), ("Protected Material Code", COMPLETION), ("Profanity", PROMPT), ("Profanity", COMPLETION),
    ]
    return STRICT + [{"name": n, "source": s, "enabled": True, "blocking": True} for n, s in switches] + (extra or [])


def test_complete_guardrail_passes_every_reference_and_mode_is_checked() -> None:
    inv = build([_rai("full", _complete()), _rai("async", _complete(), mode="Asynchronous_filter"), _dep("a", "full"), _dep("b", "async"), _assign("p", parameters_for(HATE_MEDIUM, ModeRequirement(frozenset({Mode.DEFAULT}))))])
    pol = inv.policies[0]
    a, b = inv.deployments
    assert inv.local(a, pol).passed
    ev = inv.local(b, pol)
    assert [r.label for r in ev.failures] == ["Guardrail mode"]


def test_empty_guardrail_fails_harm_references() -> None:
    inv = build([_rai("empty", []), _dep("e", "empty"), _assign("p", parameters_for({}, None))])
    ev = inv.local(inv.deployments[0], inv.policies[0])
    assert all(not r.passed for r in ev.results if r.key and r.key[0] == "Hate")
    assert any("no content filters at all" in r.reason for r in ev.failures)


def test_base_policy_fills_missing_filters_as_inherited() -> None:
    inv = build([_rai("partial", [_sev("Hate", PROMPT, "Low")], base="Microsoft.DefaultV2"), _dep("p", "partial")])
    eff = inv.effective(inv.deployments[0])
    assert eff.origin is GuardrailOrigin.CUSTOM
    assert eff.cell(("Hate", PROMPT)).text == "Blocks ≥ Low"
    assert eff.cell(("Violence", COMPLETION)).text == "Blocks ≥ Medium (inherited)"
    assert eff.cell(("Indirect Attack", PROMPT)).state is CellState.NOT_SET


def test_no_guardrail_gets_the_account_default_and_says_so() -> None:
    inv = build([_dep("nothing", None), _dep("ghost", "deleted-policy")])
    none_eff = inv.effective(inv.deployments[1])
    ghost = inv.effective(inv.deployments[0])
    assert none_eff.origin is GuardrailOrigin.ACCOUNT_DEFAULT and "account default" in none_eff.name
    assert none_eff.cell(("Hate", PROMPT)).inherited
    assert ghost.origin is GuardrailOrigin.MISSING and "not found" in ghost.name
    assert ghost.cell(("Hate", PROMPT)).state is CellState.NOT_SET
    rows = {r.deployment.name: r for r in inv.matrix_rows()}
    assert rows["nothing"].has_gap and rows["ghost"].has_gap


def test_system_guardrails() -> None:
    inv = build([_dep("v2", "Microsoft.DefaultV2"), _dep("v1", "Microsoft.Default"), _dep("v9", "Microsoft.DefaultV9")])
    by = {d.name: inv.effective(d) for d in inv.deployments}
    assert by["v2"].cell(("Jailbreak", PROMPT)).text == "Blocks"
    assert by["v1"].cell(("Jailbreak", PROMPT)).state is CellState.NOT_SET
    assert by["v1"].cell(("Hate", COMPLETION)).text == "Blocks ≥ Medium"
    assert "does not know" in by["v9"].note
    assert not inv.matrix_rows()[0].gaps or inv.matrix_rows()[0].deployment.name != "v2"


# ------------------------------------------------------------------------------------- Azure's verdict, scoping


def test_policy_status_exceptions_and_disagreement() -> None:
    full, bad = _rai("full", _complete()), _rai("bad", [_sev("Hate", PROMPT, "High")] + _complete()[1:])
    d_ok, d_bad, d_exc, d_rg = _dep("ok", "full"), _dep("bad", "bad"), _dep("exc", "bad", rg="rg-b"), _dep("rgdep", "full", rg="rg-b")
    p_viol = _assign("violations", parameters_for(HATE_MEDIUM, None))
    p_pending = _assign("pending", parameters_for(HATE_MEDIUM, None))
    p_exc = _assign("with-exceptions", parameters_for(HATE_MEDIUM, None), scope=f"/subscriptions/{SUB}/resourceGroups/rg-b", not_scopes=[d_exc.id])
    states = [
        _state(d_ok, p_viol, "Compliant"),
        _state(d_bad, p_viol, "NonCompliant"),
        _state(d_bad, p_viol, "NonCompliant", "CognitiveServices Content Filter Control on Hate for Model Deployments"),
        _state(d_exc, p_viol, "NonCompliant"),
        _state(d_rg, p_viol, "NonCompliant"),  # stale: the guardrail was fixed since
        _state(d_rg, p_exc, "Compliant"),
    ]
    rails_b = [_rai("full", _complete(), rg="rg-b"), _rai("bad", [_sev("Hate", PROMPT, "High")] + _complete()[1:], rg="rg-b")]
    inv = build([full, bad, *rails_b, d_ok, d_bad, d_exc, d_rg, p_viol, p_pending, p_exc, *states])
    rows = {r.policy.name: r for r in inv.policy_rows()}
    assert rows["violations"].status is PolicyStatus.VIOLATIONS
    assert rows["violations"].violating == 3 and rows["violations"].total == 4
    assert rows["violations"].disagreements == 1
    assert rows["pending"].status is PolicyStatus.PENDING
    assert rows["with-exceptions"].status is PolicyStatus.COMPLIANT
    assert [d.name for d in rows["with-exceptions"].excepted] == ["exc"]
    assert rows["with-exceptions"].total == 1
    assets = inv.asset_rows()
    by_dep: dict[str, list] = {}
    for a in assets:
        by_dep.setdefault(a.deployment.name, []).append(a)
    assert len(by_dep["rgdep"]) == 3  # governed by all three policies
    assert len(by_dep["exc"]) == 2  # excepted from one
    stale = next(a for a in by_dep["rgdep"] if a.policy.name == "violations")
    assert stale.status is AssetStatus.VIOLATION and stale.disagrees and stale.local.passed
    pend = next(a for a in by_dep["ok"] if a.policy.name == "pending")
    assert pend.status is AssetStatus.PENDING
    # violations: by Azure's verdict where there is one, else local (bad fails "pending" locally too)
    assert {d.name for d in inv.violating_deployments()} == {"bad", "exc", "rgdep"}
    # scoping to another subscription empties everything
    other = Scope(frozenset({"22222222-2222-2222-2222-222222222222"}))
    assert inv.policy_rows(other) == [] and inv.asset_rows(other) == [] and inv.matrix_rows(other) == []


def test_unfiltered_subscription_detection() -> None:
    off = _rai("off", [_sev(h, s, "Medium", enabled=False) for h in ("Hate", "Sexual", "Violence", "Selfharm") for s in (PROMPT, COMPLETION)])
    inv = build([off, _dep("x", "off")])
    assert [s.subscription_id for s in inv.unfiltered_subscriptions()] == [SUB]
    inv2 = build([off, _dep("x", "off"), _dep("y", "Microsoft.DefaultV2")])
    assert inv2.unfiltered_subscriptions() == []
