"""The sign-in options every Azure-facing subcommand shares (``capture``, ``policy``, ``guardrail``).

``--cloud``/``--arm-endpoint``/``--ca-file`` choose the cloud, ``--auth``/``--tenant``/``--client-id``/
``--certificate`` the identity; a service principal's secret comes from ``AZURE_CLIENT_SECRET`` or
the keyring, never from the command line.
"""

from __future__ import annotations

import argparse
import logging
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fcdesk.azure.contract import SignInOptions

SECRET_ENV = "AZURE_CLIENT_SECRET"


def add_auth_options(p: argparse.ArgumentParser) -> None:
    """Add the sign-in options (a "sign-in" argument group)."""
    from fcdesk.azure.clouds import CLOUDS
    from fcdesk.azure.contract import AuthMethod

    auth = p.add_argument_group("sign-in")
    auth.add_argument("--cloud", choices=tuple(CLOUDS), default=None, help="Azure cloud (default: public)")
    auth.add_argument(
        "--arm-endpoint", metavar="URL", help="a custom ARM endpoint (Azure Stack, a private or test cloud)"
    )
    auth.add_argument(
        "--ca-file", metavar="PATH", help="with --arm-endpoint: CA bundle that signs its certificate"
    )
    auth.add_argument(
        "--auth",
        choices=[m.value for m in AuthMethod],
        default=AuthMethod.CLI.value,
        help="how to sign in (default: cli, the Azure CLI's login); token reads FCDESK_ACCESS_TOKEN",
    )
    auth.add_argument(
        "--tenant", metavar="T", help="tenant id or domain (default: the identity's home tenant)"
    )
    auth.add_argument(
        "--client-id", metavar="ID", help="service principal / user-assigned managed identity client id"
    )
    auth.add_argument("--certificate", metavar="PATH", help="service principal certificate (PEM or PKCS12)")


def sign_in_options(args: argparse.Namespace, parser: argparse.ArgumentParser) -> SignInOptions:
    """The sign-in the options describe, validated (errors exit 2 through ``parser.error``)."""
    from fcdesk.azure.clouds import PUBLIC, cloud_named, custom_cloud
    from fcdesk.azure.contract import AuthMethod, SignInOptions

    if args.ca_file and not args.arm_endpoint:
        parser.error("--ca-file needs --arm-endpoint")
    if args.arm_endpoint and args.cloud:
        parser.error("give either --cloud or --arm-endpoint, not both")
    if args.certificate and args.auth != AuthMethod.SP.value:
        parser.error("--certificate needs --auth sp")
    if args.auth == AuthMethod.SP.value and not (args.tenant and args.client_id):
        parser.error("--auth sp needs --tenant and --client-id")
    if args.arm_endpoint:
        if not args.arm_endpoint.lower().startswith("https://"):
            parser.error("--arm-endpoint must be an https:// URL")
        if args.ca_file and not os.path.isfile(args.ca_file):
            parser.error(f'--ca-file "{args.ca_file}" does not exist')
        cloud = custom_cloud(args.arm_endpoint, ca_file=args.ca_file)
    else:
        cloud = cloud_named(args.cloud) if args.cloud else PUBLIC
    return SignInOptions(
        method=AuthMethod(args.auth),
        cloud=cloud,
        tenant_id=args.tenant or None,
        client_id=args.client_id or None,
        certificate_path=args.certificate or None,
    )


def quiet_sdk_logs() -> None:
    """Without a handler, Python prints the SDK's warnings on stderr: ours are the only lines there."""
    for name in ("azure", "msal", "aiohttp"):
        logging.getLogger(name).addHandler(logging.NullHandler())
