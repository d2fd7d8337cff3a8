"""``fcdesk capture`` as a scheduled job runs it: a real subprocess against the ARM emulator."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fcdesk.azure.contract import TOKEN_ENV
from fcdesk.core.report import COUNT_KEYS
from fcdesk.store.snapshot import read_snapshot
from tests.arm_emulator import ArmEmulator, Faults, Scenario
from tests.helpers.processes import run_offscreen

REPO = Path(__file__).resolve().parent.parent


def fcdesk(
    *args: str, env: dict[str, str | None] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return run_offscreen([sys.executable, "-m", "fcdesk", *args], env=env, timeout=timeout)


@pytest.fixture(scope="module")
def demo() -> Scenario:
    return Scenario.demo(scale=1)


@pytest.fixture
def emulator(demo: Scenario) -> Iterator[ArmEmulator]:
    with ArmEmulator(demo, page_size=10) as emu:
        yield emu


def capture_args(emu: ArmEmulator, out: Path, *extra: str) -> list[str]:
    return [
        "capture",
        "--arm-endpoint",
        emu.url,
        "--ca-file",
        emu.ca_file,
        "--auth",
        "token",
        "--out",
        str(out),
        *extra,
    ]


def test_capture_writes_a_snapshot_whose_report_matches_the_summary(
    emulator: ArmEmulator, demo: Scenario, tmp_path: Path, isolated_user_dirs: dict[str, Path]
) -> None:
    token = emulator.mint_token(principal="scheduler@contoso.example")
    out = tmp_path / "nightly.fcsnap"
    proc = fcdesk(
        *capture_args(emulator, out, "--label", "nightly", "--concurrency", "8"), env={TOKEN_ENV: token}
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)  # exactly one JSON object on stdout
    assert set(summary) == {"counts", "errors", "partial", "requests", "seconds", "out"}
    assert tuple(summary["counts"]) == COUNT_KEYS
    assert summary["errors"] == [] and summary["partial"] is False and summary["out"] == str(out)
    assert summary["requests"] == len(emulator.requests) and summary["seconds"] > 0
    report = fcdesk("report", str(out))
    assert report.returncode == 0, report.stderr
    assert summary["counts"] == json.loads(report.stdout)["counts"]
    assert (
        summary["counts"]["subscriptions"] == len(demo.subscription_ids())
        and summary["counts"]["deployments"] > 0
    )
    snap = read_snapshot(out)
    assert str(snap.meta.source) == "live" and snap.meta.label == "nightly" and snap.meta.cloud == "custom"
    assert len(snap.records) == len(demo.records)
    assert "signed in as scheduler@contoso.example" in proc.stderr and "Done" in proc.stderr
    for stream in (proc.stdout, proc.stderr):
        assert token not in stream and token.rsplit(".", 1)[-1] not in stream
        assert "Traceback" not in stream
    # the command also wrote the log file (context for the audit log), without the token
    log = (isolated_user_dirs["data"] / "logs" / "fcdesk.log").read_text(encoding="utf-8")
    assert " INFO fcdesk.cli: fcdesk " in log and "capture --arm-endpoint" in log
    assert token not in log and token.rsplit(".", 1)[-1] not in log


def test_only_the_subscriptions_asked_for(emulator: ArmEmulator, demo: Scenario, tmp_path: Path) -> None:
    wanted = demo.subscription_ids()[2]
    out = tmp_path / "one.fcsnap"
    proc = fcdesk(
        *capture_args(emulator, out, "--subscription", wanted), env={TOKEN_ENV: emulator.mint_token()}
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["counts"]["subscriptions"] == 1 and summary["errors"] == []
    assert read_snapshot(out).meta.scopes == [wanted]


def test_one_forbidden_subscription_is_partial_but_succeeds(demo: Scenario, tmp_path: Path) -> None:
    forbidden = demo.subscription_ids()[0]
    with ArmEmulator(demo, faults=Faults(forbidden_subscriptions={forbidden})) as emu:
        out = tmp_path / "partial.fcsnap"
        proc = fcdesk(*capture_args(emu, out), env={TOKEN_ENV: emu.mint_token()})
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["partial"] is True and summary["out"] == str(out) and out.exists()
    assert [e["scope"] for e in summary["errors"]] == [f"/subscriptions/{forbidden}"]
    assert "AuthorizationFailed" in summary["errors"][0]["message"]
    assert read_snapshot(out).meta.partial


def test_every_subscription_forbidden_exits_1_with_the_errors(demo: Scenario, tmp_path: Path) -> None:
    subs = set(demo.subscription_ids())
    out = tmp_path / "never.fcsnap"
    with ArmEmulator(demo, faults=Faults(forbidden_subscriptions=subs)) as emu:
        token = emu.mint_token()
        proc = fcdesk(*capture_args(emu, out), env={TOKEN_ENV: token})
    assert proc.returncode == 1, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["out"] is None and not out.exists()
    assert sorted(e["scope"] for e in summary["errors"]) == sorted(f"/subscriptions/{s}" for s in subs)
    assert summary["counts"]["deployments"] == 0
    assert token not in proc.stdout + proc.stderr and "Traceback" not in proc.stderr


def test_sign_in_failure_exits_1_with_a_json_error(emulator: ArmEmulator, tmp_path: Path) -> None:
    proc = fcdesk(*capture_args(emulator, tmp_path / "x.fcsnap"), env={TOKEN_ENV: None})
    assert proc.returncode == 1
    summary = json.loads(proc.stdout)
    assert summary["out"] is None and summary["partial"] is True
    assert len(summary["errors"]) == 1 and TOKEN_ENV in summary["errors"][0]["message"]
    assert emulator.requests == [] and "Traceback" not in proc.stderr


def test_a_rejected_token_exits_1(demo: Scenario, tmp_path: Path) -> None:
    with ArmEmulator(Scenario(demo.meta, demo.records, accept_any_token=False)) as emu:
        proc = fcdesk(*capture_args(emu, tmp_path / "x.fcsnap"), env={TOKEN_ENV: "not-an-emulator-token"})
    assert proc.returncode == 1
    summary = json.loads(proc.stdout)
    assert summary["out"] is None and any("401" in e["message"] for e in summary["errors"])
    assert "not-an-emulator-token" not in proc.stdout + proc.stderr


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["capture", "--ca-file", "ca.pem", "--out", "x.fcsnap"], "--ca-file needs --arm-endpoint"),
        (["capture", "--cloud", "mars", "--out", "x.fcsnap"], "invalid choice"),
        (["capture", "--auth", "token"], "--out"),
        (["capture", "--out", "x.fcsnap", "--concurrency", "0"], "--concurrency"),
        (["capture", "--out", "x.fcsnap", "--cloud", "usgov", "--arm-endpoint", "https://h/"], "not both"),
        (["capture", "--out", "x.fcsnap", "--arm-endpoint", "http://127.0.0.1:1/"], "https://"),
        (["capture", "--out", "x.fcsnap", "--auth", "sp"], "--tenant and --client-id"),
        (["capture", "--out", "x.fcsnap", "--auth", "magic"], "invalid choice"),
    ],
)
def test_bad_arguments_exit_2(args: list[str], says: str) -> None:
    proc = fcdesk(*args)
    assert proc.returncode == 2 and says in proc.stderr and proc.stdout == ""
    assert "Traceback" not in proc.stderr
