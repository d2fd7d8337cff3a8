"""``fcdesk whatif``: a snapshot re-evaluated offline against a draft policy file or one of its policies."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from fcdesk.cli import run
from fcdesk.core.demo import generate
from fcdesk.core.drafts import draft_from_document, what_if
from fcdesk.core.inventory import Inventory
from fcdesk.core.records import Kind
from fcdesk.store.snapshot import sha256_of, write_snapshot

REPO = Path(__file__).resolve().parent.parent
PROD = "/subscriptions/fcbd04c3-4021-4ef7-8ca5-a5a19e4d6e3c"
SHARED_RG = f"{PROD}/resourceGroups/rg-ai-shared-prod"
POLICY_YAML = f"""\
displayName: Block harm at Medium
scope: {PROD}
controls:
  - control: Hate
    threshold: Medium
  - Jailbreak
exceptions:
  - {SHARED_RG}
"""
DOC = {
    "displayName": "Block harm at Medium",
    "scope": PROD,
    "controls": [{"control": "Hate", "threshold": "Medium"}, "Jailbreak"],
    "exceptions": [SHARED_RG],
}


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("whatif") / "demo.fcsnap"
    write_snapshot(path, *generate())
    return path


@pytest.fixture(scope="module")
def inventory() -> Inventory:
    return Inventory.build(*generate())


def _whatif(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(["whatif", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_policy_file_text(
    snapshot: Path, inventory: Inventory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy_file = tmp_path / "block-harm.yaml"
    policy_file.write_text(POLICY_YAML, encoding="utf-8")
    code, out, err = _whatif(capsys, str(snapshot), str(policy_file))
    assert code == 0 and err == ""
    expected = what_if(inventory, draft_from_document(DOC))
    assert expected.violating and expected.excepted  # the file's exception excludes deployments
    lines = out.splitlines()
    assert lines[0].startswith("What-if of the guardrail policy 'Block harm at Medium'")
    assert "  Requires Hate (prompt): Must block ≥ Medium" in lines
    assert expected.headline in lines
    listed = lines[lines.index("Violating deployments:") + 1 :]
    assert len(listed) == len(expected.violating)
    for line, row in zip(listed, expected.violating, strict=True):
        assert f"/ {row.deployment.name} " in line and line.endswith(f"fails {row.failing}")
    for label, count in expected.by_control:
        assert f"  {label}: {count:,}" in lines


def test_policy_file_json(
    snapshot: Path, inventory: Inventory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy_file = tmp_path / "block-harm.json"
    policy_file.write_text(json.dumps(DOC), encoding="utf-8")
    code, out, _err = _whatif(capsys, str(snapshot), str(policy_file), "--format", "json")
    assert code == 0
    doc = json.loads(out)
    expected = what_if(inventory, draft_from_document(DOC))
    assert doc["snapshot"] == {
        "path": str(snapshot),
        "sha256": sha256_of(snapshot),
        "capturedAt": "2026-11-20T09:30:00Z",
    }
    assert doc["policy"]["source"] == "file" and doc["policy"]["scope"] == PROD
    assert doc["policy"]["exceptions"] == [SHARED_RG]
    assert "Prompt shield: jailbreak (user prompt attacks): Must block" in doc["policy"]["controls"]
    assert (doc["inScope"], doc["excepted"], doc["evaluated"], doc["compliant"]) == (
        expected.in_scope,
        expected.excepted,
        expected.evaluated,
        expected.compliant,
    )
    assert [v["id"] for v in doc["violating"]] == [r.deployment.id for r in expected.violating]
    assert [[f["control"] for f in v["failing"]] for v in doc["violating"]] == [
        [f.label for f in r.evaluation.failures] for r in expected.violating
    ]
    assert [(b["control"], b["deployments"]) for b in doc["byControl"]] == list(expected.by_control)


@pytest.mark.parametrize("how", ["name", "display name", "id"])
def test_policy_of_the_snapshot(
    snapshot: Path, inventory: Inventory, capsys: pytest.CaptureFixture[str], how: str
) -> None:
    policy = next(p for p in inventory.policies if p.name == "gr-dev-baseline")
    wanted = {"name": policy.name.upper(), "display name": policy.display_name, "id": policy.id}[how]
    code, out, _err = _whatif(capsys, str(snapshot), "--policy", wanted, "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["policy"]["id"] == policy.id and doc["policy"]["source"] == "snapshot"
    # fcdesk's own check of the policy on the captured guardrails: the local verdicts of its assets
    row = next(r for r in inventory.policy_rows() if r.policy.id == policy.id)
    failing = {a.deployment.id for a in row.assets if not a.local.passed}
    assert {v["id"] for v in doc["violating"]} == failing and failing
    assert doc["evaluated"] == row.total
    # the controls checked for presence only explain failures the "controls" list does not name
    assert "Profanity (prompt)" in doc["policy"]["mustBePresent"]
    assert any(b["control"] == "Profanity (prompt)" for b in doc["byControl"])


def test_arguments_and_failures(snapshot: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy_file = tmp_path / "p.yaml"
    policy_file.write_text(POLICY_YAML, encoding="utf-8")
    for args in ([str(snapshot)], [str(snapshot), str(policy_file), "--policy", "gr-dev-baseline"]):
        code, out, err = _whatif(capsys, *args)
        assert (code, out) == (2, "") and err == "fcdesk: error: give either a POLICY_FILE or --policy NAME\n"
    code, out, err = _whatif(capsys, str(snapshot), "--policy", "no-such-policy")
    assert (code, out) == (2, "") and "no guardrail policy named 'no-such-policy'" in err
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("displayName: [unclosed\n", encoding="utf-8")
    unknown_key = tmp_path / "unknown.yaml"
    unknown_key.write_text(POLICY_YAML + "effect: Deny\n", encoding="utf-8")
    for path, words in (
        (bad_yaml, "not valid YAML"),
        (unknown_key, "Unknown key(s) in the policy file: effect."),
        (tmp_path / "missing.yaml", 'could not read "'),
    ):
        code, out, err = _whatif(capsys, str(snapshot), str(path))
        assert (code, out) == (1, ""), path
        assert err.startswith("fcdesk: ") and words in err and err.count("\n") == 1
    broken = tmp_path / "broken.fcsnap"
    broken.write_bytes(b"not a database")
    code, out, err = _whatif(capsys, str(broken), str(policy_file))
    assert (code, out) == (1, "") and "broken.fcsnap" in err and err.count("\n") == 1


def test_ambiguous_policy_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    meta, records = generate()
    original = next(
        r for r in records if r.kind == Kind.POLICY_ASSIGNMENT and r.id.endswith("/gr-dev-baseline")
    )
    body = copy.deepcopy(original.body)
    twin_id = original.id.replace("gr-dev-baseline", "gr-dev-baseline-2")
    body.update(id=twin_id, name="gr-dev-baseline-2")
    path = tmp_path / "twins.fcsnap"
    write_snapshot(path, meta, [*records, replace(original, id=twin_id, body=body)])
    display = original.body["properties"]["displayName"]
    code, out, err = _whatif(capsys, str(path), "--policy", display)
    assert (code, out) == (2, "") and "several guardrail policies" in err and twin_id in err
    code, out, _err = _whatif(capsys, str(path), "--policy", "gr-dev-baseline-2", "--format", "json")
    assert code == 0 and json.loads(out)["policy"]["id"] == twin_id  # the assignment name decides


def test_entry_point_without_traceback(snapshot: Path, tmp_path: Path) -> None:
    policy_file = tmp_path / "p.yaml"
    policy_file.write_text("controls: 3\n", encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "fcdesk", "whatif", str(snapshot), str(policy_file)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=dict(os.environ, QT_QPA_PLATFORM="offscreen"),
        timeout=120,
        check=False,
    )
    assert proc.returncode == 1 and proc.stdout == ""
    assert (
        proc.stderr.startswith('fcdesk: "p.yaml" is not a valid policy file:')
        and "Traceback" not in proc.stderr
    )
