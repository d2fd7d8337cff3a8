"""Command-line interface.

Exit codes: 0 success; 1 the work failed (unreadable snapshot, self-test failure); 2 bad arguments.
``fcdesk policy``, ``fcdesk guardrail`` and ``fcdesk security`` add 3 (conflict) and 4 (missing
rights): see :mod:`fcdesk.cli_common`. ``fcdesk diff`` exits 3 when something loosened
(:mod:`fcdesk.diff_cli`). Errors are one plain sentence on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from fcdesk import __version__

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
#: ``fcdesk.reports.FORMATS``, spelled out: the parser is built at every start, reports are not imported.
REPORT_FORMATS = ("html", "csv", "json", "xlsx")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse exits 2 on bad arguments: keep that, say it plainly
        self.print_usage(sys.stderr)
        print(f"fcdesk: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="fcdesk",
        description="Foundry Compliance Desk: guardrails, guardrail policies and security posture "
        "of Azure AI model deployments. With no command, opens the window.",
    )
    p.add_argument("--version", action="version", version=f"fcdesk {__version__}")
    p.add_argument("--snapshot", type=Path, metavar="PATH", help="open this .fcsnap file (default: newest in the library, else the demo)")
    p.add_argument("--self-test", action="store_true", help="start the real window, open every tab and dock, print a JSON result and exit")
    p.add_argument("--screenshots", type=Path, metavar="DIR", help="with --self-test: save a PNG of each tab into DIR")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    rep = sub.add_parser(
        "report",
        help="counts, policy compliance, the guardrail matrix and the security posture of a snapshot",
        description="A report of a snapshot: JSON or CSV (stable formats), a self-contained HTML page or an "
        "xlsx workbook. Exit codes: 0 ok, 1 unreadable snapshot or file not written, 2 bad arguments.",
    )
    rep.add_argument("path", type=Path, help="a .fcsnap file")
    rep.add_argument("--format", choices=REPORT_FORMATS, default="json")
    rep.add_argument(
        "--out", type=Path, metavar="FILE", help="write to FILE instead of standard output (xlsx: required)"
    )
    rep.add_argument(
        "--against",
        type=Path,
        metavar="OLDER",
        help="an older snapshot of the same tenant: the report adds what changed since (loosenings first)",
    )

    demo = sub.add_parser("demo", help="generate the deterministic demo tenant as a snapshot file")
    demo.add_argument("--out", type=Path, required=True, metavar="PATH")
    demo.add_argument("--scale", type=int, default=1, metavar="N", help="multiply everything by N (250 ≈ 10,000 deployments)")
    demo.add_argument("--seed", type=int, default=0, metavar="S")

    from fcdesk.capture_cli import add_parser as add_capture_parser  # live capture: fcdesk/capture_cli.py

    add_capture_parser(sub)
    from fcdesk.policy_cli import add_parsers as add_policy_parsers  # writes: fcdesk/policy_cli.py

    add_policy_parsers(sub)
    from fcdesk.security_cli import add_parser as add_security_parser  # writes: fcdesk/security_cli.py

    add_security_parser(sub)
    from fcdesk.diff_cli import add_parser as add_diff_parser  # drift between snapshots: fcdesk/diff_cli.py

    add_diff_parser(sub)
    from fcdesk.whatif_cli import (
        add_parser as add_whatif_parser,  # offline re-evaluation: fcdesk/whatif_cli.py
    )

    add_whatif_parser(sub)
    from fcdesk.desktop_install import add_parser as add_desktop_parser  # fcdesk/desktop_install.py

    add_desktop_parser(sub)
    return p


def _open_with(argv: list[str]) -> list[str]:
    """``fcdesk-gui FILE`` means ``--snapshot FILE``: the desktop entry's ``Exec=fcdesk-gui %f`` passes
    the snapshot a file manager opens (and nothing on a plain launch). Only a lone argument that
    looks like a path counts, so a mistyped command still gets argparse's "invalid choice"."""
    if len(argv) == 1 and not argv[0].startswith("-"):
        arg = argv[0]
        if "/" in arg or os.sep in arg or arg.lower().endswith(".fcsnap"):
            return ["--snapshot", arg]
    return argv


def run(argv: list[str] | None = None, *, t0: float | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(_open_with(list(sys.argv[1:] if argv is None else argv)))
    if args.screenshots is not None and not args.self_test:
        parser.error("--screenshots needs --self-test")
    if args.command in ("capture", "policy", "guardrail", "security"):
        _start_log(sys.argv[1:] if argv is None else argv)
    if args.command == "report":
        return _report(args)
    if args.command == "demo":
        return _demo(args)
    if args.command == "capture":
        from fcdesk.capture_cli import run as run_capture

        return run_capture(args, parser)
    if args.command in ("policy", "guardrail"):
        from fcdesk.policy_cli import run as run_policy

        return run_policy(args, parser)
    if args.command == "security":
        from fcdesk.security_cli import run as run_security

        return run_security(args, parser)
    if args.command == "diff":
        from fcdesk.diff_cli import run as run_diff

        return run_diff(args)
    if args.command == "whatif":
        from fcdesk.whatif_cli import run as run_whatif

        return run_whatif(args)
    if args.command == "install-desktop":
        from fcdesk.desktop_install import run as run_install_desktop

        return run_install_desktop(args)
    if args.self_test:
        from fcdesk.selftest import run_self_test

        return run_self_test(args.snapshot, args.screenshots, t0=t0)
    from fcdesk.gui import run_gui

    return run_gui(args.snapshot)


def _start_log(argv: list[str]) -> None:
    """Commands that talk to Azure write the window's log file too (context for the audit log's
    entries); stderr keeps only fcdesk's own lines (its warnings and errors, message only)."""
    import logging

    from fcdesk.logsetup import configure_logging, register_secret

    configure_logging(stderr_warnings=True)
    for name in ("FCDESK_ACCESS_TOKEN", "AZURE_CLIENT_SECRET"):
        register_secret(os.environ.get(name))
    logging.getLogger("fcdesk.cli").info("fcdesk %s %s", __version__, " ".join(argv))


def _fail(message: str) -> int:
    print(f"fcdesk: {message}", file=sys.stderr)
    return EXIT_FAIL


def _report(args: argparse.Namespace) -> int:
    from fcdesk.app import load_inventory
    from fcdesk.reports import export_report, render_report
    from fcdesk.store.snapshot import SnapshotError, sha256_of

    if args.format == "xlsx" and args.out is None:
        print("fcdesk: error: --format xlsx needs --out FILE", file=sys.stderr)
        return EXIT_USAGE
    try:
        inventory = load_inventory(args.path).inventory
        digest = sha256_of(args.path)
        older = load_inventory(args.against).inventory if args.against is not None else None
    except SnapshotError as exc:
        return _fail(exc.user_message)
    if older is not None:
        from fcdesk.diff_cli import notes

        for line in notes(older.meta, inventory.meta, str(args.against), str(args.path)):
            print(f"fcdesk: note: {line}", file=sys.stderr)
    if args.out is None:
        data = render_report(inventory, args.format, snapshot_path=args.path, sha256=digest, against=older)
        sys.stdout.write(data.decode("utf-8"))
        return EXIT_OK
    try:
        export_report(inventory, args.out, args.format, snapshot_path=args.path, sha256=digest, against=older)
    except OSError as exc:
        return _fail(f'could not write "{args.out}": {exc.strerror or exc}')
    return EXIT_OK


def _demo(args: argparse.Namespace) -> int:
    if args.scale < 1:
        print("fcdesk: error: --scale must be 1 or more", file=sys.stderr)
        return EXIT_USAGE
    from fcdesk.core.demo import generate
    from fcdesk.store.snapshot import SnapshotError, write_snapshot

    meta, records = generate(scale=args.scale, seed=args.seed)
    try:
        write_snapshot(args.out, meta, records)
    except (SnapshotError, OSError) as exc:
        return _fail(getattr(exc, "user_message", None) or f'could not write "{args.out}": {exc}')
    print(f"wrote {args.out} ({sum(1 for r in records if r.kind == 'deployment'):,} deployments)", file=sys.stderr)
    return EXIT_OK
