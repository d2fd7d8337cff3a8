"""The guardrail policy wizard: controls, scope, exceptions, name, review (spec: "Create a guardrail
policy", "Edit a guardrail policy").

:class:`PolicyWizard` edits a :class:`~fcdesk.core.drafts.PolicyDraft` and never writes anything:
after ``accepted`` the caller reads :meth:`PolicyWizard.result_draft` and sends it (the window owns
the rights re-check, the confirmation and the write). Given an existing policy's draft
(:func:`~fcdesk.core.drafts.draft_from_policy`) it edits that policy: the title says so and the
Finish button says "Save".

Pages (Next stays disabled until a page is valid, through ``isComplete``/``completeChanged``; Back
keeps what was entered):

1. Controls: minimum controls from the catalogue, the allowed guardrail modes, and the
   requirements kept from an existing assignment that the wizard cannot express.
2. Scope: a subscription or one of its resource groups, from the inventory in hand, with the number
   of deployments it covers. With a ``rights`` callback, Next waits for the caller's permissions.
3. Exceptions: deployments (and, for a subscription, resource groups) to leave out.
4. Name: display name, description, and the assignment's resource name (derived, read-only).
5. Review: the summary and the local what-if (off the GUI thread when the scope is large).

Every name from Azure is shown as plain text: labels are :class:`PlainLabel`, item views and combo
boxes never interpret markup, and QWizard's own title labels are forced to plain text.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QAction, QGuiApplication, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from fcdesk.actions import POLICY_ROLES_TEXT, Rights
from fcdesk.core.drafts import (
    CHOICES,
    DESCRIPTION_MAX,
    DISPLAY_NAME_MAX,
    ControlChoice,
    PolicyDraft,
    WhatIf,
    WhatIfRow,
    in_scope,
    scope_text,
    source_text,
    sources_of,
    what_if,
)
from fcdesk.core.guardrails import COMPLETION, CONTROL_BY_KEY, PROMPT, ControlKind, Mode, Severity
from fcdesk.core.inventory import Inventory
from fcdesk.core.model import id_segment, idkey, rg_scope, subscription_scope
from fcdesk.core.text import plural
from fcdesk.models.proxy import FastSortFilterProxy
from fcdesk.models.table import Column, RowTableModel
from fcdesk.views.widgets import Banner, BannerKind, DataTable, FilterBar, PlainLabel, PlainWizard

#: Checks the signed-in caller's rights to write guardrail policies at a scope (an ARM scope id);
#: None means it cannot tell (the write checks again).
RightsCheck = Callable[[str], Awaitable[Rights | None]]

#: Above this many deployments in scope the what-if runs on a worker thread (when a loop runs).
WHAT_IF_SYNC_LIMIT = 2000

THRESHOLD_EXPLAINED = (
    "≥ Low blocks the most (low, medium and high severity); ≥ High blocks only high. "
    "A deployment passes when it blocks at this level or stricter."
)
BLOCKING_EXPLAINED = "Unchecked: a filter that only annotates (flags content, does not block it) also passes."
ABUSE_MONITORING_NOTE = (
    "Abuse monitoring is set per account (Foundry resource), not per deployment, and the built-in guardrail "
    "initiative has no control for it: see each account's settings on the Security posture tab."
)
KEPT_NOTE = (
    "These requirements were set outside fcdesk in a way the wizard cannot express. "
    "They are kept as assigned."
)
EVALUATION_DELAY_NOTE = "Azure Policy takes up to 30 minutes to show results after the policy is {verb}."
CHECKING_RIGHTS = "Checking your permissions…"
WHAT_IF_NAME = "What-if (not saved)"  #: the name of a policy only tried out


class PageId(enum.IntEnum):
    """The wizard's pages, in order."""

    CONTROLS = 0
    SCOPE = 1
    EXCEPTIONS = 2
    NAME = 3
    REVIEW = 4


def threshold_text(severity: Severity) -> str:
    """A minimum threshold as people read it: "Blocks ≥ Medium" (never the REST word alone)."""
    return f"Blocks ≥ {severity.rest}" + (" (strictest)" if severity is Severity.LOW else "")


def copy_draft(draft: PolicyDraft) -> PolicyDraft:
    """A copy whose lists can change without touching ``draft`` (the existing policy is shared)."""
    return dataclasses.replace(
        draft, choices=list(draft.choices), kept=list(draft.kept), exceptions=list(draft.exceptions)
    )


def merge_choice(
    choices: Sequence[ControlChoice], new: ControlChoice, *, replacing: int | None = None
) -> tuple[list[ControlChoice], list[str]]:
    """Add ``new`` to ``choices``; one requirement per (filter, source) in the result.

    ``replacing``: the index of the choice being edited (removed, ``new`` takes its place). A choice
    of the same filter on an overlapping source is replaced, or keeps only its other source.
    Returns the new list and a plain line per replaced choice.
    """
    out: list[ControlChoice] = []
    replaced: list[str] = []
    position: int | None = None
    for index, choice in enumerate(choices):
        overlap = [s for s in choice.sources if s in new.sources]
        if index == replacing:
            position = len(out) if position is None else position
            continue
        if choice.name != new.name or not overlap:
            out.append(choice)
            continue
        rest = tuple(s for s in choice.sources if s not in new.sources)
        if rest:  # what remains of it stays first, the new choice follows
            out.append(ControlChoice(choice.name, rest, choice.threshold, choice.blocking))
            replaced.append(f"the {source_text(overlap)} part of {choice.label}: {choice.text}")
        else:
            replaced.append(f"{choice.label}: {choice.text}")
        position = len(out) if position is None else position
    out.insert(len(out) if position is None else position, new)
    return out, replaced


def _form_label(text: str, buddy: QWidget) -> QLabel:
    """A form label with a keyboard mnemonic (Alt+letter focuses ``buddy``); plain text."""
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setBuddy(buddy)
    return label


def _row(*widgets: QWidget, stretch: bool = True) -> QHBoxLayout:
    lay = QHBoxLayout()
    lay.setContentsMargins(0, 0, 0, 0)
    for widget in widgets:
        lay.addWidget(widget)
    if stretch:
        lay.addStretch(1)
    return lay


def _busy_bar(name: str, accessible: str) -> QProgressBar:
    bar = QProgressBar()
    bar.setObjectName(name)
    bar.setAccessibleName(accessible)
    bar.setRange(0, 0)
    bar.setTextVisible(False)
    bar.setMaximumWidth(120)
    bar.setVisible(False)
    return bar


def _small_table(table: DataTable, rows: int) -> None:
    """A table a few rows high that still grows with the page."""
    table.setMinimumHeight(
        table.horizontalHeader().sizeHint().height() + rows * table.verticalHeader().defaultSectionSize() + 4
    )


# ------------------------------------------------------------------------------------ the inventory


class ScopeIndex:
    """Subscriptions, resource groups and deployment counts of an inventory, for the scope choice.

    Built once per wizard (one pass over the deployments); the inventory never changes.
    """

    def __init__(self, inventory: Inventory) -> None:
        self.inventory = inventory
        self._subs: dict[str, str] = {}  # lower id -> id as first seen
        self._rgs: dict[str, dict[str, str]] = {}  # lower sub -> lower rg -> rg name
        self._counts: dict[tuple[str, str], int] = {}
        for sub in inventory.subscriptions.values():
            self.add_subscription(sub.subscription_id)
        for rg in inventory.resource_groups.values():
            self.add_resource_group(rg.subscription_id, rg.name)
        for acct in inventory.accounts.values():
            self.add_resource_group(acct.subscription_id, acct.resource_group)
        for dep in inventory.deployments:
            key = self.add_resource_group(dep.subscription_id, dep.resource_group)
            self._counts[key] = self._counts.get(key, 0) + 1

    def add_subscription(self, subscription_id: str) -> None:
        self._subs.setdefault(subscription_id.lower(), subscription_id)
        self._rgs.setdefault(subscription_id.lower(), {})

    def add_resource_group(self, subscription_id: str, name: str) -> tuple[str, str]:
        self.add_subscription(subscription_id)
        self._rgs[subscription_id.lower()].setdefault(name.lower(), name)
        return subscription_id.lower(), name.lower()

    def subscriptions(self) -> list[str]:
        """Subscription ids, by display name."""
        return sorted(self._subs.values(), key=lambda s: (self.subscription_name(s).casefold(), s.lower()))

    def subscription_name(self, subscription_id: str) -> str:
        return self.inventory.subscription_name(subscription_id)

    def subscription_label(self, subscription_id: str) -> str:
        name = self.subscription_name(subscription_id)
        return subscription_id if name.lower() == subscription_id.lower() else f"{name} ({subscription_id})"

    def resource_groups(self, subscription_id: str) -> list[str]:
        return sorted(self._rgs.get(subscription_id.lower(), {}).values(), key=str.casefold)

    def count(self, subscription_id: str, resource_group: str | None = None) -> int:
        sub = subscription_id.lower()
        if resource_group is not None:
            return self._counts.get((sub, resource_group.lower()), 0)
        return sum(n for (s, _rg), n in self._counts.items() if s == sub)

    def scope_phrase(self, scope: str) -> str:
        """A scope in a sentence: 'subscription Contoso Prod', 'resource group rg-a (subscription …)'."""
        sub = id_segment(scope, "subscriptions") or ""
        rg = id_segment(scope, "resourceGroups")
        name = self.subscription_name(sub)
        return f"resource group {rg} (subscription {name})" if rg else f"subscription {name}"


# ------------------------------------------------------------------------------------ page 1


class ControlsPage(QWizardPage):
    """Page 1: "Add control" from the catalogue, the controls added, kept requirements, allowed modes."""

    def __init__(self, wizard: PolicyWizard) -> None:
        super().__init__(wizard)
        self.dialog = wizard
        self.setObjectName("controlsPage")
        self.setTitle("Controls")
        self.setSubTitle(
            "Choose the minimum controls that every model deployment in scope must have; "
            "a deployment that misses one is reported as a violation."
        )
        self._editing: int | None = None
        draft = wizard.draft

        # -- the "add a control" form
        self.add_box = QGroupBox("Add a control", self)
        self.add_box.setObjectName("addControlBox")
        form = QFormLayout(self.add_box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.filter_combo = QComboBox(self.add_box)
        self.filter_combo.setObjectName("filterCombo")
        self.filter_combo.setAccessibleName("Filter")
        for name, label in CHOICES:
            self.filter_combo.addItem(label, name)
        for choice in draft.choices:  # a control set outside the wizard's offer (Spotlighting) stays editable
            if self.filter_combo.findData(choice.name) < 0:
                self.filter_combo.addItem(CONTROL_BY_KEY[choice.keys[0]].label, choice.name)
        form.addRow(_form_label("&Filter:", self.filter_combo), self.filter_combo)
        self.prompt_check = QCheckBox("&Prompt", self.add_box)
        self.prompt_check.setObjectName("promptCheck")
        self.prompt_check.setAccessibleName("Applies to the prompt")
        self.completion_check = QCheckBox("C&ompletion", self.add_box)
        self.completion_check.setObjectName("completionCheck")
        self.completion_check.setAccessibleName("Applies to the completion")
        form.addRow(PlainLabel("Sources:", wrap=False), _row(self.prompt_check, self.completion_check))
        self.threshold_combo = QComboBox(self.add_box)
        self.threshold_combo.setObjectName("thresholdCombo")
        self.threshold_combo.setAccessibleName("Minimum threshold")
        for sev in (Severity.HIGH, Severity.MEDIUM, Severity.LOW):
            self.threshold_combo.addItem(threshold_text(sev), sev)
        self.threshold_combo.setCurrentIndex(self.threshold_combo.findData(Severity.MEDIUM))
        self.threshold_label = _form_label("Minimum &threshold:", self.threshold_combo)
        form.addRow(self.threshold_label, self.threshold_combo)
        self.threshold_help = PlainLabel(THRESHOLD_EXPLAINED, muted=True)
        self.threshold_help.setObjectName("thresholdHelp")
        form.addRow(self.threshold_help)
        self.blocking_check = QCheckBox("Blocking &required", self.add_box)
        self.blocking_check.setObjectName("blockingCheck")
        self.blocking_check.setChecked(True)
        self.blocking_check.setToolTip(BLOCKING_EXPLAINED)
        form.addRow(self.blocking_check)
        form.addRow(PlainLabel(BLOCKING_EXPLAINED, muted=True))
        self.add_button = QPushButton("&Add control", self.add_box)
        self.add_button.setObjectName("addControlButton")
        self.add_button.setToolTip("Add this control to the policy (Enter)")
        self.stop_edit_button = QPushButton("Stop editin&g", self.add_box)
        self.stop_edit_button.setObjectName("stopEditButton")
        self.stop_edit_button.setVisible(False)
        form.addRow(_row(self.add_button, self.stop_edit_button))
        self.note_label = PlainLabel("", muted=True)
        self.note_label.setObjectName("controlNote")
        form.addRow(self.note_label)
        self.add_box.setMinimumWidth(340)
        self.add_box.setMaximumWidth(420)
        self._threshold_row = form.getWidgetPosition(self.threshold_combo)[0]

        # -- the controls added
        self.model: RowTableModel[ControlChoice] = RowTableModel(
            [
                Column("Control", lambda c: c.label, width=320),
                Column("Requirement", lambda c: c.text),
            ],
            self,
        )
        self.table = DataTable(self.model, self, object_name="controlsTable")
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAccessibleName("Controls in this policy")
        remove_action = QAction("Remove control", self.table)
        remove_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Delete))
        remove_action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        remove_action.triggered.connect(self.remove_selected)
        self.table.addAction(remove_action)
        self.edit_button = QPushButton("&Edit", self)
        self.edit_button.setObjectName("editControlButton")
        self.edit_button.setToolTip("Load the selected control into the form (or double-click it)")
        self.remove_button = QPushButton("Re&move", self)
        self.remove_button.setObjectName("removeControlButton")
        self.remove_button.setToolTip("Remove the selected control (Delete)")
        self.kept_box = QGroupBox("Kept as assigned", self)
        self.kept_box.setObjectName("keptBox")
        kept = QVBoxLayout(self.kept_box)
        self.kept_label = PlainLabel("")
        self.kept_label.setObjectName("keptRequirements")
        kept.addWidget(self.kept_label)
        kept.addWidget(PlainLabel(KEPT_NOTE, muted=True))

        right = QVBoxLayout()
        right.setContentsMargins(0, 0, 0, 0)
        right.addWidget(_form_label("Contro&ls in this policy:", self.table))
        right.addWidget(self.table, 1)
        right.addLayout(_row(self.edit_button, self.remove_button))
        right.addWidget(self.kept_box)

        # -- modes
        self.mode_box = QGroupBox("Allowed guardrail modes", self)
        self.mode_box.setObjectName("modeBox")
        modes = QVBoxLayout(self.mode_box)
        self.mode_group = QButtonGroup(self)
        self.mode_any = QRadioButton("An&y mode", self.mode_box)
        self.mode_any.setObjectName("modeAny")
        self.mode_default = QRadioButton("Defa&ult only", self.mode_box)
        self.mode_default.setObjectName("modeDefault")
        self.mode_async = QRadioButton(f"&{Mode.ASYNC.label} only", self.mode_box)
        self.mode_async.setObjectName("modeAsync")
        self.mode_kept = QRadioButton("", self.mode_box)
        self.mode_kept.setObjectName("modeKept")
        self.mode_kept.setAccessibleName("Modes kept as assigned")
        # Both modes allowed is not "any mode": the mode is still checked (an unset or unknown
        # mode fails), so an assignment's "Default or Streaming" is kept as assigned.
        self._kept_modes = draft.modes
        for i, radio in enumerate((self.mode_any, self.mode_default, self.mode_async, self.mode_kept)):
            self.mode_group.addButton(radio, i)
        modes.addLayout(_row(self.mode_any, self.mode_default, self.mode_async, self.mode_kept))
        modes.addWidget(
            PlainLabel(
                f"{Mode.ASYNC.label} lets content stream to the user before the filters have judged it; "
                f"{Mode.DEFAULT.label} holds it until they have.",
                muted=True,
            )
        )

        self.problem_label = PlainLabel("", muted=True)
        self.problem_label.setObjectName("controlsProblem")
        self.abuse_note = PlainLabel(ABUSE_MONITORING_NOTE, muted=True)
        self.abuse_note.setObjectName("abuseMonitoringNote")

        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.add_box)
        top.addLayout(right, 1)
        outer = QVBoxLayout(self)
        outer.addLayout(top, 1)
        outer.addWidget(self.mode_box)
        outer.addWidget(self.abuse_note)
        outer.addWidget(self.problem_label)

        # -- state
        self._set_mode_radio(draft.modes)
        self.filter_combo.currentIndexChanged.connect(self._on_filter_changed)
        for widget in (self.prompt_check, self.completion_check, self.blocking_check):
            widget.toggled.connect(self._form_changed)
        self.threshold_combo.currentIndexChanged.connect(self._form_changed)
        self.add_button.clicked.connect(self.add_control)
        self.stop_edit_button.clicked.connect(self.stop_editing)
        self.edit_button.clicked.connect(self.edit_selected)
        self.remove_button.clicked.connect(self.remove_selected)
        self.table.doubleClicked.connect(lambda _index: self.edit_selected())
        self.table.currentRowObjectChanged.connect(lambda _row: self._selection_changed())
        self.mode_group.idToggled.connect(self._on_mode_toggled)
        self._on_filter_changed()
        self._refresh()

    # -------------------------------------------------------------------------------- the form

    def filter_name(self) -> str:
        return str(self.filter_combo.currentData())

    def set_filter(self, name: str) -> None:
        self.filter_combo.setCurrentIndex(max(self.filter_combo.findData(name), 0))

    def set_threshold(self, severity: Severity) -> None:
        self.threshold_combo.setCurrentIndex(self.threshold_combo.findData(severity))

    def _source_checks(self) -> dict[str, QCheckBox]:
        return {PROMPT: self.prompt_check, COMPLETION: self.completion_check}

    def form_choice(self) -> ControlChoice | None:
        """The control the form describes, or None when no source is chosen."""
        name = self.filter_name()
        checks = self._source_checks()
        sources = tuple(s for s in sources_of(name) if checks[s].isChecked())
        if not sources:
            return None
        threshold = self.threshold_combo.currentData() if self._is_severity(name) else None
        return ControlChoice(name, sources, threshold, self.blocking_check.isChecked())

    @staticmethod
    def _is_severity(name: str) -> bool:
        return CONTROL_BY_KEY[(name, sources_of(name)[0])].kind is ControlKind.SEVERITY

    def _on_filter_changed(self, *_: object) -> None:
        name = self.filter_name()
        available = sources_of(name)
        label = self.filter_combo.currentText()
        for source, check in self._source_checks().items():
            exists = source in available
            check.blockSignals(True)
            check.setChecked(exists)
            check.blockSignals(False)
            check.setEnabled(exists and len(available) > 1)
            only = f"{label} exists on the {source_text(available)} only."
            check.setToolTip("" if len(available) > 1 else only)
        form = self.add_box.layout()
        assert isinstance(form, QFormLayout)
        harm = self._is_severity(name)
        form.setRowVisible(self._threshold_row, harm)
        form.setRowVisible(self._threshold_row + 1, harm)
        self._form_changed()

    def _form_changed(self, *_: object) -> None:
        choice = self.form_choice()
        self.add_button.setEnabled(choice is not None)
        if choice is None:
            self.note_label.setText("Choose at least one source.")
            return
        _merged, replaced = merge_choice(self.dialog.draft.choices, choice, replacing=self._editing)
        kept = [r for r in self.dialog.draft.kept if r.key in choice.keys]
        notes = [f"Adding replaces {line}." for line in replaced]
        notes += [f"Adding replaces the requirement kept as assigned for {r.control.label}." for r in kept]
        self.note_label.setText(" ".join(notes))

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        """Enter in the "Add a control" form adds the control (elsewhere it means Next)."""
        focus = QApplication.focusWidget()
        if (
            event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
            and focus is not None
            and self.add_box.isAncestorOf(focus)
            and self.add_button.isEnabled()
        ):
            self.add_control()
            event.accept()
            return
        super().keyPressEvent(event)

    # -------------------------------------------------------------------------------- the list

    def add_control(self) -> None:
        """Add (or, while editing, update) the control in the form; overlapping ones are replaced."""
        choice = self.form_choice()
        if choice is None:
            return
        draft = self.dialog.draft
        draft.choices, replaced = merge_choice(draft.choices, choice, replacing=self._editing)
        dropped = [r for r in draft.kept if r.key in choice.keys]
        draft.kept = [r for r in draft.kept if r.key not in choice.keys]
        verb = "Updated" if self._editing is not None else "Added"
        notes = [f"{verb} {choice.label}: {choice.text}."]
        notes += [f"Replaced {line}." for line in replaced]
        notes += [f"Replaced the requirement kept as assigned for {r.control.label}." for r in dropped]
        self._editing = None
        self._refresh()
        self.table.select_row_object(lambda c: c == choice)
        self.note_label.setText(" ".join(notes))
        self.dialog.draftChanged.emit()

    def edit_selected(self) -> None:
        """Load the selected control into the form; "Update control" then replaces it."""
        choice = self.table.current_row_object()
        if not isinstance(choice, ControlChoice):
            return
        self._editing = self.dialog.draft.choices.index(choice)
        self.set_filter(choice.name)
        for source, check in self._source_checks().items():
            check.setChecked(source in choice.sources)
        if choice.threshold is not None:
            self.set_threshold(choice.threshold)
        self.blocking_check.setChecked(choice.blocking)
        self.add_button.setText("&Update control")
        self.stop_edit_button.setVisible(True)
        self._form_changed()
        self.filter_combo.setFocus(Qt.FocusReason.OtherFocusReason)

    def stop_editing(self) -> None:
        self._editing = None
        self.add_button.setText("&Add control")
        self.stop_edit_button.setVisible(False)
        self._form_changed()

    def remove_selected(self) -> None:
        choice = self.table.current_row_object()
        if not isinstance(choice, ControlChoice):
            return
        draft = self.dialog.draft
        index = draft.choices.index(choice)
        del draft.choices[index]
        if self._editing is not None:
            self._editing = None if self._editing == index else self._editing - (self._editing > index)
        self._refresh()
        if draft.choices:
            self.table.select_row_object(lambda c: c == draft.choices[min(index, len(draft.choices) - 1)])
        self.note_label.setText(f"Removed {choice.label}.")
        self.dialog.draftChanged.emit()

    def _selection_changed(self) -> None:
        selected = isinstance(self.table.current_row_object(), ControlChoice)
        self.edit_button.setEnabled(selected)
        self.remove_button.setEnabled(selected)

    def _refresh(self) -> None:
        draft = self.dialog.draft
        self.model.set_rows(draft.choices)
        if self._editing is None:
            self.add_button.setText("&Add control")
            self.stop_edit_button.setVisible(False)
        self.kept_box.setVisible(bool(draft.kept))
        self.kept_label.setText("\n".join(f"{r.control.label}: {r.text}" for r in draft.kept))
        self._selection_changed()
        self._form_changed()
        self._complete_changed()

    def _complete_changed(self) -> None:
        self.problem_label.setText(
            "" if self.isComplete() else "Add at least one control, or allow only some guardrail modes."
        )
        self.completeChanged.emit()

    # -------------------------------------------------------------------------------- modes

    def _set_mode_radio(self, modes: frozenset[Mode] | None) -> None:
        expressible = {None: self.mode_any, frozenset({Mode.DEFAULT}): self.mode_default}
        expressible[frozenset({Mode.ASYNC})] = self.mode_async
        radio = expressible.get(modes)
        self.mode_kept.setVisible(radio is None)
        if radio is None:
            shown = ", ".join(m.label for m in sorted(modes or (), key=lambda m: m.strictness)) or "none"
            self.mode_kept.setText(f"As assigned (&kept): {shown}")
            radio = self.mode_kept
        radio.setChecked(True)

    def _on_mode_toggled(self, button_id: int, checked: bool) -> None:
        if not checked:
            return
        draft = self.dialog.draft
        draft.modes = (None, frozenset({Mode.DEFAULT}), frozenset({Mode.ASYNC}), self._kept_modes)[button_id]
        self._complete_changed()
        self.dialog.draftChanged.emit()

    def isComplete(self) -> bool:  # noqa: N802 - Qt override
        draft = self.dialog.draft
        return bool(draft.choices or draft.kept or draft.modes is not None)


# ------------------------------------------------------------------------------------ page 2


class RightsState(enum.Enum):
    NOT_CHECKED = "not checked"  #: no rights callback: the window checks before writing
    CHECKING = "checking"
    ALLOWED = "allowed"
    DENIED = "denied"
    FAILED = "failed"  #: the check itself failed: Next stays possible, the write re-checks


class ScopePage(QWizardPage):
    """A subscription, or a resource group in it; the deployments covered; the caller's rights."""

    def __init__(self, wizard: PolicyWizard) -> None:
        super().__init__(wizard)
        self.dialog = wizard
        self.setObjectName("scopePage")
        self.setTitle("Scope")
        self.setSubTitle(
            "Choose where the policy applies: a whole subscription for broad governance, "
            "or one resource group in it for targeted governance."
        )
        self.index = wizard.scope_index
        self.rights_state = RightsState.NOT_CHECKED
        self._rights_cache: dict[str, Rights] = {}
        self._task: asyncio.Task[None] | None = None

        self.subscription_combo = QComboBox(self)
        self.subscription_combo.setObjectName("subscriptionCombo")
        self.subscription_combo.setAccessibleName("Subscription")
        self.subscription_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.subscription_combo.setMinimumContentsLength(40)
        self.whole_radio = QRadioButton("&Whole subscription", self)
        self.whole_radio.setObjectName("wholeSubscription")
        self.rg_radio = QRadioButton("A &resource group in it:", self)
        self.rg_radio.setObjectName("resourceGroupRadio")
        self.kind_group = QButtonGroup(self)
        self.kind_group.addButton(self.whole_radio, 0)
        self.kind_group.addButton(self.rg_radio, 1)
        self.rg_list = QListWidget(self)
        self.rg_list.setObjectName("resourceGroupList")
        self.rg_list.setAccessibleName("Resource groups")
        self.rg_list.setUniformItemSizes(True)
        self.count_label = PlainLabel("")
        self.count_label.setObjectName("scopeCount")
        self.move_warning = Banner(BannerKind.WARNING, self)
        self.move_warning.setObjectName("scopeMoveWarning")
        self.rights_busy = _busy_bar("rightsBusy", "Checking your permissions")
        self.rights_label = PlainLabel("")
        self.rights_label.setObjectName("rightsStatus")
        self.recheck_button = QPushButton("Check &again", self)
        self.recheck_button.setObjectName("recheckRightsButton")
        self.recheck_button.setVisible(False)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow(_form_label("S&ubscription:", self.subscription_combo), self.subscription_combo)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.whole_radio)
        lay.addWidget(self.rg_radio)
        indented = QHBoxLayout()
        indented.setContentsMargins(24, 0, 0, 0)  # under its radio button
        indented.addWidget(self.rg_list)
        lay.addLayout(indented, 1)
        lay.addWidget(self.count_label)
        lay.addWidget(self.move_warning)
        rights = QHBoxLayout()
        rights.setContentsMargins(0, 0, 0, 0)
        rights.addWidget(self.rights_busy)
        rights.addWidget(self.rights_label, 1)
        rights.addWidget(self.recheck_button)
        lay.addLayout(rights)

        for sub in self.index.subscriptions():
            self.subscription_combo.addItem(self.index.subscription_label(sub), sub)
        self._select_initial(wizard.initial_scope)
        self.subscription_combo.currentIndexChanged.connect(self._on_subscription_changed)
        self.kind_group.idToggled.connect(self._on_kind_toggled)
        self.rg_list.currentItemChanged.connect(lambda *_: self._on_rg_picked())
        self.rg_list.itemClicked.connect(lambda _item: self._on_rg_picked())
        self.recheck_button.clicked.connect(lambda: self._check_rights(force=True))
        self._scope_changed()

    # -------------------------------------------------------------------------------- choosing

    def _select_initial(self, scope: str) -> None:
        sub = id_segment(scope, "subscriptions") if scope else None
        rg = id_segment(scope, "resourceGroups") if scope else None
        if sub and self.subscription_combo.findData(sub) < 0:
            known = [s for s in self.index.subscriptions() if s.lower() == sub.lower()]
            if not known:  # e.g. an edited policy's subscription that was not read
                self.index.add_subscription(sub)
                self.subscription_combo.addItem(self.index.subscription_label(sub), sub)
            sub = known[0] if known else sub
        if sub:
            self.subscription_combo.setCurrentIndex(self.subscription_combo.findData(sub))
        if rg and not any(r.lower() == rg.lower() for r in self.index.resource_groups(self.subscription())):
            self.index.add_resource_group(self.subscription(), rg)
        self._fill_resource_groups()
        if rg:
            self.select_resource_group(rg)
        else:
            self.whole_radio.setChecked(True)

    def subscription(self) -> str:
        return str(self.subscription_combo.currentData() or "")

    def set_subscription(self, subscription_id: str) -> None:
        for i in range(self.subscription_combo.count()):
            if str(self.subscription_combo.itemData(i)).lower() == subscription_id.lower():
                self.subscription_combo.setCurrentIndex(i)
                return

    def select_resource_group(self, name: str) -> None:
        """Choose a resource group of the current subscription as the scope."""
        for i in range(self.rg_list.count()):
            item = self.rg_list.item(i)
            if str(item.data(Qt.ItemDataRole.UserRole)).lower() == name.lower():
                self.rg_list.setCurrentItem(item)
                self.rg_radio.setChecked(True)
                return

    def select_whole_subscription(self) -> None:
        self.whole_radio.setChecked(True)

    def current_scope(self) -> str:
        """The scope chosen ("" when a resource group is wanted but none is selected)."""
        sub = self.subscription()
        if not sub:
            return ""
        if self.whole_radio.isChecked():
            return subscription_scope(sub)
        item = self.rg_list.currentItem()
        return rg_scope(sub, str(item.data(Qt.ItemDataRole.UserRole))) if item is not None else ""

    def _fill_resource_groups(self) -> None:
        sub = self.subscription()
        self.rg_list.blockSignals(True)
        self.rg_list.clear()
        for rg in self.index.resource_groups(sub):
            item = QListWidgetItem(f"{rg}  ·  {plural(self.index.count(sub, rg), 'deployment')}")
            item.setData(Qt.ItemDataRole.UserRole, rg)
            self.rg_list.addItem(item)
        self.rg_list.blockSignals(False)
        self.rg_radio.setEnabled(self.rg_list.count() > 0)

    def _on_subscription_changed(self, *_: object) -> None:
        self._fill_resource_groups()
        if self.rg_radio.isChecked() and self.rg_list.count():
            self.rg_list.setCurrentRow(0)
        else:
            self.whole_radio.setChecked(True)
        self._scope_changed()

    def _on_kind_toggled(self, button_id: int, checked: bool) -> None:
        if not checked:
            return
        if button_id == 0:
            self.rg_list.blockSignals(True)
            self.rg_list.setCurrentRow(-1)
            self.rg_list.clearSelection()
            self.rg_list.blockSignals(False)
        elif self.rg_list.currentItem() is None and self.rg_list.count():
            self.rg_list.blockSignals(True)
            self.rg_list.setCurrentRow(0)
            self.rg_list.blockSignals(False)
        self._scope_changed()

    def _on_rg_picked(self) -> None:
        if self.rg_list.currentItem() is not None and not self.rg_radio.isChecked():
            self.rg_radio.setChecked(True)  # toggling calls _scope_changed
        else:
            self._scope_changed()

    def _scope_changed(self) -> None:
        scope = self.current_scope()
        self.dialog.set_scope(scope)
        draft = self.dialog.draft
        if scope:
            sub, rg = draft.subscription_id, draft.resource_group
            count = self.index.count(sub, rg)
            where = self.index.scope_phrase(scope)
            self.count_label.setText(f"{plural(count, 'model deployment')} in {where}, in the data in hand.")
        elif self.subscription():
            self.count_label.setText("Choose a resource group.")
        else:
            self.count_label.setText(
                "There is no subscription in the data in hand: sign in and refresh first."
            )
        if draft.scope_changed and draft.existing is not None:
            self.move_warning.show_message(self.dialog.move_warning_text())
        else:
            self.move_warning.clear()
        self._check_rights()

    # -------------------------------------------------------------------------------- rights

    def _check_rights(self, *, force: bool = False) -> None:
        """Show the caller's rights at the chosen scope; ask the callback (async) when not known."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = None
        scope = self.current_scope()
        if self.dialog.rights is None or not scope:
            self._show_rights(RightsState.NOT_CHECKED)
            return
        if force:
            self._rights_cache.pop(idkey(scope), None)
        known = self._rights_cache.get(idkey(scope))
        if known is not None:
            self._show_rights(RightsState.ALLOWED if known.allowed else RightsState.DENIED, known.reason)
            return
        self._show_rights(RightsState.CHECKING)
        self._task = asyncio.ensure_future(self._ask_rights(scope))

    async def _ask_rights(self, scope: str) -> None:
        rights_check = self.dialog.rights
        assert rights_check is not None
        try:
            rights = await rights_check(scope)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - shown as plain text; the write checks again
            if idkey(scope) == idkey(self.current_scope()):
                self._show_rights(RightsState.FAILED, str(exc).strip() or type(exc).__name__)
            return
        current = idkey(scope) == idkey(self.current_scope())
        if rights is None:  # the caller cannot tell (signed out): the write checks again
            if current:
                self._show_rights(RightsState.NOT_CHECKED)
            return
        if not getattr(rights, "checked", True):  # the permissions could not be read: not cached
            if current:
                self._show_rights(RightsState.FAILED, rights.reason)
            return
        self._rights_cache[idkey(scope)] = rights
        self.dialog.rightsChecked.emit(scope, rights)
        if current:
            self._show_rights(RightsState.ALLOWED if rights.allowed else RightsState.DENIED, rights.reason)

    def _show_rights(self, state: RightsState, detail: str = "") -> None:
        self.rights_state = state
        phrase = self.index.scope_phrase(self.current_scope()) if self.current_scope() else ""
        verb = "edit" if self.dialog.editing else "create"
        text = {
            RightsState.NOT_CHECKED: "",
            RightsState.CHECKING: CHECKING_RIGHTS,
            RightsState.ALLOWED: f"You can {verb} guardrail policies on {phrase}.",
            RightsState.DENIED: f"You need {POLICY_ROLES_TEXT} on {phrase} to {verb} guardrail policies.",
            RightsState.FAILED: "Could not check your permissions: Azure refuses the change without them.",
        }[state]
        if detail and state in (RightsState.DENIED, RightsState.FAILED) and detail not in text:
            text += f"\n{detail}"
        self.rights_label.setText(text)
        self.rights_busy.setVisible(state is RightsState.CHECKING)
        self.recheck_button.setVisible(state in (RightsState.DENIED, RightsState.FAILED))
        self.completeChanged.emit()

    def cancel_tasks(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()

    @property
    def busy(self) -> bool:
        return self._task is not None and not self._task.done()

    def isComplete(self) -> bool:  # noqa: N802 - Qt override
        waiting = self.rights_state in (RightsState.CHECKING, RightsState.DENIED)
        return bool(self.current_scope()) and not waiting


# ------------------------------------------------------------------------------------ page 3


@dataclass(frozen=True, slots=True)
class ExceptionCandidate:
    """A deployment or resource group that can be excepted from the policy (a ``notScopes`` entry)."""

    id: str
    kind: str  #: "Deployment", "Resource group", or what another kept exception is
    name: str
    account: str = ""
    resource_group: str = ""
    details: str = ""  #: a deployment's model; a resource group's number of deployments
    group_key: str = ""  #: the id key of the resource group holding it ("" for a resource group)

    @property
    def key(self) -> str:
        return idkey(self.id)


def _group_key(arm_id: str) -> str:
    sub, rg = id_segment(arm_id, "subscriptions"), id_segment(arm_id, "resourceGroups")
    return idkey(rg_scope(sub, rg)) if sub and rg else ""


_CHECK_ROLE = int(Qt.ItemDataRole.CheckStateRole)
_Index = QModelIndex | QPersistentModelIndex


class ExceptionModel(RowTableModel[ExceptionCandidate]):
    """Exception candidates, checkable in the first column. The chosen set outlives filtering and
    row resets: it is kept by id, not by row. A deployment whose resource group is chosen is shown in
    italics: it is excepted with it.

    Signals:
        chosenChanged(): a check box was set or cleared.
    """

    chosenChanged = Signal()

    def __init__(self, parent: Any = None) -> None:
        super().__init__(
            [
                Column("Name", lambda r: r.name, width=260, tooltip=self._tooltip, italic=self.covered),
                Column("Type", lambda r: r.kind, width=120, italic=self.covered),
                Column("Account", lambda r: r.account, width=180, italic=self.covered),
                Column("Resource group", lambda r: r.resource_group, width=180, italic=self.covered),
                Column("Details", lambda r: r.details, italic=self.covered),
            ],
            parent,
        )
        self._chosen: set[str] = set()

    def chosen(self) -> set[str]:
        return set(self._chosen)

    def is_chosen(self, row: ExceptionCandidate) -> bool:
        return row.key in self._chosen

    def covered(self, row: ExceptionCandidate) -> bool:
        """Not chosen itself, but excepted because its resource group is."""
        return bool(row.group_key) and row.group_key in self._chosen and row.key not in self._chosen

    def _tooltip(self, row: ExceptionCandidate) -> str:
        return row.id + ("\nExcepted with its resource group." if self.covered(row) else "")

    def set_chosen(self, rows: Iterable[ExceptionCandidate], chosen: bool) -> None:
        keys = {r.key for r in rows}
        before = set(self._chosen)
        if chosen:
            self._chosen |= keys
        else:
            self._chosen -= keys
        if self._chosen != before:
            self._changed_all()

    def set_chosen_keys(self, keys: Iterable[str]) -> None:
        self._chosen = {idkey(k) for k in keys}
        self._changed_all()

    def _changed_all(self) -> None:
        if self.rowCount():
            self.dataChanged.emit(self.index(0, 0), self.index(self.rowCount() - 1, 0), [_CHECK_ROLE])
        self.chosenChanged.emit()

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == _CHECK_ROLE and index.isValid() and index.column() == 0:
            checked = self.row_at(index.row()).key in self._chosen
            return Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked
        return super().data(index, role)

    def setData(self, index: _Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:  # noqa: N802
        if role != _CHECK_ROLE or not index.isValid() or index.column() != 0:
            return False
        key = self.row_at(index.row()).key
        if Qt.CheckState(value) == Qt.CheckState.Checked:
            self._chosen.add(key)
        else:
            self._chosen.discard(key)
        self.dataChanged.emit(index, index, [_CHECK_ROLE])
        self.chosenChanged.emit()
        return True

    def flags(self, index: _Index) -> Qt.ItemFlag:
        flags = super().flags(index)
        return flags | Qt.ItemFlag.ItemIsUserCheckable if index.isValid() and index.column() == 0 else flags


class CheckProxy(FastSortFilterProxy):
    """The fast proxy, except that a check box change repaints instead of re-filtering: the current
    row, the selection and the scroll position stay where the keyboard left them. Every row repaints
    (a resource group's check box changes how its deployments look)."""

    def _on_source_data_changed(self, top: QModelIndex, bottom: QModelIndex, roles: list[int] = ()) -> None:  # type: ignore[assignment]
        if list(roles) == [_CHECK_ROLE]:
            if self.rowCount():
                last = self.index(self.rowCount() - 1, self.columnCount() - 1)
                self.dataChanged.emit(self.index(0, 0), last)
            return
        super()._on_source_data_changed(top, bottom, roles)


class CheckTable(QTableView):
    """A sortable table over :class:`ExceptionModel`; Space checks or clears the selected rows."""

    def __init__(self, model: ExceptionModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.source_model = model
        self.proxy = CheckProxy(self)
        self.proxy.setSourceModel(model)
        self.setModel(self.proxy)
        self.setSortingEnabled(True)
        self.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        vh = self.verticalHeader()
        vh.setVisible(False)
        vh.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vh.setDefaultSectionSize(self.fontMetrics().height() + 10)
        self.horizontalHeader().setStretchLastSection(True)
        self.horizontalHeader().setHighlightSections(False)
        for i, col in enumerate(model.columns):
            if col.width:
                self.setColumnWidth(i, col.width)

    def selected_rows(self) -> list[ExceptionCandidate]:
        sel = self.selectionModel()
        rows = sorted({i.row() for i in sel.selectedRows()}) if sel is not None else []
        if not rows and self.currentIndex().isValid():
            rows = [self.currentIndex().row()]
        return [self.proxy.row_object(r) for r in rows]

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        if event.key() == Qt.Key.Key_Space and event.modifiers() == Qt.KeyboardModifier.NoModifier:
            rows = self.selected_rows()
            if rows:
                model = self.source_model
                model.set_chosen(rows, not all(model.is_chosen(r) for r in rows))
                event.accept()
                return
        super().keyPressEvent(event)


class ExceptionsPage(QWizardPage):
    """Deployments (and resource groups of a subscription scope) to except: searchable, checkable."""

    def __init__(self, wizard: PolicyWizard) -> None:
        super().__init__(wizard)
        self.dialog = wizard
        self.setObjectName("exceptionsPage")
        self.setTitle("Exceptions")
        self.setSubTitle(
            "Optionally exclude model deployments or resource groups that cannot meet the policy yet, "
            "such as test environments or legacy deployments."
        )
        self._built_for: str | None = None
        self._order: list[str] = list(wizard.draft.exceptions)  # ids, in the assignment's order

        self.model = ExceptionModel(self)
        self.table = CheckTable(self.model, self)
        self.table.setObjectName("exceptionsTable")
        self.table.setAccessibleName("Deployments and resource groups in scope")
        self.search_edit = QLineEdit(self)
        self.search_edit.setObjectName("exceptionSearch")
        self.search_edit.setPlaceholderText("Filter by name, account, resource group or model")
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.setAccessibleName("Filter exceptions")
        self.select_shown_button = QPushButton("Select all s&hown", self)
        self.select_shown_button.setObjectName("selectAllShownButton")
        self.clear_button = QPushButton("C&lear all", self)
        self.clear_button.setObjectName("clearExceptionsButton")
        self.shown_label = PlainLabel("", wrap=False, muted=True)
        self.shown_label.setObjectName("exceptionsShown")
        self.count_label = PlainLabel("", wrap=False)
        self.count_label.setObjectName("exceptionCount")
        self.dropped_note = Banner(BannerKind.WARNING, self)
        self.dropped_note.setObjectName("droppedExceptionsNote")

        lay = QVBoxLayout(self)
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(_form_label("&Search:", self.search_edit))
        top.addWidget(self.search_edit, 1)
        top.addWidget(self.shown_label)
        top.addWidget(self.select_shown_button)
        top.addWidget(self.clear_button)
        lay.addLayout(top)
        lay.addWidget(self.dropped_note)
        lay.addWidget(self.table, 1)
        lay.addWidget(self.count_label)
        lay.addWidget(
            PlainLabel(
                "Space checks or clears the selected rows. Excepting a resource group excepts every "
                "deployment in it.",
                muted=True,
            )
        )

        self.search_edit.textChanged.connect(self.table.proxy.set_filter_text)
        self.table.proxy.countChanged.connect(self._show_shown)
        self.select_shown_button.clicked.connect(
            lambda: self.model.set_chosen(self.table.proxy.visible_rows(), True)
        )
        self.clear_button.clicked.connect(lambda: self.model.set_chosen(self.model.rows(), False))
        self.model.chosenChanged.connect(self._chosen_changed)
        QWidget.setTabOrder(self.search_edit, self.select_shown_button)
        QWidget.setTabOrder(self.select_shown_button, self.clear_button)
        QWidget.setTabOrder(self.clear_button, self.table)

    def initializePage(self) -> None:  # noqa: N802 - Qt override
        scope = self.dialog.draft.scope
        if self._built_for is not None and idkey(scope) == idkey(self._built_for):
            return
        self._built_for = scope
        dropped = [e for e in self._order if not _inside(e, scope)]
        self._order = [e for e in self._order if _inside(e, scope)]
        if dropped:
            verb = "was" if len(dropped) == 1 else "were"
            self.dropped_note.show_message(
                f"{plural(len(dropped), 'exception')} outside the chosen scope {verb} dropped: "
                + "; ".join(scope_text(e) for e in dropped)
            )
        else:
            self.dropped_note.clear()
        rows = self.dialog.exception_candidates(scope)
        known = {r.key for r in rows}
        rows += [_other_candidate(e) for e in self._order if idkey(e) not in known]
        self.model.blockSignals(True)  # the chosen set is set below, once
        self.model.set_chosen_keys(self._order)
        self.model.blockSignals(False)
        self.model.set_rows(rows)
        self._chosen_changed()

    def cleanupPage(self) -> None:  # noqa: N802 - Qt override
        """Back keeps the choice (QWizard would reset the page otherwise)."""

    def _chosen_changed(self) -> None:
        chosen = self.model.chosen()
        order = [e for e in self._order if idkey(e) in chosen]
        present = {idkey(e) for e in order}
        order += [r.id for r in self.model.rows() if r.key in chosen and r.key not in present]
        self._order = order
        self.dialog.draft.exceptions = list(order)
        kinds: dict[str, int] = {}
        covered = 0
        for row in self.model.rows():
            if row.key in chosen:
                kinds[row.kind] = kinds.get(row.kind, 0) + 1
            elif self.model.covered(row):
                covered += 1
        detail = ", ".join(plural(n, kind.lower()) for kind, n in sorted(kinds.items()))
        text = f"{plural(len(order), 'exception')} chosen" + (f" ({detail})." if detail else ".")
        if covered:
            whose = "its" if covered == 1 else "their"
            text += f" {plural(covered, 'more deployment')} excepted with {whose} resource group (italics)."
        self.count_label.setText(text)
        self.dialog.draftChanged.emit()

    def _show_shown(self, shown: int, total: int) -> None:
        self.shown_label.setText(f"{shown:,} of {total:,} shown" if shown != total else plural(total, "row"))


def _inside(arm_id: str, scope: str) -> bool:
    return bool(idkey(scope)) and idkey(arm_id).startswith(idkey(scope) + "/")


def _other_candidate(arm_id: str) -> ExceptionCandidate:
    """An exception kept from the assignment that the data in hand does not list (it can be cleared)."""
    dep = id_segment(arm_id, "deployments")
    acct = id_segment(arm_id, "accounts")
    rg = id_segment(arm_id, "resourceGroups") or ""
    if dep:
        return ExceptionCandidate(
            arm_id, "Deployment", dep, acct or "", rg, "(not in the data in hand)", _group_key(arm_id)
        )
    if acct:
        return ExceptionCandidate(arm_id, "Account", acct, acct, rg, "", _group_key(arm_id))
    if rg and arm_id.rstrip("/").lower().endswith("/resourcegroups/" + rg.lower()):
        return ExceptionCandidate(arm_id, "Resource group", rg, "", rg)
    return ExceptionCandidate(arm_id, "Other", arm_id.rstrip("/").rsplit("/", 1)[-1], "", rg)


# ------------------------------------------------------------------------------------ page 4


class NamePage(QWizardPage):
    """Display name (required), description, and the assignment's resource name (read-only)."""

    def __init__(self, wizard: PolicyWizard) -> None:
        super().__init__(wizard)
        self.dialog = wizard
        self.setObjectName("namePage")
        self.setTitle("Name")
        self.setSubTitle("Name the policy as it will appear on the Policies tab and in Azure Policy.")
        draft = wizard.draft
        self.name_edit = QLineEdit(self)
        self.name_edit.setObjectName("displayNameEdit")
        self.name_edit.setAccessibleName("Display name")
        self.name_edit.setPlaceholderText("For example: Block harmful content at Medium")
        self.name_edit.setText(draft.display_name)
        self.name_counter = PlainLabel("", wrap=False, muted=True)
        self.name_counter.setObjectName("displayNameCounter")
        self.description_edit = QPlainTextEdit(self)
        self.description_edit.setObjectName("descriptionEdit")
        self.description_edit.setAccessibleName("Description")
        self.description_edit.setPlaceholderText("Optional: why the policy exists and whom to ask")
        self.description_edit.setTabChangesFocus(True)
        self.description_edit.setPlainText(draft.description)
        self.description_edit.setMaximumHeight(140)
        self.description_counter = PlainLabel("", wrap=False, muted=True)
        self.description_counter.setObjectName("descriptionCounter")
        self.assignment_label = PlainLabel("", wrap=False)
        self.assignment_label.setObjectName("assignmentName")
        self.assignment_label.setAccessibleName("Assignment name")
        self.assignment_note = PlainLabel(
            "Kept: Azure cannot rename a policy assignment."
            if wizard.editing
            else "Derived from the display name and the scope: Azure identifies the policy by it.",
            muted=True,
        )
        self.problem_label = PlainLabel("")
        self.problem_label.setObjectName("nameProblem")

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow(_form_label("&Display name:", self.name_edit), self.name_edit)
        form.addRow(PlainLabel(wrap=False), self.name_counter)
        form.addRow(_form_label("D&escription:", self.description_edit), self.description_edit)
        form.addRow(PlainLabel(wrap=False), self.description_counter)
        form.addRow(PlainLabel("Assignment name:", wrap=False), self.assignment_label)
        form.addRow(PlainLabel(wrap=False), self.assignment_note)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.problem_label)
        lay.addStretch(1)

        self.name_edit.textEdited.connect(self._name_edited)
        self.description_edit.textChanged.connect(self._description_edited)
        self._refresh()

    def initializePage(self) -> None:  # noqa: N802 - Qt override
        self._refresh()  # the scope may have changed: the derived name and collisions with it too

    def cleanupPage(self) -> None:  # noqa: N802 - Qt override
        """Back keeps the name."""

    def _name_edited(self, text: str) -> None:
        self.dialog.draft.display_name = text
        self._refresh()
        self.dialog.draftChanged.emit()

    def _description_edited(self) -> None:
        text = self.description_edit.toPlainText()
        if text != self.dialog.draft.description:
            self.dialog.draft.description = text
            self._refresh()
            self.dialog.draftChanged.emit()

    def problem(self) -> str | None:
        """Why Next is disabled on this page (plain text), or None."""
        draft = self.dialog.draft
        name = draft.display_name.strip()
        if not name:
            return "Enter a display name."
        if len(name) > DISPLAY_NAME_MAX:
            return f"The display name is longer than {DISPLAY_NAME_MAX} characters."
        if len(draft.description) > DESCRIPTION_MAX:
            return f"The description is longer than {DESCRIPTION_MAX} characters."
        return self.dialog.name_collision()

    def _refresh(self) -> None:
        draft = self.dialog.draft
        self.name_counter.setText(f"{len(draft.display_name.strip())} / {DISPLAY_NAME_MAX}")
        self.description_counter.setText(f"{len(draft.description)} / {DESCRIPTION_MAX}")
        named = bool(draft.display_name.strip() or draft.name)
        self.assignment_label.setText(draft.assignment_name if named else "")
        self.problem_label.setText(self.problem() or "")
        self.completeChanged.emit()

    def isComplete(self) -> bool:  # noqa: N802 - Qt override
        return self.problem() is None


# ------------------------------------------------------------------------------------ page 5


class ReviewPage(QWizardPage):
    """The summary and the local what-if: which deployments in scope would violate the policy."""

    def __init__(self, wizard: PolicyWizard) -> None:
        super().__init__(wizard)
        self.dialog = wizard
        self.setObjectName("reviewPage")
        self.setTitle("Review")
        verb = "save" if wizard.editing else "create"
        self.setSubTitle(
            "What this policy would report on the data in hand. Nothing is written to Azure."
            if wizard.what_if_only
            else f"Check the policy and what it would report on the data in hand, then {verb} it."
        )
        self.what_if: WhatIf | None = None
        self._task: asyncio.Task[None] | None = None
        self._generation = 0

        self.summary = QPlainTextEdit(self)
        self.summary.setObjectName("reviewSummary")
        self.summary.setAccessibleName("Policy summary")
        self.summary.setReadOnly(True)
        self.summary.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse | Qt.TextInteractionFlag.TextSelectableByKeyboard
        )
        self.summary.setTabChangesFocus(True)
        self.summary.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.copy_button = QPushButton("Copy s&ummary", self)
        self.copy_button.setObjectName("copySummaryButton")
        self.move_warning = Banner(BannerKind.WARNING, self)
        self.move_warning.setObjectName("reviewMoveWarning")
        self.headline = PlainLabel("")
        self.headline.setObjectName("whatIfHeadline")
        font = self.headline.font()
        font.setBold(True)
        self.headline.setFont(font)
        self.busy = _busy_bar("whatIfBusy", "Computing the what-if")

        self.by_control_model: RowTableModel[tuple[str, int]] = RowTableModel(
            [
                Column("Control", lambda r: r[0], width=180, tooltip=lambda r: r[0]),
                Column("Deployments", lambda r: f"{r[1]:,}", sort_key=lambda r: r[1], searchable=False),
            ],
            self,
        )
        self.by_control_table = DataTable(self.by_control_model, self, object_name="whatIfByControl")
        self.by_control_table.setAccessibleName("Violating deployments per control")
        self.violations_model: RowTableModel[WhatIfRow] = RowTableModel(
            [
                Column("Deployment", lambda r: r.deployment.name, width=170, tooltip=_deployment_id),
                Column("Account", lambda r: r.deployment.account_name, width=160),
                Column("Resource group", lambda r: r.deployment.resource_group, width=160),
                Column("Failing controls", lambda r: r.failing, tooltip=_failures_tooltip),
            ],
            self,
        )
        self.violations_table = DataTable(self.violations_model, self, object_name="whatIfTable")
        self.violations_table.setAccessibleName("Deployments that would violate the policy")
        self.violations_filter = FilterBar("Filter deployments…", self)
        self.violations_filter.setObjectName("whatIfFilter")
        self.violations_filter.bind(self.violations_table)
        self.delay_note = PlainLabel(
            EVALUATION_DELAY_NOTE.format(verb="saved" if wizard.editing else "created")
        )
        self.delay_note.setObjectName("evaluationDelayNote")
        self.delay_note.setVisible(not wizard.what_if_only)
        self.problem_label = PlainLabel("")
        self.problem_label.setObjectName("reviewProblem")

        left = QWidget(self)
        left_lay = QVBoxLayout(left)
        left_lay.setContentsMargins(0, 0, 0, 0)
        left_lay.addWidget(PlainLabel("Per control:", wrap=False, muted=True))
        left_lay.addWidget(self.by_control_table, 1)
        right = QWidget(self)
        right_lay = QVBoxLayout(right)
        right_lay.setContentsMargins(0, 0, 0, 0)
        right_lay.addWidget(self.violations_filter)
        right_lay.addWidget(self.violations_table, 1)
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.setObjectName("whatIfSplitter")
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(left)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([290, 670])
        _small_table(self.by_control_table, 3)
        _small_table(self.violations_table, 3)

        lay = QVBoxLayout(self)
        summary_row = QHBoxLayout()
        summary_row.setContentsMargins(0, 0, 0, 0)
        summary_row.addWidget(self.summary, 1)
        copy_col = QVBoxLayout()
        copy_col.addWidget(self.copy_button)
        copy_col.addStretch(1)
        summary_row.addLayout(copy_col)
        lay.addLayout(summary_row)
        lay.addWidget(self.move_warning)
        lay.addLayout(_row(self.busy, self.headline, stretch=False))
        lay.addWidget(self.splitter, 1)
        lay.addWidget(self.delay_note)
        lay.addWidget(self.problem_label)

        self.copy_button.clicked.connect(self.copy_summary)

    def initializePage(self) -> None:  # noqa: N802 - Qt override
        draft = self.dialog.draft
        inv = self.dialog.inventory
        names = {k: sub.display_name for k, sub in inv.subscriptions.items()}
        lines = draft.summary_lines(names)
        self.summary.setPlainText("\n".join(lines))
        shown = min(max(len(lines), 4), 12) + 1  # room for a wrapped description
        margins = 2 * (self.summary.frameWidth() + int(self.summary.document().documentMargin()))
        self.summary.setFixedHeight(shown * self.summary.fontMetrics().lineSpacing() + margins)
        if draft.scope_changed and draft.existing is not None:
            self.move_warning.show_message(self.dialog.move_warning_text())
        else:
            self.move_warning.clear()
        problems = draft.problems()
        collision = self.dialog.name_collision()
        if collision:
            problems.append(collision)
        self.problem_label.setText(" ".join(problems))
        self.start_what_if()
        self.completeChanged.emit()

    def cleanupPage(self) -> None:  # noqa: N802 - Qt override (Back pressed)
        self.cancel_tasks()

    def copy_summary(self) -> None:
        QGuiApplication.clipboard().setText(self.summary.toPlainText())

    # -------------------------------------------------------------------------------- what-if

    @property
    def pending(self) -> bool:
        """The what-if is being computed on a worker thread."""
        return self._task is not None and not self._task.done()

    def start_what_if(self) -> None:
        """Compute the what-if of the draft as it is now: at once when the scope is small (or no
        event loop runs), else on a worker thread (the inventory is read-only)."""
        self.cancel_tasks()
        self._generation += 1
        draft = copy_draft(self.dialog.draft)
        self.what_if = None
        index = self.dialog.scope_index
        size = index.count(draft.subscription_id, draft.resource_group) if draft.scope else 0
        try:
            asyncio.get_running_loop()
            running = True
        except RuntimeError:
            running = False
        if size <= WHAT_IF_SYNC_LIMIT or not running:
            self._show(what_if(self.dialog.inventory, draft))
            return
        self.headline.setText(f"Checking {plural(size, 'deployment')} against the policy…")
        self.busy.setVisible(True)
        self.violations_model.set_rows([])
        self.by_control_model.set_rows([])
        self._task = asyncio.ensure_future(self._compute(draft, self._generation))

    async def _compute(self, draft: PolicyDraft, generation: int) -> None:
        result = await asyncio.to_thread(what_if, self.dialog.inventory, draft)
        if generation == self._generation:
            self._show(result)

    def _show(self, result: WhatIf) -> None:
        self.what_if = result
        self.busy.setVisible(False)
        self.headline.setText(result.headline)
        self.by_control_model.set_rows(list(result.by_control))
        self.violations_model.set_rows(list(result.violating))
        self.dialog.whatIfReady.emit(result)

    def cancel_tasks(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self.busy.setVisible(False)

    def isComplete(self) -> bool:  # noqa: N802 - Qt override
        if self.dialog.what_if_only:
            return True  # Finish only closes
        return not self.dialog.draft.problems() and self.dialog.name_collision() is None


def _deployment_id(row: WhatIfRow) -> str:
    return row.deployment.id


def _failures_tooltip(row: WhatIfRow) -> str:
    return "\n".join(f"{r.label}: requires {r.required}; is {r.actual}" for r in row.evaluation.failures)


# ------------------------------------------------------------------------------------ the wizard


class PolicyWizard(PlainWizard):
    """Create or edit a guardrail policy; nothing is written here.

    Args:
        inventory: the data in hand (read-only): the scopes offered and the what-if.
        draft: an existing policy's draft (:func:`~fcdesk.core.drafts.draft_from_policy`, which sets
            ``existing``) to edit that policy: "Edit guardrail policy", Finish says "Save". A draft
            without ``existing`` pre-fills a new policy. A copy is edited, never ``draft`` itself.
        default_scope: the scope preselected when the draft has none (an edited policy keeps its own).
        rights: awaited with the chosen scope; Next waits for it and stays disabled when not allowed.
        what_if_only: only the what-if (an offline snapshot, or trying a policy out): no Name page,
            Finish says "Close", and the caller writes nothing.

    Signals:
        draftChanged(): anything in the draft changed.
        rightsChecked(str, object): the rights callback answered for a scope (a :class:`Rights`).
        whatIfReady(object): the review page's what-if is computed (a :class:`WhatIf`).

    After ``accepted``, :meth:`result_draft` is the policy to send.
    """

    draftChanged = Signal()
    rightsChecked = Signal(str, object)
    whatIfReady = Signal(object)

    #: The page ids, in order.
    page_ids: tuple[PageId, ...] = tuple(PageId)

    def __init__(
        self,
        inventory: Inventory,
        *,
        draft: PolicyDraft | None = None,
        default_scope: str | None = None,
        rights: RightsCheck | None = None,
        what_if_only: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.inventory = inventory
        self.rights = rights
        self.what_if_only = what_if_only
        self.draft = copy_draft(draft) if draft is not None else PolicyDraft()
        if what_if_only:
            self.draft.existing = None  # nothing is edited: the policy is only tried out
            self.draft.display_name = self.draft.display_name or WHAT_IF_NAME
        self.editing = self.draft.is_edit
        self.initial_scope = self.draft.scope or default_scope or ""
        self.scope_index = ScopeIndex(inventory)
        self._policy_keys = {p.key for p in inventory.policies}

        self.setObjectName("policyWizard")
        title = "Edit guardrail policy" if self.editing else "Create guardrail policy"
        self.setWindowTitle(title)
        self.setTitleFormat(Qt.TextFormat.PlainText)
        self.setSubTitleFormat(Qt.TextFormat.PlainText)
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnStartPage, True)
        self.setOption(QWizard.WizardOption.HaveHelpButton, False)
        self.setButtonText(QWizard.WizardButton.FinishButton, "&Save" if self.editing else "&Create")
        if what_if_only:
            self.setWindowTitle("What-if: try a guardrail policy on the data in hand")
            self.setButtonText(QWizard.WizardButton.FinishButton, "&Close")
            self.setOption(QWizard.WizardOption.NoCancelButton, True)

        self.controls_page = ControlsPage(self)
        self.scope_page = ScopePage(self)
        self.exceptions_page = ExceptionsPage(self)
        self.name_page = NamePage(self)
        self.review_page = ReviewPage(self)
        for page_id, page in zip(
            PageId,
            (self.controls_page, self.scope_page, self.exceptions_page, self.name_page, self.review_page),
            strict=True,
        ):
            self.setPage(page_id, page)
        if what_if_only:
            self.removePage(PageId.NAME)
        self.setStartId(PageId.CONTROLS)
        self.setMinimumSize(820, 600)
        self.resize(1000, 680)

    # -------------------------------------------------------------------------------- results

    def result_draft(self) -> PolicyDraft:
        """The policy as entered (a copy): what the window sends after ``accepted``."""
        return copy_draft(self.draft)

    def set_scope(self, scope: str) -> None:
        """The scope page's choice; an edited policy's own scope keeps its original spelling."""
        existing = self.draft.existing
        if existing is not None and scope and idkey(scope) == idkey(existing.scope):
            scope = existing.scope
        self.draft.scope = scope
        self.draftChanged.emit()

    def exception_candidates(self, scope: str) -> list[ExceptionCandidate]:
        """Deployments in ``scope``, and its resource groups when it is a subscription."""
        rows: list[ExceptionCandidate] = []
        sub = id_segment(scope, "subscriptions") or ""
        if id_segment(scope, "resourceGroups") is None:
            for rg in self.scope_index.resource_groups(sub):
                count = plural(self.scope_index.count(sub, rg), "deployment")
                rows.append(ExceptionCandidate(rg_scope(sub, rg), "Resource group", rg, "", rg, count))
        for dep in self.inventory.deployments:
            if in_scope(dep, scope):
                rows.append(
                    ExceptionCandidate(
                        dep.id,
                        "Deployment",
                        dep.name,
                        dep.account_name,
                        dep.resource_group,
                        dep.model_label,
                        idkey(rg_scope(dep.subscription_id, dep.resource_group)),
                    )
                )
        return rows

    def name_collision(self) -> str | None:
        """A *different* policy already has this assignment's id: saving would overwrite it."""
        draft = self.draft
        if self.what_if_only or not draft.scope or not (draft.display_name.strip() or draft.name):
            return None
        key = idkey(draft.assignment_id)
        own = draft.existing.key if draft.existing is not None else None
        if key in self._policy_keys and key != own:
            return (
                f"A guardrail policy named {draft.assignment_name} already exists on "
                f"{self.scope_index.scope_phrase(draft.scope)}: choose another name or edit that policy."
            )
        return None

    def move_warning_text(self) -> str:
        existing = self.draft.existing
        old = self.scope_index.scope_phrase(existing.scope) if existing is not None else ""
        return (
            f"Azure cannot move a policy assignment: saving deletes it from {old} and creates it again on "
            f"{self.scope_index.scope_phrase(self.draft.scope)}. You will be asked to confirm."
        )

    # -------------------------------------------------------------------------------- Qt


    def accept(self) -> None:
        """Finish only with a draft that can be written (the review page says why not); in what-if
        mode Finish only closes."""
        if not self.what_if_only and (self.draft.problems() or self.name_collision() is not None):
            return
        super().accept()

    def done(self, result: int) -> None:
        """Closing stops the rights check and the what-if (their results are no longer wanted)."""
        self.scope_page.cancel_tasks()
        self.review_page.cancel_tasks()
        super().done(result)

    @property
    def idle(self) -> bool:
        """No rights check or what-if is in flight (tests and screenshots wait for this)."""
        return not self.scope_page.busy and not self.review_page.pending


# ------------------------------------------------------------------------------------ screenshots


def _settle(ms: int = 120) -> None:
    """Let posted show and layout events run (never call this from a coroutine)."""
    app = QApplication.instance()
    deadline = time.perf_counter() + ms / 1000
    while app is not None and time.perf_counter() < deadline:
        app.processEvents()
        time.sleep(0.005)


def capture_pages(
    wizard: PolicyWizard, directory: Path | str, *, prefix: str = "policy-wizard"
) -> list[Path]:
    """Save a PNG of each page, in order (``<prefix>-1-controls.png`` … ``<prefix>-5-review.png``).

    Shows the wizard if needed and walks it from the start: Next where the page is complete, else a
    jump to the next page (an empty create wizard still shows every page). Waits (up to 5 s) for a
    rights check or a what-if in flight. For the self-test: call it from plain code, not a coroutine.
    """
    out_dir = Path(directory)
    out_dir.mkdir(parents=True, exist_ok=True)
    if not wizard.isVisible():
        wizard.show()
    wizard.restart()
    saved: list[Path] = []
    for number, page_id in enumerate(PolicyWizard.page_ids, 1):
        if wizard.currentId() != page_id:
            page = wizard.currentPage()
            if page is not None and page.isComplete():
                wizard.next()
            else:
                wizard.setCurrentId(page_id)
        deadline = time.perf_counter() + 5
        _settle()
        while not wizard.idle and time.perf_counter() < deadline:
            _settle(20)
        path = out_dir / f"{prefix}-{number}-{page_id.name.lower()}.png"
        if wizard.grab().save(str(path)):
            saved.append(path)
    return saved


__all__ = [
    "ABUSE_MONITORING_NOTE",
    "CHECKING_RIGHTS",
    "WHAT_IF_SYNC_LIMIT",
    "ControlsPage",
    "ExceptionCandidate",
    "ExceptionModel",
    "ExceptionsPage",
    "NamePage",
    "PageId",
    "PolicyWizard",
    "ReviewPage",
    "RightsCheck",
    "RightsState",
    "ScopeIndex",
    "ScopePage",
    "capture_pages",
    "copy_draft",
    "merge_choice",
    "threshold_text",
]
