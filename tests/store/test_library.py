"""The snapshot library folder: listing order, bad files, unique names, import."""

from __future__ import annotations

import json
import os
import random
import time
from datetime import datetime
from pathlib import Path

import pytest

from fcdesk.core.records import Kind, Source
from fcdesk.store import paths
from fcdesk.store.library import LABELS_FILE, Retention, SnapshotLibrary, older_entries, previous_entry
from fcdesk.store.snapshot import (
    STALE_TEMP_SECONDS,
    CorruptSnapshotError,
    NotASnapshotError,
    read_snapshot,
    sha256_of,
    write_snapshot,
)
from tests.helpers.snapshots import make_meta, make_records, utc


@pytest.fixture
def library(tmp_path: Path) -> SnapshotLibrary:
    return SnapshotLibrary(tmp_path / "library")


def test_default_root_is_the_snapshot_dir_under_the_data_dir(isolated_user_dirs: dict[str, Path]) -> None:
    library = SnapshotLibrary()
    assert library.root == paths.snapshot_dir() == isolated_user_dirs["data"] / "snapshots"
    assert library.entries() == [] and library.newest() is None
    assert not library.root.exists(), "listing must not create the folder"


def test_save_names_files_by_capture_time_and_source(library: SnapshotLibrary) -> None:
    path = library.save(make_meta(captured_at=utc(2026, 11, 26, 2, 45), source=Source.LIVE), make_records())

    assert path == library.root / "2026-11-26T024500Z-live.fcsnap"
    assert read_snapshot(path).records == make_records()


def test_save_never_overwrites_and_picks_unique_names(library: SnapshotLibrary) -> None:
    meta = make_meta(captured_at=utc(2026, 1, 1), source=Source.DEMO)
    first = library.save(make_meta(captured_at=utc(2026, 1, 1), source=Source.DEMO, label="first"), [])
    second = library.save(make_meta(captured_at=utc(2026, 1, 1), source=Source.DEMO, label="second"), [])
    third = library.save(meta, [])

    assert [first.name, second.name, third.name] == [
        "2026-01-01T000000Z-demo.fcsnap",
        "2026-01-01T000000Z-demo-2.fcsnap",
        "2026-01-01T000000Z-demo-3.fcsnap",
    ]
    assert read_snapshot(first).meta.label == "first"
    assert read_snapshot(second).meta.label == "second"
    assert sorted(os.listdir(library.root)) == sorted([first.name, second.name, third.name])


def test_entries_newest_first_and_unreadable_files_last(library: SnapshotLibrary) -> None:
    times = [utc(2026, 3, 1), utc(2026, 1, 1), utc(2026, 5, 1), utc(2026, 2, 1)]
    for index, when in enumerate(times):
        library.save(make_meta(captured_at=when, label=f"#{index}"), make_records())
    (library.root / "aaa-empty.fcsnap").write_bytes(b"")
    (library.root / "zzz-noise.fcsnap").write_bytes(random.Random(3).randbytes(5000))
    (library.root / "notes.txt").write_text("not a snapshot")

    entries = library.entries()

    assert [entry.meta.captured_at for entry in entries[:4]] == sorted(times, reverse=True)  # type: ignore[union-attr]
    assert [entry.meta.label for entry in entries[:4]] == ["#2", "#0", "#3", "#1"]  # type: ignore[union-attr]
    assert all(entry.ok and entry.error == "" for entry in entries[:4])
    assert entries[0].counts[Kind.ACCOUNT] == 1 and entries[0].counts["future_kind"] == 1
    assert entries[0].size == entries[0].path.stat().st_size > 0

    bad = entries[4:]
    assert [entry.path.name for entry in bad] == ["aaa-empty.fcsnap", "zzz-noise.fcsnap"]
    assert all(not entry.ok and entry.meta is None for entry in bad)
    assert "aaa-empty.fcsnap" in bad[0].error and "zzz-noise.fcsnap" in bad[1].error
    assert bad[1].size == 5000


def test_newest_skips_files_that_cannot_be_read(library: SnapshotLibrary) -> None:
    older = library.save(make_meta(captured_at=utc(2026, 1, 1)), make_records())
    newer = library.save(make_meta(captured_at=utc(2026, 6, 1)), make_records())
    data = newer.read_bytes()
    newer.write_bytes(data[: len(data) // 2])  # newest by name and time, but damaged
    (library.root / "9999-12-31T000000Z-live.fcsnap").write_bytes(b"garbage")

    assert library.newest() == older


def test_delete_removes_only_library_files(library: SnapshotLibrary, tmp_path: Path) -> None:
    path = library.save(make_meta(), [])
    outside = tmp_path / "outside.fcsnap"
    write_snapshot(outside, make_meta(), [])

    library.delete(path)
    library.delete(path)  # already gone: fine

    assert not path.exists()
    with pytest.raises(ValueError, match="not a snapshot of the library"):
        library.delete(outside)
    assert outside.exists()


def test_import_copies_a_valid_snapshot(library: SnapshotLibrary, tmp_path: Path) -> None:
    source = tmp_path / "from a colleague.fcsnap"
    write_snapshot(source, make_meta(captured_at=utc(2026, 2, 3, 4, 5)), make_records())
    source_bytes = source.read_bytes()

    imported = library.import_file(source)

    assert imported.parent == library.root
    assert imported.name == "2026-02-03T040500Z-live.fcsnap"
    assert imported.read_bytes() == source_bytes == source.read_bytes()
    assert library.newest() == imported
    again = library.import_file(source)
    assert again.name == "2026-02-03T040500Z-live-2.fcsnap"


@pytest.mark.parametrize(
    ("content", "error"),
    [(b"", NotASnapshotError), (b"\x00" * 4096, NotASnapshotError), (None, NotASnapshotError)],
    ids=["empty", "zeros", "missing"],
)
def test_import_rejects_bad_files_and_leaves_the_library_unchanged(
    library: SnapshotLibrary, tmp_path: Path, content: bytes | None, error: type[Exception]
) -> None:
    existing = library.save(make_meta(), [])
    source = tmp_path / "bad.fcsnap"
    if content is not None:
        source.write_bytes(content)

    with pytest.raises(error):
        library.import_file(source)

    assert sorted(os.listdir(library.root)) == [existing.name]


def test_import_rejects_a_truncated_snapshot(library: SnapshotLibrary, tmp_path: Path) -> None:
    source = tmp_path / "cut.fcsnap"
    write_snapshot(source, make_meta(), make_records() * 1)
    library.save(make_meta(), [])  # so that the folder exists
    data = source.read_bytes()
    source.write_bytes(data[: len(data) - 4096])

    with pytest.raises(CorruptSnapshotError):
        library.import_file(source)
    assert len(os.listdir(library.root)) == 1


def test_listing_skips_temp_files_and_removes_stale_ones(library: SnapshotLibrary) -> None:
    kept = library.save(make_meta(), make_records())
    fresh = library.root / f".{kept.name}.tmp-1-aaaa"
    stale = library.root / ".2026-01-01T000000Z-live.fcsnap.tmp-2-bbbb"
    fresh.write_bytes(b"being written")
    stale.write_bytes(b"dead writer")
    old = time.time() - STALE_TEMP_SECONDS - 10
    os.utime(stale, (old, old))

    entries = library.entries()

    assert [entry.path for entry in entries] == [kept]
    assert fresh.exists() and not stale.exists()


# ------------------------------------------------------------------------------------ labels


def test_a_label_edited_in_the_library_survives_a_restart_and_leaves_the_file_unchanged(
    library: SnapshotLibrary,
) -> None:
    path = library.save(make_meta(label="from the header"), make_records())
    before = path.read_bytes()

    stored = library.set_label(path, "  before the\\naudit  <b>x</b> ")

    assert stored == "before the\\naudit <b>x</b>"
    assert path.read_bytes() == before, "the snapshot is evidence: its bytes never change"
    again = SnapshotLibrary(library.root)  # a new process reads the sidecar
    (entry,) = again.entries()
    assert entry.meta is not None and entry.meta.label == stored
    assert again.label_of(path, read_snapshot(path).meta) == stored
    assert (library.root / LABELS_FILE).exists()


def test_clearing_a_label_hides_the_header_label_and_setting_it_back_drops_the_sidecar_entry(
    library: SnapshotLibrary,
) -> None:
    path = library.save(make_meta(label="header"), [])

    library.set_label(path, "")
    assert library.entries()[0].meta.label == ""  # type: ignore[union-attr]
    library.set_label(path, "header")
    assert library.entries()[0].meta.label == "header"  # type: ignore[union-attr]
    assert json.loads((library.root / LABELS_FILE).read_text())["labels"] == {}


def test_a_label_never_sticks_to_another_capture_of_the_same_file_name(library: SnapshotLibrary) -> None:
    path = library.save(make_meta(captured_at=utc(2026, 1, 1), label=""), [])
    library.set_label(path, "mine")
    path.unlink()  # deleted outside the app: the sidecar keeps the entry
    write_snapshot(path, make_meta(captured_at=utc(2026, 1, 1).replace(second=5), label="other"), [])

    assert library.entries()[0].meta.label == "other"  # type: ignore[union-attr]


def test_deleting_a_snapshot_forgets_its_label(library: SnapshotLibrary) -> None:
    path = library.save(make_meta(), [])
    library.set_label(path, "gone soon")
    library.delete(path)

    assert json.loads((library.root / LABELS_FILE).read_text())["labels"] == {}


def test_an_unusable_labels_file_is_ignored(library: SnapshotLibrary) -> None:
    library.save(make_meta(label="header"), [])
    (library.root / LABELS_FILE).write_text("{not json")

    assert library.entries()[0].meta.label == "header"  # type: ignore[union-attr]


def test_labels_only_for_files_of_the_library(library: SnapshotLibrary, tmp_path: Path) -> None:
    outside = tmp_path / "outside.fcsnap"
    write_snapshot(outside, make_meta(), [])
    with pytest.raises(ValueError, match="not a snapshot of the library"):
        library.set_label(outside, "x")


# ------------------------------------------------------------------------------------ export


def test_export_then_import_round_trips_byte_for_byte(library: SnapshotLibrary, tmp_path: Path) -> None:
    original = library.save(make_meta(captured_at=utc(2026, 4, 5, 6, 7)), make_records())
    library.set_label(original, "edited in the library")
    dest = tmp_path / "out" / "for the auditor.fcsnap"

    exported = library.export_file(original, dest)

    assert exported == dest and dest.read_bytes() == original.read_bytes()
    assert sha256_of(dest) == sha256_of(original)
    other = SnapshotLibrary(tmp_path / "other library")
    imported = other.import_file(dest)
    assert imported.read_bytes() == original.read_bytes()
    assert read_snapshot(imported).records == make_records()
    assert other.entries()[0].meta.label == make_meta().label  # type: ignore[union-attr]  # the header's


def test_export_replaces_an_existing_file_and_refuses_the_snapshot_itself(
    library: SnapshotLibrary, tmp_path: Path
) -> None:
    original = library.save(make_meta(), make_records())
    dest = tmp_path / "old.fcsnap"
    dest.write_bytes(b"older export")

    library.export_file(original, dest)

    assert dest.read_bytes() == original.read_bytes()
    with pytest.raises(ValueError, match="is the snapshot itself"):
        library.export_file(original, original)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_export_of_an_unreadable_file_writes_nothing(library: SnapshotLibrary, tmp_path: Path) -> None:
    bad = tmp_path / "bad.fcsnap"
    bad.write_bytes(b"nope")
    with pytest.raises(NotASnapshotError):
        library.export_file(bad, tmp_path / "out.fcsnap")
    assert not (tmp_path / "out.fcsnap").exists()


# ------------------------------------------------------------------------------------ retention


def _dated(library: SnapshotLibrary, *whens: datetime, tenant: str = "t1") -> list[Path]:
    return [library.save(make_meta(captured_at=w, tenant_id=tenant, label=""), []) for w in whens]


def test_retention_keeps_the_last_n_and_the_newest_of_each_iso_week(library: SnapshotLibrary) -> None:
    # 2026-01-05 is a Monday (ISO week 2); 2026-01-04 a Sunday (week 1 of 2026).
    week1 = _dated(library, utc(2026, 1, 1), utc(2026, 1, 3), utc(2026, 1, 4, 23))
    week2 = _dated(library, utc(2026, 1, 5), utc(2026, 1, 7), utc(2026, 1, 11))
    week3 = _dated(library, utc(2026, 1, 12), utc(2026, 1, 13), utc(2026, 1, 14))

    plan = library.retention_plan(Retention(keep_last=2))

    kept_weekly = {week1[-1], week2[-1]}  # newest of weeks 1 and 2; week 3's newest is in the last 2
    last_two = {week3[-1], week3[-2]}
    expected = set(week1 + week2 + week3) - kept_weekly - last_two
    assert {e.path for e in plan} == expected
    assert [e.meta.captured_at for e in plan] == sorted((e.meta.captured_at for e in plan), reverse=True)  # type: ignore[union-attr]
    assert library.retention_plan(Retention(keep_last=2, weekly=False)) == [
        e for e in library.entries() if e.path not in last_two
    ]


def test_retention_never_deletes_the_open_snapshot_nor_unreadable_files(library: SnapshotLibrary) -> None:
    paths = _dated(library, utc(2026, 3, 2, 1), utc(2026, 3, 2, 2), utc(2026, 3, 2, 3))  # one week
    (library.root / "damaged.fcsnap").write_bytes(b"damaged")

    deleted = library.apply_retention(Retention(keep_last=1), protect=[paths[0]])

    assert deleted == [paths[1]]
    assert sorted(p.name for p in library.root.glob("*.fcsnap")) == sorted(
        [paths[0].name, paths[2].name, "damaged.fcsnap"]
    )


def test_retention_keeps_labelled_snapshots(library: SnapshotLibrary) -> None:
    paths = _dated(library, utc(2026, 3, 2, 1), utc(2026, 3, 2, 2), utc(2026, 3, 2, 3))  # one week
    library.set_label(paths[0], "baseline before the Q4 review")

    plan = library.retention_plan(Retention(keep_last=1, weekly=False))

    assert {e.path for e in plan} == {paths[1]}  # the oldest is labelled: kept


def test_retention_counts_each_tenant_on_its_own(library: SnapshotLibrary) -> None:
    a = _dated(library, utc(2026, 3, 2, 1), utc(2026, 3, 2, 2), tenant="a")
    b = _dated(library, utc(2026, 3, 2, 3), utc(2026, 3, 2, 4), tenant="b")

    assert {e.path for e in library.retention_plan(Retention(keep_last=1))} == {a[0], b[0]}


def test_retention_setting_round_trips_and_tolerates_bad_values() -> None:
    retention = Retention(enabled=True, keep_last=7, weekly=False)
    assert Retention.from_json(retention.to_json()) == retention
    assert Retention.from_json(None) == Retention()
    assert Retention.from_json({"enabled": "yes", "keep_last": True, "weekly": 1}) == Retention()
    assert Retention.from_json({"keep_last": 0}).keep_last == Retention.MIN_KEEP
    weekly = "Keep the newest snapshot of each tenant and the newest of each week"
    assert Retention(keep_last=1).describe() == weekly
    assert Retention(keep_last=5, weekly=False).describe() == "Keep the newest 5 snapshots of each tenant"


def test_previous_is_the_newest_older_snapshot_of_the_same_tenant(library: SnapshotLibrary) -> None:
    first, second, third = _dated(library, utc(2026, 3, 1), utc(2026, 3, 2), utc(2026, 3, 3))
    _dated(library, utc(2026, 3, 2, 12), tenant="other")
    entries = library.entries()
    meta = read_snapshot(third).meta

    assert previous_entry(entries, meta, third).path == second  # type: ignore[union-attr]
    assert [e.path for e in older_entries(entries, meta, third)] == [second, first]
    assert previous_entry(entries, read_snapshot(first).meta, first) is None
