"""The guardrail editor (Fix now / View in Build), driven through its widgets with pytest-qt.

Offline: inventories come from the demo tenant (``fcdesk.core.demo.generate(1, 0)``) or from the
hand-written records of ``tests.helpers.builders``. The editor never talks to Azure: saving is a
signal carrying an :class:`EditorSave`, and the test plays the window's part.
"""

from __future__ import annotations

import html
import re

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLineEdit, QPushButton

from fcdesk.core.demo import generate
from fcdesk.core.fix import (
    control_diff,
    effective_after,
    failing_policies,
    meet_requirements,
    plan_from_effective,
)
from fcdesk.core.guardrails import CATALOGUE, Mode, Severity
from fcdesk.core.inventory import Inventory
from fcdesk.core.model import Deployment
from fcdesk.core.policy import CONTROL_PARAMS, INITIATIVE_ID
from fcdesk.core.records import Kind, RawRecord
from fcdesk.models.palette import LIGHT
from fcdesk.views.guardrail_editor import (
    MODE_KEY,
    EditorSave,
    GuardrailEditor,
    Target,
    option_of,
    setting_for,
)
from tests.helpers import builders as b

HATE_IN = ("Hate", "Prompt")
JAILBREAK = ("Jailbreak", "Prompt")
DEV = "contoso-foundry-dev"
OFFLINE = "Offline snapshot: sign in to make changes"
#: A severity word that is not said as what it blocks ("≥ Medium"): must never be shown.
RAW_SEVERITY = re.compile(r"(?<!≥ )\b(Low|Medium|High)\b")


@pytest.fixture(scope="module")
def demo() -> Inventory:
    return Inventory.build(*generate(1, 0))


def dep(inv: Inventory, account: str, name: str) -> Deployment:
    return next(d for d in inv.deployments if d.account_name == account and d.name == name)


@pytest.fixture
def make(qtbot):
    def factory(inv: Inventory, deployments: list[Deployment], **kwargs) -> GuardrailEditor:
        editor = GuardrailEditor(inv, deployments, colors=LIGHT, **kwargs)
        qtbot.addWidget(editor)
        return editor

    return factory


def choose(editor: GuardrailEditor, key, text: str) -> None:
    combo = editor.setting_combo(key)
    index = combo.findText(text)
    assert index >= 0, [combo.itemText(i) for i in range(combo.count())]
    combo.setCurrentIndex(index)


def tip(item) -> str:
    """A tooltip as the user reads it (tooltips are escaped HTML so that names show literally)."""
    text = item.toolTip()
    return html.unescape(text.removeprefix("<qt>").removesuffix("</qt>").replace("<br>", "\n"))


def all_texts(editor: GuardrailEditor) -> list[str]:
    """Every text the controls table shows: items, tooltips, headers and combo entries."""
    table = editor.table
    out = []
    for c in range(table.columnCount()):
        head = table.horizontalHeaderItem(c)
        out += [head.text(), tip(head)]
    for r in range(table.rowCount()):
        for c in range(editor.col_new):
            item = table.item(r, c)
            out += [item.text(), tip(item)]
    for combo in editor._combos:
        out += [combo.itemText(i) for i in range(combo.count())]
    return out + [editor.live_text()]


# ------------------------------------------------------------------------------ layout and marking


def test_rows_for_every_control_and_the_mode(demo, make) -> None:
    editor = make(demo, [dep(demo, DEV, "o3-mini")])
    labels = [editor.table.item(r, 0).text() for r in range(editor.table.rowCount())]
    assert labels == [c.label for c in CATALOGUE] + ["Guardrail mode"]
    headers = [editor.table.horizontalHeaderItem(c).text() for c in range(editor.table.columnCount())]
    assert headers == ["Control", "Current", "Development baseline guardrail", "New setting"]
    assert editor.objectName() == "guardrailEditor"
    for name in ("controlsTable", "meetRequirementsButton", "saveButton", "liveStatus", "targetSection"):
        assert editor.findChild(object, name) is not None, name


def test_failing_controls_are_marked_with_text_colour_and_reason(demo, make) -> None:
    d = dep(demo, DEV, "o3-mini")  # Dev-NoJailbreak: the jailbreak shield is off
    editor = make(demo, [d])
    ((policy, ev),) = failing_policies(demo, d)
    expected = [r.label for r in ev.failures]
    assert editor.failing_now == expected
    assert editor.failing_controls() == expected

    row = editor.row_of(JAILBREAK)
    current = editor.table.item(row, 1)
    assert current.text() == "✗ Off"
    assert "Fails 'Development baseline guardrail'" in tip(current)
    req = editor.table.item(row, 2)
    assert req.text() == "✗ Must block"
    assert "enabled is false" in tip(req)
    assert req.background().color() == LIGHT.fail
    assert editor.table.item(row, 0).background().color() == LIGHT.fail
    # A passing control is neither marked nor coloured as failing.
    ok = editor.row_of(HATE_IN)
    assert editor.table.item(ok, 2).text() == "✓ Must block ≥ Medium"
    assert editor.table.item(ok, 0).background().color() != LIGHT.fail
    assert editor.live_text().startswith("✗ Fails: Prompt shield: jailbreak")
    assert "for policy 'Development baseline guardrail'" in editor.live_text()


def test_policy_columns_show_the_requirement_text(demo, make) -> None:
    d = dep(demo, "contoso-foundry-prod", "gpt-4o")  # governed by two policies
    editor = make(demo, [d])
    assert {p.label for p in editor.policies} == {p.label for p in demo.governing(d)}
    for policy in editor.policies:
        for control in CATALOGUE:
            shown = editor.requirement_text(control.key, policy)
            assert shown.endswith(policy.requirements[control.key].text)
        assert editor.requirement_text(MODE_KEY, policy).endswith(policy.mode_requirement.text)


def test_inherited_values_are_marked_in_the_current_column(demo, make) -> None:
    editor = make(demo, [dep(demo, DEV, "text-embedding-3-large")])  # no guardrail: account default
    assert editor.current_text(HATE_IN) == "Blocks ≥ Medium (inherited)"


def test_severity_is_never_shown_as_the_raw_word(demo, make) -> None:
    d = dep(demo, DEV, "o3-mini")
    editor = make(demo, [d])
    choose(editor, HATE_IN, "Blocks ≥ High")  # fails "≥ Medium": the reason talks about thresholds
    texts = all_texts(editor)
    assert any("It blocks ≥ High; the policy allows ≥ Low or ≥ Medium" in t for t in texts)
    offenders = [t for t in texts if RAW_SEVERITY.search(t)]
    assert offenders == []
    combo = editor.setting_combo(HATE_IN)
    assert [combo.itemText(i) for i in range(combo.count())] == [
        "Off",
        "Annotate only",
        "Blocks ≥ High",
        "Blocks ≥ Medium",
        "Blocks ≥ Low (strictest)",
    ]


# ------------------------------------------------------------------------------ editing


def test_meet_requirements_changes_exactly_the_failing_controls(demo, make, qtbot) -> None:
    d = dep(demo, DEV, "DeepSeek-R1")  # Eval-AnnotateOnly: harm categories annotate only, no jailbreak
    editor = make(demo, [d])
    before = editor.plan()
    expected, changed = meet_requirements(plan_from_effective(demo.effective(d)), editor.policies)
    assert editor.live_text().startswith("✗")

    qtbot.mouseClick(editor.meet_button, Qt.MouseButton.LeftButton)

    after = editor.plan()
    assert after.settings == expected.settings and after.mode == expected.mode
    moved = {
        k
        for k in set(before.settings) | set(after.settings)
        if before.settings.get(k) != after.settings.get(k)
    }
    failing = {r.key for _p, ev in failing_policies(demo, d) for r in ev.failures}
    assert moved == failing
    assert changed and all(label in editor.info_banner.label.text() for label in changed)
    assert editor.live_text() == "✓ Passes the policy 'Development baseline guardrail'."
    assert editor.failing_controls() == []
    # The combos show the new plan: the harm categories were annotate only and now block.
    for control in CATALOGUE:
        assert editor.setting_combo(control.key).currentData() == option_of(
            control, expected.settings.get(control.key)
        )
    assert editor.setting_combo(HATE_IN).currentText().startswith("Blocks ≥ ")
    assert editor.setting_combo(JAILBREAK).currentText() == "Blocks"


def test_meet_requirements_shows_contradicting_policies(make) -> None:
    acct = b.account_id(b.SUB_PROD, "rg-prod", "acct-prod")
    sub = f"/subscriptions/{b.SUB_PROD}"

    def assignment(name: str, severities: list[str]) -> RawRecord:
        body = {
            "id": f"{sub}/providers/Microsoft.Authorization/policyAssignments/{name}",
            "name": name,
            "properties": {
                "displayName": name,
                "policyDefinitionId": INITIATIVE_ID,
                "scope": sub,
                "parameters": {CONTROL_PARAMS[HATE_IN].severities: {"value": severities}},
            },
        }
        return RawRecord(Kind.POLICY_ASSIGNMENT, body["id"], body, sub)

    inv = b.inventory(
        [
            b.subscription(b.SUB_PROD, "Contoso Prod"),
            b.account(acct),
            b.deployment(acct, "gpt", "loose"),
            b.rai_policy(acct, "loose", [b.flt("Hate", "Prompt", threshold="High")]),
            assignment("only-high", ["High"]),
            assignment("only-low", ["Low"]),
        ]
    )
    editor = make(inv, inv.deployments)
    assert len(editor.policies) == 2

    assert editor.meet_requirements() == []

    assert editor.error_banner.isVisibleTo(editor)
    assert "allow no common setting for Hate (prompt)" in editor.error_banner.label.text()
    assert not editor.edited()


def test_editing_a_combo_updates_the_plan_and_the_live_line(demo, make) -> None:
    editor = make(demo, [dep(demo, DEV, "gpt-4o")])  # Dev-Hardened passes
    assert editor.live_text().startswith("✓ Passes")

    choose(editor, HATE_IN, "Annotate only")

    setting = editor.plan().settings[HATE_IN]
    assert (setting.enabled, setting.blocking) == (True, False)
    assert editor.live_text() == "✗ Still fails: Hate (prompt) for policy 'Development baseline guardrail'"
    assert editor.table.item(editor.row_of(HATE_IN), 2).text() == "✗ Must block ≥ Medium"

    choose(editor, MODE_KEY, "Streaming (async filter)")
    assert editor.plan().mode is Mode.ASYNC


def test_option_helpers_round_trip() -> None:
    for control in CATALOGUE:
        for option in ("off", "annotate", "block:LOW" if control.kind.value == "severity" else "block"):
            assert option_of(control, setting_for(control, option, None)) == option
    hate = CATALOGUE[0]
    kept = setting_for(hate, "off", setting_for(hate, "block:LOW", None))
    assert kept.threshold is Severity.LOW and not kept.enabled


# ------------------------------------------------------------------------------ saving gates


def test_save_is_disabled_until_a_change(demo, make) -> None:
    editor = make(demo, [dep(demo, DEV, "o3-mini")])
    assert not editor.save_button.isEnabled()
    assert "Nothing to save yet" in editor.save_blocked_reason()

    choose(editor, JAILBREAK, "Blocks")
    assert editor.save_button.isEnabled()

    choose(editor, JAILBREAK, "Off")  # back to what it was
    assert not editor.save_button.isEnabled()


def test_save_is_disabled_while_read_only_with_the_reason_shown(demo, make) -> None:
    editor = make(demo, [dep(demo, DEV, "o3-mini")], read_only_reason=OFFLINE)
    editor.meet_requirements()
    assert not editor.save_button.isEnabled()
    assert editor.read_only_banner.label.text() == OFFLINE
    assert OFFLINE in editor.save_button.toolTip()

    editor.set_read_only_reason(None)
    assert editor.save_button.isEnabled()
    assert not editor.read_only_banner.isVisibleTo(editor)

    editor.set_read_only_reason("You need Owner or Contributor on the account")
    assert not editor.save_button.isEnabled()


def test_a_custom_guardrail_used_only_here_is_updated_by_default(demo, make) -> None:
    editor = make(demo, [dep(demo, DEV, "o3-mini")])
    assert editor.target() is Target.UPDATE
    assert editor.update_radio.text() == "&Update guardrail 'Dev-NoJailbreak'"
    assert editor.update_radio.isChecked()
    assert not editor.name_edit.isVisibleTo(editor)
    assert editor.target_name() == "Dev-NoJailbreak"


def test_a_shared_guardrail_lists_its_sharers_and_offers_both_choices(demo, make, qtbot) -> None:
    d = dep(demo, "contoso-foundry-prod", "gpt-4o")  # Contoso-Strict: 4 deployments
    editor = make(demo, [d])
    others = {x.name for x in demo.deployments if x.rai_policy_name == "Contoso-Strict" and x.key != d.key}
    assert {x.name for x in editor.sharers} == others and len(others) == 3
    assert "also used by 3 other deployments" in editor.target_note.text()
    assert editor.new_radio.isChecked() and editor.target() is Target.NEW
    assert (
        editor.update_radio.text()
        == "&Update the shared guardrail 'Contoso-Strict' (changes 3 other deployments)"
    )
    assert editor.name_edit.isVisibleTo(editor)

    assert not editor.sharers_list.isVisibleTo(editor)
    qtbot.mouseClick(editor.sharers_toggle, Qt.MouseButton.LeftButton)
    assert editor.sharers_list.isVisibleTo(editor)
    assert set(editor.sharers_list.text().splitlines()) == others

    editor.update_radio.setChecked(True)
    assert editor.target() is Target.UPDATE_SHARED
    assert editor.target_name() == "Contoso-Strict"
    assert not editor.name_edit.isVisibleTo(editor)


def test_a_system_guardrail_can_only_become_a_new_one_with_a_valid_suggested_name(demo, make) -> None:
    d = dep(demo, DEV, "gpt-4.1-mini")  # Microsoft.DefaultV2
    editor = make(demo, [d])
    assert editor.update_radio is None and editor.new_radio is None
    assert editor.target() is Target.NEW
    assert "system guardrail and cannot be edited" in editor.target_note.text()
    name = editor.name_edit.text()
    assert name == "gpt-4.1-mini-guardrail"
    assert editor.name_problem() is None
    assert editor.plan().base_name == "Microsoft.DefaultV2"


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ("", "Enter a guardrail name."),
        ("Microsoft.Mine", "belong to system guardrails"),
        ("has space", "Use letters, digits"),
        ("dev-hardened", "already exists on contoso-foundry-dev"),  # Dev-Hardened, any case
    ],
)
def test_an_invalid_or_duplicate_name_disables_save(demo, make, typed: str, problem: str) -> None:
    editor = make(demo, [dep(demo, DEV, "gpt-4.1-mini")])
    editor.meet_requirements()
    assert editor.save_button.isEnabled()

    editor.findChild(QLineEdit, "newNameEdit").setText(typed)

    assert not editor.save_button.isEnabled()
    assert problem in editor.name_error.text()
    assert editor.name_error.isVisibleTo(editor)


# ------------------------------------------------------------------------------ review and save


def test_the_review_lists_exactly_the_control_diff(demo, make) -> None:
    d = dep(demo, DEV, "o3-mini")
    editor = make(demo, [d])
    editor.meet_requirements()
    choose(editor, HATE_IN, "Blocks ≥ Low (strictest)")
    expected = control_diff(
        demo.effective(d), effective_after(editor.plan(), "Dev-NoJailbreak", d.account_id)
    )

    review = editor.review()

    assert review is not None and review.objectName() == "guardrailReview" and review.isVisible()
    assert review.rows() == [(c.label, c.before, c.after) for c in expected]
    assert ("Hate (prompt)", "Blocks ≥ Medium", "Blocks ≥ Low") in review.rows()
    assert review.what.text() == "Update the guardrail 'Dev-NoJailbreak' on contoso-foundry-dev."
    assert "none is re-pointed" in review.repointed.text()
    assert not review.others.isVisibleTo(review)
    review.reject()
    assert not editor.busy


def test_confirming_emits_the_save_and_the_editor_waits_for_the_window(demo, make, qtbot) -> None:
    d = dep(demo, DEV, "gpt-4.1-mini")
    editor = make(demo, [d])
    editor.show()
    editor.meet_requirements()
    plan = editor.plan()
    review = editor.review()
    assert "Deployments pointed at 'gpt-4.1-mini-guardrail' (1):\ngpt-4.1-mini" == review.repointed.text()

    with qtbot.waitSignal(editor.saveRequested, timeout=1000) as saved:
        qtbot.mouseClick(review.confirm_button, Qt.MouseButton.LeftButton)

    assert saved.args == [
        EditorSave(
            account_id=d.account_id,
            rai_policy_name="gpt-4.1-mini-guardrail",
            plan=plan,
            deployment_ids=[d.id],
            create=True,
            update_shared=False,
        )
    ]
    assert editor.busy
    assert not editor.save_button.isEnabled() and not editor.table.isEnabled()
    assert not editor.target_box.isEnabled()
    assert editor.progress_label.text() == "Saving…"
    editor.set_progress("Pointing gpt-4.1-mini at the new guardrail…")
    assert editor.progress_label.text() == "Pointing gpt-4.1-mini at the new guardrail…"

    with qtbot.waitSignal(editor.accepted, timeout=1000):
        editor.save_finished(True, "Saved gpt-4.1-mini-guardrail.")
    assert editor.result_message == "Saved gpt-4.1-mini-guardrail."
    assert not editor.isVisible()


def test_updating_a_shared_guardrail_names_the_other_deployments_in_the_review(demo, make, qtbot) -> None:
    d = dep(demo, DEV, "DeepSeek-R1")  # Eval-AnnotateOnly, also used by gpt-4o-mini
    editor = make(demo, [d])
    editor.meet_requirements()
    editor.update_radio.setChecked(True)
    review = editor.review()
    assert review.what.text() == "Update the shared guardrail 'Eval-AnnotateOnly' on contoso-foundry-dev."
    assert (
        review.others.text()
        == "This also changes 1 other deployment that use 'Eval-AnnotateOnly':\ngpt-4o-mini"
    )
    with qtbot.waitSignal(editor.saveRequested, timeout=1000) as saved:
        review.accept()
    save = saved.args[0]
    assert (save.rai_policy_name, save.create, save.update_shared) == ("Eval-AnnotateOnly", False, True)


def test_a_failed_save_makes_the_editor_editable_again_with_the_message(demo, make, qtbot) -> None:
    editor = make(demo, [dep(demo, DEV, "o3-mini")])
    editor.show()
    editor.meet_requirements()
    with qtbot.waitSignal(editor.saveRequested, timeout=1000):
        editor.review().accept()
    assert editor.busy
    editor.reject()  # Esc while saving: the editor stays open
    assert editor.isVisible() and "closes when Azure has answered" in editor.progress_label.text()

    message = "The guardrail 'Dev-NoJailbreak' was changed in Azure since it was read. Nothing was written."
    editor.save_finished(False, message)

    assert not editor.busy and editor.isVisible()
    assert editor.error_banner.label.text() == message and editor.error_banner.isVisibleTo(editor)
    assert editor.save_button.isEnabled() and editor.table.isEnabled() and editor.meet_button.isEnabled()
    assert not editor.progress_label.isVisibleTo(editor)


def test_escape_asks_before_discarding_changes(demo, make, qtbot) -> None:
    editor = make(demo, [dep(demo, DEV, "o3-mini")])
    editor.show()
    choose(editor, JAILBREAK, "Blocks")

    qtbot.keyClick(editor, Qt.Key.Key_Escape)

    box = editor.discard_box
    assert box is not None and box.isVisible() and editor.isVisible()
    discard = next(b for b in box.findChildren(QPushButton) if b.text() == "&Discard")
    with qtbot.waitSignal(editor.rejected, timeout=1000):
        qtbot.mouseClick(discard, Qt.MouseButton.LeftButton)
    assert not editor.isVisible()


def test_escape_closes_at_once_when_nothing_was_edited(demo, make, qtbot) -> None:
    editor = make(demo, [dep(demo, DEV, "o3-mini")])
    editor.show()
    with qtbot.waitSignal(editor.rejected, timeout=1000):
        qtbot.keyClick(editor, Qt.Key.Key_Escape)
    assert editor.discard_box is None


# ------------------------------------------------------------------------------ several deployments


def test_several_deployments_on_one_account_share_one_new_guardrail(demo, make, qtbot) -> None:
    deps = [dep(demo, DEV, "o3-mini"), dep(demo, DEV, "text-embedding-3-large")]
    editor = make(demo, deps)
    assert editor.windowTitle() == "Fix guardrail: 2 deployments"
    assert editor.target() is Target.NEW and editor.update_radio is None
    assert "different guardrails" in editor.target_note.text()
    assert editor.name_edit.text() == "contoso-foundry-dev-fix-guardrail"
    assert editor.current_text(JAILBREAK) == "✗ Varies (2 settings)"
    union = {p.key for d in deps for p, _ev in failing_policies(demo, d)}
    assert {p.key for p in editor.policies} >= union

    editor.meet_requirements()
    assert editor.live_text().startswith("✓ Passes")
    review = editor.review()
    after = effective_after(editor.plan(), "contoso-foundry-dev-fix-guardrail", deps[0].account_id)
    expected = [
        (", ".join(x.name for x in group), c.label, c.before, c.after)
        for group in ([deps[0]], [deps[1]])
        for c in control_diff(demo.effective(group[0]), after)
    ]
    assert review.rows() == expected
    with qtbot.waitSignal(editor.saveRequested, timeout=1000) as saved:
        review.accept()
    assert saved.args[0].deployment_ids == [d.id for d in deps]
    assert saved.args[0].create


def test_several_deployments_on_their_shared_guardrail_update_it(demo, make) -> None:
    deps = [d for d in demo.deployments if d.account_name == DEV and d.rai_policy_name == "Eval-AnnotateOnly"]
    editor = make(demo, deps)
    assert len(deps) == 2 and editor.sharers == []
    assert editor.target() is Target.UPDATE and editor.target_name() == "Eval-AnnotateOnly"


def test_deployments_on_two_accounts_are_refused(demo, qapp) -> None:
    deps = [dep(demo, DEV, "o3-mini"), dep(demo, "contoso-openai-dev", "gpt-4o")]
    with pytest.raises(ValueError, match="on 2 accounts"):
        GuardrailEditor(demo, deps)


# ------------------------------------------------------------------------------ plain text, keyboard


def test_an_html_named_deployment_is_shown_literally(make) -> None:
    acct = b.account_id(b.SUB_PROD, "rg-<i>prod", "acct-prod")
    inv = b.inventory(
        [
            b.subscription(b.SUB_PROD, "Contoso <u>Prod</u>"),
            b.account(acct),
            b.deployment(acct, "<b>x</b>"),
        ]
    )
    editor = make(inv, inv.deployments)
    labels = [
        w.text()
        for w in editor.findChild(object, "deploymentsSummary").findChildren(type(editor.live_status))
    ]
    assert "<b>x</b>" in labels and "rg-<i>prod" in labels and "Contoso <u>Prod</u>" in labels
    for label in editor.findChild(object, "deploymentsSummary").findChildren(type(editor.live_status)):
        assert label.textFormat() is Qt.TextFormat.PlainText
    assert editor.windowTitle() == "Fix guardrail: <b>x</b>"
    assert editor.name_edit.text() == "b-x-b-guardrail"
    assert editor.name_problem() is None
    assert editor.live_text().startswith("No guardrail policy governs this deployment")
    assert not editor.meet_button.isEnabled()


def test_tab_moves_from_the_table_through_the_new_setting_combos(demo, make, qtbot) -> None:
    editor = make(demo, [dep(demo, DEV, "o3-mini")])
    editor.show()
    qtbot.waitExposed(editor)
    editor.activateWindow()
    editor.table.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is editor.table, timeout=1000)

    qtbot.keyClick(editor.table, Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is editor.setting_combo(HATE_IN)
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is editor.setting_combo(("Hate", "Completion"))
    for text, widget in (
        ("&Meet requirements", editor.meet_button),
        ("&Review and save…", editor.save_button),
    ):
        assert widget.text() == text
