"""Reading bad files: the right SnapshotError, a message naming the file, and the file untouched."""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from fcdesk.store.snapshot import (
    CorruptSnapshotError,
    NewerSnapshotError,
    NotASnapshotError,
    SnapshotError,
    read_meta,
    read_snapshot,
    read_summary,
    write_snapshot,
)
from tests.helpers.snapshots import make_meta, make_records, many_records

READERS = [read_meta, read_summary, read_snapshot]


def good_snapshot(path: Path, count: int = 0) -> Path:
    write_snapshot(path, make_meta(), [*make_records(), *many_records(count)])
    return path


def sqlite_edit(path: Path, *statements: str) -> None:
    connection = sqlite3.connect(path)
    try:
        for statement in statements:
            connection.execute(statement)
        connection.commit()
    finally:
        connection.close()


def make_empty(path: Path) -> None:
    path.write_bytes(b"")


def make_random(path: Path) -> None:
    path.write_bytes(random.Random(1234).randbytes(64 * 1024))


def make_text(path: Path) -> None:
    path.write_text('{"this": "is JSON, maybe an old snapshot format"}\n', encoding="utf-8")


def make_truncated(path: Path) -> None:
    good_snapshot(path, count=3000)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def make_truncated_header(path: Path) -> None:
    good_snapshot(path)
    path.write_bytes(path.read_bytes()[:60])


def make_foreign_sqlite(path: Path) -> None:
    sqlite_edit(path, "CREATE TABLE t (x)", "INSERT INTO t VALUES (1)")


def make_other_app_sqlite(path: Path) -> None:
    sqlite_edit(path, "PRAGMA application_id = 1234", "CREATE TABLE t (x)")


def make_newer(path: Path) -> None:
    good_snapshot(path)
    sqlite_edit(path, "PRAGMA user_version = 99")


def make_unfinished(path: Path) -> None:
    good_snapshot(path)
    sqlite_edit(path, "PRAGMA user_version = 0")


def make_missing_table(path: Path) -> None:
    good_snapshot(path)
    sqlite_edit(path, "DROP TABLE errors")


def make_bad_meta(path: Path) -> None:
    good_snapshot(path)
    sqlite_edit(path, "UPDATE meta SET value = '\"yesterday\"' WHERE key = 'captured_at'")


def make_meta_not_json(path: Path) -> None:
    good_snapshot(path)
    sqlite_edit(path, "UPDATE meta SET value = 'not json' WHERE key = 'label'")


def make_wal(path: Path) -> None:
    good_snapshot(path)
    sqlite_edit(path, "PRAGMA journal_mode = WAL")
    assert not Path(f"{path}-wal").exists()


CASES: list[tuple[str, Callable[[Path], None], type[SnapshotError]]] = [
    ("empty", make_empty, NotASnapshotError),
    ("random-bytes", make_random, NotASnapshotError),
    ("text", make_text, NotASnapshotError),
    ("foreign-sqlite", make_foreign_sqlite, NotASnapshotError),
    ("other-app-sqlite", make_other_app_sqlite, NotASnapshotError),
    ("truncated-half", make_truncated, CorruptSnapshotError),
    ("truncated-header", make_truncated_header, CorruptSnapshotError),
    ("unfinished", make_unfinished, CorruptSnapshotError),
    ("missing-table", make_missing_table, CorruptSnapshotError),
    ("bad-meta", make_bad_meta, CorruptSnapshotError),
    ("meta-not-json", make_meta_not_json, CorruptSnapshotError),
    ("wal-mode", make_wal, CorruptSnapshotError),
    ("newer", make_newer, NewerSnapshotError),
]


def assert_user_message(error: SnapshotError, path: Path) -> None:
    message = error.user_message
    assert f'"{path.name}"' in message
    assert "Traceback" not in message and "sqlite3." not in message and "\n" not in message
    assert 0 < message.count(".") <= 3  # one or two plain sentences
    assert error.path == path


def file_state(path: Path) -> tuple[bytes, int, list[str]]:
    return path.read_bytes(), path.stat().st_mtime_ns, sorted(os.listdir(path.parent))


@pytest.mark.parametrize("reader", READERS, ids=lambda reader: reader.__name__)
@pytest.mark.parametrize(("make", "error"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_bad_file_raises_the_right_error_and_is_left_alone(
    tmp_path: Path, make: Callable[[Path], None], error: type[SnapshotError], reader: Callable[[Path], object]
) -> None:
    path = tmp_path / "suspect file.fcsnap"
    make(path)
    before = file_state(path)

    with pytest.raises(error) as caught:
        reader(path)

    assert type(caught.value) is error
    assert_user_message(caught.value, path)
    assert file_state(path) == before  # bytes, mtime, and no -journal/-wal/-shm beside it


def test_newer_snapshot_message_names_both_versions(tmp_path: Path) -> None:
    path = tmp_path / "from-the-future.fcsnap"
    make_newer(path)

    with pytest.raises(NewerSnapshotError) as caught:
        read_snapshot(path)

    assert caught.value.file_version == 99
    assert "99" in caught.value.user_message and "up to 1" in caught.value.user_message
    assert "Update fcdesk" in caught.value.user_message


@pytest.mark.parametrize("reader", READERS, ids=lambda reader: reader.__name__)
def test_missing_file_or_folder_is_not_a_snapshot(tmp_path: Path, reader: Callable[[Path], object]) -> None:
    with pytest.raises(NotASnapshotError) as caught:
        reader(tmp_path / "gone.fcsnap")
    assert_user_message(caught.value, tmp_path / "gone.fcsnap")
    assert "does not exist" in caught.value.user_message
    assert not (tmp_path / "gone.fcsnap").exists()

    folder = tmp_path / "folder.fcsnap"
    folder.mkdir()
    with pytest.raises(NotASnapshotError):
        reader(folder)


def test_damaged_page_fails_the_full_read_but_not_the_listing(tmp_path: Path) -> None:
    path = good_snapshot(tmp_path / "bitrot.fcsnap", count=2000)
    data = bytearray(path.read_bytes())
    page = 4096
    middle = (len(data) // page // 2) * page  # a records page: garbage over its b-tree header
    data[middle : middle + 64] = random.Random(7).randbytes(64)
    path.write_bytes(bytes(data))
    before = file_state(path)

    assert read_meta(path).label == make_meta().label  # meta pages are intact
    with pytest.raises(CorruptSnapshotError):
        read_snapshot(path)
    assert file_state(path) == before


def test_counts_that_disagree_with_the_records_are_corruption(tmp_path: Path) -> None:
    path = good_snapshot(tmp_path / "counts.fcsnap")
    sqlite_edit(path, "UPDATE counts SET n = n + 1 WHERE kind = 'account'")

    with pytest.raises(CorruptSnapshotError) as caught:
        read_snapshot(path)
    assert "counts" in caught.value.detail


def test_body_that_is_json_but_not_an_object_is_corruption(tmp_path: Path) -> None:
    path = good_snapshot(tmp_path / "list-body.fcsnap")
    sqlite_edit(path, "UPDATE records SET body = '[1, 2]' WHERE kind = 'deployment'")

    read_meta(path)
    with pytest.raises(CorruptSnapshotError):
        read_snapshot(path)


def test_successful_reads_leave_the_file_alone(tmp_path: Path) -> None:
    path = good_snapshot(tmp_path / "fine.fcsnap", count=500)
    before = file_state(path)

    read_meta(path)
    read_summary(path)
    read_snapshot(path)

    assert file_state(path) == before


def test_read_works_on_a_read_only_copy(tmp_path: Path) -> None:
    """A snapshot on read-only media (or a read-only share) opens: nothing is written."""
    source = good_snapshot(tmp_path / "ro.fcsnap", count=10)
    folder = tmp_path / "ro-folder"
    folder.mkdir()
    copy = folder / "ro.fcsnap"
    shutil.copyfile(source, copy)
    copy.chmod(0o444)
    folder.chmod(0o555)
    try:
        assert len(read_snapshot(copy).records) == len(make_records()) + 10
        assert sorted(os.listdir(folder)) == ["ro.fcsnap"]
    finally:
        folder.chmod(0o755)
