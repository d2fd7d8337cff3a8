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


@dataclass(frozen=True, slots=True)
class SnapshotInfo:
    path: Path | None  #: file it came from (None: built in memory)
    source: Source | str
    label: str = ""


class WorkspaceContext(QObject):
    """Signals:
    inventoryChanged(): a new inventory (snapshot opened or refreshed); the scope may have been reset.
    scopeChanged(): the subscription/project filter changed.
    """

    inventoryChanged = Signal()
    scopeChanged = Signal()

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

    def set_inventory(self, inventory: Inventory, info: SnapshotInfo) -> None:
        self._inventory = inventory
        self._info = info
        known = {s.lower() for s in inventory.subscriptions}
        scope = self._scope
        if scope.subscriptions is not None and not scope.subscriptions <= known:
            scope = ALL
        if scope.project_id is not None and scope.project_id.lower() not in inventory.projects:
            scope = Scope(scope.subscriptions, None)
        self._scope = scope
        self.inventoryChanged.emit()

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
