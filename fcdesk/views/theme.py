"""Light and dark appearance: follow the system, or the user's choice in View → Appearance.

* **Follow system** (the default): the platform's own style and palette are left alone (native
  look, and the platform switches them itself when the user turns on dark mode). fcdesk only picks
  the matching cell colours, and follows ``QStyleHints.colorSchemeChanged`` at run time.
* **Light** / **Dark**: the Fusion style with fcdesk's own palette, the same on every platform, so
  a forced choice looks deliberate rather than half-applied to a native style.

The cell colours live in ONE mutable :class:`~fcdesk.models.palette.StateColors` shared by all
models; switching rewrites it in place (:meth:`StateColors.use`) and the views repaint. Widgets
that baked a colour into a style sheet listen to ``ThemeController.changed`` (or to the
application palette change event).
"""

from __future__ import annotations

import enum
import logging
from typing import Protocol

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QStyleFactory

from fcdesk.models.palette import DARK, LIGHT, StateColors

log = logging.getLogger(__name__)

SETTING_KEY = "appearance"


class Appearance(enum.StrEnum):
    SYSTEM = "system"
    LIGHT = "light"
    DARK = "dark"

    @property
    def label(self) -> str:
        return {"system": "Follow &system", "light": "&Light", "dark": "&Dark"}[self.value]


class _Settings(Protocol):
    def get(self, key: str, default: object = None) -> object: ...
    def set(self, key: str, value: object) -> None: ...


def _palette(dark: bool) -> QPalette:
    """fcdesk's Fusion palette: neutral greys, one accent, readable disabled text, WCAG-AA contrast."""
    role, group = QPalette.ColorRole, QPalette.ColorGroup
    if dark:
        window, base, alt, text, button = "#202124", "#18191b", "#242528", "#e8e8ea", "#2b2c30"
        highlight, highlighted_text, link, mid, disabled = (
            "#3d6fb6",
            "#ffffff",
            "#8ab4f8",
            "#3a3b3f",
            "#8a8c91",
        )
        tooltip_base, tooltip_text, placeholder = "#2b2c30", "#e8e8ea", "#9a9ca1"
    else:
        window, base, alt, text, button = "#f3f3f5", "#ffffff", "#f6f7f9", "#1b1c1e", "#f7f7f8"
        highlight, highlighted_text, link, mid, disabled = (
            "#2f6fc4",
            "#ffffff",
            "#1a5fb4",
            "#c9cacd",
            "#8a8c91",
        )
        tooltip_base, tooltip_text, placeholder = "#ffffe8", "#1b1c1e", "#6e7075"
    pal = QPalette()
    colours = {
        role.Window: window,
        role.WindowText: text,
        role.Base: base,
        role.AlternateBase: alt,
        role.Text: text,
        role.Button: button,
        role.ButtonText: text,
        role.BrightText: "#ff6b6b" if dark else "#b3261e",
        role.Highlight: highlight,
        role.HighlightedText: highlighted_text,
        role.Link: link,
        role.LinkVisited: link,
        role.ToolTipBase: tooltip_base,
        role.ToolTipText: tooltip_text,
        role.PlaceholderText: placeholder,
        role.Mid: mid,
        role.Midlight: alt,
        role.Dark: "#0f1011" if dark else "#a0a1a5",
        role.Shadow: "#000000" if dark else "#6e7075",
        role.Light: "#3a3b3f" if dark else "#ffffff",
    }
    for r, c in colours.items():
        pal.setColor(r, QColor(c))
    for r in (role.WindowText, role.Text, role.ButtonText):
        pal.setColor(group.Disabled, r, QColor(disabled))
    pal.setColor(group.Disabled, role.Highlight, QColor(mid))
    return pal


def light_palette() -> QPalette:
    return _palette(False)


def dark_palette() -> QPalette:
    return _palette(True)


def palette_is_dark(palette: QPalette) -> bool:
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


class ThemeController(QObject):
    """Applies an :class:`Appearance` to the application and keeps ``colors`` in step.

    Signals:
        changed(bool): the effective appearance changed; True when it is now dark.
    """

    changed = Signal(bool)

    def __init__(self, app: QApplication, colors: StateColors, settings: _Settings | None = None) -> None:
        super().__init__()  # owned by the window's services, not by the app: tests build many windows
        self._app = app
        self._colors = colors
        self._settings = settings
        # What the platform gave us, to go back to when the user returns to "Follow system".
        self._native_style = app.style().name()
        self._native_palette = QPalette(app.palette())
        self._appearance = Appearance.SYSTEM
        self._dark = colors.dark
        stored = settings.get(SETTING_KEY) if settings is not None else None
        if isinstance(stored, str) and stored in Appearance._value2member_map_:
            self._appearance = Appearance(stored)
        app.styleHints().colorSchemeChanged.connect(self._system_scheme_changed)
        self._apply()

    @property
    def appearance(self) -> Appearance:
        return self._appearance

    @property
    def dark(self) -> bool:
        """Whether the window is dark now."""
        return self._dark

    def system_is_dark(self) -> bool:
        """The platform's preference (Qt's colour scheme; the native palette when the platform does not say)."""
        scheme = self._app.styleHints().colorScheme()
        if scheme == Qt.ColorScheme.Dark:
            return True
        if scheme == Qt.ColorScheme.Light:
            return False
        return palette_is_dark(self._native_palette)

    def set_appearance(self, appearance: Appearance) -> None:
        """Switch now and remember the choice (saved with the other settings when the window closes)."""
        self._appearance = Appearance(appearance)
        if self._settings is not None:
            self._settings.set(SETTING_KEY, self._appearance.value)
        self._apply()

    def _system_scheme_changed(self, _scheme: Qt.ColorScheme) -> None:
        if self._appearance is Appearance.SYSTEM:
            # Depending on the platform, the hint may come before the new palette: read it next turn.
            QTimer.singleShot(0, self, self._follow_system)

    def _follow_system(self) -> None:
        if self._appearance is Appearance.SYSTEM:
            self._native_palette = QPalette(QGuiApplication.palette())
            self._apply()

    def _apply(self) -> None:
        if self._appearance is Appearance.SYSTEM:
            dark = self.system_is_dark()
            if self._app.style().name().lower() != self._native_style.lower():
                self._set_style(self._native_style)
            self._app.setPalette(self._native_palette)
        else:
            dark = self._appearance is Appearance.DARK
            self._set_style("Fusion")
            self._app.setPalette(_palette(dark))
        self._colors.use(DARK if dark else LIGHT)
        was = self._dark
        self._dark = dark
        log.debug("appearance %s: %s", self._appearance.value, "dark" if dark else "light")
        if was != dark:
            self.changed.emit(dark)

    def _set_style(self, name: str) -> None:
        if self._app.style().name().lower() == name.lower():
            return
        style = QStyleFactory.create(name)
        if style is not None:
            self._app.setStyle(style)
