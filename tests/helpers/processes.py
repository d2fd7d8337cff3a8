"""Run a command the way a user or a scheduler would: a real subprocess, offscreen, with text output.

``env`` changes the inherited environment: a value sets a variable, ``None`` removes it (e.g. to
run without the test's redirected user folders).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent


def run_offscreen(
    command: Sequence[str], *, env: Mapping[str, str | None] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    full = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    for key, value in (env or {}).items():
        if value is None:
            full.pop(key, None)
        else:
            full[key] = value
    return subprocess.run(
        list(command), capture_output=True, text=True, env=full, cwd=REPO, timeout=timeout, check=False
    )
