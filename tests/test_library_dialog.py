"""The snapshot library browser: listing, open, label, delete, import/export, retention, compare."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QInputDialog, QLabel, QMessageBox

from fcdesk.core.demo import generate
from fcdesk.models.palette import LIGHT
from fcdesk.store.library import Retention, SnapshotLibrary
from fcdesk.store.settings import Settings
from fcdesk.views.library_dialog import EMPTY_LIBRARY, GEOMETRY_KEY, OPEN_HERE, LibraryDialog, human_size

META, RECORDS = generate(1, 0)


@pytest.fixture
def library(tmp_path: Path) -> SnapshotLibrary:
    return SnapshotLibrary(tmp_path / "library")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(tmp_path / "settings.json")


def save(library: SnapshotLibrary, days: float, **meta: object) -> Path:
    when = META.captured_at + timedelta(days=days)
    return library.save(replace(META, captured_at=when, **meta), RECORDS)  # type: ignore[arg-type]


def make_dialog(
    qtbot, library: SnapshotLibrary, settings: Settings | None = None, opened: Path | None = None
) -> LibraryDialog:
    dialog = LibraryDialog(library, open_path=lambda: opened, settings=settings, colors=LIGHT)
    qtbot.addWidget(dialog)
    with qtbot.waitSignal(dialog.loaded, timeout=10000):
        dialog.show()
    return dialog


def wait(qtbot, future) -> None:
    qtbot.waitUntil(future.done, timeout=10000)
    assert future.exception() is None


def confirm(qtbot, dialog: LibraryDialog, button_text: str) -> QMessageBox:
    qtbot.waitUntil(lambda: dialog.findChild(QMessageBox, "libraryConfirm") is not None, timeout=5000)
    box = dialog.findChild(QMessageBox, "libraryConfirm")
    assert box.textFormat() == Qt.TextFormat.PlainText
    (button,) = [b for b in box.buttons() if b.text() == button_text]
    button.click()
    return box


def test_an_empty_library_says_how_to_fill_it(qtbot, qloop, library: SnapshotLibrary) -> None:
    dialog = make_dialog(qtbot, library)
    assert dialog.stack.currentWidget() is dialog.empty_state
    assert dialog.empty_state.text() == EMPTY_LIBRARY
    assert not dialog.open_button.isEnabled() and not dialog.delete_button.isEnabled()
    assert dialog.import_button.isEnabled()


def test_lists_newest_first_with_the_open_one_marked(qtbot, qloop, library: SnapshotLibrary) -> None:
    old = save(library, 0, label="baseline")
    new = save(library, 3, partial=True, label="")
    (library.root / "broken.fcsnap").write_bytes(b"garbage")
    dialog = make_dialog(qtbot, library, opened=old)

    rows = dialog.table.proxy.visible_rows()
    assert [r.entry.path for r in rows] == [new, old, library.root / "broken.fcsnap"]
    model = dialog.model
    texts = [[model.index(r, c).data() for c in range(model.columnCount())] for r in range(model.rowCount())]
    by_path = {row.entry.path: texts[i] for i, row in enumerate(model.rows())}
    assert by_path[old][:8] == [
        "● Open",
        "2026-11-20 09:30 UTC",
        "Contoso AI (demo)",
        "public",
        "3 subscriptions",
        "40",
        "Complete",
        "baseline",
    ]
    assert by_path[new][6] == "Partial" and by_path[new][0] == ""
    assert by_path[library.root / "broken.fcsnap"][6] == "Unreadable"
    assert dialog.table.current_row_object().entry.path == new  # the newest is selected
    assert dialog.open_button.isEnabled()

    dialog.select_paths([old])
    assert not dialog.delete_button.isEnabled() and dialog.delete_button.toolTip().startswith(OPEN_HERE)
    dialog.select_paths([library.root / "broken.fcsnap"])
    assert not dialog.open_button.isEnabled() and dialog.delete_button.isEnabled()
    assert "broken.fcsnap" in dialog.detail.text()


def test_enter_opens_and_double_click_too(qtbot, qloop, library: SnapshotLibrary) -> None:
    path = save(library, 0)
    dialog = make_dialog(qtbot, library)
    dialog.table.setFocus()
    with qtbot.waitSignal(dialog.openRequested, timeout=2000) as blocker:
        qtbot.keyClick(dialog.table, Qt.Key.Key_Return)
    assert blocker.args == [path]


def test_label_edit_survives_a_restart_and_is_announced(
    qtbot, qloop, library: SnapshotLibrary, settings: Settings
) -> None:
    path = save(library, 0, label="")
    dialog = make_dialog(qtbot, library, settings)
    dialog.table.setFocus()
    qtbot.keyClick(dialog.table, Qt.Key.Key_F2)
    input_dialog = dialog.findChild(QInputDialog, "labelDialog")
    assert input_dialog is not None and input_dialog.textValue() == ""
    assert all(label.textFormat() == Qt.TextFormat.PlainText for label in input_dialog.findChildren(QLabel))
    with qtbot.waitSignal(dialog.labelChanged, timeout=5000) as blocker:
        input_dialog.setTextValue("before the <b>audit</b>")
        input_dialog.accept()
    assert blocker.args == [path, "before the <b>audit</b>"]
    assert dialog.model.rows()[0].entry.meta.label == "before the <b>audit</b>"
    assert "Label saved" in dialog.message.label.text()

    again = make_dialog(qtbot, SnapshotLibrary(library.root))
    assert again.model.rows()[0].entry.meta.label == "before the <b>audit</b>"


def test_delete_asks_first_and_cancel_keeps_the_file(qtbot, qloop, library: SnapshotLibrary) -> None:
    keep = save(library, 0)
    doomed = save(library, 1)
    dialog = make_dialog(qtbot, library, opened=keep)
    dialog.select_paths([doomed])

    dialog.table.setFocus()
    qtbot.keyClick(dialog.table, Qt.Key.Key_Delete)
    box = confirm(qtbot, dialog, "Cancel")
    assert "Delete the snapshot 2026-11-21 09:30 UTC" in box.text() and "cannot be undone" in box.text()
    assert doomed.exists()

    box = dialog.confirm_delete()
    assert box is not None
    with qtbot.waitSignal(dialog.finishedOperation, timeout=5000) as blocker:
        (button,) = [b for b in box.buttons() if b.text() == "Delete"]
        button.click()
    assert blocker.args == ["Deleted 1 snapshot."]
    assert not doomed.exists() and keep.exists()
    assert [e.path for e in dialog.entries()] == [keep]


def test_the_open_snapshot_is_never_deleted_even_when_asked(qtbot, qloop, library: SnapshotLibrary) -> None:
    opened = save(library, 0)
    other = save(library, 1)
    dialog = make_dialog(qtbot, library, opened=opened)
    wait(qtbot, dialog.delete([opened, other]))
    assert opened.exists() and not other.exists()
    assert "could not be deleted" in dialog.message.label.text()


def test_export_then_import_round_trip(qtbot, qloop, library: SnapshotLibrary, tmp_path: Path) -> None:
    path = save(library, 0, label="shared")
    dialog = make_dialog(qtbot, library)
    dest = tmp_path / "out" / "for a colleague.fcsnap"
    wait(qtbot, dialog.export(path, dest))
    assert dest.read_bytes() == path.read_bytes()
    assert dialog.message.label.text() == (
        f"Exported to {dest}. Labels given in the library stay in it: the copy carries the capture's own label."
    )
    assert dialog.message.button is not None and dialog.message.button.text() == "Show folder"

    other = make_dialog(qtbot, SnapshotLibrary(tmp_path / "other"))
    wait(qtbot, other.import_files([dest, tmp_path / "missing.fcsnap"]))
    (entry,) = other.entries()
    assert entry.path.read_bytes() == path.read_bytes() and entry.meta.label == "shared"
    assert other.table.current_row_object().entry.path == entry.path
    assert "Imported 1 snapshot." in other.error_banner.label.text()
    assert "missing.fcsnap" in other.error_banner.label.text()


def test_retention_is_persisted_listed_confirmed_and_keeps_the_open_one(
    qtbot, qloop, library: SnapshotLibrary, settings: Settings
) -> None:
    # one ISO week (Friday 2026-11-20 to Sunday 2026-11-22), five captures
    paths = [save(library, hours / 24) for hours in (0, 6, 12, 24, 48)]
    opened = paths[0]
    dialog = make_dialog(qtbot, library, settings, opened=opened)

    dialog.retention_keep.setValue(2)
    dialog.retention_enabled.setChecked(True)
    assert Retention.from_json(settings.get(Retention.SETTINGS_KEY)) == Retention(True, 2, True)

    dialog.plan_retention()
    box = confirm(qtbot, dialog, "Cancel")
    assert "Keep the newest 2 snapshots of each tenant and the newest of each week" in box.text()
    assert "This deletes 2 snapshots" in box.text()
    assert paths[1].name in box.text() and paths[2].name in box.text() and opened.name not in box.text()
    assert all(p.exists() for p in paths)

    with qtbot.waitSignal(dialog.finishedOperation, timeout=5000):
        dialog.plan_retention()
        confirm(qtbot, dialog, "Delete 2 snapshots")
    qtbot.waitUntil(lambda: not dialog.working, timeout=5000)
    assert [p.exists() for p in paths] == [True, False, False, True, True]

    dialog.close()
    reread = Settings(settings.path)
    assert Retention.from_json(reread.get(Retention.SETTINGS_KEY)) == Retention(True, 2, True)
    assert reread.get_bytes(GEOMETRY_KEY)


def test_retention_with_nothing_to_delete_says_so(qtbot, qloop, library: SnapshotLibrary) -> None:
    save(library, 0)
    dialog = make_dialog(qtbot, library)
    with qtbot.waitSignal(dialog.finishedOperation, timeout=5000) as blocker:
        dialog.plan_retention()
    assert blocker.args[0].startswith("Nothing to delete")


def test_compare_two_and_compare_with_previous(qtbot, qloop, library: SnapshotLibrary) -> None:
    first = save(library, 0, label="first")
    second = save(library, 2)
    third = save(library, 5, label="third")
    save(library, 9, tenant_id="another tenant", tenant_name="Fabrikam")
    dialog = make_dialog(qtbot, library)

    dialog.select_paths([third, first])
    assert dialog.compare_button.isEnabled() and not dialog.previous_button.isEnabled()
    with qtbot.waitSignal(dialog.compareRequested, timeout=2000) as blocker:
        dialog.compare_button.click()
    older, newer = blocker.args
    assert (older.source, older.label, newer.source, newer.label) == (first, "first", third, "third")

    dialog.select_paths([third])
    assert dialog.previous_button.isEnabled()
    with qtbot.waitSignal(dialog.compareRequested, timeout=2000) as blocker:
        dialog.previous_button.click()
    assert [s.source for s in blocker.args] == [second, third]

    fabrikam = [e.path for e in dialog.entries() if e.meta.tenant_name == "Fabrikam"]
    dialog.select_paths(fabrikam)
    assert not dialog.previous_button.isEnabled()
    assert dialog.previous_button.toolTip() == "No older snapshot of this tenant in the library"


def test_human_sizes() -> None:
    assert [human_size(n) for n in (12, 12_345, 12_345_678, 3_200_000_000)] == [
        "12 bytes",
        "12 KB",
        "12.3 MB",
        "3.2 GB",
    ]
