"""``fcdesk`` / ``python -m fcdesk``: the GUI, the self-test and the headless commands."""

from __future__ import annotations

import time

#: When this process started executing Python (the self-test reports start-up from here or earlier).
PROCESS_T0 = time.perf_counter()


def main(argv: list[str] | None = None) -> int:
    from fcdesk.cli import run

    return run(argv, t0=PROCESS_T0)


if __name__ == "__main__":
    raise SystemExit(main())
