"""Snapshot files: round trip, atomic replace, and what reading guarantees."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

import fcdesk
from fcdesk.core.records import Kind, RawRecord, SnapshotMeta, Source
from fcdesk.store import snapshot as snap
from fcdesk.store.snapshot import (
    APPLICATION_ID,
    CURRENT_SCHEMA,
    CorruptSnapshotError,
    read_meta,
    read_snapshot,
    read_summary,
    sha256_of,
    write_snapshot,
)
from tests.helpers.snapshots import make_meta, make_records, many_records


def expected_meta(meta: SnapshotMeta) -> SnapshotMeta:
    """What reading gives back: the writer's version fields, captured_at in UTC."""
    return dataclasses.replace(
        meta,
        captured_at=meta.captured_at.astimezone(UTC),
        app_version=fcdesk.__version__,
        schema_version=CURRENT_SCHEMA,
    )


def test_round_trip_keeps_every_meta_field_and_record(tmp_path: Path) -> None:
    path = tmp_path / "a.fcsnap"
    meta, records = make_meta(), make_records()

    write_snapshot(path, meta, records)
    loaded = read_snapshot(path)

    assert loaded.meta == expected_meta(meta)
    assert loaded.meta.errors == meta.errors  # order and every field of each ScopeError
    assert loaded.meta.captured_at.tzinfo is UTC
    assert loaded.meta.captured_at == datetime(2026, 11, 26, 2, 45, 0, 123456, tzinfo=UTC)
    assert loaded.records == records  # same order, kind, id, scope, body
    assert [type(record.kind) for record in loaded.records] == [Kind, Kind, Kind, Kind, str]
    assert loaded.path == path
    assert loaded.counts == {
        Kind.SUBSCRIPTION: 1,
        Kind.ACCOUNT: 1,
        Kind.DEPLOYMENT: 1,
        Kind.POLICY_STATE: 1,
        "future_kind": 1,
    }
    # The caller's meta is not modified by writing.
    assert meta.app_version == "" and meta.schema_version == 0


def test_html_and_unicode_bodies_come_back_byte_for_byte(tmp_path: Path) -> None:
    path = tmp_path / "u.fcsnap"
    body = {"name": "<b>x</b><script>alert(1)</script>", "ü": "日本語 🚀 \u2028 \x00 end"}
    write_snapshot(path, make_meta(), [RawRecord(Kind.ACCOUNT, "id-<b>", body, "scope-✓")])

    (record,) = read_snapshot(path).records

    assert record.body == body
    assert record.id == "id-<b>" and record.scope == "scope-✓"


def test_unknown_kind_and_source_from_a_future_version_are_kept_as_str(tmp_path: Path) -> None:
    path = tmp_path / "future.fcsnap"
    meta = make_meta(source="satellite")
    write_snapshot(path, meta, [RawRecord("hologram", "h1", {"v": 1}, "s")])  # type: ignore[arg-type]

    loaded = read_snapshot(path)

    assert loaded.meta.source == "satellite" and not isinstance(loaded.meta.source, Source)
    assert loaded.records[0].kind == "hologram" and not isinstance(loaded.records[0].kind, Kind)
    assert loaded.counts == {"hologram": 1}


def test_meta_defaults_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "minimal.fcsnap"
    meta = SnapshotMeta(captured_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))

    write_snapshot(path, meta, [])
    loaded = read_snapshot(path)

    assert loaded.meta == expected_meta(meta)
    assert loaded.meta.source is Source.DEMO
    assert loaded.records == [] and loaded.counts == {}


def test_duplicate_keys_last_one_wins(tmp_path: Path) -> None:
    path = tmp_path / "dup.fcsnap"
    records = [
        RawRecord(Kind.DEPLOYMENT, "d1", {"v": "first"}, "s1"),
        RawRecord(Kind.DEPLOYMENT, "d2", {"v": "other"}, "s1"),
        RawRecord(Kind.DEPLOYMENT, "d1", {"v": "second"}, "s2"),
        RawRecord(Kind.ACCOUNT, "d1", {"v": "same id, other kind"}, "s1"),
        RawRecord(Kind.DEPLOYMENT, "d1", {"v": "last"}, "s3"),
    ]

    write_snapshot(path, make_meta(), records)
    loaded = read_snapshot(path)

    assert loaded.records == [records[1], records[3], records[4]]
    assert loaded.counts == {Kind.DEPLOYMENT: 2, Kind.ACCOUNT: 1}


def test_records_may_come_from_a_generator(tmp_path: Path) -> None:
    path = tmp_path / "gen.fcsnap"
    write_snapshot(path, make_meta(), many_records(2000))

    loaded = read_snapshot(path)

    assert len(loaded.records) == 2000
    assert loaded.records == list(many_records(2000))
    assert sum(loaded.counts.values()) == 2000 and len(loaded.counts) == 4


def test_file_is_tagged_and_versioned_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "tag.fcsnap"
    write_snapshot(path, make_meta(), make_records())

    with path.open("rb") as file:
        header = file.read(100)
    assert header.startswith(b"SQLite format 3\x00")
    assert int.from_bytes(header[68:72], "big") == APPLICATION_ID == 0x46434453
    assert int.from_bytes(header[60:64], "big") == CURRENT_SCHEMA == 1
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        (name,) = connection.execute(
            "SELECT json_extract(body, '$.name') FROM records WHERE kind = 'account'"
        ).fetchone()
        meta_keys = {key for (key,) in connection.execute("SELECT key FROM meta")}
        (index_sql,) = connection.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'records_key'"
        ).fetchone()
    finally:
        connection.close()
    assert name == "<b>x</b>"  # bodies are JSON text that SQLite's JSON functions can read
    assert meta_keys >= {
        "captured_at", "app_version", "source", "tenant_id", "tenant_name", "cloud", "scopes",
        "partial", "label", "schema_version",
    }  # fmt: skip
    assert "UNIQUE" in index_sql.upper()


def test_write_replaces_the_previous_file_and_leaves_no_temp(tmp_path: Path) -> None:
    path = tmp_path / "r.fcsnap"
    write_snapshot(path, make_meta(label="one"), make_records())
    write_snapshot(path, make_meta(label="two"), make_records()[:2])

    loaded = read_snapshot(path)

    assert loaded.meta.label == "two" and len(loaded.records) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.fcsnap"]


def test_write_creates_missing_parent_folders(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "x.fcsnap"
    write_snapshot(path, make_meta(), [])
    assert read_meta(path).label == make_meta().label


def failing_records():
    yield from make_records()
    raise RuntimeError("fetch died")


@pytest.mark.parametrize(
    ("meta", "records", "error"),
    [
        (make_meta(), failing_records(), RuntimeError),
        (make_meta(captured_at=datetime(2026, 1, 1)), [], ValueError),  # naive datetime
        (make_meta(), [RawRecord(Kind.ACCOUNT, "a", ["not", "a", "dict"], "")], TypeError),  # type: ignore[arg-type]
        (make_meta(), [RawRecord(Kind.ACCOUNT, "a", {"x": {1, 2}}, "")], TypeError),  # not JSON
        (make_meta(), [RawRecord(Kind.ACCOUNT, 7, {}, "")], TypeError),  # type: ignore[arg-type]
        (make_meta(), [RawRecord("", "a", {}, "")], ValueError),  # type: ignore[arg-type]
    ],
    ids=["records-raise", "naive-time", "body-not-dict", "body-not-json", "id-not-str", "empty-kind"],
)
def test_failed_write_keeps_previous_file_and_cleans_up(
    tmp_path: Path, meta: SnapshotMeta, records: object, error: type[Exception]
) -> None:
    path = tmp_path / "keep.fcsnap"
    write_snapshot(path, make_meta(label="original"), make_records())
    before = path.read_bytes()

    with pytest.raises(error):
        write_snapshot(path, meta, records)  # type: ignore[arg-type]

    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.fcsnap"]


def test_stale_temp_files_of_the_target_are_removed_by_the_next_write(tmp_path: Path) -> None:
    path = tmp_path / "t.fcsnap"
    stale = tmp_path / ".t.fcsnap.tmp-999999-deadbeef"
    fresh = tmp_path / ".t.fcsnap.tmp-999998-cafef00d"
    other_target = tmp_path / ".other.fcsnap.tmp-999997-00000000"
    unrelated = tmp_path / "notes.txt"
    for file in (stale, fresh, other_target, unrelated):
        file.write_bytes(b"partial")
    old = time.time() - snap.STALE_TEMP_SECONDS - 60
    for file in (stale, other_target, unrelated):
        os.utime(file, (old, old))

    write_snapshot(path, make_meta(), [])

    assert not stale.exists()
    assert fresh.exists(), "a temp file young enough to belong to a live writer must stay"
    assert other_target.exists(), "only the target's own temp files are ours to remove"
    assert unrelated.exists()


def test_read_meta_and_summary_do_not_need_bodies(tmp_path: Path) -> None:
    path = tmp_path / "bad-body.fcsnap"
    write_snapshot(path, make_meta(), make_records())
    connection = sqlite3.connect(path)
    connection.execute("UPDATE records SET body = '{\"broken\": ' WHERE kind = 'account'")
    connection.commit()
    connection.close()

    assert read_meta(path) == expected_meta(make_meta())
    summary = read_summary(path)
    assert summary.counts[Kind.ACCOUNT] == 1 and summary.size == path.stat().st_size
    with pytest.raises(CorruptSnapshotError) as caught:
        read_snapshot(path)
    assert "bad-body.fcsnap" in caught.value.user_message
    assert "account" in caught.value.detail


def test_sha256_of_matches_hashlib(tmp_path: Path) -> None:
    path = tmp_path / "h.fcsnap"
    write_snapshot(path, make_meta(), many_records(3000))  # several MiB: more than one chunk
    assert sha256_of(path) == hashlib.sha256(path.read_bytes()).hexdigest()
    assert path.stat().st_size > 1 << 20


def test_stream_can_be_left_early_and_reopened(tmp_path) -> None:
    """Leaving the stream half-way stops its reader thread cleanly; the file stays readable."""
    import threading

    from fcdesk.store.snapshot import open_snapshot

    path = tmp_path / "many.fcsnap"
    records = [RawRecord(Kind.DEPLOYMENT, f"/d/{i}", {"id": f"/d/{i}", "n": i}) for i in range(20_000)]
    write_snapshot(path, make_meta(), records)
    with open_snapshot(path) as reader:
        first = [next(reader.records) for _ in range(10)]
    assert [r.id for r in first] == [f"/d/{i}" for i in range(10)]
    assert not [t for t in threading.enumerate() if t.name.startswith("fcdesk-snapshot")]
    with open_snapshot(path) as reader:
        assert sum(1 for _ in reader.records) == 20_000
