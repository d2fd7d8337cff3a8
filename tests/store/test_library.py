"""The snapshot library folder: listing order, bad files, unique names, import."""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import pytest

from fcdesk.core.records import Kind, Source
from fcdesk.store import paths
from fcdesk.store.library import SnapshotLibrary
from fcdesk.store.snapshot import (
    STALE_TEMP_SECONDS,
    CorruptSnapshotError,
    NotASnapshotError,
    read_snapshot,
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
