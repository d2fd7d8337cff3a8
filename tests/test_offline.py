"""The window with the network off: no session factory, and every socket connect raising.

Opening and browsing snapshots, the library, the drift view, report export and the what-if all work,
attempt no connection and raise nothing for the missing network.
"""

from __future__ import annotations

import json
import socket
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox, QWizard

from fcdesk.app import demo_snapshot_path, load_inventory
from fcdesk.core.demo import generate
from fcdesk.core.drift import ChangeKind
from fcdesk.core.records import Source
from fcdesk.gui import build_window
from fcdesk.models.drift import kind_counts
from fcdesk.reports import FORMATS
from fcdesk.selftest import drifted_demo
from fcdesk.store import paths
from fcdesk.store.library import Retention, SnapshotLibrary
from fcdesk.store.settings import Settings
from fcdesk.views.main_window import MainWindow
from fcdesk.views.policy_wizard import WHAT_IF_NAME, PageId

META, RECORDS = generate(1, 0)


@pytest.fixture
def connects(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every attempt to open a network connection (each one fails, as with the cable out)."""
    attempts: list[object] = []

    def refuse(self: socket.socket, address: object) -> None:
        attempts.append(address)
        raise OSError("network is off in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    return attempts


@pytest.fixture
def library() -> SnapshotLibrary:
    """The user's library (a temp folder, see conftest): a baseline and a later, drifted capture."""
    lib = SnapshotLibrary(paths.snapshot_dir())
    lib.save(replace(META, source=Source.LIVE, label="baseline"), RECORDS)
    later, records = drifted_demo(META, RECORDS)
    lib.save(replace(later, source=Source.LIVE), records)
    return lib


@pytest.fixture
def window(qtbot, qapp, qloop, tmp_path: Path, connects: list[object]) -> Iterator[MainWindow]:
    win = build_window(
        qapp, load_inventory(demo_snapshot_path()), Settings(tmp_path / "settings.json"), session_factory=None
    )
    qtbot.addWidget(win)
    win.show()
    yield win
    for box in win.findChildren(QMessageBox):
        box.close()
    assert connects == [], "nothing may try the network"


def newest(library: SnapshotLibrary) -> Path:
    path = library.newest()
    assert path is not None
    return path


def test_open_browse_compare_and_export_offline(qtbot, window: MainWindow, library, tmp_path: Path) -> None:
    assert not window.sign_in_action.isEnabled() and not window.refresh_action.isEnabled()

    # File → Snapshot library…, open the newest snapshot
    window.library_action.trigger()
    dialog = window.snapshots.library_dialog
    assert dialog is not None
    qtbot.waitUntil(lambda: len(dialog.entries()) == 2, timeout=10000)
    dialog.select_paths([newest(library)])
    with qtbot.waitSignal(window.snapshotOpened, timeout=10000):
        dialog.open_button.click()
    qtbot.waitUntil(lambda: not dialog.working, timeout=5000)
    banner = window.source_banner.label.text()
    assert banner.startswith("Offline snapshot “after the change” of Contoso AI (demo), as of 2026-11-24")
    assert "read-only" in banner
    status = window.status_label.text()
    assert "“after the change”" in status and status.endswith("read-only")
    assert window.windowTitle().endswith("“after the change” (read-only)")
    assert dialog.model.rows()[0].is_open  # the browser marks the snapshot now open

    # browse every tab
    for tab in window.workspace_tabs:
        window.show_tab(tab.key)
        assert tab.rows_shown() > 0 and tab.select_first()

    # File → Compare with previous: the drift view, computed off the GUI thread
    window.previous_action.trigger()
    qtbot.waitUntil(lambda: bool(window.snapshots.drift_dialogs), timeout=5000)
    drift_dialog = window.snapshots.drift_dialogs[-1]
    qtbot.waitUntil(lambda: drift_dialog.drift is not None, timeout=20000)
    counts = kind_counts(drift_dialog.drift.changes)
    assert counts[ChangeKind.LOOSENED] == 11 and counts[ChangeKind.TIGHTENED] == 4
    assert "“baseline”" in drift_dialog.sides.text() and "“after the change”" in drift_dialog.sides.text()
    assert drift_dialog.changes_shown()[0].kind is ChangeKind.LOOSENED

    # File → Export report…: every format, one of them against the older snapshot
    export = window.snapshots.open_export()
    qtbot.waitUntil(lambda: export.against.count() == 2, timeout=10000)
    assert "baseline" in export.against.itemText(1)
    written = {}
    for fmt in FORMATS:
        if fmt == "html":
            export.against.setCurrentIndex(1)
        with qtbot.waitSignal(export.exported, timeout=20000) as blocker:
            export.export_to(tmp_path / f"report.{fmt}", fmt)
        written[fmt] = blocker.args[0]
        assert export.result.label.text() == f"Report written to {written[fmt]}"
        assert export.result.button is not None and export.result.button.text() == "Open folder"
        export.against.setCurrentIndex(0)
    assert "<html" in written["html"].read_text(encoding="utf-8").lower()
    assert "loosened" in written["html"].read_text(encoding="utf-8").lower()  # the drift section
    assert json.loads(written["json"].read_text(encoding="utf-8"))["snapshot"]["label"] == "after the change"
    assert written["csv"].read_text(encoding="utf-8").startswith("# snapshot")
    assert zipfile.is_zipfile(written["xlsx"])


def test_compare_with_previous_without_an_older_snapshot_says_so(qtbot, window: MainWindow) -> None:
    window.previous_action.trigger()  # the demo, with an empty library
    qtbot.waitUntil(lambda: window.findChild(QMessageBox, "windowNotice") is not None, timeout=5000)
    box = window.findChild(QMessageBox, "windowNotice")
    assert "There is no snapshot of Contoso AI (demo) older than the one shown" in box.text()
    assert not window.snapshots.drift_dialogs


def test_what_if_on_a_snapshot_never_writes(qtbot, window: MainWindow, monkeypatch) -> None:
    sent: list[object] = []
    monkeypatch.setattr(type(window.flows), "apply_policy", lambda self, draft: sent.append(draft))
    policies = window.tab("policies")
    window.show_tab("policies")
    assert policies.select_first()
    selected = policies.table.current_row_object().policy

    window.what_if_action.trigger()
    wizard = window.snapshots.what_if_wizard
    assert wizard is not None and wizard.what_if_only and wizard.rights is None
    assert wizard.draft.display_name == selected.display_name and wizard.draft.existing is None
    assert PageId.NAME not in wizard.pageIds()
    assert wizard.buttonText(QWizard.WizardButton.FinishButton) == "&Close"
    while wizard.currentId() != PageId.REVIEW:
        wizard.next()
    qtbot.waitUntil(lambda: wizard.idle and wizard.review_page.what_if is not None, timeout=10000)
    assert wizard.review_page.headline.text()
    assert wizard.review_page.isComplete()
    with qtbot.waitSignal(wizard.accepted, timeout=2000):
        wizard.button(QWizard.WizardButton.FinishButton).click()
    assert sent == []
    assert not window.services.audit_log.path.exists()


def test_what_if_without_a_selection_starts_empty(qtbot, window: MainWindow) -> None:
    wizard = window.snapshots.open_what_if()
    assert wizard.draft.display_name == WHAT_IF_NAME and not wizard.draft.choices
    wizard.close()


def test_a_label_edited_in_the_library_shows_in_the_window(qtbot, window: MainWindow, library) -> None:
    path = newest(library)
    with qtbot.waitSignal(window.snapshotOpened, timeout=10000):
        window.open_snapshot(path)
    dialog = window.snapshots.open_library()
    qtbot.waitUntil(lambda: len(dialog.entries()) == 2 and not dialog.working, timeout=10000)
    with qtbot.waitSignal(dialog.labelChanged, timeout=5000):
        dialog.set_label(path, "reviewed <b>ok</b>")
    assert "Offline snapshot “reviewed <b>ok</b>”" in window.source_banner.label.text()
    assert "“reviewed <b>ok</b>”" in window.status_label.text()


def test_the_label_of_the_snapshot_shown_at_start_comes_from_the_library(
    qtbot, qapp, tmp_path: Path, library: SnapshotLibrary, connects: list[object]
) -> None:
    path = newest(library)
    library.set_label(path, "edited while closed")
    win = build_window(qapp, load_inventory(path), Settings(tmp_path / "s.json"), session_factory=None)
    qtbot.addWidget(win)
    assert win.context.info.label == "edited while closed"
    assert "Offline snapshot “edited while closed”" in win.source_banner.label.text()


def test_retention_after_a_save_keeps_the_open_and_the_saved_snapshot(
    qtbot, qapp, qloop, tmp_path: Path, connects: list[object]
) -> None:
    lib = SnapshotLibrary(paths.snapshot_dir())
    hours = [META.captured_at + timedelta(hours=h) for h in range(4)]
    paths_ = [lib.save(replace(META, captured_at=when), RECORDS) for when in hours]
    settings = Settings(tmp_path / "s.json")
    settings.set(Retention.SETTINGS_KEY, Retention(enabled=True, keep_last=1, weekly=False).to_json())
    win = build_window(qapp, load_inventory(paths_[0]), settings, session_factory=None)
    qtbot.addWidget(win)

    task = win.snapshots.apply_retention_after_save(paths_[2])
    assert task is not None
    qtbot.waitUntil(task.done, timeout=10000)
    assert [p.exists() for p in paths_] == [True, False, True, True]  # open, -, saved, newest
    assert "Retention: deleted 1 old snapshot." == win.statusBar().currentMessage()

    settings.set(Retention.SETTINGS_KEY, Retention(enabled=False).to_json())
    assert win.snapshots.apply_retention_after_save(paths_[3]) is None


def test_export_of_the_window_filter_with_a_name_holding_an_ampersand(
    qtbot, window: MainWindow, tmp_path: Path
) -> None:
    combo = window.project_combo
    combo.setCurrentIndex(next(i for i in range(combo.count()) if "Red team & eval" in combo.itemText(i)))
    export = window.snapshots.open_export()
    qtbot.waitSignal(export.ready, timeout=10000).wait()
    assert export.scope_filter.isChecked()
    assert "Red team && eval <sandbox>" in export.scope_filter.text()  # "&" shown, not a mnemonic
    assert not export.against.isEnabled()  # nothing older in an empty library
    export.set_format("json")
    assert export.format() == "json"
    with qtbot.waitSignal(export.exported, timeout=20000) as blocker:
        export.export_to(tmp_path / "scoped.json")
    report = json.loads(blocker.args[0].read_text(encoding="utf-8"))
    assert "project Red team & eval <sandbox>" in report["scope"]["text"]
    export.close()
    assert window.services.settings.get_bytes("exportDialog/geometry")
