"""Names that identify fcdesk to the desktop, in one place (the version lives in ``fcdesk._version``).

``APP_ID`` is the reverse-DNS id shared by the desktop entry (``<APP_ID>.desktop``), the AppStream
metadata (``<APP_ID>.metainfo.xml``), the Wayland app id / X11 WM class the window announces
(``QGuiApplication.setDesktopFileName(APP_ID)``) and the installed icon name.
"""

from __future__ import annotations

from fcdesk._version import __version__

APP_ID = "dev.fcdesk.fcdesk"
APP_NAME = "fcdesk"  #: executables, the per-user folders (platformdirs), QApplication.applicationName
DISPLAY_NAME = "fcdesk"
LONG_NAME = "Foundry Compliance Desk"
SUMMARY = "Guardrails, guardrail policies and security posture of Azure AI model deployments"
ICON_NAME = APP_ID  #: the themed icon name (hicolor/<size>/apps/<ICON_NAME>.png|svg)
SNAPSHOT_MIME = "application/x-fcdesk-snapshot"
#: The day ``__version__`` was released (ISO 8601): the AppStream <release> entry says it. Bump it
#: together with ``fcdesk/_version.py``.
RELEASE_DATE = "2026-11-26"

__all__ = [
    "APP_ID",
    "APP_NAME",
    "DISPLAY_NAME",
    "ICON_NAME",
    "LONG_NAME",
    "RELEASE_DATE",
    "SNAPSHOT_MIME",
    "SUMMARY",
    "__version__",
]
