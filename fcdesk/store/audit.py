"""The audit log: every write fcdesk sends to Azure, one JSON object per line.

``<data>/audit.jsonl``. Each entry records the time (UTC, ISO 8601), the signed-in principal, the
cloud, the operation, the target ARM id, the resource before and after (as ARM JSON, or null), and
the outcome (``succeeded``, ``failed``, ``conflict``, ``refused``) with the error message when there is
one. Lines are appended with one ``write`` each and flushed, so a crash loses at most the line being
written; a damaged line is skipped (and counted) when reading, never fatal.

Blocking file I/O: callers on the GUI thread run :meth:`AuditLog.append` and :meth:`AuditLog.read`
in a worker thread (``asyncio.to_thread``).

No secrets: entries hold ARM resource JSON, which carries none (keys are never part of it), and
the principal's name. Nothing here sees a token.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fcdesk.store.paths import data_dir

AUDIT_FILE = "audit.jsonl"
OUTCOMES = ("succeeded", "failed", "conflict", "refused")


@dataclass(frozen=True, slots=True)
class AuditEntry:
    time: str  #: ISO 8601 UTC
    principal: str
    cloud: str
    operation: str  #: e.g. "policyAssignment.create", "raiPolicy.update", "deployment.setGuardrail"
    target: str  #: ARM id
    outcome: str  #: one of OUTCOMES
    before: Any = None
    after: Any = None
    error: str = ""
    request: Mapping[str, Any] = field(default_factory=dict)  #: method and URL path (no headers)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, line: str) -> AuditEntry:
        data = json.loads(line)
        if not isinstance(data, dict):
            raise ValueError("not an object")
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class AuditLog:
    """Append-only JSON-lines log. Thread-safe for appends within one process."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path if path is not None else data_dir() / AUDIT_FILE
        self._lock = threading.Lock()

    def append(self, entry: AuditEntry) -> None:
        """Append one entry (blocking: call from a worker thread on the GUI)."""
        line = entry.to_json() + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line.encode("utf-8"))
                os.fsync(fd)
            finally:
                os.close(fd)

    def read(self, limit: int | None = None) -> tuple[list[AuditEntry], int]:
        """The entries, newest last (at most ``limit``, the newest), and the count of damaged lines."""
        try:
            text = self.path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return [], 0
        entries: list[AuditEntry] = []
        damaged = 0
        for line in text.splitlines():
            if not line.strip():
                continue
            try:
                entries.append(AuditEntry.from_json(line))
            except (ValueError, TypeError):
                damaged += 1
        if limit is not None:
            entries = entries[-limit:]
        return entries, damaged
