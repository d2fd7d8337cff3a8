"""The snapshot library: the folder of ``.fcsnap`` files the app lists, opens, saves and imports.

Listing reads only each file's header (``read_summary``), never the record bodies. A file that
cannot be read is listed with its ``error`` (so the user can see and delete it) instead of
breaking the listing. Writers' hidden temp files are skipped, and removed once stale.

Labels edited in the library live in a sidecar, ``labels.json`` in the library folder, not in the
snapshot files:

- a snapshot is the evidence of what the tenant looked like; reports cite its SHA-256, so the file
  must stay byte for byte what was captured (exported copies too, which keep the header's label);
- rewriting a 100,000-deployment snapshot to change a few words would cost seconds of I/O and twice
  its size in disk space, against one small JSON file written atomically.

Format: ``{"schema_version": 1, "labels": {"<file name>": {"label": "...", "captured_at": "<ISO>"}}}``.
An entry applies only to the file of that name *and* capture time, so a file replaced by another
of the same name never inherits a label. ``entries()`` and :meth:`SnapshotLibrary.label_of` show
the sidecar's label over the header's; an empty label there clears the header's.

Retention (:class:`Retention`, :func:`plan_retention`) keeps, per tenant, the newest N snapshots
plus the newest of each ISO week, never a protected one (the snapshot open in the window), and
never touches unreadable files.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import threading
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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

_log = logging.getLogger(__name__)

_MAX_NAME_TRIES = 1000
LABELS_FILE = "labels.json"  #: the sidecar of labels edited in the library
LABELS_SCHEMA = 1
LABEL_MAX = 200  #: characters kept of a label
_LABELS_LOCK = threading.Lock()  # read-modify-write of the sidecar, across worker threads


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

    @property
    def tenant_key(self) -> tuple[str, str]:
        """(cloud, tenant) that retention and "compare with previous" group snapshots by."""
        return tenant_key(self.meta) if self.meta is not None else ("", "")


def tenant_key(meta: SnapshotMeta) -> tuple[str, str]:
    """(cloud, tenant id — or name when there is no id), lower case: which tenant a snapshot is of."""
    return (meta.cloud.lower(), (meta.tenant_id or meta.tenant_name).lower())


def older_entries(
    entries: Iterable[LibraryEntry], meta: SnapshotMeta, path: Path | None = None
) -> list[LibraryEntry]:
    """The readable snapshots of ``meta``'s tenant captured before it, newest first (``path`` itself
    excluded): what a snapshot can be compared with."""
    own = _same_file_key(path) if path is not None else None
    key = tenant_key(meta)
    older = [
        e
        for e in entries
        if e.meta is not None
        and e.tenant_key == key
        and e.meta.captured_at < meta.captured_at
        and _same_file_key(e.path) != own
    ]
    older.sort(key=lambda e: (e.meta.captured_at, e.path.name), reverse=True)  # type: ignore[union-attr]
    return older


def previous_entry(
    entries: Iterable[LibraryEntry], meta: SnapshotMeta, path: Path | None = None
) -> LibraryEntry | None:
    """The newest of :func:`older_entries`: what "Compare with previous" compares a snapshot with."""
    older = older_entries(entries, meta, path)
    return older[0] if older else None


@dataclass(frozen=True, slots=True)
class Retention:
    """Which snapshots the library keeps: per tenant the newest ``keep_last``, plus (``weekly``) the
    newest of each ISO week. ``enabled``: applied after every save (a refresh); "Apply retention
    now" works either way. Persisted in the settings under :data:`SETTINGS_KEY`."""

    enabled: bool = False
    keep_last: int = 20
    weekly: bool = True

    SETTINGS_KEY = "library/retention"
    MIN_KEEP = 1
    MAX_KEEP = 10_000

    def to_json(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "keep_last": self.keep_last, "weekly": self.weekly}

    @classmethod
    def from_json(cls, value: object) -> Retention:
        """The stored setting; defaults for anything missing or of the wrong type."""
        if not isinstance(value, dict):
            return cls()
        default = cls()
        enabled = value.get("enabled")
        keep = value.get("keep_last")
        weekly = value.get("weekly")
        return cls(
            enabled=enabled if isinstance(enabled, bool) else default.enabled,
            keep_last=(
                min(max(keep, cls.MIN_KEEP), cls.MAX_KEEP)
                if isinstance(keep, int) and not isinstance(keep, bool)
                else default.keep_last
            ),
            weekly=weekly if isinstance(weekly, bool) else default.weekly,
        )

    def describe(self) -> str:
        """``Keep the newest 20 snapshots of each tenant and the newest of each week``."""
        newest = "the newest snapshot" if self.keep_last == 1 else f"the newest {self.keep_last} snapshots"
        text = f"Keep {newest} of each tenant"
        return text + (" and the newest of each week" if self.weekly else "")


def plan_retention(
    entries: Iterable[LibraryEntry], retention: Retention, protect: Collection[Path] = ()
) -> list[LibraryEntry]:
    """The entries ``retention`` would delete, newest first (pure: nothing is deleted here).

    Per tenant (cloud and tenant id), newest ``captured_at`` first: the first ``keep_last`` are kept,
    and with ``weekly`` the newest of each ISO week (``isocalendar`` year and week, in UTC). Entries
    whose path is in ``protect`` (the snapshot open in the window), labelled snapshots (a label such
    as "baseline before the Q4 review" says: keep this one) and unreadable files are kept.
    """
    protected = {_same_file_key(p) for p in protect}
    groups: dict[tuple[str, str], list[LibraryEntry]] = {}
    for entry in entries:
        if entry.meta is not None:
            groups.setdefault(entry.tenant_key, []).append(entry)
    doomed: list[LibraryEntry] = []
    for group in groups.values():
        group.sort(key=lambda e: (e.meta.captured_at, e.path.name), reverse=True)  # type: ignore[union-attr]
        weeks: set[tuple[int, int]] = set()
        for index, entry in enumerate(group):
            iso = entry.meta.captured_at.astimezone(UTC).isocalendar()  # type: ignore[union-attr]
            week = (iso.year, iso.week)
            newest_of_week = week not in weeks
            weeks.add(week)
            labelled = bool((entry.meta.label or "").strip())  # type: ignore[union-attr]
            keep = index < retention.keep_last or (retention.weekly and newest_of_week) or labelled
            if not keep and _same_file_key(entry.path) not in protected:
                doomed.append(entry)
    doomed.sort(key=lambda e: (e.meta.captured_at, e.path.name), reverse=True)  # type: ignore[union-attr]
    return doomed


def _same_file_key(path: Path) -> str:
    return os.path.normcase(os.path.abspath(path))


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
        """Every snapshot file, newest ``captured_at`` first; unreadable files last, by name.

        ``meta.label`` is the label as edited in the library (the sidecar's, else the header's).
        """
        remove_stale_temp_files(self._root)
        labels = self._read_labels()
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
            meta = _labelled(summary.meta, labels.get(path.name))
            good.append(LibraryEntry(path=path, meta=meta, size=summary.size, counts=summary.counts))
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
        """Remove one snapshot file of this library, and its label (no error if already gone)."""
        path = self._own(path)
        path.unlink(missing_ok=True)
        with _LABELS_LOCK:
            labels = self._read_labels()
            if labels.pop(path.name, None) is not None:
                self._write_labels(labels)

    def label_of(self, path: Path, meta: SnapshotMeta) -> str:
        """The label of the snapshot at ``path`` with header ``meta``: the library's, else the header's."""
        path = Path(path)
        if path.absolute().parent != self._root.absolute():
            return meta.label
        return _labelled(meta, self._read_labels().get(path.name)).label

    def set_label(self, path: Path, label: str) -> str:
        """Label a snapshot of this library (kept in ``labels.json``); returns the label as stored.

        The label is made one line and cut at :data:`LABEL_MAX` characters; the snapshot file itself
        is not changed. Raises the ``SnapshotError`` of ``read_meta`` if the file cannot be read.
        """
        path = self._own(path)
        text = " ".join(label.split())[:LABEL_MAX]
        meta = read_meta(path)
        with _LABELS_LOCK:
            labels = self._read_labels()
            if text == meta.label:
                labels.pop(path.name, None)
            else:
                labels[path.name] = {"label": text, "captured_at": _stamp(meta.captured_at)}
            self._write_labels(labels)
        return text

    def export_file(self, path: Path, dest: Path) -> Path:
        """Copy a snapshot to ``dest`` byte for byte (so its SHA-256 stays the evidence), atomically.

        ``dest`` is replaced if it exists (the save dialog asked). A label edited in the library stays
        in the library; the copy carries the header's. Raises ``SnapshotError`` if ``path`` cannot be
        read and ``ValueError`` if ``dest`` is ``path`` itself.
        """
        src, dest = Path(path), Path(dest)
        if dest.exists() and os.path.samefile(src, dest):
            raise ValueError(f"{dest} is the snapshot itself")
        read_meta(src)
        dest.parent.mkdir(parents=True, exist_ok=True)
        temp = dest.parent / f".{dest.name}{TEMP_INFIX}{os.getpid()}-{secrets.token_hex(4)}"
        try:
            shutil.copyfile(src, temp)
            _fsync_file(temp)
            read_meta(temp)
            _publish(temp, dest, replace=True)
        except BaseException:
            _unlink_quietly(temp)
            raise
        return dest

    def retention_plan(self, retention: Retention, protect: Collection[Path] = ()) -> list[LibraryEntry]:
        """What :meth:`apply_retention` would delete now (see :func:`plan_retention`)."""
        return plan_retention(self.entries(), retention, protect)

    def apply_retention(self, retention: Retention, protect: Collection[Path] = ()) -> list[Path]:
        """Delete what ``retention`` does not keep; returns the paths deleted."""
        return self.delete_many([entry.path for entry in self.retention_plan(retention, protect)], protect)

    def delete_many(self, paths: Iterable[Path], protect: Collection[Path] = ()) -> list[Path]:
        """Delete these snapshots of the library but those in ``protect``; returns those deleted.

        A file that cannot be deleted is logged and skipped: the others are still deleted.
        """
        protected = {_same_file_key(p) for p in protect}
        deleted: list[Path] = []
        for path in paths:
            if _same_file_key(path) in protected:
                continue
            try:
                self.delete(path)
            except OSError as exc:
                _log.warning("could not delete %s: %s", path, exc)
                continue
            deleted.append(Path(path))
        return deleted

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
    def _own(self, path: Path) -> Path:
        path = Path(path)
        if path.suffix != SUFFIX or path.absolute().parent != self._root.absolute():
            raise ValueError(f"{path} is not a snapshot of the library in {self._root}")
        return path

    def _read_labels(self) -> dict[str, dict[str, str]]:
        """The sidecar's entries; empty when it is missing or unusable (logged, never raised)."""
        path = self._root / LABELS_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            _log.warning("ignoring the snapshot labels in %s: %s", path, exc)
            return {}
        labels = data.get("labels") if isinstance(data, dict) else None
        if not isinstance(labels, dict) or data.get("schema_version") != LABELS_SCHEMA:
            _log.warning("ignoring the snapshot labels in %s: not in the expected format", path)
            return {}
        return {
            name: value
            for name, value in labels.items()
            if isinstance(value, dict)
            and isinstance(value.get("label"), str)
            and isinstance(value.get("captured_at"), str)
        }

    def _write_labels(self, labels: dict[str, dict[str, str]]) -> None:
        """Replace the sidecar atomically (hold ``_LABELS_LOCK``)."""
        self._root.mkdir(parents=True, exist_ok=True)
        data = {"schema_version": LABELS_SCHEMA, "labels": dict(sorted(labels.items()))}
        target = self._root / LABELS_FILE
        temp = self._root / f".{LABELS_FILE}{TEMP_INFIX}{os.getpid()}-{secrets.token_hex(4)}"
        try:
            with open(temp, "x", encoding="utf-8") as file:
                json.dump(data, file, ensure_ascii=False, indent=2)
                file.flush()
                os.fsync(file.fileno())
            _publish(temp, target, replace=True)
        except BaseException:
            _unlink_quietly(temp)
            raise

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


def _stamp(when: datetime) -> str:
    return when.astimezone(UTC).isoformat()


def _labelled(meta: SnapshotMeta, stored: dict[str, str] | None) -> SnapshotMeta:
    """``meta`` with the sidecar's label when that entry is for this very capture."""
    if stored is None or stored.get("captured_at") != _stamp(meta.captured_at):
        return meta
    return replace(meta, label=stored["label"])
