"""Snapshot files (``.fcsnap``): one capture of a tenant, as one SQLite database.

Format (schema version 1)
-------------------------
- ``PRAGMA application_id`` = ``APPLICATION_ID`` (``0x46434453``, "FCDS"): tells our files from any
  other SQLite database. ``PRAGMA user_version`` = the schema version (``CURRENT_SCHEMA``).
- ``meta(key TEXT PRIMARY KEY, value TEXT)``: one row per ``SnapshotMeta`` field, the value as
  JSON: ``captured_at`` (ISO-8601 UTC, ``...Z``), ``app_version`` (the fcdesk that wrote it),
  ``source``, ``tenant_id``, ``tenant_name``, ``cloud``, ``scopes``, ``partial``, ``label``,
  ``schema_version``, plus ``record_count``. Unknown keys are ignored by readers.
- ``errors(seq INTEGER PRIMARY KEY, scope, message, code)``: the ``ScopeError`` list, in order.
- ``counts(kind TEXT PRIMARY KEY, n INTEGER)``: records per kind, so a library listing needs no
  body.
- ``records(kind, id, scope, body)`` with ``UNIQUE INDEX records_key ON records (kind, id)``:
  ``body`` is compact JSON text (orjson), so
  ``sqlite3 x.fcsnap "select json_extract(body, '$.name') from records"`` works. The unique index
  plays the part of a ``PRIMARY KEY (kind, id)`` but is built once after the bulk insert, which
  is more than twice as fast as keeping a key up to date row by row and gives a smaller file.
  Rows are read back in insertion order. A duplicate ``(kind, id)`` replaces the earlier record
  (last one wins) and takes the position of its last occurrence.

Kinds a newer fcdesk wrote that this one does not know are kept: ``RawRecord.kind`` is then the
plain ``str`` from the file instead of a ``Kind`` member (``Kind`` is a ``StrEnum``, so
``record.kind == "deployment"`` works for both). ``counts`` keys and ``SnapshotMeta.source`` follow
the same rule (``Source`` member if known, else the raw ``str``).

Writing is atomic (temp file in the same folder, fsync, ``os.replace``, fsync of the folder): a
crash at any point leaves the previous file as it was, plus at worst a stale hidden temp file
``.{name}.tmp-{pid}-{random}`` that later writes (and library scans) remove once it is older than
``STALE_TEMP_SECONDS``.

Reading opens the file read-only through SQLite's URI (``mode=ro``) and never creates or changes
anything; every failure is a ``SnapshotError`` whose ``user_message`` can be shown as is.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import logging
import os
import queue
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from fcdesk._version import __version__
from fcdesk.core.gcpause import paused_gc
from fcdesk.core.normalize import MalformedPayload
from fcdesk.core.records import Kind, RawRecord, ScopeError, SnapshotMeta, Source
from fcdesk.core.verdicts import VERDICTS_VERSION, AzureVerdict, VerdictFolder, VerdictRow

_log = logging.getLogger(__name__)

CURRENT_SCHEMA = 1  #: schema version written; files with a higher one are refused
APPLICATION_ID = 0x46434453  #: "FCDS", stored in the SQLite header (PRAGMA application_id)
SUFFIX = ".fcsnap"
STALE_TEMP_SECONDS = 300  #: a temp file older than this belongs to a dead writer
TEMP_INFIX = ".tmp-"  #: temp files are named ``.{target name}.tmp-{pid}-{random}``

_SQLITE_MAGIC = b"SQLite format 3\x00"
_HEADER_SIZE = 100
_REQUIRED_TABLES = frozenset({"meta", "errors", "counts", "records"})
_WRITE_CACHE_KIB = 32 * 1024  # SQLite page cache while writing; pages beyond it spill to the file
_READ_CHUNK = 1 << 20

_SCHEMA_V1 = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE errors (seq INTEGER PRIMARY KEY, scope TEXT NOT NULL, message TEXT NOT NULL,"
    " code TEXT NOT NULL)",
    "CREATE TABLE counts (kind TEXT PRIMARY KEY, n INTEGER NOT NULL)",
    "CREATE TABLE records (kind TEXT NOT NULL, id TEXT NOT NULL, scope TEXT NOT NULL, body TEXT NOT NULL)",
)
_INDEX_V1 = "CREATE UNIQUE INDEX records_key ON records (kind, id)"

_KINDS: dict[str, Kind] = {kind.value: kind for kind in Kind}
_SOURCES: dict[str, Source] = {source.value: source for source in Source}


# --------------------------------------------------------------------------------------- errors
class SnapshotError(Exception):
    """A snapshot file could not be read (or written).

    ``user_message`` is one or two plain sentences naming the file, fit for a dialog; ``detail``
    is the technical reason, for the log. ``str(error)`` combines both.
    """

    def __init__(self, path: os.PathLike[str] | str, user_message: str, detail: str = "") -> None:
        super().__init__(f"{user_message} [{detail}]" if detail else user_message)
        self.path = Path(path)
        self.user_message = user_message
        self.detail = detail


class NotASnapshotError(SnapshotError):
    """The file is missing, empty, not SQLite, or a SQLite database of some other program."""


class CorruptSnapshotError(SnapshotError):
    """An fcdesk snapshot, but damaged: truncated, failing the integrity check, missing tables or
    holding unreadable data."""


class NewerSnapshotError(SnapshotError):
    """Written by a newer fcdesk with a schema this version cannot read."""

    def __init__(self, path: os.PathLike[str] | str, file_version: int) -> None:
        name = Path(path).name
        super().__init__(
            path,
            f'"{name}" was saved by a newer version of fcdesk (snapshot format {file_version}; '
            f"this version reads formats up to {CURRENT_SCHEMA}). Update fcdesk to open it.",
            f"user_version {file_version} > {CURRENT_SCHEMA}",
        )
        self.file_version = file_version


def _corrupt(path: Path, detail: str) -> CorruptSnapshotError:
    return CorruptSnapshotError(
        path,
        f'"{path.name}" is damaged and cannot be opened. It may have been cut short while it was '
        "being saved or copied; try another copy.",
        detail,
    )


def _not_a_snapshot(path: Path, why: str, detail: str) -> NotASnapshotError:
    return NotASnapshotError(path, f'"{path.name}" {why}', detail)


# ----------------------------------------------------------------------------------- data types
@dataclass(slots=True)
class Snapshot:
    """A whole snapshot file in memory."""

    meta: SnapshotMeta
    records: list[RawRecord]
    path: Path
    counts: dict[Kind | str, int]  #: records per kind, as stored (verified against ``records``)


@dataclass(frozen=True, slots=True)
class SnapshotSummary:
    """What a library listing needs, read without touching the record bodies."""

    path: Path
    meta: SnapshotMeta
    counts: dict[Kind | str, int]
    size: int  #: file size in bytes


def _kind(value: str) -> Kind | str:
    return _KINDS.get(value, value)


# -------------------------------------------------------------------------------------- writing
def write_snapshot(path: os.PathLike[str] | str, meta: SnapshotMeta, records: Iterable[RawRecord]) -> None:
    """Write ``records`` under ``meta`` to ``path`` atomically, replacing any existing file.

    ``meta.app_version`` and ``meta.schema_version`` are not taken from ``meta``: the file records
    this fcdesk's version and ``CURRENT_SCHEMA``. ``meta.captured_at`` must be timezone-aware.
    The parent folder is created if needed. ``records`` is consumed once (a generator is fine).
    Raises ``ValueError``/``TypeError`` for records that cannot be stored and ``OSError`` for
    I/O failures; in every case the previous file at ``path`` is left untouched.
    """
    target = Path(path)
    temp = _write_temp(target.parent, target.name, meta, records)
    try:
        _publish(temp, target, replace=True)
    except BaseException:
        _unlink_quietly(temp)
        raise


def _write_temp(directory: Path, target_name: str, meta: SnapshotMeta, records: Iterable[RawRecord]) -> Path:
    """Write a complete, fsynced snapshot to a new hidden temp file in ``directory``."""
    _check_meta(meta)
    directory.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(directory, target_name=target_name)
    temp = directory / f".{target_name}{TEMP_INFIX}{os.getpid()}-{secrets.token_hex(4)}"
    try:
        # The temp name is fresh; "x" mode makes sure we never write into someone else's file.
        with open(temp, "xb"):
            pass
        connection = sqlite3.connect(temp, isolation_level=None)
        try:
            _fill(connection, meta, records)
        finally:
            connection.close()
        _fsync_file(temp)
    except BaseException:
        _unlink_quietly(temp)
        raise
    return temp


def _check_meta(meta: SnapshotMeta) -> None:
    captured = meta.captured_at
    if not isinstance(captured, datetime) or captured.utcoffset() is None:
        raise ValueError(f"SnapshotMeta.captured_at must be a timezone-aware datetime, not {captured!r}")


def _fill(connection: sqlite3.Connection, meta: SnapshotMeta, records: Iterable[RawRecord]) -> None:
    # No journal and no fsync during the bulk insert: the file is a private temp file that is
    # thrown away on any failure, and it is fsynced as a whole before it replaces the target.
    for pragma in (
        "journal_mode=OFF",
        "synchronous=OFF",
        "locking_mode=EXCLUSIVE",
        "temp_store=MEMORY",
        f"cache_size=-{_WRITE_CACHE_KIB}",
    ):
        connection.execute(f"PRAGMA {pragma}")
    connection.execute("BEGIN")
    for statement in _SCHEMA_V1:
        connection.execute(statement)
    rows = _RecordRows(records)
    with paused_gc():
        connection.executemany(
            "INSERT INTO records (kind, id, scope, body) VALUES (?, ?, ?, CAST(? AS TEXT))", rows
        )
    if rows.duplicates:  # last one wins: keep the highest rowid of each key
        connection.execute(
            "DELETE FROM records WHERE rowid NOT IN (SELECT max(rowid) FROM records GROUP BY kind, id)"
        )
    connection.execute(_INDEX_V1)
    if rows.verdicts is not None and not rows.duplicates:  # duplicates: the fold saw records now gone
        _write_verdicts(connection, rows.verdicts)
    connection.execute("INSERT INTO counts (kind, n) SELECT kind, count(*) FROM records GROUP BY kind")
    (total,) = connection.execute("SELECT count(*) FROM records").fetchone()
    connection.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", _meta_rows(meta, total))
    connection.executemany(
        "INSERT INTO errors (scope, message, code) VALUES (?, ?, ?)",
        ((str(e.scope), str(e.message), str(e.code)) for e in meta.errors),
    )
    connection.execute(f"PRAGMA application_id={APPLICATION_ID}")
    connection.execute(f"PRAGMA user_version={CURRENT_SCHEMA}")
    connection.execute("COMMIT")


_VERDICTS_TABLE = (
    "CREATE TABLE verdicts (resource_key TEXT NOT NULL, assignment_key TEXT NOT NULL, compliant INTEGER NOT NULL,"
    " as_of TEXT, failed TEXT NOT NULL, raw_states TEXT NOT NULL, n INTEGER NOT NULL)"
)


def _write_verdicts(connection: sqlite3.Connection, folder: VerdictFolder) -> None:
    """Azure's states folded per (resource, assignment): what the views need, so that opening a large
    snapshot can skip the raw states. Stamped with VERDICTS_VERSION; readers of another version fold
    the raw states themselves."""
    connection.execute(_VERDICTS_TABLE)
    dumps = orjson.dumps
    connection.executemany(
        "INSERT INTO verdicts VALUES (?, ?, ?, ?, CAST(? AS TEXT), CAST(? AS TEXT), ?)",
        (
            (
                row.resource_key,
                row.assignment_key,
                int(row.verdict.compliant),
                row.verdict.as_of.isoformat() if row.verdict.as_of else None,
                dumps(sorted(row.verdict.failed_references)),
                dumps(sorted(row.verdict.raw_states)),
                row.records,
            )
            for row in folder.rows()
        ),
    )
    connection.execute("INSERT INTO meta (key, value) VALUES ('verdicts_version', ?)", (str(VERDICTS_VERSION),))


class _RecordRows:
    """Rows for ``executemany``, noting whether any ``(kind, id)`` came twice."""

    def __init__(self, records: Iterable[RawRecord]) -> None:
        self._records = records
        self.duplicates = 0
        self.verdicts: VerdictFolder | None = VerdictFolder()  #: None once a state would not fold

    def __iter__(self) -> Iterator[tuple[str, str, str, bytes]]:
        dumps = orjson.dumps
        seen: set[tuple[str, str]] = set()
        seen_add = seen.add
        for record in self._records:
            kind, record_id, body = record.kind, record.id, record.body
            if not isinstance(kind, str) or not kind:
                raise ValueError(f"record kind must be a non-empty string: {record!r}")
            if not isinstance(record_id, str) or not isinstance(record.scope, str):
                raise TypeError(f"record id and scope must be strings: {record!r}")
            if not isinstance(body, dict):
                raise TypeError(f"record body must be a dict, not {type(body).__name__}: {record_id!r}")
            key = (str(kind), record_id)
            if key in seen:
                self.duplicates += 1
            seen_add(key)
            if kind == Kind.POLICY_STATE and self.verdicts is not None:
                try:
                    self.verdicts.add_body(body)
                except (MalformedPayload, TypeError, ValueError):
                    self.verdicts = None  # readers then fold the raw states (and report this one)
            yield (key[0], record_id, record.scope, dumps(body))


def _meta_rows(meta: SnapshotMeta, total: int) -> Iterator[tuple[str, str]]:
    captured = meta.captured_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    values: dict[str, Any] = {
        "captured_at": captured,
        "app_version": __version__,
        "source": str(meta.source),
        "tenant_id": meta.tenant_id,
        "tenant_name": meta.tenant_name,
        "cloud": meta.cloud,
        "scopes": list(meta.scopes),
        "partial": bool(meta.partial),
        "label": meta.label,
        "schema_version": CURRENT_SCHEMA,
        "record_count": total,
    }
    for key, value in values.items():
        yield key, orjson.dumps(value).decode()


def _publish(temp: Path, target: Path, *, replace: bool) -> None:
    """Move the finished ``temp`` onto ``target`` (atomic rename), then fsync the folder.

    With ``replace=False`` an existing ``target`` is never overwritten (``FileExistsError``), using
    a hard link where the file system has them so that the check and the move are one step.
    """
    if replace:
        os.replace(temp, target)
    else:
        try:
            os.link(temp, target)
        except FileExistsError:
            raise
        except OSError:  # no hard links here (FAT, some network shares): check, then rename
            if target.exists():
                raise FileExistsError(target) from None
            os.replace(temp, target)
        else:
            _unlink_quietly(temp)
    _fsync_dir(target.parent)


def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as file:
        os.fsync(file.fileno())


def _fsync_dir(directory: Path) -> None:
    if os.name == "nt":  # directories cannot be opened (nor need fsync) on Windows
        return
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _unlink_quietly(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        _log.warning("could not remove %s: %s", path, exc)


def is_temp_name(name: str) -> bool:
    """True for the hidden temp files that snapshot writers use."""
    return name.startswith(".") and TEMP_INFIX in name


def remove_stale_temp_files(
    directory: os.PathLike[str] | str,
    *,
    target_name: str | None = None,
    max_age: float = STALE_TEMP_SECONDS,
) -> list[Path]:
    """Delete writer temp files in ``directory`` older than ``max_age`` seconds; return them.

    With ``target_name`` only the temp files of that target are considered (used when writing
    into a folder we do not own); without it every snapshot temp file is (the library's folder).
    """
    prefix = f".{target_name}{TEMP_INFIX}" if target_name is not None else "."
    removed: list[Path] = []
    now = time.time()
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        if not (entry.name.startswith(prefix) and is_temp_name(entry.name)):
            continue
        try:
            if not entry.is_file(follow_symlinks=False) or now - entry.stat().st_mtime <= max_age:
                continue
            os.unlink(entry.path)
        except OSError:
            continue
        _log.info("removed stale snapshot temp file %s", entry.path)
        removed.append(Path(entry.path))
    return removed


# -------------------------------------------------------------------------------------- reading
@dataclass(frozen=True, slots=True)
class _Header:
    size: int
    schema: int


def _check_header(path: Path) -> _Header:
    """Classify the file from its first 100 bytes, before SQLite ever opens it."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise _not_a_snapshot(path, "does not exist.", "missing") from None
    except OSError as exc:
        raise SnapshotError(path, f'"{path.name}" could not be read: {exc.strerror}.', str(exc)) from None
    if not path.is_file():
        raise _not_a_snapshot(path, "is not a file, so it is not an fcdesk snapshot.", "not a regular file")
    if stat.st_size == 0:
        raise _not_a_snapshot(path, "is empty, so it is not an fcdesk snapshot.", "empty file")
    try:
        with open(path, "rb") as file:
            head = file.read(_HEADER_SIZE)
    except OSError as exc:
        raise SnapshotError(path, f'"{path.name}" could not be read: {exc.strerror}.', str(exc)) from None
    if not head.startswith(_SQLITE_MAGIC):
        raise _not_a_snapshot(path, "is not an fcdesk snapshot file.", "no SQLite header")
    if len(head) < _HEADER_SIZE:
        raise _corrupt(path, f"SQLite header cut short at {len(head)} bytes")
    application_id = int.from_bytes(head[68:72], "big")
    if application_id != APPLICATION_ID:
        raise _not_a_snapshot(
            path,
            "is a database of some other program, not an fcdesk snapshot.",
            f"application_id {application_id:#010x}",
        )
    schema = int.from_bytes(head[60:64], "big", signed=True)
    if schema > CURRENT_SCHEMA:
        raise NewerSnapshotError(path, schema)
    if schema < 1:
        raise _corrupt(path, f"schema version {schema}: the file was never finished")
    if head[18] != 1 or head[19] != 1:
        raise _corrupt(path, f"journal format {head[18]}/{head[19]}: changed by another program")
    page_size = int.from_bytes(head[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    page_count = int.from_bytes(head[28:32], "big")
    size_is_valid = head[24:28] == head[92:96]  # "in-header database size" is trustworthy
    if size_is_valid and page_count and stat.st_size < page_size * page_count:
        raise _corrupt(path, f"{stat.st_size} bytes, header says {page_size * page_count}")
    return _Header(size=stat.st_size, schema=schema)


def _connect_read_only(path: Path) -> sqlite3.Connection:
    uri = f"{path.absolute().as_uri()}?mode=ro"
    try:
        # check_same_thread=False: the record stream fetches on a helper thread (one at a time).
        return sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise _corrupt(path, f"sqlite open: {exc}") from None


def _check_tables(connection: sqlite3.Connection, path: Path) -> None:
    tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    missing = _REQUIRED_TABLES - tables
    if missing:
        raise _corrupt(path, f"missing tables: {', '.join(sorted(missing))}")


def _json(value: str | bytes, what: str, path: Path) -> Any:
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise _corrupt(path, f"{what}: bad JSON ({exc})") from None


def _load_meta(connection: sqlite3.Connection, path: Path, schema: int) -> SnapshotMeta:
    raw = {
        key: _json(value, f"meta {key}", path)
        for key, value in connection.execute("SELECT key, value FROM meta")
    }
    errors = [
        ScopeError(scope=scope, message=message, code=code)
        for scope, message, code in connection.execute("SELECT scope, message, code FROM errors ORDER BY seq")
    ]
    try:
        captured_at = datetime.fromisoformat(raw["captured_at"])
        if captured_at.utcoffset() is None:
            raise ValueError("captured_at has no time zone")
        source = raw.get("source", Source.DEMO.value)
        scopes = raw.get("scopes", [])
        if not isinstance(source, str) or not isinstance(scopes, list):
            raise TypeError("source/scopes have the wrong type")
        text_fields = {
            key: raw.get(key, "") for key in ("tenant_id", "tenant_name", "cloud", "label", "app_version")
        }
        if not all(isinstance(value, str) for value in (*text_fields.values(), *scopes)):
            raise TypeError("a text field is not a string")
        partial = raw.get("partial", False)
        if not isinstance(partial, bool):
            raise TypeError("partial is not a boolean")
    except (KeyError, TypeError, ValueError) as exc:
        raise _corrupt(path, f"meta: {exc!r}") from None
    return SnapshotMeta(
        captured_at=captured_at.astimezone(UTC),
        source=_SOURCES.get(source, source),  # type: ignore[arg-type]  # unknown: kept as str
        tenant_id=text_fields["tenant_id"],
        tenant_name=text_fields["tenant_name"],
        cloud=text_fields["cloud"] or "public",
        scopes=scopes,
        partial=partial,
        label=text_fields["label"],
        errors=errors,
        app_version=text_fields["app_version"],
        schema_version=schema,
    )


def _load_counts(connection: sqlite3.Connection, path: Path) -> dict[Kind | str, int]:
    counts: dict[Kind | str, int] = {}
    for kind, n in connection.execute("SELECT kind, n FROM counts ORDER BY kind"):
        if not isinstance(kind, str) or not isinstance(n, int) or n < 0:
            raise _corrupt(path, f"counts row {kind!r}: {n!r}")
        counts[_kind(kind)] = n
    return counts


def read_summary(path: os.PathLike[str] | str) -> SnapshotSummary:
    """Header, scope errors and per-kind counts of a snapshot, without reading any record body.

    Cheap checks only (header, version, size against the header, tables, meta): a file that
    passes can still fail ``read_snapshot`` if a record page is damaged.
    """
    path = Path(path)
    header = _check_header(path)
    connection = _connect_read_only(path)
    try:
        _check_tables(connection, path)
        meta = _load_meta(connection, path, header.schema)
        counts = _load_counts(connection, path)
    except sqlite3.Error as exc:
        raise _corrupt(path, f"sqlite: {exc}") from None
    finally:
        connection.close()
    return SnapshotSummary(path=path, meta=meta, counts=counts, size=header.size)


def read_meta(path: os.PathLike[str] | str) -> SnapshotMeta:
    """The ``SnapshotMeta`` of a snapshot file, without reading any record body (fast)."""
    return read_summary(path).meta


@dataclass(slots=True)
class SnapshotReader:
    """An open snapshot whose records are decoded one at a time (see :func:`open_snapshot`)."""

    path: Path
    meta: SnapshotMeta
    counts: dict[Kind | str, int]
    records: Iterator[RawRecord]
    #: the stored, folded policy states when asked for and usable; ``records`` then has no raw states
    verdicts: list[VerdictRow] | None = None


class _QuickCheck(threading.Thread):
    """``PRAGMA quick_check`` on its own connection, beside the record stream.

    SQLite releases the GIL, so on a multi-core machine the check costs no wall time; its verdict
    is awaited at the end of the stream (before the stream reports success)."""

    def __init__(self, path: Path) -> None:
        super().__init__(name="fcdesk-snapshot-quick-check", daemon=True)
        self.path = path
        self.problem: str | None = None

    def run(self) -> None:
        try:
            connection = _connect_read_only(self.path)
        except SnapshotError as exc:
            self.problem = exc.detail or exc.user_message
            return
        try:
            check = connection.execute("PRAGMA quick_check").fetchall()
            if check != [("ok",)]:
                self.problem = "quick_check: " + "; ".join(str(row[0]) for row in check[:5])
        except sqlite3.Error as exc:
            self.problem = f"quick_check: {exc}"
        finally:
            connection.close()

    def verdict(self) -> None:
        self.join()
        if self.problem is not None:
            raise _corrupt(self.path, self.problem)


@contextlib.contextmanager
def open_snapshot(path: os.PathLike[str] | str, *, verdicts: bool = False) -> Iterator[SnapshotReader]:
    """Open and verify a snapshot, then stream its records.

    Verified before the first record: header (size against page count), tables, meta, counts.
    While streaming: every body parses, and SQLite's ``quick_check`` runs on a second connection.
    At the end: the stored per-kind counts and the quick_check verdict. Any problem raises a
    ``SnapshotError`` subclass, also from the middle or the end of the iteration, so a consumer
    must treat what it built as void unless the iteration completes. Streaming lets a consumer drop
    each body once it has used it: a 100,000-deployment snapshot never holds all its JSON at once.

    ``verdicts=True``: when the file stores folded policy states of this fcdesk's VERDICTS_VERSION,
    return them in ``reader.verdicts`` and leave the raw states out of ``reader.records`` (they
    stay in the file); otherwise ``reader.verdicts`` is None and the raw states are streamed.
    """
    path = Path(path)
    header = _check_header(path)
    connection = _connect_read_only(path)
    quick = _QuickCheck(path)
    try:
        try:
            _check_tables(connection, path)
            meta = _load_meta(connection, path, header.schema)
            counts = _load_counts(connection, path)
            stored = _load_verdicts(connection, path, counts) if verdicts else None
        except sqlite3.Error as exc:
            raise _corrupt(path, f"sqlite: {exc}") from None
        quick.start()
        records = _iter_records(connection, path, counts, quick, skip_states=stored is not None)
        try:
            yield SnapshotReader(path, meta, counts, records, stored)
        finally:
            records.close()  # stops and joins the reader thread before the connection goes away
    finally:
        if quick.ident is not None:
            quick.join()
        connection.close()


def read_snapshot(path: os.PathLike[str] | str) -> Snapshot:
    """Read and fully verify a snapshot into memory (see :func:`open_snapshot` to stream instead)."""
    with open_snapshot(path) as reader, paused_gc():
        records = list(reader.records)
    return Snapshot(meta=reader.meta, records=records, path=reader.path, counts=reader.counts)


_BATCH = 2048


def _fetch_batches(
    connection: sqlite3.Connection, out: queue.Queue[list[Any] | BaseException | None], skip_states: bool = False
) -> None:
    """Producer: SQLite reads (GIL released) overlap with the consumer's decoding and building."""
    where = f" WHERE kind != '{Kind.POLICY_STATE.value}'" if skip_states else ""
    try:
        cursor = connection.execute(f"SELECT kind, id, scope, CAST(body AS BLOB) FROM records{where} ORDER BY rowid")
        while rows := cursor.fetchmany(_BATCH):
            out.put(rows)
        out.put(None)
    except BaseException as exc:  # handed to the consumer, which raises it in its own thread
        out.put(exc)


def _load_verdicts(
    connection: sqlite3.Connection, path: Path, counts: dict[Kind | str, int]
) -> list[VerdictRow] | None:
    """The stored verdicts, or None when absent or of another VERDICTS_VERSION (then fold the raw)."""
    row = connection.execute("SELECT value FROM meta WHERE key = 'verdicts_version'").fetchone()
    if row is None or str(row[0]).strip('"') != str(VERDICTS_VERSION):
        return None
    loads = orjson.loads
    out: list[VerdictRow] = []
    total = 0
    try:
        for rk, ak, compliant, as_of, failed, raw_states, n in connection.execute(
            "SELECT resource_key, assignment_key, compliant, as_of, CAST(failed AS BLOB),"
            " CAST(raw_states AS BLOB), n FROM verdicts ORDER BY rowid"
        ):
            when = datetime.fromisoformat(as_of) if as_of else None
            verdict = AzureVerdict(bool(compliant), when, frozenset(loads(failed)), frozenset(loads(raw_states)))
            out.append(VerdictRow(rk, ak, verdict, n))
            total += n
    except (ValueError, TypeError, orjson.JSONDecodeError) as exc:
        raise _corrupt(path, f"verdicts: {exc}") from None
    if total != counts.get(Kind.POLICY_STATE, 0):
        raise _corrupt(path, f"verdicts fold {total} states, counts say {counts.get(Kind.POLICY_STATE, 0)}")
    return out


def _iter_records(
    connection: sqlite3.Connection,
    path: Path,
    counts: dict[Kind | str, int],
    quick: _QuickCheck,
    *,
    skip_states: bool = False,
) -> Iterator[RawRecord]:
    loads, kinds, decode_error = orjson.loads, _KINDS, orjson.JSONDecodeError
    actual: collections.Counter[Kind | str] = collections.Counter()
    batches: queue.Queue[list[Any] | BaseException | None] = queue.Queue(maxsize=8)
    producer = threading.Thread(
        target=_fetch_batches, args=(connection, batches, skip_states), name="fcdesk-snapshot-read", daemon=True
    )
    producer.start()
    try:
        while (rows := batches.get()) is not None:
            if isinstance(rows, sqlite3.Error):
                raise _corrupt(path, f"sqlite: {rows}")
            if isinstance(rows, BaseException):
                raise rows
            for kind, record_id, scope, body in rows:
                try:
                    parsed = loads(body)
                except decode_error as exc:
                    raise _corrupt(path, f"record {kind}/{record_id}: bad JSON ({exc})") from None
                if type(parsed) is not dict:
                    raise _corrupt(path, f"record {kind}/{record_id}: body is not a JSON object")
                record_kind = kinds.get(kind, kind)
                actual[record_kind] += 1
                yield RawRecord(record_kind, record_id, parsed, scope)
    finally:
        # Unblock and finish the producer whatever happened (it may be waiting on a full queue).
        while producer.is_alive():
            try:
                batches.get(timeout=0.05)
            except queue.Empty:
                pass
        producer.join()
    expected = collections.Counter(counts)
    if skip_states:
        expected.pop(Kind.POLICY_STATE, None)
    if actual != expected:
        raise _corrupt(path, f"counts {dict(expected)} do not match records {dict(actual)}")
    quick.verdict()


# ------------------------------------------------------------------------------------- evidence
def sha256_of(path: os.PathLike[str] | str) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks (for audit evidence)."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(_READ_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
