"""Cold start to painted window on the embedded demo (target ≤ 1.5 s on a 2-core machine).

Runs ``python -m fcdesk --self-test`` five times in fresh processes; ``startup_ms`` counts from the
moment the OS started the process (interpreter boot and imports included) to the first paint.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

from bench.common import REPO, median

RUNS = 5


def main() -> None:
    startups, walls = [], []
    with tempfile.TemporaryDirectory() as data:
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen", FCDESK_DATA_DIR=data, FCDESK_CONFIG_DIR=data)
        for _ in range(RUNS):
            started = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "fcdesk", "--self-test"], capture_output=True, text=True, env=env, cwd=REPO, check=False)
            walls.append((time.perf_counter() - started) * 1000)
            result = json.loads(proc.stdout)
            if not result["ok"]:
                raise RuntimeError(f"self-test failed: {result['errors']} {result['warnings']}")
            startups.append(result["startup_ms"])
    print(f"startup to painted window (demo, median of {RUNS}): {median(startups):.0f} ms  (min {min(startups):.0f}, max {max(startups):.0f}; target ≤ 1500)")
    print(f"whole self-test incl. 4 tabs and exit (median): {median(walls):.0f} ms")


if __name__ == "__main__":
    main()
