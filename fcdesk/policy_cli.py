"""``fcdesk policy`` and ``fcdesk guardrail``: guardrail policies as code, and guardrail fixes.

::

    fcdesk policy apply FILE [--dry-run] [--yes]
    fcdesk policy delete NAME --scope SCOPE [--dry-run] [--yes]
    fcdesk policy list [--subscription ID ...] [--format table|json|yaml]
    fcdesk guardrail set DEPLOYMENT_ID (--guardrail NAME | --meet POLICY) [--name NEW]
                         [--update-shared] [--dry-run] [--yes]

Each takes the sign-in options of ``fcdesk capture`` (``--auth``, ``--tenant``, ``--cloud``,
``--arm-endpoint``, ``--ca-file``...). Every write goes through :class:`fcdesk.actions.Actions`:
rights checked first, etags compared, every PUT/DELETE in the audit log.

A write is shown first (what changes, and the requests), then confirmed: ``--yes``, or "y" at the
"Proceed? [y/N]" prompt when standard input is a terminal; with neither nothing is written (exit 2).
``--dry-run`` prints the requests with their bodies and sends nothing but reads.

Exit codes: 0 done (or nothing to do); 1 an Azure error or a failed write; 2 bad arguments, an
invalid policy file, or not confirmed; 3 a conflict (the target changed since it was read); 4 the
signed-in identity lacks the rights (nothing was sent). Errors are one plain line on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fcdesk.cli_auth import add_auth_options, sign_in_options
from fcdesk.cli_common import (
    EXIT_FAIL,
    EXIT_OK,
    EXIT_USAGE,
    Context,
    Exit,
    add_write_options,
    note,
    out,
    write,
)
from fcdesk.cli_common import run as run_command

if TYPE_CHECKING:
    from fcdesk.azure.writes import ArmWriter
    from fcdesk.core.fix import GuardrailPlan
    from fcdesk.core.guardrails import EffectiveGuardrail
    from fcdesk.core.inventory import Inventory
    from fcdesk.core.model import Deployment
    from fcdesk.core.policy import GuardrailPolicy

FORMATS = ("table", "json", "yaml")
_ASSIGNMENTS = "/providers/Microsoft.Authorization/policyAssignments"


# ----------------------------------------------------------------------------------- arguments


def add_parsers(sub: Any) -> None:
    """Add ``policy`` and ``guardrail`` to ``fcdesk``'s subparsers."""
    pol = sub.add_parser(
        "policy",
        help="guardrail policies as code: apply a policy file, delete, list",
        description="Create, update, delete and list guardrail policies (assignments of the built-in "
        "guardrail initiative). Exit codes: 0 ok, 1 Azure error, 2 usage/invalid file/not confirmed, "
        "3 conflict, 4 missing rights.",
    )
    verbs = pol.add_subparsers(dest="policy_command", metavar="ACTION")
    apply = verbs.add_parser("apply", help="create or update the guardrail policy of a YAML or JSON file")
    apply.add_argument("file", type=Path, metavar="FILE", help="a policy file (see the README)")
    add_write_options(apply)
    add_auth_options(apply)
    delete = verbs.add_parser("delete", help="delete a guardrail policy")
    delete.add_argument("name", metavar="NAME", help="the assignment's name")
    delete.add_argument(
        "--scope", required=True, metavar="SCOPE", help="/subscriptions/<id>[/resourceGroups/<rg>]"
    )
    add_write_options(delete)
    add_auth_options(delete)
    listing = verbs.add_parser("list", help="the guardrail policies of the signed-in subscriptions")
    listing.add_argument(
        "--subscription",
        action="extend",
        nargs="+",
        metavar="ID",
        default=None,
        help="only these subscriptions",
    )
    listing.add_argument(
        "--format", choices=FORMATS, default="table", help="yaml: policy files that 'policy apply' accepts"
    )
    add_auth_options(listing)
    pol.set_defaults(command_parser=pol)

    rail = sub.add_parser(
        "guardrail",
        help="point a deployment at a guardrail, or fix its guardrail to meet a policy",
        description="Change the guardrail of a model deployment. Exit codes as for 'fcdesk policy'.",
    )
    rverbs = rail.add_subparsers(dest="guardrail_command", metavar="ACTION")
    put = rverbs.add_parser("set", help="set a deployment's guardrail")
    put.add_argument("deployment", metavar="DEPLOYMENT_ID", help="the deployment's ARM id")
    which = put.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--guardrail", metavar="NAME", help="an existing guardrail of the account, or Microsoft.DefaultV2"
    )
    which.add_argument(
        "--meet", metavar="POLICY", help="raise the guardrail to meet this policy (assignment name or id)"
    )
    put.add_argument(
        "--name", metavar="NEW", help="with --meet: save the result as a new guardrail named NEW"
    )
    put.add_argument(
        "--update-shared",
        action="store_true",
        help="with --meet: update the guardrail even if other deployments use it",
    )
    add_write_options(put)
    add_auth_options(put)
    rail.set_defaults(command_parser=rail)


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Validate ``args`` (bad ones: exit 2 through ``parser.error``) and run the command."""
    parser = getattr(args, "command_parser", None) or parser
    verb = args.policy_command if args.command == "policy" else args.guardrail_command
    if verb is None:
        verbs = "apply, delete or list" if args.command == "policy" else "set"
        parser.error(f"choose an action: {verbs}")
    if args.command == "guardrail" and args.guardrail is not None and (args.name or args.update_shared):
        parser.error("--name and --update-shared go with --meet")
    sign_in = sign_in_options(args, parser)
    handler = {
        ("policy", "apply"): _apply,
        ("policy", "delete"): _delete,
        ("policy", "list"): _list,
        ("guardrail", "set"): _set_guardrail,
    }[(args.command, verb)]
    from fcdesk.core.drafts import DraftError
    from fcdesk.core.fix import Unsatisfiable

    return run_command(args, sign_in, handler, usage_errors=(DraftError, Unsatisfiable))


# ----------------------------------------------------------------------------------- policy


async def _assignments(arm: ArmWriter, path: str, params: dict[str, str]) -> list[GuardrailPolicy]:
    """The guardrail policies listed at ``path`` (other assignments left out; malformed: said and skipped)."""
    from fcdesk.core import normalize as nz

    out = []
    for body in await arm.list(path, params):
        if not nz.is_guardrail_assignment(body):
            continue
        try:
            out.append(nz.guardrail_policy(body))
        except (nz.MalformedPayload, TypeError, ValueError) as exc:
            note(f"skipped a malformed policy assignment {body.get('id', '')}: {exc}")
    return out


async def _apply(args: argparse.Namespace, ctx: Context) -> int:
    from fcdesk.core.drafts import draft_from_document, parse_policy_text

    try:
        text = args.file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise Exit(
            EXIT_USAGE, f'could not read "{args.file}": {getattr(exc, "strerror", None) or exc}'
        ) from None
    doc = parse_policy_text(text, filename=args.file.name)
    scope = draft_from_document(doc).scope  # validates the file before anything is read
    existing = await _assignments(ctx.arm, scope + _ASSIGNMENTS, {"$filter": "atExactScope()"})
    draft = draft_from_document(doc, existing=existing)
    verb = "Update" if draft.is_edit else "Create"
    out(f"{verb} the guardrail policy '{draft.display_name}' ({draft.assignment_name}):")
    for line in draft.summary_lines():
        out(f"  {line}")
    rights = await ctx.actions.rights_for_policies(draft.scope)
    return await write(
        ctx,
        args,
        ctx.actions.policy_calls(draft),
        rights,
        lambda: ctx.actions.apply_policy(draft),
    )


async def _delete(args: argparse.Namespace, ctx: Context) -> int:
    from fcdesk.core import normalize as nz
    from fcdesk.core.drafts import scope_text

    scope = args.scope.strip().rstrip("/")
    if not _is_scope(scope):
        raise Exit(
            EXIT_USAGE, "--scope must be /subscriptions/<id> or /subscriptions/<id>/resourceGroups/<name>"
        )
    body = await ctx.arm.get(f"{scope}{_ASSIGNMENTS}/{args.name}")
    if body is None:
        raise Exit(EXIT_FAIL, f"there is no policy assignment named '{args.name}' on {scope_text(scope)}.")
    if not nz.is_guardrail_assignment(body):
        raise Exit(
            EXIT_USAGE, f"'{args.name}' is not a guardrail policy: fcdesk deletes only guardrail policies."
        )
    policy = nz.guardrail_policy(body)
    out(f"Delete the guardrail policy '{policy.label}' ({policy.name}) from {scope_text(policy.scope)}:")
    out(f"  {policy.controls_text}")
    rights = await ctx.actions.rights_for_policies(policy.scope)
    return await write(
        ctx,
        args,
        ctx.actions.delete_calls(policy),
        rights,
        lambda: ctx.actions.delete_policy(policy),
    )


async def _list(args: argparse.Namespace, ctx: Context) -> int:
    from fcdesk.azure.errors import ArmError
    from fcdesk.core.model import idkey
    from fcdesk.core.policy import INITIATIVE_ID

    subs = args.subscription or [s.subscription_id for s in await ctx.session.subscriptions()]
    params = {"$filter": f"policyDefinitionId eq '{INITIATIVE_ID}'"}
    results = await asyncio.gather(
        *(_assignments(ctx.arm, f"/subscriptions/{sub}{_ASSIGNMENTS}", params) for sub in subs),
        return_exceptions=True,
    )
    found: dict[str, GuardrailPolicy] = {}
    failed = False
    for sub, result in zip(subs, results, strict=True):
        if isinstance(result, ArmError):
            note(result.sentence(f"Listing the policies of subscription {sub}"))
            failed = True
        elif isinstance(result, BaseException):
            raise result
        else:
            for pol in result:
                found.setdefault(idkey(pol.id), pol)
    policies = sorted(found.values(), key=lambda p: (idkey(p.scope), p.label.lower()))
    out(_format_policies(policies, args.format))
    return EXIT_FAIL if failed else EXIT_OK


def _format_policies(policies: list[GuardrailPolicy], fmt: str) -> str:
    from fcdesk.core.drafts import document_from_draft, draft_from_policy, scope_text

    if fmt == "json":
        return json.dumps([_policy_json(p) for p in policies], indent=2, ensure_ascii=False)
    if fmt == "yaml":
        import yaml

        docs = []
        for pol in policies:
            draft = draft_from_policy(pol)
            if draft.kept:
                note(
                    f"'{pol.label}' has controls a policy file cannot express "
                    f"({', '.join(r.control.label for r in draft.kept)}): applying its file would drop them."
                )
            docs.append(document_from_draft(draft))
        return yaml.safe_dump_all(docs, explicit_start=True, sort_keys=False, allow_unicode=True).rstrip()
    if not policies:
        return "No guardrail policies."
    rows = [("NAME", "SCOPE", "EXCEPTIONS", "CONTROLS")]
    rows += [(p.label, scope_text(p.scope), str(len(p.not_scopes)), p.controls_text) for p in policies]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(r[:3], widths, strict=True)) + "  " + r[3] for r in rows
    )


def _policy_json(pol: GuardrailPolicy) -> dict[str, Any]:
    return {
        "id": pol.id,
        "name": pol.name,
        "displayName": pol.display_name,
        "description": pol.description,
        "scope": pol.scope,
        "controls": [f"{r.control.label}: {r.text}" for r in pol.minimum_controls if pol.checks(r.key)],
        "modes": pol.mode_requirement.text
        if pol.checks(None) and not pol.mode_requirement.permissive
        else None,
        "exceptions": list(pol.not_scopes),
        "enforcementMode": pol.enforcement_mode,
        "effect": pol.effect,
        "createdByFcdesk": pol.created_by_fcdesk,
    }


def _is_scope(scope: str) -> bool:
    parts = scope.strip("/").split("/")
    return (len(parts) == 2 and parts[0].lower() == "subscriptions") or (
        len(parts) == 4 and parts[0].lower() == "subscriptions" and parts[2].lower() == "resourcegroups"
    )


# ----------------------------------------------------------------------------------- guardrail


@dataclass(slots=True)
class _Choice:
    """Where ``guardrail set`` points the deployment, and what it saves first."""

    name: str  #: the guardrail the deployment will name
    create: bool  #: a new custom guardrail
    save: bool  #: the guardrail is written (False: an existing one is only pointed at)
    plan: GuardrailPlan
    after: EffectiveGuardrail  #: what will apply, for the diff
    governing: list[str]  #: assignment ids reported pending


async def _set_guardrail(args: argparse.Namespace, ctx: Context) -> int:
    from fcdesk.actions import GuardrailChange, GuardrailTargets
    from fcdesk.core.fix import control_diff
    from fcdesk.core.model import idkey, parent_id

    dep_id = _deployment_id(args.deployment)
    account_id = parent_id(dep_id)
    dep_body, rails, deployments = await asyncio.gather(
        ctx.arm.get(dep_id),
        ctx.arm.list(f"{account_id}/raiPolicies"),
        ctx.arm.list(f"{account_id}/deployments"),
    )
    if dep_body is None:
        raise Exit(EXIT_FAIL, f"the deployment {dep_id} does not exist.")
    policy = await _policy_to_meet(ctx, args.meet, dep_id) if args.meet else None
    inventory = _inventory(account_id, dep_body, rails, deployments)
    dep = next(d for d in inventory.deployments if d.key == idkey(dep_id))
    rail_bodies = {str(b.get("name") or "").lower(): b for b in rails}
    if policy is None:
        choice = _point_at(args.guardrail, dep, inventory, rail_bodies)
    else:
        choice = _meet(args, policy, dep, inventory, rail_bodies)
    if choice is None:
        return EXIT_OK
    how = " (new)" if choice.create else " (updated)" if choice.save else ""
    out(
        f"Deployment {dep.name} (account {dep.account_name}): guardrail "
        f"'{dep.rai_policy_name or 'account default'}' → '{choice.name}'{how}"
    )
    diff = control_diff(inventory.effective(dep), choice.after)
    out("Controls that change:" if diff else "No control changes.")
    for line in diff:
        out(f"  {line.label}: {line.before} → {line.after}")
    seen_rail = None if choice.create else rail_bodies.get(choice.name.lower())
    change = GuardrailChange(
        account_id,
        choice.name,
        choice.plan,
        [dep_id],
        GuardrailTargets(account_id, seen_rail, {idkey(dep_id): dep_body}),
        create=choice.create,
        governing=choice.governing,
        save_guardrail=choice.save,
        # a new guardrail made from the deployment's custom one keeps its blocklists and settings
        template=rail_bodies.get((dep.rai_policy_name or "").lower()) if choice.create else None,
    )
    rights = await ctx.actions.rights_for_guardrail(account_id)
    return await write(
        ctx,
        args,
        ctx.actions.guardrail_calls(change),
        rights,
        lambda: ctx.actions.apply_guardrail(change, on_progress=note),
    )


def _deployment_id(text: str) -> str:
    dep_id = "/" + text.strip().strip("/")
    parts = dep_id.lower().split("/")[1:]
    if not (
        len(parts) == 10
        and parts[0] == "subscriptions"
        and parts[2] == "resourcegroups"
        and parts[4:7] == ["providers", "microsoft.cognitiveservices", "accounts"]
        and parts[8] == "deployments"
    ):
        raise Exit(
            EXIT_USAGE,
            "DEPLOYMENT_ID must be /subscriptions/<s>/resourceGroups/<rg>/providers/"
            "Microsoft.CognitiveServices/accounts/<account>/deployments/<name>",
        )
    return dep_id


def _inventory(
    account_id: str, dep_body: dict[str, Any], rails: list[dict[str, Any]], deployments: list[dict[str, Any]]
) -> Inventory:
    """The account's deployments (this one as just read) and guardrails, as the tabs would see them."""
    from fcdesk.core.inventory import Inventory
    from fcdesk.core.model import idkey
    from fcdesk.core.records import Kind, RawRecord, SnapshotMeta, Source

    key = idkey(str(dep_body.get("id") or ""))
    records = [
        RawRecord(Kind.DEPLOYMENT, str(b.get("id")), b, account_id)
        for b in deployments
        if idkey(str(b.get("id") or "")) != key
    ]
    records.append(RawRecord(Kind.DEPLOYMENT, str(dep_body.get("id")), dep_body, account_id))
    records += [RawRecord(Kind.RAI_POLICY, str(b.get("id")), b, account_id) for b in rails]
    inventory = Inventory.build(SnapshotMeta(captured_at=datetime.now(UTC), source=Source.LIVE), records)
    for error in inventory.errors:
        note(f"skipped: {error.message}")
    if not any(d.key == key for d in inventory.deployments):
        raise Exit(EXIT_FAIL, "the deployment's answer could not be read.")
    return inventory


def _point_at(
    wanted: str, dep: Deployment, inventory: Inventory, rail_bodies: dict[str, dict[str, Any]]
) -> _Choice | None:
    """``--guardrail NAME``: an existing guardrail of the account, or a system one."""
    from fcdesk.core.fix import plan_from_effective
    from fcdesk.core.guardrails import system_guardrail

    body = rail_bodies.get(wanted.strip().lower())
    system = system_guardrail(wanted.strip())
    if body is not None:
        name = str(body.get("name"))
    elif system is not None and not system.unknown:
        name = system.name
    else:
        names = ", ".join(sorted(str(b.get("name")) for b in rail_bodies.values())) or "none"
        raise Exit(
            EXIT_USAGE,
            f"the account {dep.account_name} has no guardrail named '{wanted}' (its guardrails: {names}; "
            "system: Microsoft.DefaultV2, Microsoft.Default).",
        )
    if (dep.rai_policy_name or "").lower() == name.lower():
        out(f"The deployment {dep.name} already uses the guardrail '{name}': nothing to do.")
        return None
    after = inventory.effective(dataclasses.replace(dep, rai_policy_name=name))
    return _Choice(name, False, False, plan_from_effective(after), after, [])


def _meet(
    args: argparse.Namespace,
    policy: GuardrailPolicy,
    dep: Deployment,
    inventory: Inventory,
    rail_bodies: dict[str, dict[str, Any]],
) -> _Choice | None:
    """``--meet POLICY``: raise exactly the failing controls; decide which guardrail to write."""
    from fcdesk.core.fix import (
        effective_after,
        meet_requirements,
        plan_from_effective,
        sharing_deployments,
        suggest_guardrail_name,
        valid_guardrail_name,
    )
    from fcdesk.core.guardrails import GuardrailOrigin

    if not _covers(policy, dep):
        note(
            f"'{policy.label}' does not govern {dep.name} (its scope or exceptions leave it out); "
            "meeting it anyway."
        )
    eff = inventory.effective(dep)
    plan, changed = meet_requirements(plan_from_effective(eff), [policy])
    if not changed:
        out(f"The deployment {dep.name} already meets '{policy.label}': nothing to do.")
        return None
    out(f"To meet '{policy.label}': {', '.join(changed)}.")
    custom = eff.origin is GuardrailOrigin.CUSTOM and eff.guardrail is not None
    current = eff.guardrail.name if custom and eff.guardrail is not None else ""
    if args.name:
        problem = valid_guardrail_name(args.name)
        if problem:
            raise Exit(EXIT_USAGE, f"--name: {problem}")
        if custom and args.name.lower() == current.lower():
            name, create = current, False
        elif args.name.lower() in rail_bodies:
            raise Exit(
                EXIT_USAGE,
                f"the account already has a guardrail named '{args.name}': choose another --name, "
                "or point the deployment at it with --guardrail.",
            )
        else:
            name, create = args.name, True
    elif custom:
        name, create = current, False
    else:
        name, create = suggest_guardrail_name(dep, [str(b.get("name")) for b in rail_bodies.values()]), True
    others = (
        []
        if create
        else [d for d in sharing_deployments(inventory, dep.account_id, name) if d.key != dep.key]
    )
    if others:
        listing = ", ".join(d.name for d in others)
        if not args.update_shared:
            raise Exit(
                EXIT_USAGE,
                f"the guardrail '{name}' is also used by {len(others)} other deployment"
                f"{'s' if len(others) != 1 else ''}: {listing}. Pass --update-shared to change it for all "
                f"of them, or --name NEW to give {dep.name} a guardrail of its own. Nothing was written.",
            )
        note(f"the guardrail '{name}' is shared: this also changes {listing}.")
    return _Choice(name, create, True, plan, effective_after(plan, name, dep.account_id), [policy.id])


def _covers(policy: GuardrailPolicy, dep: Deployment) -> bool:
    from fcdesk.core.drafts import in_scope, is_excepted

    return in_scope(dep, policy.scope) and not is_excepted(dep, policy.not_scopes)


async def _policy_to_meet(ctx: Context, wanted: str, dep_id: str) -> GuardrailPolicy:
    """``--meet``: an assignment id, or the name of a guardrail policy in the deployment's subscription."""
    from fcdesk.core import normalize as nz
    from fcdesk.core.model import id_segment
    from fcdesk.core.policy import INITIATIVE_ID

    if wanted.startswith("/"):
        body = await ctx.arm.get(wanted)
        if body is None:
            raise Exit(EXIT_FAIL, f"there is no policy assignment {wanted}.")
        if not nz.is_guardrail_assignment(body):
            raise Exit(EXIT_USAGE, f"{wanted} is not a guardrail policy.")
        return nz.guardrail_policy(body)
    sub = id_segment(dep_id, "subscriptions")
    params = {"$filter": f"policyDefinitionId eq '{INITIATIVE_ID}'"}
    listed = await _assignments(ctx.arm, f"/subscriptions/{sub}{_ASSIGNMENTS}", params)
    found = [p for p in listed if p.name.lower() == wanted.lower()] or [
        p for p in listed if p.display_name.lower() == wanted.lower()
    ]
    if not found:
        raise Exit(EXIT_USAGE, f"there is no guardrail policy named '{wanted}' in subscription {sub}.")
    if len(found) > 1:
        ids = ", ".join(p.id for p in found)
        raise Exit(
            EXIT_USAGE, f"several guardrail policies are named '{wanted}': give the id of one of {ids}."
        )
    return found[0]
