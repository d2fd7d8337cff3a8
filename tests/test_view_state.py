"""Per-tab view state: filters, toggles and every main table's header (widths, order, sort), saved
as JSON by one tab and restored into a new one; and states that do not fit, ignored harmlessly."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QByteArray, Qt
from PySide6.QtWidgets import QSplitter

from fcdesk.core.demo import generate
from fcdesk.core.inventory import Inventory
from fcdesk.core.records import Source
from fcdesk.models.palette import LIGHT
from fcdesk.models.table import Column, RowTableModel
from fcdesk.models.workspace import SnapshotInfo, WorkspaceContext
from fcdesk.store.settings import Settings
from fcdesk.views.base import VIEW_STATE_VERSION, WorkspaceTab
from fcdesk.views.guardrails_tab import GuardrailsTab
from fcdesk.views.policies_tab import AssetsTab, PoliciesTab
from fcdesk.views.security_tab import SecurityTab
from fcdesk.views.widgets import DataTable

#: What each tab keeps besides its tables' headers.
WIDGETS = {
    PoliciesTab: {"filter"},
    AssetsTab: {"filter", "violationsOnly"},
    GuardrailsTab: {"filter", "gapsOnly"},
    SecurityTab: {"filter", "splitter"},
}
#: A filter that keeps some rows of every table of the demo tenant's tabs, but not all.
FILTER = "prod"


@pytest.fixture(scope="module")
def inventory() -> Inventory:
    return Inventory.build(*generate())


@pytest.fixture
def context(qapp, inventory: Inventory) -> WorkspaceContext:
    return WorkspaceContext(inventory, SnapshotInfo(None, Source.DEMO))


@pytest.fixture
def make(qtbot, context: WorkspaceContext) -> Callable[[type[WorkspaceTab]], Any]:
    def build(cls: type[WorkspaceTab]) -> Any:
        tab = cls(context, colors=LIGHT, open_url=lambda _url: None)
        qtbot.addWidget(tab)
        qtbot.addWidget(tab.detail)
        tab.resize(1200, 700)
        return tab

    return build


def _rows(table: DataTable) -> list[tuple[str, ...]]:
    """The rows shown, in order, as the texts of their cells."""
    columns = table.source_model.columns
    return [tuple(c.text(r) for c in columns) for r in table.proxy.visible_rows()]


def _layout(table: DataTable) -> tuple[Any, ...]:
    h = table.horizontalHeader()
    n = h.count()
    return (
        [h.sectionSize(i) for i in range(n - 1)],  # the last section stretches to the view
        [h.logicalIndex(v) for v in range(n)],
        h.sortIndicatorSection(),
        h.sortIndicatorOrder(),
        table.proxy.sort_column(),
        table.proxy.sort_order(),
    )


def _toggle(tab: WorkspaceTab) -> None:
    for key, widget in tab.state_widgets().items():
        if key not in ("filter", "splitter"):
            widget.setChecked(not widget.isChecked())


# ------------------------------------------------------------------------------------ round trip


@pytest.mark.parametrize("cls", [PoliciesTab, AssetsTab, GuardrailsTab, SecurityTab])
def test_view_state_round_trips_into_a_new_tab(make, cls: type[WorkspaceTab], tmp_path: Path) -> None:
    tab = make(cls)
    before = {t.objectName(): _rows(t) for t in tab.state_tables()}
    tab.state_widgets()["filter"].setText(FILTER)
    _toggle(tab)
    for table in tab.state_tables():
        h = table.horizontalHeader()
        table.setColumnWidth(1, 173)
        h.moveSection(h.visualIndex(2), 0)
        table.sortByColumn(1, Qt.SortOrder.DescendingOrder)
    if isinstance(tab, SecurityTab):
        tab.show()
        tab.splitter.setSizes([300, 100, 200])
    shown = {t.objectName(): _rows(t) for t in tab.state_tables()}
    assert all(0 < len(shown[name]) < len(rows) for name, rows in before.items()), shown

    state = tab.view_state()
    assert state["version"] == VIEW_STATE_VERSION
    assert set(state["widgets"]) == WIDGETS[cls]
    assert state["widgets"]["filter"] == FILTER
    assert all(v is True for k, v in state["widgets"].items() if k not in ("filter", "splitter"))
    assert set(state["tables"]) == {t.objectName() for t in tab.state_tables()}
    settings = Settings(tmp_path / "settings.json")
    settings.set(f"view/{tab.key}", state)  # JSON types only, or this raises
    settings.save()
    saved = Settings(tmp_path / "settings.json").get(f"view/{tab.key}")
    assert saved == json.loads(json.dumps(state))

    fresh = make(cls)
    assert {t.objectName(): _rows(t) for t in fresh.state_tables()} == before
    fresh.restore_view_state(saved)
    restored = fresh.view_state()["widgets"]
    for key, value in state["widgets"].items():
        if key != "splitter":  # the splitter's sizes are compared once shown, below
            assert restored[key] == value, key
    for old, new in zip(tab.state_tables(), fresh.state_tables(), strict=True):
        assert _layout(new) == _layout(old), old.objectName()
        assert new.columnWidth(1) == 173
        assert new.proxy.sort_column() == 1 and new.proxy.sort_order() == Qt.SortOrder.DescendingOrder
        assert _rows(new) == shown[old.objectName()]
    assert fresh.rows_shown() == tab.rows_shown()
    if isinstance(fresh, SecurityTab):
        fresh.show()
        assert fresh.splitter.sizes() == tab.splitter.sizes()


def test_restoring_reloads_nothing_and_filters_and_sorts_once(make, monkeypatch) -> None:
    tab = make(AssetsTab)
    tab.filter.edit.setText("gpt")
    tab.violations_only.setChecked(True)
    tab.table.sortByColumn(2, Qt.SortOrder.DescendingOrder)
    state = tab.view_state()

    fresh = make(AssetsTab)
    reloads: list[int] = []
    monkeypatch.setattr(fresh, "reload", lambda: reloads.append(1))
    resets: list[int] = []
    sorts: list[int] = []
    fresh.table.proxy.modelReset.connect(lambda: resets.append(1))
    fresh.table.proxy.layoutChanged.connect(lambda: sorts.append(1))
    fresh.restore_view_state(state)
    assert reloads == []
    assert len(resets) == 2  # the text filter, then "Violations only"
    assert len(sorts) == 1  # once, after the filters
    assert _rows(fresh.table) == _rows(tab.table)
    fresh.restore_view_state(state)  # the same again: nothing to do
    assert (len(resets), len(sorts), reloads) == (2, 1, [])


# ------------------------------------------------------------------------------------ bad states


GARBAGE: list[Any] = [
    None,
    [],
    "view",
    {},
    {"version": VIEW_STATE_VERSION + 1, "widgets": {"filter": "gpt"}},
    {"version": str(VIEW_STATE_VERSION), "widgets": {"filter": "gpt"}},
    {"version": VIEW_STATE_VERSION, "widgets": ["filter"], "tables": "guardrailsTable"},
    {"version": VIEW_STATE_VERSION, "widgets": {"filter": 5, "gapsOnly": "yes"}},
    {"version": VIEW_STATE_VERSION, "tables": {"guardrailsTable": {"header": "not base64 !", "columns": []}}},
    {"version": VIEW_STATE_VERSION, "tables": {"guardrailsTable": {"header": "Z2FyYmFnZQ==", "columns": 1}}},
    {"version": VIEW_STATE_VERSION, "tables": {"guardrailsTable": {"header": 3, "columns": ["Deployment"]}}},
    {"version": VIEW_STATE_VERSION, "tables": {"guardrailsTable": []}},
]


@pytest.mark.parametrize("state", GARBAGE)
def test_malformed_state_is_ignored(make, state: Any, caplog) -> None:
    tab = make(GuardrailsTab)
    tab.filter_bar.edit.setText("gpt")
    before = (tab.view_state(), _rows(tab.table), _layout(tab.table))
    caplog.set_level(logging.DEBUG, logger="fcdesk")
    tab.restore_view_state(state)
    assert (tab.view_state(), _rows(tab.table), _layout(tab.table)) == before
    assert any("ignored" in r.getMessage() for r in caplog.records)


def test_garbage_bytes_in_the_right_place_are_ignored(make, caplog) -> None:
    tab = make(GuardrailsTab)
    columns = tab.table.column_headers()
    before = (_rows(tab.table), _layout(tab.table))
    caplog.set_level(logging.DEBUG, logger="fcdesk")
    assert not tab.table.restore_header_state("Z2FyYmFnZQ==", columns)  # b"garbage"
    assert not tab.table.restore_header_state("", columns)
    tab.restore_view_state({"version": VIEW_STATE_VERSION, "widgets": {"splitter": "AAAA"}})
    assert (_rows(tab.table), _layout(tab.table)) == before
    assert "not a header state" in caplog.text


def test_another_tables_state_is_refused(make) -> None:
    policies, guardrails = make(PoliciesTab), make(GuardrailsTab)
    policies.table.setColumnWidth(0, 321)
    foreign = policies.table.view_state()
    before = _layout(guardrails.table)
    assert not guardrails.table.restore_view_state(foreign)
    assert _layout(guardrails.table) == before
    # a whole tab's state into another tab: its tables are not there, its filter is
    guardrails.restore_view_state(policies.view_state())
    assert _layout(guardrails.table) == before


def test_a_state_hiding_every_column_is_refused(make) -> None:
    tab = make(PoliciesTab)
    table = tab.table
    h = table.horizontalHeader()
    for i in range(h.count()):
        h.hideSection(i)
    hidden = table.header_state()
    for i in range(h.count()):
        h.showSection(i)
    table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
    before = _layout(table)
    assert not table.restore_header_state(hidden)
    assert h.hiddenSectionCount() == 0 and _layout(table) == before


# ------------------------------------------------------------------------------------ versions


def _table(qtbot, headers: list[str]) -> DataTable:
    model = RowTableModel([Column(h, lambda r, i=i: r[i % len(r)]) for i, h in enumerate(headers)])
    model.set_rows([("b", "2", "x"), ("a", "3", "z"), ("c", "1", "y")])
    table = DataTable(model)
    qtbot.addWidget(table)
    return table


def test_columns_added_or_removed_at_the_end_keep_the_layout(qtbot) -> None:
    old = _table(qtbot, ["Name", "Count", "Note"])
    old.setColumnWidth(0, 211)
    old.setColumnWidth(1, 77)
    old.sortByColumn(1, Qt.SortOrder.DescendingOrder)
    state = old.view_state()

    newer = _table(qtbot, ["Name", "Count", "Note", "Added later"])
    assert newer.restore_view_state(state)
    assert (newer.columnWidth(0), newer.columnWidth(1)) == (211, 77)
    assert newer.horizontalHeader().count() == 4 and not newer.isColumnHidden(3)
    assert newer.proxy.sort_column() == 1 and [r[1] for r in newer.proxy.visible_rows()] == ["3", "2", "1"]

    older = _table(qtbot, ["Name", "Count"])
    assert older.restore_view_state(state)
    assert (older.columnWidth(0), older.horizontalHeader().count()) == (211, 2)
    assert [r[1] for r in older.proxy.visible_rows()] == ["3", "2", "1"]


def test_a_sort_on_a_removed_column_leaves_the_tables_own_sort(qtbot) -> None:
    old = _table(qtbot, ["Name", "Count", "Note"])
    old.setColumnWidth(0, 211)
    old.sortByColumn(2, Qt.SortOrder.AscendingOrder)
    older = _table(qtbot, ["Name", "Count"])
    older.sortByColumn(1, Qt.SortOrder.DescendingOrder)  # the tab's default sort
    assert older.restore_view_state(old.view_state())
    assert older.columnWidth(0) == 211
    h = older.horizontalHeader()
    assert (h.sortIndicatorSection(), h.sortIndicatorOrder()) == (1, Qt.SortOrder.DescendingOrder)
    assert older.proxy.sort_column() == 1
    assert [r[1] for r in older.proxy.visible_rows()] == ["3", "2", "1"]


def test_columns_changed_in_the_middle_are_refused(qtbot) -> None:
    """Qt restores by position: a column inserted before others would get their widths and sort."""
    old = _table(qtbot, ["Name", "Count", "Note"])
    old.setColumnWidth(1, 77)
    old.sortByColumn(1, Qt.SortOrder.DescendingOrder)
    state = old.view_state()
    assert QByteArray.fromBase64(state["header"].encode()).size() > 0
    moved = _table(qtbot, ["Name", "Inserted", "Count", "Note"])
    width = moved.columnWidth(1)
    assert not moved.restore_view_state(state)
    assert moved.columnWidth(1) == width and moved.proxy.sort_column() == -1
    # without the column names Qt's positional restore applies, as documented
    assert moved.restore_header_state(state["header"])
    assert moved.columnWidth(1) == 77


def test_header_state_is_base64_text_and_restores_the_sort(qtbot) -> None:
    a = _table(qtbot, ["Name", "Count", "Note"])
    a.sortByColumn(0, Qt.SortOrder.DescendingOrder)
    text = a.header_state()
    assert isinstance(text, str) and json.loads(json.dumps(text)) == text
    b = _table(qtbot, ["Name", "Count", "Note"])
    assert b.proxy.sort_column() == -1
    assert b.restore_header_state(text)
    assert b.horizontalHeader().sortIndicatorSection() == 0
    assert [r[0] for r in b.proxy.visible_rows()] == ["c", "b", "a"]


def test_splitter_state_of_another_splitter_is_ignored(make) -> None:
    tab = make(SecurityTab)
    other = QSplitter()
    other.addWidget(QSplitter())
    before = tab.splitter.saveState()
    state = tab.view_state()
    state["widgets"]["splitter"] = "bm90IGEgc3BsaXR0ZXI="  # b"not a splitter"
    tab.restore_view_state(state)
    assert tab.splitter.saveState() == before
    other.deleteLater()
