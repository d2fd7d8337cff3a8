"""Reports scripts rely on: ``fcdesk report PATH --format json|csv`` (and the data of every format).

The JSON shape is a stable, documented interface (README, "`report` output (stable)"): add keys,
never rename or remove them. Top level: ``report_version``, ``snapshot``, ``counts``,
``subscriptions``, ``policies``, ``matrix``, then (added later) ``scope``, ``recommendations``,
``alerts``, ``plans`` and ``drift`` (``null`` unless the report compares with an older snapshot).
Matrix cells are keyed ``"<filter name>/<source>"`` (e.g. ``"Hate/Prompt"``). The CSV holds the same
tables as sections (:func:`report_csv`); the HTML and xlsx renderings are built from this dict too.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fcdesk.core.drift import Change, Drift
from fcdesk.core.guardrails import CATALOGUE
from fcdesk.core.inventory import ALL, Inventory, Scope
from fcdesk.core.model import idkey
from fcdesk.core.portal import item_link
from fcdesk.core.posture import (
    account_name,
    alert_resource_text,
    alert_tag,
    is_unhealthy,
    needs_attention,
    plan_rows,
    severity_rank,
)
from fcdesk.core.records import SnapshotMeta

REPORT_VERSION = 1

COUNT_KEYS = (
    "subscriptions",
    "resource_groups",
    "accounts",
    "projects",
    "deployments",
    "guardrails",
    "policies",
    "violations",
    "recommendations",
    "alerts",
)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def cell_key(name: str, source: str) -> str:
    return f"{name}/{source}"


def counts(inv: Inventory, scope: Scope = ALL) -> dict[str, int]:
    """The ``counts`` object. ``guardrails`` counts RAI policies defined on accounts (system defaults
    they refer to are not counted); ``policies`` counts guardrail policies only; ``violations`` counts
    deployments failing at least one policy by Azure's verdict where there is one."""
    subs = inv.scoped_subscriptions(scope)
    sub_keys = {s.subscription_id.lower() for s in subs}
    deps = inv.scoped_deployments(scope)
    account_keys = {idkey(a.id) for a in inv.accounts.values() if a.subscription_id.lower() in sub_keys}
    if scope.project_id is not None:
        account_keys = {idkey(d.account_id) for d in deps} | {
            idkey(p.account_id) for p in inv.projects.values() if idkey(p.id) == idkey(scope.project_id)
        }
    return {
        "subscriptions": len(subs),
        "resource_groups": sum(
            1 for rg in inv.resource_groups.values() if rg.subscription_id.lower() in sub_keys
        )
        if scope.project_id is None
        else len({(d.subscription_id.lower(), d.resource_group.lower()) for d in deps}),
        "accounts": len(account_keys),
        "projects": sum(1 for p in inv.projects.values() if idkey(p.account_id) in account_keys)
        if scope.project_id is None
        else 1,
        "deployments": len(deps),
        "guardrails": sum(1 for g in inv.guardrails.values() if idkey(g.account_id) in account_keys),
        "policies": len(inv.scoped_policies(scope)),
        "violations": len(inv.violating_deployments(scope)),
        "recommendations": len(inv.scoped_recommendations(scope)),
        "alerts": len(inv.scoped_alerts(scope)),
    }


def _subscription_of(resource_id: str) -> str:
    """The subscription id (lower case) in an ARM id, "" when it names none."""
    parts = idkey(resource_id).split("/")
    return parts[2] if len(parts) > 2 and parts[1] == "subscriptions" else ""


def subscription_counts(inv: Inventory, scope: Scope = ALL) -> dict[str, dict[str, int]]:
    """``counts(inv, <scope narrowed to one subscription>)`` for each subscription in ``scope``, by its id
    in lower case: the same numbers, in one pass over each kind of resource (calling :func:`counts`
    once per subscription costs subscriptions × resources: minutes at 100,000 deployments)."""
    subs = [s.subscription_id.lower() for s in inv.scoped_subscriptions(scope)]
    if scope.project_id is not None:  # one account's subscription: nothing to gain
        return {sk: counts(inv, Scope(frozenset({sk}), scope.project_id)) for sk in subs}
    out = {sk: dict.fromkeys(COUNT_KEYS, 0) | {"subscriptions": 1} for sk in subs}

    def add(subscription_id: str, key: str) -> None:
        entry = out.get(subscription_id.lower())
        if entry is not None:
            entry[key] += 1

    account_subscription = {idkey(a.id): a.subscription_id for a in inv.accounts.values()}
    for rg in inv.resource_groups.values():
        add(rg.subscription_id, "resource_groups")
    for sub_id in account_subscription.values():
        add(sub_id, "accounts")
    for proj in inv.projects.values():
        add(account_subscription.get(idkey(proj.account_id), ""), "projects")
    for dep in inv.scoped_deployments(scope):
        add(dep.subscription_id, "deployments")
    for rail in inv.guardrails.values():
        add(account_subscription.get(idkey(rail.account_id), ""), "guardrails")
    for pol in inv.scoped_policies(scope):
        add(pol.subscription_id, "policies")
    for dep in inv.violating_deployments(scope):
        add(dep.subscription_id, "violations")
    for rec in inv.scoped_recommendations(scope):
        add(_subscription_of(rec.resource_id or rec.id), "recommendations")
    for alert in inv.scoped_alerts(scope):
        for sub_id in {_subscription_of(t) for t in alert.resource_ids or [alert.id]}:
            add(sub_id, "alerts")
    return out


def build_report(
    inv: Inventory, *, path: str = "", sha256: str = "", scope: Scope = ALL, drift: Drift | None = None
) -> dict[str, Any]:
    """The report of ``inv`` within ``scope`` as JSON-ready data (the stable shape: see the module).

    ``path`` and ``sha256`` name the snapshot file it was read from; ``drift`` (the changes from an
    older snapshot to this one) fills ``drift``, restricted to the subscriptions in ``scope``.
    """
    meta = inv.meta
    report: dict[str, Any] = {
        "report_version": REPORT_VERSION,
        "snapshot": {
            "path": path,
            "sha256": sha256,
            "captured_at": _iso(meta.captured_at),
            "source": str(meta.source),
            "tenant_id": meta.tenant_id,
            "tenant_name": meta.tenant_name,
            "cloud": meta.cloud,
            "partial": meta.partial,
            "errors": [{"scope": e.scope, "message": e.message, "code": e.code} for e in inv.errors],
            "scopes": list(meta.scopes),
            "label": meta.label,
        },
        "counts": counts(inv, scope),
        "subscriptions": [],
        "policies": [],
        "matrix": [],
    }
    per_subscription = subscription_counts(inv, scope)
    unfiltered = {s.subscription_id.lower() for s in inv.unfiltered_subscriptions(scope)}
    for sub in inv.scoped_subscriptions(scope):
        entry: dict[str, Any] = {"id": sub.subscription_id, "name": sub.display_name}
        entry.update(per_subscription[sub.subscription_id.lower()])
        entry.pop("subscriptions", None)
        entry["no_content_filtering"] = sub.subscription_id.lower() in unfiltered
        report["subscriptions"].append(entry)
    for row in inv.policy_rows(scope):
        pol = row.policy
        report["policies"].append(
            {
                "id": pol.id,
                "name": pol.label,
                "scope": pol.scope,
                "status": str(row.status),
                "violating": row.violating,
                "total": row.total,
                "excepted": [d.id for d in row.excepted],
                "not_scopes": list(pol.not_scopes),
                "as_of": _iso(row.as_of),
                "disagreements": row.disagreements,
                "controls": [{"control": cell_key(*r.key), "required": r.text} for r in pol.minimum_controls]
                + (
                    []
                    if pol.mode_requirement.permissive
                    else [{"control": "mode", "required": pol.mode_requirement.text}]
                ),
            }
        )
    for mrow in inv.matrix_rows(scope):
        dep, eff = mrow.deployment, mrow.effective
        report["matrix"].append(
            {
                "id": dep.id,
                "name": dep.name,
                "subscription": dep.subscription_id,
                "resource_group": dep.resource_group,
                "account": dep.account_name,
                "model": dep.model_label,
                "guardrail": eff.name,
                "guardrail_origin": eff.origin.value,
                "mode": eff.mode_label,
                "gap": mrow.has_gap,
                "cells": {cell_key(*c.key): cell.text for c, cell in zip(CATALOGUE, eff.cells, strict=True)},
            }
        )
    report["scope"] = _scope_json(inv, scope)
    report.update(security(inv, scope))
    report["drift"] = drift_json(drift, _drift_subscriptions(inv, scope)) if drift is not None else None
    return report


def _scope_json(inv: Inventory, scope: Scope) -> dict[str, Any]:
    """What the report covers: the subscription and project filters, and a sentence saying it."""
    subs = inv.scoped_subscriptions(scope)
    if scope.subscriptions is None:
        text = f"All subscriptions ({len(subs)})"
    else:
        text = ", ".join(f"{s.display_name} ({s.subscription_id})" for s in subs) or "No subscription"
    if scope.project_id is not None:
        proj = inv.projects.get(idkey(scope.project_id))
        text += f"; project {proj.label if proj else scope.project_id}"
    return {
        "subscriptions": sorted(scope.subscriptions) if scope.subscriptions is not None else None,
        "project": scope.project_id,
        "text": text,
    }


def portal_url(own_link: str, resource_id: str, cloud: str, tenant_id: str = "") -> str:
    """An item's page in the Azure portal of ``cloud``: the link Azure sent when it points into that
    portal, else the resource's page; "" in a custom cloud or without a resource. A report links
    nowhere else."""
    return item_link(own_link, resource_id, cloud, tenant_id).url


def security(inv: Inventory, scope: Scope = ALL) -> dict[str, list[dict[str, Any]]]:
    """The ``recommendations``, ``alerts`` and ``plans`` of the report (the Security posture tab's data).

    Recommendations are those on AI resources (as the tab shows), High and unhealthy first; alerts
    are every alert in scope (as ``counts.alerts`` counts them), newest first; plans are one per
    subscription (Defender for Cloud, its AI plan, Purview, the accounts' Defender for AI settings).
    """
    cloud, tenant = inv.meta.cloud, inv.meta.tenant_id
    recs = sorted(
        inv.scoped_recommendations(scope),
        key=lambda r: (severity_rank(r.severity), not is_unhealthy(r), r.display_name.lower(), r.id),
    )
    alerts = sorted(
        inv.scoped_alerts(scope), key=lambda a: (a.time is None, -a.time.timestamp() if a.time else 0.0, a.id)
    )
    return {
        "recommendations": [
            {
                "id": r.id,
                "name": r.display_name,
                "resource_id": r.resource_id,
                "resource": account_name(r.resource_id) if r.resource_id else "",
                "severity": r.severity,
                "status": r.status,
                "category": r.category,
                "attention": needs_attention(r),
                "portal": portal_url(r.portal_link, r.resource_id or r.id, cloud, tenant),
            }
            for r in recs
        ],
        "alerts": [
            {
                "id": a.id,
                "name": a.display_name,
                "tag": alert_tag(a),
                "type": a.alert_type,
                "severity": a.severity,
                "status": a.status,
                "time": _iso(a.time),
                "resource_ids": list(a.resource_ids),
                "resource": alert_resource_text(a),
                "ai_resource": a.on_ai_resource,
                "attention": needs_attention(a),
                "portal": portal_url(
                    a.portal_link, a.resource_ids[0] if a.resource_ids else "", cloud, tenant
                ),
            }
            for a in alerts
        ],
        "plans": [
            {
                "subscription_id": p.subscription.subscription_id,
                "subscription": p.subscription.display_name,
                "defender_for_cloud": p.defender_for_cloud,
                "plan": p.plan_text,
                "ai_protection": p.enabled,
                "prompt_evidence": p.plan.prompt_evidence if p.plan is not None else None,
                "purview": p.purview,
                "accounts_on": p.accounts_on,
                "accounts": [
                    {"id": a.account.id, "name": a.account.name, "setting": a.state, "on": a.on}
                    for a in p.accounts
                ],
                "guidance": p.guidance,
                "portal": portal_url("", p.subscription.id, cloud, tenant),
            }
            for p in plan_rows(inv, scope)
        ],
    }


def _drift_subscriptions(inv: Inventory, scope: Scope) -> frozenset[str] | None:
    """The subscriptions (lower case) whose changes a scoped report shows; None: every change."""
    if scope.project_id is not None:
        proj = inv.projects.get(idkey(scope.project_id))
        acct = inv.accounts.get(idkey(proj.account_id)) if proj else None
        return frozenset({acct.subscription_id.lower()} if acct else ())
    return scope.subscriptions


def _meta_json(meta: SnapshotMeta) -> dict[str, Any]:
    return {
        "captured_at": _iso(meta.captured_at),
        "source": str(meta.source),
        "tenant_id": meta.tenant_id,
        "tenant_name": meta.tenant_name,
        "label": meta.label,
    }


def drift_json(drift: Drift, subscriptions: frozenset[str] | None = None) -> dict[str, Any]:
    """The ``drift`` object: both captures, counts per kind, and the changes, loosenings first.

    ``subscriptions``: keep only changes in these subscriptions (lower case; changes that name no
    subscription are kept); None keeps every change. Each change has the shape of ``fcdesk diff``'s.
    """
    changes: list[Change] = [
        c
        for c in drift.ordered()
        if subscriptions is None or not c.subscription_id or c.subscription_id.lower() in subscriptions
    ]
    kept = Drift(drift.older, drift.newer, changes)
    return {
        "older": _meta_json(drift.older),
        "newer": _meta_json(drift.newer),
        "counts": kept.counts(),
        "loosened": kept.loosened,
        "changes": [c.to_json() for c in changes],
    }


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a report table: its CSV header, its title for people (xlsx, HTML) and its value."""

    name: str
    title: str
    get: Callable[[dict[str, Any]], Any]


def _col(name: str, title: str, key: str = "") -> Column:
    field = key or name
    return Column(name, title, lambda entry: entry[field])


def _cell_col(key: str, title: str) -> Column:
    return Column(key, title, lambda entry: entry["cells"][key])


#: The tables of a report after its snapshot and counts, by report key: CSV sections and xlsx sheets.
TABLES: dict[str, tuple[Column, ...]] = {
    "policies": (
        _col("policy_id", "Policy id", "id"),
        _col("policy", "Policy", "name"),
        _col("scope", "Scope"),
        _col("status", "Compliance"),
        _col("violating", "Violating"),
        _col("total", "Assets"),
        Column("excepted", "Excepted", lambda p: len(p["excepted"])),
        _col("as_of", "As of"),
    ),
    "matrix": (
        _col("deployment_id", "Deployment id", "id"),
        _col("deployment", "Deployment", "name"),
        _col("subscription", "Subscription"),
        _col("resource_group", "Resource group"),
        _col("account", "Account"),
        _col("model", "Model"),
        _col("guardrail", "Guardrail"),
        _col("mode", "Mode"),
        _col("gap", "Gap"),
        *(_cell_col(cell_key(*c.key), c.label) for c in CATALOGUE),
    ),
    "recommendations": (
        _col("recommendation_id", "Recommendation id", "id"),
        _col("recommendation", "Recommendation", "name"),
        _col("resource_id", "Resource id"),
        _col("resource", "Resource"),
        _col("severity", "Severity"),
        _col("status", "Status"),
        _col("category", "Category"),
        _col("attention", "Needs attention"),
        _col("portal", "Azure portal"),
    ),
    "alerts": (
        _col("alert_id", "Alert id", "id"),
        _col("alert", "Alert", "name"),
        _col("tag", "Prompt attack"),
        _col("type", "Type"),
        _col("severity", "Severity"),
        _col("status", "Status"),
        _col("time", "Time"),
        _col("resource_ids", "Resource ids"),
        _col("resource", "Resource"),
        _col("ai_resource", "AI resource"),
        _col("attention", "Needs attention"),
        _col("portal", "Azure portal"),
    ),
    "plans": (
        _col("subscription_id", "Subscription id"),
        _col("subscription", "Subscription"),
        _col("defender_for_cloud", "Defender for Cloud"),
        _col("plan", "Defender for AI plan"),
        _col("ai_protection", "Threat protection for AI"),
        _col("prompt_evidence", "Prompt evidence"),
        _col("purview", "Microsoft Purview"),
        _col("accounts_on", "Accounts with Defender for AI on"),
        Column("accounts", "Accounts", lambda p: len(p["accounts"])),
    ),
}
#: The ``drift`` table (its rows are ``report["drift"]["changes"]``).
DRIFT_COLUMNS: tuple[Column, ...] = (
    _col("kind", "Change"),
    _col("target", "What"),
    _col("id", "Id"),
    _col("name", "Name"),
    _col("control", "Control"),
    _col("before", "Before"),
    _col("after", "After"),
    _col("detail", "Detail"),
    _col("subscription_id", "Subscription id", "subscriptionId"),
)


def report_tables(report: dict[str, Any]) -> list[tuple[str, tuple[Column, ...], list[dict[str, Any]]]]:
    """The report's tables in order, as ``(name, columns, entries)``: ``drift`` last, when there is one."""
    tables = [(name, columns, report[name]) for name, columns in TABLES.items()]
    if report["drift"] is not None:
        tables.append(("drift", DRIFT_COLUMNS, report["drift"]["changes"]))
    return tables


def csv_value(value: Any) -> Any:
    """A JSON value as a CSV field: ``None`` empty, a list joined with ``;``, the rest as it is."""
    if value is None:
        return ""
    if isinstance(value, list):
        return ";".join(map(str, value))
    return value


def report_csv(report: dict[str, Any]) -> str:
    """A multi-section CSV: each section is ``# <name>``, a header row, its rows, then a blank line.

    Sections: ``snapshot``, ``counts``, then the tables of :data:`TABLES` (``policies``, ``matrix``,
    ``recommendations``, ``alerts``, ``plans``) and ``drift`` when the report has one. Booleans are
    ``True``/``False``, absent values empty, lists joined with ``;``.
    """
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    snap = report["snapshot"]
    w.writerow(["# snapshot"])
    w.writerow(["captured_at", "source", "tenant_name", "cloud", "partial", "sha256"])
    w.writerow([snap[k] for k in ("captured_at", "source", "tenant_name", "cloud", "partial", "sha256")])
    w.writerow([])
    w.writerow(["# counts"])
    keys = [k for k in COUNT_KEYS if k != "subscriptions"]
    w.writerow(["subscription_id", "subscription", *keys])
    for sub in report["subscriptions"]:
        w.writerow([sub["id"], sub["name"], *[sub[k] for k in keys]])
    w.writerow(["", "(total)", *[report["counts"][k] for k in keys]])
    for name, columns, entries in report_tables(report):
        w.writerow([])
        w.writerow([f"# {name}"])
        w.writerow([c.name for c in columns])
        w.writerows([csv_value(c.get(entry)) for c in columns] for entry in entries)
    return out.getvalue()
