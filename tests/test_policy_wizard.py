"""The guardrail policy wizard, driven through its widgets on offline inventories.

Most tests use the demo tenant (``fcdesk.core.demo.generate(1, 0)``); the plain-text and collision
tests build small tenants from raw ARM records (tests/helpers/builders.py). What the wizard shows is
compared with the pure core (``what_if``, ``draft_from_policy``, ``assignment_body``), never with
numbers written into the test.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QComboBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QWizard,
)

from fcdesk.actions import Rights
from fcdesk.core.demo import generate
from fcdesk.core.drafts import (
    CHOICES,
    ControlChoice,
    PolicyDraft,
    assignment_name_for,
    draft_from_policy,
    sources_of,
    what_if,
)
from fcdesk.core.guardrails import COMPLETION, PROMPT, Mode, Severity
from fcdesk.core.inventory import Inventory
from fcdesk.core.model import idkey, rg_scope, subscription_scope
from fcdesk.core.policy import BOTH, ControlRequirement
from fcdesk.core.records import Kind, RawRecord
from fcdesk.models.table import ROW_ROLE
from fcdesk.views import policy_wizard as pw
from fcdesk.views.policy_wizard import (
    ABUSE_MONITORING_NOTE,
    CHECKING_RIGHTS,
    PageId,
    PolicyWizard,
    RightsState,
    capture_pages,
    merge_choice,
    threshold_text,
)
from tests.helpers import builders as b

HTML = "<b>x</b>"
SUB_HTML = "cccccccc-0000-4000-8000-00000000000c"
ACCT_HTML = b.account_id(SUB_HTML, "rg-html", "acct-html")
ACCT_BARE = b.account_id(SUB_HTML, "rg-accounts-only", "acct-only")


# ------------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def demo() -> Inventory:
    meta, records = generate(1, 0)
    return Inventory.build(meta, records)


@pytest.fixture
def make_wizard(qtbot):
    made: list[PolicyWizard] = []

    def make(inventory: Inventory, **kwargs) -> PolicyWizard:
        wizard = PolicyWizard(inventory, **kwargs)
        qtbot.addWidget(wizard)
        wizard.show()
        made.append(wizard)
        return wizard

    yield make
    for wizard in made:  # nothing left in flight for the next test
        if wizard.isVisible():
            wizard.reject()
        qtbot.waitUntil(lambda w=wizard: w.idle, timeout=5000)


def html_records() -> list[RawRecord]:
    """A subscription and a deployment named ``<b>x</b>``, and a resource group known only by its account."""
    return [
        b.subscription(SUB_HTML, HTML),
        b.account(ACCT_HTML),
        b.account(ACCT_BARE),
        b.deployment(ACCT_HTML, HTML),
        b.deployment(ACCT_HTML, "plain-name"),
    ]


def html_inventory() -> Inventory:
    return b.inventory(html_records())


def next_button(wizard: QWizard) -> QAbstractButton:
    return wizard.button(QWizard.WizardButton.NextButton)


def go_next(qtbot, wizard: QWizard) -> None:
    button = next_button(wizard)
    assert button.isEnabled(), f"Next is disabled on {wizard.currentPage().objectName()}"
    before = wizard.currentId()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert wizard.currentId() == before + 1


def go_back(qtbot, wizard: QWizard) -> None:
    qtbot.mouseClick(wizard.button(QWizard.WizardButton.BackButton), Qt.MouseButton.LeftButton)


def add_control(
    qtbot,
    wizard: PolicyWizard,
    name: str,
    sources: tuple[str, ...] | None = None,
    threshold: Severity | None = None,
    *,
    blocking: bool = True,
) -> None:
    page = wizard.controls_page
    page.set_filter(name)
    if sources is not None:
        page.prompt_check.setChecked(PROMPT in sources)
        page.completion_check.setChecked(COMPLETION in sources)
    if threshold is not None:
        page.set_threshold(threshold)
    page.blocking_check.setChecked(blocking)
    qtbot.mouseClick(page.add_button, Qt.MouseButton.LeftButton)


def table_rows(view: QAbstractItemView) -> list[object]:
    model = view.model()
    return [model.index(r, 0).data(ROW_ROLE) for r in range(model.rowCount())]


def column_texts(view: QAbstractItemView, column: int) -> list[str]:
    model = view.model()
    return [model.index(r, column).data() for r in range(model.rowCount())]


def exception_row(page: pw.ExceptionsPage, name: str) -> int:
    """The proxy row of the candidate called ``name`` (it must be shown)."""
    proxy = page.table.proxy
    for r in range(proxy.rowCount()):
        if proxy.row_object(r).name == name:
            return r
    raise AssertionError(f"{name} is not shown")


def check(page: pw.ExceptionsPage, name: str, checked: bool = True) -> None:
    index = page.table.proxy.index(exception_row(page, name), 0)
    state = Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked
    assert page.table.proxy.setData(index, state, Qt.ItemDataRole.CheckStateRole)


# ------------------------------------------------------------------------------------ controls


def test_next_is_disabled_until_a_control_is_added(make_wizard, qtbot, demo) -> None:
    wizard = make_wizard(demo)
    page = wizard.controls_page
    assert wizard.currentId() == PageId.CONTROLS and page.objectName() == "controlsPage"
    assert wizard.windowTitle() == "Create guardrail policy"
    assert not next_button(wizard).isEnabled()
    assert "Add at least one control" in page.problem_label.text()

    add_control(qtbot, wizard, "Hate", (PROMPT, COMPLETION), Severity.MEDIUM)

    assert next_button(wizard).isEnabled()
    assert page.problem_label.text() == ""
    assert wizard.result_draft().choices == [ControlChoice("Hate", (PROMPT, COMPLETION), Severity.MEDIUM)]
    assert column_texts(page.table, 0) == ["Hate (prompt and completion)"]
    assert column_texts(page.table, 1) == ["Must block ≥ Medium"]
    assert page.findChild(QAbstractButton, "addControlButton") is page.add_button


def test_enter_in_the_form_adds_the_control(make_wizard, qtbot, demo) -> None:
    wizard = make_wizard(demo)
    page = wizard.controls_page
    page.set_filter("Jailbreak")
    page.filter_combo.setFocus()
    qtbot.waitUntil(page.filter_combo.hasFocus, timeout=2000)

    qtbot.keyClick(page.filter_combo, Qt.Key.Key_Return)

    assert wizard.currentId() == PageId.CONTROLS  # Enter added a control, it did not go Next
    assert [c.name for c in wizard.draft.choices] == ["Jailbreak"]


def test_add_edit_and_remove_controls(make_wizard, qtbot, demo) -> None:
    wizard = make_wizard(demo)
    page = wizard.controls_page
    add_control(qtbot, wizard, "Hate", (PROMPT, COMPLETION), Severity.MEDIUM)
    add_control(qtbot, wizard, "Jailbreak")
    assert [c.name for c in wizard.draft.choices] == ["Hate", "Jailbreak"]

    # Edit: the selected control goes into the form; "Update control" replaces it in place.
    page.table.select_row_object(lambda c: c.name == "Hate")
    qtbot.mouseClick(page.edit_button, Qt.MouseButton.LeftButton)
    assert page.filter_name() == "Hate" and page.add_button.text() == "&Update control"
    assert page.threshold_combo.currentData() is Severity.MEDIUM
    page.set_threshold(Severity.LOW)
    page.blocking_check.setChecked(False)
    qtbot.mouseClick(page.add_button, Qt.MouseButton.LeftButton)
    assert wizard.draft.choices == [
        ControlChoice("Hate", (PROMPT, COMPLETION), Severity.LOW, blocking=False),
        ControlChoice("Jailbreak", (PROMPT,), None),
    ]
    assert page.add_button.text() == "&Add control"
    assert column_texts(page.table, 1)[0] == "Must be on (annotate or block) ≥ Low"

    # Adding a control already in the list replaces it, and says so first.
    page.set_filter("Hate")
    page.prompt_check.setChecked(False)
    page.set_threshold(Severity.HIGH)
    page.blocking_check.setChecked(True)
    assert "Adding replaces the completion part of Hate (prompt and completion)" in page.note_label.text()
    qtbot.mouseClick(page.add_button, Qt.MouseButton.LeftButton)
    assert wizard.draft.choices == [
        ControlChoice("Hate", (PROMPT,), Severity.LOW, blocking=False),
        ControlChoice("Hate", (COMPLETION,), Severity.HIGH),
        ControlChoice("Jailbreak", (PROMPT,), None),
    ]
    assert "Replaced the completion part of Hate" in page.note_label.text()

    # Remove: the button, and the Delete key on the table.
    page.table.select_row_object(lambda c: c.name == "Jailbreak")
    qtbot.mouseClick(page.remove_button, Qt.MouseButton.LeftButton)
    assert [c.name for c in wizard.draft.choices] == ["Hate", "Hate"]
    page.table.setFocus()
    qtbot.waitUntil(page.table.hasFocus, timeout=2000)
    page.table.select_row_object(lambda c: c.sources == (PROMPT,))
    qtbot.keyClick(page.table, Qt.Key.Key_Delete)
    assert wizard.draft.choices == [ControlChoice("Hate", (COMPLETION,), Severity.HIGH)]
    page.table.select_first_row()
    qtbot.keyClick(page.table, Qt.Key.Key_Delete)
    assert wizard.draft.choices == []
    assert not next_button(wizard).isEnabled()
    assert not page.edit_button.isEnabled() and not page.remove_button.isEnabled()


def test_merge_choice_keeps_one_requirement_per_filter_and_source() -> None:
    both = ControlChoice("Hate", (PROMPT, COMPLETION), Severity.MEDIUM)
    shield = ControlChoice("Jailbreak", (PROMPT,), None)
    new = ControlChoice("Hate", (PROMPT, COMPLETION), Severity.LOW)
    assert merge_choice([both, shield], new) == (
        [new, shield],
        ["Hate (prompt and completion): Must block ≥ Medium"],
    )
    assert merge_choice([shield], new) == ([shield, new], [])
    merged, replaced = merge_choice([both, shield], ControlChoice("Hate", (PROMPT,), Severity.HIGH))
    assert merged == [
        ControlChoice("Hate", (COMPLETION,), Severity.MEDIUM),
        ControlChoice("Hate", (PROMPT,), Severity.HIGH),
        shield,
    ]
    assert replaced == ["the prompt part of Hate (prompt and completion): Must block ≥ Medium"]
    # editing replaces the edited choice in place, whatever its filter becomes
    assert merge_choice([both, shield], ControlChoice("Sexual", (PROMPT,)), replacing=0)[0] == [
        ControlChoice("Sexual", (PROMPT,)),
        shield,
    ]


def test_threshold_labels_never_show_the_raw_severity_word_alone(make_wizard, demo) -> None:
    page = make_wizard(demo).controls_page
    combo = page.threshold_combo
    texts = [combo.itemText(i) for i in range(combo.count())]
    assert texts == ["Blocks ≥ High", "Blocks ≥ Medium", "Blocks ≥ Low (strictest)"]
    assert [combo.itemData(i) for i in range(combo.count())] == [Severity.HIGH, Severity.MEDIUM, Severity.LOW]
    assert [threshold_text(s) for s in (Severity.HIGH, Severity.MEDIUM, Severity.LOW)] == texts
    assert combo.currentText() == "Blocks ≥ Medium"
    assert "Low blocks the most" in page.threshold_help.text()
    words = {"low", "medium", "high"}
    for label in page.findChildren(QLabel):
        assert label.text().strip().lower() not in words
    assert not words & {t.strip().lower() for t in texts}


def test_sources_are_limited_to_those_the_filter_exists_on(make_wizard, demo) -> None:
    page = make_wizard(demo).controls_page
    assert [page.filter_combo.itemData(i) for i in range(page.filter_combo.count())] == [
        n for n, _ in CHOICES
    ]
    for name, _label in CHOICES:
        page.set_filter(name)
        available = sources_of(name)
        for source, box in ((PROMPT, page.prompt_check), (COMPLETION, page.completion_check)):
            assert box.isChecked() == (source in available), (name, source)
            assert box.isEnabled() == (source in available and len(available) > 1), (name, source)
        choice = page.form_choice()
        assert choice is not None and choice.sources == available
        harm = name in ("Hate", "Sexual", "Violence", "Selfharm")
        assert page.threshold_combo.isVisibleTo(page) == harm, name
        assert (choice.threshold is not None) == harm
        if len(available) == 1:
            assert f"exists on the {available[0].lower()} only" in (
                page.prompt_check.toolTip() + page.completion_check.toolTip()
            )
    page.set_filter("Hate")
    page.prompt_check.setChecked(False)
    page.completion_check.setChecked(False)
    assert page.form_choice() is None and not page.add_button.isEnabled()
    assert page.note_label.text() == "Choose at least one source."


def test_a_mode_restriction_alone_is_a_policy(make_wizard, qtbot, demo) -> None:
    wizard = make_wizard(demo)
    page = wizard.controls_page
    assert page.mode_any.isChecked() and not page.mode_kept.isVisibleTo(page)
    assert page.mode_async.text().replace("&", "") == f"{Mode.ASYNC.label} only"
    qtbot.mouseClick(page.mode_default, Qt.MouseButton.LeftButton)
    assert wizard.draft.modes == frozenset({Mode.DEFAULT})
    assert next_button(wizard).isEnabled()
    qtbot.mouseClick(page.mode_any, Qt.MouseButton.LeftButton)
    assert wizard.draft.modes is None and not next_button(wizard).isEnabled()
    assert page.abuse_note.text() == ABUSE_MONITORING_NOTE
    assert "no control for it" in ABUSE_MONITORING_NOTE


def test_requirements_kept_from_the_assignment_are_listed_read_only(make_wizard, qtbot, demo) -> None:
    must_be_off = ControlRequirement(("Profanity", PROMPT), frozenset({False}), BOTH, None)
    wizard = make_wizard(demo, draft=PolicyDraft(kept=[must_be_off], modes=frozenset()))
    page = wizard.controls_page
    assert page.kept_box.isVisibleTo(page)
    assert page.kept_label.text() == "Profanity (prompt): Must be off"
    assert "kept as assigned" in " ".join(lbl.text() for lbl in page.kept_box.findChildren(QLabel))
    assert page.mode_kept.isChecked() and "none" in page.mode_kept.text()
    assert next_button(wizard).isEnabled()  # a kept requirement is a control
    # a control of the same filter and source replaces it, and says so
    add_control(qtbot, wizard, "Profanity", (PROMPT,))
    assert wizard.draft.kept == [] and not page.kept_box.isVisibleTo(page)
    assert "kept as assigned for Profanity (prompt)" in page.note_label.text()


def test_a_control_the_catalogue_does_not_offer_stays_editable(make_wizard, qtbot, demo) -> None:
    spotlight = ControlChoice("Indirect Attack Spotlighting", (PROMPT,), None)
    wizard = make_wizard(demo, draft=PolicyDraft(choices=[spotlight]))
    page = wizard.controls_page
    page.table.select_first_row()
    qtbot.mouseClick(page.edit_button, Qt.MouseButton.LeftButton)
    assert page.filter_name() == "Indirect Attack Spotlighting"
    assert page.filter_combo.currentText() == "Spotlighting for indirect attacks"
    page.blocking_check.setChecked(False)
    qtbot.mouseClick(page.add_button, Qt.MouseButton.LeftButton)
    assert wizard.draft.choices == [
        ControlChoice("Indirect Attack Spotlighting", (PROMPT,), None, blocking=False)
    ]


# ------------------------------------------------------------------------------------ scope


def test_scope_offers_the_inventory_and_counts_the_deployments_in_scope(make_wizard, qtbot, demo) -> None:
    wizard = make_wizard(demo)
    add_control(qtbot, wizard, "Jailbreak")
    go_next(qtbot, wizard)
    page = wizard.scope_page
    assert wizard.currentPage() is page and page.objectName() == "scopePage"
    combo = page.subscription_combo
    subs = sorted(demo.subscriptions.values(), key=lambda s: s.display_name.casefold())
    assert [combo.itemData(i) for i in range(combo.count())] == [s.subscription_id for s in subs]
    assert [combo.itemText(i) for i in range(combo.count())] == [
        f"{s.display_name} ({s.subscription_id})" for s in subs
    ]
    for sub in subs:
        page.set_subscription(sub.subscription_id)
        rgs = sorted(
            {
                rg.name
                for rg in demo.resource_groups.values()
                if rg.subscription_id.lower() == sub.subscription_id
            }
            | {a.resource_group for a in demo.accounts.values() if a.subscription_id == sub.subscription_id},
            key=str.casefold,
        )
        listed = [page.rg_list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(page.rg_list.count())]
        assert listed == rgs
        in_sub = [d for d in demo.deployments if d.subscription_id == sub.subscription_id]
        assert wizard.draft.scope == subscription_scope(sub.subscription_id)
        assert page.count_label.text().startswith(f"{len(in_sub)} model deployment")
        assert sub.display_name in page.count_label.text()
        rg = next(r for r in rgs if any(d.resource_group == r for d in in_sub))
        page.select_resource_group(rg)
        n = sum(1 for d in in_sub if d.resource_group == rg)
        assert wizard.draft.scope == rg_scope(sub.subscription_id, rg)
        assert page.count_label.text().startswith(f"{n} model deployment")
        assert f"resource group {rg}" in page.count_label.text()
        page.select_whole_subscription()
    assert next_button(wizard).isEnabled()
    assert page.rights_state is RightsState.NOT_CHECKED and page.rights_label.text() == ""


def test_resource_groups_with_accounts_only_are_offered(make_wizard) -> None:
    inventory = html_inventory()  # no resource-group records at all
    wizard = make_wizard(
        inventory, default_scope=f"/subscriptions/{SUB_HTML.upper()}/resourcegroups/RG-ACCOUNTS-ONLY"
    )
    page = wizard.scope_page
    listed = [page.rg_list.item(i).text() for i in range(page.rg_list.count())]
    assert listed == ["rg-accounts-only  ·  0 deployments", "rg-html  ·  2 deployments"]
    assert page.rg_radio.isChecked() and page.rg_list.currentRow() == 0  # the default scope, any case
    assert wizard.draft.scope == rg_scope(SUB_HTML, "rg-accounts-only")


def test_scope_defaults_to_the_default_scope_else_the_first_subscription(make_wizard, demo) -> None:
    sub = next(iter(demo.subscriptions.values()))
    assert make_wizard(demo, default_scope=sub.id.lower()).draft.scope == sub.id
    first = min(demo.subscriptions.values(), key=lambda s: s.display_name.casefold())
    assert make_wizard(demo).draft.scope == subscription_scope(first.subscription_id)


# ------------------------------------------------------------------------------------ exceptions


def to_exceptions(qtbot, wizard: PolicyWizard, scope_sub: str | None = None) -> pw.ExceptionsPage:
    if not wizard.draft.choices:
        add_control(qtbot, wizard, "Jailbreak")
    go_next(qtbot, wizard)
    if scope_sub is not None:
        wizard.scope_page.set_subscription(scope_sub)
    go_next(qtbot, wizard)
    assert wizard.currentPage() is wizard.exceptions_page
    return wizard.exceptions_page


def prod_sub(demo: Inventory) -> str:
    return next(
        s.subscription_id for s in demo.subscriptions.values() if s.display_name == "Contoso AI Production"
    )


def test_exceptions_list_the_scope_and_search_keeps_the_selection(make_wizard, qtbot, demo) -> None:
    sub = prod_sub(demo)
    wizard = make_wizard(demo)
    page = to_exceptions(qtbot, wizard, sub)
    assert page.objectName() == "exceptionsPage"
    in_sub = [d for d in demo.deployments if d.subscription_id == sub]
    rgs = {d.resource_group for d in in_sub}
    rows = table_rows(page.table)
    assert {r.id for r in rows if r.kind == "Deployment"} == {d.id for d in in_sub}
    assert {r.name for r in rows if r.kind == "Resource group"} == rgs
    assert page.count_label.text() == "0 exceptions chosen."

    target = in_sub[0]
    page.search_edit.setText(target.name)
    shown = table_rows(page.table)
    assert shown and all(target.name.lower() in (r.name + r.details).lower() for r in shown)
    assert len(shown) < len(rows)
    check(page, target.name)  # the first match: target or one of its namesakes
    chosen_id = table_rows(page.table)[exception_row(page, target.name)].id
    page.search_edit.setText("")
    assert len(table_rows(page.table)) == len(rows)
    assert wizard.draft.exceptions == [chosen_id]

    # "Select all shown" takes the filtered rows only; the earlier choice stays.
    rg = sorted(rgs)[0]
    page.search_edit.setText(rg)
    filtered = table_rows(page.table)
    qtbot.mouseClick(page.select_shown_button, Qt.MouseButton.LeftButton)
    assert {idkey(e) for e in wizard.draft.exceptions} == {idkey(chosen_id)} | {r.key for r in filtered}
    assert page.count_label.text().startswith(f"{len(wizard.draft.exceptions)} exceptions chosen")

    # Back and Next keep the selection, and the filter.
    go_back(qtbot, wizard)
    go_next(qtbot, wizard)
    assert {idkey(e) for e in wizard.draft.exceptions} == {idkey(chosen_id)} | {r.key for r in filtered}
    page.search_edit.setText("")
    model = page.table.proxy
    checked = {
        model.row_object(r).key
        for r in range(model.rowCount())
        if model.index(r, 0).data(Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Checked
    }
    assert checked == {idkey(e) for e in wizard.draft.exceptions}

    qtbot.mouseClick(page.clear_button, Qt.MouseButton.LeftButton)
    assert wizard.draft.exceptions == [] and page.count_label.text() == "0 exceptions chosen."


def test_exceptions_table_sorts_and_space_checks_the_selected_rows(make_wizard, qtbot, demo) -> None:
    wizard = make_wizard(demo)
    page = to_exceptions(qtbot, wizard, prod_sub(demo))
    table = page.table
    table.sortByColumn(0, Qt.SortOrder.DescendingOrder)
    names = column_texts(table, 0)
    assert names == sorted(names, key=str.casefold, reverse=True)
    table.setFocus()
    qtbot.waitUntil(table.hasFocus, timeout=2000)
    table.selectRow(0)
    flags = QItemSelectionModel.SelectionFlag
    table.selectionModel().select(table.model().index(1, 0), flags.Select | flags.Rows)
    first_two = table_rows(table)[:2]
    qtbot.keyClick(table, Qt.Key.Key_Space)
    assert {idkey(e) for e in wizard.draft.exceptions} == {r.key for r in first_two}
    assert table.selectionModel().isRowSelected(0) and table.selectionModel().isRowSelected(1)  # not reset
    qtbot.keyClick(table, Qt.Key.Key_Space)
    assert wizard.draft.exceptions == []


def test_a_narrower_scope_drops_exceptions_outside_it_with_a_note(make_wizard, qtbot, demo) -> None:
    policy = next(p for p in demo.policies if len(p.not_scopes) == 2)  # an RG and a deployment excepted
    wizard = make_wizard(demo, draft=draft_from_policy(policy))
    page = to_exceptions(qtbot, wizard)
    assert [idkey(e) for e in wizard.draft.exceptions] == [idkey(e) for e in policy.not_scopes]
    assert not page.dropped_note.isVisibleTo(page)
    # an excepted resource group shows its deployments as excepted with it
    rg_dep = next(d for d in demo.deployments if idkey(d.id).startswith(idkey(policy.not_scopes[0]) + "/"))
    assert page.model.covered(next(r for r in page.model.rows() if r.id == rg_dep.id))
    assert "excepted with" in page.count_label.text()

    deployment_ex = policy.not_scopes[1]
    kept_rg = deployment_ex.split("/providers/")[0]  # the deployment's resource group
    go_back(qtbot, wizard)
    wizard.scope_page.select_resource_group(kept_rg.rsplit("/", 1)[-1])
    go_next(qtbot, wizard)
    assert wizard.draft.exceptions == [deployment_ex]
    assert page.dropped_note.isVisibleTo(page)
    note = page.dropped_note.label.text()
    assert note.startswith("1 exception outside the chosen scope was dropped: Resource group")
    assert policy.not_scopes[0].rsplit("/", 1)[-1] in note
    assert {r.kind for r in page.model.rows()} == {"Deployment"}  # no resource groups inside a resource group


# ------------------------------------------------------------------------------------ name


def test_name_is_required_and_limited(make_wizard, qtbot, demo) -> None:
    wizard = make_wizard(demo)
    page = to_exceptions(qtbot, wizard)
    assert page is wizard.exceptions_page
    go_next(qtbot, wizard)
    name = wizard.name_page
    assert name.objectName() == "namePage"
    assert not next_button(wizard).isEnabled()
    assert name.problem_label.text() == "Enter a display name."
    assert name.assignment_label.text() == ""

    qtbot.keyClicks(name.name_edit, "Block harm")
    assert next_button(wizard).isEnabled() and name.problem_label.text() == ""
    assert name.name_counter.text() == "10 / 128"
    assert name.assignment_label.text() == assignment_name_for("Block harm", wizard.draft.scope)
    assert name.assignment_label.textFormat() == Qt.TextFormat.PlainText

    name.name_edit.setText("x" * 129)
    name.name_edit.textEdited.emit(name.name_edit.text())
    assert not next_button(wizard).isEnabled()
    assert name.problem_label.text() == "The display name is longer than 128 characters."
    name.name_edit.setText("x" * 128)
    name.name_edit.textEdited.emit(name.name_edit.text())
    assert next_button(wizard).isEnabled()

    name.description_edit.setPlainText("d" * 513)
    assert not next_button(wizard).isEnabled()
    assert name.description_counter.text() == "513 / 512"
    assert "longer than 512" in name.problem_label.text()
    name.description_edit.setPlainText("Why it exists")
    assert next_button(wizard).isEnabled()
    assert wizard.draft.description == "Why it exists"


def test_a_name_that_would_overwrite_another_policy_is_refused(make_wizard, qtbot) -> None:
    scope = subscription_scope(SUB_HTML)
    other = PolicyDraft(
        display_name="Shields", scope=scope, choices=[ControlChoice("Jailbreak", (PROMPT,), None)]
    )
    body = other.assignment_body()
    body.update(id=other.assignment_id, name=other.assignment_name)
    records = [*html_records(), RawRecord(Kind.POLICY_ASSIGNMENT, other.assignment_id, body, scope)]
    wizard = make_wizard(b.inventory(records))
    to_exceptions(qtbot, wizard)
    go_next(qtbot, wizard)
    qtbot.keyClicks(wizard.name_page.name_edit, "Shields")
    assert not next_button(wizard).isEnabled()
    assert "already exists on subscription" in wizard.name_page.problem_label.text()
    qtbot.keyClicks(wizard.name_page.name_edit, " 2")
    assert next_button(wizard).isEnabled()


# ------------------------------------------------------------------------------------ review


def fill_to_review(qtbot, wizard: PolicyWizard, name: str = "Review me") -> pw.ReviewPage:
    while wizard.currentId() < PageId.NAME:
        go_next(qtbot, wizard)
    if not wizard.draft.display_name:
        qtbot.keyClicks(wizard.name_page.name_edit, name)
    go_next(qtbot, wizard)
    assert wizard.currentPage() is wizard.review_page
    return wizard.review_page


def test_review_shows_the_summary_and_the_what_if_of_the_core(make_wizard, qtbot, demo) -> None:
    wizard = make_wizard(demo)
    add_control(qtbot, wizard, "Hate", (PROMPT, COMPLETION), Severity.LOW)
    add_control(qtbot, wizard, "Protected Material Code")
    go_next(qtbot, wizard)
    wizard.scope_page.set_subscription(prod_sub(demo))
    go_next(qtbot, wizard)
    check(wizard.exceptions_page, table_rows(wizard.exceptions_page.table)[0].name)
    review = fill_to_review(qtbot, wizard)
    assert review.objectName() == "reviewPage"

    draft = wizard.result_draft()
    expected = what_if(demo, draft)
    assert expected.violating and expected.excepted  # the scenario exercises both
    assert review.what_if == expected
    assert review.headline.text() == expected.headline
    names = {k: sub.display_name for k, sub in demo.subscriptions.items()}
    assert review.summary.toPlainText() == "\n".join(draft.summary_lines(names))
    assert "Scope: Subscription Contoso AI Production (" in review.summary.toPlainText()
    assert review.summary.isReadOnly()
    by_control = [(r[0], r[1]) for r in table_rows(review.by_control_table)]
    assert by_control == list(expected.by_control)
    assert column_texts(review.by_control_table, 1) == [f"{n:,}" for _, n in expected.by_control]
    shown = table_rows(review.violations_table)
    assert [r.deployment.id for r in shown] == [r.deployment.id for r in expected.violating]
    assert column_texts(review.violations_table, 3) == [r.failing for r in expected.violating]
    assert "30 minutes" in review.delay_note.text()
    # the table sorts
    review.violations_table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
    names = column_texts(review.violations_table, 0)
    assert names == sorted(names, key=str.casefold)
    # Create finishes with the draft
    finish = wizard.button(QWizard.WizardButton.FinishButton)
    assert finish.text().replace("&", "") == "Create" and finish.isEnabled()
    with qtbot.waitSignal(wizard.accepted, timeout=2000):
        qtbot.mouseClick(finish, Qt.MouseButton.LeftButton)
    assert wizard.result_draft().assignment_body() == draft.assignment_body()
    review.copy_summary()


def test_a_large_what_if_runs_off_the_gui_thread(make_wizard, qtbot, qloop, demo, monkeypatch) -> None:
    monkeypatch.setattr(pw, "WHAT_IF_SYNC_LIMIT", 0)
    wizard = make_wizard(demo)
    add_control(qtbot, wizard, "Sexual", (PROMPT,), Severity.LOW)
    go_next(qtbot, wizard)
    go_next(qtbot, wizard)
    go_next(qtbot, wizard)
    qtbot.keyClicks(wizard.name_page.name_edit, "Threaded")
    with qtbot.waitSignal(wizard.whatIfReady, timeout=5000) as ready:
        go_next(qtbot, wizard)
        review = wizard.review_page
        assert review.pending and review.busy.isVisibleTo(review)
        assert review.headline.text().startswith("Checking ")
    assert ready.args[0] == what_if(demo, wizard.result_draft())
    assert not review.busy.isVisibleTo(review) and review.headline.text() == ready.args[0].headline


# ------------------------------------------------------------------------------------ edit mode


@pytest.mark.parametrize("index", range(4))
def test_edit_mode_prefills_everything_and_saves_the_same_body(make_wizard, qtbot, demo, index) -> None:
    policy = demo.policies[index]
    original = draft_from_policy(policy)
    wizard = make_wizard(demo, draft=draft_from_policy(policy))
    assert wizard.windowTitle() == "Edit guardrail policy"
    page = wizard.controls_page
    assert wizard.draft.choices == original.choices
    assert column_texts(page.table, 0) == [c.label for c in original.choices]
    go_next(qtbot, wizard)
    assert wizard.draft.scope == policy.scope
    assert wizard.scope_page.rg_radio.isChecked() == bool(policy.resource_group)
    assert not wizard.scope_page.move_warning.isVisibleTo(wizard.scope_page)
    go_next(qtbot, wizard)
    assert [idkey(e) for e in wizard.draft.exceptions] == [idkey(e) for e in policy.not_scopes]
    go_next(qtbot, wizard)
    name = wizard.name_page
    assert name.name_edit.text() == original.display_name
    assert name.description_edit.toPlainText() == original.description
    assert name.assignment_label.text() == policy.name
    assert "Kept" in name.assignment_note.text()
    go_next(qtbot, wizard)
    finish = wizard.button(QWizard.WizardButton.FinishButton)
    assert finish.text().replace("&", "") == "Save" and finish.isEnabled()
    with qtbot.waitSignal(wizard.accepted, timeout=2000):
        qtbot.mouseClick(finish, Qt.MouseButton.LeftButton)
    result = wizard.result_draft()
    assert result.existing is policy
    assert result.assignment_body() == original.assignment_body()
    assert result.assignment_id == original.assignment_id


def test_edit_mode_warns_that_a_new_scope_deletes_and_recreates(make_wizard, qtbot, demo) -> None:
    policy = next(p for p in demo.policies if p.resource_group)
    wizard = make_wizard(demo, draft=draft_from_policy(policy), default_scope="/subscriptions/ignored")
    go_next(qtbot, wizard)
    page = wizard.scope_page
    assert wizard.draft.scope == policy.scope  # an edited policy keeps its scope, whatever the default
    page.select_whole_subscription()
    assert wizard.draft.scope_changed
    assert page.move_warning.isVisibleTo(page)
    text = page.move_warning.label.text()
    assert "cannot move" in text and "deletes it from resource group" in text and "confirm" in text
    page.select_resource_group(policy.resource_group)
    assert not wizard.draft.scope_changed and not page.move_warning.isVisibleTo(page)
    assert wizard.draft.scope == policy.scope  # the original spelling comes back


def test_a_prefilled_draft_without_a_policy_creates_one(make_wizard, demo) -> None:
    sub_a, sub_b = [s.subscription_id for s in demo.subscriptions.values()][:2]
    prefilled = PolicyDraft(
        display_name="Close guardrail gaps",
        scope=subscription_scope(sub_a),
        choices=[ControlChoice("Hate", (PROMPT,), Severity.MEDIUM)],
    )
    wizard = make_wizard(demo, draft=prefilled, default_scope=subscription_scope(sub_b))
    assert wizard.windowTitle() == "Create guardrail policy" and not wizard.editing
    assert wizard.button(QWizard.WizardButton.FinishButton).text().replace("&", "") == "Create"
    assert wizard.draft.scope == subscription_scope(sub_a)  # the draft's own scope wins
    assert wizard.name_page.name_edit.text() == "Close guardrail gaps"
    assert next_button(wizard).isEnabled()
    assert prefilled.choices == [ControlChoice("Hate", (PROMPT,), Severity.MEDIUM)]  # never changed


# ------------------------------------------------------------------------------------ rights


def test_without_rights_next_stays_disabled_and_the_reason_is_shown(make_wizard, qtbot, qloop, demo) -> None:
    asked: list[str] = []

    async def rights(scope: str) -> Rights:
        asked.append(scope)
        return Rights(
            False, "The signed-in account lacks Microsoft.Authorization/policyAssignments/write here."
        )

    wizard = make_wizard(demo, rights=rights)
    add_control(qtbot, wizard, "Jailbreak")
    go_next(qtbot, wizard)
    page = wizard.scope_page
    qtbot.waitUntil(lambda: page.rights_state is RightsState.DENIED, timeout=3000)
    assert asked == [wizard.draft.scope]
    assert page.rights_state is RightsState.DENIED
    text = page.rights_label.text()
    assert text.startswith("You need Owner or Resource Policy Contributor on subscription ")
    assert "to create guardrail policies" in text
    assert "lacks Microsoft.Authorization/policyAssignments/write" in text
    assert not next_button(wizard).isEnabled()
    assert page.recheck_button.isVisibleTo(page)


def test_the_rights_check_shows_its_progress_and_never_blocks(make_wizard, qtbot, qloop, demo) -> None:
    release = asyncio.Event()

    async def rights(scope: str) -> Rights:
        await release.wait()
        return Rights(True)

    wizard = make_wizard(demo, rights=rights)
    add_control(qtbot, wizard, "Jailbreak")
    go_next(qtbot, wizard)
    page = wizard.scope_page
    assert page.rights_state is RightsState.CHECKING
    assert page.rights_label.text() == CHECKING_RIGHTS and page.rights_busy.isVisibleTo(page)
    assert not next_button(wizard).isEnabled()
    qtbot.wait(50)  # the GUI keeps running while the check waits
    assert page.rights_state is RightsState.CHECKING
    with qtbot.waitSignal(wizard.rightsChecked, timeout=3000):
        release.set()
    assert page.rights_state is RightsState.ALLOWED and not page.rights_busy.isVisibleTo(page)
    assert next_button(wizard).isEnabled()


def test_a_rights_callback_that_cannot_tell_does_not_block(make_wizard, qtbot, qloop, demo) -> None:
    async def rights(scope: str) -> None:
        return None

    wizard = make_wizard(demo, rights=rights)
    add_control(qtbot, wizard, "Jailbreak")
    go_next(qtbot, wizard)
    page = wizard.scope_page
    qtbot.waitUntil(lambda: page.rights_state is RightsState.NOT_CHECKED, timeout=3000)
    assert page.rights_label.text() == "" and next_button(wizard).isEnabled()


def test_a_failing_rights_check_is_shown_and_does_not_block(make_wizard, qtbot, qloop, demo) -> None:
    async def rights(scope: str) -> Rights:
        raise RuntimeError("permissions endpoint unavailable")

    wizard = make_wizard(demo, rights=rights)
    add_control(qtbot, wizard, "Jailbreak")
    go_next(qtbot, wizard)
    page = wizard.scope_page
    qtbot.waitUntil(lambda: page.rights_state is RightsState.FAILED, timeout=3000)
    assert "permissions endpoint unavailable" in page.rights_label.text()
    assert next_button(wizard).isEnabled()


# ------------------------------------------------------------------------------------ quality


def test_names_from_azure_are_shown_literally(make_wizard, qtbot) -> None:
    inventory = html_inventory()
    wizard = make_wizard(inventory)
    add_control(qtbot, wizard, "Profanity", (PROMPT,))  # the account default has no profanity filter
    go_next(qtbot, wizard)
    scope = wizard.scope_page
    assert scope.subscription_combo.currentText() == f"{HTML} ({SUB_HTML})"
    assert f"subscription {HTML}" in scope.count_label.text()
    go_next(qtbot, wizard)
    assert HTML in column_texts(wizard.exceptions_page.table, 0)
    go_next(qtbot, wizard)
    qtbot.keyClicks(wizard.name_page.name_edit, HTML)
    go_next(qtbot, wizard)
    review = wizard.review_page
    assert f"Name: {HTML}" in review.summary.toPlainText()
    assert HTML in column_texts(review.violations_table, 0)
    for label in wizard.findChildren(QLabel):
        assert label.textFormat() == Qt.TextFormat.PlainText, label.text()


def part_of_another(widget, page) -> bool:
    """A combo box's popup, a line edit's clear button: internals of a control, not controls."""
    parent = widget.parent()
    while parent is not None and parent is not page:
        if isinstance(parent, QComboBox | QAbstractItemView | QLineEdit):
            return True
        parent = parent.parent()
    return False


def test_every_control_is_named_and_reachable_by_keyboard(make_wizard, demo) -> None:
    wizard = make_wizard(demo)
    for page_id in PolicyWizard.page_ids:
        page = wizard.page(page_id)
        assert page.objectName() == f"{page_id.name.lower()}Page"
        assert page.title() and page.subTitle().endswith(".") and page.subTitle().count(". ") == 0
        buddies = {label.buddy() for label in page.findChildren(QLabel) if label.buddy() is not None}
        kinds = (QAbstractButton, QComboBox, QLineEdit, QPlainTextEdit, QAbstractItemView)
        for widget in [w for kind in kinds for w in page.findChildren(kind)]:
            if part_of_another(widget, page):
                continue
            name = widget.accessibleName() or (widget.text() if isinstance(widget, QAbstractButton) else "")
            assert name or widget in buddies, (page.objectName(), widget.objectName(), type(widget).__name__)
            assert widget.focusPolicy() != Qt.FocusPolicy.NoFocus, widget.objectName()
        texts = [w.text() for w in page.findChildren(QAbstractButton) if w.text()]
        texts += [label.text() for label in page.findChildren(QLabel) if label.buddy() is not None]
        mnemonics = [t[t.index("&") + 1].lower() for t in texts if "&" in t]
        assert len(mnemonics) == len(set(mnemonics)), (page.objectName(), texts)
        assert not {"b", "n", "c"} & set(mnemonics), texts  # Back, Next and Create keep theirs
    for name in (
        "addControlButton",
        "controlsTable",
        "subscriptionCombo",
        "resourceGroupList",
        "exceptionSearch",
        "exceptionsTable",
        "displayNameEdit",
        "descriptionEdit",
        "reviewSummary",
        "whatIfTable",
    ):
        assert wizard.findChild(object, name) is not None, name


def test_the_wizard_fits_a_small_screen(make_wizard, demo) -> None:
    wizard = make_wizard(demo)
    assert wizard.minimumSizeHint().width() <= 1100 and wizard.minimumSizeHint().height() <= 720
    assert wizard.width() <= 1100 and wizard.height() <= 720


def test_capture_pages_saves_one_png_per_page(make_wizard, demo, tmp_path: Path) -> None:
    wizard = make_wizard(demo, draft=draft_from_policy(demo.policies[0]))
    paths = capture_pages(wizard, tmp_path / "shots")
    assert [p.name for p in paths] == [
        "policy-wizard-1-controls.png",
        "policy-wizard-2-scope.png",
        "policy-wizard-3-exceptions.png",
        "policy-wizard-4-name.png",
        "policy-wizard-5-review.png",
    ]
    assert wizard.currentId() == PageId.REVIEW
    for path in paths:
        image = QImage(str(path))
        assert not image.isNull() and image.width() == wizard.width()
    # an empty create wizard still shows every page
    assert len(capture_pages(make_wizard(demo), tmp_path / "empty", prefix="empty")) == 5


def test_exceptions_page_tab_order_starts_with_the_search(make_wizard, qtbot, demo) -> None:
    wizard = make_wizard(demo)
    page = to_exceptions(qtbot, wizard)
    chain, widget = [], page.search_edit
    for _ in range(40):
        chain.append(widget)
        widget = widget.nextInFocusChain()
    order = [page.search_edit, page.select_shown_button, page.clear_button, page.table]
    assert [chain.index(w) for w in order] == sorted(chain.index(w) for w in order)


def test_an_empty_inventory_says_what_is_missing(make_wizard, qtbot) -> None:
    wizard = make_wizard(b.inventory([]))
    add_control(qtbot, wizard, "Jailbreak")
    go_next(qtbot, wizard)
    page = wizard.scope_page
    assert page.subscription_combo.count() == 0 and not next_button(wizard).isEnabled()
    assert "no subscription in the data in hand" in page.count_label.text()
