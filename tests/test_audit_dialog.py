"""The audit log viewer, on a temporary AuditLog, loading through the qasync loop (``qloop``)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication

from fcdesk.models.palette import LIGHT
from fcdesk.store.audit import AuditEntry, AuditLog
from fcdesk.views.audit_dialog import EMPTY_TEXT, AuditDialog

ACCT = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/acct"
RAIL_BEFORE = {"id": f"{ACCT}/raiPolicies/strict", "properties": {"mode": "Default", "contentFilters": []}}
RAIL_AFTER = {
    "id": f"{ACCT}/raiPolicies/strict",
    "properties": {
        "mode": "Default",
        "contentFilters": [{"name": "Hate", "source": "Prompt", "enabled": True}],
    },
}


def entry(time: str, operation: str, target: str, outcome: str = "succeeded", **kwargs) -> AuditEntry:
    return AuditEntry(time, "alice@contoso.com", "public", operation, target, outcome, **kwargs)


ENTRIES = [
    entry(
        "2026-11-20T09:00:00Z",
        "raiPolicy.update",
        f"{ACCT}/raiPolicies/strict",
        before=RAIL_BEFORE,
        after=RAIL_AFTER,
        request={"method": "PUT", "path": f"{ACCT}/raiPolicies/strict"},
    ),
    entry(
        "2026-11-20T11:30:00Z",
        "deployment.setGuardrail",
        f"{ACCT}/deployments/<b>gpt",
        "failed",
        error="The deployment '<b>gpt</b>' is being updated.",
    ),
    entry(
        "2026-11-20T10:15:00Z",
        "policyAssignment.create",
        "/subscriptions/s1/providers/Microsoft.Authorization/policyAssignments/block-harm",
        "conflict",
        error="Nothing was written.",
    ),
]


@pytest.fixture
def log(tmp_path: Path) -> AuditLog:
    audit = AuditLog(tmp_path / "data" / "audit.jsonl")
    for e in ENTRIES:
        audit.append(e)
    return audit


@pytest.fixture
def opened(qtbot, qloop):
    def factory(audit: AuditLog) -> AuditDialog:
        dialog = AuditDialog(audit, colors=LIGHT)
        qtbot.addWidget(dialog)
        with qtbot.waitSignal(dialog.loaded, timeout=5000):
            pass  # the read runs on a worker thread once the loop turns
        return dialog

    return factory


def test_entries_appear_newest_first(opened, log: AuditLog) -> None:
    dialog = opened(log)
    shown = dialog.entries_shown()
    assert [e.time for e in shown] == ["2026-11-20T11:30:00Z", "2026-11-20T10:15:00Z", "2026-11-20T09:00:00Z"]
    model = dialog.table.model()
    assert model.index(0, 3).data() == "<b>gpt (deployment)"
    assert f"{ACCT}/deployments/&lt;b&gt;gpt" in model.index(0, 3).data(Qt.ItemDataRole.ToolTipRole)
    assert model.index(0, 4).data() == "✗ Failed"
    assert model.index(0, 4).data(Qt.ItemDataRole.BackgroundRole).color() == LIGHT.fail
    assert model.index(2, 4).data() == "✓ Succeeded"
    assert "2026-11-20 11:30:00 UTC" in model.index(0, 0).data(Qt.ItemDataRole.ToolTipRole)
    assert dialog.current_entry() == ENTRIES[1]  # the newest is selected
    assert dialog.stack.currentIndex() == 1 and not dialog.damaged_note.isVisibleTo(dialog)


def test_text_and_outcome_filters(opened, log: AuditLog) -> None:
    dialog = opened(log)
    dialog.filter_bar.edit.setText("policyassignment")
    assert [e.operation for e in dialog.entries_shown()] == ["policyAssignment.create"]
    dialog.filter_bar.edit.clear()
    dialog.outcome_filter.setCurrentIndex(dialog.outcome_filter.findData("succeeded"))
    assert [e.operation for e in dialog.entries_shown()] == ["raiPolicy.update"]
    dialog.outcome_filter.setCurrentIndex(0)
    assert len(dialog.entries_shown()) == 3


def test_the_detail_pane_shows_the_whole_entry(opened, log: AuditLog) -> None:
    dialog = opened(log)
    assert dialog.table.select_row_object(lambda r: r.entry.operation == "raiPolicy.update")
    assert json.loads(dialog.before_edit.toPlainText()) == RAIL_BEFORE
    assert json.loads(dialog.after_edit.toPlainText()) == RAIL_AFTER
    assert json.loads(dialog.request_edit.toPlainText())["method"] == "PUT"
    assert dialog.after_edit.isReadOnly()
    assert dialog.after_edit.textInteractionFlags() & Qt.TextInteractionFlag.TextSelectableByKeyboard
    assert not dialog.detail_error.isVisibleTo(dialog)

    dialog.table.select_row_object(lambda r: r.entry.outcome == "failed")
    assert dialog.detail_error.text() == "Error: The deployment '<b>gpt</b>' is being updated."
    assert dialog.detail_error.textFormat() is Qt.TextFormat.PlainText
    assert dialog.before_edit.toPlainText() == "null"


def test_copy_entry_puts_valid_json_on_the_clipboard(opened, log: AuditLog, qtbot) -> None:
    dialog = opened(log)
    dialog.table.select_row_object(lambda r: r.entry.operation == "raiPolicy.update")
    QGuiApplication.clipboard().clear()
    qtbot.mouseClick(dialog.copy_button, Qt.MouseButton.LeftButton)
    assert json.loads(QGuiApplication.clipboard().text()) == asdict(ENTRIES[0])


def test_damaged_lines_are_skipped_and_said(opened, log: AuditLog) -> None:
    with log.path.open("a", encoding="utf-8") as fh:
        fh.write('{"time": "2026-11-20T12:00:00Z", "principal": \n[1, 2]\n')
    dialog = opened(log)
    assert len(dialog.entries_shown()) == 3
    assert dialog.damaged == 2
    assert dialog.damaged_note.isVisibleTo(dialog)
    assert (
        dialog.damaged_note.label.text()
        == "2 damaged lines in the audit log could not be read and were skipped."
    )


def test_empty_state_and_refresh(opened, tmp_path: Path, qtbot) -> None:
    audit = AuditLog(tmp_path / "nothing" / "audit.jsonl")
    dialog = opened(audit)
    assert dialog.stack.currentIndex() == 0
    assert dialog.empty_state.text() == EMPTY_TEXT
    assert not dialog.open_button.isEnabled()  # no folder yet

    audit.append(ENTRIES[0])
    with qtbot.waitSignal(dialog.loaded, timeout=5000) as loaded:
        qtbot.mouseClick(dialog.refresh_button, Qt.MouseButton.LeftButton)
    assert loaded.args == [1, 0]
    assert dialog.stack.currentIndex() == 1 and dialog.entries_shown() == [ENTRIES[0]]
    assert dialog.open_button.isEnabled()


def test_open_file_location_opens_the_folder(opened, log: AuditLog, monkeypatch, qtbot) -> None:
    dialog = opened(log)
    opened_urls: list[QUrl] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened_urls.append(url) or True)
    qtbot.mouseClick(dialog.open_button, Qt.MouseButton.LeftButton)
    assert [u.toLocalFile() for u in opened_urls] == [str(log.path.parent)]


def test_closing_while_reading_cancels_the_read(qtbot, qloop, log: AuditLog) -> None:
    dialog = AuditDialog(log, colors=LIGHT)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.loading
    dialog.close()
    qtbot.waitUntil(lambda: not dialog.loading, timeout=2000)
    assert dialog.entries_shown() == []  # the cancelled read never filled the table
