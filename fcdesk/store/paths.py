"""Where fcdesk keeps its files.

Everything lives under two per-user folders chosen by platformdirs (app name ``fcdesk``, no
author folder), each overridable by an environment variable (tests and portable setups use them):

- ``FCDESK_DATA_DIR``: data; holds ``snapshots/`` and ``logs/``;
- ``FCDESK_CONFIG_DIR``: configuration; holds ``settings.json``.

These functions only compute paths. Nothing is created at import or by asking for a path: the
code that writes a file creates its folder (``path.mkdir(parents=True, exist_ok=True)``).
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "fcdesk"
DATA_DIR_ENV = "FCDESK_DATA_DIR"
CONFIG_DIR_ENV = "FCDESK_CONFIG_DIR"


def _from_env(variable: str) -> Path | None:
    value = os.environ.get(variable, "").strip()
    if not value:
        return None
    return Path(value).expanduser().absolute()


def data_dir() -> Path:
    """Per-user data folder (``$FCDESK_DATA_DIR`` if set)."""
    return _from_env(DATA_DIR_ENV) or platformdirs.user_data_path(APP_NAME, appauthor=False)


def config_dir() -> Path:
    """Per-user configuration folder (``$FCDESK_CONFIG_DIR`` if set)."""
    return _from_env(CONFIG_DIR_ENV) or platformdirs.user_config_path(APP_NAME, appauthor=False)


def log_dir() -> Path:
    """Log files: ``<data>/logs``."""
    return data_dir() / "logs"


def snapshot_dir() -> Path:
    """The snapshot library: ``<data>/snapshots``."""
    return data_dir() / "snapshots"
