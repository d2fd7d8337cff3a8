"""Run the ARM emulator standalone: ``python -m tests.arm_emulator --scenario demo``.

Prints one JSON line on stdout, ``{"url": ..., "ca_file": ..., "token": ...}`` (a minted token valid
for a day), then how to point fcdesk at it on stderr, and serves until Ctrl+C or SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import shlex
import signal
import sys
import threading
from pathlib import Path

from .faults import Faults, Rule
from .scenario import Scenario
from .server import ArmEmulator


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m tests.arm_emulator",
        description="A local HTTPS Azure Resource Manager serving a demo, synthetic or snapshot tenant.",
        epilog="Rules: PATH[,key=value...] with keys method, times, skip, probability, status, retry_after, "
        "retry_after_ms, hold_s, mode; e.g. --throttle '/deployments,times=2,retry_after=1,method=GET'.",
    )
    p.add_argument(
        "--scenario", default="demo", help="demo | synthetic | examples:DIR | PATH.fcsnap (default demo)"
    )
    p.add_argument("--scale", type=int, default=1, help="demo scale (default 1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--subscriptions", type=int, default=20, help="synthetic: subscriptions (default 20)")
    p.add_argument(
        "--accounts", type=int, default=10, help="synthetic: accounts per subscription (default 10)"
    )
    p.add_argument(
        "--deployments", type=int, default=10, help="synthetic: deployments per account (default 10)"
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0: an ephemeral port (default)")
    p.add_argument("--page-size", type=int, default=100)
    p.add_argument("--latency-ms", type=float, default=0.0)
    p.add_argument("--jitter-ms", type=float, default=0.0)
    p.add_argument("--strict-auth", action="store_true", help="accept only tokens minted by this emulator")
    p.add_argument("--token-lifetime-s", type=float, default=None, help="cap the lifetime of minted tokens")
    p.add_argument("--rate-limit", action="store_true", help="enforce ARM's read bucket (250, refill 25/s)")
    p.add_argument(
        "--forbid", action="append", default=[], metavar="SUB", help="403 for every request under SUB"
    )
    for name in ("throttle", "server-error", "drop", "hang", "malformed"):
        p.add_argument(f"--{name}", action="append", default=[], type=Rule.parse, metavar="RULE")
    return p


def _scenario(args: argparse.Namespace) -> Scenario:
    accept_any = not args.strict_auth
    if args.scenario == "demo":
        return Scenario.demo(args.scale, args.seed, accept_any_token=accept_any)
    if args.scenario == "synthetic":
        return Scenario.synthetic(
            args.subscriptions, args.accounts, args.deployments, seed=args.seed, accept_any_token=accept_any
        )
    if args.scenario.startswith("examples:"):
        return Scenario.from_examples(args.scenario.split(":", 1)[1], accept_any_token=accept_any)
    path = Path(args.scenario)
    if not path.exists():
        raise SystemExit(f"no such scenario or snapshot file: {args.scenario}")
    return Scenario.from_snapshot(path, accept_any_token=accept_any)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    faults = Faults(
        latency_ms=args.latency_ms,
        jitter_ms=args.jitter_ms,
        throttle=args.throttle,
        server_errors=args.server_error,
        drop=args.drop,
        hang=args.hang,
        malformed=args.malformed,
        forbidden_subscriptions=set(args.forbid),
        token_lifetime_s=args.token_lifetime_s,
        rate_limit=(250.0, 25.0) if args.rate_limit else None,
        seed=args.seed,
    )
    scenario = _scenario(args)
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    emulator = ArmEmulator(scenario, faults=faults, page_size=args.page_size, port=args.port, host=args.host)
    with emulator:
        token = emulator.mint_token(expires_in=24 * 3600, principal="standalone")
        print(json.dumps({"url": emulator.url, "ca_file": emulator.ca_file, "token": token}), flush=True)
        q = shlex.quote
        print(
            f"ARM emulator serving {scenario!r} at {emulator.url} (page size {args.page_size}).\n"
            f"CA certificate: {emulator.ca_file}\n\n"
            "Capture it with fcdesk:\n"
            f"  FCDESK_ACCESS_TOKEN={q(token)} \\\n"
            f"    fcdesk capture --arm-endpoint {q(emulator.url)} --ca-file {q(emulator.ca_file)} "
            "--auth token --out emulated.fcsnap\n\n"
            "Or by hand:\n"
            f'  curl --cacert {q(emulator.ca_file)} -H "Authorization: Bearer $TOKEN" '
            f"'{emulator.url}subscriptions?api-version=2022-12-01'\n\n"
            "Python clients: cloud = fcdesk.azure.clouds.custom_cloud(url, ca_file=ca_file); "
            "SDK clients take "
            "base_url=url, credential_scopes=[url + '.default'], connection_verify=ca_file.\n"
            "Stop with Ctrl+C (or SIGTERM).",
            file=sys.stderr,
            flush=True,
        )
        while not stop.wait(0.5):
            pass
        print(
            f"stopping after {len(emulator.requests)} requests; faults applied: "
            f"{ {k: v for k, v in faults.counts.items() if v} }",
            file=sys.stderr,
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
