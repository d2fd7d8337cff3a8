"""Composition root: builds the services, the workspace context and the main window.

The only module that knows every layer; views get what they need injected from here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from fcdesk.core.inventory import Inventory
from fcdesk.core.records import Source
from fcdesk.resources_path import resource_path
from fcdesk.store import paths
from fcdesk.store.library import SnapshotLibrary
from fcdesk.store.snapshot import SnapshotError, open_snapshot

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
    with open_snapshot(path) as reader:
        # Streamed: each record's JSON is dropped as soon as the inventory has taken what it needs.
        inventory = Inventory.build(reader.meta, reader.records)
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


__all__ = ["DEMO_SNAPSHOT", "Loaded", "SnapshotError", "demo_snapshot_path", "load_inventory", "startup_snapshot"]
