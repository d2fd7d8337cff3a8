"""The Security posture tab: Defender for Cloud recommendations for the AI resources, Defender alerts,
Defender for Cloud and its AI plan per subscription, the per-account Defender for AI settings and the
Microsoft Purview toggle.

Only one detail at a time: whichever of the three tables was used last drives the Details dock. An
alert's detail shows, beside it, the prompt shields of the deployment it hit (or of every deployment of
the attacked account when the alert does not name one), with a red banner when the Jailbreak shield of
an attacked deployment is off. A subscription's detail lists its accounts, each with its threat
protection, and offers to turn it on for one account.

The writes (threat protection for a subscription or an account, the Purview toggle) are requests: the
tab emits a signal and the window's :class:`~fcdesk.views.write_flows.WriteFlows` reads the resource,
asks for confirmation and writes. The tab shows Azure's state only, as the inventory has it.
"""

from __future__ import annotations

from PySide6.QtCore import QItemSelection, Qt, QUrl, Signal
from PySide6.QtGui import QAction, QGuiApplication
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from fcdesk.core.guardrails import CellState
from fcdesk.core.model import Alert, Recommendation, id_segment, idkey
from fcdesk.core.portal import PortalLink
from fcdesk.core.text import as_of, html_to_plain, plural
from fcdesk.models.palette import StateColors
from fcdesk.models.policies import scope_errors
from fcdesk.models.security import (
    AI_GUIDANCE,
    AI_PROTECTION_DOCS,
    DEFENDER_FOR_CLOUD_DOCS,
    ENABLE_GUIDANCE,
    PURVIEW_NOTE,
    AccountDefender,
    AccountModel,
    AlertModel,
    PlanModel,
    PlanRow,
    RecommendationModel,
    ShieldModel,
    ShieldRow,
    account_name,
    alert_link,
    alert_tag,
    alert_targets,
    alert_text,
    attention_count,
    plan_rows,
    recommendation_link,
    shield_off,
)
from fcdesk.models.table import ROW_ROLE, plain_tooltip
from fcdesk.models.workspace import (
    DEFENDER_ACCOUNT_RIGHTS,
    PURVIEW_RIGHTS,
    SECURITY_RIGHTS,
    WorkspaceContext,
)
from fcdesk.views.base import StateWidget, WorkspaceTab
from fcdesk.views.policies_tab import default_colors, dock_table, fit_table
from fcdesk.views.widgets import (
    Banner,
    BannerKind,
    DataTable,
    FilterBar,
    OpenUrl,
    PlainLabel,
    WriteGate,
    form_box,
    heading,
    set_form_rows,
    write_button,
)

SELECT_SUBSCRIPTION = "Select a subscription in the plans table first"
SELECT_ACCOUNT = "Select an account first"
PLAN_ALREADY_ON = "Threat protection for AI is already on for this subscription"
ACCOUNT_ALREADY_ON = "Threat protection for AI is already on for this account"
DEFENDER_ROLE_TIP = (
    "Turns on threat protection for AI services (the billed Defender for AI plan) for the subscription "
    "(needs Security Admin or Owner)."
)
ACCOUNT_ROLE_TIP = (
    "Turns on threat protection for AI services (billed) for this account, through its Defender for AI "
    "setting (needs Owner, Contributor, Cognitive Services Contributor or Azure AI Account Owner)."
)
PURVIEW_ROLE_TIP = (
    "Shares AI prompts and responses with Microsoft Purview through the Defender for AI plan (needs "
    "Security Admin or Owner, and the Azure AI Account Owner role or Owner)."
)


def _resource_text(resource_id: str) -> str:
    """ "acct-prod (resource group rg-ai)": readable; the full id goes in the tooltip."""
    rg = id_segment(resource_id, "resourceGroups")
    return account_name(resource_id) + (f" (resource group {rg})" if rg else "")


def _button(text: str, object_name: str) -> QPushButton:
    btn = QPushButton(text)
    btn.setObjectName(object_name)
    btn.setAutoDefault(False)
    return btn


class _LinkRow:
    """The "Open in Azure portal" / "Copy link" buttons of a detail page, and why there is no link."""

    def __init__(self, layout: QVBoxLayout, prefix: str) -> None:
        self.portal_button = _button("Open in Azure portal", f"{prefix}PortalButton")
        self.copy_button = _button("Copy link", f"{prefix}CopyLinkButton")
        self.note = PlainLabel("", muted=True)
        self.note.setObjectName(f"{prefix}LinkNote")
        row = QHBoxLayout()
        row.addWidget(self.portal_button)
        row.addWidget(self.copy_button)
        row.addStretch(1)
        layout.addLayout(row)
        layout.addWidget(self.note)

    def set_link(self, link: PortalLink) -> None:
        """Enable the buttons on a link; without one, disable them and say why."""
        for button in (self.portal_button, self.copy_button):
            button.setProperty("url", link.url)
            button.setEnabled(bool(link.url))
            button.setToolTip(plain_tooltip(link.url or link.reason) or "")
        self.note.setText(link.reason)
        self.note.setVisible(not link.url)


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
        lay.addWidget(heading("Remediation steps", 2))
        lay.addWidget(self.remediation)
        self.links = _LinkRow(lay, "recommendation")
        self.portal_button, self.copy_button = self.links.portal_button, self.links.copy_button
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
        self.links = _LinkRow(lay, "alert")
        self.portal_button, self.copy_button = self.links.portal_button, self.links.copy_button
        lay.addWidget(heading("Guardrail of the deployment hit", 2))
        self.target_note = PlainLabel("", muted=True)
        self.jailbreak_banner = Banner(BannerKind.ERROR)
        self.jailbreak_banner.setObjectName("jailbreakOffBanner")
        self.annotate_banner = Banner(BannerKind.WARNING)
        self.shields_model = ShieldModel(colors)
        self.shields_table = dock_table(self.shields_model, "alertShieldsTable")
        self.shields_table.setAccessibleName("Prompt shields of the deployments hit")
        lay.addWidget(self.target_note)
        lay.addWidget(self.jailbreak_banner)
        lay.addWidget(self.annotate_banner)
        lay.addWidget(self.shields_table)
        lay.addStretch(1)


class _PlanPage(QWidget):
    def __init__(self, colors: StateColors) -> None:
        super().__init__()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(8)
        self.title = heading("")
        self.title.setObjectName("planTitle")
        self.subtitle = PlainLabel("", muted=True)
        self.guidance = Banner(BannerKind.WARNING)
        self.guidance.setObjectName("planGuidance")
        self.cloud_docs_button = _button("How to enable Defender for Cloud", "defenderDocsButton")
        self.ai_docs_button = _button("How to enable threat protection for AI", "aiProtectionDocsButton")
        docs = QVBoxLayout()  # one above the other: side by side they would widen the dock
        for button in (self.cloud_docs_button, self.ai_docs_button):
            docs.addWidget(button, 0, Qt.AlignmentFlag.AlignLeft)
        box, self.fields = form_box()
        self.accounts_model = AccountModel(colors)
        self.accounts_table = dock_table(self.accounts_model, "planAccountsTable")
        self.accounts_table.setAccessibleName("Accounts of the subscription")
        self.no_accounts = PlainLabel("No AI accounts in this subscription.", muted=True)
        self.account_button = write_button("Enable threat protection for this account…", ACCOUNT_ROLE_TIP)
        self.account_button.setObjectName("enableAccountDefenderButton")
        self.account_button.setAutoDefault(False)
        self.account_reason = PlainLabel("", muted=True)
        self.account_reason.setObjectName("accountWriteReason")
        for w in (self.title, self.subtitle, self.guidance):
            lay.addWidget(w)
        lay.addLayout(docs)
        lay.addWidget(box)
        lay.addWidget(heading("Accounts", 2))
        lay.addWidget(self.no_accounts)
        lay.addWidget(self.accounts_table)
        lay.addWidget(self.account_button, 0, Qt.AlignmentFlag.AlignLeft)
        lay.addWidget(self.account_reason)
        lay.addWidget(heading("Microsoft Purview", 2))
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
        self.plan = _PlanPage(colors)
        for page in (self.placeholder, self.recommendation, self.alert, self.plan):
            self.addWidget(page)


class SecurityTab(WorkspaceTab):
    """Security posture of the AI resources in scope.

    ``open_url`` opens links (default ``QDesktopServices.openUrl``). Portal links are those of the
    cloud the data came from (``context.inventory.meta.cloud``); a custom cloud gets none, and the
    dock says why.

    Signals:
        enableThreatProtectionRequested(str): subscription id to turn the Defender for AI plan on for.
        enableAccountProtectionRequested(str): account id to turn Defender for AI on for.
        purviewToggleRequested(str, bool): subscription id, wanted state of the Purview extension.
    """

    key = "security"
    base_title = "Security posture"

    enableThreatProtectionRequested = Signal(str)
    enableAccountProtectionRequested = Signal(str)
    purviewToggleRequested = Signal(str, bool)

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
        self._attention = 0
        self._shown: tuple[str, str] | None = None  #: (table objectName, row id) driving the dock
        self._plan_shown: PlanRow | None = None  #: the subscription whose accounts the dock lists

        self.defender_banner = Banner(BannerKind.WARNING, self)
        self.defender_banner.setObjectName("defenderBanner")
        self.error_banner = Banner(BannerKind.WARNING, self)
        self.filter = FilterBar("Filter recommendations, alerts and subscriptions…")

        self.rec_model = RecommendationModel(self.colors)
        self.alert_model = AlertModel(self.colors)
        self.plan_model = PlanModel(self.colors)
        self.recommendations_table = DataTable(self.rec_model, object_name="recommendationsTable")
        # Many recommendations share their first words ("Azure AI Services resources should …"): keep
        # both ends readable so that rows can be told apart.
        self.recommendations_table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.alerts_table = DataTable(self.alert_model, object_name="alertsTable")
        self.plans_table = DataTable(self.plan_model, object_name="plansTable")
        self.plans_table.setSelectionMode(DataTable.SelectionMode.SingleSelection)
        for table, name in (
            (self.recommendations_table, "Defender for Cloud recommendations"),
            (self.alerts_table, "Defender alerts"),
            (self.plans_table, "Defender plans per subscription"),
        ):
            table.setAccessibleName(name)
        self.filter.bind(self.recommendations_table)
        for table in (self.alerts_table, self.plans_table):
            self.filter.textChanged.connect(table.proxy.set_filter_text)
        self.no_recommendations = PlainLabel("", muted=True)
        self.no_recommendations.setObjectName("noRecommendations")
        self.no_alerts = PlainLabel("No Defender alerts on the AI resources in this scope.", muted=True)
        self.no_alerts.setObjectName("noAlerts")

        self.enable_button = write_button("Enable threat protection for AI…", DEFENDER_ROLE_TIP)
        self.enable_button.setObjectName("enableDefenderButton")
        self.purview_button = write_button("Microsoft Purview", PURVIEW_ROLE_TIP)
        self.purview_button.setObjectName("purviewToggle")
        self.purview_button.setCheckable(True)
        self.purview_note = PlainLabel(PURVIEW_NOTE, muted=True)
        self.purview_note.setObjectName("purviewNote")
        self.write_reason = PlainLabel("", muted=True)
        self.write_reason.setObjectName("planWriteReason")

        self.rec_group = QGroupBox("Microsoft Defender for Cloud — recommendations")
        g = QVBoxLayout(self.rec_group)
        g.addWidget(self.no_recommendations)
        g.addWidget(self.recommendations_table)
        self.alert_group = QGroupBox("Alerts")
        a = QVBoxLayout(self.alert_group)
        a.addWidget(self.no_alerts)
        a.addWidget(self.alerts_table)
        self.plan_group = QGroupBox("Plans per subscription")
        p = QVBoxLayout(self.plan_group)
        p.addWidget(self.plans_table)
        buttons = QHBoxLayout()
        buttons.addWidget(self.enable_button)
        buttons.addWidget(self.purview_button)
        buttons.addStretch(1)
        p.addLayout(buttons)
        p.addWidget(self.write_reason)
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

        plan_page = self.view.plan
        self.gate = WriteGate(context)
        self.gate.add(self.enable_button, lambda: self._enable_reason(self._selected_plan()))
        self.gate.add(self.purview_button, lambda: self._purview_reason(self._selected_plan()))
        self.gate.add(plan_page.account_button, lambda: self._account_reason(self._selected_account()))
        # after the gate's own handlers: the reasons shown under the buttons are the gate's
        for signal in (context.scopeChanged, context.inventoryChanged, context.rightsChanged):
            signal.connect(self._show_reasons)
        self.enable_button.clicked.connect(self._on_enable)
        self.purview_button.clicked.connect(self._on_purview)
        plan_page.account_button.clicked.connect(self._on_enable_account)
        plan_page.accounts_table.selectionModel().selectionChanged.connect(self._update_write_buttons)
        plan_page.cloud_docs_button.clicked.connect(lambda: self._open(DEFENDER_FOR_CLOUD_DOCS))
        plan_page.ai_docs_button.clicked.connect(lambda: self._open(AI_PROTECTION_DOCS))
        for links in (self.view.recommendation.links, self.view.alert.links):
            links.portal_button.clicked.connect(
                lambda _=False, b=links.portal_button: self._open(b.property("url"))
            )
            links.copy_button.clicked.connect(
                lambda _=False, b=links.copy_button: QGuiApplication.clipboard().setText(
                    str(b.property("url") or "")
                )
            )

        for table in self._tables():
            table.selectionModel().selectionChanged.connect(
                lambda sel, _des, t=table: self._on_selection(t, sel)
            )
        self.plans_table.selectionModel().selectionChanged.connect(self._update_write_buttons)
        self._link_rows()
        self.recommendations_table.sortByColumn(RecommendationModel.COL_SEVERITY, Qt.SortOrder.AscendingOrder)
        self.alerts_table.sortByColumn(AlertModel.COL_TIME, Qt.SortOrder.DescendingOrder)
        self.reload()

    # ------------------------------------------------------------------ WorkspaceTab contract

    def title(self) -> str:
        """ "Security posture (3 high)": unhealthy High recommendations and active High alerts."""
        return f"{self.base_title} ({self._attention:,} high)" if self._attention else self.base_title

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
        no_cloud = [p for p in plans if not p.defender_for_cloud]
        no_ai = [p for p in plans if p.defender_for_cloud and not p.enabled]
        self.no_recommendations.setText(
            "No Defender for Cloud recommendations for the AI resources in this scope."
            + (
                " Defender for Cloud is not enabled on every subscription: see the plans below."
                if no_cloud
                else ""
            )
        )
        self.no_recommendations.setVisible(not recs)
        self.no_alerts.setText(
            "No Defender alerts on the AI resources in this scope."
            + (
                " Threat protection for AI is off on some subscriptions: see the plans below."
                if no_ai
                else ""
            )
        )
        self.no_alerts.setVisible(not alerts)
        self._show_banner(no_cloud, no_ai)
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
        self._plan_shown = None
        restored = False
        if shown is not None:
            name, key = shown
            table = self.findChild(DataTable, name)
            if table is not None:
                restored = table.select_row_object(lambda r: self._row_key(r) == key)
        if not restored:
            self.view.setCurrentWidget(self.view.placeholder)
        self._update_write_buttons()
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

    def state_widgets(self) -> dict[str, StateWidget]:
        return {"filter": self.filter.edit, "splitter": self.splitter}

    def state_tables(self) -> list[DataTable]:
        return list(self._tables())

    def _show_banner(self, no_cloud: list[PlanRow], no_ai: list[PlanRow]) -> None:
        """Say which subscriptions lack Defender for Cloud or threat protection for AI, and what to do."""
        parts = []
        if no_cloud:
            parts.append(f"Defender for Cloud is not enabled on {_names(no_cloud)}.")
        if no_ai:
            parts.append(f"Threat protection for AI is off on {_names(no_ai)}.")
        if parts:
            guidance = ENABLE_GUIDANCE if no_cloud else AI_GUIDANCE
            self.defender_banner.show_message(" ".join(parts) + " " + guidance)
        else:
            self.defender_banner.clear()

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
        if not isinstance(row, PlanRow):
            self._plan_shown = None
        if isinstance(row, Recommendation):
            self._show_recommendation(row)
        elif isinstance(row, Alert):
            self._show_alert(row)
        elif isinstance(row, PlanRow):
            self._show_plan(row)
        self._update_write_buttons()

    def _open(self, url: object) -> None:
        if isinstance(url, str) and url:
            self.open_url(QUrl(url))

    def _cloud(self) -> tuple[str, str]:
        """The cloud and tenant of the data in hand (for portal links)."""
        meta = self.context.inventory.meta
        return meta.cloud, meta.tenant_id

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
        page.links.set_link(recommendation_link(rec, *self._cloud()))
        self.view.setCurrentWidget(page)

    def _show_alert(self, alert: Alert) -> None:
        page = self.view.alert
        inv = self.context.inventory
        page.title.setText(alert_text(alert))
        tag = alert_tag(alert)
        page.subtitle.setText(f"Defender alert · {tag}" if tag else "Defender alert")
        resources = "\n".join(_resource_text(r) for r in alert.resource_ids) or "—"
        set_form_rows(
            page.fields,
            [
                ("Severity", alert.severity or "Unknown"),
                ("Status", alert.status or "—"),
                ("Time", as_of(alert.time)),
                ("Type", alert.alert_type or "—"),
                ("Resource", resources, "\n".join(alert.resource_ids)),
                ("Compromised entity", alert.compromised_entity or "—"),
            ],
        )
        page.description.setText(html_to_plain(alert.description) or "No description.")
        steps = [html_to_plain(s) for s in alert.remediation_steps if s.strip()]
        page.steps.setText("\n".join(f"{i}. {s}" for i, s in enumerate(steps, 1)) if steps else "None given.")
        page.links.set_link(alert_link(alert, *self._cloud()))

        target = alert_targets(inv, alert)
        rows = [ShieldRow(d, inv.effective(d)) for d in target.deployments]
        page.target_note.setText(target.how)
        page.shields_model.set_rows(rows)
        page.shields_table.setVisible(bool(rows))
        fit_table(page.shields_table, 8)
        # Every column in the narrow dock (the shields are what matters): share its width.
        page.shields_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
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
        previous = self._selected_account()
        self._plan_shown = row
        page.title.setText(row.subscription.display_name)
        page.subtitle.setText(f"Subscription {row.subscription.subscription_id}")
        if row.guidance:
            page.guidance.show_message(row.guidance)
        else:
            page.guidance.clear()
        page.cloud_docs_button.setVisible(not row.defender_for_cloud)
        page.ai_docs_button.setVisible(not row.enabled)
        plan = row.plan
        exts = (
            "\n".join(f"{k}: {'On' if v else 'Off'}" for k, v in sorted(plan.extensions.items()))
            if plan
            else ""
        )
        set_form_rows(
            page.fields,
            [
                ("Defender for Cloud", row.cloud_text),
                ("Threat protection for AI (plan 'AI')", row.plan_text),
                ("Enabled since", plan.enablement_time if plan and plan.enablement_time else "—"),
                ("Plan extensions", exts or "—"),
                ("Prompt evidence", ("On" if plan.prompt_evidence else "Off") if plan else "—"),
                ("Microsoft Purview", "On" if row.purview else "Off"),
                ("Accounts with Defender for AI on", f"{row.accounts_on} of {len(row.accounts)}"),
            ],
        )
        page.accounts_model.set_rows(row.accounts)
        page.accounts_table.setVisible(bool(row.accounts))
        page.no_accounts.setVisible(not row.accounts)
        fit_table(page.accounts_table, 8)
        keep = idkey(previous.account.id) if previous is not None else None
        if not (keep and page.accounts_table.select_row_object(lambda a: idkey(a.account.id) == keep)):
            if not page.accounts_table.select_row_object(lambda a: not a.on):
                page.accounts_table.select_first_row()
        self.view.setCurrentWidget(page)

    # ------------------------------------------------------------------ row context menus

    def _link_rows(self) -> None:
        """Copy ID and the portal link on every table; the plans' write buttons on their rows."""
        self.link_rows(
            self.recommendations_table, lambda r: r.id, lambda r: recommendation_link(r, *self._cloud())
        )
        self.link_rows(self.alerts_table, lambda a: a.id, lambda a: alert_link(a, *self._cloud()))
        self.link_rows(self.plans_table, _subscription_id)
        self.plans_table.add_context_action(self._plan_actions)
        accounts = self.view.plan.accounts_table
        self.link_rows(accounts, lambda a: a.account.id)
        accounts.add_context_action(self._account_actions)
        self.link_rows(self.view.alert.shields_table, lambda r: r.deployment.id)

    def _plan_actions(self, plan: PlanRow | None) -> list[QAction]:
        """A subscription's menu: its threat protection and Purview, as the buttons under the table."""
        if plan is None:
            return []
        sub = plan.subscription.subscription_id
        return [
            self.gate.action(
                "Enable threat protection for AI…",
                lambda: self.enableThreatProtectionRequested.emit(sub),
                lambda: self._enable_reason(plan),
                tip=DEFENDER_ROLE_TIP,
            ),
            self.gate.action(
                f"Turn Microsoft Purview {'off' if plan.purview else 'on'}…",
                lambda: self.purviewToggleRequested.emit(sub, not plan.purview),
                lambda: self._purview_reason(plan),
                tip=PURVIEW_ROLE_TIP,
            ),
        ]

    def _account_actions(self, acct: AccountDefender | None) -> list[QAction]:
        """An account of the subscription (in the dock): its threat protection, as its button."""
        if acct is None:
            return []
        return [
            self.gate.action(
                "Enable threat protection for this account…",
                lambda: self.enableAccountProtectionRequested.emit(acct.account.id),
                lambda: self._account_reason(acct),
                tip=ACCOUNT_ROLE_TIP,
            )
        ]

    # ------------------------------------------------------------------ plan actions

    def _selected_plan(self) -> PlanRow | None:
        rows = self.plans_table.selected_row_objects()
        return rows[0] if rows else None

    def _selected_account(self) -> AccountDefender | None:
        if self._plan_shown is None:
            return None
        rows = self.view.plan.accounts_table.selected_row_objects()
        return rows[0] if rows else None

    def _enable_reason(self, plan: PlanRow | None) -> str | None:
        if plan is None:
            return SELECT_SUBSCRIPTION
        if plan.enabled:
            return PLAN_ALREADY_ON
        return self.context.rights_reason(
            SECURITY_RIGHTS, f"/subscriptions/{plan.subscription.subscription_id}"
        )

    def _purview_reason(self, plan: PlanRow | None) -> str | None:
        if plan is None:
            return SELECT_SUBSCRIPTION
        return self.context.rights_reason(
            PURVIEW_RIGHTS, f"/subscriptions/{plan.subscription.subscription_id}"
        )

    def _account_reason(self, acct: AccountDefender | None) -> str | None:
        if acct is None:
            return SELECT_ACCOUNT
        if acct.on:
            return ACCOUNT_ALREADY_ON
        return self.context.rights_reason(DEFENDER_ACCOUNT_RIGHTS, acct.account.id)

    def _update_write_buttons(self, *_: object) -> None:
        plan = self._selected_plan()
        self.purview_button.setChecked(bool(plan and plan.purview))
        self.purview_button.setText(
            "Microsoft Purview: " + ("On" if self.purview_button.isChecked() else "Off")
            if plan
            else "Microsoft Purview"
        )
        self.gate.update()
        self._show_reasons()

    def _show_reasons(self) -> None:
        """Under the buttons, why each disabled one is disabled (the gate's reason, also its tooltip)."""
        reasons = _reasons(
            [("Threat protection", self.enable_button), ("Microsoft Purview", self.purview_button)],
            skip=(SELECT_SUBSCRIPTION, PLAN_ALREADY_ON),
        )
        self.write_reason.setText(reasons)
        self.write_reason.setVisible(bool(reasons))
        page = self.view.plan
        account = _reasons([("", page.account_button)], skip=(SELECT_ACCOUNT, ACCOUNT_ALREADY_ON))
        page.account_reason.setText(account)
        page.account_reason.setVisible(bool(account))

    def _on_enable(self) -> None:
        plan = self._selected_plan()
        if plan is not None:
            self.enableThreatProtectionRequested.emit(plan.subscription.subscription_id)

    def _on_enable_account(self) -> None:
        acct = self._selected_account()
        if acct is not None:
            self.enableAccountProtectionRequested.emit(acct.account.id)

    def _on_purview(self, checked: bool) -> None:
        plan = self._selected_plan()
        # The toggle shows Azure's state: it flips only when the written plan comes back.
        self._update_write_buttons()
        if plan is not None:
            self.purviewToggleRequested.emit(plan.subscription.subscription_id, checked)


def _subscription_id(plan: PlanRow) -> str:
    """The subscription's ARM id, "/subscriptions/{guid}"."""
    return plan.subscription.id or f"/subscriptions/{plan.subscription.subscription_id}"


def _names(rows: list[PlanRow]) -> str:
    """ "A, B, C and 2 more": the subscriptions' names."""
    names = ", ".join(p.subscription.display_name for p in rows[:3])
    return names + (f" and {len(rows) - 3} more" if len(rows) > 3 else "")


def _reasons(buttons: list[tuple[str, QPushButton]], skip: tuple[str, ...] = ()) -> str:
    """One line per disabled button ("Microsoft Purview: You need …"); a reason they share, once."""
    disabled = [(label, b.toolTip()) for label, b in buttons if not b.isEnabled() and b.toolTip() not in skip]
    if not disabled:
        return ""
    if len(disabled) == len(buttons) and len({text for _, text in disabled}) == 1:
        return disabled[0][1]
    return "\n".join(f"{label}: {text}" for label, text in disabled)
