"""The drift view: order (loosenings first), counts, colour and words per kind, filters, detail, copy,
and the comparison of two snapshot files computed off the GUI thread."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

from fcdesk.app import load_inventory
from fcdesk.core.demo import generate
from fcdesk.core.drift import Change, ChangeKind, Drift, Target
from fcdesk.core.inventory import Inventory
from fcdesk.models.drift import DriftTableModel, change_line, kind_counts, kind_text
from fcdesk.models.palette import LIGHT
from fcdesk.selftest import drifted_demo
from fcdesk.store.settings import Settings
from fcdesk.store.snapshot import write_snapshot
from fcdesk.views.drift_dialog import GEOMETRY_KEY, NO_CHANGES, DriftDialog, Side

META, RECORDS = generate(1, 0)
DEP = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/a/deployments/"

K, T = ChangeKind, Target
CHANGES = [
    Change(K.TIGHTENED, T.DEPLOYMENT, DEP + "d1", "a/d1", "Hate (prompt)", "Annotate only", "Blocks ≥ Low"),
    Change(K.ADDED, T.POLICY, "/p/new", "New policy", None, None, "Hate ≥ Medium"),
    Change(K.LOOSENED, T.GUARDRAIL, "/g/strict", "a/<b>Strict</b>", "Jailbreak", "Blocks", "Off"),
    Change(K.REMOVED, T.DEPLOYMENT, DEP + "d2", "a/d2", "Guardrail", "Strict", None),
    Change(K.LOOSENED, T.DEPLOYMENT, DEP + "d1", "a/d1", "Jailbreak", "Blocks", "Off", "via Strict"),
    Change(K.CHANGED, T.ALERT, "/alerts/x", "Jailbreak attempt", None, "Active", "Resolved"),
]


def _drift(changes: list[Change] = CHANGES, **newer: object) -> Drift:
    later = replace(META, captured_at=META.captured_at + timedelta(days=2), **newer)  # type: ignore[arg-type]
    return Drift(replace(META), later, list(changes))


@pytest.fixture
def dialog(qtbot) -> DriftDialog:
    dlg = DriftDialog(load_inventory_only, colors=LIGHT)
    qtbot.addWidget(dlg)
    dlg.show_drift(_drift())
    return dlg


def load_inventory_only(path: Path) -> Inventory:
    return load_inventory(path).inventory


def shown(dlg: DriftDialog) -> list[tuple[ChangeKind, str, str | None]]:
    return [(c.kind, c.name, c.control) for c in dlg.changes_shown()]


def test_model_contract_words_colours_and_plain_names(qtmodeltester) -> None:
    model = DriftTableModel(LIGHT)
    model.set_rows(_drift().ordered())
    qtmodeltester.check(model)
    first = model.index(0, DriftTableModel.COL_KIND)
    assert first.data() == "▼ Loosened" == kind_text(ChangeKind.LOOSENED)
    assert first.data(Qt.ItemDataRole.BackgroundRole).color() == LIGHT.fail
    assert first.data(Qt.ItemDataRole.FontRole).bold()
    names = [model.index(r, DriftTableModel.COL_NAME).data() for r in range(model.rowCount())]
    assert "a/<b>Strict</b>" in names  # shown as typed: item views never render markup
    befores = [model.index(r, DriftTableModel.COL_BEFORE).data() for r in range(model.rowCount())]
    assert "—" in befores  # an absent value says so


def test_loosenings_come_first_with_counts_per_kind(dialog: DriftDialog) -> None:
    kinds = [c.kind for c in dialog.changes_shown()]
    assert kinds == [
        ChangeKind.LOOSENED,
        ChangeKind.LOOSENED,
        ChangeKind.REMOVED,
        ChangeKind.ADDED,
        ChangeKind.CHANGED,
        ChangeKind.TIGHTENED,
    ]
    assert dialog.kind_buttons[ChangeKind.LOOSENED].text() == "▼ &Loosened (2)"
    assert dialog.kind_buttons[ChangeKind.TIGHTENED].text() == "▲ &Tightened (1)"
    assert kind_counts(CHANGES)[ChangeKind.CHANGED] == 1
    assert dialog.heading.text() == "Drift of Contoso AI (demo): 6 changes, 2 loosened"
    # sorting by the kind column keeps loosenings first
    dialog.table.sortByColumn(DriftTableModel.COL_KIND, Qt.SortOrder.AscendingOrder)
    assert dialog.changes_shown()[0].kind is ChangeKind.LOOSENED
    assert dialog.table.current_row_object().kind is ChangeKind.LOOSENED  # the first row is selected


def test_filters_by_kind_target_and_text(dialog: DriftDialog) -> None:
    dialog.kind_buttons[ChangeKind.TIGHTENED].click()
    dialog.kind_buttons[ChangeKind.CHANGED].click()
    assert {c.kind for c in dialog.changes_shown()} == {K.LOOSENED, K.REMOVED, K.ADDED}

    dialog.set_target(Target.DEPLOYMENT)
    assert shown(dialog) == [(K.LOOSENED, "a/d1", "Jailbreak"), (K.REMOVED, "a/d2", "Guardrail")]
    targets = [dialog.target_combo.itemText(i) for i in range(dialog.target_combo.count())]
    assert targets == ["Everything (6)", "Deployment (3)", "Guardrail (1)", "Policy (1)", "Alert (1)"]

    dialog.filter_bar.edit.setText("jailbreak")
    assert shown(dialog) == [(ChangeKind.LOOSENED, "a/d1", "Jailbreak")]
    assert dialog.filter_bar.count.text() == "1 of 6"

    dialog.filter_bar.edit.clear()
    dialog.set_target(None)
    dialog.set_kinds(set(ChangeKind))
    assert len(dialog.changes_shown()) == 6


def test_detail_pane_and_copy(dialog: DriftDialog, qtbot) -> None:
    dialog.table.select_row_object(lambda c: c.target is Target.GUARDRAIL)
    labels = dialog.detail.findChildren(type(dialog.sides))
    texts = [label.text() for label in labels]
    assert "a/<b>Strict</b>" in texts and "Blocks" in texts and "Off" in texts and "/g/strict" in texts
    assert all(label.textFormat() == Qt.TextFormat.PlainText for label in labels)

    text = dialog.copy_rows()
    assert text.splitlines()[0] == "Change\tWhat\tName\tControl\tBefore\tAfter\tDetail"
    assert text.splitlines()[1] == "▼ Loosened\tGuardrail\ta/<b>Strict</b>\tJailbreak\tBlocks\tOff\t"
    assert QGuiApplication.clipboard().text() == text
    dialog.table.clearSelection()
    assert len(dialog.copy_rows().splitlines()) == 7  # nothing selected: every row shown
    assert change_line(CHANGES[2]) == "Loosened · Guardrail a/<b>Strict</b> · Jailbreak: Blocks → Off"


def test_no_changes_says_so(qtbot) -> None:
    dlg = DriftDialog(load_inventory_only, colors=LIGHT)
    qtbot.addWidget(dlg)
    dlg.show_drift(_drift([]))
    assert dlg.stack.currentWidget() is dlg.empty_state and dlg.empty_state.text() == NO_CHANGES
    assert not dlg.copy_button.isEnabled()
    assert all(not b.isEnabled() for b in dlg.kind_buttons.values())


def test_compares_two_files_off_the_gui_thread_older_first(qtbot, qloop, tmp_path: Path) -> None:
    older, newer = tmp_path / "older.fcsnap", tmp_path / "newer.fcsnap"
    write_snapshot(older, META, RECORDS)
    write_snapshot(newer, *drifted_demo(META, RECORDS))
    settings = Settings(tmp_path / "settings.json")
    dlg = DriftDialog(load_inventory_only, colors=LIGHT, settings=settings)
    qtbot.addWidget(dlg)
    dlg.show()

    with qtbot.waitSignal(dlg.computed, timeout=20000) as blocker:
        dlg.compare(Side(newer, "edited label"), Side(older))  # the wrong way round on purpose
        assert dlg.working and dlg.busy.isVisibleTo(dlg) and dlg.stage.text() == "Reading the snapshots…"
    drift = blocker.args[0]
    assert drift.older.captured_at < drift.newer.captured_at
    assert not dlg.busy.isVisibleTo(dlg)
    assert dlg.sides.text().startswith("From: 2026-11-20 09:30 UTC")
    assert "“edited label”" in dlg.sides.text() and "newer.fcsnap" in dlg.sides.text()
    counts = kind_counts(drift.changes)
    assert counts[ChangeKind.LOOSENED] == 11 and counts[ChangeKind.TIGHTENED] == 4
    assert counts[ChangeKind.CHANGED] == 2  # an alert resolved, a recommendation fixed
    assert {str(c.target) for c in drift.changes} >= {"policy", "alert", "recommendation", "plan"}
    assert counts[ChangeKind.ADDED] == counts[ChangeKind.REMOVED] == 1
    assert dlg.changes_shown()[0].kind is ChangeKind.LOOSENED
    dlg.close()
    assert settings.get_bytes(GEOMETRY_KEY)


def test_an_unreadable_snapshot_is_said_plainly(qtbot, qloop, tmp_path: Path) -> None:
    good, bad = tmp_path / "good.fcsnap", tmp_path / "bad.fcsnap"
    write_snapshot(good, META, RECORDS)
    bad.write_bytes(b"not a snapshot")
    dlg = DriftDialog(load_inventory_only, colors=LIGHT)
    qtbot.addWidget(dlg)
    with qtbot.waitSignal(dlg.failed, timeout=10000) as blocker:
        dlg.compare(Side(good), Side(bad))
    assert "bad.fcsnap" in blocker.args[0]
    assert dlg.error_banner.isVisibleTo(dlg) and "could not be compared" in dlg.error_banner.label.text()
    assert not dlg.working


def test_different_tenants_and_partial_captures_are_flagged(qtbot) -> None:
    dlg = DriftDialog(load_inventory_only, colors=LIGHT)
    qtbot.addWidget(dlg)
    drift = _drift(tenant_id="another", tenant_name="Fabrikam")
    dlg.show_drift(replace(drift, older=replace(META, partial=True)))
    text = dlg.warning.label.text()
    assert "different tenants (Contoso AI (demo) and Fabrikam)" in text
    assert "The older snapshot is a partial capture" in text
