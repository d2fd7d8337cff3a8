"""Help → Keyboard shortcuts: every shortcut of the window, read from its actual actions.

The list is built from the menu bar's actions at the time the dialog opens (plus the keys that
tables and tabs handle themselves), so it can never disagree with what the keys do. Keys are shown
in the platform's own notation (⌘ on macOS).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLineEdit,
    QMenu,
    QMenuBar,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)


@dataclass(frozen=True, slots=True)
class Shortcut:
    group: str
    action: str
    keys: str


#: Keys that widgets handle themselves (no menu action carries them). Standard keys stay enums here:
#: turning one into a QKeySequence needs the platform theme, so only once the application exists.
WIDGET_SHORTCUTS: tuple[tuple[str, str, QKeySequence.StandardKey | str], ...] = (
    ("Tables", "Copy the selected rows (or the one selected cell)", QKeySequence.StandardKey.Copy),
    ("Tables", "Select all rows", QKeySequence.StandardKey.SelectAll),
    ("Tables", "Row menu: copy ID, open in portal, fix", "Shift+F10, Menu"),
    ("Tables", "Move between rows / columns", "Arrow keys, Page Up, Page Down, Home, End"),
    ("Tables", "Extend the selection", "Shift+Arrow keys, Shift+click, Ctrl+click"),
    ("Window", "Move the focus", "Tab, Shift+Tab"),
    ("Dialogs", "Close a dialog", QKeySequence.StandardKey.Cancel),
)


def _plain(text: str) -> str:
    """A menu text without its mnemonic ampersands and trailing ellipsis spacing."""
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&").strip()


def _shown(key: QKeySequence) -> str:
    """A key as people read it: Qt spells Shift+Tab as "Shift+Backtab"."""
    return key.toString(QKeySequence.SequenceFormat.NativeText).replace("Backtab", "Tab")


def _native(keys: QKeySequence.StandardKey | str) -> str:
    if isinstance(keys, QKeySequence.StandardKey):
        bound = QKeySequence.keyBindings(keys)  # the first is the usual one (not Ctrl+Ins, the Copy key)
        return _shown(bound[0]) if bound else ""
    return ", ".join(
        QKeySequence(part.strip()).toString(QKeySequence.SequenceFormat.NativeText) or part.strip()
        for part in keys.split(",")
    )


def menu_shortcuts(menu_bar: QMenuBar) -> list[Shortcut]:
    """Each action with a shortcut, under its top-level menu's name, in menu order."""
    out: list[Shortcut] = []

    def walk(group: str, actions: Iterable[QAction]) -> None:
        for act in actions:
            sub = act.menu()
            if isinstance(sub, QMenu):
                walk(group, sub.actions())
                continue
            keys = [k for k in act.shortcuts() if not k.isEmpty()]
            if act.isSeparator() or not keys:
                continue
            text = ", ".join(_shown(k) for k in keys)
            out.append(Shortcut(group, _plain(act.text()), text))

    for top in menu_bar.actions():
        sub = top.menu()
        if isinstance(sub, QMenu):
            walk(_plain(top.text()), sub.actions())
    return out


def all_shortcuts(menu_bar: QMenuBar) -> list[Shortcut]:
    return menu_shortcuts(menu_bar) + [Shortcut(g, a, _native(k)) for g, a, k in WIDGET_SHORTCUTS]


class ShortcutsDialog(QDialog):
    """A filterable, copyable table of shortcuts grouped by menu."""

    def __init__(self, shortcuts: Sequence[Shortcut], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("shortcutsDialog")
        self.setWindowTitle("Keyboard shortcuts")
        self.shortcuts = list(shortcuts)
        lay = QVBoxLayout(self)
        self.filter = QLineEdit(self)
        self.filter.setObjectName("shortcutsFilter")
        self.filter.setPlaceholderText("Find a shortcut or an action…")
        self.filter.setClearButtonEnabled(True)
        self.filter.setAccessibleName("Find a shortcut")
        lay.addWidget(self.filter)
        self.table = QTableWidget(len(self.shortcuts), 3, self)
        self.table.setObjectName("shortcutsTable")
        self.table.setHorizontalHeaderLabels(["Where", "Action", "Keys"])
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(self.table.fontMetrics().height() + 8)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        for row, sc in enumerate(self.shortcuts):
            for col, text in enumerate((sc.group, sc.action, sc.keys)):
                item = QTableWidgetItem(text)  # plain text: QTableWidgetItem never renders markup
                if col == 2:
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                self.table.setItem(row, col, item)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        lay.addWidget(self.table, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)
        self.filter.textChanged.connect(self.apply_filter)
        self.resize(680, 560)

    def apply_filter(self, text: str) -> int:
        """Hide the rows that do not contain ``text`` (case-insensitive); returns the rows shown."""
        needle = text.strip().casefold()
        shown = 0
        for row, sc in enumerate(self.shortcuts):
            hit = not needle or any(needle in part.casefold() for part in (sc.group, sc.action, sc.keys))
            self.table.setRowHidden(row, not hit)
            shown += hit
        return shown

    def keys_for(self, action: str) -> str | None:
        """The keys listed for an action (by its menu text without '&'), for tests and callers."""
        return next((sc.keys for sc in self.shortcuts if sc.action == action), None)


__all__ = ["Shortcut", "ShortcutsDialog", "all_shortcuts", "menu_shortcuts"]
