"""``fcdesk whatif``: re-evaluate a snapshot against a guardrail policy, offline.

::

    fcdesk whatif SNAPSHOT POLICY_FILE [--format text|json]
    fcdesk whatif SNAPSHOT --policy NAME [--format text|json]

``POLICY_FILE`` is a policy file as ``fcdesk policy apply`` reads it (YAML or JSON; README, "Policy
file format"): the draft is evaluated as the wizard's review page does it, on the deployments of the
snapshot in the policy's scope, minus its exceptions. ``--policy NAME`` re-evaluates a guardrail
policy the snapshot holds (its assignment name, display name or id) with fcdesk's own check against
the guardrails as captured, whatever Azure's verdict said then. Nothing is read from Azure and
nothing is written.

``text`` (the default): the policy, the headline ("3 of 12 deployments in scope would violate this
policy"), the violations per control, then one line per violating deployment. ``json``: one object
(README, "fcdesk whatif").

Exit codes: 0 done, whatever the result; 1 the snapshot or the policy file cannot be read, or the
file is not a valid policy (one plain sentence on stderr); 2 bad arguments (neither or both of
POLICY_FILE and ``--policy``, a ``--policy`` that names no policy of the snapshot, or several).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from fcdesk.core.drafts import DraftError, WhatIf, draft_from_document, parse_policy_text, scope_text, what_if
from fcdesk.core.inventory import Inventory
from fcdesk.core.policy import GuardrailPolicy
from fcdesk.core.text import format_utc

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


class _Stop(Exception):
    """Stop with this exit code after one plain line on stderr."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``whatif`` subcommand to ``fcdesk``'s subparsers."""
    p = sub.add_parser(
        "whatif",
        help="re-evaluate a snapshot against a draft policy file or one of its policies (offline)",
        description="Which deployments of a snapshot would violate a guardrail policy: a policy file "
        "(as for 'fcdesk policy apply') or, with --policy, a policy the snapshot holds. Exit codes: "
        "0 ok, 1 unreadable snapshot or invalid policy file, 2 bad arguments.",
    )
    p.add_argument("snapshot", type=Path, metavar="SNAPSHOT", help="a .fcsnap file")
    p.add_argument(
        "policy_file", type=Path, nargs="?", metavar="POLICY_FILE", help="a policy file (YAML or JSON)"
    )
    p.add_argument(
        "--policy",
        metavar="NAME",
        help="a guardrail policy in the snapshot: assignment name, display name or id",
    )
    p.add_argument("--format", choices=("text", "json"), default="text")
    return p


def run(args: argparse.Namespace) -> int:
    """Load the snapshot and the policy, evaluate, print; see the module for the exit codes."""
    from fcdesk.app import load_inventory
    from fcdesk.store.snapshot import SnapshotError, sha256_of

    if (args.policy_file is None) == (args.policy is None):
        return _say(EXIT_USAGE, "error: give either a POLICY_FILE or --policy NAME")
    try:
        inventory = load_inventory(args.snapshot).inventory
        digest = sha256_of(args.snapshot)
        if args.policy is not None:
            policy, source = find_policy(inventory, args.policy), "snapshot"
        else:
            policy, source = read_policy_file(args.policy_file, inventory), "file"
    except SnapshotError as exc:
        return _say(EXIT_FAIL, exc.user_message)
    except _Stop as stop:
        return _say(stop.code, str(stop))
    result = what_if(inventory, policy)
    if args.format == "json":
        doc = whatif_json(inventory, policy, result, source=source, path=str(args.snapshot), sha256=digest)
        sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(
            "".join(f"{line}\n" for line in whatif_lines(inventory, policy, result, str(args.snapshot)))
        )
    return EXIT_OK


def _say(code: int, message: str) -> int:
    """One plain line on stderr; returns ``code``."""
    print(f"fcdesk: {message}", file=sys.stderr)
    return code


def read_policy_file(path: Path, inventory: Inventory) -> GuardrailPolicy:
    """The policy a policy file describes (an edit of the snapshot's policy of the same name and scope)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _Stop(EXIT_FAIL, f'could not read "{path}": {getattr(exc, "strerror", None) or exc}') from None
    try:
        draft = draft_from_document(parse_policy_text(text, filename=path.name), existing=inventory.policies)
    except DraftError as exc:
        raise _Stop(EXIT_FAIL, f'"{path.name}" is not a valid policy file: {exc}') from None
    return draft.as_policy()


def find_policy(inventory: Inventory, wanted: str) -> GuardrailPolicy:
    """The snapshot's guardrail policy with this id, else assignment name, else display name."""
    key = wanted.strip().rstrip("/").lower()
    found = [p for p in inventory.policies if p.key == key] or [
        p for p in inventory.policies if p.name.lower() == key
    ]
    found = found or [p for p in inventory.policies if p.display_name.lower() == key]
    if not found:
        raise _Stop(EXIT_USAGE, f"error: the snapshot holds no guardrail policy named '{wanted}'")
    if len(found) > 1:
        ids = ", ".join(p.id for p in found)
        raise _Stop(
            EXIT_USAGE, f"error: several guardrail policies are named '{wanted}': give one of the ids {ids}"
        )
    return found[0]


def _requirements(policy: GuardrailPolicy) -> list[str]:
    """What the policy demands, one control a line ("Hate (prompt): Must block ≥ Medium")."""
    lines = [f"{r.control.label}: {r.text}" for r in policy.minimum_controls]
    if policy.checks(None) and not policy.mode_requirement.permissive:
        lines.append(policy.mode_requirement.text)
    return lines


def _present_only(policy: GuardrailPolicy) -> list[str]:
    """Controls checked with any setting allowed: the initiative still fails a guardrail without them."""
    return [r.control.label for r in policy.requirements.values() if r.permissive and policy.checks(r.key)]


def whatif_lines(inventory: Inventory, policy: GuardrailPolicy, result: WhatIf, path: str) -> list[str]:
    """The text output."""
    names = {s.subscription_id.lower(): s.display_name for s in inventory.subscriptions.values()}
    lines = [
        f"What-if of the guardrail policy '{policy.label}' on {path} "
        f"(captured {format_utc(inventory.meta.captured_at)}):",
        f"  Scope: {scope_text(policy.scope, names)}",
        *(
            f"  Requires {line}"
            for line in _requirements(policy) or ["nothing beyond the controls being present"]
        ),
    ]
    if present := _present_only(policy):
        lines.append(f"  Requires these filters to be present (any setting): {', '.join(present)}")
    if policy.not_scopes:
        lines.append(f"  Exceptions: {', '.join(scope_text(e, names) for e in policy.not_scopes)}")
    lines += ["", result.headline]
    if result.by_control:
        lines += ["", "Violations by control:"]
        lines += [f"  {label}: {count:,}" for label, count in result.by_control]
        lines += ["", "Violating deployments:"]
        for row in result.violating:
            dep = row.deployment
            guardrail = inventory.effective(dep).name
            lines.append(f"  {dep.account_name} / {dep.name} (guardrail {guardrail}): fails {row.failing}")
    return lines


def whatif_json(
    inventory: Inventory, policy: GuardrailPolicy, result: WhatIf, *, source: str, path: str, sha256: str
) -> dict[str, Any]:
    """The JSON output (a stable shape: README, "fcdesk whatif")."""
    return {
        "snapshot": {
            "path": path,
            "sha256": sha256,
            "capturedAt": inventory.meta.captured_at.isoformat().replace("+00:00", "Z"),
        },
        "policy": {
            "source": source,
            "id": policy.id,
            "name": policy.name,
            "displayName": policy.display_name,
            "scope": policy.scope,
            "controls": _requirements(policy),
            "mustBePresent": _present_only(policy),
            "exceptions": list(policy.not_scopes),
        },
        "inScope": result.in_scope,
        "excepted": result.excepted,
        "evaluated": result.evaluated,
        "compliant": result.compliant,
        "headline": result.headline,
        "byControl": [{"control": label, "deployments": count} for label, count in result.by_control],
        "violating": [
            {
                "id": row.deployment.id,
                "name": row.deployment.name,
                "account": row.deployment.account_name,
                "guardrail": inventory.effective(row.deployment).name,
                "failing": [
                    {"control": f.label, "required": f.required, "actual": f.actual}
                    for f in row.evaluation.failures
                ],
            }
            for row in result.violating
        ],
    }
