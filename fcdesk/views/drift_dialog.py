"""The drift view: what changed between two snapshots of a tenant, loosenings first.

Reading two snapshots and comparing them takes a while on a large tenant, so both happen on worker
threads (``asyncio.to_thread``) while the dialog shows which step it is on; closing the dialog
stops waiting for them. The changes are grouped and filtered by kind (one toggle per kind, with its
count, colour and word), by what changed (deployment, guardrail, policy, …) and by text; the
detail pane shows the selected change in full. Ctrl+C copies the selected rows as tab-separated
text. Every name is plain text.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication, QPalette
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QHBoxLayout,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from fcdesk.core import drift as core_drift
from fcdesk.core.drift import Change, ChangeKind, Drift, Target
from fcdesk.core.inventory import Inventory
from fcdesk.core.records import SnapshotMeta
from fcdesk.core.text import EMPTY, as_of, plural
from fcdesk.models.drift import (
    KIND_EXPLAINED,
    KIND_SYMBOL,
    KIND_WORD,
    DriftTableModel,
    change_filter,
    kind_color,
    kind_counts,
    kind_text,
    target_counts,
    target_text,
)
from fcdesk.models.palette import StateColors, colors_for
from fcdesk.views.geometry import GeometryStore, remember_geometry, restore_geometry
from fcdesk.views.widgets import Banner, BannerKind, DataTable, DetailPanel, FilterBar, PlainLabel, heading

log = logging.getLogger(__name__)

NO_CHANGES = "No changes: the two snapshots agree on guardrails, policies, compliance and security."
GEOMETRY_KEY = "driftDialog/geometry"
#: Mnemonics of the kind toggles (Alt+letter), so each is reachable from the keyboard.
_MNEMONIC = {
    ChangeKind.LOOSENED: "&Loosened",
    ChangeKind.REMOVED: "&Removed",
    ChangeKind.ADDED: "&Added",
    ChangeKind.CHANGED: "C&hanged",
    ChangeKind.TIGHTENED: "&Tightened",
}


@dataclass(frozen=True, slots=True)
class Side:
    """One snapshot to compare: a file (read on a worker thread) or an inventory already in hand."""

    source: Path | Inventory
    label: str = ""  #: the label to show (the library's), else the snapshot header's

    @property
    def name(self) -> str:
        return self.source.name if isinstance(self.source, Path) else "the snapshot in the window"


def side_text(meta: SnapshotMeta, side: Side | None = None) -> str:
    """``2026-11-20 09:30 UTC (3 days ago) · “baseline” · demo.fcsnap · partial capture``."""
    parts = [as_of(meta.captured_at)]
    label = (side.label if side is not None else "") or meta.label
    if label:
        parts.append(f"“{label}”")
    if side is not None:
        parts.append(side.name)
    if meta.partial:
        parts.append("partial capture")
    return " · ".join(parts)


class DriftDialog(QDialog):
    """Drift between two snapshots. Non-modal: ``show()``/``open()``, never ``exec()``.

    Args:
        load: blocking; reads a snapshot file into an :class:`Inventory` (run on a worker thread).
            Raises an exception whose text is fit for the user when the file cannot be read.
        diff: blocking; the changes from an older to a newer inventory (default
            :func:`fcdesk.core.drift.diff_inventories`; run on a worker thread).
        settings: where the dialog's geometry is remembered (optional).

    Signals:
        computed(object): the :class:`Drift` now shown.
        failed(str): reading or comparing failed (the message shown).

    Object names: ``driftDialog``, ``driftHeading``, ``driftSides``, ``driftBusy``, ``driftStage``,
    ``driftWarning``, ``driftError``, ``kind-<kind>`` (toggles), ``driftTarget``, ``driftFilter``,
    ``driftTable``, ``driftEmpty``, ``driftDetail``, ``driftCopy``.
    """

    computed = Signal(object)
    failed = Signal(str)

    def __init__(
        self,
        load: Callable[[Path], Inventory],
        parent: QWidget | None = None,
        *,
        diff: Callable[[Inventory, Inventory], Drift] | None = None,
        colors: StateColors | None = None,
        settings: GeometryStore | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("driftDialog")
        self.setWindowTitle("Drift between snapshots")
        self.setModal(False)
        self._load = load
        self._diff = diff
        self._settings = settings
        if colors is None:
            colors = colors_for(self.palette().color(QPalette.ColorRole.Window).lightness() < 128)
        self.colors = colors
        self.drift: Drift | None = None
        self._task: asyncio.Future[None] | None = None

        self.heading = heading("Drift")
        self.heading.setObjectName("driftHeading")
        self.sides = PlainLabel("", muted=True)
        self.sides.setObjectName("driftSides")
        self.warning = Banner(BannerKind.WARNING, self)
        self.warning.setObjectName("driftWarning")
        self.error_banner = Banner(BannerKind.ERROR, self)
        self.error_banner.setObjectName("driftError")
        self.busy = QProgressBar(self)
        self.busy.setObjectName("driftBusy")
        self.busy.setRange(0, 0)
        self.busy.setMaximumWidth(160)
        self.busy.setTextVisible(False)
        self.busy.setAccessibleName("Working")
        self.stage = PlainLabel("", wrap=False)
        self.stage.setObjectName("driftStage")

        self.kind_buttons: dict[ChangeKind, QToolButton] = {}
        kinds_row = QHBoxLayout()
        kinds_row.setSpacing(4)
        for kind in KIND_WORD:
            button = QToolButton(self)
            button.setObjectName(f"kind-{kind.value}")
            button.setCheckable(True)
            button.setChecked(True)
            button.setToolTip(f"Show or hide these changes. {KIND_EXPLAINED[kind]}")
            color = kind_color(colors, kind)
            if color is not None:
                button.setStyleSheet(
                    f"QToolButton {{ background: {color.name()}; color: palette(window-text);"
                    " border: 1px solid palette(mid); border-radius: 3px; padding: 2px 8px; }"
                    " QToolButton:!checked { background: palette(button); color: palette(placeholder-text); }"
                    " QToolButton:disabled { color: palette(placeholder-text); }"
                )
            button.toggled.connect(self._apply_filter)
            self.kind_buttons[kind] = button
            kinds_row.addWidget(button)
        self.target_combo = QComboBox(self)
        self.target_combo.setObjectName("driftTarget")
        self.target_combo.setAccessibleName("What changed")
        self.target_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.target_combo.currentIndexChanged.connect(self._apply_filter)
        kinds_row.addSpacing(12)
        kinds_row.addWidget(self.target_combo)
        self.filter_bar = FilterBar("Filter changes by name, control, value…", self)
        self.filter_bar.setObjectName("driftFilter")
        kinds_row.addWidget(self.filter_bar, 1)

        self.model = DriftTableModel(colors, self)
        self.table = DataTable(self.model, self, object_name="driftTable")
        self.table.setAccessibleName("Changes between the snapshots")
        self.filter_bar.bind(self.table)
        self.detail = DetailPanel(self)
        self.detail.setObjectName("driftDetail")
        self.detail.placeholder("Select a change to see it in full.")
        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.setChildrenCollapsible(False)
        splitter.addWidget(self.table)
        splitter.addWidget(self.detail)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([900, 300])
        self.empty_state = PlainLabel("", muted=True)
        self.empty_state.setObjectName("driftEmpty")
        self.empty_state.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.empty_state)
        self.stack.addWidget(splitter)

        self.copy_button = QPushButton("Cop&y rows", self)
        self.copy_button.setObjectName("driftCopy")
        self.copy_button.setToolTip("Copy the selected rows, or every row shown, as tab-separated text.")
        self.copy_button.clicked.connect(self.copy_rows)
        close = QPushButton("Close", self)
        close.clicked.connect(self.close)

        lay = QVBoxLayout(self)
        lay.addWidget(self.heading)
        lay.addWidget(self.sides)
        lay.addWidget(self.warning)
        lay.addWidget(self.error_banner)
        busy_row = QHBoxLayout()
        busy_row.addWidget(self.busy)
        busy_row.addWidget(self.stage, 1)
        lay.addLayout(busy_row)
        lay.addLayout(kinds_row)
        lay.addWidget(self.stack, 1)
        bottom = QHBoxLayout()
        bottom.addStretch(1)
        bottom.addWidget(self.copy_button)
        bottom.addWidget(close)
        lay.addLayout(bottom)

        self.table.currentRowObjectChanged.connect(self.show_change)
        self.resize(1200, 720)
        restore_geometry(self, settings, GEOMETRY_KEY)
        self._set_busy("")
        self._show_changes([])

    # ------------------------------------------------------------------ computing

    def compare(self, first: Side, second: Side) -> None:
        """Read both snapshots and compare them (older → newer, whichever order they come in)."""
        self._cancel()
        self.error_banner.clear()
        self.warning.clear()
        self.heading.setText("Drift")
        self.sides.setText(f"Comparing {first.name} with {second.name}")
        self._show_changes([])
        self.empty_state.setText("")
        self._set_busy("Reading the snapshots…")
        self._task = asyncio.ensure_future(self._run(first, second))

    @property
    def working(self) -> bool:
        """Reading or comparing is in progress."""
        return self._task is not None and not self._task.done()

    async def _run(self, first: Side, second: Side) -> None:
        try:
            one = await self._inventory(first, 1)
            two = await self._inventory(second, 2)
            (older, old_side), (newer, new_side) = sorted(
                ((one, first), (two, second)), key=lambda pair: pair[0].meta.captured_at
            )
            deployments = len(older.deployments) + len(newer.deployments)
            self._set_busy(f"Comparing {plural(deployments, 'deployment')}…")
            diff = self._diff or core_drift.diff_inventories
            drift = await asyncio.to_thread(diff, older, newer)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure is shown, the dialog stays usable
            log.info("drift failed: %s", type(exc).__name__, exc_info=True)
            message = str(exc) or type(exc).__name__
            self._set_busy("")
            self.sides.setText("")
            self.error_banner.show_message(f"The snapshots could not be compared: {message}")
            self.empty_state.setText("Nothing to show.")
            self.failed.emit(message)
            return
        self._set_busy("")
        self.show_drift(drift, old_side, new_side)

    async def _inventory(self, side: Side, number: int) -> Inventory:
        if isinstance(side.source, Inventory):
            return side.source
        self._set_busy(f"Reading snapshot {number} of 2: {side.name}…")
        return await asyncio.to_thread(self._load, side.source)

    def _set_busy(self, stage: str) -> None:
        self.busy.setVisible(bool(stage))
        self.stage.setText(stage)
        self.stage.setVisible(bool(stage))

    def _cancel(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._set_busy("")

    def done(self, result: int) -> None:
        """Closing stops waiting for a comparison (its result is no longer wanted)."""
        self._cancel()
        remember_geometry(self, self._settings, GEOMETRY_KEY)
        super().done(result)

    # ------------------------------------------------------------------ showing

    def show_drift(self, drift: Drift, older: Side | None = None, newer: Side | None = None) -> None:
        """Show ``drift`` (``older``/``newer``: how to name the two snapshots)."""
        self.drift = drift
        old_meta, new_meta = drift.older, drift.newer
        tenant = new_meta.tenant_name or new_meta.tenant_id or "unknown tenant"
        total = len(drift.changes)
        counts = kind_counts(drift.changes)
        loosened = counts[ChangeKind.LOOSENED]
        summary = plural(total, "change")
        if loosened:
            summary += f", {loosened} loosened"
        self.heading.setText(f"Drift of {tenant}: {summary}")
        self.setWindowTitle(f"Drift: {tenant}")
        self.sides.setText(f"From: {side_text(old_meta, older)}\nTo: {side_text(new_meta, newer)}")
        self.warning.show_message(" ".join(self._warnings(old_meta, new_meta)))
        self.empty_state.setText(NO_CHANGES)
        self._show_changes(drift.ordered())
        self.computed.emit(drift)

    @staticmethod
    def _warnings(older: SnapshotMeta, newer: SnapshotMeta) -> list[str]:
        out = []
        old_tenant = (older.tenant_id or older.tenant_name).lower()
        new_tenant = (newer.tenant_id or newer.tenant_name).lower()
        if old_tenant != new_tenant or older.cloud != newer.cloud:
            names = [m.tenant_name or m.tenant_id or EMPTY for m in (older, newer)]
            out.append(
                f"These snapshots are of different tenants ({names[0]} and {names[1]}): "
                "most things show as added or removed."
            )
        partial = [which for which, meta in (("older", older), ("newer", newer)) if meta.partial]
        if partial:
            which = " and the ".join(partial)
            verb = "is a partial capture" if len(partial) == 1 else "are partial captures"
            out.append(
                f"The {which} snapshot {verb}: something shown as added or removed may only have been "
                "unreadable."
            )
        return out

    def _show_changes(self, changes: list[Change]) -> None:
        counts = kind_counts(changes)
        for kind, button in self.kind_buttons.items():
            button.setText(f"{KIND_SYMBOL[kind]} {_MNEMONIC[kind]} ({counts[kind]:,})")
            button.setEnabled(counts[kind] > 0)
        self.target_combo.blockSignals(True)
        wanted = self.target_combo.currentData()
        self.target_combo.clear()
        self.target_combo.addItem(f"Everything ({len(changes):,})", None)
        for target, n in target_counts(changes).items():
            self.target_combo.addItem(f"{target_text(target)} ({n:,})", target)
        self.target_combo.setCurrentIndex(max(self.target_combo.findData(wanted), 0))
        self.target_combo.blockSignals(False)
        self.model.set_rows(changes)
        self.stack.setCurrentIndex(1 if changes else 0)
        self.copy_button.setEnabled(bool(changes))
        self._apply_filter()
        self.table.select_first_row()

    # ------------------------------------------------------------------ filtering

    def set_kinds(self, kinds: set[ChangeKind]) -> None:
        """Show only these kinds (as if the toggles were clicked)."""
        for kind, button in self.kind_buttons.items():
            button.setChecked(kind in kinds)

    def set_target(self, target: Target | None) -> None:
        """Show only changes of ``target`` (None: everything), as if picked in the list."""
        self.target_combo.setCurrentIndex(max(self.target_combo.findData(target), 0))

    def _apply_filter(self) -> None:
        kinds = {kind for kind, button in self.kind_buttons.items() if button.isChecked()}
        target = self.target_combo.currentData()
        everything = len(kinds) == len(self.kind_buttons) and target is None
        self.table.proxy.set_predicate(None if everything else change_filter(kinds, target))

    def changes_shown(self) -> list[Change]:
        """The changes as the table shows them (filtered, in view order)."""
        return list(self.table.proxy.visible_rows())

    # ------------------------------------------------------------------ detail and copy

    def show_change(self, change: Change | None) -> None:
        if change is None:
            self.detail.placeholder("Select a change to see it in full.")
            return
        self.detail.clear()
        subtitle = f"{kind_text(change.kind)} · {target_text(change.target)}"
        self.detail.add_title(change.name or EMPTY, subtitle)
        fields = [("Change", KIND_EXPLAINED.get(change.kind, str(change.kind)))]
        if change.control:
            fields.append(("Control", change.control))
        fields += [
            ("Before", EMPTY if change.before is None else change.before),
            ("After", EMPTY if change.after is None else change.after),
        ]
        if change.detail:
            fields.append(("Detail", change.detail))
        fields.append(("Id", change.target_id or EMPTY))
        if change.subscription_id:
            fields.append(("Subscription", change.subscription_id))
        self.detail.add_fields(fields)
        self.detail.finish()

    def copy_rows(self) -> str:
        """Copy the selected rows, or every row shown when none is selected, as tab-separated text."""
        rows = self.table.selected_row_objects() or self.changes_shown()
        columns = self.model.columns
        lines = ["\t".join(c.header for c in columns)]
        lines += ["\t".join(_tsv(c.text(row)) for c in columns) for row in rows]
        text = "\n".join(lines)
        QGuiApplication.clipboard().setText(text)
        return text


def _tsv(text: str) -> str:
    return text.replace("\t", " ").replace("\r", " ").replace("\n", " ")


__all__ = ["GEOMETRY_KEY", "NO_CHANGES", "DriftDialog", "Side", "side_text"]
