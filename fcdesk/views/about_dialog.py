"""Help → About fcdesk: the version (from ``fcdesk._version``, the one place it lives), the
runtime, and where fcdesk keeps its files on this computer, with one button that copies all of it
for a bug report."""

from __future__ import annotations

import platform
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import PySide6
from PySide6.QtCore import Qt, QTimer, QUrl, qVersion
from PySide6.QtGui import QDesktopServices, QGuiApplication, QIcon
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from fcdesk.appinfo import LONG_NAME, SUMMARY, __version__
from fcdesk.views.widgets import PlainLabel, heading

#: (what, path) pairs: "Settings" → the settings file, "Snapshots" → the library folder, …
Locations = Sequence[tuple[str, Path]]


def runtime_lines() -> list[tuple[str, str]]:
    """The versions a bug report needs."""
    return [
        ("Version", __version__),
        ("Python", f"{platform.python_version()} ({platform.python_implementation()})"),
        ("Qt", f"{qVersion()} (PySide6 {PySide6.__version__})"),
        ("Platform", f"{platform.system()} {platform.release()} {platform.machine()}".strip()),
        ("Build", "frozen (PyInstaller)" if getattr(sys, "frozen", False) else "Python package"),
    ]


def about_text(locations: Locations) -> str:
    """Everything the dialog shows, as plain text (what "Copy" puts on the clipboard)."""
    lines = [f"fcdesk {__version__}: {LONG_NAME}"]
    lines += [f"{name}: {value}" for name, value in runtime_lines()[1:]]
    lines += [f"{name}: {path}" for name, path in locations]
    return "\n".join(lines)


class AboutDialog(QDialog):
    """Modeless; ``open_url`` is injectable so tests never launch a file manager."""

    def __init__(
        self,
        locations: Locations = (),
        parent: QWidget | None = None,
        *,
        open_url: Callable[[QUrl], bool] = QDesktopServices.openUrl,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("aboutDialog")
        self.setWindowTitle("About fcdesk")
        self._locations = list(locations)
        self._open_url = open_url
        lay = QVBoxLayout(self)
        lay.setSpacing(10)

        top = QHBoxLayout()
        icon = QLabel(self)
        icon.setObjectName("aboutIcon")
        app_icon = QGuiApplication.windowIcon()
        if not app_icon.isNull():
            icon.setPixmap(app_icon.pixmap(64, 64, QIcon.Mode.Normal))  # device-pixel-ratio aware
        top.addWidget(icon, 0, Qt.AlignmentFlag.AlignTop)
        titles = QVBoxLayout()
        titles.setSpacing(2)
        titles.addWidget(heading(f"fcdesk {__version__}"))
        titles.addWidget(PlainLabel(LONG_NAME, wrap=False))
        titles.addSpacing(6)
        titles.addWidget(PlainLabel(f"{SUMMARY}, online against Azure and offline from snapshots.", muted=True))
        titles.addStretch(1)
        top.addLayout(titles, 1)
        lay.addLayout(top)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        for name, value in runtime_lines()[1:]:
            form.addRow(f"{name}:", self._selectable(value))
        for name, path in self._locations:
            row = QHBoxLayout()
            row.addWidget(self._selectable(str(path)), 1)
            show = QPushButton("Show", self)
            show.setObjectName(f"show{name.replace(' ', '')}")
            show.setToolTip(f"Open the folder that holds it: {path.parent if path.suffix else path}")
            show.clicked.connect(lambda _=False, p=path: self._show(p))
            row.addWidget(show)
            form.addRow(f"{name}:", row)
        lay.addLayout(form)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        self.copy_button = buttons.addButton("&Copy details", QDialogButtonBox.ButtonRole.ActionRole)
        self.copy_button.setObjectName("aboutCopy")
        self.copy_button.setToolTip("Copy the version, runtime and file locations (for a bug report)")
        self.copy_button.clicked.connect(self.copy_details)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)
        self.resize(640, self.sizeHint().height())

    def _selectable(self, text: str) -> PlainLabel:
        label = PlainLabel(text, wrap=False)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        return label

    def copy_details(self) -> str:
        text = about_text(self._locations)
        QGuiApplication.clipboard().setText(text)
        self.copy_button.setText("Copied")
        QTimer.singleShot(2000, self, self._reset_copy)
        return text

    def _reset_copy(self) -> None:
        self.copy_button.setText("&Copy details")

    def _show(self, path: Path) -> bool:
        folder = path if path.is_dir() or not path.suffix else path.parent
        return bool(self._open_url(QUrl.fromLocalFile(str(folder))))
