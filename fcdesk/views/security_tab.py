"""The Security posture tab: Defender for Cloud recommendations for the AI resources, Defender alerts,
the Defender for AI plan per subscription and the Microsoft Purview toggle.

Only one detail at a time: whichever of the three tables was used last drives the Details dock. An
alert's detail shows, beside it, the prompt shields of the deployment it hit (or of every deployment of
the attacked account when the alert does not name one), with a red banner when the Jailbreak shield of
an attacked deployment is off.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QItemSelection, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from fcdesk.core.guardrails import CellState
from fcdesk.core.model import Alert, Recommendation, id_segment, idkey
from fcdesk.core.text import as_of, html_to_plain, plural
from fcdesk.models.palette import StateColors
from fcdesk.models.policies import scope_errors
from fcdesk.models.security import (
    ENABLE_GUIDANCE,
    PUBLIC_PORTAL,
    PURVIEW_NOTE,
    AlertModel,
    PlanModel,
    PlanRow,
    RecommendationModel,
    ShieldModel,
    ShieldRow,
    account_name,
    alert_tag,
    alert_targets,
    alert_text,
    attention_count,
    plan_rows,
    portal_url,
    resource_url,
    shield_off,
)
from fcdesk.models.table import ROW_ROLE, plain_tooltip
from fcdesk.models.workspace import PURVIEW_RIGHTS, SECURITY_RIGHTS, WorkspaceContext
from fcdesk.views.base import WorkspaceTab
from fcdesk.views.policies_tab import default_colors, dock_table, fit_table
from fcdesk.views.widgets import (
    Banner,
    BannerKind,
    DataTable,
    FilterBar,
    PlainLabel,
    WriteGate,
    form_box,
    heading,
    set_form_rows,
    write_button,
)

SELECT_SUBSCRIPTION = "Select a subscription in the plans table first"
DEFENDER_ROLE_TIP = "Turns on the Defender for AI plan (needs Security Admin or Owner on the subscription)."
PURVIEW_ROLE_TIP = (
    "Shares AI prompts and responses with Microsoft Purview (needs the Azure AI Account Owner role)."
)


def _resource_text(resource_id: str) -> str:
    """ "acct-prod (resource group rg-ai)": readable; the full id goes in the tooltip."""
    rg = id_segment(resource_id, "resourceGroups")
    return account_name(resource_id) + (f" (resource group {rg})" if rg else "")


def _link_buttons(layout: QVBoxLayout, prefix: str) -> tuple[QPushButton, QPushButton]:
    """The "Open in Azure portal" / "Copy link" row of a detail page (objectNames ``<prefix>PortalButton``…)."""
    portal = _portal_button("Open in Azure portal", f"{prefix}PortalButton")
    copy = _portal_button("Copy link", f"{prefix}CopyLinkButton")
    row = QHBoxLayout()
    row.addWidget(portal)
    row.addWidget(copy)
    row.addStretch(1)
    layout.addLayout(row)
    return portal, copy


def _portal_button(text: str, object_name: str) -> QPushButton:
    btn = QPushButton(text)
    btn.setObjectName(object_name)
    btn.setAutoDefault(False)
    return btn


class _RecommendationPage(QWidget):
    def __init__(self) -> None:
        super().__init__()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(8)
        self.title = heading("")
        self.title.setObjectName("recommendationTitle")
        self.subtitle = PlainLabel("", muted=True)
        box, self.fields = form_box()
        self.description = PlainLabel("")
        self.description.setObjectName("recommendationDescription")
        self.remediation = PlainLabel("")
        self.remediation.setObjectName("recommendationRemediation")
        for w in (self.title, self.subtitle, box, heading("Description", 2), self.description):
            lay.addWidget(w)
        lay.addWidget(heading("Remediation", 2))
        lay.addWidget(self.remediation)
        self.portal_button, self.copy_button = _link_buttons(lay, "recommendation")
        lay.addStretch(1)


class _AlertPage(QWidget):
    def __init__(self, colors: StateColors) -> None:
        super().__init__()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(8)
        self.title = heading("")
        self.title.setObjectName("alertTitle")
        self.subtitle = PlainLabel("", muted=True)
        box, self.fields = form_box()
        self.description = PlainLabel("")
        self.steps = PlainLabel("")
        self.steps.setObjectName("alertRemediation")
        for w in (self.title, self.subtitle, box, heading("Description", 2), self.description):
            lay.addWidget(w)
        lay.addWidget(heading("Remediation steps", 2))
        lay.addWidget(self.steps)
        self.portal_button, self.copy_button = _link_buttons(lay, "alert")
        lay.addWidget(heading("Guardrail of the deployment hit", 2))
        self.target_note = PlainLabel("", muted=True)
        self.jailbreak_banner = Banner(BannerKind.ERROR)
        self.annotate_banner = Banner(BannerKind.WARNING)
        self.shields_model = ShieldModel(colors)
        self.shields_table = dock_table(self.shields_model, "alertShieldsTable")
        lay.addWidget(self.target_note)
        lay.addWidget(self.jailbreak_banner)
        lay.addWidget(self.annotate_banner)
        lay.addWidget(self.shields_table)
        lay.addStretch(1)


class _PlanPage(QWidget):
    def __init__(self) -> None:
        super().__init__()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(8)
        self.title = heading("")
        self.title.setObjectName("planTitle")
        self.subtitle = PlainLabel("", muted=True)
        box, self.fields = form_box()
        self.guidance = Banner(BannerKind.WARNING)
        self.accounts = PlainLabel("")
        for w in (self.title, self.subtitle, self.guidance, box, heading("Accounts", 2), self.accounts):
            lay.addWidget(w)
        lay.addWidget(PlainLabel(PURVIEW_NOTE, muted=True))
        lay.addStretch(1)


class _SecurityDetail(QStackedWidget):
    def __init__(self, colors: StateColors) -> None:
        super().__init__()
        self.placeholder = PlainLabel(
            "Select a recommendation, an alert or a subscription to see its details.", muted=True
        )
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.recommendation = _RecommendationPage()
        self.alert = _AlertPage(colors)
        self.plan = _PlanPage()
        for page in (self.placeholder, self.recommendation, self.alert, self.plan):
            self.addWidget(page)


class SecurityTab(WorkspaceTab):
    """Security posture of the AI resources in scope.

    ``open_url`` opens links (default ``QDesktopServices.openUrl``); ``portal_base`` is the Azure portal
    of the cloud (default public cloud) used when an assessment carries no portal link of its own.

    Signals:
        enableThreatProtectionRequested(str): subscription id to enable the Defender for AI plan on.
        purviewToggleRequested(str, bool): subscription id, wanted state of the Purview extension.
    """

    key = "security"
    base_title = "Security posture"

    enableThreatProtectionRequested = Signal(str)
    purviewToggleRequested = Signal(str, bool)

    def __init__(
        self,
        context: WorkspaceContext,
        parent: QWidget | None = None,
        *,
        colors: StateColors | None = None,
        portal_base: str = PUBLIC_PORTAL,
        open_url: Callable[[QUrl], Any] | None = None,
    ) -> None:
        super().__init__(context, parent)
        self.colors = colors or default_colors()
        self.portal_base = portal_base
        self._open_url = open_url or QDesktopServices.openUrl
        self._attention = 0
        self._shown: tuple[str, str] | None = None  #: (table objectName, row id) driving the dock

        self.defender_banner = Banner(BannerKind.WARNING, self)
        self.error_banner = Banner(BannerKind.WARNING, self)
        self.filter = FilterBar("Filter recommendations, alerts and subscriptions…")

        self.rec_model = RecommendationModel(self.colors)
        self.alert_model = AlertModel(self.colors)
        self.plan_model = PlanModel(self.colors)
        self.recommendations_table = DataTable(self.rec_model, object_name="recommendationsTable")
        self.alerts_table = DataTable(self.alert_model, object_name="alertsTable")
        self.plans_table = DataTable(self.plan_model, object_name="plansTable")
        self.plans_table.setSelectionMode(DataTable.SelectionMode.SingleSelection)
        self.filter.bind(self.recommendations_table)
        for table in (self.alerts_table, self.plans_table):
            self.filter.textChanged.connect(table.proxy.set_filter_text)
        self.no_recommendations = PlainLabel("", muted=True)

        self.enable_button = write_button("Enable threat protection for AI…", DEFENDER_ROLE_TIP)
        self.enable_button.setObjectName("enableDefenderButton")
        self.purview_button = write_button("Microsoft Purview", PURVIEW_ROLE_TIP)
        self.purview_button.setObjectName("purviewToggle")
        self.purview_button.setCheckable(True)
        self.purview_note = PlainLabel(PURVIEW_NOTE, muted=True)
        self.purview_note.setObjectName("purviewNote")
        self.write_reason = PlainLabel("", wrap=False, muted=True)

        self.rec_group = QGroupBox("Microsoft Defender for Cloud — recommendations")
        g = QVBoxLayout(self.rec_group)
        g.addWidget(self.no_recommendations)
        g.addWidget(self.recommendations_table)
        self.alert_group = QGroupBox("Alerts")
        QVBoxLayout(self.alert_group).addWidget(self.alerts_table)
        self.plan_group = QGroupBox("Plans per subscription")
        p = QVBoxLayout(self.plan_group)
        p.addWidget(self.plans_table)
        buttons = QHBoxLayout()
        buttons.addWidget(self.enable_button)
        buttons.addWidget(self.purview_button)
        buttons.addWidget(self.write_reason)
        buttons.addStretch(1)
        p.addLayout(buttons)
        p.addWidget(self.purview_note)

        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setChildrenCollapsible(False)
        for group in (self.rec_group, self.alert_group, self.plan_group):
            self.splitter.addWidget(group)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setStretchFactor(2, 2)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 6, 0, 0)
        lay.addWidget(self.defender_banner)
        lay.addWidget(self.error_banner)
        lay.addWidget(self.filter)
        lay.addWidget(self.splitter, 1)

        self.view = _SecurityDetail(self.colors)
        self.detail.clear()
        self.detail.add_widget(self.view)
        self.detail.finish()

        self.gate = WriteGate(context, self.write_reason)
        self.gate.add(self.enable_button, self._enable_reason)
        self.gate.add(self.purview_button, self._purview_reason)
        self.enable_button.clicked.connect(self._on_enable)
        self.purview_button.clicked.connect(self._on_purview)
        self.view.recommendation.portal_button.clicked.connect(
            lambda: self._open(self.view.recommendation.portal_button.property("url"))
        )
        self.view.alert.portal_button.clicked.connect(
            lambda: self._open(self.view.alert.portal_button.property("url"))
        )
        for page in (self.view.recommendation, self.view.alert):
            page.copy_button.clicked.connect(
                lambda _=False, b=page.portal_button: QGuiApplication.clipboard().setText(
                    str(b.property("url") or "")
                )
            )

        for table in self._tables():
            table.selectionModel().selectionChanged.connect(
                lambda sel, _des, t=table: self._on_selection(t, sel)
            )
        self.plans_table.selectionModel().selectionChanged.connect(self._on_plan_selection)
        self.recommendations_table.sortByColumn(RecommendationModel.COL_SEVERITY, Qt.SortOrder.AscendingOrder)
        self.alerts_table.sortByColumn(AlertModel.COL_TIME, Qt.SortOrder.DescendingOrder)
        self.reload()

    # ------------------------------------------------------------------ WorkspaceTab contract

    def title(self) -> str:
        return f"{self.base_title} ({self._attention})" if self._attention else self.base_title

    def reload(self) -> None:
        inv = self.context.inventory
        scope = self.context.scope
        shown = self._shown
        recs = inv.scoped_recommendations(scope)
        alerts = [a for a in inv.scoped_alerts(scope) if a.on_ai_resource]
        plans = plan_rows(inv, scope)
        self.rec_model.set_rows(recs)
        self.alert_model.set_rows(alerts)
        self.plan_model.set_rows(plans)
        self.rec_group.setTitle(f"Microsoft Defender for Cloud — recommendations ({len(recs):,})")
        self.alert_group.setTitle(f"Alerts ({len(alerts):,})")
        self.plan_group.setTitle(f"Plans per subscription ({len(plans):,})")
        self.no_recommendations.setText(
            "No Defender for Cloud recommendations for the AI resources in this scope."
            + (
                " Defender for Cloud may not be enabled on every subscription: see the plans below."
                if any(not p.enabled for p in plans)
                else ""
            )
        )
        self.no_recommendations.setVisible(not recs)

        off = [p for p in plans if not p.enabled]
        if off:
            names = ", ".join(p.subscription.display_name for p in off[:3]) + (
                f" and {len(off) - 3} more" if len(off) > 3 else ""
            )
            self.defender_banner.show_message(f"Defender for AI is not enabled on {names}. {ENABLE_GUIDANCE}")
        else:
            self.defender_banner.clear()
        errors = scope_errors(inv, scope)
        if errors:
            self.error_banner.show_message(
                f"{plural(len(errors), 'part')} of the capture in this scope could not be read, so "
                f"recommendations, alerts or plans may be missing. First: {errors[0].message}"
            )
        else:
            self.error_banner.clear()

        self._attention = attention_count(recs, alerts)
        self._shown = None
        restored = False
        if shown is not None:
            name, key = shown
            table = self.findChild(DataTable, name)
            if table is not None:
                restored = table.select_row_object(lambda r: self._row_key(r) == key)
        if not restored:
            self.view.setCurrentWidget(self.view.placeholder)
        self._update_plan_buttons()
        self.titleChanged.emit(self.title())

    def rows_shown(self) -> int:
        return self.recommendations_table.proxy.rowCount()

    def select_first(self) -> bool:
        for table in self._tables():
            if table.select_first_row():
                return True
        return False

    def focus_filter(self) -> None:
        self.filter.edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.filter.edit.selectAll()

    # ------------------------------------------------------------------ selection → dock

    def _tables(self) -> tuple[DataTable, DataTable, DataTable]:
        return (self.recommendations_table, self.alerts_table, self.plans_table)

    @staticmethod
    def _row_key(row: object) -> str:
        if isinstance(row, PlanRow):
            return row.subscription.subscription_id.lower()
        return idkey(getattr(row, "id", ""))

    def _on_selection(self, table: DataTable, selected: QItemSelection) -> None:
        """A row got selected (click, keyboard or code): that table now drives the dock."""
        if selected.isEmpty():
            return
        row = table.current_row_object()
        if row is None:
            row = selected.indexes()[0].data(ROW_ROLE)
        if row is not None:
            self._show(table, row)

    def _show(self, table: DataTable, row: object) -> None:
        """The last table used drives the dock: clear the other tables' selections."""
        for other in self._tables():
            if other is not table and other.selectionModel().hasSelection():
                other.clearSelection()
        self._shown = (table.objectName(), self._row_key(row))
        if isinstance(row, Recommendation):
            self._show_recommendation(row)
        elif isinstance(row, Alert):
            self._show_alert(row)
        elif isinstance(row, PlanRow):
            self._show_plan(row)

    def _open(self, url: object) -> None:
        if isinstance(url, str) and url:
            self._open_url(QUrl(url))

    def _show_recommendation(self, rec: Recommendation) -> None:
        page = self.view.recommendation
        inv = self.context.inventory
        page.title.setText(rec.display_name)
        page.subtitle.setText(f"Defender for Cloud recommendation on {account_name(rec.resource_id)}")
        status = rec.status + (f" ({rec.cause})" if rec.cause else "")
        set_form_rows(
            page.fields,
            [
                ("Severity", rec.severity or "Unknown"),
                ("Status", status),
                ("Category", rec.category or "—"),
                ("Affected resource", _resource_text(rec.resource_id), rec.resource_id),
                ("Subscription", inv.subscription_name(rec.subscription_id) if rec.subscription_id else "—"),
            ],
        )
        page.description.setText(html_to_plain(rec.description) or "No description.")
        page.remediation.setText(
            html_to_plain(rec.remediation) or "No remediation text: see the Azure portal."
        )
        url = portal_url(rec, self.portal_base)
        page.portal_button.setProperty("url", url)
        page.portal_button.setToolTip(url)
        page.copy_button.setEnabled(bool(url))
        self.view.setCurrentWidget(page)

    def _show_alert(self, alert: Alert) -> None:
        page = self.view.alert
        inv = self.context.inventory
        page.title.setText(alert_text(alert))
        tag = alert_tag(alert)
        page.subtitle.setText(f"Defender alert · {tag}" if tag else "Defender alert")
        page.subtitle.setToolTip(plain_tooltip(f"Alert type: {alert.alert_type}") if alert.alert_type else "")
        resources = "\n".join(_resource_text(r) for r in alert.resource_ids) or "—"
        set_form_rows(
            page.fields,
            [
                ("Severity", alert.severity or "Unknown"),
                ("Status", alert.status or "—"),
                ("Time", as_of(alert.time)),
                ("Resource", resources, "\n".join(alert.resource_ids)),
                ("Compromised entity", alert.compromised_entity or "—"),
            ],
        )
        page.description.setText(html_to_plain(alert.description) or "No description.")
        steps = [html_to_plain(s) for s in alert.remediation_steps if s.strip()]
        page.steps.setText("\n".join(f"{i}. {s}" for i, s in enumerate(steps, 1)) if steps else "None given.")
        url = alert.portal_link or (
            resource_url(alert.resource_ids[0], self.portal_base) if alert.resource_ids else ""
        )
        page.portal_button.setProperty("url", url)
        page.portal_button.setToolTip(url)
        page.portal_button.setEnabled(bool(url))
        page.copy_button.setEnabled(bool(url))

        target = alert_targets(inv, alert)
        rows = [ShieldRow(d, inv.effective(d)) for d in target.deployments]
        page.target_note.setText(target.how)
        page.shields_model.set_rows(rows)
        page.shields_table.setVisible(bool(rows))
        fit_table(page.shields_table, 8)
        off = [r for r in rows if shield_off(r.jailbreak)]
        annotate = [r for r in rows if r.jailbreak.state is CellState.ANNOTATE]
        if alert.is_prompt_attack and off:
            names = ", ".join(f"{r.deployment.name} ({r.effective.name})" for r in off)
            where = "the attacked deployment" if target.exact else "deployments of the attacked account"
            page.jailbreak_banner.show_message(
                f"The Jailbreak shield is off on {where}: {names}. Jailbreak attempts reach the model "
                "unfiltered; turn the shield on in the deployment's guardrail."
            )
        else:
            page.jailbreak_banner.clear()
        if alert.is_prompt_attack and annotate:
            names = ", ".join(r.deployment.name for r in annotate)
            page.annotate_banner.show_message(
                f"The Jailbreak shield only annotates on {names}: attempts are detected but not blocked."
            )
        else:
            page.annotate_banner.clear()
        self.view.setCurrentWidget(page)

    def _show_plan(self, row: PlanRow) -> None:
        page = self.view.plan
        page.title.setText(row.subscription.display_name)
        page.subtitle.setText(f"Subscription {row.subscription.subscription_id}")
        plan = row.plan
        if row.enabled:
            page.guidance.clear()
        else:
            page.guidance.show_message(
                f"Defender for AI is not enabled on this subscription. {ENABLE_GUIDANCE}"
            )
        exts = (
            ", ".join(f"{k}: {'on' if v else 'off'}" for k, v in sorted(plan.extensions.items()))
            if plan
            else ""
        )
        set_form_rows(
            page.fields,
            [
                ("Defender for AI plan", row.plan_text),
                ("Enabled since", plan.enablement_time if plan and plan.enablement_time else "—"),
                ("Prompt evidence", ("On" if plan.prompt_evidence else "Off") if plan else "—"),
                ("Microsoft Purview", "On" if plan and plan.purview else "Off"),
                ("Plan extensions", exts or "—"),
                ("Accounts with Defender for AI on", f"{row.accounts_on} of {len(row.accounts)}"),
            ],
        )
        page.accounts.setText(
            "\n".join(
                f"{a.account.name}: {'on' if a.on else 'off'}"
                + (
                    f" (defenderForAISettings: {a.state})"
                    if a.state
                    else " (follows the subscription's plan)"
                )
                for a in row.accounts
            )
            or "No AI accounts in this subscription."
        )
        self.view.setCurrentWidget(page)

    # ------------------------------------------------------------------ plan actions

    def _selected_plan(self) -> PlanRow | None:
        rows = self.plans_table.selected_row_objects()
        return rows[0] if rows else None

    def _enable_reason(self) -> str | None:
        plan = self._selected_plan()
        if plan is None:
            return SELECT_SUBSCRIPTION
        if plan.enabled:
            return "Threat protection for AI is already on for this subscription"
        return self.context.rights_reason(SECURITY_RIGHTS, f"/subscriptions/{plan.subscription.subscription_id}")

    def _purview_reason(self) -> str | None:
        plan = self._selected_plan()
        if plan is None:
            return SELECT_SUBSCRIPTION
        return self.context.rights_reason(PURVIEW_RIGHTS, f"/subscriptions/{plan.subscription.subscription_id}")

    def _on_plan_selection(self, *_: object) -> None:
        self._update_plan_buttons()

    def _update_plan_buttons(self) -> None:
        plan = self._selected_plan()
        self.purview_button.setChecked(bool(plan and plan.plan and plan.plan.purview))
        self.purview_button.setText(
            "Microsoft Purview: " + ("On" if self.purview_button.isChecked() else "Off")
            if plan
            else "Microsoft Purview"
        )
        self.gate.update()

    def _on_enable(self) -> None:
        plan = self._selected_plan()
        if plan is not None:
            self.enableThreatProtectionRequested.emit(plan.subscription.subscription_id)

    def _on_purview(self, checked: bool) -> None:
        plan = self._selected_plan()
        # The toggle shows Azure's state: it flips only when a refreshed capture says so.
        self._update_plan_buttons()
        if plan is not None:
            self.purviewToggleRequested.emit(plan.subscription.subscription_id, checked)
