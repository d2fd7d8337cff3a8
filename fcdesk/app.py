"""Composition root: builds the services, the workspace context and the main window.

The only module that knows every layer; views get what they need injected from here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fcdesk.core.gcpause import freeze_long_lived
from fcdesk.core.inventory import Inventory
from fcdesk.core.records import RawRecord, SnapshotMeta, Source
from fcdesk.resources_path import resource_path
from fcdesk.store import paths
from fcdesk.store.library import SnapshotLibrary
from fcdesk.store.snapshot import SnapshotError, open_snapshot

if TYPE_CHECKING:
    from fcdesk.azure.contract import Identity, LiveSession

log = logging.getLogger(__name__)

DEMO_SNAPSHOT = "demo.fcsnap"


@dataclass(slots=True)
class Loaded:
    inventory: Inventory
    path: Path
    source: Source


def demo_snapshot_path() -> Path:
    return resource_path(DEMO_SNAPSHOT)


def load_inventory(path: Path) -> Loaded:
    """Read a snapshot file and build its inventory (blocking: call from a worker thread in the GUI).

    Raises :class:`fcdesk.store.snapshot.SnapshotError` with a user-facing message.
    """
    with open_snapshot(path, verdicts=True) as reader:
        # Streamed: each record's JSON is dropped as soon as the inventory has taken what it needs;
        # Azure's policy states come already folded when the file stores them (see core.verdicts).
        inventory = Inventory.build(reader.meta, reader.records, verdicts=reader.verdicts)
    return Loaded(inventory, Path(path), reader.meta.source)


def startup_snapshot(explicit: Path | None) -> Path:
    """Which snapshot the app opens: the one asked for, else the newest in the library, else the demo."""
    if explicit is not None:
        return explicit
    try:
        newest = SnapshotLibrary(paths.snapshot_dir()).newest()
    except OSError as exc:  # an unreadable library must not stop the app from starting
        log.warning("Snapshot library unavailable: %s", exc)
        newest = None
    return newest or demo_snapshot_path()


# ----------------------------------------------------------------------------------- live Azure
# The SDK is imported inside these functions, on the first sign-in, never at start (start-up time
# is measured, and the window must open on a machine where the SDK fails to import).


def live_session_factory(*, secret: str | None = None) -> LiveSession:
    """A new, signed-out :class:`fcdesk.azure.session.AzureSession` (the live session of the window).

    ``secret``: a service principal's client secret for this session only (not remembered).
    """
    from fcdesk.azure.session import AzureSession

    return AzureSession(secret=secret)


def make_actions(session: LiveSession, identity: Identity) -> Any:
    """The writer of a signed-in session (``fcdesk.actions.Actions``), recording to the audit log."""
    from fcdesk.actions import Actions
    from fcdesk.store.audit import AuditLog

    return Actions(session, AuditLog(), principal=identity.principal, cloud=identity.cloud)  # type: ignore[arg-type]


def quiet_executor_debug_log() -> None:
    """qasync's ``QThreadExecutor`` logs every callback *with its arguments* at DEBUG level
    (logger ``qasync._QThreadWorker``): a keyring call on a worker thread would put a secret into a
    debug log. Keep the qasync loggers at INFO or above."""
    logger = logging.getLogger("qasync")
    if logger.level == logging.NOTSET or logger.level < logging.INFO:
        logger.setLevel(logging.INFO)


async def store_sp_secret(tenant: str, client_id: str, secret: str) -> None:
    """Keep a service principal's secret in the OS keyring (on a worker thread, by the auth helpers)."""
    from fcdesk.azure.auth import store_sp_secret as store

    quiet_executor_debug_log()
    await store(tenant, client_id, secret)


#: Imported by the first sign-in and capture; importing them on the GUI thread stalls it for ~0.4 s.
_LIVE_MODULES = (
    "aiohttp",
    "azure.core.exceptions",
    "azure.core.rest",
    "azure.core.pipeline.transport",
    "azure.mgmt.core.policies",
    "azure.identity.aio",
)


def warm_up_live() -> None:
    """Import the live path (the Azure SDK, aiohttp) ahead of the first sign-in and capture.

    Blocking and best effort: run it on a worker thread (``asyncio.to_thread``) when the user is
    about to sign in, so the GUI thread never spends the import time itself.
    """
    import importlib

    try:
        from fcdesk.azure import _http, auth, capture, session  # noqa: F401 - imported for their imports

        _http.api_versions()  # imports every client's configuration module (cached)
        modules = [*_LIVE_MODULES, *(module for module, _cls in _http.CLIENTS.values())]
    except Exception:  # noqa: BLE001 - warming up is an optimisation; the real import reports errors
        log.debug("warming up the live path failed", exc_info=True)
        return
    for module in modules:
        try:
            importlib.import_module(module)
        except Exception:  # noqa: BLE001 - as above
            log.debug("warming up %s failed", module, exc_info=True)
    freeze_long_lived()  # the SDK's modules and classes live as long as the process


def save_to_library(meta: SnapshotMeta, records: list[RawRecord]) -> Path:
    """Save a capture into the snapshot library (blocking: call from a worker thread)."""
    return SnapshotLibrary(paths.snapshot_dir()).save(meta, records)


__all__ = [
    "DEMO_SNAPSHOT",
    "Loaded",
    "SnapshotError",
    "demo_snapshot_path",
    "live_session_factory",
    "make_actions",
    "load_inventory",
    "quiet_executor_debug_log",
    "save_to_library",
    "startup_snapshot",
    "store_sp_secret",
    "warm_up_live",
]
