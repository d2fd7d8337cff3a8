"""The contract every workspace tab follows, so the main window and the self-test can drive them alike."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QWidget

from fcdesk.models.workspace import WorkspaceContext
from fcdesk.views.widgets import DetailPanel


class WorkspaceTab(QWidget):
    """A tab of the compliance workspace.

    Subclasses build their widgets in ``__init__``, fill them in :meth:`reload` and put the selected
    row's details into :attr:`detail`, which the main window shows in its Details dock.

    When the context's data or scope changes, a *visible* tab reloads at once; a hidden one is only
    marked stale and reloads when it is shown, when asked for its rows, or when the window catches
    stale tabs up one per event-loop turn (:meth:`ensure_fresh`). A refresh that pushes new data
    several times a second then costs the GUI thread one tab's reload per push, not four.

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
        self._stale = False
        context.inventoryChanged.connect(self._data_changed)
        context.scopeChanged.connect(self._data_changed)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in ("rows_shown", "select_first"):  # answers must reflect the current data
            fn = cls.__dict__.get(name)
            if fn is not None:
                setattr(cls, name, _fresh_first(fn))

    @property
    def stale(self) -> bool:
        return self._stale

    def _data_changed(self) -> None:
        if self.isVisible():
            self._stale = False
            self.reload()
        else:
            self._stale = True

    def ensure_fresh(self) -> None:
        """Reload now if the data changed while the tab was hidden."""
        if self._stale:
            self._stale = False
            self.reload()

    def showEvent(self, event: QShowEvent) -> None:
        self.ensure_fresh()
        super().showEvent(event)

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


def _fresh_first(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(self: WorkspaceTab, *args: Any, **kwargs: Any) -> Any:
        self.ensure_fresh()
        return fn(self, *args, **kwargs)

    return wrapper
