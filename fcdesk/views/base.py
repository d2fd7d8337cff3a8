"""The contract every workspace tab follows, so the main window and the self-test can drive them alike."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget

from fcdesk.models.workspace import WorkspaceContext
from fcdesk.views.widgets import DetailPanel


class WorkspaceTab(QWidget):
    """A tab of the compliance workspace.

    Subclasses build their widgets in ``__init__``, fill them in :meth:`reload` (called on
    ``inventoryChanged`` and ``scopeChanged`` of the injected context) and put the selected row's
    details into :attr:`detail`, which the main window shows in its Details dock.

    Signals:
        titleChanged(str): the tab's title changed (e.g. a count of items needing attention).
        switchRequested(str): the tab asks the window to show another tab, by key ("policies", "assets").
    """

    titleChanged = Signal(str)
    switchRequested = Signal(str)

    key = "tab"  #: stable id used in settings and the self-test
    base_title = "Tab"

    def __init__(self, context: WorkspaceContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.detail = DetailPanel()
        context.inventoryChanged.connect(self.reload)
        context.scopeChanged.connect(self.reload)

    def title(self) -> str:
        return self.base_title

    def reload(self) -> None:
        """Re-read ``self.context.inventory`` within ``self.context.scope``."""
        raise NotImplementedError

    def rows_shown(self) -> int:
        """Rows currently visible in the tab's main table (after filters): reported by the self-test."""
        raise NotImplementedError

    def select_first(self) -> bool:
        """Select the first row so the detail dock fills (used by the self-test). False if empty."""
        raise NotImplementedError

    def focus_filter(self) -> None:
        """Put the keyboard focus in the tab's filter field (Ctrl+F)."""
