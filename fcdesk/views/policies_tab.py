"""The Policies and Assets tabs of the compliance workspace (the spec's Policy/Assets toggle).

* :class:`PoliciesTab`: the guardrail policies in scope with their Policy compliance. Selecting one
  fills the Details dock with its requirements, exceptions and assets; selecting an asset there
  compares its guardrail settings with the requirements, control by control ("Fix now" beside it).
* :class:`AssetsTab`: one row per (deployment, governing policy). The dock lists every policy that
  governs the deployment and exactly which controls fail for each.

Writes (create / edit / delete policy, Fix now, View in Build) are not performed here: the buttons
emit request signals for the window's services, and stay disabled with the reason while writes are
impossible (offline snapshot, no selection). Each row's context menu offers the same actions for that
row, gated alike, beside Copy ID and Open in Azure portal.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLayout,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from fcdesk.core.inventory import AssetRow, PolicyRow
from fcdesk.core.model import Deployment, idkey
from fcdesk.core.normalize import parse_time
from fcdesk.core.text import as_of, format_utc, plural
from fcdesk.models.palette import StateColors, colors_for
from fcdesk.models.policies import (
    POLICY_STATUS_EXPLAINED,
    AssetSummaryModel,
    AssetTableModel,
    EvaluationModel,
    PolicyTableModel,
    ScopeNames,
    asset_needs_fixing,
    asset_status_text,
    azure_word,
    created_by_text,
    disagreement_note,
    governing_rows,
    scope_errors,
)
from fcdesk.models.table import RowTableModel
from fcdesk.models.workspace import GUARDRAIL_RIGHTS, POLICY_RIGHTS, WorkspaceContext
from fcdesk.views.base import StateWidget, WorkspaceTab
from fcdesk.views.widgets import (
    Banner,
    BannerKind,
    DataTable,
    FilterBar,
    OpenUrl,
    PlainLabel,
    SegmentedToggle,
    WriteGate,
    create_reason,
    form_box,
    heading,
    set_form_rows,
    write_button,
)

EMPTY_POLICIES = "No guardrail policies in this scope. Create one to enforce minimum controls."
EMPTY_ASSETS_NO_POLICY = (
    "No guardrail policy governs the model deployments in this scope. Create one on the Policies tab "
    "to enforce minimum controls."
)
EMPTY_ASSETS_NO_DEPLOYMENTS = "No model deployments in this scope."
SELECT_POLICY = "Select a policy first"
SELECT_ASSET = "Select an asset first"
POLICY_ROLE_TIP = "Needs Owner or Resource Policy Contributor on the subscription or resource group."
FIX_TIP = "Open the deployment's guardrail to bring it into compliance (needs Contributor on the account)."
FIX_ALL_TIP = "Give the violating deployments one guardrail that meets the policy."


# ------------------------------------------------------------------------------------ helpers


def default_colors() -> StateColors:
    """Light or dark state colours, from the application palette."""
    app = QGuiApplication.instance()
    if isinstance(app, QGuiApplication):
        return colors_for(app.palette().window().color().lightness() < 128)
    return colors_for(False)


def fit_table(table: QTableView, max_rows: int = 10, *, max_column_width: int = 240) -> None:
    """Size a small table inside the scrolling dock: a fixed height showing up to ``max_rows`` rows,
    and columns fitted to their contents but no wider than ``max_column_width`` (still resizable)."""
    model = table.model()
    rows = max(1, min(max_rows, model.rowCount() if model is not None else 0))
    header = 0 if table.horizontalHeader().isHidden() else table.horizontalHeader().sizeHint().height()
    scroll = table.horizontalScrollBar().sizeHint().height()
    table.setFixedHeight(
        header + rows * table.verticalHeader().defaultSectionSize() + 2 * table.frameWidth() + scroll
    )
    table.resizeColumnsToContents()
    for col in range(model.columnCount() if model is not None else 0):
        if table.columnWidth(col) > max_column_width:
            table.setColumnWidth(col, max_column_width)


def dock_table(model: Any, object_name: str) -> DataTable:
    """A small single-selection table for the Details dock."""
    table = DataTable(model, object_name=object_name)
    table.setSelectionMode(QTableView.SelectionMode.SingleSelection)
    return table


def clear_layout(layout: QLayout) -> None:
    while layout.count():
        item = layout.takeAt(0)
        w = item.widget()
        if w is not None:
            w.setParent(None)
            w.deleteLater()
        elif item.layout() is not None:
            clear_layout(item.layout())


def dep_label(dep: Deployment) -> str:
    return f"{dep.account_name} / {dep.name}"


def _violating(row: PolicyRow) -> list[Deployment]:
    """What "Fix violating deployments…" fixes: the policy's violating deployments."""
    return [a.deployment for a in row.assets if a.violating]


def _toolbar_row(*widgets: QWidget, stretch_after: int = -1) -> QHBoxLayout:
    row = QHBoxLayout()
    row.setContentsMargins(0, 0, 0, 0)
    for i, w in enumerate(widgets):
        row.addWidget(w, 1 if i == stretch_after else 0)
    return row


class _DetailBody(QWidget):
    """A placeholder or a content widget, shown in the tab's Details dock; built once, updated in place."""

    def __init__(self, placeholder: str) -> None:
        super().__init__()
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        self.placeholder = PlainLabel(placeholder, muted=True)
        self.placeholder.setObjectName("detailPlaceholder")
        self.content = QWidget(self)
        self.body = QVBoxLayout(self.content)
        self.body.setContentsMargins(0, 0, 0, 0)
        self.body.setSpacing(8)
        outer.addWidget(self.placeholder)
        outer.addWidget(self.content)
        self.show_placeholder()

    def show_placeholder(self, text: str | None = None) -> None:
        if text is not None:
            self.placeholder.setText(text)
        self.placeholder.setVisible(True)
        self.content.setVisible(False)

    def show_content(self) -> None:
        self.placeholder.setVisible(False)
        self.content.setVisible(True)


# ------------------------------------------------------------------------------------ Policies


class _PolicyDetail(_DetailBody):
    """The policy dock: requirements, exceptions, assets, and one asset's required-vs-actual table."""

    def __init__(self, colors: StateColors) -> None:
        super().__init__("Select a guardrail policy to see its requirements and its assets.")
        b = self.body
        self.title = heading("")
        self.title.setObjectName("policyTitle")
        self.subtitle = PlainLabel("", muted=True)
        self.disagree_banner = Banner(BannerKind.WARNING)
        fields_box, self.fields = form_box()
        b.addWidget(self.title)
        b.addWidget(self.subtitle)
        b.addWidget(self.disagree_banner)
        b.addWidget(fields_box)

        b.addWidget(heading("Requirements", 2))
        req_box, self.requirements = form_box()
        b.addWidget(req_box)

        b.addWidget(heading("Exceptions", 2))
        self.exceptions = PlainLabel("")
        self.exceptions.setObjectName("policyExceptions")
        b.addWidget(self.exceptions)

        self.assets_heading = heading("Assets", 2)
        b.addWidget(self.assets_heading)
        b.addWidget(
            PlainLabel("Select an asset to compare its guardrail settings with the requirements.", muted=True)
        )
        self.assets_model = AssetSummaryModel(colors, first="deployment")
        self.assets_table = dock_table(self.assets_model, "policyAssetsTable")
        self.no_assets = PlainLabel("No model deployment in scope is governed by this policy.", muted=True)
        b.addWidget(self.assets_table)
        b.addWidget(self.no_assets)
        self.fix_all_button = write_button("Fix violating deployments…", FIX_ALL_TIP)
        self.fix_all_button.setObjectName("fixAllButton")
        b.addLayout(_toolbar_row(self.fix_all_button, QWidget(), stretch_after=1))

        # the selected asset: required vs actual
        self.asset_box = QWidget()
        ab = QVBoxLayout(self.asset_box)
        ab.setContentsMargins(0, 6, 0, 0)
        self.asset_title = heading("", 2)
        self.asset_title.setObjectName("assetCompareTitle")
        self.asset_info = PlainLabel("", muted=True)
        self.asset_banner = Banner(BannerKind.WARNING)
        self.evaluation_model = EvaluationModel(colors)
        self.evaluation_table = dock_table(self.evaluation_model, "evaluationTable")
        self.fix_button = write_button("Fix now", FIX_TIP)
        self.fix_button.setObjectName("fixNowButton")
        ab.addWidget(self.asset_title)
        ab.addWidget(self.asset_info)
        ab.addWidget(self.asset_banner)
        ab.addWidget(self.evaluation_table)
        ab.addLayout(_toolbar_row(self.fix_button, QWidget(), stretch_after=1))
        b.addWidget(self.asset_box)

        b.addWidget(heading("Excepted deployments", 2))
        self.excepted = PlainLabel("")
        self.excepted.setObjectName("policyExcepted")
        b.addWidget(self.excepted)


def _table_or_empty(
    model: RowTableModel[Any], table_name: str, empty_text: str, empty_name: str
) -> tuple[DataTable, PlainLabel, QStackedWidget]:
    """A table and the placeholder shown instead of it when the scope has nothing to list."""
    table = DataTable(model, object_name=table_name)
    empty = PlainLabel(empty_text, muted=True)
    empty.setObjectName(empty_name)
    empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
    stack = QStackedWidget()
    stack.addWidget(table)
    stack.addWidget(empty)
    return table, empty, stack


class PoliciesTab(WorkspaceTab):
    """Guardrail policies in scope.

    Signals:
        createPolicyRequested(): "Create policy…" was clicked.
        editPolicyRequested(object): "Edit policy…" for a ``GuardrailPolicy``.
        deletePolicyRequested(object): "Delete policy…" for a ``GuardrailPolicy``.
        fixNowRequested(object): "Fix now" for a ``Deployment`` (open its guardrail configuration).
        fixManyRequested(object): "Fix violating deployments…": the policy's violating ``Deployment`` list.
    """

    key = "policies"
    base_title = "Policies"

    createPolicyRequested = Signal()
    editPolicyRequested = Signal(object)
    deletePolicyRequested = Signal(object)
    fixNowRequested = Signal(object)
    fixManyRequested = Signal(object)

    def __init__(
        self,
        context: WorkspaceContext,
        parent: QWidget | None = None,
        *,
        colors: StateColors | None = None,
        open_url: OpenUrl | None = None,
    ) -> None:
        super().__init__(context, parent, open_url=open_url)
        self.colors = colors or default_colors()
        self._names = ScopeNames(context.inventory)
        self._current: PolicyRow | None = None
        self._current_asset: AssetRow | None = None

        self.model = PolicyTableModel(
            self.colors, scope_text=lambda p: self._names.scope_label(p), scope_name=lambda s: self._names(s)
        )
        self.toggle = SegmentedToggle(["Policies", "Assets"])
        self.toggle.setObjectName("policyAssetsToggle")
        self.toggle.set_current(0)
        self.toggle.changed.connect(self._on_toggle)
        self.filter = FilterBar("Filter policies…")
        self.create_button = write_button("Create policy…", POLICY_ROLE_TIP)
        self.create_button.setObjectName("createPolicyButton")
        self.edit_button = write_button("Edit policy…", POLICY_ROLE_TIP)
        self.edit_button.setObjectName("editPolicyButton")
        self.delete_button = write_button("Delete policy…", POLICY_ROLE_TIP)
        self.delete_button.setObjectName("deletePolicyButton")
        self.write_reason = PlainLabel("", wrap=False, muted=True)
        self.error_banner = Banner(BannerKind.WARNING, self)

        self.table, self.empty_state, self.stack = _table_or_empty(
            self.model, "policiesTable", EMPTY_POLICIES, "policiesEmptyState"
        )
        self.filter.bind(self.table)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 6, 0, 0)
        lay.addLayout(_toolbar_row(self.toggle, self.filter, stretch_after=1))
        lay.addLayout(
            _toolbar_row(
                self.create_button,
                self.edit_button,
                self.delete_button,
                self.write_reason,
                QWidget(),
                stretch_after=4,
            )
        )
        lay.addWidget(self.error_banner)
        lay.addWidget(self.stack, 1)

        self.view = _PolicyDetail(self.colors)
        self.detail.clear()
        self.detail.add_widget(self.view)
        self.detail.finish()

        self.gate = WriteGate(context, self.write_reason)
        self.gate.add(self.create_button, lambda: create_reason(self.context))
        self.gate.add(self.edit_button, lambda: self._policy_reason(self._current))
        self.gate.add(self.delete_button, lambda: self._policy_reason(self._current))
        self.gate.add(self.view.fix_button, lambda: self._asset_reason(self._current_asset))
        self.gate.add(self.view.fix_all_button, lambda: self._violations_reason(self._current))

        self.create_button.clicked.connect(self.createPolicyRequested)
        self.edit_button.clicked.connect(
            lambda: self._current and self.editPolicyRequested.emit(self._current.policy)
        )
        self.delete_button.clicked.connect(
            lambda: self._current and self.deletePolicyRequested.emit(self._current.policy)
        )
        self.view.fix_button.clicked.connect(
            lambda: self._current_asset and self.fixNowRequested.emit(self._current_asset.deployment)
        )
        self.view.fix_all_button.clicked.connect(
            lambda: self._current and self.fixManyRequested.emit(_violating(self._current))
        )
        self.link_rows(self.table, lambda r: r.policy.id)
        self.table.add_context_action(self._policy_actions)
        self.link_rows(self.view.assets_table, lambda a: a.deployment.id)
        self.view.assets_table.add_context_action(self._asset_actions)
        self.table.currentRowObjectChanged.connect(self._show_policy)
        self.view.assets_table.currentRowObjectChanged.connect(self._show_asset)
        self.table.sortByColumn(PolicyTableModel.COL_STATUS, Qt.SortOrder.AscendingOrder)
        self.reload()

    # ------------------------------------------------------------------ WorkspaceTab contract

    def reload(self) -> None:
        inv = self.context.inventory
        if self._names.inventory is not inv:
            self._names = ScopeNames(inv)
        keep_policy = idkey(self._current.policy.id) if self._current else None
        keep_asset = idkey(self._current_asset.deployment.id) if self._current_asset else None
        rows = inv.policy_rows(self.context.scope)
        self.model.set_rows(rows)
        self.stack.setCurrentWidget(self.table if rows else self.empty_state)
        errors = scope_errors(inv, self.context.scope)
        if errors:
            self.error_banner.show_message(
                f"{plural(len(errors), 'part')} of the capture in this scope could not be read, so policies "
                f"or their results may be missing. First: {errors[0].message}"
            )
        else:
            self.error_banner.clear()
        if keep_policy and self.table.select_row_object(lambda r: idkey(r.policy.id) == keep_policy):
            if keep_asset:
                self.view.assets_table.select_row_object(lambda a: idkey(a.deployment.id) == keep_asset)
        else:
            self._show_policy(None)
        self.gate.update()

    def rows_shown(self) -> int:
        return self.table.proxy.rowCount()

    def select_first(self) -> bool:
        return self.table.select_first_row()

    def focus_filter(self) -> None:
        self.filter.edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.filter.edit.selectAll()

    # ------------------------------------------------------------------ reactions

    def _on_toggle(self, index: int) -> None:
        if index == 1:
            self.toggle.set_current(0)  # this tab is always "Policies"; the window shows the Assets tab
            self.switchRequested.emit("assets")

    def state_widgets(self) -> dict[str, StateWidget]:
        return {"filter": self.filter.edit}

    def state_tables(self) -> list[DataTable]:
        return [self.table]

    def _policy_actions(self, row: PolicyRow | None) -> list[QAction]:
        """The policy row's menu: the write buttons' actions for that row, gated alike."""
        if row is None:
            return []
        gate, reason = self.gate, lambda: self._policy_reason(row)
        return [
            gate.action(
                "Edit policy…", lambda: self.editPolicyRequested.emit(row.policy), reason, tip=POLICY_ROLE_TIP
            ),
            gate.action(
                "Delete policy…",
                lambda: self.deletePolicyRequested.emit(row.policy),
                reason,
                tip=POLICY_ROLE_TIP,
            ),
            gate.action(
                "Fix violating deployments…",
                lambda: self.fixManyRequested.emit(_violating(row)),
                lambda: self._violations_reason(row),
                tip=FIX_ALL_TIP,
            ),
        ]

    def _asset_actions(self, asset: AssetRow | None) -> list[QAction]:
        """An asset of the policy (in the dock): "Fix now…", as its button."""
        if asset is None:
            return []
        return [
            self.gate.action(
                "Fix now…",
                lambda: self.fixNowRequested.emit(asset.deployment),
                lambda: self._asset_reason(asset),
                tip=FIX_TIP,
            )
        ]

    def _policy_reason(self, row: PolicyRow | None) -> str | None:
        if row is None:
            return SELECT_POLICY
        return self.context.rights_reason(POLICY_RIGHTS, row.policy.scope)

    def _asset_reason(self, asset: AssetRow | None) -> str | None:
        if asset is None:
            return SELECT_ASSET
        return self.context.rights_reason(GUARDRAIL_RIGHTS, asset.deployment.account_id)

    def _violations_reason(self, row: PolicyRow | None) -> str | None:
        if row is None:
            return SELECT_POLICY
        accounts = {a.deployment.account_id.lower() for a in row.assets if a.violating}
        if not accounts:
            return "No governed deployment violates this policy"
        reasons = [self.context.rights_reason(GUARDRAIL_RIGHTS, acct) for acct in sorted(accounts)]
        return None if any(r is None for r in reasons) else reasons[0]

    def _show_policy(self, row: PolicyRow | None) -> None:
        self._current = row
        v = self.view
        if row is None:
            self._current_asset = None
            v.assets_model.set_rows([])
            v.evaluation_model.set_rows([])
            v.show_placeholder()
            self.gate.update()
            return
        pol = row.policy
        v.title.setText(pol.label)
        v.subtitle.setText(self._names.scope_label(pol))
        if row.disagreements:
            v.disagree_banner.show_message(
                "fcdesk's local evaluation disagrees with Azure on "
                f"{plural(row.disagreements, 'deployment')}: Azure may not have re-evaluated yet. "
                "Select one below to see why."
            )
        else:
            v.disagree_banner.clear()
        status = f"{row.status_text}: {POLICY_STATUS_EXPLAINED[row.status]}"
        counts = f"{row.violating:,} of {row.total:,} violating"
        if row.excepted:
            counts += f"; {plural(len(row.excepted), 'excepted deployment')} not counted"
        effect = pol.effect + (
            "" if pol.enforcement_mode == "Default" else f" (enforcement {pol.enforcement_mode})"
        )
        created = created_by_text(pol)
        created_at = parse_time(pol.metadata.get("createdOn")) if isinstance(pol.metadata, dict) else None
        created_on = format_utc(created_at) if created_at else None
        created_tip = (
            "The assignment's assignedBy metadata"
            + ("; fcdesk manages it (metadata managedBy)" if pol.created_by_fcdesk else "")
        )
        set_form_rows(
            v.fields,
            [
                ("Scope", self._names.scope_label(pol), pol.scope),
                ("Description", pol.description or "—"),
                ("Policy compliance", status),
                ("As of", as_of(row.as_of) if row.as_of else "Not evaluated by Azure Policy yet"),
                ("Assets", counts),
                ("Effect", effect),
                ("Created by", created + (f" on {created_on}" if created_on else ""), created_tip),
            ],
        )
        reqs = [
            (
                r.control.label,
                r.text + (f" (unparsed values: {', '.join(r.unknown_values)})" if r.unknown_values else ""),
            )
            for r in pol.minimum_controls
        ]
        if not pol.mode_requirement.permissive:
            reqs.append(("Guardrail mode", pol.mode_requirement.text))
        if not reqs:
            reqs.append(("Controls", "Filters present (any setting)"))
        set_form_rows(v.requirements, reqs)
        v.exceptions.setText("\n".join(self._names(s) for s in pol.not_scopes) if pol.not_scopes else "None")
        assets = sorted(
            row.assets,
            key=lambda a: (not a.violating, a.deployment.account_name.lower(), a.deployment.name.lower()),
        )
        v.assets_heading.setText(f"Assets ({row.violating:,} of {row.total:,} violating)")
        v.assets_model.set_rows(assets)
        v.assets_table.setVisible(bool(assets))
        v.no_assets.setVisible(not assets)
        fit_table(v.assets_table, 8)
        v.excepted.setText("\n".join(dep_label(d) for d in row.excepted) if row.excepted else "None")
        v.show_content()
        if not v.assets_table.select_first_row():
            self._show_asset(None)
        self.gate.update()

    def _show_asset(self, asset: AssetRow | None) -> None:
        self._current_asset = asset
        v = self.view
        if asset is None:
            v.evaluation_model.set_rows([])
            v.asset_box.setVisible(False)
            self.gate.update()
            return
        dep, eff = asset.deployment, asset.effective
        v.asset_title.setText(f"Required vs actual: {dep_label(dep)}")
        azure = f"Azure Policy: {azure_word(asset)}"
        if asset.azure is not None and asset.azure.as_of is not None:
            azure += f" (as of {as_of(asset.azure.as_of)})"
        local = "passes" if asset.local.passed else f"fails {plural(len(asset.local.failures), 'control')}"
        info = [f"Effective guardrail: {eff.name}", azure, f"fcdesk's local evaluation {local}"]
        if eff.note:
            info.insert(1, eff.note)
        v.asset_info.setText("\n".join(info))
        note = disagreement_note(asset)
        if note:
            v.asset_banner.show_message(note)
        else:
            v.asset_banner.clear()
        v.evaluation_model.set_evaluation(asset.local)
        fit_table(v.evaluation_table, 16)
        v.asset_box.setVisible(True)
        self.gate.update()


# ------------------------------------------------------------------------------------ Assets


class _AssetDetail(_DetailBody):
    def __init__(self, colors: StateColors) -> None:
        super().__init__("Select an asset to see the policies that govern it and which controls fail.")
        b = self.body
        self.title = heading("")
        self.title.setObjectName("assetTitle")
        self.subtitle = PlainLabel("", muted=True)
        fields_box, self.fields = form_box()
        b.addWidget(self.title)
        b.addWidget(self.subtitle)
        b.addWidget(fields_box)
        b.addWidget(heading("Governing policies", 2))
        self.governing_model = AssetSummaryModel(colors, first="policy")
        self.governing_table = dock_table(self.governing_model, "governingTable")
        b.addWidget(self.governing_table)
        self.sections = QWidget()
        self.sections_layout = QVBoxLayout(self.sections)
        self.sections_layout.setContentsMargins(0, 0, 0, 0)
        self.sections_layout.setSpacing(6)
        b.addWidget(self.sections)


class AssetsTab(WorkspaceTab):
    """Model deployments in scope, one row per (deployment, governing policy).

    Signals:
        viewInBuildRequested(object): "View in Build…" for a ``Deployment`` (edit its guardrail).
    """

    key = "assets"
    base_title = "Assets"

    viewInBuildRequested = Signal(object)

    def __init__(
        self,
        context: WorkspaceContext,
        parent: QWidget | None = None,
        *,
        colors: StateColors | None = None,
        open_url: OpenUrl | None = None,
    ) -> None:
        super().__init__(context, parent, open_url=open_url)
        self.colors = colors or default_colors()
        self._current: AssetRow | None = None

        self.model = AssetTableModel(self.colors)
        self.toggle = SegmentedToggle(["Policies", "Assets"])
        self.toggle.setObjectName("policyAssetsToggle")
        self.toggle.set_current(1)
        self.toggle.changed.connect(self._on_toggle)
        self.filter = FilterBar("Filter assets…")
        self.violations_only = QCheckBox("Violations only")
        self.violations_only.setObjectName("violationsOnly")
        self.violations_only.setToolTip(
            "Only assets violating their policy, by Azure's verdict where there is one, else fcdesk's local "
            "evaluation (policies whose effect is Disabled are left out)."
        )
        self.build_button = write_button("View in Build…", FIX_TIP)
        self.build_button.setObjectName("viewInBuildButton")
        self.write_reason = PlainLabel("", wrap=False, muted=True)
        self.error_banner = Banner(BannerKind.WARNING, self)
        self.table, self.empty_state, self.stack = _table_or_empty(
            self.model, "assetsTable", EMPTY_ASSETS_NO_POLICY, "assetsEmptyState"
        )
        self.filter.bind(self.table)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 6, 0, 0)
        lay.addLayout(_toolbar_row(self.toggle, self.filter, stretch_after=1))
        lay.addLayout(
            _toolbar_row(
                self.violations_only, self.build_button, self.write_reason, QWidget(), stretch_after=3
            )
        )
        lay.addWidget(self.error_banner)
        lay.addWidget(self.stack, 1)

        self.view = _AssetDetail(self.colors)
        self.detail.clear()
        self.detail.add_widget(self.view)
        self.detail.finish()

        self.gate = WriteGate(context, self.write_reason)
        self.gate.add(self.build_button, lambda: self._build_reason(self._current))
        self.build_button.clicked.connect(
            lambda: self._current and self.viewInBuildRequested.emit(self._current.deployment)
        )
        self.link_rows(self.table, lambda r: r.deployment.id)
        self.table.add_context_action(self._asset_actions)
        self.link_rows(self.view.governing_table, lambda r: r.policy.id)
        self.violations_only.toggled.connect(self._on_violations_only)
        self.table.currentRowObjectChanged.connect(self._show_asset)
        self.table.sortByColumn(AssetTableModel.COL_STATUS, Qt.SortOrder.AscendingOrder)
        self.reload()

    # ------------------------------------------------------------------ WorkspaceTab contract

    def reload(self) -> None:
        inv = self.context.inventory
        scope = self.context.scope
        keep = (idkey(self._current.deployment.id), idkey(self._current.policy.id)) if self._current else None
        rows = inv.asset_rows(scope)
        self.model.set_rows(rows)
        if not rows:
            any_dep = bool(inv.scoped_deployments(scope))
            self.empty_state.setText(EMPTY_ASSETS_NO_POLICY if any_dep else EMPTY_ASSETS_NO_DEPLOYMENTS)
        self.stack.setCurrentWidget(self.table if rows else self.empty_state)
        errors = scope_errors(inv, scope)
        if errors:
            self.error_banner.show_message(
                f"{plural(len(errors), 'part')} of the capture in this scope could not be read, so "
                f"deployments or their results may be missing. First: {errors[0].message}"
            )
        else:
            self.error_banner.clear()
        if not (
            keep
            and self.table.select_row_object(lambda r: (idkey(r.deployment.id), idkey(r.policy.id)) == keep)
        ):
            self._show_asset(None)
        self.gate.update()

    def rows_shown(self) -> int:
        return self.table.proxy.rowCount()

    def select_first(self) -> bool:
        return self.table.select_first_row()

    def focus_filter(self) -> None:
        self.filter.edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.filter.edit.selectAll()

    # ------------------------------------------------------------------ reactions

    def _on_toggle(self, index: int) -> None:
        if index == 0:
            self.toggle.set_current(1)
            self.switchRequested.emit("policies")

    def state_widgets(self) -> dict[str, StateWidget]:
        return {"filter": self.filter.edit, "violationsOnly": self.violations_only}

    def state_tables(self) -> list[DataTable]:
        return [self.table]

    def _build_reason(self, row: AssetRow | None) -> str | None:
        if row is None:
            return SELECT_ASSET
        return self.context.rights_reason(GUARDRAIL_RIGHTS, row.deployment.account_id)

    def _asset_actions(self, row: AssetRow | None) -> list[QAction]:
        """The asset row's menu: "View in Build…" as its button, named "Fix now…" on a violation."""
        if row is None:
            return []
        return [
            self.gate.action(
                "Fix now…" if asset_needs_fixing(row) else "View in Build…",
                lambda: self.viewInBuildRequested.emit(row.deployment),
                lambda: self._build_reason(row),
                tip=FIX_TIP,
            )
        ]

    def _on_violations_only(self, on: bool) -> None:
        self.table.proxy.set_predicate(asset_needs_fixing if on else None)

    def _show_asset(self, row: AssetRow | None) -> None:
        self._current = row
        v = self.view
        clear_layout(v.sections_layout)
        if row is None:
            v.governing_model.set_rows([])
            v.show_placeholder()
            self.gate.update()
            return
        inv = self.context.inventory
        dep, eff = row.deployment, row.effective
        v.title.setText(dep.name)
        v.subtitle.setText(f"{dep.account_name} · {dep.model_label}")
        acct = inv.account_of(dep)
        set_form_rows(
            v.fields,
            [
                (
                    "Account",
                    dep.account_name + (f" ({acct.kind})" if acct and acct.kind else ""),
                    dep.account_id,
                ),
                ("Resource group", dep.resource_group),
                ("Subscription", inv.subscription_name(dep.subscription_id)),
                ("Model", dep.model_label, dep.id),
                ("Effective guardrail", eff.name + (f"\n{eff.note}" if eff.note else "")),
            ],
        )
        governing = governing_rows(inv, dep)
        # the selected row's policy first, then violations first
        governing.sort(
            key=lambda a: (
                idkey(a.policy.id) != idkey(row.policy.id),
                not a.violating,
                a.policy.label.lower(),
            )
        )
        v.governing_model.set_rows(governing)
        fit_table(v.governing_table, 6)
        for asset in governing:
            self._add_policy_section(asset)
        v.show_content()
        self.gate.update()

    def _add_policy_section(self, asset: AssetRow) -> None:
        lay = self.view.sections_layout
        pol = asset.policy
        title = heading(f"{pol.label}: {asset_status_text(asset)}", 2)
        title.setObjectName("assetPolicySection")
        lay.addWidget(title)
        disabled = pol.disabled
        azure = f"Azure Policy: {azure_word(asset)}"
        if asset.azure is not None and asset.azure.as_of is not None:
            azure += f" (as of {as_of(asset.azure.as_of)})"
        fails = asset.local.failures
        local = "every required control passes" if not fails else f"{plural(len(fails), 'control')} fail"
        lay.addWidget(
            PlainLabel(
                f"{azure}. fcdesk's local evaluation: {local}."
                + (" The policy's effect is Disabled: Azure does not evaluate it." if disabled else ""),
                muted=True,
            )
        )
        note = disagreement_note(asset)
        if note:
            banner = Banner(BannerKind.WARNING)
            lay.addWidget(banner)  # parented before it is shown: never a top-level window
            banner.show_message(note)
        model = EvaluationModel(self.colors)
        table = dock_table(model, "assetEvaluationTable")
        model.setParent(table)
        model.set_evaluation(asset.local)
        fit_table(table, 16)
        lay.addWidget(table)
