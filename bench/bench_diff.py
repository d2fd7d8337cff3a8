"""Drift between two 10,000-deployment snapshots (``fcdesk diff``): the diff itself ≤ 2 s.

The older snapshot is ``generate(250)``; the newer one is a copy with drift in every area: a
guardrail loosened on every tenth copy of the production account, a deployment in fifty reassigned,
one in a hundred removed and as many added, a policy in ten with a new exception, compliance
flipped, a plan in ten turned off. Measured in a fresh process: the diff alone (both inventories
already built, their guardrails not yet resolved), then the whole command (read both files, diff,
JSON out).
"""

from __future__ import annotations

import copy
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import REPO, run_json
from fcdesk.core.records import Kind, RawRecord

SCALE = 250  #: ≈ 10,000 deployments
TARGET_S = 2.0

CODE = r"""
import dataclasses, json, sys, time
from datetime import timedelta
from pathlib import Path
from bench.bench_diff import SCALE, modified_copy
from fcdesk.core.demo import generate
from fcdesk.core.drift import diff_inventories
from fcdesk.core.inventory import Inventory
from fcdesk.store.snapshot import write_snapshot
meta, records = generate(SCALE, 0)
newer_meta = dataclasses.replace(meta, captured_at=meta.captured_at + timedelta(days=1))
newer = modified_copy(records)
older_inv, newer_inv = Inventory.build(meta, records), Inventory.build(newer_meta, newer)
t0 = time.perf_counter()
drift = diff_inventories(older_inv, newer_inv)
cold = time.perf_counter() - t0
t0 = time.perf_counter()
diff_inventories(older_inv, newer_inv)
warm = time.perf_counter() - t0
folder = Path(sys.argv[1])
write_snapshot(folder / "older.fcsnap", meta, records)
write_snapshot(folder / "newer.fcsnap", newer_meta, newer)
print(json.dumps({
    "deployments": [len(older_inv.deployments), len(newer_inv.deployments)],
    "changes": len(drift.changes), "counts": drift.counts(), "cold_s": cold, "warm_s": warm,
}))
"""


def _edit(body: dict, path: tuple[str, ...], value: object) -> dict:
    """A deep copy of ``body`` with the value at ``path`` replaced."""
    out = copy.deepcopy(body)
    node = out
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return out


def modified_copy(records: list[RawRecord]) -> list[RawRecord]:
    """``records`` with drift in every area (only the edited bodies are copied)."""
    out: list[RawRecord] = []
    counters: dict[str, int] = {}

    def nth(name: str, every: int) -> bool:
        counters[name] = counters.get(name, 0) + 1
        return counters[name] % every == 0

    for rec in records:
        body = rec.body
        if rec.kind == Kind.RAI_POLICY and body["name"] == "Contoso-Strict" and nth("strict", 10):
            filters = [
                dict(f, severityThreshold="High") if (f["name"], f["source"]) == ("Hate", "Prompt") else f
                for f in body["properties"]["contentFilters"]
            ]
            body = _edit(body, ("properties", "contentFilters"), filters)
        elif rec.kind == Kind.DEPLOYMENT:
            if nth("removed", 100):
                continue
            if nth("reassigned", 50):
                body = _edit(body, ("properties", "raiPolicyName"), "Microsoft.Default")
            if nth("added", 100):
                twin = _edit(body, ("name",), f"{body['name']}-canary")
                twin["id"] = f"{body['id']}-canary"
                out.append(RawRecord(rec.kind, twin["id"], twin, rec.scope))
        elif rec.kind == Kind.POLICY_ASSIGNMENT and body["name"].startswith("gr-") and nth("policy", 10):
            scope = body["properties"].get("scope") or body["id"].split("/providers/")[0]
            exceptions = [*body["properties"].get("notScopes", []), f"{scope}/resourceGroups/rg-excepted"]
            body = _edit(body, ("properties", "notScopes"), exceptions)
        elif rec.kind == Kind.POLICY_STATE and not body["policyDefinitionReferenceId"] and nth("state", 20):
            flipped = "NonCompliant" if body["complianceState"] == "Compliant" else "Compliant"
            body = _edit(body, ("complianceState",), flipped)
        elif rec.kind == Kind.PRICING and body["properties"]["pricingTier"] == "Standard" and nth("plan", 10):
            body = _edit(body, ("properties", "pricingTier"), "Free")
        out.append(rec if body is rec.body else RawRecord(rec.kind, rec.id, body, rec.scope))
    return out


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="fcdesk-bench-diff-") as folder:
        r = run_json(CODE, folder)
        older, newer = Path(folder) / "older.fcsnap", Path(folder) / "newer.fcsnap"
        started = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "fcdesk", "diff", str(older), str(newer), "--format", "json"],
            capture_output=True,
            cwd=REPO,
            check=False,
        )
        command_s = time.perf_counter() - started
    if proc.returncode not in (0, 3):
        raise RuntimeError(proc.stderr.decode(errors="replace")[-3000:])
    deps = r["deployments"]
    counts = ", ".join(f"{n:,} {kind}" for kind, n in r["counts"].items())
    print(
        f"diff {deps[0]:,} vs {deps[1]:,} deployments: {r['cold_s']:.2f} s (target ≤ {TARGET_S:g} s), "
        f"again {r['warm_s']:.2f} s; {r['changes']:,} changes ({counts})"
    )
    print(f"fcdesk diff end to end (start, read both files, diff, JSON out): {command_s:.2f} s")


if __name__ == "__main__":
    main()
