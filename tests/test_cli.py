"""The command line as scripts use it: exit codes, stable JSON, clear errors without tracebacks."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fcdesk import __version__
from fcdesk.core.report import COUNT_KEYS

REPO = Path(__file__).resolve().parent.parent


def fcdesk(*args: str, env_extra: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", **(env_extra or {}))
    return subprocess.run(
        [sys.executable, "-m", "fcdesk", *args], capture_output=True, text=True, env=env, cwd=REPO, timeout=timeout, check=False
    )


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "demo.fcsnap"
    proc = fcdesk("demo", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    return out


def test_version() -> None:
    proc = fcdesk("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"fcdesk {__version__}"


def test_bad_arguments_exit_2_without_traceback() -> None:
    proc = fcdesk("report")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "error:" in proc.stderr
    proc = fcdesk("--screenshots", "/tmp/x")
    assert proc.returncode == 2 and "--self-test" in proc.stderr


def test_report_json_is_stable(demo_file: Path) -> None:
    proc = fcdesk("report", str(demo_file), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert set(report) >= {"report_version", "snapshot", "counts", "subscriptions", "policies", "matrix"}
    counts = report["counts"]
    assert tuple(counts) == COUNT_KEYS
    assert counts["subscriptions"] >= 3 and counts["deployments"] >= 40 and counts["policies"] >= 4
    assert 0 < counts["violations"] < counts["deployments"]
    assert len(report["matrix"]) == counts["deployments"]
    first = report["matrix"][0]
    assert {"id", "name", "cells"} <= set(first) and "Hate/Prompt" in first["cells"]
    assert len(report["snapshot"]["sha256"]) == 64
    statuses = {p["status"] for p in report["policies"]}
    assert {"Compliant", "Violations detected", "Pending evaluation"} <= statuses
    assert sum(s["deployments"] for s in report["subscriptions"]) == counts["deployments"]
    assert any(s["no_content_filtering"] for s in report["subscriptions"])


def test_report_csv_sections_and_out_file(demo_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    proc = fcdesk("report", str(demo_file), "--format", "csv", "--out", str(out))
    assert proc.returncode == 0 and proc.stdout == ""
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8"))))
    sections = [r[0] for r in rows if r and r[0].startswith("# ")]
    assert sections == [
        "# snapshot", "# counts", "# policies", "# matrix", "# recommendations", "# alerts", "# plans",
    ]  # fmt: skip
    start = rows.index(["# matrix"])
    header = rows[start + 1]
    assert header[:2] == ["deployment_id", "deployment"] and "Jailbreak/Prompt" in header
    matrix_rows = rows[start + 2 : rows.index([], start)]  # a section ends at a blank line
    report = json.loads(fcdesk("report", str(demo_file)).stdout)
    assert len(matrix_rows) == report["counts"]["deployments"]


@pytest.mark.parametrize(
    ("content", "expect"),
    [(b"", "not"), (b"hello, this is not a database", "not"), (None, "not")],
)
def test_unreadable_snapshot_clear_message(tmp_path: Path, content: bytes | None, expect: str) -> None:
    path = tmp_path / "broken.fcsnap"
    if content is not None:
        path.write_bytes(content)
    proc = fcdesk("report", str(path))
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "broken.fcsnap" in proc.stderr and expect in proc.stderr.lower()
    if content is not None:
        assert path.read_bytes() == content


def test_truncated_snapshot_is_reported_damaged(demo_file: Path, tmp_path: Path) -> None:
    data = demo_file.read_bytes()
    cut = tmp_path / "cut.fcsnap"
    cut.write_bytes(data[: len(data) // 2])
    proc = fcdesk("report", str(cut))
    assert proc.returncode == 1 and "damaged" in proc.stderr and "Traceback" not in proc.stderr


def test_demo_scale_multiplies(tmp_path: Path, demo_file: Path) -> None:
    out = tmp_path / "x3.fcsnap"
    assert fcdesk("demo", "--out", str(out), "--scale", "3").returncode == 0
    one = json.loads(fcdesk("report", str(demo_file)).stdout)["counts"]
    three = json.loads(fcdesk("report", str(out)).stdout)["counts"]
    assert three["deployments"] == 3 * one["deployments"]
    assert fcdesk("demo", "--out", str(out), "--scale", "0").returncode == 2


def test_self_test_runs_the_real_window(tmp_path: Path, demo_file: Path) -> None:
    shots = tmp_path / "shots"
    proc = fcdesk("--self-test", "--snapshot", str(demo_file), "--screenshots", str(shots), env_extra={"FCDESK_DATA_DIR": str(tmp_path / "data")})
    result = json.loads(proc.stdout)
    assert proc.returncode == 0, (result.get("errors"), result.get("warnings"), proc.stderr[-2000:])
    assert result["ok"] is True and result["startup_ms"] > 0
    assert set(result["tabs"]) == {"Policies", "Assets", "Guardrails", "Security posture"}
    report = json.loads(fcdesk("report", str(demo_file)).stdout)
    assert result["tabs"]["Guardrails"] == report["counts"]["deployments"]
    assert result["tabs"]["Policies"] == report["counts"]["policies"]
    assert len(result["screenshots"]) >= 4
    for png in result["screenshots"]:
        assert Path(png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_self_test_fails_on_a_corrupt_snapshot(tmp_path: Path) -> None:
    bad = tmp_path / "bad.fcsnap"
    bad.write_bytes(b"\x00" * 100)
    proc = fcdesk("--self-test", "--snapshot", str(bad))
    result = json.loads(proc.stdout)
    assert proc.returncode == 1 and result["ok"] is False and "bad.fcsnap" in result["errors"][0]


def test_a_lone_snapshot_path_opens_it_like_the_desktop_entry_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``Exec=fcdesk-gui %f``: a file manager passes the snapshot as the only argument."""
    import fcdesk.gui
    from fcdesk.cli import run

    opened: list[Path | None] = []
    monkeypatch.setattr(fcdesk.gui, "run_gui", lambda snapshot: opened.append(snapshot) or 0)
    path = tmp_path / "a b.fcsnap"
    assert run([str(path)]) == 0
    assert run(["relative.FCSNAP"]) == 0
    assert opened == [path, Path("relative.FCSNAP")]
    with pytest.raises(SystemExit) as exc:  # a mistyped command is still an error, not a file
        run(["reprot"])
    assert exc.value.code == 2 and "invalid choice" in capsys.readouterr().err
