"""``fcdesk security``: threat protection for AI and Microsoft Purview, from the command line.

::

    fcdesk security enable-ai-protection --subscription ID [--account ACCOUNT_ID ...] [--dry-run] [--yes]
    fcdesk security purview on|off --subscription ID [--dry-run] [--yes]

``enable-ai-protection`` turns the subscription's Defender for AI plan (the Defender for Cloud ``AI``
pricing) to the Standard tier and, for each ``--account``, the account's Defender for AI setting to
Enabled. ``purview on|off`` switches the plan's ``AIPromptSharingWithPurview`` extension, the
documented route to Microsoft Purview for AI interactions (turning it on also turns the billed plan
on; turning it off leaves the tier as it is).

Each takes the sign-in options of ``fcdesk capture``. What changes is printed first (the tier, Purview
off → on, each account's setting) with the billing note, then the requests; the confirmation,
``--dry-run``, the rights check (refused before anything is sent: exit 4), the conflict check and the
audit log follow the rules of ``fcdesk policy`` (:mod:`fcdesk.cli_common`, :mod:`fcdesk.actions`).
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from fcdesk.cli_auth import add_auth_options, sign_in_options
from fcdesk.cli_common import EXIT_FAIL, EXIT_OK, Context, Exit, add_write_options, note, out, write
from fcdesk.cli_common import run as run_command

if TYPE_CHECKING:
    from fcdesk.actions import ArmCall, Rights, WriteResult
    from fcdesk.core.model import DefenderPlan


# ----------------------------------------------------------------------------------- arguments


def add_parser(sub: Any) -> None:
    """Add ``security`` to ``fcdesk``'s subparsers."""
    sec = sub.add_parser(
        "security",
        help="turn on threat protection for AI (Defender for Cloud), turn Microsoft Purview on or off",
        description="Threat protection for AI (the Defender for AI plan and per-account settings) and "
        "Microsoft Purview for AI interactions. Exit codes: 0 ok, 1 Azure error, 2 usage/not "
        "confirmed, 3 conflict, 4 missing rights.",
    )
    verbs = sec.add_subparsers(dest="security_command", metavar="ACTION")
    enable = verbs.add_parser(
        "enable-ai-protection",
        help="the Defender for AI plan to Standard (billed), and per-account settings to Enabled",
    )
    enable.add_argument("--subscription", required=True, metavar="ID", help="the subscription's id")
    enable.add_argument(
        "--account",
        action="extend",
        nargs="+",
        metavar="ACCOUNT_ID",
        default=None,
        help="also turn on the Defender for AI setting of these accounts (ARM ids, in the subscription)",
    )
    add_write_options(enable)
    add_auth_options(enable)
    purview = verbs.add_parser(
        "purview", help="turn Microsoft Purview for AI interactions on or off for a subscription"
    )
    purview.add_argument(
        "state", choices=("on", "off"), help="on also turns the billed Defender for AI plan on"
    )
    purview.add_argument("--subscription", required=True, metavar="ID", help="the subscription's id")
    add_write_options(purview)
    add_auth_options(purview)
    sec.set_defaults(command_parser=sec)


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Validate ``args`` (bad ones: exit 2 through ``parser.error``) and run the command."""
    parser = getattr(args, "command_parser", None) or parser
    if args.security_command is None:
        parser.error("choose an action: enable-ai-protection or purview")
    args.subscription = _subscription_id(args.subscription, parser)
    if args.security_command == "enable-ai-protection":
        args.account = _account_ids(args.account or [], args.subscription, parser)
    sign_in = sign_in_options(args, parser)
    handler = _enable if args.security_command == "enable-ai-protection" else _purview
    return run_command(args, sign_in, handler)


def _subscription_id(text: str, parser: argparse.ArgumentParser) -> str:
    """A subscription id, given bare or as ``/subscriptions/<id>``."""
    parts = text.strip().strip("/").split("/")
    if len(parts) == 2 and parts[0].lower() == "subscriptions":
        parts = parts[1:]
    if len(parts) != 1 or not parts[0]:
        parser.error("--subscription must be a subscription id (or /subscriptions/<id>)")
    return parts[0]


def _account_ids(texts: list[str], subscription_id: str, parser: argparse.ArgumentParser) -> list[str]:
    """The ``--account`` ids, checked (a Cognitive Services account in the subscription), without repeats."""
    out_ids: dict[str, str] = {}
    for text in texts:
        acct = "/" + text.strip().strip("/")
        parts = acct.lower().split("/")[1:]
        if not (
            len(parts) == 8
            and parts[0] == "subscriptions"
            and parts[2] == "resourcegroups"
            and parts[4:7] == ["providers", "microsoft.cognitiveservices", "accounts"]
        ):
            parser.error(
                "--account must be /subscriptions/<s>/resourceGroups/<rg>/providers/"
                "Microsoft.CognitiveServices/accounts/<name>"
            )
        if parts[1] != subscription_id.lower():
            parser.error(f"the account {acct} is not in subscription {subscription_id}")
        out_ids.setdefault(acct.lower(), acct)
    return list(out_ids.values())


# ----------------------------------------------------------------------------------- commands


async def _enable(args: argparse.Namespace, ctx: Context) -> int:
    """``enable-ai-protection``: the plan to Standard, then each account's setting to Enabled."""
    from fcdesk.actions import BILLING_NOTE, Rights

    sub = args.subscription
    plan_body = await ctx.actions.read_ai_plan(sub)
    accounts = await asyncio.gather(*(ctx.arm.get(a) for a in args.account))
    missing = [a for a, body in zip(args.account, accounts, strict=True) if body is None]
    if missing:
        raise Exit(EXIT_FAIL, f"the account {missing[0]} does not exist.")
    settings = await asyncio.gather(*(ctx.actions.read_defender_setting(a) for a in args.account))
    plan = _plan(sub, plan_body)
    out(f"Threat protection for AI, subscription {sub}:")
    calls: list[ArmCall] = []
    steps: list[Callable[[], Awaitable[WriteResult]]] = []
    checks: list[Awaitable[Rights]] = []
    if plan.enabled:
        out(f"  Defender for AI plan: already {plan.tier}, no change")
    else:
        out(f"  Defender for AI plan: tier {plan.tier} → Standard")
        calls += ctx.actions.ai_plan_calls(sub, plan_body)
        steps.append(lambda: ctx.actions.set_ai_plan(sub, plan_body))
        checks.append(ctx.actions.rights_for_defender(sub))
    for acct, setting in zip(args.account, settings, strict=True):
        name = acct.rsplit("/", 1)[-1]
        state = _setting_state(setting)
        if state.lower() == "enabled":
            out(f"  Account {name}: Defender for AI setting already Enabled, no change")
            continue
        out(f"  Account {name}: Defender for AI setting {state} → Enabled")
        calls += ctx.actions.defender_setting_calls(acct, setting, enabled=True)
        steps.append(
            lambda acct=acct, setting=setting: ctx.actions.set_defender_setting(acct, setting, enabled=True)
        )
        checks.append(ctx.actions.rights_for_defender_account(acct))
    if not calls:
        out("Nothing to do: threat protection for AI is already on.")
        return EXIT_OK
    out(BILLING_NOTE)
    refusals = [r.reason for r in await asyncio.gather(*checks) if not r.allowed]
    rights = Rights(False, " ".join(refusals)) if refusals else Rights(True)
    return await write(ctx, args, calls, rights, lambda: _in_order(steps, calls))


async def _purview(args: argparse.Namespace, ctx: Context) -> int:
    """``purview on|off``: the plan's AIPromptSharingWithPurview extension (on: the plan too)."""
    from fcdesk.actions import BILLING_NOTE, PURVIEW_NOTE_WRITE

    sub, on = args.subscription, args.state == "on"
    plan_body = await ctx.actions.read_ai_plan(sub)
    plan = _plan(sub, plan_body)
    out(f"Microsoft Purview for AI interactions, subscription {sub}:")
    if plan.purview == on:
        out(f"  Microsoft Purview is already {args.state}: nothing to do.")
        return EXIT_OK
    out(f"  Microsoft Purview: {'on' if plan.purview else 'off'} → {args.state}")
    if on and not plan.enabled:
        out(f"  Defender for AI plan: tier {plan.tier} → Standard (Purview turns the billed plan on)")
    elif not on:
        out(f"  Defender for AI plan: stays {plan.tier}")
    out(PURVIEW_NOTE_WRITE)
    if on:
        out(BILLING_NOTE)
    rights = await ctx.actions.rights_for_purview(sub)
    calls = ctx.actions.ai_plan_calls(sub, plan_body, enable=on, purview=on)
    return await write(
        ctx, args, calls, rights, lambda: ctx.actions.set_ai_plan(sub, plan_body, enable=on, purview=on)
    )


async def _in_order(steps: list[Callable[[], Awaitable[WriteResult]]], calls: list[ArmCall]) -> WriteResult:
    """Run the writes one after the other; one result for all of them (each step's message on a line).

    A step that fails reports the steps done before it (in ``WriteFailed.done``, or on stderr).
    """
    from fcdesk.actions import WriteFailed, WriteResult
    from fcdesk.azure.errors import LiveError

    results: list[WriteResult] = []
    for step in steps:
        try:
            results.append(await step())
        except WriteFailed as exc:
            exc.done[:0] = [r.message for r in results]
            raise
        except LiveError:
            for done in results:
                note(f"done before the failure: {done.message}")
            raise
    return WriteResult(
        records=[rec for r in results for rec in r.records],
        calls=calls,
        message="\n".join(r.message for r in results),
    )


def _plan(subscription_id: str, body: dict[str, Any] | None) -> DefenderPlan:
    """The AI plan as read (None: not there, the Free tier)."""
    from fcdesk.core import normalize as nz
    from fcdesk.core.model import DefenderPlan

    if body is None:
        return DefenderPlan(subscription_id=subscription_id, tier="Free")
    try:
        return nz.pricing(body)
    except nz.MalformedPayload as exc:
        raise Exit(EXIT_FAIL, f"the Defender for AI plan could not be read: {exc}.") from None


def _setting_state(body: dict[str, Any] | None) -> str:
    props = body.get("properties") if isinstance(body, dict) else None
    state = props.get("state") if isinstance(props, dict) else None
    return str(state) if state else "not set"
