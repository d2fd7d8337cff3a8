"""Remembered window geometry for dialogs: ``saveGeometry()`` bytes kept in the settings.

The settings hold them in memory (base64 in the JSON file); the main window writes the file when it
closes, so a dialog never writes to disk itself.
"""

from __future__ import annotations

from typing import Protocol

from PySide6.QtCore import QByteArray
from PySide6.QtWidgets import QWidget


class GeometryStore(Protocol):
    """What geometry needs from the settings (``fcdesk.store.settings.Settings`` fits)."""

    def get_bytes(self, key: str) -> bytes | None: ...
    def set_bytes(self, key: str, value: bytes) -> None: ...


def restore_geometry(widget: QWidget, settings: GeometryStore | None, key: str) -> bool:
    """Give ``widget`` the geometry stored under ``key``; False when there is none (keep the default)."""
    if settings is None:
        return False
    stored = settings.get_bytes(key)
    return bool(stored) and widget.restoreGeometry(QByteArray(stored))


def remember_geometry(widget: QWidget, settings: GeometryStore | None, key: str) -> None:
    """Keep ``widget``'s geometry under ``key`` (in memory: the settings are saved with the window)."""
    if settings is not None:
        settings.set_bytes(key, bytes(widget.saveGeometry().data()))
