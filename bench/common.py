"""Helpers shared by the benchmarks: cached generated snapshots and subprocess runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

CACHE = Path(os.environ.get("FCDESK_BENCH_CACHE", Path(__file__).parent / ".cache"))
REPO = Path(__file__).resolve().parent.parent


def demo_snapshot(scale: int, seed: int = 0) -> Path:
    """A generated demo snapshot at ``scale`` (cached: generation of 100,000 deployments takes a while)."""
    from fcdesk._version import __version__

    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"demo-s{scale}-seed{seed}-v{__version__}.fcsnap"
    if not path.exists():
        started = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "fcdesk", "demo", "--out", str(path), "--scale", str(scale), "--seed", str(seed)],
            capture_output=True, text=True, check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr)
        print(f"   generated {path.name} in {time.perf_counter() - started:.1f} s", flush=True)
    return path


def run_json(code: str, *args: str, env: dict[str, str] | None = None) -> dict:
    """Run ``code`` in a fresh interpreter (so memory and caches start cold); it prints one JSON line."""
    proc = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=REPO,
        env=dict(os.environ, **(env or {})), check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def median(values: list[float]) -> float:
    s = sorted(values)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2
