"""``fcdesk capture``: a headless live capture into a snapshot file, for scheduled jobs and CI.

Progress goes to stderr (a line per stage change, at most one more every 2 s); standard output
gets exactly one JSON object::

    {"counts": {...the keys of `fcdesk report`'s counts...}, "errors": [{"scope", "message"}],
     "partial": false, "requests": 123, "seconds": 4.2, "out": "/path/to/file.fcsnap"}

Exit codes: 0 something was captured (a partial capture included) and written; 1 nothing could be
(sign-in failed, every subscription forbidden, cancelled, the file could not be written): the JSON
still lists the errors and ``out`` is null; 2 bad arguments.

Nothing printed or logged here contains a token or a secret.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from fcdesk.cli_auth import SECRET_ENV, add_auth_options, quiet_sdk_logs, sign_in_options

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
PROGRESS_EVERY_S = 2.0


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``capture`` subcommand to ``fcdesk``'s subparsers."""
    p = sub.add_parser(
        "capture",
        help="capture live Azure into a snapshot file (progress on stderr, a JSON summary on stdout)",
        description="Sign in, read every subscription (or those given) and write one .fcsnap snapshot.",
    )
    p.add_argument(
        "--out", type=Path, required=True, metavar="PATH", help="the snapshot file to write (atomically)"
    )
    add_auth_options(p)
    p.add_argument(
        "--subscription",
        action="extend",
        nargs="+",
        metavar="ID",
        default=None,
        help="only these subscriptions (repeatable; default: every subscription visible)",
    )
    p.add_argument(
        "--concurrency", type=int, default=None, metavar="N", help="requests in flight (default: 32)"
    )
    p.add_argument("--label", default="", metavar="TEXT", help="a label stored in the snapshot")
    p.set_defaults(capture_parser=p)
    return p


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Validate ``args`` (bad ones: exit 2 through ``parser.error``) and run the capture."""
    from fcdesk.azure.contract import CaptureOptions

    parser = getattr(args, "capture_parser", None) or parser
    if args.concurrency is not None and args.concurrency < 1:
        parser.error("--concurrency must be 1 or more")
    sign_in = sign_in_options(args, parser)
    cloud = sign_in.cloud
    capture = CaptureOptions(
        cloud=cloud, subscriptions=args.subscription or None, tenant_id=args.tenant or None, label=args.label
    )
    if args.concurrency is not None:
        capture.concurrency = args.concurrency
    quiet_sdk_logs()
    secret = os.environ.get(SECRET_ENV) or None
    return asyncio.run(_capture(sign_in, capture, args.out, secret))


class _Printer:
    """Progress lines on stderr: one per stage change, else at most one every 2 s."""

    def __init__(self) -> None:
        self.stage = ""
        self.at = 0.0

    def __call__(self, progress: Any) -> None:
        now = time.monotonic()
        if progress.stage == self.stage and now - self.at < PROGRESS_EVERY_S:
            return
        self.stage, self.at = progress.stage, now
        errors = f", {progress.errors} error{'s' if progress.errors != 1 else ''}" if progress.errors else ""
        print(
            f"fcdesk: {progress.stage}: {progress.done}/{progress.total} lists, "
            f"{progress.requests} requests{errors}",
            file=sys.stderr,
            flush=True,
        )


async def _capture(sign_in: Any, options: Any, out: Path, secret: str | None) -> int:
    from fcdesk.azure.capture import readable_subscriptions
    from fcdesk.azure.contract import DeviceCode
    from fcdesk.azure.errors import LiveError
    from fcdesk.azure.session import AzureSession

    t0 = time.perf_counter()
    summary: dict[str, Any] = {
        "counts": _counts(None),
        "errors": [],
        "partial": True,
        "requests": 0,
        "seconds": 0.0,
        "out": None,
    }

    def show_code(code: DeviceCode) -> None:
        print(f"fcdesk: {code.message}", file=sys.stderr, flush=True)

    cancel = asyncio.Event()
    _on_interrupt(cancel)
    session = AzureSession(secret=secret)
    try:
        identity = await session.sign_in(sign_in, on_device_code=show_code)
        print(
            f"fcdesk: signed in as {identity.principal} (tenant {identity.tenant_id or 'unknown'}; "
            f"tokens {identity.token_cache})",
            file=sys.stderr,
            flush=True,
        )
        result = await session.capture(options, on_progress=_Printer(), cancel=cancel)
    except LiveError as exc:
        summary["errors"].append({"scope": "", "message": f"Sign-in failed: {exc.user_message}"})
        return _finish(summary, EXIT_FAIL, t0)
    finally:
        await session.close()
    summary["errors"] = [{"scope": e.scope, "message": e.message} for e in result.errors]
    summary["partial"] = result.meta.partial
    summary["requests"] = result.requests
    summary["counts"] = _counts(result)
    if result.cancelled or not readable_subscriptions(result):
        if not result.cancelled and not result.errors:
            summary["errors"].append({"scope": "", "message": "No subscription is visible to this identity."})
        return _finish(summary, EXIT_FAIL, t0)
    from fcdesk.store.snapshot import SnapshotError, write_snapshot

    try:
        await asyncio.to_thread(write_snapshot, out, result.meta, result.records)
    except (SnapshotError, OSError, ValueError, TypeError) as exc:
        message = getattr(exc, "user_message", None) or f'Could not write "{out}": {exc}'
        summary["errors"].append({"scope": "", "message": message})
        return _finish(summary, EXIT_FAIL, t0)
    summary["out"] = str(out)
    return _finish(summary, EXIT_OK, t0)


def _on_interrupt(cancel: asyncio.Event) -> None:
    """Ctrl-C cancels the capture cleanly (where the loop supports signal handlers)."""
    try:
        asyncio.get_running_loop().add_signal_handler(signal.SIGINT, cancel.set)
    except (NotImplementedError, RuntimeError, ValueError):  # Windows, or not the main thread
        pass


def _counts(result: Any) -> dict[str, int]:
    """``fcdesk report``'s counts of a capture (all zero for none)."""
    from fcdesk.core.report import COUNT_KEYS, counts

    if result is None:
        return dict.fromkeys(COUNT_KEYS, 0)
    from fcdesk.core.inventory import Inventory

    return counts(Inventory.build(result.meta, result.records))


def _finish(summary: dict[str, Any], code: int, t0: float) -> int:
    summary["seconds"] = round(time.perf_counter() - t0, 3)
    sys.stdout.write(json.dumps(summary, ensure_ascii=False) + "\n")
    sys.stdout.flush()
    return code
