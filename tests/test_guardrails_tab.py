"""The Guardrails tab and the compare dialog, driven through their widgets with pytest-qt."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QItemSelection, QItemSelectionModel, QPoint, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QPushButton

from fcdesk.core.guardrails import CATALOGUE
from fcdesk.core.inventory import Scope
from fcdesk.core.records import Source
from fcdesk.models.matrix import column_for_control
from fcdesk.models.palette import LIGHT
from fcdesk.models.workspace import OFFLINE_REASON, SnapshotInfo, WorkspaceContext
from fcdesk.views.compare_dialog import DIFFERS_ROLE, CompareDialog
from fcdesk.views.guardrails_tab import GuardrailsTab
from fcdesk.views.widgets import DataTable, PlainLabel
from tests.helpers import builders as b

HATE_IN = ("Hate", "Prompt")
RANK = {
    "Not set": 0,
    "Off": 1,
    "Annotate only": 2,
    "Blocks ≥ High": 3,
    "Blocks ≥ Medium": 4,
    "Blocks ≥ Low": 5,
}
#: The offscreen platform warns when a top-level window is shown; nothing to do with the code under test.
GAP_ROWS = {"gpt-annot", "gpt-bare", "gpt-default", "gpt-high", "sandbox-1", "sandbox-2"}


@pytest.fixture
def context(qapp) -> WorkspaceContext:
    return WorkspaceContext(b.inventory(b.matrix_records()), SnapshotInfo(None, Source.DEMO))


@pytest.fixture
def tab(qtbot, context: WorkspaceContext) -> GuardrailsTab:
    widget = GuardrailsTab(context, colors=LIGHT)
    qtbot.addWidget(widget)
    widget.resize(1400, 700)
    return widget


def _column_texts(table: DataTable, column: int) -> list[str]:
    proxy = table.proxy
    return [proxy.index(r, column).data() for r in range(proxy.rowCount())]


def _names(table: DataTable) -> list[str]:
    return [r.deployment.name for r in table.proxy.visible_rows()]


def _select(table: DataTable, names: set[str]) -> None:
    sel = QItemSelection()
    proxy = table.proxy
    for r in range(proxy.rowCount()):
        if proxy.row_object(r).deployment.name in names:
            sel.select(proxy.index(r, 0), proxy.index(r, proxy.columnCount() - 1))
    table.selectionModel().select(sel, QItemSelectionModel.SelectionFlag.ClearAndSelect)


def _labels(tab: GuardrailsTab) -> list[PlainLabel]:
    return tab.detail.findChildren(PlainLabel)


def test_tab_contract_and_proxy_contract(qtmodeltester, tab: GuardrailsTab) -> None:
    assert (tab.key, tab.base_title) == ("guardrails", "Guardrails")
    assert tab.findChild(DataTable, "guardrailsTable") is tab.table
    assert tab.rows_shown() == 8
    assert tab.title() == "Guardrails (6 gaps)"
    qtmodeltester.check(tab.table.proxy)
    tab.table.sortByColumn(column_for_control(HATE_IN), Qt.SortOrder.DescendingOrder)
    tab.filter_bar.edit.setText("gpt")
    qtmodeltester.check(tab.table.proxy)


def test_sorting_a_control_column_puts_the_weakest_first(tab: GuardrailsTab) -> None:
    col = column_for_control(HATE_IN)
    assert _names(tab.table)[0] == "gpt-annot"  # no default sort: inventory order
    tab.table.sortByColumn(col, Qt.SortOrder.AscendingOrder)
    texts = [t.removesuffix(" (inherited)") for t in _column_texts(tab.table, col)]
    assert texts == sorted(texts, key=RANK.__getitem__)
    assert texts[0] == "Not set"
    assert texts[1] == "Off"
    assert texts[-1] == "Blocks ≥ Low"
    assert set(texts) == set(RANK)  # every state is present, so the order above is a real check
    tab.table.sortByColumn(col, Qt.SortOrder.DescendingOrder)
    texts = [t.removesuffix(" (inherited)") for t in _column_texts(tab.table, col)]
    assert texts[:2] == ["Blocks ≥ Low", "Blocks ≥ Low"]
    assert texts[-1] == "Not set"


def test_clicking_the_header_sorts_by_strictness(qtbot, tab: GuardrailsTab) -> None:
    tab.show()
    qtbot.waitExposed(tab)
    col = column_for_control(HATE_IN)
    header = tab.table.horizontalHeader()
    tab.table.scrollTo(tab.table.proxy.index(0, col))

    def click() -> tuple[str, str]:
        x = header.sectionViewportPosition(col) + header.sectionSize(col) // 2
        qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, header.height() // 2))
        texts = _column_texts(tab.table, col)
        return texts[0], texts[-1]

    assert click() == ("Not set", "Blocks ≥ Low")
    assert tab.table.proxy.sort_column() == col
    assert tab.table.proxy.sort_order() == Qt.SortOrder.AscendingOrder
    assert click() == ("Blocks ≥ Low", "Not set")
    assert tab.table.proxy.sort_order() == Qt.SortOrder.DescendingOrder


def test_text_filter_narrows_rows_and_counts(qtbot, tab: GuardrailsTab) -> None:
    assert tab.filter_bar.count.text() == "8 rows"
    qtbot.keyClicks(tab.filter_bar.edit, "sandbox")
    assert sorted(_names(tab.table)) == ["sandbox-1", "sandbox-2"]
    assert tab.filter_bar.count.text() == "2 of 8"
    tab.filter_bar.edit.setText("streaming")  # matches the Mode column (legacy: Deferred)
    assert _names(tab.table) == ["gpt-legacy"]
    assert tab.filter_bar.count.text() == "1 of 8"
    tab.filter_bar.edit.clear()
    assert tab.rows_shown() == 8


def test_gaps_only_shows_only_gap_rows(qtbot, tab: GuardrailsTab) -> None:
    button = tab.findChild(QPushButton, "gapsOnly")
    assert button.isCheckable()
    assert "DefaultV2" in button.toolTip()
    assert button.text() == "Gaps only (6)"
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert set(_names(tab.table)) == GAP_ROWS
    assert tab.filter_bar.count.text() == "6 of 8"
    tab.filter_bar.edit.setText("acct-prod")  # text filter and gaps combine
    assert set(_names(tab.table)) == GAP_ROWS - {"sandbox-1", "sandbox-2"}
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert set(_names(tab.table)) == {
        "gpt-annot",
        "gpt-bare",
        "gpt-default",
        "gpt-high",
        "gpt-legacy",
        "gpt-strict",
    }


def test_no_filtering_banner_follows_the_scope(tab: GuardrailsTab, context: WorkspaceContext) -> None:
    assert tab.banner.isVisibleTo(tab)
    assert tab.banner.label.text().startswith(
        "No content filtering at all in: Contoso Research Sandbox (2 deployments)"
    )
    assert "Contoso Prod" not in tab.banner.label.text()
    context.set_scope(Scope(frozenset({b.SUB_PROD})))
    assert tab.rows_shown() == 6  # a hidden tab catches up when asked (WorkspaceTab.ensure_fresh)
    assert not tab.banner.isVisibleTo(tab)
    context.set_scope(Scope(frozenset({b.SUB_SANDBOX})))
    assert tab.rows_shown() == 2
    assert tab.banner.isVisibleTo(tab)


def test_selecting_a_row_fills_the_detail_panel(tab: GuardrailsTab) -> None:
    assert tab.select_first()
    assert any("gpt-annot" in label.text() for label in _labels(tab))
    assert tab.table.select_row_object(lambda r: r.deployment.name == "gpt-high")
    texts = [label.text() for label in _labels(tab)]
    assert any("gpt-high" in t for t in texts)
    assert not any("gpt-annot" in t for t in texts)
    assert "loose-high" in texts
    assert "Microsoft.DefaultV2" in texts
    assert any("account-level, informational" in t for t in texts)
    assert "None: no guardrail policy covers this deployment." in texts
    gap = [label for label in _labels(tab) if label.property("gap")]
    assert [label.text() for label in gap] == [
        "Blocks ≥ High · gap (default: Blocks ≥ Medium)"
    ]
    assert "Hate (completion)" in texts and "Blocks ≥ Medium (inherited)" in texts
    assert gap[0].font().bold()


def test_detail_shows_other_filters_and_blocklists(tab: GuardrailsTab) -> None:
    assert tab.table.select_row_object(lambda r: r.deployment.name == "gpt-strict")
    texts = [label.text() for label in _labels(tab)]
    assert "Ungrounded Material (Completion): Blocks ≥ Low" in texts
    assert any("bl-prompt: Prompt, blocking" in t for t in texts)


def test_html_in_names_is_shown_literally(tab: GuardrailsTab) -> None:
    col = tab.model.columns.index(next(c for c in tab.model.columns if c.header == "Project(s)"))
    assert tab.table.proxy.index(0, col).data() == b.HTML_PROJECT
    assert tab.select_first()
    labels = [label for label in _labels(tab) if "<b>" in label.text()]
    assert labels, "the project name should appear in the detail panel"
    assert all(label.textFormat() == Qt.TextFormat.PlainText for label in _labels(tab))
    assert any(label.text() == b.HTML_PROJECT for label in labels)


def test_compare_button_needs_two_rows(qtbot, tab: GuardrailsTab) -> None:
    assert not tab.compare_button.isEnabled()
    _select(tab.table, {"gpt-strict"})
    assert not tab.compare_button.isEnabled()
    _select(tab.table, {"gpt-strict", "gpt-legacy"})
    assert tab.compare_button.isEnabled()
    dialog = tab.compare_selected()
    assert dialog is not None
    qtbot.addWidget(dialog)
    assert not dialog.isModal()
    assert [dialog.header_text(r) for r in dialog.rows] == [
        "acct-prod / gpt-legacy",
        "acct-prod / gpt-strict",
    ]
    tab.filter_bar.edit.setText("nothing matches this")
    assert not tab.compare_button.isEnabled()


def test_compare_dialog_marks_differences(qtbot, context: WorkspaceContext) -> None:
    rows = {r.deployment.name: r for r in context.inventory.matrix_rows()}
    dialog = CompareDialog([rows["gpt-strict"], rows["gpt-legacy"]])
    qtbot.addWidget(dialog)
    hate_in, hate_out = CATALOGUE[0].label, CATALOGUE[1].label
    # gpt-strict and gpt-legacy both block Hate prompts at ≥ Low; they differ elsewhere.
    assert dialog.differing_labels() == ["Guardrail", "Mode", hate_out, "Blocklists", "Other filters"]

    dialog = CompareDialog([rows["gpt-high"], rows["gpt-annot"]])
    qtbot.addWidget(dialog)
    assert dialog.differing_labels() == ["Guardrail", hate_in]
    r_in, r_out = dialog.row_of(hate_in), dialog.row_of(hate_out)
    assert dialog.table.item(r_in, 0).text() == "Blocks ≥ High"
    assert dialog.table.item(r_in, 1).text() == "Annotate only"
    assert dialog.table.item(r_in, 0).data(DIFFERS_ROLE) is True
    assert dialog.table.item(r_in, 0).font().bold()
    assert dialog.table.item(r_out, 0).data(DIFFERS_ROLE) is False
    assert not dialog.table.item(r_out, 0).font().bold()
    assert len(dialog.visible_labels()) == len(CATALOGUE) + 4

    qtbot.mouseClick(dialog.only_differences, Qt.MouseButton.LeftButton)
    assert dialog.visible_labels() == ["Guardrail", hate_in]
    assert dialog.table.isRowHidden(r_out)

    dialog.show()
    dialog.activateWindow()
    qtbot.waitUntil(dialog.isActiveWindow)
    dialog.table.setFocus()
    qtbot.keyClick(dialog.table, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert QGuiApplication.clipboard().text() == (
        "Setting\tacct-prod / gpt-high\tacct-prod / gpt-annot\n"
        "Guardrail\tloose-high\tannotating\n"
        "Hate (prompt)\tBlocks ≥ High\tAnnotate only"
    )


def test_write_actions_are_gated_offline(tab: GuardrailsTab) -> None:
    for name, text in (
        ("editGuardrail", "Edit guardrail…"),
        ("createPolicyFromGaps", "Create policy from gaps…"),
    ):
        button = tab.findChild(QPushButton, name)
        assert button.text() == text
        assert not button.isEnabled()
        assert button.toolTip() == OFFLINE_REASON
    tab.select_first()
    assert not tab.edit_button.isEnabled()
    assert tab.edit_button.toolTip() == OFFLINE_REASON


def test_write_actions_online_only_emit_requests(
    qtbot, tab: GuardrailsTab, context: WorkspaceContext
) -> None:
    context.set_write_disabled_reason(None)
    assert not tab.edit_button.isEnabled()
    assert tab.edit_button.toolTip() == "Select a deployment first"
    assert tab.policy_button.isEnabled()
    assert tab.table.select_row_object(lambda r: r.deployment.name == "gpt-high")
    assert tab.edit_button.isEnabled()
    with qtbot.waitSignal(tab.editGuardrailRequested) as blocker:
        qtbot.mouseClick(tab.edit_button, Qt.MouseButton.LeftButton)
    assert blocker.args[0].deployment.name == "gpt-high"
    with qtbot.waitSignal(tab.createPolicyFromGapsRequested) as blocker:
        qtbot.mouseClick(tab.policy_button, Qt.MouseButton.LeftButton)
    assert {r.deployment.name for r in blocker.args[0]} == GAP_ROWS


def test_reload_keeps_the_selected_deployment(tab: GuardrailsTab, context: WorkspaceContext) -> None:
    assert tab.table.select_row_object(lambda r: r.deployment.name == "gpt-legacy")
    context.set_inventory(b.inventory(b.matrix_records()), SnapshotInfo(None, Source.DEMO))
    assert tab.table.current_row_object().deployment.name == "gpt-legacy"
    assert any("gpt-legacy" in label.text() for label in _labels(tab))


def test_focus_filter(qtbot, tab: GuardrailsTab) -> None:
    tab.show()
    qtbot.waitExposed(tab)
    tab.activateWindow()
    qtbot.waitUntil(tab.isActiveWindow)
    tab.table.setFocus()
    assert not tab.filter_bar.edit.hasFocus()
    tab.focus_filter()
    qtbot.waitUntil(lambda: tab.filter_bar.edit.hasFocus())


def test_demo_tenant_smoke(qtbot, qapp) -> None:
    demo = pytest.importorskip("fcdesk.core.demo")
    from fcdesk.core.inventory import Inventory

    inv = Inventory.build(*demo.generate())
    context = WorkspaceContext(inv, SnapshotInfo(None, Source.DEMO))
    tab = GuardrailsTab(context, colors=LIGHT)
    qtbot.addWidget(tab)
    assert tab.rows_shown() == len(inv.deployments) > 0
    assert "Contoso Research Sandbox" in tab.banner.label.text()
    # A deployment under a guardrail policy lists it under "Governing policies".
    governed = next(d for d in inv.deployments if inv.governing(d))
    assert tab.table.select_row_object(lambda r: r.deployment.id == governed.id)
    texts = [label.text() for label in _labels(tab)]
    assert any(inv.governing(governed)[0].label in t for t in texts)
