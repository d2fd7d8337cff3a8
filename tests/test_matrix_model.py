"""MatrixModel: the Qt model contract, then the data it shows (no widgets needed)."""

from __future__ import annotations

import html

import pytest
from PySide6.QtCore import Qt

from fcdesk.core.guardrails import CATALOGUE, DEFAULT_V2
from fcdesk.core.inventory import MatrixRow
from fcdesk.models.matrix import CONTROL_COLUMN_OFFSET, MatrixModel, column_for_control
from fcdesk.models.palette import LIGHT
from fcdesk.models.table import ROW_ROLE, SORT_ROLE
from tests.helpers import builders as b

HATE_IN = ("Hate", "Prompt")
DISPLAY = Qt.ItemDataRole.DisplayRole


@pytest.fixture
def model(qapp) -> MatrixModel:
    m = MatrixModel(LIGHT)
    m.set_rows(b.inventory(b.matrix_records()).matrix_rows())
    return m


def _row(model: MatrixModel, deployment: str) -> int:
    for i, r in enumerate(model.rows()):
        if r.deployment.name == deployment:
            return i
    raise AssertionError(f"no row for {deployment}")


def _text(model: MatrixModel, deployment: str, column: int) -> str:
    return model.data(model.index(_row(model, deployment), column), DISPLAY)


def _tip(idx) -> str:
    """A tooltip as the user reads it (they arrive wrapped and escaped: see plain_tooltip)."""
    tip = idx.data(Qt.ItemDataRole.ToolTipRole)
    return html.unescape(tip.removeprefix("<qt>").removesuffix("</qt>").replace("<br>", "\n"))


def _header_column(model: MatrixModel, header: str) -> int:
    headers = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]
    return headers.index(header)


def test_model_contract(qtmodeltester, model: MatrixModel) -> None:
    assert model.rowCount() == 8
    qtmodeltester.check(model)


def test_columns_layout(model: MatrixModel) -> None:
    headers = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]
    assert headers[:CONTROL_COLUMN_OFFSET] == [
        "Subscription",
        "Resource group",
        "Account",
        "Project(s)",
        "Deployment",
        "Model",
        "Guardrail",
        "Mode",
    ]
    assert headers[CONTROL_COLUMN_OFFSET:-2] == [c.short for c in CATALOGUE]
    assert headers[-2:] == ["Blocklists", "Other filters"]
    assert column_for_control(HATE_IN) == CONTROL_COLUMN_OFFSET
    assert headers[column_for_control(("Jailbreak", "Prompt"))] == "Jailbreak"
    tip = model.headerData(
        column_for_control(HATE_IN), Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole
    )
    assert "Hate (prompt)" in tip
    assert "Annotate only" in tip
    assert "Not set" in tip


@pytest.mark.parametrize(
    ("deployment", "expected"),
    [
        ("gpt-strict", "Blocks ≥ Low"),
        ("gpt-legacy", "Blocks ≥ Low"),  # older api-version: allowedContentLevel
        ("gpt-high", "Blocks ≥ High"),
        ("gpt-annot", "Annotate only"),
        ("sandbox-1", "Off"),
        ("gpt-bare", "Not set"),
        ("gpt-default", "Blocks ≥ Medium (inherited)"),
    ],
)
def test_hate_prompt_cell_text(model: MatrixModel, deployment: str, expected: str) -> None:
    assert _text(model, deployment, column_for_control(HATE_IN)) == expected


def test_inherited_cells_are_italic_and_say_so(model: MatrixModel) -> None:
    jailbreak = column_for_control(("Jailbreak", "Prompt"))
    row = _row(model, "gpt-strict")
    inherited = model.index(row, jailbreak)
    explicit = model.index(row, column_for_control(HATE_IN))
    assert inherited.data(DISPLAY) == "Blocks (inherited)"
    assert inherited.data(Qt.ItemDataRole.FontRole).italic()
    assert "Inherited from the base policy Microsoft.DefaultV2" in _tip(inherited)
    assert explicit.data(Qt.ItemDataRole.FontRole) is None


def test_gap_cells_are_bold_with_tooltip_and_unchanged_text(model: MatrixModel) -> None:
    col = column_for_control(HATE_IN)
    gap = model.index(_row(model, "gpt-high"), col)
    fine = model.index(_row(model, "gpt-strict"), col)
    assert gap.data(DISPLAY) == "Blocks ≥ High"  # still starts with the state word
    assert gap.data(Qt.ItemDataRole.FontRole).bold()
    assert "Gap: weaker than Microsoft's default" in _tip(gap)
    assert fine.data(Qt.ItemDataRole.FontRole) is None
    assert "Stricter than Microsoft's default" in _tip(fine)


def test_cell_background_is_the_state_colour(model: MatrixModel) -> None:
    col = column_for_control(HATE_IN)
    expected = {
        "gpt-strict": LIGHT.block_low,
        "gpt-high": LIGHT.block_high,
        "gpt-annot": LIGHT.annotate,
        "sandbox-1": LIGHT.off,
        "gpt-bare": LIGHT.not_set,
        "gpt-default": LIGHT.block_medium,
    }
    got = {
        name: model.index(_row(model, name), col).data(Qt.ItemDataRole.BackgroundRole).color()
        for name in expected
    }
    assert got == expected


def test_control_sort_key_is_strictness(model: MatrixModel) -> None:
    col = column_for_control(HATE_IN)
    key = {
        name: model.index(_row(model, name), col).data(SORT_ROLE)
        for name in ("gpt-bare", "sandbox-1", "gpt-annot", "gpt-high", "gpt-default", "gpt-strict")
    }
    order = sorted(key, key=key.__getitem__)
    assert order == ["gpt-bare", "sandbox-1", "gpt-annot", "gpt-high", "gpt-default", "gpt-strict"]


def test_guardrail_mode_blocklists_and_other_filters(model: MatrixModel) -> None:
    guardrail = _header_column(model, "Guardrail")
    mode = _header_column(model, "Mode")
    assert _text(model, "gpt-default", guardrail) == f"None set (account default: {DEFAULT_V2})"
    default_idx = model.index(_row(model, "gpt-default"), guardrail)
    assert default_idx.data(Qt.ItemDataRole.FontRole).italic()
    assert "account default" in _tip(default_idx)
    assert model.index(_row(model, "gpt-strict"), guardrail).data(Qt.ItemDataRole.FontRole) is None

    assert _text(model, "gpt-legacy", mode) == "Streaming (async filter)"  # "Deferred" in older api-versions
    assert _text(model, "gpt-bare", mode) == "Not set"
    modes = {
        n: model.index(_row(model, n), mode).data(SORT_ROLE) for n in ("gpt-bare", "gpt-legacy", "gpt-strict")
    }
    assert modes["gpt-bare"] < modes["gpt-legacy"] < modes["gpt-strict"]

    assert _text(model, "gpt-strict", model.blocklists_column) == "2 (prompt, completion)"
    assert _text(model, "gpt-high", model.blocklists_column) == "None"
    assert (
        _text(model, "gpt-strict", model.other_filters_column)
        == "Ungrounded Material (Completion): Blocks ≥ Low"
    )
    assert _text(model, "gpt-high", model.other_filters_column) == "—"


def test_names_are_data_not_markup(model: MatrixModel) -> None:
    projects = _header_column(model, "Project(s)")
    idx = model.index(_row(model, "gpt-strict"), projects)
    assert idx.data(DISPLAY) == b.HTML_PROJECT
    # Tooltips would be rendered as rich text: they arrive escaped.
    tip = idx.data(Qt.ItemDataRole.ToolTipRole)
    assert "&lt;b&gt;Red team&lt;/b&gt;" in tip
    assert "<b>Red" not in tip
    assert _tip(idx) == b.HTML_PROJECT
    assert _text(model, "sandbox-1", projects) == "—"


def test_row_role_and_search_text(model: MatrixModel) -> None:
    row = model.index(_row(model, "gpt-legacy"), 0).data(ROW_ROLE)
    assert isinstance(row, MatrixRow)
    assert row.deployment.name == "gpt-legacy"
    texts = model.search_texts()
    legacy = texts[_row(model, "gpt-legacy")]
    assert "gpt-35-turbo" in legacy
    assert "legacy" in legacy
    assert "streaming" in legacy
    assert "red team" in legacy
    # The fast index holds the same words as the generic one (every searchable column, case-folded).
    for r, text in enumerate(texts):
        for c in range(model.columnCount()):
            assert model.data(model.index(r, c), DISPLAY).casefold() in text


def test_set_rows_replaces_everything(model: MatrixModel, qtbot) -> None:
    with qtbot.waitSignal(model.modelReset):
        model.set_rows([])
    assert model.rowCount() == 0
    assert model.search_texts() == []
