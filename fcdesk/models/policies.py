"""Table models of the Policies and Assets views, and of the required-vs-actual tables in their docks.

Every model takes its :class:`~fcdesk.models.palette.StateColors` injected. Status columns sort by
*severity* (violations first), never by their text; counts sort as numbers and times as datetimes.
Names from Azure are returned verbatim for DisplayRole (the views never render them as markup).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtGui import QColor

from fcdesk.core.guardrails import CONTROL_BY_KEY
from fcdesk.core.inventory import AssetRow, AssetStatus, Inventory, PolicyRow, PolicyStatus, Scope
from fcdesk.core.model import Deployment, id_segment, idkey
from fcdesk.core.policy import ControlResult, Evaluation, GuardrailPolicy
from fcdesk.core.records import ScopeError
from fcdesk.core.text import EMPTY, format_utc
from fcdesk.models.palette import StateColors
from fcdesk.models.table import Column, RowTableModel

#: Tooltip of the Violating column and of the per-asset verdicts.
VIOLATING_EXPLAINED = (
    "Violating assets, by Azure's verdict where there is one, else fcdesk's local evaluation. "
    "Excepted deployments are not counted."
)
LOCAL_CHECK_EXPLAINED = "fcdesk's own evaluation of the policy on the deployment's effective guardrail."
DISAGREES_TEXT = "⚠ disagrees with Azure"

#: Severity order of the policy statuses: sorting ascending puts violations first.
POLICY_STATUS_ORDER: dict[PolicyStatus, int] = {
    PolicyStatus.VIOLATIONS: 0,
    PolicyStatus.PENDING: 1,
    PolicyStatus.COMPLIANT: 2,
    PolicyStatus.DISABLED: 3,
}
ASSET_STATUS_ORDER: dict[AssetStatus, int] = {
    AssetStatus.VIOLATION: 0,
    AssetStatus.PENDING: 1,
    AssetStatus.COMPLIANT: 2,
}

POLICY_STATUS_EXPLAINED: dict[PolicyStatus, str] = {
    PolicyStatus.VIOLATIONS: "Azure Policy reports at least one governed deployment as non-compliant.",
    PolicyStatus.PENDING: (
        "Azure Policy has not evaluated every governed deployment yet. New or edited policies take up "
        "to 30 minutes to report."
    ),
    PolicyStatus.COMPLIANT: "Azure Policy reports every governed deployment as compliant.",
    PolicyStatus.DISABLED: "The policy's effect is Disabled: Azure Policy does not evaluate it.",
}


def created_by_text(policy: GuardrailPolicy) -> str:
    """Who assigned the policy (the portal's ``assignedBy``), and whether fcdesk manages it now."""
    who = policy.metadata.get("assignedBy") if isinstance(policy.metadata, dict) else None
    if who and policy.created_by_fcdesk:
        return f"{who} (edited with fcdesk)"
    if policy.created_by_fcdesk:
        return "fcdesk"
    return str(who) if who else EMPTY


def control_short(result: ControlResult) -> str:
    """The column header name of a control ("Jailbreak", "Hate in"), "Mode" for the mode check."""
    if result.key is None:
        return "Mode"
    ctrl = CONTROL_BY_KEY.get(result.key)
    return ctrl.short if ctrl else result.label


def failing_text(ev: Evaluation) -> str:
    fails = ev.failures
    if not fails:
        return "None"
    return f"{len(fails)}: " + ", ".join(control_short(r) for r in fails)


def failing_tooltip(ev: Evaluation) -> str:
    fails = ev.failures
    if not fails:
        return "fcdesk's local evaluation: every required control passes."
    lines = ["fcdesk's local evaluation, failing controls:"]
    for r in fails:
        lines.append(
            f"{r.label}: required {r.required}; actual {r.actual}" + (f" ({r.reason})" if r.reason else "")
        )
    return "\n".join(lines)


def asset_status_text(row: AssetRow) -> str:
    """The asset's Policy compliance; "Disabled" when its policy's effect is Disabled (never evaluated)."""
    return str(PolicyStatus.DISABLED) if row.policy.disabled else str(row.status)


def asset_status_rank(row: AssetRow) -> int:
    return len(ASSET_STATUS_ORDER) if row.policy.disabled else ASSET_STATUS_ORDER[row.status]


def asset_needs_fixing(row: AssetRow) -> bool:
    """Violating (Azure's verdict, else the local one) under a policy that is not disabled."""
    return row.violating and not row.policy.disabled


def local_check_text(row: AssetRow) -> str:
    text = "Pass" if row.local.passed else "Fail"
    return f"{text} {DISAGREES_TEXT}" if row.disagrees else text


def azure_word(row: AssetRow) -> str:
    if row.azure is None:
        return "not evaluated yet"
    return "Compliant" if row.azure.compliant else "NonCompliant"


def disagreement_note(row: AssetRow) -> str:
    """The sentence shown when fcdesk's local evaluation disagrees with Azure's verdict ("" if not)."""
    if not row.disagrees or row.azure is None:
        return ""
    when = format_utc(row.azure.as_of)
    if row.local.passed:
        return (
            f"Azure says NonCompliant (as of {when}); fcdesk's local evaluation passes: "
            "Azure may not have re-evaluated yet."
        )
    fails = ", ".join(control_short(r) for r in row.local.failures)
    return (
        f"Azure says Compliant (as of {when}); fcdesk's local evaluation fails ({fails}): "
        "the guardrail may have changed since Azure's last evaluation."
    )


def results_failures_first(ev: Evaluation) -> list[ControlResult]:
    """Failing controls first, each group in catalogue order."""
    return sorted(ev.results, key=lambda r: r.passed)


class ScopeNames:
    """Readable names for ARM ids (exceptions, scopes) within one inventory.

    ``names(arm_id)`` gives "Deployment gpt-4o (account contoso-prod)", "Resource group rg-ai
    (Contoso AI Production)", "Subscription Contoso AI Production", or the id itself when it resolves
    to nothing known. The deployment index is built on first use.
    """

    def __init__(self, inventory: Inventory) -> None:
        self.inventory = inventory
        self._deps: dict[str, Deployment] | None = None

    def deployment(self, arm_id: str) -> Deployment | None:
        if self._deps is None:
            self._deps = {idkey(d.id): d for d in self.inventory.deployments}
        return self._deps.get(idkey(arm_id))

    def subscription(self, subscription_id: str) -> str:
        return self.inventory.subscription_name(subscription_id)

    def __call__(self, arm_id: str) -> str:
        inv = self.inventory
        key = idkey(arm_id)
        parts = key.strip("/").split("/")
        dep = self.deployment(arm_id)
        if dep is not None:
            return f"Deployment {dep.name} (account {dep.account_name}, resource group {dep.resource_group})"
        acct = inv.accounts.get(key)
        if acct is not None:
            return f"Account {acct.name} (resource group {acct.resource_group})"
        sub_id = id_segment(arm_id, "subscriptions") or ""
        if len(parts) == 4 and parts[2] == "resourcegroups":
            rg = inv.resource_groups.get(key)
            name = rg.name if rg else (id_segment(arm_id, "resourceGroups") or arm_id)
            return f"Resource group {name} ({self.subscription(sub_id)})"
        if len(parts) == 2 and parts[0] == "subscriptions":
            return f"Subscription {self.subscription(sub_id)}"
        return arm_id

    def scope_label(self, policy: GuardrailPolicy) -> str:
        if policy.resource_group:
            return f"Resource group {policy.resource_group} ({self.subscription(policy.subscription_id)})"
        return f"Subscription {self.subscription(policy.subscription_id)}"


def _status_color(colors: StateColors, status: PolicyStatus | AssetStatus) -> QColor | None:
    if status in (PolicyStatus.VIOLATIONS, AssetStatus.VIOLATION):
        return colors.fail
    if status in (PolicyStatus.PENDING, AssetStatus.PENDING):
        return colors.pending
    if status in (PolicyStatus.COMPLIANT, AssetStatus.COMPLIANT):
        return colors.ok
    return None


def _count(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def _lines(text: str) -> str:
    return text.replace("; ", "\n")


class PolicyTableModel(RowTableModel[PolicyRow]):
    """One row per guardrail policy (assignment of the guardrail initiative) in scope.

    ``scope_text(policy)`` names the policy's scope and ``scope_name(arm_id)`` names an exception;
    both default to the raw labels/ids (the tab passes a :class:`ScopeNames`).
    """

    COL_POLICY, COL_SCOPE, COL_CONTROLS, COL_EXCEPTIONS, COL_STATUS, COL_VIOLATING, COL_AS_OF, COL_CREATED = (
        range(8)
    )

    def __init__(
        self,
        colors: StateColors,
        *,
        scope_text: Callable[[GuardrailPolicy], str] | None = None,
        scope_name: Callable[[str], str] | None = None,
        parent: Any = None,
    ) -> None:
        self.colors = colors
        self._scope_text = scope_text or (lambda p: p.scope_label)
        self._scope_name = scope_name or (lambda arm_id: arm_id)
        super().__init__(self._columns_for(), parent)

    def set_names(
        self, scope_text: Callable[[GuardrailPolicy], str], scope_name: Callable[[str], str]
    ) -> None:
        """Change how scopes are named (e.g. for a new inventory); call before :meth:`set_rows`."""
        self._scope_text, self._scope_name = scope_text, scope_name

    def _exceptions_tip(self, row: PolicyRow) -> str:
        ns = row.policy.not_scopes
        if not ns:
            return "No exceptions: the policy applies to every deployment in its scope."
        return "Excepted from this policy:\n" + "\n".join(self._scope_name(s) for s in ns)

    def _columns_for(self) -> list[Column[PolicyRow]]:
        c = self.colors
        return [
            Column(
                "Policy",
                lambda r: r.policy.label,
                tooltip=lambda r: (
                    r.policy.label + (f"\n{r.policy.description}" if r.policy.description else "")
                ),
                bold=lambda r: True,
                width=240,
            ),
            Column(
                "Scope",
                lambda r: self._scope_text(r.policy),
                tooltip=lambda r: r.policy.scope,
                width=220,
            ),
            Column(
                "Controls",
                lambda r: r.policy.controls_text,
                tooltip=lambda r: _lines(r.policy.controls_text),
                sort_key=lambda r: len(r.policy.minimum_controls),
                header_tooltip="The minimum controls the policy requires (sorts by how many).",
                width=260,
            ),
            Column(
                "Exceptions",
                lambda r: str(len(r.policy.not_scopes)) if r.policy.not_scopes else "None",
                sort_key=lambda r: len(r.policy.not_scopes),
                tooltip=self._exceptions_tip,
                header_tooltip="Resource groups or deployments excluded from the policy (notScopes).",
                align_center=True,
            ),
            Column(
                "Policy compliance",
                lambda r: r.status_text,
                sort_key=lambda r: POLICY_STATUS_ORDER[r.status],
                background=lambda r: _status_color(c, r.status),
                tooltip=lambda r: (
                    POLICY_STATUS_EXPLAINED[r.status] + (f"\nAs of {format_utc(r.as_of)}." if r.as_of else "")
                ),
                header_tooltip="Azure Policy's verdict: Violations detected, Pending evaluation, Compliant.",
                width=270,  # room for "Pending evaluation (since 2026-11-26 07:08 UTC)"
            ),
            Column(
                "Violating",
                lambda r: f"{r.violating:,} of {r.total:,}",
                sort_key=lambda r: (r.violating, r.total),
                tooltip=lambda r: (
                    VIOLATING_EXPLAINED
                    + (f"\nExcepted here: {_count(len(r.excepted), 'deployment')}." if r.excepted else "")
                    + (
                        "\nfcdesk's local evaluation disagrees with Azure on "
                        f"{_count(r.disagreements, 'deployment')}."
                        if r.disagreements
                        else ""
                    )
                ),
                header_tooltip=VIOLATING_EXPLAINED,
                align_center=True,
            ),
            Column(
                "As of",
                lambda r: format_utc(r.as_of),
                sort_key=lambda r: r.as_of,
                tooltip=lambda r: (
                    "Azure Policy's latest evaluation of this policy."
                    if r.as_of
                    else "Azure Policy has not reported on this policy yet."
                ),
                header_tooltip="Azure Policy's latest evaluation time.",
                width=140,
            ),
            Column(
                "Created by",
                lambda r: created_by_text(r.policy),
                tooltip=lambda r: (
                    "Created with fcdesk" if r.policy.created_by_fcdesk else "assignedBy metadata"
                ),
            ),
        ]


class AssetTableModel(RowTableModel[AssetRow]):
    """One row per (deployment, governing policy): a deployment governed by two policies shows twice."""

    (
        COL_DEPLOYMENT,
        COL_ACCOUNT,
        COL_MODEL,
        COL_GUARDRAIL,
        COL_POLICY,
        COL_STATUS,
        COL_FAILING,
        COL_LOCAL,
        COL_AS_OF,
    ) = range(9)

    def __init__(self, colors: StateColors, parent: Any = None) -> None:
        self.colors = colors
        c = colors
        super().__init__(
            [
                Column(
                    "Deployment", lambda r: r.deployment.name, tooltip=lambda r: r.deployment.id, width=170
                ),
                Column("Account", lambda r: r.deployment.account_name, width=170),
                Column("Model", lambda r: r.deployment.model_label, width=170),
                Column(
                    "Guardrail",
                    lambda r: r.effective.name,
                    tooltip=lambda r: r.effective.note or r.effective.name,
                    width=170,
                ),
                Column("Policy", lambda r: r.policy.label, tooltip=lambda r: r.policy.id, width=200),
                Column(
                    "Policy compliance",
                    asset_status_text,
                    sort_key=asset_status_rank,
                    background=lambda r: None if r.policy.disabled else _status_color(c, r.status),
                    tooltip=lambda r: (
                        f"Azure Policy: {azure_word(r)}"
                        + (f" (as of {format_utc(r.azure.as_of)})" if r.azure and r.azure.as_of else "")
                    ),
                    width=150,
                ),
                Column(
                    "Failing controls",
                    lambda r: failing_text(r.local),
                    sort_key=lambda r: len(r.local.failures),
                    tooltip=lambda r: failing_tooltip(r.local),
                    header_tooltip="Controls failing fcdesk's local evaluation of the policy's requirements.",
                    width=180,
                ),
                Column(
                    "Local check",
                    local_check_text,
                    sort_key=lambda r: (r.local.passed, not r.disagrees),
                    background=lambda r: None if r.local.passed else c.fail,
                    tooltip=lambda r: disagreement_note(r) or LOCAL_CHECK_EXPLAINED,
                    header_tooltip=LOCAL_CHECK_EXPLAINED,
                ),
                Column(
                    "As of",
                    lambda r: format_utc(r.azure.as_of if r.azure else None),
                    sort_key=lambda r: r.azure.as_of if r.azure else None,
                    header_tooltip="Time of Azure Policy's verdict for this deployment.",
                    width=140,
                ),
            ],
            parent,
        )


class AssetSummaryModel(RowTableModel[AssetRow]):
    """A compact per-asset table for the docks.

    ``first="deployment"`` (the policy dock: which deployments a policy governs) or ``"policy"``
    (the asset dock: which policies govern a deployment).
    """

    def __init__(self, colors: StateColors, *, first: str = "deployment", parent: Any = None) -> None:
        self.colors = colors
        c = colors
        if first == "deployment":
            lead: Column[AssetRow] = Column(
                "Deployment",
                lambda r: r.deployment.name,
                tooltip=lambda r: f"{r.deployment.account_name} / {r.deployment.name}\n{r.deployment.id}",
                sort_key=lambda r: (r.deployment.account_name.casefold(), r.deployment.name.casefold()),
            )
        elif first == "policy":
            lead = Column("Policy", lambda r: r.policy.label, tooltip=lambda r: r.policy.id)
        else:
            raise ValueError(f"first must be 'deployment' or 'policy', not {first!r}")
        super().__init__(
            [
                lead,
                Column(
                    "Compliance",
                    asset_status_text,
                    sort_key=asset_status_rank,
                    background=lambda r: None if r.policy.disabled else _status_color(c, r.status),
                    tooltip=lambda r: f"Azure Policy: {azure_word(r)}",
                ),
                Column(
                    "Failing controls",
                    lambda r: failing_text(r.local),
                    sort_key=lambda r: len(r.local.failures),
                    tooltip=lambda r: failing_tooltip(r.local),
                ),
                Column(
                    "Local check",
                    local_check_text,
                    sort_key=lambda r: (r.local.passed, not r.disagrees),
                    background=lambda r: None if r.local.passed else c.fail,
                    tooltip=lambda r: disagreement_note(r) or "fcdesk's local evaluation",
                ),
            ],
            parent,
        )


class EvaluationModel(RowTableModel[ControlResult]):
    """Required vs actual, one row per control of one policy on one deployment's effective guardrail."""

    COL_CONTROL, COL_REQUIRED, COL_ACTUAL, COL_RESULT, COL_WHY = range(5)

    def __init__(self, colors: StateColors, parent: Any = None) -> None:
        self.colors = colors
        c = colors
        super().__init__(
            [
                Column(
                    "Control",
                    lambda r: r.label,
                    tooltip=lambda r: f"{r.label}\nAzure reference: {r.reference_id}",
                ),
                Column("Required", lambda r: r.required),
                Column("Actual", lambda r: r.actual),
                Column(
                    "Result",
                    lambda r: "Pass" if r.passed else "Fail",
                    sort_key=lambda r: r.passed,
                    background=lambda r: c.ok if r.passed else c.fail,
                    align_center=True,
                ),
                Column(
                    "Why",
                    lambda r: r.reason or ("" if not r.passed else "Meets the requirement"),
                    tooltip=lambda r: r.reason,
                ),
            ],
            parent,
        )

    def set_evaluation(self, ev: Evaluation | None) -> None:
        self.set_rows(results_failures_first(ev) if ev is not None else [])


def governing_rows(inventory: Inventory, dep: Deployment) -> list[AssetRow]:
    """Every (dep, policy) row for the policies governing ``dep`` (exceptions applied)."""
    return [
        AssetRow(dep, pol, inventory.effective(dep), inventory.local(dep, pol), inventory.azure(dep, pol))
        for pol in inventory.governing(dep)
    ]


def rows_by_id(rows: Sequence[PolicyRow]) -> dict[str, PolicyRow]:
    return {idkey(r.policy.id): r for r in rows}


def scope_errors(inventory: Inventory, scope: Scope) -> list[ScopeError]:
    """Capture errors that concern the scope: the whole capture, or a subscription in scope."""
    out = []
    subs = scope.subscriptions
    for err in inventory.errors:
        sid = (id_segment(err.scope, "subscriptions") or "").lower() if err.scope else ""
        if not sid or subs is None or sid in subs:
            out.append(err)
    return out
