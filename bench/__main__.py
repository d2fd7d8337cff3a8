"""Run every ``bench/bench_*.py`` module's ``main()`` in turn and print its figures.

Usage: ``python -m bench`` (all) or ``python -m bench store`` (only modules whose name contains
"store").
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
from pathlib import Path

#: Modules to run first, in this order; any other bench_*.py found runs after them, by name.
ORDER: list[str] = [
    "bench_startup",
    "bench_open",
    "bench_matrix",
    "bench_capture",
    "bench_gui_refresh",
    "bench_diff",
    "bench_report_html",
]


def discover() -> list[str]:
    found = sorted(
        info.name
        for info in pkgutil.iter_modules([str(Path(__file__).parent)])
        if info.name.startswith("bench_")
    )
    return [name for name in ORDER if name in found] + [name for name in found if name not in ORDER]


def main(argv: list[str] | None = None) -> int:
    filters = sys.argv[1:] if argv is None else argv
    names = [name for name in discover() if not filters or any(f in name for f in filters)]
    if not names:
        print("no benchmarks found" + (f" matching {filters}" if filters else ""))
        return 0
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        print(f"== {name}", flush=True)
        started = time.perf_counter()
        module.main()
        print(f"   ({time.perf_counter() - started:.1f} s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
