"""``fcdesk diff A B``: text and JSON output, notes on stderr, exit codes 0, 3, 1 and 2."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from fcdesk.app import load_inventory
from fcdesk.cli import run
from fcdesk.core.demo import generate
from fcdesk.core.drift import diff_inventories
from fcdesk.core.records import Kind, RawRecord, ScopeError
from fcdesk.store.snapshot import write_snapshot

REPO = Path(__file__).resolve().parent.parent
META, BASE = generate(1, 0)
LATER = dataclasses.replace(META, captured_at=META.captured_at + timedelta(days=1))
STRICT_HATE = (
    "contoso-foundry-prod/gpt-4o — Hate (prompt): Blocks ≥ Low → Blocks ≥ High"
    " (guardrail Contoso-Strict edited)"
)
SANDBOX_POLICY = "Research sandbox & red team <minimum controls>"


def _edited(*, loosen: bool) -> list[RawRecord]:
    """The demo with Contoso-Standard's profanity filter made blocking (and, with ``loosen``, Contoso-Strict's
    Hate prompt filter relaxed to High, the sandbox policy deleted and a description on two lines)."""
    out: list[RawRecord] = []
    for rec in BASE:
        body = copy.deepcopy(rec.body)
        name = body.get("name") if isinstance(body, dict) else None
        if rec.kind == Kind.POLICY_ASSIGNMENT and name == "gr-sandbox-minimum" and loosen:
            continue
        if rec.kind == Kind.POLICY_ASSIGNMENT and name == "gr-dev-baseline" and loosen:
            body["properties"]["description"] = "Line one\nline two"
        if rec.kind == Kind.RAI_POLICY and "/contoso-foundry-prod/" in rec.id:
            for flt in body["properties"]["contentFilters"]:
                if name == "Contoso-Standard" and (flt["name"], flt["source"]) == ("Profanity", "Prompt"):
                    flt["blocking"] = True
                if loosen and name == "Contoso-Strict" and (flt["name"], flt["source"]) == ("Hate", "Prompt"):
                    flt["severityThreshold"] = "High"
        out.append(RawRecord(rec.kind, rec.id, body, rec.scope))
    return out


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("diff")
    paths = {
        name: folder / f"{name}.fcsnap" for name in ("older", "same", "loosened", "tightened", "partial")
    }
    write_snapshot(paths["older"], META, BASE)
    write_snapshot(paths["same"], LATER, BASE)
    write_snapshot(paths["loosened"], LATER, _edited(loosen=True))
    write_snapshot(paths["tightened"], LATER, _edited(loosen=False))
    failed = [ScopeError("/subscriptions/259f4329-e6f4-490b-9a16-4106cf6a659e", "Access denied", "403")]
    write_snapshot(paths["partial"], dataclasses.replace(LATER, partial=True, errors=failed), BASE)
    corrupt = folder / "corrupt.fcsnap"
    data = paths["older"].read_bytes()
    corrupt.write_bytes(data[: len(data) // 2])  # truncated mid-file
    paths["corrupt"] = corrupt
    return paths


def diff(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = run(["diff", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_no_changes_exits_0_with_the_header(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = diff(capsys, files["older"], files["same"])
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        f"older: {files['older']}, captured 2026-11-20 09:30 UTC",
        f"newer: {files['same']}, captured 2026-11-21 09:30 UTC",
        "tenant: Contoso AI (demo) (8d4e2f61-3b7a-4c95-a0e1-6f2b9c7d5e43)",
        "changes: 0 loosened, 0 removed, 0 added, 0 changed, 0 tightened",
        "",
        "No changes.",
    ]


def test_loosened_text_groups_by_kind_and_target_and_exits_3(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = diff(capsys, files["older"], files["loosened"])
    assert (code, err) == (3, "")
    lines = out.splitlines()
    assert lines[3] == "changes: 5 loosened, 1 removed, 0 added, 1 changed, 4 tightened"
    headings = [line for line in lines[4:] if line and not line.startswith("    ")]
    assert headings == [
        "Loosened (5)",
        "  Deployments (4)",
        "  Guardrails (1)",
        "Removed (1)",
        "  Policies (1)",
        "Changed (1)",
        "  Policies (1)",
        "Tightened (4)",
        "  Deployments (3)",
        "  Guardrails (1)",
    ]
    changes = [line[4:] for line in lines if line.startswith("    ")]
    assert len(changes) == 11 and STRICT_HATE in changes[:4]
    assert f"{SANDBOX_POLICY}: Hate (prompt): Must block" in "\n".join(changes)  # names as plain text
    assert any(
        line.endswith(
            "Description: Development deployments keep Microsoft's harm thresholds and the "
            "jailbreak shield. → Line one line two"
        )
        for line in changes
    )  # one line each


def test_tightened_only_exits_0(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = diff(capsys, files["older"], files["tightened"])
    assert code == 0 and "changes: 0 loosened, 0 removed, 0 added, 0 changed, 4 tightened" in out
    # The same pair the other way round is a loosening.
    code, _, err = diff(capsys, files["tightened"], files["older"])
    assert code == 3
    assert err.startswith(f"fcdesk: note: {files['tightened']} (2026-11-21 09:30 UTC) was captured after ")


def test_json_shape_order_and_digests(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = diff(capsys, files["older"], files["loosened"], "--format", "json")
    assert (code, err) == (3, "")
    doc = json.loads(out)
    assert list(doc) == ["older", "newer", "counts", "changes"]
    assert doc["older"] == {
        "path": str(files["older"]),
        "capturedAt": "2026-11-20T09:30:00Z",
        "sha256": hashlib.sha256(files["older"].read_bytes()).hexdigest(),
    }
    assert doc["newer"]["capturedAt"] == "2026-11-21T09:30:00Z" and len(doc["newer"]["sha256"]) == 64
    assert doc["counts"] == {"added": 0, "removed": 1, "loosened": 5, "tightened": 4, "changed": 1}
    expected = diff_inventories(
        load_inventory(files["older"]).inventory, load_inventory(files["loosened"]).inventory
    ).ordered()
    assert doc["changes"] == [c.to_json() for c in expected]
    assert [c["kind"] for c in doc["changes"]][:6] == ["loosened"] * 5 + ["removed"]
    first = doc["changes"][0]
    assert set(first) == {
        "kind",
        "target",
        "id",
        "name",
        "control",
        "before",
        "after",
        "detail",
        "subscriptionId",
        "relatedId",
    }


def test_a_partial_snapshot_is_noted(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = diff(capsys, files["older"], files["partial"])
    assert code == 0
    assert err == (
        f"fcdesk: note: {files['partial']} is a partial capture (1 scope error): "
        "what it could not read shows as added or removed\n"
    )


@pytest.mark.parametrize("which", ["older", "newer"])
def test_unreadable_snapshot_exits_1_with_one_sentence(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str], which: str
) -> None:
    pair = [files["older"], files["corrupt"]] if which == "newer" else [files["corrupt"], files["older"]]
    code, out, err = diff(capsys, *pair)
    assert (code, out) == (1, "")
    assert err.startswith("fcdesk: ") and err.count("\n") == 1 and "Traceback" not in err
    assert "corrupt.fcsnap" in err
    code, _, err = diff(capsys, files["older"], files["older"].with_name("missing.fcsnap"))
    assert code == 1 and "missing.fcsnap" in err


@pytest.mark.parametrize("args", [["diff", "only-one.fcsnap"], ["diff", "a", "b", "--format", "xml"]])
def test_bad_arguments_exit_2(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        run(args)
    assert exc.value.code == 2 and "error:" in capsys.readouterr().err


def test_the_installed_command_line(files: dict[str, Path]) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "fcdesk",
            "diff",
            str(files["older"]),
            str(files["loosened"]),
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=dict(os.environ, QT_QPA_PLATFORM="offscreen"),
        timeout=120,
        check=False,
    )
    assert proc.returncode == 3 and proc.stderr == ""
    assert json.loads(proc.stdout)["counts"]["loosened"] == 5
