"""User settings: one JSON file, ``<config_dir>/settings.json``.

File format::

    {"schema_version": 1, "values": {"window.geometry": "AdnQywADAAAA...", "tenant": "..."}}

Values are plain JSON types (``None``, bool, int, float, str, lists and string-keyed dicts of
them). Bytes such as Qt's ``saveGeometry()``/``saveState()`` go through ``set_bytes``/``get_bytes``,
which store them as base64 text.

Loading never fails: a file that is not valid JSON, not in this format, or written by a newer
fcdesk (``schema_version`` above ``SCHEMA_VERSION``) is renamed aside to
``settings.json.bad-<UTC timestamp>`` with a logged warning, and defaults are used. Saving is
atomic (temp file in the same folder, then ``os.replace``).
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import logging
import math
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fcdesk.store import paths

_log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
FILE_NAME = "settings.json"
_MISSING: Any = object()


class Settings:
    """Key/value settings persisted as JSON. Not thread-safe: use it from one thread at a time."""

    def __init__(self, path: Path | None = None) -> None:
        self._path = Path(path) if path is not None else paths.config_dir() / FILE_NAME
        self._values: dict[str, Any] = self._load()

    @property
    def path(self) -> Path:
        return self._path

    # ----------------------------------------------------------------------------------- values
    def get(self, key: str, default: Any = None) -> Any:
        """The value stored under ``key`` (a copy, so mutating it changes nothing), or ``default``."""
        value = self._values.get(key, _MISSING)
        if value is _MISSING:
            return default
        return copy.deepcopy(value)

    def set(self, key: str, value: Any) -> None:
        """Store ``value`` (JSON types only, else ``TypeError``) in memory; ``save()`` writes it."""
        if not isinstance(key, str):
            raise TypeError(f"setting keys are strings, not {type(key).__name__}")
        _check_json_value(value, key)
        self._values[key] = json.loads(json.dumps(value))  # a private copy; tuples become lists

    def remove(self, key: str) -> None:
        self._values.pop(key, None)

    def keys(self) -> list[str]:
        return sorted(self._values)

    def get_bytes(self, key: str, default: bytes | None = None) -> bytes | None:
        """Bytes stored with ``set_bytes`` (base64 in the file); ``default`` if missing or invalid."""
        value = self._values.get(key)
        if not isinstance(value, str):
            return default
        try:
            return base64.b64decode(value.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError, ValueError):
            _log.warning("setting %r is not valid base64; using the default", key)
            return default

    def set_bytes(self, key: str, value: bytes | bytearray | memoryview) -> None:
        """Store raw bytes (e.g. ``bytes(window.saveGeometry().data())``) as base64 text."""
        self.set(key, base64.b64encode(bytes(value)).decode("ascii"))

    # ------------------------------------------------------------------------------ persistence
    def save(self) -> None:
        """Write the file atomically (creating the config folder if needed)."""
        data = {"schema_version": SCHEMA_VERSION, "values": self._values}
        text = json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True, allow_nan=False) + "\n"
        directory = self._path.parent
        directory.mkdir(parents=True, exist_ok=True)
        temp = directory / f".{self._path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
        try:
            with open(temp, "x", encoding="utf-8") as file:
                file.write(text)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temp, self._path)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise

    def _load(self) -> dict[str, Any]:
        try:
            text = self._path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError) as exc:
            if isinstance(exc, UnicodeDecodeError):
                return self._set_aside(f"not UTF-8 text ({exc.reason})")
            _log.warning("cannot read settings file %s (%s); using defaults", self._path, exc)
            return {}
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            return self._set_aside(f"not valid JSON ({exc})")
        if not isinstance(data, dict):
            return self._set_aside("not a JSON object")
        version = data.get("schema_version")
        if not isinstance(version, int) or isinstance(version, bool):
            return self._set_aside(f"schema_version {version!r} is not a number")
        if version > SCHEMA_VERSION:
            return self._set_aside(
                f"written by a newer fcdesk (settings version {version}, this one knows {SCHEMA_VERSION})"
            )
        values = data.get("values", {})
        if not isinstance(values, dict):
            return self._set_aside("'values' is not a JSON object")
        return values

    def _set_aside(self, reason: str) -> dict[str, Any]:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        aside = self._path.with_name(f"{self._path.name}.bad-{stamp}")
        counter = 1
        while aside.exists():
            counter += 1
            aside = self._path.with_name(f"{self._path.name}.bad-{stamp}-{counter}")
        try:
            os.replace(self._path, aside)
        except OSError as exc:
            _log.warning(
                "settings file %s is unusable (%s) and could not be moved aside (%s); using defaults",
                self._path,
                reason,
                exc,
            )
        else:
            _log.warning(
                "settings file %s is unusable (%s); moved it to %s and using defaults",
                self._path,
                reason,
                aside.name,
            )
        return {}


def _check_json_value(value: Any, where: str) -> None:
    if value is None or isinstance(value, bool | int | str):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise TypeError(f"setting {where!r}: {value!r} cannot be stored in JSON")
        return
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check_json_value(item, f"{where}[{index}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"setting {where!r}: dict keys must be strings, not {key!r}")
            _check_json_value(item, f"{where}.{key}")
        return
    raise TypeError(
        f"setting {where!r}: {type(value).__name__} is not a JSON type"
        + (" (use set_bytes for bytes)" if isinstance(value, bytes | bytearray | memoryview) else "")
    )
