"""Refreshing from live Azure without blocking the window.

- :class:`RefreshController` runs ``session.capture(...)`` on the qasync loop, rebuilds the
  inventory from the records seen so far on a worker thread at most every few hundred
  milliseconds (slower when building gets expensive) and pushes it into the
  :class:`~fcdesk.models.workspace.WorkspaceContext`, so the tabs fill progressively. The final
  result replaces it and is saved to the snapshot library on a worker thread, complete, partial or
  cancelled.
- :class:`RefreshProgress` is the status-bar widget: stage, counts, a progress bar and Cancel.
- :class:`UiHeartbeat` measures how long the GUI thread was unavailable (the longest gap between
  ticks of a 10 ms timer); the controller logs it per refresh at debug level.

Nothing here imports the Azure SDK: the session is injected (a :class:`fcdesk.azure.contract.LiveSession`).
"""

from __future__ import annotations

import asyncio
import logging
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from PySide6.QtCore import QElapsedTimer, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QProgressBar, QPushButton, QWidget

from fcdesk.azure.contract import CaptureOptions, CaptureResult, LiveSession, Progress
from fcdesk.core.gcpause import freeze_long_lived, paused_gc
from fcdesk.core.inventory import Inventory, Scope
from fcdesk.core.records import Kind, RawRecord, ScopeError, SnapshotMeta, Source
from fcdesk.models.workspace import SnapshotInfo, WorkspaceContext
from fcdesk.views.widgets import PlainLabel

log = logging.getLogger(__name__)

#: Blocking: writes one capture into the snapshot library and returns its path (run on a worker thread).
SaveSnapshot = Callable[[SnapshotMeta, list[RawRecord]], Path]

#: Progressive updates start once one of these arrived (subscriptions alone would blank the tabs).
_SHOWABLE = frozenset({Kind.ACCOUNT, Kind.DEPLOYMENT})

#: After Cancel, the capture gets this long to return what it has before its task is cancelled.
CANCEL_GRACE_S = 0.85


# ------------------------------------------------------------------------------------ heartbeat


#: Thread switch interval while a refresh runs (the default is 5 ms; see RefreshController.run).
REFRESH_SWITCH_INTERVAL_S = 0.001


class UiHeartbeat(QObject):
    """A 10 ms timer on the GUI thread; the longest gap between two ticks is the worst UI stall.

    ``start()`` resets the figures; ``stop()`` returns the max gap in milliseconds. A gap of
    10-20 ms is the timer itself; anything well above means the GUI thread was busy.
    """

    def __init__(self, parent: QObject | None = None, *, interval_ms: int = 10) -> None:
        super().__init__(parent)
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)
        self._clock = QElapsedTimer()
        self._last_ns = 0
        self.max_gap_ms = 0.0
        self.ticks = 0

    @property
    def running(self) -> bool:
        return self._timer.isActive()

    def start(self) -> None:
        self.max_gap_ms = 0.0
        self.ticks = 0
        self._clock.start()
        self._last_ns = 0
        self._timer.start()

    def stop(self) -> float:
        if self._timer.isActive():
            self._tick()
            self._timer.stop()
        return self.max_gap_ms

    def _tick(self) -> None:
        now = self._clock.nsecsElapsed()
        gap = (now - self._last_ns) / 1e6
        self._last_ns = now
        self.ticks += 1
        if gap > self.max_gap_ms:
            self.max_gap_ms = gap


# ------------------------------------------------------------------------------------ errors

_SUB_RE = re.compile(r"/subscriptions/([^/]+)", re.IGNORECASE)
#: "(HTTP 403, AuthorizationFailed)" as written by fcdesk.azure.errors.ArmError.reason()
_HTTP_RE = re.compile(r"\bHTTP (\d{3})(?:, ([A-Za-z][\w.]*))?")


def _code_text(errors: Sequence[ScopeError]) -> str:
    """``"403 AuthorizationFailed"``: the status and ARM codes of ``errors``, each once."""
    codes: list[str] = []

    def add(part: str | None) -> None:
        if part and part.lower() not in (c.lower() for c in codes):
            codes.append(part)

    for err in errors:
        for part in (err.code or "").replace(",", " ").split():
            add(part)
        match = _HTTP_RE.search(err.message or "")
        if match:
            add(match.group(1))
            add(match.group(2))
    return " ".join(codes[:4])


def is_cancellation(err: ScopeError) -> bool:
    return (err.code or "").lower() == "cancelled"


def describe_capture_errors(errors: Sequence[ScopeError], name_of: Callable[[str], str] | None = None) -> str:
    """One plain sentence for the error banner, naming the subscriptions that failed.

    ``"1 subscription could not be read: Contoso Research Sandbox (403 AuthorizationFailed);
    everything else is shown. …"``
    """
    errors = [e for e in errors if not is_cancellation(e)]  # said by the source banner instead
    if not errors:
        return ""
    by_sub: dict[str, list[ScopeError]] = {}
    other: list[ScopeError] = []
    for err in errors:
        match = _SUB_RE.search(err.scope or "")
        if match:
            by_sub.setdefault(match.group(1).lower(), []).append(err)
        else:
            other.append(err)
    parts: list[str] = []
    if by_sub:
        named = []
        for sub, errs in list(by_sub.items())[:3]:
            name = name_of(sub) if name_of else sub
            code = _code_text(errs)
            named.append(f"{name} ({code})" if code else name)
        more = f" and {len(by_sub) - 3} more" if len(by_sub) > 3 else ""
        noun = "subscription" if len(by_sub) == 1 else "subscriptions"
        parts.append(f"{len(by_sub)} {noun} could not be read: {', '.join(named)}{more}")
    if other:
        noun = "part" if len(other) == 1 else "parts"
        code = _code_text(other[:1])
        parts.append(
            f"{len(other)} other {noun} of the capture failed"
            if by_sub
            else f"{len(other)} {noun} of the capture could not be read"
        )
        if code and not by_sub:
            parts[-1] += f" ({code})"
    first = errors[0].message.strip().splitlines()[0] if errors[0].message.strip() else ""
    if len(first) > 240:
        first = first[:239] + "…"
    text = "; ".join(parts) + "; everything else is shown."
    return f"{text} First: {first}" if first else text


# ------------------------------------------------------------------------------------ progress widget


def progress_text(p: Progress) -> str:
    """``"Deployments 120/480 · 312 requests"`` (plus the error count when there are errors)."""
    text = f"{p.stage} {p.done:,}/{p.total:,} · {p.requests:,} request{'s' if p.requests != 1 else ''}"
    if p.errors:
        text += f" · {p.errors:,} error{'s' if p.errors != 1 else ''}"
    return text


class RefreshProgress(QWidget):
    """Status-bar widget: what is being fetched, a progress bar and a Cancel button.

    Signals:
        cancelRequested(): the user pressed Cancel.
    """

    cancelRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("refreshProgress")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.label = PlainLabel("", wrap=False)
        self.label.setObjectName("refreshStage")
        self.bar = QProgressBar(self)
        self.bar.setObjectName("refreshBar")
        self.bar.setAccessibleName("Refresh progress")
        self.bar.setTextVisible(False)
        self.bar.setFixedWidth(180)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setObjectName("refreshCancel")
        self.cancel_button.setToolTip("Stop the refresh and keep what was fetched so far")
        self.cancel_button.clicked.connect(self._on_cancel)
        lay.addWidget(self.label)
        lay.addWidget(self.bar)
        lay.addWidget(self.cancel_button)
        self.setVisible(False)

    def begin(self, text: str = "Connecting…") -> None:
        self.label.setText(text)
        self.bar.setRange(0, 0)  # busy until the first totals are known
        self.cancel_button.setEnabled(True)
        self.cancel_button.setText("Cancel")
        self.setVisible(True)

    def update_progress(self, p: Progress) -> None:
        self.label.setText(progress_text(p))
        if p.total > 0:
            if self.bar.maximum() != p.total:
                self.bar.setRange(0, p.total)
            self.bar.setValue(min(p.done, p.total))
        else:
            self.bar.setRange(0, 0)

    def set_stage(self, text: str) -> None:
        self.label.setText(text)

    def end(self) -> None:
        self.setVisible(False)

    def _on_cancel(self) -> None:
        self.cancel_button.setEnabled(False)
        self.cancel_button.setText("Cancelling…")
        self.cancelRequested.emit()


# ------------------------------------------------------------------------------------ controller


@dataclass(slots=True)
class RefreshOutcome:
    """What one refresh did (the argument of ``RefreshController.finished``)."""

    result: CaptureResult
    path: Path | None  #: where it was saved in the library (None: not saved)
    save_error: str = ""
    max_stall_ms: float = 0.0
    pushes: int = 0  #: progressive inventories shown before the final one


class RefreshController(QObject):
    """Runs one live capture at a time and fills the workspace as records arrive.

    Signals:
        started(): a refresh began.
        progressChanged(object): a :class:`~fcdesk.azure.contract.Progress` from the capture.
        recordsReceived(object): a batch of raw records arrived (a list of RawRecord).
        inventoryPushed(int): a progressive inventory was shown (deployments in it so far).
        finished(object): a :class:`RefreshOutcome` (complete, partial or cancelled; saved).
        failed(str): the capture failed before fetching anything (plain text); nothing changed.
    """

    started = Signal()
    progressChanged = Signal(object)
    recordsReceived = Signal(object)
    inventoryPushed = Signal(int)
    finished = Signal(object)
    failed = Signal(str)

    # internal: the session's callbacks go through queued-capable signals, so a session that calls
    # them from a worker thread is as safe as one that calls them on the loop
    _recordsArrived = Signal(object)
    _progressArrived = Signal(object)

    def __init__(
        self,
        context: WorkspaceContext,
        save_snapshot: SaveSnapshot | None,
        parent: QObject | None = None,
        *,
        min_interval_s: float = 0.35,
        max_interval_s: float = 5.0,
    ) -> None:
        super().__init__(parent)
        self.context = context
        self._save = save_snapshot
        self.min_interval_s = min_interval_s
        self.max_interval_s = max_interval_s
        self.heartbeat = UiHeartbeat(self)
        self._cancel: asyncio.Event | None = None
        self._capture: asyncio.Future[CaptureResult] | None = None
        self._records: list[RawRecord] | None = None
        self._last_progress: Progress | None = None
        self._wanted_scope: Scope | None = None
        self._pushing = False
        self._forced = False
        self._pushes = 0
        self._worth_showing = False
        self._force_timer = QTimer(self)
        self._force_timer.setSingleShot(True)
        self._force_timer.timeout.connect(self._force_stop)
        self._recordsArrived.connect(self._on_records)
        self._progressArrived.connect(self._on_progress)
        context.scopeChanged.connect(self._on_scope_changed)

    # --------------------------------------------------------------------------------- state

    @property
    def running(self) -> bool:
        return self._records is not None

    @property
    def cancelling(self) -> bool:
        return self._cancel is not None and self._cancel.is_set()

    def cancel(self) -> None:
        """Ask the capture to stop (its cancel Event); it returns what it has within a second."""
        if self._cancel is None or self._cancel.is_set():
            return
        log.info("refresh: cancel requested")
        self._cancel.set()
        self._force_timer.start(int(CANCEL_GRACE_S * 1000))

    def _force_stop(self) -> None:
        if self._capture is not None and not self._capture.done():
            log.warning(
                "refresh: the capture did not stop within %.1f s of Cancel; cancelling its task",
                CANCEL_GRACE_S,
            )
            self._forced = True
            self._capture.cancel()

    def _on_records(self, batch: list[RawRecord]) -> None:
        if self._records is not None:
            self._records.extend(batch)
            if not self._worth_showing:
                self._worth_showing = any(r.kind in _SHOWABLE for r in batch)
            self.recordsReceived.emit(batch)

    def _on_progress(self, progress: Progress) -> None:
        if self._records is not None:
            self._last_progress = progress
            self.progressChanged.emit(progress)

    def _on_scope_changed(self) -> None:
        if not self._pushing:
            self._wanted_scope = self.context.scope

    # --------------------------------------------------------------------------------- running

    async def run(
        self,
        session: LiveSession,
        options: CaptureOptions | Sequence[CaptureOptions],
        *,
        tenant_name: str = "",
    ) -> RefreshOutcome | None:
        """Capture, showing progress and partial data; returns None when nothing could be fetched.

        Several ``options`` (one per tenant) are captured one after the other into one result.
        While it runs, the interpreter's thread switch interval is shortened: inventories are built on
        a worker thread, and every call the GUI thread makes into Python (each ``data()`` of a paint)
        otherwise waits up to 5 ms for the GIL (measured: median worst UI stall 68 -> 54 ms).
        """
        previous = sys.getswitchinterval()
        sys.setswitchinterval(min(previous, REFRESH_SWITCH_INTERVAL_S))
        try:
            return await self._run(session, options, tenant_name=tenant_name)
        finally:
            sys.setswitchinterval(previous)

    async def _run(
        self,
        session: LiveSession,
        options: CaptureOptions | Sequence[CaptureOptions],
        *,
        tenant_name: str,
    ) -> RefreshOutcome | None:
        if self.running:
            raise RuntimeError("a refresh is already running")
        runs = [options] if isinstance(options, CaptureOptions) else list(options)
        if not runs:
            raise ValueError("nothing to capture")
        options = runs[0]
        self._records = records = []
        self._cancel = cancel = asyncio.Event()
        self._last_progress = None
        self._wanted_scope = self.context.scope
        started_at = datetime.now(UTC)
        t0 = time.perf_counter()
        identity = getattr(session, "identity", None)
        meta_so_far = SnapshotMeta(
            captured_at=started_at,
            source=Source.LIVE,
            tenant_id=(options.tenant_id or (identity.tenant_id if identity else "")),
            tenant_name=tenant_name,
            cloud=options.cloud.name,
            scopes=list(options.subscriptions or []),
            partial=True,
            label="refreshing",
        )
        self.heartbeat.start()
        self.started.emit()
        capture = asyncio.ensure_future(self._capture_all(session, runs, cancel))
        self._capture = capture
        self._forced = False
        self._pushes = 0
        self._worth_showing = False
        pump = asyncio.ensure_future(self._pump(meta_so_far))
        failure: BaseException | None = None
        result: CaptureResult | None = None
        try:
            try:
                result = await capture
            except asyncio.CancelledError:
                if not self._forced:  # our own task was cancelled (window closing): stop everything
                    capture.cancel()
                    self.heartbeat.stop()
                    raise
                log.info("refresh: capture task cancelled after %d records", len(records))
            except Exception as exc:  # noqa: BLE001 - shown to the user as plain text, logged with traceback
                log.warning("refresh: capture failed", exc_info=True)
                failure = exc
        finally:
            self._force_timer.stop()
            pump.cancel()
            await asyncio.gather(pump, return_exceptions=True)
            fetched = list(records)
            self._records = None
            self._capture = None
            self._cancel = None

        seconds = time.perf_counter() - t0
        requests = self._last_progress.requests if self._last_progress else 0
        if result is None:
            if failure is not None and not fetched:
                stall = self.heartbeat.stop()
                message = _error_text(failure)
                log.debug("refresh failed after %.1f s; max UI stall %.0f ms", seconds, stall)
                self.failed.emit(message)
                return None
            error = (
                ScopeError("", f"The refresh failed: {_error_text(failure)}", type(failure).__name__)
                if failure is not None
                else None
            )
            meta = replace(
                meta_so_far,
                captured_at=started_at,
                label="cancelled" if failure is None else "failed",
                errors=[error] if error else [],
            )
            result = CaptureResult(
                meta, fetched, requests, seconds, cancelled=failure is None, errors=list(meta.errors)
            )
        result = _normalised(result)
        if not result.meta.tenant_name and tenant_name and tenant_name != result.meta.tenant_id:
            result = replace(result, meta=replace(result.meta, tenant_name=tenant_name))

        if result.cancelled and not result.records:
            # Cancelled before anything arrived: keep showing what was there; nothing to save.
            stall = self.heartbeat.stop()
            log.debug("refresh cancelled before any record; max UI stall %.0f ms", stall)
            outcome = RefreshOutcome(result, None, "", stall, self._pushes)
            self.finished.emit(outcome)
            return outcome

        # the final inventory replaces the progressive ones
        self._set_stage_text("Finishing…")
        inventory = await asyncio.to_thread(self._build, result.meta, result.records)
        label = "cancelled" if result.cancelled else result.meta.label
        self._push(inventory, SnapshotInfo(None, Source.LIVE, label, live=True))

        path: Path | None = None
        save_error = ""
        if self._save is not None:
            try:
                path = await asyncio.to_thread(self._save, result.meta, result.records)
            except Exception as exc:  # noqa: BLE001 - a full disk must not lose the data on screen
                log.warning("refresh: could not save the capture", exc_info=True)
                save_error = _error_text(exc)
            else:
                if self.context.inventory is inventory:
                    self.context.set_info(SnapshotInfo(path, Source.LIVE, label, live=True))
        stall = self.heartbeat.stop()
        log.debug(
            "refresh %s: %d records, %d requests in %.1f s; max UI stall %.0f ms",
            "cancelled" if result.cancelled else ("partial" if result.meta.partial else "complete"),
            len(result.records),
            result.requests,
            result.seconds,
            stall,
        )
        outcome = RefreshOutcome(result, path, save_error, stall, self._pushes)
        self.finished.emit(outcome)
        return outcome

    async def _capture_all(
        self, session: LiveSession, runs: list[CaptureOptions], cancel: asyncio.Event
    ) -> CaptureResult:
        results: list[CaptureResult] = []
        for run in runs:
            if cancel.is_set() and results:
                break
            results.append(
                await session.capture(
                    run,
                    on_progress=self._progressArrived.emit,
                    on_records=self._recordsArrived.emit,
                    cancel=cancel,
                )
            )
        return results[0] if len(results) == 1 else _merged(results, cancelled=cancel.is_set())

    def _set_stage_text(self, text: str) -> None:
        if self._last_progress is not None:
            p = self._last_progress
            self.progressChanged.emit(Progress(text, p.done, p.total, p.requests, p.errors))

    async def _pump(self, meta: SnapshotMeta) -> None:
        """Rebuild and show the inventory from the records so far, throttled to the build cost."""
        interval = self.min_interval_s
        built = 0
        while True:
            await asyncio.sleep(interval)
            records = self._records
            if records is None:
                return
            if len(records) == built or not self._worth_showing:
                continue  # nothing new, or only subscriptions: keep showing what was there
            batch = list(records)
            t0 = time.perf_counter()
            inventory = await asyncio.to_thread(self._build, meta, batch)
            build_s = time.perf_counter() - t0
            if self._records is None:  # finished while building
                return
            t1 = time.perf_counter()
            self._push(inventory, SnapshotInfo(None, Source.LIVE, "refreshing", live=True))
            show_s = time.perf_counter() - t1
            built = len(batch)
            self._pushes += 1
            self.inventoryPushed.emit(len(inventory.deployments))
            # Keep building below ~25 % of a worker and showing below ~10 % of the GUI thread.
            interval = min(self.max_interval_s, max(self.min_interval_s, 4 * build_s, 10 * show_s))

    def _build(self, meta: SnapshotMeta, records: list[RawRecord]) -> Inventory:
        """Worker thread: build the inventory and derive the rows the tabs will show, so the GUI
        thread only swaps models when it is pushed."""
        with paused_gc():  # no collection may scan the fresh objects before they are frozen
            inventory = Inventory.build(meta, records)
            inventory.prepare(self.context.scope_for(inventory, self._wanted_scope))
            freeze_long_lived()  # the GUI thread's collections need not re-scan it (see gcpause)
        return inventory

    def _push(self, inventory: Inventory, info: SnapshotInfo) -> None:
        self._pushing = True
        try:
            self.context.set_inventory(inventory, info, scope=self._wanted_scope)
        finally:
            self._pushing = False


def _merged(results: list[CaptureResult], *, cancelled: bool) -> CaptureResult:
    """Captures of several tenants as one (the first tenant's header, every record and error)."""
    first = results[0]
    errors: list[ScopeError] = []
    scopes: list[str] = []
    for r in results:
        errors.extend(e for e in r.errors or r.meta.errors if e not in errors)
        scopes.extend(s for s in r.meta.scopes if s not in scopes)
    others = len(results) - 1
    meta = replace(
        first.meta,
        scopes=scopes,
        errors=errors,
        partial=any(r.meta.partial for r in results) or cancelled,
        tenant_name=(first.meta.tenant_name or first.meta.tenant_id)
        + f" (+{others} other tenant{'s' if others > 1 else ''})",
    )
    return CaptureResult(
        meta,
        [rec for r in results for rec in r.records],
        sum(r.requests for r in results),
        sum(r.seconds for r in results),
        cancelled=cancelled or any(r.cancelled for r in results),
        errors=errors,
    )


def _normalised(result: CaptureResult) -> CaptureResult:
    """Make sure the meta says LIVE and marks a cancelled or failing capture as partial."""
    meta = result.meta
    errors = list(meta.errors)
    for err in result.errors:
        if err not in errors:
            errors.append(err)
    partial = meta.partial or result.cancelled or bool(errors)
    label = meta.label or ("cancelled" if result.cancelled else "")
    if (meta.source, meta.partial, meta.label, meta.errors) != (Source.LIVE, partial, label, errors):
        meta = replace(meta, source=Source.LIVE, partial=partial, label=label, errors=errors)
        result = replace(result, meta=meta, errors=errors)
    return result


def _error_text(exc: BaseException | None) -> str:
    """A user-facing one-paragraph message from an exception (never a traceback)."""
    if exc is None:
        return ""
    text = str(exc).strip() or type(exc).__name__
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    text = " ".join(lines[:4])
    return text if len(text) <= 500 else text[:499] + "…"


__all__ = [
    "CANCEL_GRACE_S",
    "RefreshController",
    "RefreshOutcome",
    "RefreshProgress",
    "SaveSnapshot",
    "UiHeartbeat",
    "describe_capture_errors",
    "progress_text",
]
