"""Fix now / View in Build: edit one guardrail for one or several deployments, review, then save.

Spec: "View and fix compliance violations": Fix now opens the deployment's guardrail configuration
"where you can adjust settings to meet the guardrail policy requirements"; View in Build does the
same from the Assets tab. The editor shows every control with what applies today, what each
governing policy requires and a **New setting** per control; "Meet requirements" raises exactly the
failing controls to the minimum that passes every policy (:func:`fcdesk.core.fix.meet_requirements`),
and a live line re-evaluates the policies as the user edits.

The editor never calls Azure. "Review and save…" shows the diff first (:class:`GuardrailReview`);
confirming emits :attr:`GuardrailEditor.saveRequested` with an :class:`EditorSave`, and the window
performs the write and reports back through :meth:`GuardrailEditor.save_finished`.

Names from Azure are data, never markup: labels are plain text, table items are plain text, and
tooltips go through :func:`plain_tooltip`. Severity is always said as what is blocked
("Blocks ≥ Medium"): REST ``Low`` is the *strictest* threshold.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QFont, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QRadioButton,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from fcdesk.core.fix import (
    ControlChange,
    FilterSetting,
    GuardrailPlan,
    Unsatisfiable,
    control_diff,
    effective_after,
    meet_requirements,
    plan_from_effective,
    sharing_deployments,
    suggest_guardrail_name,
    valid_guardrail_name,
)
from fcdesk.core.guardrails import (
    CATALOGUE,
    ContentFilter,
    ControlDef,
    ControlKind,
    EffectiveGuardrail,
    GuardrailOrigin,
    Mode,
    Severity,
    cell_of,
)
from fcdesk.core.inventory import Inventory
from fcdesk.core.model import Deployment
from fcdesk.core.policy import ControlResult, Evaluation, GuardrailPolicy, evaluate
from fcdesk.core.text import plural
from fcdesk.models.palette import StateColors, colors_for
from fcdesk.models.table import plain_tooltip
from fcdesk.views.widgets import Banner, BannerKind, PlainLabel, form_box, heading, set_form_rows

#: Key of the "Guardrail mode" row in per-row lookups (controls are keyed by ``(name, source)``).
MODE_KEY = None
MODE_LABEL = "Guardrail mode"
COL_CONTROL, COL_CURRENT = 0, 1
#: Option ids of the New setting combos that are not a plain state.
NOT_SET = "notset"
CUSTOM = "custom"
FAIL_MARK, PASS_MARK = "✗", "✓"
#: Deployment names listed in the header before "… and N more".
LIST_LIMIT = 8

_ORIGIN_TEXT = {
    GuardrailOrigin.CUSTOM: "custom guardrail on the account",
    GuardrailOrigin.SYSTEM: "system guardrail, cannot be edited",
    GuardrailOrigin.ACCOUNT_DEFAULT: "none set: the account default applies",
    GuardrailOrigin.MISSING: "named on the deployment but not found on the account",
}


# ------------------------------------------------------------------------------ pure helpers


def setting_options(control: ControlDef) -> list[tuple[str, str]]:
    """``(option id, text)`` offered in the New setting column for ``control``, weakest first."""
    if control.kind is ControlKind.SEVERITY:
        return [
            ("off", "Off"),
            ("annotate", "Annotate only"),
            ("block:HIGH", "Blocks ≥ High"),
            ("block:MEDIUM", "Blocks ≥ Medium"),
            ("block:LOW", "Blocks ≥ Low (strictest)"),
        ]
    return [("off", "Off"), ("annotate", "Annotate only"), ("block", "Blocks")]


def option_of(control: ControlDef, setting: FilterSetting | None) -> str:
    """The option id that shows ``setting`` (:data:`CUSTOM` when none of the offered ones does)."""
    if setting is None:
        return NOT_SET
    if not setting.enabled:
        return "off"
    if not setting.blocking:
        return "annotate"
    if control.kind is ControlKind.SWITCH:
        return "block"
    return f"block:{setting.threshold.name}" if setting.threshold is not None else CUSTOM


def setting_for(control: ControlDef, option: str, previous: FilterSetting | None) -> FilterSetting:
    """The setting an option picks. Off and Annotate keep a harm category's threshold (else Medium)."""
    keep: Severity | None = None
    if control.kind is ControlKind.SEVERITY:
        keep = (previous.threshold if previous is not None else None) or Severity.MEDIUM
    if option == "off":
        return FilterSetting(False, False, keep)
    if option == "annotate":
        return FilterSetting(True, False, keep)
    if option == "block":
        return FilterSetting(True, True)
    if option.startswith("block:"):
        return FilterSetting(True, True, Severity[option.removeprefix("block:")])
    raise ValueError(f"unknown option {option!r}")


def setting_text(control: ControlDef, setting: FilterSetting | None) -> str:
    """What a setting does, in the words of the matrix ("Blocks ≥ Medium", "Annotate only", ...)."""
    if setting is None:
        return "Not set"
    flt = ContentFilter(control.name, control.source, setting.enabled, setting.blocking, setting.threshold)
    return cell_of(flt, severity_control=control.kind is ControlKind.SEVERITY).text


def reason_text(result: ControlResult, policy: GuardrailPolicy, eff: EffectiveGuardrail) -> str:
    """Why ``result`` failed, with thresholds said as what they block (never "Low" alone)."""
    if result.key is not None and result.reason.startswith("threshold is"):
        flt = eff.filters.get(result.key)
        req = policy.requirements[result.key]
        now = (
            f"≥ {flt.threshold.rest}"
            if flt is not None and flt.threshold is not None
            else "not a known level"
        )
        allowed = " or ".join(f"≥ {s.rest}" for s in sorted(req.allowed_severities or (), reverse=True))
        return f"It blocks {now}; the policy allows {allowed or 'no threshold'} (≥ Low is the strictest)."
    return result.reason


def _result_by_key(ev: Evaluation) -> dict[tuple[str, str] | None, ControlResult]:
    return {r.key: r for r in ev.results}


def _names_text(deployments: Sequence[Deployment], limit: int = LIST_LIMIT) -> str:
    names = [d.name for d in deployments[:limit]]
    if len(deployments) > limit:
        names.append(f"… and {len(deployments) - limit} more")
    return "\n".join(names)


class Target(enum.Enum):
    """Where the edited settings are saved."""

    UPDATE = "update"  #: the current custom guardrail, used only by these deployments
    UPDATE_SHARED = "shared"  #: the current custom guardrail, also used by other deployments
    NEW = "new"  #: a new custom guardrail on the account


@dataclass(slots=True)
class EditorSave:
    """What the user confirmed: the window turns it into a :class:`fcdesk.actions.GuardrailChange`."""

    account_id: str
    rai_policy_name: str  #: the custom guardrail to create or update
    plan: GuardrailPlan
    deployment_ids: list[str]  #: every deployment edited (those already on the guardrail are left alone)
    create: bool  #: a new guardrail
    update_shared: bool  #: updates a guardrail that other deployments use too


# ------------------------------------------------------------------------------ the review step


class GuardrailReview(QDialog):
    """The confirmation shown before anything is written: what changes, on which guardrail, for whom.

    Window-modal (``open()``); ``accepted`` means "write it".

    Args:
        save: what will be saved.
        changes: per group of deployments that share a guardrail today, the control changes.
        repointed: deployments that will be pointed at the guardrail.
        others: deployments outside the edit whose shared guardrail is updated.
    """

    def __init__(
        self,
        save: EditorSave,
        account_name: str,
        changes: Sequence[tuple[Sequence[Deployment], Sequence[ControlChange]]],
        repointed: Sequence[Deployment],
        others: Sequence[Deployment],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("guardrailReview")
        self.setWindowTitle("Review the guardrail change")
        self.resize(760, 520)
        self.save = save
        self.changes = [(list(deps), list(diff)) for deps, diff in changes]
        grouped = len(self.changes) > 1

        lay = QVBoxLayout(self)
        lay.addWidget(heading("Review before saving", level=2))
        lay.addWidget(PlainLabel("Nothing has been written to Azure yet.", muted=True))
        name = save.rai_policy_name
        if save.create:
            what = f"Create the guardrail '{name}' on {account_name}."
        elif save.update_shared:
            what = f"Update the shared guardrail '{name}' on {account_name}."
        else:
            what = f"Update the guardrail '{name}' on {account_name}."
        self.what = PlainLabel(what)
        self.what.setObjectName("reviewWhat")
        lay.addWidget(self.what)

        headers = (["Deployments"] if grouped else []) + ["Control", "Before", "After"]
        self.table = QTableWidget(0, len(headers), self)
        self.table.setObjectName("reviewTable")
        self.table.setHorizontalHeaderLabels(headers)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        for deps, diff in self.changes:
            for change in diff:
                values = ([", ".join(d.name for d in deps)] if grouped else []) + [
                    change.label,
                    change.before,
                    change.after,
                ]
                r = self.table.rowCount()
                self.table.insertRow(r)
                for c, value in enumerate(values):
                    item = QTableWidgetItem(value)
                    item.setToolTip(plain_tooltip(value))
                    self.table.setItem(r, c, item)
        self.table.resizeColumnsToContents()
        lay.addWidget(self.table, 1)

        if repointed:
            text = f"Deployments pointed at '{name}' ({len(repointed)}):\n{_names_text(repointed)}"
        else:
            text = f"Every deployment edited already uses '{name}': none is re-pointed."
        self.repointed = PlainLabel(text)
        self.repointed.setObjectName("reviewRepointed")
        lay.addWidget(self.repointed)

        self.others = PlainLabel("")
        self.others.setObjectName("reviewOthers")
        if others:
            self.others.setText(
                f"This also changes {plural(len(others), 'other deployment')} that use '{name}':\n"
                + _names_text(others)
            )
        self.others.setVisible(bool(others))
        lay.addWidget(self.others)

        buttons = QDialogButtonBox(self)
        self.confirm_button = buttons.addButton("&Save to Azure", QDialogButtonBox.ButtonRole.AcceptRole)
        self.confirm_button.setObjectName("reviewConfirm")
        self.back_button = buttons.addButton("&Back to editing", QDialogButtonBox.ButtonRole.RejectRole)
        self.back_button.setObjectName("reviewBack")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)
        self.confirm_button.setDefault(True)

    def rows(self) -> list[tuple[str, ...]]:
        """The table's rows as shown (``(control, before, after)``, led by the deployments if grouped)."""
        return [
            tuple(self.table.item(r, c).text() for c in range(self.table.columnCount()))
            for r in range(self.table.rowCount())
        ]


# ------------------------------------------------------------------------------ the editor


class GuardrailEditor(QDialog):
    """Edit the guardrail of one or several deployments of one account (Fix now / View in Build).

    Args:
        inventory: the data the editor starts from (nothing is read from Azure).
        deployments: the deployments to fix, all on one account (else ``ValueError``).
        colors: cell-state colours; default: from the application palette.
        read_only_reason: when set, saving is disabled and the reason shown (offline, no rights).

    Signals:
        saveRequested(object): an :class:`EditorSave`, after the user confirmed the review. The
            editor is then busy until the window calls :meth:`save_finished`.

    Object names: ``guardrailEditor``, ``deploymentsSummary``, ``controlsTable``, ``liveStatus``,
    ``meetRequirementsButton``, ``targetSection``, ``targetUpdate``, ``targetNew``, ``sharersToggle``,
    ``sharersList``, ``newNameEdit``, ``nameError``, ``errorBanner``, ``infoBanner``,
    ``readOnlyBanner``, ``progressLabel``, ``saveButton``, ``cancelButton``, ``discardBox``; the
    review: ``guardrailReview``, ``reviewTable``, ``reviewConfirm``.
    """

    saveRequested = Signal(object)

    def __init__(
        self,
        inventory: Inventory,
        deployments: Sequence[Deployment],
        *,
        colors: StateColors | None = None,
        read_only_reason: str | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        deps = list({d.key: d for d in deployments}.values())
        if not deps:
            raise ValueError("The guardrail editor needs at least one deployment.")
        accounts = {d.account_key for d in deps}
        if len(accounts) > 1:
            raise ValueError(
                f"The deployments are on {len(accounts)} accounts: a guardrail belongs to one account, "
                "so open one editor per account."
            )
        self.setObjectName("guardrailEditor")
        if colors is None:
            colors = colors_for(self.palette().color(QPalette.ColorRole.Window).lightness() < 128)
        self.colors = colors
        self.inventory = inventory
        self.deployments = deps
        self.account_id = deps[0].account_id
        self.account_name = deps[0].account_name
        self.result_message = ""  #: the window's message after a successful save
        self.review_dialog: GuardrailReview | None = None
        self.discard_box: QMessageBox | None = None
        self._read_only_reason = read_only_reason
        self._busy = False

        self._groups: list[tuple[EffectiveGuardrail, list[Deployment]]] = []
        for dep in deps:
            eff = inventory.effective(dep)
            for g_eff, members in self._groups:
                if g_eff.key == eff.key:
                    members.append(dep)
                    break
            else:
                self._groups.append((eff, [dep]))
        self._governing = {d.key: {p.key for p in inventory.governing(d)} for d in deps}
        self.policies: list[GuardrailPolicy] = self._governing_policies()
        self.col_new = 2 + len(self.policies)  #: the New setting column (after one column per policy)
        self._initial = plan_from_effective(self._groups[0][0])
        self._plan = self._initial.copy()
        self._custom_settings: dict[int, FilterSetting] = {}  #: row -> a setting no option offers
        self._taken = {g.name.lower() for g in inventory.account_guardrails(self.account_id)}
        self.current_custom_name = self._current_custom_name()
        selected = {d.key for d in deps}
        self.sharers: list[Deployment] = (
            [
                d
                for d in sharing_deployments(inventory, self.account_id, self.current_custom_name)
                if d.key not in selected
            ]
            if self.current_custom_name
            else []
        )
        n_dep = "this deployment" if len(deps) == 1 else "these deployments"
        self.setWindowTitle(
            f"Fix guardrail: {deps[0].name}" if len(deps) == 1 else f"Fix guardrail: {len(deps)} deployments"
        )
        self.resize(1180, 800)

        lay = QVBoxLayout(self)
        lay.addWidget(self._build_summary())
        self.error_banner = Banner(BannerKind.ERROR, self)
        self.error_banner.setObjectName("errorBanner")
        lay.addWidget(self.error_banner)
        self.info_banner = Banner(BannerKind.INFO, self)
        self.info_banner.setObjectName("infoBanner")
        lay.addWidget(self.info_banner)
        self.read_only_banner = Banner(BannerKind.WARNING, self)
        self.read_only_banner.setObjectName("readOnlyBanner")
        lay.addWidget(self.read_only_banner)

        table_label = QLabel(
            "&Controls: what applies now, what each policy requires, and the new setting", self
        )
        lay.addWidget(table_label)
        self.table = self._build_table()
        table_label.setBuddy(self.table)
        lay.addWidget(self.table, 1)

        status_row = QHBoxLayout()
        self.live_status = PlainLabel("")
        self.live_status.setObjectName("liveStatus")
        status_row.addWidget(self.live_status, 1)
        self.meet_button = QPushButton("&Meet requirements", self)
        self.meet_button.setObjectName("meetRequirementsButton")
        self.meet_button.setToolTip(
            "Raise exactly the controls that fail a policy to the minimum that passes every policy shown. "
            "Controls that already pass are left as they are."
        )
        self.meet_button.setEnabled(bool(self.policies))
        self.meet_button.clicked.connect(self.meet_requirements)
        status_row.addWidget(self.meet_button)
        lay.addLayout(status_row)

        lay.addWidget(self._build_target(n_dep))

        self.progress_label = PlainLabel("")
        self.progress_label.setObjectName("progressLabel")
        self.progress_label.setVisible(False)
        lay.addWidget(self.progress_label)

        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setObjectName("cancelButton")
        self.cancel_button.clicked.connect(self.reject)
        self.save_button = QPushButton("&Review and save…", self)
        self.save_button.setObjectName("saveButton")
        self.save_button.setDefault(True)
        self.save_button.clicked.connect(self.review)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.save_button)
        lay.addLayout(buttons)

        self._set_tab_order()
        self._fill_combos()
        self.set_read_only_reason(read_only_reason)
        self._changed()

    # ------------------------------------------------------------------ building

    def _governing_policies(self) -> list[GuardrailPolicy]:
        """Every enabled policy governing any of the deployments, once each, in inventory order.

        With several deployments this is the union of what governs each of them: the one guardrail
        they will share must keep passing every policy that passes today, not only fix the failing ones.
        """
        seen: dict[str, GuardrailPolicy] = {}
        for dep in self.deployments:
            for pol in self.inventory.governing(dep):
                if not pol.disabled:
                    seen.setdefault(pol.key, pol)
        return list(seen.values())

    def _current_custom_name(self) -> str | None:
        """The custom guardrail every deployment uses today, or None (system, default, missing, mixed)."""
        if len(self._groups) != 1:
            return None
        eff = self._groups[0][0]
        if eff.origin is GuardrailOrigin.CUSTOM and eff.guardrail is not None:
            return eff.guardrail.name
        return None

    def _build_summary(self) -> QWidget:
        box = QWidget(self)
        box.setObjectName("deploymentsSummary")
        lay = QVBoxLayout(box)
        lay.setContentsMargins(0, 0, 0, 0)
        first = self.deployments[0]
        sub = self.inventory.subscription_name(first.subscription_id)
        if len(self.deployments) == 1:
            eff = self._groups[0][0]
            lay.addWidget(heading(first.name))
            rows = [
                ("Account", first.account_name, first.account_id),
                ("Resource group", first.resource_group),
                ("Subscription", sub, first.subscription_id),
                ("Model", first.model_label),
                ("Guardrail", f"{eff.name} ({_ORIGIN_TEXT[eff.origin]})", eff.note),
            ]
        else:
            lay.addWidget(heading(f"{len(self.deployments)} deployments on {first.account_name}"))
            lines = [f"{d.name}: {self.inventory.effective(d).name}" for d in self.deployments[:LIST_LIMIT]]
            if len(self.deployments) > LIST_LIMIT:
                lines.append(f"… and {len(self.deployments) - LIST_LIMIT} more")
            every = "\n".join(f"{d.name}: {self.inventory.effective(d).name}" for d in self.deployments)
            rows = [
                ("Account", first.account_name, first.account_id),
                ("Resource group", first.resource_group),
                ("Subscription", sub, first.subscription_id),
                ("Deployments (guardrail now)", "\n".join(lines), every),
            ]
        form_widget, form = form_box()
        set_form_rows(form, rows)
        lay.addWidget(form_widget)
        return box

    def _build_table(self) -> QTableWidget:
        table = QTableWidget(len(CATALOGUE) + 1, self.col_new + 1, self)
        table.setObjectName("controlsTable")
        table.setAccessibleName("Guardrail controls")
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        table.setTabKeyNavigation(False)  # Tab leaves the table for the New setting combos
        table.setWordWrap(False)
        table.verticalHeader().setVisible(False)
        table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        table.verticalHeader().setDefaultSectionSize(table.fontMetrics().height() + 14)
        headers = ["Control", "Current", *(p.label for p in self.policies), "New setting"]
        for c, text in enumerate(headers):
            head = QTableWidgetItem(text)
            if 2 <= c < self.col_new:
                pol = self.policies[c - 2]
                head.setToolTip(
                    plain_tooltip(f"{pol.label}\n{pol.scope_label}\n\nRequires: {pol.controls_text}")
                )
            elif c == COL_CURRENT:
                head.setToolTip(
                    plain_tooltip(
                        "What applies today. (inherited): from the base policy or the account default."
                    )
                )
            elif c == self.col_new:
                head.setToolTip(plain_tooltip("The setting to save. Changed rows are bold."))
            table.setHorizontalHeaderItem(c, head)
        self._combos: list[QComboBox] = []
        for row in range(len(CATALOGUE) + 1):
            label = CATALOGUE[row].label if row < len(CATALOGUE) else MODE_LABEL
            for c in range(self.col_new):
                item = QTableWidgetItem(label if c == COL_CONTROL else "")
                item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
                table.setItem(row, c, item)
            combo = QComboBox(table)
            combo.setObjectName(f"newSetting{row}")
            combo.setAccessibleName(f"New setting: {label}")
            combo.currentIndexChanged.connect(lambda _i, r=row: self._on_combo_changed(r))
            table.setCellWidget(row, self.col_new, combo)
            self._combos.append(combo)
        self._fill_current(table)
        hh = table.horizontalHeader()
        hh.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        hh.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        table.resizeColumnsToContents()
        table.setColumnWidth(COL_CONTROL, min(table.columnWidth(COL_CONTROL) + 24, 360))
        for c in range(COL_CURRENT, self.col_new):
            table.setColumnWidth(c, max(140, min(table.columnWidth(c) + 24, 230)))
        table.setColumnWidth(self.col_new, 210)
        hh.setStretchLastSection(True)
        return table

    def _fill_current(self, table: QTableWidget) -> None:
        """The Current column, and which controls fail a policy today (static: it is what Azure has)."""
        self.failing_now: list[str] = []
        for row in range(len(CATALOGUE) + 1):
            key = CATALOGUE[row].key if row < len(CATALOGUE) else MODE_KEY
            texts: list[tuple[Deployment, str]] = []
            reasons: list[str] = []
            for eff, members in self._groups:
                text = eff.cell(key).text if key is not None else eff.mode_label
                texts.extend((d, text) for d in members)
                for pol in self.policies:
                    if not any(pol.key in self._governing[d.key] for d in members):
                        continue
                    result = _result_by_key(evaluate(pol, eff)).get(key)
                    if result is not None and not result.passed:
                        who = "" if len(self._groups) == 1 else f" ({', '.join(d.name for d in members)})"
                        reasons.append(f"Fails '{pol.label}'{who}: {reason_text(result, pol, eff)}")
            distinct = sorted({t for _d, t in texts})
            item = table.item(row, COL_CURRENT)
            if len(distinct) == 1:
                text = distinct[0]
                tip = [text]
                if key is not None:
                    cell = self._groups[0][0].cell(key)
                    tip.append(cell.explanation)
            else:
                text = f"Varies ({len(distinct)} settings)"
                tip = [f"{d.name}: {t}" for d, t in texts]
            if reasons:
                self.failing_now.append(table.item(row, COL_CONTROL).text())
                text = f"{FAIL_MARK} {text}"
                tip += reasons
            # Only what fails a policy is coloured: an "Off" that no policy asks about is not a failure.
            item.setBackground(QBrush(self.colors.fail) if reasons else QBrush())
            item.setText(text)
            item.setToolTip(plain_tooltip("\n".join(tip)))

    def _build_target(self, n_dep: str) -> QGroupBox:
        box = QGroupBox("Save as", self)
        box.setObjectName("targetSection")
        self.target_box = box
        lay = QVBoxLayout(box)
        self.target_group = QButtonGroup(box)
        self.update_radio: QRadioButton | None = None
        self.new_radio: QRadioButton | None = None
        self.sharers_toggle: QToolButton | None = None
        self.sharers_list: PlainLabel | None = None
        name = self.current_custom_name
        shown = (name or "").replace("&", "&&")  # a button text: "&" would become a mnemonic
        if name is None:
            eff = self._groups[0][0]
            if len(self._groups) > 1:
                why = "The deployments use different guardrails"
            elif eff.origin is GuardrailOrigin.SYSTEM:
                why = f"'{eff.name}' is a system guardrail and cannot be edited"
            elif eff.origin is GuardrailOrigin.ACCOUNT_DEFAULT:
                why = "No guardrail is set, so the account default applies; it cannot be edited"
            else:
                why = f"The guardrail '{eff.name}' is not on the account"
            self.target_note = PlainLabel(
                f"{why}: a new guardrail is created on {self.account_name} for {n_dep}."
            )
            lay.addWidget(self.target_note)
        else:
            if self.sharers:
                others = plural(len(self.sharers), "other deployment")
                self.target_note = PlainLabel(f"'{name}' is also used by {others} on this account.")
                lay.addWidget(self.target_note)
                self.sharers_toggle = QToolButton(box)
                self.sharers_toggle.setObjectName("sharersToggle")
                self.sharers_toggle.setText(f"Show the {len(self.sharers)} other deployments")
                self.sharers_toggle.setCheckable(True)
                self.sharers_list = PlainLabel("\n".join(d.name for d in self.sharers))
                self.sharers_list.setObjectName("sharersList")
                self.sharers_list.setVisible(False)
                self.sharers_toggle.toggled.connect(self._toggle_sharers)
                lay.addWidget(self.sharers_toggle)
                lay.addWidget(self.sharers_list)
                self.new_radio = QRadioButton(f"A &new guardrail for {n_dep}", box)
                self.update_radio = QRadioButton(
                    f"&Update the shared guardrail '{shown}' "
                    f"(changes {plural(len(self.sharers), 'other deployment')})",
                    box,
                )
                radios = (self.new_radio, self.update_radio)
            else:
                self.target_note = PlainLabel(f"'{name}' is used only by {n_dep}.")
                lay.addWidget(self.target_note)
                self.update_radio = QRadioButton(f"&Update guardrail '{shown}'", box)
                self.new_radio = QRadioButton(f"A &new guardrail for {n_dep}", box)
                radios = (self.update_radio, self.new_radio)
            self.update_radio.setObjectName("targetUpdate")
            self.new_radio.setObjectName("targetNew")
            for radio in radios:
                self.target_group.addButton(radio)
                lay.addWidget(radio)
            radios[0].setChecked(True)
            self.target_group.buttonToggled.connect(lambda *_: self._on_target_changed())
        self.target_note.setObjectName("targetNote")

        name_row = QHBoxLayout()
        self.name_label = QLabel("New guardrail &name:", box)
        self.name_edit = QLineEdit(box)
        self.name_edit.setObjectName("newNameEdit")
        self.name_edit.setAccessibleName("New guardrail name")
        self.name_edit.setMaxLength(200)
        self.name_label.setBuddy(self.name_edit)
        self.name_edit.setText(self._suggested_name())
        self.name_edit.textChanged.connect(lambda _t: self._changed())
        name_row.addWidget(self.name_label)
        name_row.addWidget(self.name_edit, 1)
        lay.addLayout(name_row)
        self.name_error = PlainLabel("")
        self.name_error.setObjectName("nameError")
        self.name_error.setStyleSheet("color: #b3261e;")
        lay.addWidget(self.name_error)
        self._on_target_changed(refresh=False)
        return box

    def _suggested_name(self) -> str:
        """``<deployment>-guardrail``; for several deployments ``<account>-fix-guardrail``, made unique."""
        first = self.deployments[0]
        if len(self.deployments) > 1:
            first = dataclasses.replace(first, name=f"{first.account_name}-fix")
        return suggest_guardrail_name(first, self._taken)

    def _set_tab_order(self) -> None:
        """Table, then its New setting combos top to bottom, then Meet requirements (cell widgets
        otherwise come last in the focus chain)."""
        chain: list[QWidget] = [self.table, *self._combos, self.meet_button]
        for a, b in zip(chain, chain[1:], strict=False):
            QWidget.setTabOrder(a, b)

    # ------------------------------------------------------------------ the plan and its combos

    def _row_key(self, row: int) -> tuple[str, str] | None:
        return CATALOGUE[row].key if row < len(CATALOGUE) else MODE_KEY

    def _fill_combos(self) -> None:
        """Show ``self._plan`` in the combos (signals blocked: this is not a user edit)."""
        for row, combo in enumerate(self._combos):
            combo.blockSignals(True)
            combo.clear()
            if row == len(CATALOGUE):
                modes = [Mode.DEFAULT, Mode.ASYNC]
                if self._plan.mode not in modes:
                    modes.append(self._plan.mode)
                for mode in modes:
                    combo.addItem(mode.label, mode.value)
                combo.setCurrentIndex(combo.findData(self._plan.mode.value))
            else:
                control = CATALOGUE[row]
                setting = self._plan.settings.get(control.key)
                current = option_of(control, setting)
                if current == NOT_SET or control.key not in self._initial.settings:
                    combo.addItem("Not set (no filter)", NOT_SET)
                if current == CUSTOM and setting is not None:
                    combo.addItem(setting_text(control, setting), CUSTOM)
                    self._custom_settings[row] = setting
                for option, text in setting_options(control):
                    combo.addItem(text, option)
                combo.setCurrentIndex(combo.findData(current))
            combo.blockSignals(False)

    def _on_combo_changed(self, row: int) -> None:
        option = self._combos[row].currentData()
        if row == len(CATALOGUE):
            self._plan.mode = Mode(option)
        else:
            control = CATALOGUE[row]
            if option == NOT_SET:
                self._plan.settings.pop(control.key, None)
            elif option == CUSTOM:
                self._plan.settings[control.key] = self._custom_settings[row]
            else:
                self._plan.settings[control.key] = setting_for(
                    control, option, self._plan.settings.get(control.key)
                )
        self.info_banner.clear()
        self._changed()

    def plan(self) -> GuardrailPlan:
        """The guardrail as edited (a copy)."""
        return self._plan.copy()

    def setting_combo(self, key: tuple[str, str] | None) -> QComboBox:
        """The New setting combo of a control (``MODE_KEY`` for the mode)."""
        return self._combos[self.row_of(key)]

    def row_of(self, key: tuple[str, str] | None) -> int:
        return len(CATALOGUE) if key is MODE_KEY else [c.key for c in CATALOGUE].index(key)

    def edited(self) -> bool:
        """Whether the user changed any setting (what "Discard changes?" asks about)."""
        return self._plan.settings != self._initial.settings or self._plan.mode != self._initial.mode

    def meet_requirements(self) -> list[str]:
        """Apply "Meet requirements": the labels changed (empty also when policies contradict)."""
        self.error_banner.clear()
        try:
            plan, changed = meet_requirements(self._plan, self.policies)
        except Unsatisfiable as exc:
            self.error_banner.show_message(str(exc))
            return []
        self._plan = plan
        self._fill_combos()
        if changed:
            self.info_banner.show_message(
                f"Raised {plural(len(changed), 'setting')} to the minimum: {', '.join(changed)}."
            )
        else:
            self.info_banner.show_message("Every control already meets the policies: nothing changed.")
        self._changed()
        return changed

    # ------------------------------------------------------------------ target

    def _toggle_sharers(self, shown: bool) -> None:
        if self.sharers_list is not None and self.sharers_toggle is not None:
            self.sharers_list.setVisible(shown)
            verb = "Hide" if shown else "Show"
            self.sharers_toggle.setText(f"{verb} the {len(self.sharers)} other deployments")

    def target(self) -> Target:
        if self.update_radio is not None and self.update_radio.isChecked():
            return Target.UPDATE_SHARED if self.sharers else Target.UPDATE
        return Target.NEW

    def target_name(self) -> str:
        """The guardrail that will be written: the current custom one, or the new name typed."""
        if self.target() is Target.NEW or self.current_custom_name is None:
            return self.name_edit.text().strip()
        return self.current_custom_name

    def name_problem(self) -> str | None:
        """Why the new guardrail's name cannot be used, or None (also None when updating)."""
        if self.target() is not Target.NEW:
            return None
        name = self.name_edit.text().strip()
        problem = valid_guardrail_name(name)
        if problem is None and name.lower() in self._taken:
            problem = (
                f"A guardrail named '{name}' already exists on {self.account_name}: choose another name."
            )
        return problem

    def _on_target_changed(self, *, refresh: bool = True) -> None:
        new = self.target() is Target.NEW
        self.name_label.setVisible(new)
        self.name_edit.setVisible(new)
        if refresh:
            self._changed()

    # ------------------------------------------------------------------ evaluation

    def effective_after(self) -> EffectiveGuardrail:
        """The effective guardrail the plan gives once saved."""
        return effective_after(self._plan, self.target_name() or "new-guardrail", self.account_id)

    def diffs(self) -> list[tuple[list[Deployment], list[ControlChange]]]:
        """Per group of deployments sharing a guardrail today: what changes for them."""
        after = self.effective_after()
        return [(members, control_diff(eff, after)) for eff, members in self._groups]

    def has_changes(self) -> bool:
        """Whether saving would change what applies to any deployment."""
        return any(diff for _members, diff in self.diffs())

    def evaluations(self) -> list[tuple[GuardrailPolicy, Evaluation]]:
        """Every policy shown, evaluated on the guardrail as edited."""
        after = self.effective_after()
        return [(pol, evaluate(pol, after)) for pol in self.policies]

    def failing_controls(self) -> list[str]:
        """Labels of the rows the edited guardrail still fails (for any policy), in table order."""
        failed = {r.key for _pol, ev in self.evaluations() for r in ev.failures}
        return [
            self.table.item(row, COL_CONTROL).text()
            for row in range(len(CATALOGUE) + 1)
            if self._row_key(row) in failed
        ]

    def requirement_text(self, key: tuple[str, str] | None, policy: GuardrailPolicy) -> str:
        return self.table.item(self.row_of(key), 2 + self.policies.index(policy)).text()

    def current_text(self, key: tuple[str, str] | None) -> str:
        return self.table.item(self.row_of(key), COL_CURRENT).text()

    def live_text(self) -> str:
        return self.live_status.text()

    def _changed(self) -> None:
        """Re-evaluate the edited guardrail and refresh everything derived from it."""
        after = self.effective_after()
        evaluations = [(pol, evaluate(pol, after)) for pol in self.policies]
        failing_rows: set[int] = set()
        bold = QFont(self.table.font())
        bold.setBold(True)
        for col, (pol, ev) in enumerate(evaluations, start=2):
            results = _result_by_key(ev)
            for row in range(len(CATALOGUE) + 1):
                key = self._row_key(row)
                item = self.table.item(row, col)
                result = results.get(key)
                if result is None:
                    item.setText("—")
                    item.setToolTip(plain_tooltip(f"{pol.label} sets no requirement for this control."))
                    item.setBackground(QBrush())
                    continue
                new_text = (
                    setting_text(CATALOGUE[row], self._plan.settings.get(key))
                    if key
                    else self._plan.mode.label
                )
                lines = [f"{pol.label} requires: {result.required}", f"New setting: {new_text}"]
                if result.passed:
                    item.setText(f"{PASS_MARK} {result.required}")
                    item.setBackground(QBrush())
                    lines.append("Passes.")
                else:
                    failing_rows.add(row)
                    item.setText(f"{FAIL_MARK} {result.required}")
                    item.setBackground(QBrush(self.colors.fail))
                    lines.append(f"Fails: {reason_text(result, pol, after)}")
                item.setToolTip(plain_tooltip("\n".join(lines)))
        for row in range(len(CATALOGUE) + 1):
            item = self.table.item(row, COL_CONTROL)
            failing = row in failing_rows
            item.setBackground(QBrush(self.colors.fail) if failing else QBrush())
            item.setFont(bold if failing else self.table.font())
            state = "Fails a policy with the new setting." if failing else "Meets every policy shown."
            item.setToolTip(plain_tooltip(f"{item.text()}\n{state}" if self.policies else item.text()))
            key = self._row_key(row)
            before = self._initial.settings.get(key) if key else self._initial.mode
            now = self._plan.settings.get(key) if key else self._plan.mode
            combo_font = QFont(self._combos[row].font())
            combo_font.setBold(before != now)
            self._combos[row].setFont(combo_font)
        self._show_live(evaluations)
        self._update_save()

    def _show_live(self, evaluations: list[tuple[GuardrailPolicy, Evaluation]]) -> None:
        if not evaluations:
            self.live_status.setText(
                "No guardrail policy governs "
                + (
                    "this deployment: there is no requirement to meet."
                    if len(self.deployments) == 1
                    else "these deployments: there is no requirement to meet."
                )
            )
            self.live_status.setStyleSheet("")
            return
        fails = [(pol, ev.failures) for pol, ev in evaluations if not ev.passed]
        if not fails:
            n = len(evaluations)
            text = f"{PASS_MARK} Passes " + (
                f"the policy '{evaluations[0][0].label}'." if n == 1 else f"all {n} policies."
            )
            color = self.colors.ok
        else:
            parts = [
                f"{', '.join(r.label for r in failures)} for policy '{pol.label}'" for pol, failures in fails
            ]
            text = f"{FAIL_MARK} {'Still fails' if self.edited() else 'Fails'}: " + "; ".join(parts)
            color = self.colors.fail
        self.live_status.setText(text)
        self.live_status.setStyleSheet(f"background: {color.name()}; border-radius: 3px; padding: 3px 6px;")

    # ------------------------------------------------------------------ saving

    def set_read_only_reason(self, reason: str | None) -> None:
        """Disable saving with ``reason`` shown (offline snapshot, missing rights), or allow it (None)."""
        self._read_only_reason = reason
        if reason:
            self.read_only_banner.show_message(reason)
        else:
            self.read_only_banner.clear()
        self._update_save()

    def save_blocked_reason(self) -> str | None:
        """Why "Review and save…" is disabled, or None."""
        if self._busy:
            return "Saving…"
        if self._read_only_reason:
            return self._read_only_reason
        problem = self.name_problem()
        if problem is not None:
            return problem
        if not self.has_changes():
            return "Nothing to save yet: change a setting, or use Meet requirements."
        return None

    def _update_save(self) -> None:
        problem = self.name_problem()
        self.name_error.setText(problem or "")
        self.name_error.setVisible(problem is not None)
        reason = self.save_blocked_reason()
        self.save_button.setEnabled(reason is None)
        self.save_button.setToolTip(plain_tooltip(reason or "Review the changes, then write them to Azure."))

    def save_value(self) -> EditorSave:
        """What would be saved now."""
        target = self.target()
        return EditorSave(
            account_id=self.account_id,
            rai_policy_name=self.target_name(),
            plan=self.plan(),
            deployment_ids=[d.id for d in self.deployments],
            create=target is Target.NEW,
            update_shared=target is Target.UPDATE_SHARED,
        )

    def review(self) -> GuardrailReview | None:
        """Open the review of what will be written (window-modal); confirming requests the save."""
        if self.save_blocked_reason() is not None:
            return None
        save = self.save_value()
        target = save.rai_policy_name.lower()
        repointed = [d for d in self.deployments if (d.rai_policy_name or "").lower() != target]
        others = self.sharers if save.update_shared else []
        dialog = GuardrailReview(save, self.account_name, self.diffs(), repointed, others, self)
        dialog.accepted.connect(lambda: self._confirmed(save))
        self.review_dialog = dialog
        dialog.open()
        return dialog

    def _confirmed(self, save: EditorSave) -> None:
        self.error_banner.clear()
        self._set_busy(True)
        self.set_progress("Saving…")
        self.saveRequested.emit(save)

    def set_progress(self, text: str) -> None:
        """One line of progress while the window writes ("Updating guardrail…")."""
        self.progress_label.setText(text)
        self.progress_label.setVisible(bool(text))

    def save_finished(self, ok: bool, message: str) -> None:
        """The window's answer: ``ok`` closes the editor; otherwise it is editable again with ``message``."""
        self._set_busy(False)
        self.set_progress("")
        if ok:
            self.result_message = message
            self.accept()
            return
        self.error_banner.show_message(message)
        self.save_button.setFocus(Qt.FocusReason.OtherFocusReason)

    @property
    def busy(self) -> bool:
        return self._busy

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        for widget in (self.table, self.cancel_button, self.target_box):
            widget.setEnabled(not busy)
        self.meet_button.setEnabled(not busy and bool(self.policies))
        self._update_save()

    # ------------------------------------------------------------------ closing

    def reject(self) -> None:
        """Esc / Cancel / close: never while saving; ask first when settings were changed."""
        if self._busy:
            self.set_progress("Saving… the editor closes when Azure has answered.")
            return
        if not self.edited():
            super().reject()
            return
        box = QMessageBox(
            QMessageBox.Icon.Question, "Discard changes?", "", QMessageBox.StandardButton.NoButton, self
        )
        box.setObjectName("discardBox")
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setText("Discard the changes to this guardrail? Nothing has been written to Azure.")
        discard = box.addButton("&Discard", QMessageBox.ButtonRole.DestructiveRole)
        keep = box.addButton("&Keep editing", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(keep)
        discard.clicked.connect(self._discard)
        self.discard_box = box
        box.open()

    def _discard(self) -> None:
        super().reject()
