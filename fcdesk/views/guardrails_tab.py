"""The Guardrails tab: a sortable, filterable comparison matrix of every deployment's guardrail.

Spec: "Review guardrails across your subscription": check the scope, sort columns to find problems
(filters disabled, annotate-only, missing shields), spot subscriptions with no content filtering at
all, then fix a deployment or create a policy. Rows come from ``Inventory.matrix_rows(scope)`` once
per reload; text filter and "Gaps only" go through the proxy only.
"""

from __future__ import annotations

from collections import Counter

from PySide6.QtCore import QItemSelection, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QGuiApplication, QPalette
from PySide6.QtWidgets import QFormLayout, QHBoxLayout, QPushButton, QVBoxLayout, QWidget

from fcdesk.core.guardrails import BASELINE, CATALOGUE, DEFAULT_V2, GuardrailOrigin
from fcdesk.core.inventory import MatrixRow
from fcdesk.models.matrix import MatrixModel, blocklists_tooltip, other_filter_label, other_filters
from fcdesk.models.palette import StateColors, colors_for
from fcdesk.models.workspace import GUARDRAIL_RIGHTS, WorkspaceContext
from fcdesk.views.base import StateWidget, WorkspaceTab
from fcdesk.views.compare_dialog import CompareDialog
from fcdesk.views.widgets import (
    Banner,
    BannerKind,
    DataTable,
    FilterBar,
    OpenUrl,
    PlainLabel,
    WriteGate,
    create_reason,
    write_button,
)

EDIT_TIP = "Edit the guardrail of the selected deployment."
POLICY_FROM_GAPS_TIP = "Create a guardrail policy that requires the controls missing in this view."
GAPS_TIP = (
    "Show only deployments with a gap: a control weaker than Microsoft's default "
    f"({DEFAULT_V2}), no guardrail set (the account default applies), or a guardrail that is "
    "missing from the account."
)

_ORIGIN_TEXT = {
    GuardrailOrigin.CUSTOM: "Custom guardrail on the account",
    GuardrailOrigin.SYSTEM: "System guardrail (cannot be edited)",
    GuardrailOrigin.ACCOUNT_DEFAULT: "None set on the deployment: the account default applies",
    GuardrailOrigin.MISSING: "Named on the deployment but not found on the account",
}


class GuardrailsTab(WorkspaceTab):
    """Signals:
    editGuardrailRequested(object): "Edit guardrail…" for the current :class:`MatrixRow`.
    createPolicyFromGapsRequested(object): "Create policy from gaps…" with the visible rows that
        have gaps (a list of :class:`MatrixRow`).

    Object names: ``guardrailsTable``, ``guardrailsFilter``, ``gapsOnly``, ``compareSelected``,
    ``guardrailsLegend``, ``noFilteringBanner``, ``editGuardrail``, ``createPolicyFromGaps``.
    """

    key = "guardrails"
    base_title = "Guardrails"

    editGuardrailRequested = Signal(object)
    createPolicyFromGapsRequested = Signal(object)

    def __init__(
        self,
        context: WorkspaceContext,
        parent: QWidget | None = None,
        *,
        colors: StateColors | None = None,
        open_url: OpenUrl | None = None,
    ) -> None:
        super().__init__(context, parent, open_url=open_url)
        if colors is None:
            colors = colors_for(self.palette().color(QPalette.ColorRole.Window).lightness() < 128)
        self.colors = colors
        self.model = MatrixModel(colors, self)
        self._gap_rows = 0
        self._dialogs: list[CompareDialog] = []

        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 6, 0, 0)
        lay.setSpacing(6)

        bar = QHBoxLayout()
        bar.setSpacing(8)
        self.filter_bar = FilterBar("Filter deployments, models, guardrails… (Ctrl+F)", self)
        self.filter_bar.setObjectName("guardrailsFilter")
        self.filter_bar.setMinimumWidth(320)
        bar.addWidget(self.filter_bar, 2)

        self.gaps_button = QPushButton("Gaps only", self)
        self.gaps_button.setObjectName("gapsOnly")
        self.gaps_button.setCheckable(True)
        self.gaps_button.setToolTip(GAPS_TIP)
        self.gaps_button.toggled.connect(self._on_gaps_toggled)
        bar.addWidget(self.gaps_button)

        self.compare_button = QPushButton("Compare selected", self)
        self.compare_button.setObjectName("compareSelected")
        self.compare_button.clicked.connect(self.compare_selected)
        bar.addWidget(self.compare_button)

        self.edit_button = write_button("Edit guardrail…", EDIT_TIP)
        self.edit_button.setObjectName("editGuardrail")
        self.edit_button.clicked.connect(self._on_edit_clicked)
        self.policy_button = write_button("Create policy from gaps…", POLICY_FROM_GAPS_TIP)
        self.policy_button.setObjectName("createPolicyFromGaps")
        self.policy_button.clicked.connect(self._on_policy_clicked)
        bar.addStretch(1)
        bar.addWidget(self.edit_button)
        bar.addWidget(self.policy_button)
        lay.addLayout(bar)

        self.legend = self._build_legend()
        lay.addWidget(self.legend)

        self.banner = Banner(BannerKind.WARNING, self)
        self.banner.setObjectName("noFilteringBanner")
        lay.addWidget(self.banner)

        self.table = DataTable(self.model, self, object_name="guardrailsTable")
        self.table.setAccessibleName("Guardrail comparison matrix")
        self._arrange_columns()
        lay.addWidget(self.table, 1)
        self.filter_bar.bind(self.table)

        self.table.currentRowObjectChanged.connect(self._on_current_row)
        self.table.selectionModel().selectionChanged.connect(self._on_selection_changed)
        self.table.proxy.modelReset.connect(self._update_compare)
        self.table.proxy.layoutChanged.connect(self._update_compare)

        self.gate = WriteGate(context)
        self.gate.add(self.edit_button, lambda: self._edit_reason(self.table.current_row_object()))
        self.gate.add(self.policy_button, self._policy_reason)
        self.link_rows(self.table, lambda r: r.deployment.id)
        self.table.add_context_action(self._row_actions)
        self.reload()

    def _edit_reason(self, row: MatrixRow | None) -> str | None:
        if row is None:
            return "Select a deployment first"
        return self.context.rights_reason(GUARDRAIL_RIGHTS, row.deployment.account_id)

    def _policy_reason(self) -> str | None:
        return create_reason(self.context) if self._gap_rows else "No deployment in scope has a gap"

    # ------------------------------------------------------------------ building

    def _paint_legend(self) -> None:
        c = self.colors
        for chip, color in zip(
            self.legend_chips, (c.block_low, c.block_medium, c.block_high, c.annotate, c.off, c.not_set), strict=True
        ):
            chip.setStyleSheet(f"background: {color.name()}; border-radius: 3px; padding: 1px 6px;")

    def colors_changed(self) -> None:
        self._paint_legend()
        super().colors_changed()

    def _build_legend(self) -> QWidget:
        box = QWidget(self)
        box.setObjectName("guardrailsLegend")
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(6)
        row.addWidget(PlainLabel("Cells:", wrap=False, muted=True))
        chips = (
            ("Blocks ≥ Low", "Blocks low, medium and high severity (strictest)."),
            ("≥ Medium", "Blocks medium and high severity; low passes."),
            ("≥ High", "Blocks only high severity; low and medium pass."),
            ("Annotate only", "Detected and flagged, nothing blocked."),
            ("Off", "Explicitly turned off."),
            ("Not set", "No filter, and the base policy sets none."),
        )
        self.legend_chips: list[PlainLabel] = []
        for text, tip in chips:
            chip = PlainLabel(text, wrap=False)
            chip.setToolTip(tip)
            row.addWidget(chip)
            self.legend_chips.append(chip)
        self._paint_legend()
        row.addWidget(
            PlainLabel(
                f"Bold: weaker than {DEFAULT_V2}. "
                'Italic / "(inherited)": from the base policy or account default.',
                wrap=False,
                muted=True,
            )
        )
        row.addStretch(1)
        return box

    # ------------------------------------------------------------------ WorkspaceTab contract

    def title(self) -> str:
        return f"{self.base_title} ({self._gap_rows:,} gaps)" if self._gap_rows else self.base_title

    def reload(self) -> None:
        inv = self.context.inventory
        current = self.table.current_row_object()
        current_id = current.deployment.id if current is not None else None
        rows = inv.matrix_rows(self.context.scope)
        self._summarise(rows)
        self.model.set_rows(rows)
        if current_id is not None:
            self.table.select_row_object(lambda r: r.deployment.id == current_id)
        self.gaps_button.setText(f"Gaps only ({self._gap_rows:,})")
        # Build the filter index once the table has painted, so the first keystroke is as fast as
        # the next ones (about 50 ms of work at 100,000 rows).
        QTimer.singleShot(0, self, self.model.search_texts)
        self.gate.update()
        self._update_compare()
        self.titleChanged.emit(self.title())

    def rows_shown(self) -> int:
        return self.table.proxy.rowCount()

    def select_first(self) -> bool:
        return self.table.select_first_row()

    def focus_filter(self) -> None:
        self.filter_bar.edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.filter_bar.edit.selectAll()

    def state_widgets(self) -> dict[str, StateWidget]:
        return {"filter": self.filter_bar.edit, "gapsOnly": self.gaps_button}

    def state_tables(self) -> list[DataTable]:
        return [self.table]

    def _row_actions(self, row: MatrixRow | None) -> list[QAction]:
        """The deployment's menu: its guardrail's id, Compare, and the write buttons' actions, gated alike."""
        if row is None:
            return []
        actions: list[QAction] = []
        rail = row.effective.guardrail
        if row.effective.origin is GuardrailOrigin.CUSTOM and rail is not None:
            copy_rail = QAction("Copy guardrail ID")
            copy_rail.setObjectName("copyGuardrailIdAction")
            copy_rail.setStatusTip(rail.id)
            copy_rail.triggered.connect(lambda: QGuiApplication.clipboard().setText(rail.id))
            actions.append(copy_rail)
        compare = QAction("Compare selected")
        compare.setEnabled(self._selected_count() >= 2)
        compare.setStatusTip(self.compare_button.toolTip())
        compare.triggered.connect(self.compare_selected)
        actions.append(compare)
        actions.append(
            self.gate.action(
                "Edit guardrail…",
                lambda: self.editGuardrailRequested.emit(row),
                lambda: self._edit_reason(row),
                tip=EDIT_TIP,
            )
        )
        if row.has_gap:
            actions.append(
                self.gate.action(
                    "Create policy from gaps…",
                    self._on_policy_clicked,
                    self._policy_reason,
                    tip=POLICY_FROM_GAPS_TIP,
                )
            )
        return actions

    # ------------------------------------------------------------------ derived state

    def _summarise(self, rows: list[MatrixRow]) -> None:
        """One pass: rows with gaps, and subscriptions in which no deployment filters anything.

        (``Inventory.unfiltered_subscriptions`` says the same, at the cost of a second pass over
        every deployment in scope; here the per-guardrail facts are looked up once per ``eff.key``.)
        """
        per_rail: dict[str, tuple[bool, bool]] = {}  # eff.key -> (filters anything, has a gap)
        per_sub: dict[str, list] = {}  # subscription id as spelled -> [deployments, any filtering, name]
        gaps = 0
        for r in rows:
            eff = r.effective
            facts = per_rail.get(eff.key)
            if facts is None:
                facts = per_rail[eff.key] = (eff.has_any_filtering, r.has_gap)
            sub = per_sub.get(r.deployment.subscription_id)
            if sub is None:
                sub = per_sub[r.deployment.subscription_id] = [0, False, r.subscription_name]
            sub[0] += 1
            if facts[0]:
                sub[1] = True
            if facts[1]:
                gaps += 1
        self._gap_rows = gaps
        counts: Counter[str] = Counter()
        any_by_sub: dict[str, bool] = {}
        names: dict[str, str] = {}
        for sid, (count, any_f, name) in per_sub.items():
            sk = sid.lower()  # ARM ids are case-insensitive
            counts[sk] += count
            any_by_sub[sk] = any_by_sub.get(sk, False) or any_f
            names.setdefault(sk, name)
        unfiltered = sorted(
            (sk for sk, any_f in any_by_sub.items() if not any_f), key=lambda s: names[s].lower()
        )
        if unfiltered:
            parts = [
                f"{names[sk]} ({counts[sk]:,} deployment{'s' if counts[sk] != 1 else ''})"
                for sk in unfiltered
            ]
            self.banner.show_message(
                "No content filtering at all in: "
                + ", ".join(parts)
                + ". No deployment there blocks or even annotates anything: a guardrail policy on the "
                "Policies tab can require minimum controls."
            )
        else:
            self.banner.clear()

    # ------------------------------------------------------------------ reactions

    def _on_gaps_toggled(self, checked: bool) -> None:
        self.table.proxy.set_predicate(_has_gap if checked else None)

    def _on_selection_changed(self, _sel: QItemSelection, _desel: QItemSelection) -> None:
        self._update_compare()

    def _selected_count(self, limit: int = 2) -> int:
        """Distinct selected rows, counted from the selection ranges and capped at ``limit``."""
        rows: set[int] = set()
        for rng in self.table.selectionModel().selection():
            rows.update(range(rng.top(), min(rng.bottom() + 1, rng.top() + limit)))
            if len(rows) >= limit:
                return limit
        return len(rows)

    def _update_compare(self) -> None:
        enough = self._selected_count() >= 2
        self.compare_button.setEnabled(enough)
        self.compare_button.setToolTip(
            "Compare the guardrails of the selected deployments side by side."
            if enough
            else "Select two or more deployments (Ctrl+click or Shift+click) to compare their guardrails."
        )

    def _on_current_row(self, row: MatrixRow | None) -> None:
        self.gate.update()
        self.show_details(row)

    def _on_edit_clicked(self) -> None:
        row = self.table.current_row_object()
        if row is not None:
            self.editGuardrailRequested.emit(row)

    def _on_policy_clicked(self) -> None:
        self.createPolicyFromGapsRequested.emit([r for r in self.table.proxy.visible_rows() if r.has_gap])

    def selected_rows(self) -> list[MatrixRow]:
        """Selected rows in view order, read from the selection ranges (cheap after Ctrl+A)."""
        picked: set[int] = set()
        for rng in self.table.selectionModel().selection():
            picked.update(range(rng.top(), rng.bottom() + 1))
        proxy = self.table.proxy
        return [proxy.row_object(r) for r in sorted(picked)]

    def compare_selected(self) -> CompareDialog | None:
        rows = self.selected_rows()
        if len(rows) < 2:
            return None
        dialog = CompareDialog(rows, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._dialogs.append(dialog)
        dialog.destroyed.connect(lambda _=None, d=dialog: self._forget(d))
        dialog.show()
        return dialog

    def _forget(self, dialog: CompareDialog) -> None:
        if dialog in self._dialogs:
            self._dialogs.remove(dialog)

    # ------------------------------------------------------------------ details

    def _arrange_columns(self) -> None:
        """Show who and what first, then the controls; where it lives goes last (visual order only)."""
        header = self.table.horizontalHeader()
        names = [c.header for c in self.model.columns]
        front = ["Deployment", "Account", "Guardrail", "Mode"]
        back = ["Model", "Project(s)", "Resource group", "Subscription"]
        order = [n for n in front if n in names]
        order += [n for n in names if n not in front and n not in back]
        order += [n for n in back if n in names]
        for visual, name in enumerate(order):
            header.moveSection(header.visualIndex(names.index(name)), visual)

    def show_details(self, row: MatrixRow | None) -> None:
        d = self.detail
        if row is None:
            d.placeholder("Select a deployment to see its guardrail.")
            return
        d.clear()
        inv = self.context.inventory
        dep, eff = row.deployment, row.effective
        acct = inv.account_of(dep)
        d.add_title(dep.name, f"{dep.model_label} · {dep.account_name}")
        sku = dep.sku_name or "—"
        if dep.sku_capacity is not None:
            sku += f", capacity {dep.sku_capacity}"
        if acct is not None:
            account_text = (
                f"{acct.name} ({', '.join(p for p in (acct.kind, acct.location) if p) or 'kind unknown'})"
            )
            abuse = acct.abuse_monitoring_text
        else:
            account_text = f"{dep.account_name} (account not in this snapshot)"
            abuse = "Unknown: the account is not in this snapshot"
        d.add_fields(
            [
                ("Deployment", dep.name),
                ("Model", dep.model_label + (f" ({dep.model_format})" if dep.model_format else "")),
                ("SKU / capacity", sku),
                ("Account", account_text),
                ("Resource group", dep.resource_group),
                ("Subscription", row.subscription_name),
                ("Projects", row.projects or "None"),
                ("Abuse monitoring", f"{abuse} (account-level, informational)"),
            ]
        )

        d.add_section("Guardrail")
        base = (
            eff.guardrail.base_policy_name
            if eff.guardrail is not None and eff.origin is GuardrailOrigin.CUSTOM
            else None
        )
        d.add_fields(
            [
                ("Guardrail", eff.name),
                ("Origin", _ORIGIN_TEXT[eff.origin]),
                ("Base policy", base or "None"),
                ("Mode", eff.mode_label),
            ]
        )
        if eff.note:
            d.add_text(eff.note, muted=True)

        d.add_section("Controls")
        if row.gaps:
            d.add_text(
                f"{len(row.gaps)} control{'s are' if len(row.gaps) != 1 else ' is'} weaker than Microsoft's "
                f"default ({DEFAULT_V2}): shown in bold."
            )
        gaps = set(row.gaps)
        pairs = []
        for i, ctl in enumerate(CATALOGUE):
            text = eff.cells[i].text
            pairs.append((ctl.label, f"{text} · gap (default: {BASELINE[i].text})" if i in gaps else text))
        form = d.add_fields(pairs)
        for i in gaps:
            value = form.itemAt(i, QFormLayout.ItemRole.FieldRole).widget()
            font = value.font()
            font.setBold(True)
            value.setFont(font)
            value.setProperty("gap", True)
        d.add_text("Blocklists", muted=True)
        d.add_text(blocklists_tooltip(eff))
        d.add_text("Other filters (names fcdesk does not know, as sent)", muted=True)
        others = other_filters(eff)
        for flt, cell in others:
            d.add_text(f"{other_filter_label(flt)}: {cell.text}")
        if not others:
            d.add_text("None")

        d.add_section("Governing policies")
        policies = inv.governing(dep)
        if policies:
            for pol in policies:
                d.add_text(f"{pol.label} ({pol.scope_label})")
        else:
            d.add_text("None: no guardrail policy covers this deployment.", muted=True)
        d.finish()


def _has_gap(row: MatrixRow) -> bool:
    return row.has_gap
