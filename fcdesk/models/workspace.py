"""The state one main window shows: which inventory, which scope, and whether writes are possible.

Injected into every tab (no globals, no app-wide bus): tabs read it and listen to its signals.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from fcdesk.core.inventory import ALL, Inventory, Scope
from fcdesk.core.records import Source

OFFLINE_REASON = "Offline snapshot: sign in to make changes"
#: Shown on every write action while the window shows data just fetched from Azure.
LIVE_REASON = "Live writes are not enabled yet"


@dataclass(frozen=True, slots=True)
class SnapshotInfo:
    path: Path | None  #: file it came from (None: built in memory)
    source: Source | str
    label: str = ""
    #: fetched from Azure by this window (a refresh in progress or just finished), not read from a file
    live: bool = False


class WorkspaceContext(QObject):
    """Signals:
    inventoryChanged(): a new inventory (snapshot opened or refreshed); the scope may have been reset.
    scopeChanged(): the subscription/project filter changed.
    infoChanged(): only the description of the data changed (e.g. a refresh was saved to a file).
    """

    inventoryChanged = Signal()
    scopeChanged = Signal()
    infoChanged = Signal()

    def __init__(self, inventory: Inventory, info: SnapshotInfo, parent: Any = None) -> None:
        super().__init__(parent)
        self._inventory = inventory
        self._info = info
        self._scope: Scope = ALL
        self._write_reason: str | None = OFFLINE_REASON

    @property
    def inventory(self) -> Inventory:
        return self._inventory

    @property
    def info(self) -> SnapshotInfo:
        return self._info

    @property
    def scope(self) -> Scope:
        return self._scope

    def set_inventory(self, inventory: Inventory, info: SnapshotInfo, *, scope: Scope | None = None) -> None:
        """Show ``inventory``. ``scope`` (default: the current one) is kept where the inventory has it.

        The write reason follows the data: :data:`LIVE_REASON` for live data (``info.live``),
        :data:`OFFLINE_REASON` for a snapshot read from a file.
        """
        self._inventory = inventory
        self._info = info
        if self._write_reason in (OFFLINE_REASON, LIVE_REASON):
            self._write_reason = LIVE_REASON if info.live else OFFLINE_REASON
        self._scope = self.scope_for(inventory, scope)
        self.inventoryChanged.emit()

    def scope_for(self, inventory: Inventory, wanted: Scope | None = None) -> Scope:
        """The scope :meth:`set_inventory` will show ``inventory`` in: ``wanted`` (default the current
        scope), narrowed to what the inventory has. Thread-safe: loaders use it to prepare rows."""
        scope = self._scope if wanted is None else wanted
        known = {s.lower() for s in inventory.subscriptions}
        if scope.subscriptions is not None and not scope.subscriptions <= known:
            scope = ALL
        if scope.project_id is not None and scope.project_id.lower() not in inventory.projects:
            scope = Scope(scope.subscriptions, None)
        return scope

    def set_info(self, info: SnapshotInfo) -> None:
        """Describe the same data differently (a live refresh saved to the library): no reload."""
        self._info = info
        self.infoChanged.emit()

    def set_scope(self, scope: Scope) -> None:
        if scope != self._scope:
            self._scope = scope
            self.scopeChanged.emit()

    @property
    def write_disabled_reason(self) -> str | None:
        """Why writes are unavailable (shown on every write action), or None when they are possible."""
        return self._write_reason

    def set_write_disabled_reason(self, reason: str | None) -> None:
        self._write_reason = reason
        self.scopeChanged.emit()
