"""Reports scripts rely on: ``fcdesk report PATH --format json|csv``.

The JSON shape is a stable, documented interface (README, "Reports"): add keys, never rename or
remove them. Top level: ``report_version``, ``snapshot``, ``counts``, ``subscriptions``,
``policies``, ``matrix``. Matrix cells are keyed ``"<filter name>/<source>"`` (e.g. ``"Hate/Prompt"``).
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

from fcdesk.core.guardrails import CATALOGUE
from fcdesk.core.inventory import ALL, Inventory, Scope
from fcdesk.core.model import idkey

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
        "resource_groups": sum(1 for rg in inv.resource_groups.values() if rg.subscription_id.lower() in sub_keys)
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


def build_report(inv: Inventory, *, path: str = "", sha256: str = "", scope: Scope = ALL) -> dict[str, Any]:
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
        },
        "counts": counts(inv, scope),
        "subscriptions": [],
        "policies": [],
        "matrix": [],
    }
    for sub in inv.scoped_subscriptions(scope):
        sub_scope = Scope(frozenset({sub.subscription_id}), scope.project_id)
        entry: dict[str, Any] = {"id": sub.subscription_id, "name": sub.display_name}
        entry.update(counts(inv, sub_scope))
        entry.pop("subscriptions", None)
        entry["no_content_filtering"] = bool(inv.unfiltered_subscriptions(sub_scope))
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
                "controls": [
                    {"control": cell_key(*r.key), "required": r.text} for r in pol.minimum_controls
                ]
                + ([] if pol.mode_requirement.permissive else [{"control": "mode", "required": pol.mode_requirement.text}]),
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
    return report


def report_csv(report: dict[str, Any]) -> str:
    """A multi-section CSV: each section is ``# <name>``, a header row, its rows, then a blank line."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    snap = report["snapshot"]
    w.writerow(["# snapshot"])
    w.writerow(["captured_at", "source", "tenant_name", "cloud", "partial", "sha256"])
    w.writerow([snap["captured_at"], snap["source"], snap["tenant_name"], snap["cloud"], snap["partial"], snap["sha256"]])
    w.writerow([])
    w.writerow(["# counts"])
    w.writerow(["subscription_id", "subscription", *[k for k in COUNT_KEYS if k != "subscriptions"]])
    for sub in report["subscriptions"]:
        w.writerow([sub["id"], sub["name"], *[sub[k] for k in COUNT_KEYS if k != "subscriptions"]])
    w.writerow(["", "(total)", *[report["counts"][k] for k in COUNT_KEYS if k != "subscriptions"]])
    w.writerow([])
    w.writerow(["# policies"])
    w.writerow(["policy_id", "policy", "scope", "status", "violating", "total", "excepted", "as_of"])
    for pol in report["policies"]:
        w.writerow([pol["id"], pol["name"], pol["scope"], pol["status"], pol["violating"], pol["total"], len(pol["excepted"]), pol["as_of"] or ""])
    w.writerow([])
    w.writerow(["# matrix"])
    cell_cols = [cell_key(*c.key) for c in CATALOGUE]
    w.writerow(["deployment_id", "deployment", "subscription", "resource_group", "account", "model", "guardrail", "mode", "gap", *cell_cols])
    for m in report["matrix"]:
        w.writerow(
            [m["id"], m["name"], m["subscription"], m["resource_group"], m["account"], m["model"], m["guardrail"], m["mode"], m["gap"]]
            + [m["cells"][k] for k in cell_cols]
        )
    return out.getvalue()
