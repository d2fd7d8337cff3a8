"""Opening large snapshots: 10,000 deployments (≤ 1 s) and 100,000 (≤ 8 s, ≤ 1.5 GB peak).

"Open" = stream the file into the inventory and derive what the four tabs show (policy rows, asset
rows, matrix rows, security lists), as the window does on its worker thread, measured in a fresh
process; peak memory is that process's maximum resident set size. The figure depends on whether the
file is in the OS page cache (a 1.1 GB file read cold from disk adds several seconds).
"""

from __future__ import annotations

from bench.common import demo_snapshot, run_json

CODE = r"""
import json, resource, sys, time
from pathlib import Path
t0 = time.perf_counter()
from fcdesk.app import load_inventory
from fcdesk.core.gcpause import freeze_long_lived, paused_gc
t_import = time.perf_counter()
with paused_gc():  # exactly what the window does on its worker thread (MainWindow._load_prepared)
    inv = load_inventory(Path(sys.argv[1])).inventory
    t_build = time.perf_counter()
    inv.prepare()  # the rows of all four tabs
    freeze_long_lived()
t_rows = time.perf_counter()
policies = inv.policy_rows(); assets = inv.asset_rows(); matrix = inv.matrix_rows()
print(json.dumps({
  "records": inv.record_count, "deployments": len(inv.deployments), "assets": len(assets), "matrix": len(matrix),
  "load_s": t_build - t_import, "rows_s": t_rows - t_build, "open_s": t_rows - t_import,
  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
"""

CASES = ((250, 1.0, None), (2500, 8.0, 1536))


def main() -> None:
    for scale, target_s, target_mb in CASES:
        path = demo_snapshot(scale)
        r = run_json(CODE, str(path))
        size_mb = path.stat().st_size / 1e6
        mem = f", peak {r['peak_mb']:.0f} MB" + (f" (target ≤ {target_mb})" if target_mb else "")
        print(
            f"open {r['deployments']:,} deployments ({r['records']:,} records, {size_mb:.0f} MB file): "
            f"{r['open_s']:.2f} s (read+build {r['load_s']:.2f}, rows {r['rows_s']:.2f}; target ≤ {target_s:g} s){mem}"
        )


if __name__ == "__main__":
    main()
