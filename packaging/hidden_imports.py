"""Modules the frozen app needs that PyInstaller's import analysis cannot see, or may stop seeing.

PyInstaller follows ``import`` statements, including those inside functions, so most of fcdesk's
lazy imports are found without help. What it cannot follow is a module name held in a string
(``importlib.import_module(name)``), an entry point read from package metadata at run time, and an
optional C extension whose absence a package quietly survives (the frozen app would then run, only
slower). Each such module is listed here, with the reason, and ``fcdesk.spec`` passes them all as
``hiddenimports``. ``bundle_check.py`` imports every one of them inside the frozen app, so a name
that is wrong or missing from the bundle fails ``tests/test_packaging.py`` rather than a user.

The lists:

- :data:`EXPLICIT` (and :data:`LINUX_ONLY`): found by reading the code of fcdesk and of its
  dependencies, the reason beside each name;
- :func:`from_fcdesk_tables`: computed from fcdesk's own tables (``fcdesk.azure._http.CLIENTS``,
  ``fcdesk.app._LIVE_MODULES``), so a client added there is bundled without touching this file;
- :data:`COLLECT_SUBMODULES`: packages bundled whole (their submodules are listed when the spec
  runs), and :data:`METADATA`: distributions whose ``dist-info`` the app reads.

Not listed because PyInstaller sees them: the versioned packages of azure-mgmt-security
(``v2021_06_01``...) are imported by name inside ``SecurityCenter``'s operation-group properties,
so all of them are bundled although fcdesk only uses the client's pipeline; the sync credentials
(browser, device code) are plain imports of ``azure.identity``.

This file is imported by the spec at build time and by ``bundle_check.py`` inside the frozen app:
it must not need PyInstaller.
"""

from __future__ import annotations

import sys

#: aiohttp's C speedups and those of its dependencies: each is imported in a try/except ImportError
#: with a pure-Python fallback, so a missing .so would not fail, it would make every request slower.
C_SPEEDUPS: dict[str, str] = {
    "aiohttp._http_parser": "aiohttp's HTTP response parser",
    "aiohttp._http_writer": "aiohttp's header serialiser",
    "aiohttp._websocket.mask": "websocket masking, imported by aiohttp.client at start",
    "aiohttp._websocket.reader_c": "websocket reader, imported by aiohttp.client at start",
    "multidict._multidict": "every header map of aiohttp and azure-core",
    "yarl._quoting_c": "URL quoting of every request",
    "propcache._helpers_c": "cached properties of yarl and aiohttp",
    "frozenlist._frozenlist": "aiohttp's signal lists",
}

#: module -> why it has to be named. Sorted by the package that needs it.
EXPLICIT: dict[str, str] = {
    # azure-core ------------------------------------------------------------------------------
    "azure.core.pipeline.transport._aiohttp": (
        "AioHttpTransport is served by azure.core.pipeline.transport's module __getattr__ (PEP 562); "
        "PyInstaller sees that import today, but only as a detail of azure-core's code"
    ),
    # azure-mgmt ------------------------------------------------------------------------------
    "azure.mgmt.policyinsights.operations._policy_states_operations": (
        "api_versions() reads the policy-states api-version from its request builders, in a try/except "
        "ImportError: were it missing, fcdesk would silently fall back to a hard-coded version"
    ),
    **{module: f"C speedup: {why}" for module, why in C_SPEEDUPS.items()},
    # azure-identity --------------------------------------------------------------------------
    "azure.identity.aio": (
        "the async credentials (Azure CLI, managed identity, client secret, certificate) that "
        "fcdesk.azure.auth imports inside functions"
    ),
    "azure.identity.aio._credentials.azure_cli": "AzureCliCredential (--auth cli, the default sign-in)",
    "azure.identity.aio._credentials.managed_identity": "ManagedIdentityCredential (--auth msi)",
    "azure.identity.aio._credentials.client_secret": "ClientSecretCredential (--auth sp with a secret)",
    "azure.identity.aio._credentials.certificate": "CertificateCredential (--auth sp --certificate)",
    # keyring ---------------------------------------------------------------------------------
    # Backends are found through the "keyring.backends" entry points in keyring's metadata; the spec
    # also collects every keyring.backends submodule and copies that metadata (COLLECT_SUBMODULES,
    # METADATA). SecretService needs secretstorage, which needs jeepney (D-Bus in pure Python):
    # both are imported in a try/except, and without them the backend is silently "not viable".
    "keyring.backends.SecretService": "the Linux Secret Service backend (GNOME Keyring, KWallet 5.97+)",
    "keyring.backends.chainer": "keyring's default chain of every viable backend",
    "keyring.backends.fail": "what keyring answers with when no backend is viable",
}

#: Like EXPLICIT, on Linux only (keyring depends on them there only).
LINUX_ONLY: dict[str, str] = {
    "secretstorage": "needed by keyring.backends.SecretService (imported in a try/except)",
    "jeepney.io.blocking": "the D-Bus connection secretstorage opens (jeepney is pure Python)",
}

#: Packages whose every submodule is bundled (the spec runs collect_submodules on each).
COLLECT_SUBMODULES: dict[str, str] = {
    "keyring.backends": (
        "keyring loads its backends by entry point (metadata, not imports): bundle them all. "
        "PyInstaller's own hook-keyring.py does the same; named here so the bundle does not rest on it"
    ),
    "fcdesk": (
        "fcdesk itself is small: a module reached only through a string (a table of commands, views "
        "or clients added later) must not be missing from the bundle"
    ),
}

#: Distributions whose metadata (``*.dist-info``) the frozen app reads at run time.
METADATA: dict[str, str] = {
    "keyring": "the keyring.backends entry points: without them get_keyring() finds no backend",
}


def from_fcdesk_tables() -> list[str]:
    """Modules fcdesk imports by name from its own tables (imported here, so it needs fcdesk on the path).

    - every client of ``fcdesk.azure._http.CLIENTS`` (the versioned ``.aio`` client package, created
      by ``importlib.import_module`` in ``ArmHttp.client``) and its ``.aio._configuration`` module
      (``api_versions()`` reads each client's default api-version from it);
    - ``fcdesk.app._LIVE_MODULES``, the modules the GUI warms up ahead of the first sign-in.
    """
    from fcdesk.app import _LIVE_MODULES
    from fcdesk.azure._http import CLIENTS

    modules: list[str] = []
    for module, _class_name in CLIENTS.values():
        modules += [module, module.replace(".aio", ".aio._configuration")]
    modules += _LIVE_MODULES
    return modules


def hidden_imports() -> list[str]:
    """Every module the spec names as a hidden import on this platform (no duplicates, stable order)."""
    linux = LINUX_ONLY if sys.platform.startswith("linux") else {}
    return list(dict.fromkeys([*EXPLICIT, *linux, *from_fcdesk_tables()]))
