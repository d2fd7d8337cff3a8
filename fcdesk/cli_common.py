"""What the commands that write to Azure share (``fcdesk policy``, ``guardrail``, ``security``).

- **Running.** :func:`run` signs in (the options of :mod:`fcdesk.cli_auth`), opens an
  :class:`~fcdesk.actions.Actions` and an ARM reader, runs the command's handler on an event loop and
  turns what it raises into an exit code and one plain line on stderr (never a traceback).
- **Writing.** :func:`write` shows the requests, refuses without the rights (audited, exit 4),
  stops after a dry run, asks for confirmation (:func:`confirm`), then writes.

Exit codes: 0 done (or nothing to do); 1 an Azure error or a failed write; 2 bad arguments, an
invalid input, or not confirmed; 3 a conflict (the target changed since it was read); 4 the
signed-in identity lacks the rights (nothing was sent).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fcdesk.cli_auth import SECRET_ENV, quiet_sdk_logs

if TYPE_CHECKING:
    from fcdesk.actions import Actions, ArmCall, Rights
    from fcdesk.azure.contract import Identity, SignInOptions
    from fcdesk.azure.session import AzureSession
    from fcdesk.azure.writes import ArmWriter
    from fcdesk.core.records import RawRecord

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_CONFLICT, EXIT_RIGHTS = 0, 1, 2, 3, 4


class Exit(Exception):
    """Stop with this exit code, after one plain line on stderr (none when empty)."""

    def __init__(self, code: int, message: str = "") -> None:
        super().__init__(message)
        self.code = code


@dataclass(slots=True)
class Context:
    """What a command's handler works with."""

    session: AzureSession
    identity: Identity
    arm: ArmWriter  #: for the reads around a write
    actions: Actions


Handler = Callable[[argparse.Namespace, Context], Awaitable[int]]


def add_write_options(p: argparse.ArgumentParser) -> None:
    """``--dry-run`` and ``--yes``."""
    p.add_argument(
        "--dry-run", action="store_true", help="print the requests (with bodies) and send nothing but reads"
    )
    p.add_argument(
        "--yes", action="store_true", help="confirm without a prompt (needed when stdin is not a terminal)"
    )


def note(message: str) -> None:
    """One line of progress or error on stderr: ``fcdesk: …``."""
    print(f"fcdesk: {message}", file=sys.stderr, flush=True)


def out(text: str = "") -> None:
    """A result on stdout."""
    print(text, flush=True)


# ----------------------------------------------------------------------------------- running


def run(
    args: argparse.Namespace,
    sign_in: SignInOptions,
    handler: Handler,
    *,
    usage_errors: tuple[type[Exception], ...] = (),
) -> int:
    """Sign in, run ``handler`` and return its exit code (see the module doc).

    ``usage_errors``: exceptions of the command's own that mean invalid input (exit 2, their text on
    stderr).
    """
    quiet_sdk_logs()
    try:
        return asyncio.run(_main(args, sign_in, handler, usage_errors))
    except KeyboardInterrupt:
        note("interrupted: a write in progress may or may not have been made (see the audit log).")
        return EXIT_FAIL


async def _main(
    args: argparse.Namespace,
    sign_in: SignInOptions,
    handler: Handler,
    usage_errors: tuple[type[Exception], ...],
) -> int:
    from fcdesk.actions import Actions, ConflictError, RefusedError, WriteFailed
    from fcdesk.azure.contract import DeviceCode
    from fcdesk.azure.errors import LiveError, SignInError
    from fcdesk.azure.session import AzureSession
    from fcdesk.store.audit import AuditLog

    def show_code(code: DeviceCode) -> None:
        note(code.message)

    session = AzureSession(secret=os.environ.get(SECRET_ENV) or None)
    actions: Actions | None = None
    try:
        identity = await session.sign_in(sign_in, on_device_code=show_code)
        note(f"signed in as {identity.principal} (tenant {identity.tenant_id or 'unknown'})")
        actions = Actions(session, AuditLog(), principal=identity.principal, cloud=identity.cloud)
        async with session.arm() as arm:
            return await handler(args, Context(session, identity, arm, actions))
    except Exit as stop:
        if str(stop):
            note(str(stop))
        return stop.code
    except usage_errors as exc:
        note(str(exc))
        return EXIT_USAGE
    except RefusedError as exc:
        note(f"refused: {exc.user_message} Nothing was sent.")
        return EXIT_RIGHTS
    except ConflictError as exc:
        note(exc.user_message)
        return EXIT_CONFLICT
    except WriteFailed as exc:
        note(exc.user_message)
        for line in exc.done:
            note(f"done before the failure: {line}")
        for record in exc.reread:
            note(f"now in Azure: {state_line(record)}")
        for gone in exc.removed:
            note(f"now in Azure: {gone.rsplit('/', 1)[-1]} does not exist")
        return EXIT_FAIL
    except SignInError as exc:
        note(f"sign-in failed: {exc.user_message}")
        return EXIT_FAIL
    except LiveError as exc:
        note(exc.user_message)
        return EXIT_FAIL
    finally:
        if actions is not None:
            await actions.close()
        await session.close()


# ----------------------------------------------------------------------------------- writing


def confirm(args: argparse.Namespace) -> None:
    """``--yes``, or "y" at the prompt on a terminal; otherwise stop (exit 2) with nothing written."""
    if args.yes:
        return
    if not sys.stdin.isatty():
        raise Exit(
            EXIT_USAGE,
            "not confirmed: standard input is not a terminal, pass --yes to write. Nothing was written.",
        )
    print("Proceed? [y/N] ", end="", file=sys.stderr, flush=True)
    if sys.stdin.readline().strip().lower() not in ("y", "yes"):
        raise Exit(EXIT_USAGE, "not confirmed. Nothing was written.")


def show_calls(calls: list[ArmCall], ctx: Context, dry_run: bool) -> None:
    """The requests: with their bodies for a dry run, one line each otherwise."""
    endpoint = ctx.identity.cloud.arm_endpoint
    out("Requests:" if not dry_run else "Requests (dry run, nothing is sent):")
    for call in calls:
        out(f"  # {call.what}")
        text = call.text(endpoint) if dry_run else f"{call.method} {call.url(endpoint)}"
        out("\n".join("  " + line for line in text.splitlines()))


async def write(
    ctx: Context,
    args: argparse.Namespace,
    calls: list[ArmCall],
    rights: Rights,
    do: Callable[[], Awaitable[Any]],
) -> int:
    """Show ``calls``; then stop for a dry run, refuse without rights, or confirm and ``do`` the write
    (whose result's ``message`` is printed).

    A refusal is audited (a dry run attempts nothing, so it is not); ``do`` is only ever called
    after the confirmation.
    """
    from fcdesk.actions import RefusedError

    show_calls(calls, ctx, args.dry_run)
    if not rights.allowed:
        if not args.dry_run:
            await ctx.actions.audit_refusal(calls, rights.reason)
        raise RefusedError(rights.reason)
    if args.dry_run:
        note("dry run: nothing was sent.")
        return EXIT_OK
    confirm(args)
    result = await do()
    out(result.message)
    return EXIT_OK


def state_line(record: RawRecord) -> str:
    """What a target re-read after a failed write says now, in one line."""
    from fcdesk.actions import PURVIEW_EXTENSION
    from fcdesk.core.model import id_segment
    from fcdesk.core.records import Kind

    body = record.body
    name = str(body.get("name") or record.id.rsplit("/", 1)[-1])
    props = body.get("properties") if isinstance(body.get("properties"), dict) else {}
    if record.kind == Kind.DEPLOYMENT:
        return (
            f"the deployment {name} uses the guardrail '{props.get('raiPolicyName') or 'account default'}'."
        )
    if record.kind == Kind.RAI_POLICY:
        return f"the guardrail {name} exists (etag {body.get('etag') or 'none'})."
    if record.kind == Kind.PRICING:
        extensions = props.get("extensions") if isinstance(props.get("extensions"), list) else []
        purview = any(
            isinstance(e, dict)
            and e.get("name") == PURVIEW_EXTENSION
            and str(e.get("isEnabled")).lower() == "true"
            for e in extensions
        )
        return (
            f"the Defender for AI plan of subscription {id_segment(record.id, 'subscriptions')} is "
            f"{props.get('pricingTier') or 'Free'}, Microsoft Purview {'on' if purview else 'off'}."
        )
    if record.kind == Kind.DEFENDER_AI_SETTING:
        account = id_segment(record.id, "accounts")
        return f"the Defender for AI setting of account {account} is {props.get('state') or 'not set'}."
    return f"the policy assignment {name} exists."
