"""Side-by-side comparison of the guardrails of two or more deployments (a transposed matrix).

Rows are the attributes (Guardrail, Mode, each control, Blocklists, Other filters), columns are the
deployments. Rows whose values differ are bold with a tinted background, and "Only differences"
hides the rest. Everything is plain text: item views never interpret names from Azure as markup,
and tooltips go through :func:`plain_tooltip`.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QBrush, QColor, QGuiApplication, QKeySequence, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from fcdesk.core.guardrails import CATALOGUE
from fcdesk.core.inventory import MatrixRow
from fcdesk.models.matrix import blocklists_text, other_filters_text
from fcdesk.models.table import plain_tooltip
from fcdesk.views.widgets import PlainLabel

#: Item data role carrying whether the item's row differs across the compared deployments.
DIFFERS_ROLE = int(Qt.ItemDataRole.UserRole) + 20


def comparison_rows(rows: Sequence[MatrixRow]) -> list[tuple[str, list[str]]]:
    """``(attribute, value per deployment)`` in display order: the data behind the dialog."""
    effs = [r.effective for r in rows]
    out: list[tuple[str, list[str]]] = [
        ("Guardrail", [e.name for e in effs]),
        ("Mode", [e.mode_label for e in effs]),
    ]
    for i, ctl in enumerate(CATALOGUE):
        out.append((ctl.label, [e.cells[i].text for e in effs]))
    out.append(("Blocklists", [blocklists_text(e) for e in effs]))
    out.append(("Other filters", [other_filters_text(e) for e in effs]))
    return out


def _tsv_field(text: str) -> str:
    return text.replace("\t", " ").replace("\r", " ").replace("\n", " ")


class CompareDialog(QDialog):
    """Compares 2+ matrix rows. Non-modal: show it with ``show()`` or ``open()``, never ``exec()``.

    Args:
        rows: the deployments to compare (at most :attr:`MAX_DEPLOYMENTS` are shown).
    """

    MAX_DEPLOYMENTS = 50

    def __init__(self, rows: Sequence[MatrixRow], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("compareDialog")
        self.setModal(False)
        self.setWindowTitle(f"Compare guardrails: {len(rows)} deployments")
        self.resize(960, 620)
        self.rows = list(rows[: self.MAX_DEPLOYMENTS])
        self._data = comparison_rows(self.rows)
        self._differs = [len(set(values)) > 1 for _label, values in self._data]

        lay = QVBoxLayout(self)
        n_diff = sum(self._differs)
        summary = (
            f"{n_diff} of {len(self._data)} settings differ between these {len(self.rows)} deployments "
            "(shown in bold)."
            if n_diff
            else f"These {len(self.rows)} deployments have identical guardrail settings."
        )
        if len(rows) > len(self.rows):
            summary += f" Showing the first {len(self.rows)} of {len(rows)} selected."
        self.summary = PlainLabel(summary)
        self.summary.setObjectName("compareSummary")
        lay.addWidget(self.summary)

        bar = QHBoxLayout()
        self.only_differences = QCheckBox("Only differences", self)
        self.only_differences.setObjectName("onlyDifferences")
        self.only_differences.setToolTip("Hide the settings that are the same on every deployment compared.")
        self.only_differences.toggled.connect(self._apply_filter)
        bar.addWidget(self.only_differences)
        bar.addStretch(1)
        lay.addLayout(bar)

        self.table = QTableWidget(len(self._data), len(self.rows), self)
        self.table.setObjectName("compareTable")
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(False)
        self.table.setAlternatingRowColors(False)
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        hh.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        hh.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        lay.addWidget(self.table, 1)
        self._fill()
        self.table.resizeColumnsToContents()
        for c in range(self.table.columnCount()):
            self.table.setColumnWidth(c, max(120, min(self.table.columnWidth(c), 280)))

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        self.copy_button = QPushButton("Copy as TSV", self)
        self.copy_button.setObjectName("compareCopy")
        self.copy_button.setToolTip("Copy the comparison as tab-separated text (Ctrl+C).")
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.copy_button.clicked.connect(self.copy_to_clipboard)
        buttons.rejected.connect(self.close)
        lay.addWidget(buttons)

        copy = QAction("Copy comparison", self)
        copy.setShortcut(QKeySequence.StandardKey.Copy)
        copy.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        copy.triggered.connect(self.copy_to_clipboard)
        self.addAction(copy)
        self.copy_action = copy

    # ------------------------------------------------------------------ building

    def _fill(self) -> None:
        tint = QColor(self.palette().color(QPalette.ColorRole.Highlight))
        tint.setAlpha(60)
        diff_brush = QBrush(tint)
        bold = self.table.font()
        bold.setBold(True)
        for c, row in enumerate(self.rows):
            dep = row.deployment
            head = QTableWidgetItem(self.header_text(row))
            where = f"{row.subscription_name} / {dep.resource_group} / {dep.account_name} / {dep.name}"
            head.setToolTip(plain_tooltip(f"{where}\n{dep.model_label}"))
            self.table.setHorizontalHeaderItem(c, head)
        for r, (label, values) in enumerate(self._data):
            differs = self._differs[r]
            vhead = QTableWidgetItem(label)
            if differs:
                vhead.setFont(bold)
                vhead.setToolTip(plain_tooltip(f"{label}: differs between the deployments compared"))
            self.table.setVerticalHeaderItem(r, vhead)
            for c, value in enumerate(values):
                item = QTableWidgetItem(value)
                item.setData(DIFFERS_ROLE, differs)
                item.setToolTip(plain_tooltip(f"{self.header_text(self.rows[c])}\n{label}: {value}"))
                if differs:
                    item.setFont(bold)
                    item.setBackground(diff_brush)
                self.table.setItem(r, c, item)

    @staticmethod
    def header_text(row: MatrixRow) -> str:
        return f"{row.deployment.account_name} / {row.deployment.name}"

    # ------------------------------------------------------------------ queries

    def labels(self) -> list[str]:
        return [label for label, _ in self._data]

    def differing_labels(self) -> list[str]:
        return [label for (label, _), d in zip(self._data, self._differs, strict=True) if d]

    def row_of(self, label: str) -> int:
        return self.labels().index(label)

    def visible_labels(self) -> list[str]:
        return [label for r, label in enumerate(self.labels()) if not self.table.isRowHidden(r)]

    # ------------------------------------------------------------------ actions

    def _apply_filter(self, only_differences: bool) -> None:
        for r, differs in enumerate(self._differs):
            self.table.setRowHidden(r, only_differences and not differs)

    def comparison_tsv(self) -> str:
        """The comparison as shown (respecting "Only differences"), with a header line."""
        lines = ["\t".join(["Setting", *(_tsv_field(self.header_text(r)) for r in self.rows)])]
        for r, (label, values) in enumerate(self._data):
            if self.table.isRowHidden(r):
                continue
            lines.append("\t".join([_tsv_field(label), *(_tsv_field(v) for v in values)]))
        return "\n".join(lines)

    def copy_to_clipboard(self) -> str:
        text = self.comparison_tsv()
        QGuiApplication.clipboard().setText(text)
        return text
