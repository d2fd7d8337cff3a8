"""The contract every workspace tab follows, so the main window and the self-test can drive them alike."""

from __future__ import annotations

import base64
import binascii
import functools
import logging
from collections.abc import Callable, Mapping
from typing import Any

from PySide6.QtCore import QByteArray, Signal
from PySide6.QtGui import QDesktopServices, QShowEvent
from PySide6.QtWidgets import QAbstractButton, QComboBox, QLineEdit, QSplitter, QWidget

from fcdesk.core.portal import PortalLink, resource_link
from fcdesk.models.workspace import WorkspaceContext
from fcdesk.views.widgets import DataTable, DetailPanel, OpenUrl

log = logging.getLogger(__name__)

#: Bumped when the meaning of a saved view state changes: older states are then ignored.
VIEW_STATE_VERSION = 1
#: Widgets whose value a view state keeps (see :meth:`WorkspaceTab.state_widgets`).
StateWidget = QLineEdit | QAbstractButton | QComboBox | QSplitter


class WorkspaceTab(QWidget):
    """A tab of the compliance workspace.

    Subclasses build their widgets in ``__init__``, fill them in :meth:`reload` and put the selected
    row's details into :attr:`detail`, which the main window shows in its Details dock.

    When the context's data or scope changes, a *visible* tab reloads at once; a hidden one is only
    marked stale and reloads when it is shown, when asked for its rows, or when the window catches
    stale tabs up one per event-loop turn (:meth:`ensure_fresh`). A refresh that pushes new data
    several times a second then costs the GUI thread one tab's reload per push, not four.

    ``open_url`` opens links in the browser (default ``QDesktopServices.openUrl``; tests inject a
    recorder). :meth:`view_state` / :meth:`restore_view_state` carry what the user set up in the tab
    (filters, toggles, column widths, order and sorting) from one session to the next.

    Signals:
        titleChanged(str): the tab's title changed (e.g. a count of items needing attention).
        switchRequested(str): the tab asks the window to show another tab, by key ("policies", "assets").
    """

    titleChanged = Signal(str)
    switchRequested = Signal(str)

    key = "tab"  #: stable id used in settings and the self-test
    base_title = "Tab"

    def __init__(
        self, context: WorkspaceContext, parent: QWidget | None = None, *, open_url: OpenUrl | None = None
    ) -> None:
        super().__init__(parent)
        self.context = context
        self.detail = DetailPanel()
        self.open_url: OpenUrl = open_url or QDesktopServices.openUrl
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

    def colors_changed(self) -> None:
        """The shared cell colours switched (light ↔ dark). Models read them when painting, but
        some cache them per configuration: reload like a data change (a hidden tab only goes stale).
        Tabs that bake colours into widgets (legends) override this and call it."""
        self._data_changed()

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

    # ------------------------------------------------------------------ row context menus

    def portal_link(self, resource_id: str) -> PortalLink:
        """The resource's page in the portal of the cloud the data came from (or why there is none)."""
        meta = self.context.inventory.meta
        return resource_link(resource_id, meta.cloud, meta.tenant_id)

    def link_rows(
        self,
        table: DataTable,
        row_id: Callable[[Any], str],
        link: Callable[[Any], PortalLink] | None = None,
    ) -> None:
        """Give ``table``'s rows "Copy ID" and "Open in Azure portal" (``link``; by default the page of
        the resource ``row_id`` names), opened with this tab's :attr:`open_url`."""
        table.set_row_links(
            row_id,
            link or (lambda row: self.portal_link(row_id(row))),
            open_url=lambda url: self.open_url(url),  # looked up on use: tests may swap the opener
        )

    # ------------------------------------------------------------------ view state

    def state_widgets(self) -> dict[str, StateWidget]:
        """The filter widgets whose values :meth:`view_state` keeps, by a stable key.

        A line edit keeps its text, a checkable button whether it is checked, a combo box its
        current text and a splitter its sizes.
        """
        return {}

    def state_tables(self) -> list[DataTable]:
        """The tables whose header layout :meth:`view_state` keeps (by object name)."""
        return []

    def view_state(self) -> dict[str, Any]:
        """What the user set up in the tab, as JSON types (for ``Settings.set``)."""
        widgets: dict[str, Any] = {}
        for key, widget in self.state_widgets().items():
            value = _widget_value(widget)
            if value is not None:
                widgets[key] = value
        tables = {t.objectName(): t.view_state() for t in self.state_tables()}
        return {"version": VIEW_STATE_VERSION, "widgets": widgets, "tables": tables}

    def restore_view_state(self, state: Mapping[str, Any]) -> None:
        """Apply a :meth:`view_state`, typically saved by an earlier session.

        What does not fit (another version, another tab's tables, values of the wrong type, columns
        changed since) is left as it is, with a debug log. Nothing reloads: filters re-filter the
        rows already shown, and the sort is applied once, after the filters.
        """
        if not isinstance(state, Mapping) or state.get("version") != VIEW_STATE_VERSION:
            log.debug("%s: view state of another version or shape ignored", self.key)
            return
        widgets, tables = state.get("widgets", {}), state.get("tables", {})
        if not isinstance(widgets, Mapping) or not isinstance(tables, Mapping):
            log.debug("%s: view state of another shape ignored", self.key)
            return
        for key, widget in self.state_widgets().items():
            if key in widgets and not _set_widget_value(widget, widgets[key]):
                log.debug("%s: saved value of %r ignored", self.key, key)
        for table in self.state_tables():
            saved = tables.get(table.objectName())
            if isinstance(saved, Mapping):
                table.restore_view_state(saved)
            elif saved is not None:
                log.debug("%s: saved state of %s ignored", self.key, table.objectName())


def _fresh_first(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(self: WorkspaceTab, *args: Any, **kwargs: Any) -> Any:
        self.ensure_fresh()
        return fn(self, *args, **kwargs)

    return wrapper


def _widget_value(widget: StateWidget) -> str | bool | None:
    if isinstance(widget, QLineEdit):
        return widget.text()
    if isinstance(widget, QAbstractButton):
        return widget.isChecked() if widget.isCheckable() else None
    if isinstance(widget, QComboBox):
        return widget.currentText()
    if isinstance(widget, QSplitter):
        return bytes(widget.saveState().toBase64().data()).decode("ascii")
    return None


def _set_widget_value(widget: StateWidget, value: Any) -> bool:
    """Set a value saved by :func:`_widget_value`; False (nothing changed) if it does not fit."""
    if isinstance(widget, QLineEdit) and isinstance(value, str):
        widget.setText(value)  # emits only on a change: the same filter does not re-filter
        return True
    if isinstance(widget, QAbstractButton) and widget.isCheckable() and isinstance(value, bool):
        widget.setChecked(value)
        return True
    if isinstance(widget, QComboBox) and isinstance(value, str):
        index = widget.findText(value)
        if index >= 0:
            widget.setCurrentIndex(index)
        return index >= 0
    if isinstance(widget, QSplitter) and isinstance(value, str):
        try:
            raw = base64.b64decode(value.encode("ascii"), validate=True)
        except (UnicodeEncodeError, binascii.Error, ValueError):
            return False
        return bool(raw) and widget.restoreState(QByteArray(raw))
    return False
