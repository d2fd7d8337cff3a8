"""Build the one-folder app ``dist/fcdesk/`` with PyInstaller when its inputs changed; run its self-test.

    python packaging/build.py              build unless up to date (``make package``)
    python packaging/build.py --force      build even if up to date
    python packaging/build.py --self-test  build unless up to date, then run the frozen
                                           ``fcdesk --self-test`` offscreen (``make package-test``)

Run it with the project's interpreter (``.venv/bin/python``): the bundle is made of that Python
and of the packages installed beside it. A build takes about a minute, so it is skipped when
nothing that goes into it changed: ``build/pyinstaller/fcdesk.build-inputs`` holds a hash of every
file under fcdesk/, resources/ and packaging/, of constraints.txt, pyproject.toml and setup.py, of the
Python version and prefix, and of the name and version of every package installed beside it (a
``pip install -U`` makes the bundle out of date); it is written after a successful build only, and
kept outside the app folder so it does not ship. Concurrent builds wait for each other (a lock file
beside the stamp, on POSIX). PyInstaller keeps its caches in
``build/pyinstaller``, which makes a rebuild after a small change faster than the first build.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.util
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SPEC = REPO / "packaging" / "fcdesk.spec"
DIST = REPO / "dist"
APP_DIR = DIST / "fcdesk"
WORK = REPO / "build" / "pyinstaller"
STAMP = WORK / "fcdesk.build-inputs"
LOCK = WORK / ".build.lock"
#: What goes into the build: every file under these folders, and these files (relative to REPO).
INPUT_FOLDERS = ("fcdesk", "resources", "packaging")
INPUT_FILES = ("constraints.txt", "pyproject.toml", "setup.py")
#: Never inputs: Python's byte-code caches (the build itself writes some into fcdesk/ and packaging/).
IGNORED_PARTS = frozenset({"__pycache__"})
IGNORED_SUFFIXES = (".pyc", ".pyo")
SELF_TEST_TIMEOUT_S = 300


def executable(name: str = "fcdesk") -> Path:
    """The path of one of the bundle's executables (``fcdesk`` or ``fcdesk-gui``)."""
    return APP_DIR / (f"{name}.exe" if sys.platform == "win32" else name)


def input_files(root: Path = REPO) -> Iterator[Path]:
    """Every file that goes into the build (see INPUT_FOLDERS, INPUT_FILES), byte-code caches left out."""
    for folder in INPUT_FOLDERS:
        for path in (root / folder).rglob("*"):
            relative = path.relative_to(root)
            if (
                path.is_file()
                and not IGNORED_PARTS & set(relative.parts)
                and path.suffix not in IGNORED_SUFFIXES
            ):
                yield path
    for name in INPUT_FILES:
        if (root / name).is_file():
            yield root / name


def inputs_digest(root: Path = REPO) -> str:
    """A hash of everything the build depends on: the input files' names and contents, and this Python."""
    digest = hashlib.sha256(f"{sys.version}|{platform.machine()}|{sys.platform}|{sys.prefix}\n".encode())
    for name, version in installed_packages():
        digest.update(f"{name}=={version}\n".encode())
    for relative, path in sorted((p.relative_to(root).as_posix(), p) for p in input_files(root)):
        digest.update(relative.encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def installed_packages() -> list[tuple[str, str]]:
    """(name, version) of every distribution this Python sees, fcdesk itself left out (its files
    are hashed one by one: an editable install's version does not change when they do)."""
    from importlib.metadata import distributions

    found = {(d.metadata["Name"] or "").lower(): d.version for d in distributions()}
    found.pop("fcdesk", None)
    return sorted(found.items())


@contextlib.contextmanager
def build_lock() -> Iterator[None]:
    """One build at a time (two test runs or a test run and ``make package``); POSIX only."""
    WORK.mkdir(parents=True, exist_ok=True)
    with open(LOCK, "w") as handle:
        try:
            import fcntl
        except ImportError:  # Windows: no lock, builds are not run concurrently there
            yield
            return
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print("waiting for another build of dist/fcdesk to finish...", flush=True)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def is_up_to_date(digest: str) -> bool:
    try:
        built = STAMP.read_text().strip()
    except OSError:
        return False
    return built == digest and executable().is_file()


def folder_size(folder: Path) -> tuple[int, int]:
    """(bytes, files) under ``folder``, symbolic links counted as links, not followed."""
    total = files = 0
    for root, _dirs, names in os.walk(folder):
        for name in names:
            total += os.lstat(os.path.join(root, name)).st_size
            files += 1
    return total, files


def build(*, force: bool = False, verbose: bool = False) -> int:
    """Build ``dist/fcdesk`` unless it is up to date; 0 when it is (or was made) up to date."""
    with build_lock():
        return _build(force=force, verbose=verbose)


def _build(*, force: bool, verbose: bool) -> int:
    digest = inputs_digest()
    if not force and is_up_to_date(digest):
        print(f"{APP_DIR.relative_to(REPO)} is up to date (its inputs did not change; --force rebuilds)")
        return 0
    if importlib.util.find_spec("PyInstaller") is None:
        print(
            f"PyInstaller is not installed in {sys.prefix}: it is a declared dependency, install it with\n"
            "  .venv/bin/python -m pip install -c constraints.txt -e '.[test,package]'",
            file=sys.stderr,
        )
        return 1
    STAMP.unlink(missing_ok=True)  # a failed or interrupted build must not look up to date
    command = [
        sys.executable, "-m", "PyInstaller", str(SPEC),
        "--noconfirm",
        "--distpath", str(DIST),
        "--workpath", str(WORK),
        "--log-level", "INFO" if verbose else "WARN",
    ]  # fmt: skip
    print(f"building {APP_DIR.relative_to(REPO)} with PyInstaller (about a minute)...", flush=True)
    started = time.perf_counter()
    code = subprocess.run(command, cwd=REPO, check=False).returncode
    elapsed = time.perf_counter() - started
    if code != 0 or not executable().is_file():
        print(f"PyInstaller failed (exit {code}) after {elapsed:.0f} s", file=sys.stderr)
        return code or 1
    STAMP.write_text(digest + "\n")
    size, files = folder_size(APP_DIR)
    print(f"built {APP_DIR.relative_to(REPO)} in {elapsed:.0f} s: {size / 2**20:.0f} MiB in {files} files")
    return 0


def self_test() -> int:
    """Run the frozen ``fcdesk --self-test`` offscreen; print its wall time and start-up time."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    started = time.perf_counter()
    try:
        proc = subprocess.run(
            [str(executable()), "--self-test"],
            capture_output=True,
            text=True,
            env=env,
            timeout=SELF_TEST_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        print(f"frozen self-test: no answer within {SELF_TEST_TIMEOUT_S} s", file=sys.stderr)
        return 1
    wall = time.perf_counter() - started
    try:
        result = json.loads(proc.stdout)
    except json.JSONDecodeError:
        print(
            f"frozen self-test printed no JSON (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}",
            file=sys.stderr,
        )
        return 1
    tabs = ", ".join(f"{title} {rows}" for title, rows in result.get("tabs", {}).items())
    print(f"frozen self-test: {'ok' if result.get('ok') else 'FAILED'} in {wall:.1f} s wall, "
          f"startup_ms {result.get('startup_ms')}; rows: {tabs}")  # fmt: skip
    if proc.returncode != 0 or not result.get("ok"):
        problems = result.get("errors", []) + result.get("warnings", [])
        print("\n".join(str(p) for p in problems) or proc.stderr, file=sys.stderr)
        return proc.returncode or 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--force", action="store_true", help="rebuild even if the inputs did not change")
    parser.add_argument("--self-test", action="store_true", help="then run the frozen app's --self-test")
    parser.add_argument("--verbose", action="store_true", help="PyInstaller's INFO log (default: warnings)")
    args = parser.parse_args(argv)
    with build_lock():  # held through the self-test: no other build may replace the bundle under it
        code = _build(force=args.force, verbose=args.verbose)
        if code == 0 and args.self_test:
            code = self_test()
    return code


if __name__ == "__main__":
    sys.exit(main())
