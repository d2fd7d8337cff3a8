"""The state one main window shows: which inventory, which scope, and whether writes are possible.

Injected into every tab (no globals, no app-wide bus): tabs read it and listen to its signals.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import QObject, Signal

from fcdesk.core.inventory import ALL, Inventory, Scope
from fcdesk.core.records import Source

log = logging.getLogger(__name__)

OFFLINE_REASON = "Offline snapshot: sign in to make changes"
#: Shown on every write action when live data is shown but no writer is available (no actions service).
LIVE_REASON = "Changes are not available in this session"
CHECKING_REASON = "Checking your permissions…"
REFRESH_REASON = "A refresh is running: changes wait until it has finished"
#: A permission check that failed (not a "no") is asked again after this many seconds.
RETRY_FAILED_CHECK_S = 30.0

#: Kinds of write whose rights are checked per scope.
POLICY_RIGHTS = "policy"  #: create/edit/delete guardrail policies at a subscription or resource group
GUARDRAIL_RIGHTS = "guardrail"  #: edit guardrails and deployments of an account
SECURITY_RIGHTS = "security"  #: Defender plans and settings at a subscription
DEFENDER_ACCOUNT_RIGHTS = "defender-account"  #: the Defender for AI setting of an account
PURVIEW_RIGHTS = "purview"  #: the Purview extension at a subscription


class RightsAnswer(Protocol):
    allowed: bool
    reason: str


#: ``checker(kind, scope)``: the caller's rights for a kind of write at an ARM scope (async).
RightsChecker = Callable[[str, str], Awaitable[RightsAnswer]]


@dataclass(frozen=True, slots=True)
class SnapshotInfo:
    """Where the data shown came from. ``opening``: an empty placeholder while ``path`` is still
    being read (a large snapshot at start)."""

    path: Path | None  #: file it came from (None: built in memory)
    source: Source | str
    label: str = ""
    #: fetched from Azure by this window (a refresh in progress or just finished), not read from a file
    live: bool = False
    #: a placeholder: the window is up and ``path`` is being read
    opening: bool = False


class WorkspaceContext(QObject):
    """Signals:
    inventoryChanged(): a new inventory (snapshot opened or refreshed); the scope may have been reset.
    scopeChanged(): the subscription/project filter changed.
    infoChanged(): only the description of the data changed (e.g. a refresh was saved to a file).
    """

    inventoryChanged = Signal()
    scopeChanged = Signal()
    infoChanged = Signal()
    rightsChanged = Signal()  #: a permission check finished, or the checker changed

    def __init__(self, inventory: Inventory, info: SnapshotInfo, parent: Any = None) -> None:
        super().__init__(parent)
        self._inventory = inventory
        self._info = info
        self._scope: Scope = ALL
        self._write_reason: str | None = OFFLINE_REASON
        self._checker: RightsChecker | None = None
        self._rights: dict[tuple[str, str], RightsAnswer] = {}
        self._checking: dict[tuple[str, str], asyncio.Future[None]] = {}
        self._cancelled: set[asyncio.Future[None]] = set()
        self._answered_at: dict[tuple[str, str], float] = {}
        self._busy_reason: str | None = None
        #: assignment key → time fcdesk wrote something it governs; carried over to new inventories
        self.pending: dict[str, datetime] = {}
        self._apply_write_reason()

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
        if self.pending and any(inventory.pending.get(k) != v for k, v in self.pending.items()):
            inventory.pending.update(self.pending)
            inventory._memo.clear()  # rows prepared before the marks were known
        self._inventory = inventory
        self._info = info
        self._apply_write_reason()
        self._scope = self.scope_for(inventory, scope)
        self.inventoryChanged.emit()

    def _apply_write_reason(self) -> None:
        if self._write_reason in (OFFLINE_REASON, LIVE_REASON, None):
            if not self._info.live:
                self._write_reason = OFFLINE_REASON
            else:
                self._write_reason = None if self._checker is not None else LIVE_REASON

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
        if self._write_reason is None and self._busy_reason is not None:
            return self._busy_reason
        return self._write_reason

    def set_busy_reason(self, reason: str | None) -> None:
        """Hold writes for a while (a refresh is running: its data would replace what was written)."""
        if reason != self._busy_reason:
            self._busy_reason = reason
            self.scopeChanged.emit()

    def set_write_disabled_reason(self, reason: str | None) -> None:
        self._write_reason = reason
        self.scopeChanged.emit()

    # ------------------------------------------------------------------------------ rights

    def set_rights_checker(self, checker: RightsChecker | None) -> None:
        """Writes become possible on live data once a checker (the signed-in actions) is set."""
        self._checker = checker
        self._rights.clear()
        for pending in self._checking.values():
            pending.cancel()
            self._cancelled.add(pending)
            pending.add_done_callback(self._cancelled.discard)
        self._checking.clear()
        self._apply_write_reason()
        self.rightsChanged.emit()

    async def settle_rights_checks(self) -> None:
        """Wait until checks cancelled by :meth:`set_rights_checker` have finished (on sign-out)."""
        if self._cancelled:
            await asyncio.gather(*list(self._cancelled), return_exceptions=True)

    def rights_reason(self, kind: str, scope: str) -> str | None:
        """Why the signed-in caller may not make this kind of write at ``scope`` (None: allowed).

        Unknown yet: the check starts in the background and :data:`CHECKING_REASON` is returned;
        ``rightsChanged`` fires when the answer is in. Without a checker there is nothing to check
        (the global :attr:`write_disabled_reason` says why writes are off).
        """
        if self._checker is None or not scope:
            return None
        key = (kind, scope.rstrip("/").lower())
        answer = self._rights.get(key)
        if answer is not None and self._stale(key, answer):
            del self._rights[key]
            answer = None
        if answer is not None:
            return (
                None if answer.allowed else (answer.reason or "You do not have permission to do this here.")
            )
        if key not in self._checking:
            self._checking[key] = asyncio.ensure_future(self._check(key, scope))
        return CHECKING_REASON

    def _stale(self, key: tuple[str, str], answer: RightsAnswer) -> bool:
        """A check that failed (the permissions could not be read) is asked again after a while."""
        if getattr(answer, "checked", True):
            return False
        return time.monotonic() - self._answered_at.get(key, 0.0) > RETRY_FAILED_CHECK_S

    async def rights_answer(self, kind: str, scope: str, *, fresh: bool = False) -> RightsAnswer | None:
        """The rights answer, awaiting the check if needed (None without a checker).

        ``fresh``: ask again if the last check failed (a "Check again" button).
        """
        if self._checker is None:
            return None
        key = (kind, scope.rstrip("/").lower())
        answer = self._rights.get(key)
        failed = answer is not None and not getattr(answer, "checked", True)
        if answer is not None and (self._stale(key, answer) or (fresh and failed)):
            del self._rights[key]
        if key not in self._rights:
            task = self._checking.get(key)
            if task is None:
                task = self._checking[key] = asyncio.ensure_future(self._check(key, scope))
            await asyncio.shield(task)
        return self._rights.get(key)

    async def _check(self, key: tuple[str, str], scope: str) -> None:
        checker = self._checker
        if checker is None:
            return
        try:
            answer = await checker(key[0], scope)
        except Exception as exc:  # noqa: BLE001 - a failed check disables the action with its reason
            log.info("permission check failed: %s", type(exc).__name__)
            answer = _Answer(False, f"Could not check your permissions: {exc}", checked=False)
        finally:
            self._checking.pop(key, None)
        if checker is self._checker:
            self._rights[key] = answer
            self._answered_at[key] = time.monotonic()
            self.rightsChanged.emit()


@dataclass(frozen=True, slots=True)
class _Answer:
    allowed: bool
    reason: str
    checked: bool = True
