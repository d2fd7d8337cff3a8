"""The snapshot library: the folder of ``.fcsnap`` files the app lists, opens, saves and imports.

Listing reads only each file's header (``read_summary``), never the record bodies. A file that
cannot be read is listed with its ``error`` (so the user can see and delete it) instead of
breaking the listing. Writers' hidden temp files are skipped, and removed once stale.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path

from fcdesk.core.records import Kind, RawRecord, SnapshotMeta
from fcdesk.store import paths
from fcdesk.store.snapshot import (
    SUFFIX,
    TEMP_INFIX,
    SnapshotError,
    _fsync_file,
    _publish,
    _unlink_quietly,
    _write_temp,
    is_temp_name,
    read_meta,
    read_summary,
    remove_stale_temp_files,
)

_MAX_NAME_TRIES = 1000


@dataclass(frozen=True, slots=True)
class LibraryEntry:
    """One file of the library: readable (``meta`` set) or not (``error`` set)."""

    path: Path
    meta: SnapshotMeta | None
    size: int  #: bytes
    counts: dict[Kind | str, int] = field(default_factory=dict)
    error: str = ""  #: the ``SnapshotError.user_message`` when the file could not be read

    @property
    def ok(self) -> bool:
        return self.meta is not None


class SnapshotLibrary:
    """The ``.fcsnap`` files in one folder (by default ``paths.snapshot_dir()``).

    All methods do blocking file I/O: call them off the GUI thread. The folder is created by the
    first ``save``/``import_file``, not by listing.
    """

    def __init__(self, root: Path | None = None) -> None:
        self._root = Path(root) if root is not None else paths.snapshot_dir()

    @property
    def root(self) -> Path:
        return self._root

    def entries(self) -> list[LibraryEntry]:
        """Every snapshot file, newest ``captured_at`` first; unreadable files last, by name."""
        remove_stale_temp_files(self._root)
        good: list[LibraryEntry] = []
        bad: list[LibraryEntry] = []
        for path in self._snapshot_files():
            try:
                summary = read_summary(path)
            except SnapshotError as exc:
                try:
                    size = path.stat().st_size
                except OSError:
                    size = 0
                bad.append(LibraryEntry(path=path, meta=None, size=size, error=exc.user_message))
                continue
            good.append(LibraryEntry(path=path, meta=summary.meta, size=summary.size, counts=summary.counts))
        good.sort(key=lambda entry: (entry.meta.captured_at, entry.path.name), reverse=True)  # type: ignore[union-attr]
        bad.sort(key=lambda entry: entry.path.name)
        return good + bad

    def newest(self) -> Path | None:
        """Path of the readable snapshot with the latest ``captured_at``, or ``None``."""
        for entry in self.entries():
            if entry.ok:
                return entry.path
        return None

    def save(self, meta: SnapshotMeta, records: Iterable[RawRecord]) -> Path:
        """Write a new snapshot into the library; never overwrites. Returns its path.

        The name comes from ``captured_at`` (UTC) and the source, e.g.
        ``2026-11-26T024500Z-live.fcsnap``; ``-2``, ``-3``... is added if that name is taken.
        """
        self._root.mkdir(parents=True, exist_ok=True)
        base = self.file_stem(meta)
        temp = _write_temp(self._root, f"{base}{SUFFIX}", meta, records)
        try:
            return self._publish_unique(temp, base)
        except BaseException:
            _unlink_quietly(temp)
            raise

    def delete(self, path: Path) -> None:
        """Remove one snapshot file of this library (no error if it is already gone)."""
        path = Path(path)
        if path.suffix != SUFFIX or path.absolute().parent != self._root.absolute():
            raise ValueError(f"{path} is not a snapshot of the library in {self._root}")
        path.unlink(missing_ok=True)

    def import_file(self, src: Path) -> Path:
        """Copy an outside snapshot into the library after checking it; returns the new path.

        Raises the ``SnapshotError`` of ``read_meta`` if ``src`` is not a readable snapshot; the
        library is then unchanged.
        """
        src = Path(src)
        meta = read_meta(src)
        self._root.mkdir(parents=True, exist_ok=True)
        base = self.file_stem(meta)
        temp = self._root / f".{base}{SUFFIX}{TEMP_INFIX}{os.getpid()}-{secrets.token_hex(4)}"
        try:
            shutil.copyfile(src, temp)
            _fsync_file(temp)
            read_meta(temp)  # the copy, too (the source may have changed under us)
            return self._publish_unique(temp, base)
        except BaseException:
            _unlink_quietly(temp)
            raise

    @staticmethod
    def file_stem(meta: SnapshotMeta) -> str:
        """``2026-11-26T024500Z-live``: sortable, and valid on every file system."""
        stamp = meta.captured_at.astimezone(UTC).strftime("%Y-%m-%dT%H%M%SZ")
        source = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in str(meta.source)) or "snapshot"
        return f"{stamp}-{source}"

    # ------------------------------------------------------------------------------- internals
    def _snapshot_files(self) -> list[Path]:
        try:
            names = os.listdir(self._root)
        except FileNotFoundError:
            return []
        return [
            self._root / name
            for name in sorted(names)
            if name.endswith(SUFFIX) and not name.startswith(".") and not is_temp_name(name)
        ]

    def _publish_unique(self, temp: Path, base: str) -> Path:
        for attempt in range(1, _MAX_NAME_TRIES + 1):
            target = self._root / (f"{base}{SUFFIX}" if attempt == 1 else f"{base}-{attempt}{SUFFIX}")
            try:
                _publish(temp, target, replace=False)
            except FileExistsError:
                continue
            return target
        raise FileExistsError(f"no free file name for {base}{SUFFIX} in {self._root}")
