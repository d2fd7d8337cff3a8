"""``fcdesk diff A B``: what changed between two snapshots of a tenant, loosenings first.

::

    fcdesk diff OLDER NEWER [--format text|json]

``text`` (the default): a header (both snapshots' capture times, the tenant, counts per kind), then
one line per change, grouped by kind (loosened first) and target. ``json``: one object,
``{"older": {path, capturedAt, sha256}, "newer": {...}, "counts": {...}, "changes": [...]}``, each
change as :meth:`fcdesk.core.drift.Change.to_json`, in :meth:`fcdesk.core.drift.Drift.ordered` order.

The snapshots are compared in the order given. When OLDER was captured after NEWER, when they hold
different tenants or when one is a partial capture, a note says so on stderr.

Exit codes: 0 nothing loosened; 3 something loosened; 1 a snapshot could not be read (one plain
sentence on stderr); 2 bad arguments.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fcdesk.core.drift import KIND_ORDER, Change, ChangeKind, Drift, Target, diff_inventories
from fcdesk.core.records import SnapshotMeta
from fcdesk.core.text import format_utc

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_LOOSENED = 0, 1, 2, 3

#: How the text output names each target's group.
TARGET_HEADINGS = {
    Target.DEPLOYMENT: "Deployments",
    Target.GUARDRAIL: "Guardrails",
    Target.POLICY: "Policies",
    Target.COMPLIANCE: "Policy compliance (Azure's verdict)",
    Target.RECOMMENDATION: "Recommendations",
    Target.ALERT: "Alerts",
    Target.PLAN: "Defender for AI plans and settings",
}


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``diff`` subcommand to ``fcdesk``'s subparsers."""
    p = sub.add_parser(
        "diff",
        help="what changed between two snapshots (guardrails, policies, compliance, security)",
        description="Compare two snapshots of a tenant: OLDER, then NEWER. Exit codes: 0 nothing loosened, "
        "3 something loosened, 1 a snapshot could not be read, 2 bad arguments.",
    )
    p.add_argument("older", type=Path, metavar="OLDER", help="the earlier .fcsnap file")
    p.add_argument("newer", type=Path, metavar="NEWER", help="the later .fcsnap file")
    p.add_argument("--format", choices=("text", "json"), default="text")
    return p


def run(args: argparse.Namespace) -> int:
    """Load both snapshots, compare them and print the drift; the exit code says whether it loosened."""
    from fcdesk.app import load_inventory
    from fcdesk.store.snapshot import SnapshotError, sha256_of

    try:
        older = load_inventory(args.older).inventory
        newer = load_inventory(args.newer).inventory
        digests = (sha256_of(args.older), sha256_of(args.newer))
    except SnapshotError as exc:
        print(f"fcdesk: {exc.user_message}", file=sys.stderr)
        return EXIT_FAIL
    for line in notes(older.meta, newer.meta, str(args.older), str(args.newer)):
        print(f"fcdesk: note: {line}", file=sys.stderr)
    drift = diff_inventories(older, newer)
    files = ((str(args.older), digests[0]), (str(args.newer), digests[1]))
    if args.format == "json":
        text = json.dumps(drift_json(drift, *files), indent=2, ensure_ascii=False) + "\n"
    else:
        text = render_text(drift, str(args.older), str(args.newer))
    sys.stdout.write(text)
    return EXIT_LOOSENED if drift.loosened else EXIT_OK


def notes(older: SnapshotMeta, newer: SnapshotMeta, older_path: str, newer_path: str) -> list[str]:
    """What a reader must know before trusting the comparison (printed on stderr)."""
    out: list[str] = []
    if older.captured_at > newer.captured_at:
        out.append(
            f"{older_path} ({format_utc(older.captured_at)}) was captured after {newer_path} "
            f"({format_utc(newer.captured_at)}); changes are listed from the first to the second as given"
        )
    if older.tenant_id and newer.tenant_id and older.tenant_id.lower() != newer.tenant_id.lower():
        out.append("the snapshots hold different tenants: most resources show as added or removed")
    for path, meta in ((older_path, older), (newer_path, newer)):
        if meta.partial or meta.errors:
            n = len(meta.errors)
            failed = f" ({n} scope error{'s' if n != 1 else ''})" if n else ""
            out.append(
                f"{path} is a partial capture{failed}: what it could not read shows as added or removed"
            )
    return out


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def drift_json(drift: Drift, older: tuple[str, str], newer: tuple[str, str]) -> dict[str, Any]:
    """The stable JSON of ``fcdesk diff --format json``; ``older``/``newer`` are (path, sha256)."""
    return {
        "older": {"path": older[0], "capturedAt": _iso(drift.older.captured_at), "sha256": older[1]},
        "newer": {"path": newer[0], "capturedAt": _iso(drift.newer.captured_at), "sha256": newer[1]},
        "counts": drift.counts(),
        "changes": [c.to_json() for c in drift.ordered()],
    }


def _plain(text: str) -> str:
    """One line of plain text: control characters (newlines from Azure texts) become spaces."""
    return "".join(" " if ord(ch) < 32 or ord(ch) == 127 else ch for ch in text)


def _value(text: str | None) -> str:
    return "(empty)" if text == "" else _plain(text or "")


def change_line(change: Change) -> str:
    """``name — control: before → after (detail)``; parts that are absent are left out."""
    line = _plain(change.name)
    if change.control:
        line += f" — {_plain(change.control)}"
    if change.before is not None and change.after is not None:
        values = f"{_value(change.before)} → {_value(change.after)}"
    elif change.before is not None or change.after is not None:
        values = _value(change.after if change.after is not None else change.before)
    else:
        values = ""
    if values:
        line += f": {values}"
    if change.detail:
        line += f" ({_plain(change.detail)})"
    return line


def _header(drift: Drift, older_path: str, newer_path: str) -> Iterator[str]:
    yield f"older: {_plain(older_path)}, captured {format_utc(drift.older.captured_at)}"
    yield f"newer: {_plain(newer_path)}, captured {format_utc(drift.newer.captured_at)}"
    tenants = [
        _plain(f"{m.tenant_name} ({m.tenant_id})" if m.tenant_name else m.tenant_id)
        for m in (drift.older, drift.newer)
    ]
    yield f"tenant: {tenants[1]}" if tenants[0] == tenants[1] else f"tenants: {tenants[0]} → {tenants[1]}"
    counts = drift.counts()
    yield "changes: " + ", ".join(
        f"{counts[str(k)]} {k}" for k in sorted(ChangeKind, key=KIND_ORDER.__getitem__)
    )


def render_text(drift: Drift, older_path: str, newer_path: str) -> str:
    """The text output: the header, then the changes grouped by kind (loosened first) and target."""
    lines = list(_header(drift, older_path, newer_path))
    ordered = drift.ordered()
    if not ordered:
        lines += ["", "No changes."]
    for kind, of_kind in itertools.groupby(ordered, key=lambda c: c.kind):
        groups = [
            (target, list(changes)) for target, changes in itertools.groupby(of_kind, key=lambda c: c.target)
        ]
        lines += ["", f"{str(kind).capitalize()} ({sum(len(changes) for _, changes in groups)})"]
        for target, changes in groups:
            lines.append(f"  {TARGET_HEADINGS[target]} ({len(changes)})")
            lines.extend(f"    {change_line(c)}" for c in changes)
    return "\n".join(lines) + "\n"
