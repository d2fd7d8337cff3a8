"""The PyInstaller build works: the frozen app in dist/fcdesk/ does what the source does.

The module builds the bundle once (``packaging/build.py``, which skips the build when nothing that
goes into it changed: a second local run reuses dist/fcdesk) and then runs the FROZEN executables:
the self-test with screenshots, ``--version``, a live ``capture`` against the ARM emulator (the
aiohttp transport and the management clients fcdesk imports by name), and ``bundle_check.py``
inside and outside the bundle, compared (keyring backend, hidden imports, C speedups, resources,
icons, per-user folders). A cold build takes well under a minute on two cores.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from fcdesk._version import __version__
from fcdesk.azure.contract import TOKEN_ENV
from fcdesk.core.records import Kind
from fcdesk.store.snapshot import read_snapshot
from tests.arm_emulator import ArmEmulator, Scenario
from tests.helpers.processes import run_offscreen

REPO = Path(__file__).resolve().parent.parent
PACKAGING = REPO / "packaging"
BUILD_TIMEOUT_S = 1200
RUN_TIMEOUT_S = 180
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _load(name: str) -> ModuleType:
    """A script of packaging/ as a module (packaging/ is not a package: PyInstaller runs its files)."""
    spec = importlib.util.spec_from_file_location(f"_packaging_{name}", PACKAGING / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = _load("build")


def _resource_files(root: Path) -> list[str]:
    files = (p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    return sorted(p.relative_to(root).as_posix() for p in files)


@pytest.fixture(scope="module")
def bundle() -> Path:
    """dist/fcdesk, built now unless its inputs did not change since the last build."""
    if importlib.util.find_spec("PyInstaller") is None:
        pytest.fail(
            "PyInstaller is not installed, but it is a declared dependency (pyproject's `package` extra, "
            "which `make` installs). Install it: "
            ".venv/bin/python -m pip install -c constraints.txt -e '.[test,package]'"
        )
    proc = subprocess.run(
        [sys.executable, str(PACKAGING / "build.py")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
        check=False,
    )
    assert proc.returncode == 0, f"packaging/build.py failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    return build.APP_DIR


def frozen(
    *args: str, exe: str = "fcdesk", env: dict[str, str | None] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run one of the bundle's executables offscreen (``env``: None removes a variable)."""
    return run_offscreen([str(build.executable(exe)), *args], env=env, timeout=RUN_TIMEOUT_S)


# ------------------------------------------------------------------------------------ the app


def test_frozen_self_test_shows_every_tab_with_rows_and_saves_screenshots(
    bundle: Path, tmp_path: Path
) -> None:
    shots = tmp_path / "shots"
    proc = frozen("--self-test", "--screenshots", str(shots))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    assert result["ok"] is True and result["errors"] == [] and result["warnings"] == []
    assert len(result["tabs"]) >= 4 and all(rows > 0 for rows in result["tabs"].values()), result["tabs"]
    assert result["startup_ms"] > 0
    # The demo snapshot came from inside the bundle (resources_path's frozen branch).
    assert Path(result["snapshot"]) == bundle / "_internal" / "fcdesk" / "resources" / "demo.fcsnap"
    saved = [Path(p) for p in result["screenshots"]]
    assert saved and all(p.parent == shots and p.read_bytes()[:8] == PNG_MAGIC for p in saved)
    names = {p.name for p in saved}
    for index in range(1, len(result["tabs"]) + 1):  # one PNG per tab: "<n>-<tab key>.png"
        assert any(name.startswith(f"{index}-") for name in names), sorted(names)


def test_both_executables_print_the_version(bundle: Path) -> None:
    for exe in ("fcdesk", "fcdesk-gui"):
        proc = frozen("--version", exe=exe)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == f"fcdesk {__version__}"


@pytest.fixture
def emulator() -> Iterator[tuple[ArmEmulator, Scenario]]:
    scenario = Scenario.demo(scale=1)
    with ArmEmulator(scenario, page_size=10) as emu:
        yield emu, scenario


def test_frozen_capture_reads_arm_through_the_sdk_clients(
    bundle: Path, emulator: tuple[ArmEmulator, Scenario], tmp_path: Path
) -> None:
    """The live path, frozen: azure-core's aiohttp transport, the .aio management clients that
    fcdesk imports by name (fcdesk.azure._http.CLIENTS) and their api-version lookup."""
    emu, scenario = emulator
    out = tmp_path / "frozen.fcsnap"
    proc = frozen(
        "capture",
        "--auth", "token",
        "--arm-endpoint", emu.url,
        "--ca-file", emu.ca_file,
        "--out", str(out),
        env={TOKEN_ENV: emu.mint_token(principal="frozen@contoso.example")},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout)
    assert summary["errors"] == [] and summary["partial"] is False
    assert summary["requests"] == len(emu.requests) > 0
    snap = read_snapshot(out)
    deployments = [r for r in snap.records if r.kind == Kind.DEPLOYMENT]
    assert deployments and len(deployments) == sum(1 for r in scenario.records if r.kind == Kind.DEPLOYMENT)
    assert len(snap.records) == len(scenario.records) and str(snap.meta.source) == "live"


# ------------------------------------------------------------------------- what the bundle holds


def _check_env(tmp_path: Path) -> dict[str, str | None]:
    """One environment for both bundle checks: fresh per-user folders and keyring configuration,
    and a D-Bus session address that leads nowhere, so the Secret Service backend gets as far as
    opening a connection (through secretstorage and jeepney) and fails the same way in both."""
    home = tmp_path / "home"
    return {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "DBUS_SESSION_BUS_ADDRESS": f"unix:path={tmp_path / 'no-session-bus'}",
        "FCDESK_DATA_DIR": None,
        "FCDESK_CONFIG_DIR": None,
        "PYTHON_KEYRING_BACKEND": None,
        "QT_QPA_PLATFORM": "offscreen",
    }


def _source_check(env: dict[str, str | None]) -> dict[str, Any]:
    proc = run_offscreen([sys.executable, str(PACKAGING / "bundle_check.py")], env=env, timeout=RUN_TIMEOUT_S)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def checks(bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any]]:
    """(frozen report, source report) of packaging/bundle_check.py, run with the same environment.

    The frozen report is returned even when the check failed (exit 1): each test looks at its part."""
    env = _check_env(tmp_path_factory.mktemp("bundle-check"))
    proc = frozen(env={**env, "FCDESK_BUNDLE_CHECK": "1"})
    assert proc.returncode in (0, 1) and proc.stdout.startswith("{"), proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(proc.stdout), _source_check(env)


def test_the_frozen_keyring_finds_the_same_backends_as_the_venv(checks: tuple[dict, dict]) -> None:
    frozen_report, source = checks
    assert frozen_report["frozen"] is True and source["frozen"] is False
    assert frozen_report["keyring"] == source["keyring"]
    # Not vacuous: the entry points were found (without keyring's metadata there are none, and the
    # fail backend is chosen in any case), and Secret Service was importable (not "SecretStorage required").
    keyring = frozen_report["keyring"]
    assert {"SecretService", "chainer"} <= set(keyring["entry_points"])
    assert "keyring.backends.chainer.ChainerBackend" in keyring["classes"]
    secret_service = str(keyring["classes"].get("keyring.backends.SecretService.Keyring"))
    assert "SecretStorage required" not in secret_service


def test_every_hidden_import_and_fcdesk_module_imports_frozen(checks: tuple[dict, dict]) -> None:
    frozen_report, source = checks
    failed = {m: state for m, state in frozen_report["imports"].items() if state != "ok"}
    assert not failed and frozen_report["imports"].keys() == source["imports"].keys()
    assert "azure.core.pipeline.transport._aiohttp" in frozen_report["imports"]
    assert any(m.startswith("azure.mgmt.security") for m in frozen_report["imports"])
    missing = {m: frozen_report["fcdesk_modules"].get(m) for m in source["fcdesk_modules"]}
    assert all(state == "ok" for state in missing.values()), {m: s for m, s in missing.items() if s != "ok"}


def test_aiohttp_runs_on_its_c_speedups_frozen(checks: tuple[dict, dict]) -> None:
    frozen_report, source = checks
    assert frozen_report["speedups"] == source["speedups"]
    assert frozen_report["speedups"] and all(frozen_report["speedups"].values()), frozen_report["speedups"]


def test_resources_icons_and_user_folders_frozen(bundle: Path, checks: tuple[dict, dict]) -> None:
    frozen_report, source = checks
    repo_files = _resource_files(REPO / "resources")
    assert frozen_report["resources"] == source["resources"] == repo_files
    inside = bundle / "_internal" / "fcdesk" / "resources"
    assert (inside / "demo.fcsnap").read_bytes() == (REPO / "resources" / "demo.fcsnap").read_bytes()
    icons = [name for name in repo_files if name.startswith("icons/")]
    assert icons
    for name in icons:
        assert (inside / name).read_bytes() == (REPO / "resources" / name).read_bytes(), name
    # Qt draws every SVG and PNG from inside the bundle (the SVG needs Qt's svg plugins).
    assert frozen_report["images"] == source["images"] and frozen_report["images"]
    assert all(frozen_report["images"].values()), frozen_report["images"]
    # platformdirs gives the frozen app the same per-user folders as the installed one.
    assert frozen_report["user_dirs"] == source["user_dirs"]
    assert frozen_report["ssl"]["certifi"] is True and frozen_report["ssl"]["openssl_finds_cas"] is True


# ------------------------------------------------------------------------------ the build driver


def test_a_second_build_is_skipped_while_the_inputs_are_unchanged(bundle: Path) -> None:
    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(PACKAGING / "build.py")],
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT_S,
            check=False,
        )

    # Up to date already, unless a source file was edited since the fixture built (then it rebuilds).
    assert run().returncode == 0
    again = run()
    assert again.returncode == 0 and "up to date" in again.stdout, again.stdout + again.stderr
    assert "building" not in again.stdout
    assert build.STAMP.read_text().strip() == build.inputs_digest()


def test_the_inputs_digest_follows_sources_but_not_bytecode(tmp_path: Path) -> None:
    for name in ("fcdesk/a.py", "resources/icons/x.svg", "packaging/fcdesk.spec", "constraints.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(name)
    first = build.inputs_digest(tmp_path)
    (tmp_path / "fcdesk" / "__pycache__").mkdir()
    (tmp_path / "fcdesk" / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\0")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").write_text("not an input")
    assert build.inputs_digest(tmp_path) == first
    (tmp_path / "resources" / "icons" / "x.svg").write_text("<svg/>")
    changed = build.inputs_digest(tmp_path)
    assert changed != first
    (tmp_path / "resources" / "icons" / "x.svg").rename(tmp_path / "resources" / "icons" / "y.svg")
    assert build.inputs_digest(tmp_path) != changed  # a rename is a change too


def test_building_without_pyinstaller_fails_with_a_clear_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        build.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "PyInstaller" else real_find_spec(name, *a),
    )
    assert build.build(force=True) == 1
    assert "PyInstaller is not installed" in capsys.readouterr().err
