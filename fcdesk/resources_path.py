"""The one way to find a bundled resource file (icons, the demo snapshot, the desktop entry).

The files live in the top-level ``resources/`` folder of the repository. They are shipped as the
package ``fcdesk.resources``, so the location depends on how fcdesk runs:

1. frozen by PyInstaller: ``sys._MEIPASS/fcdesk/resources`` (the spec's ``datas`` put them there);
2. installed from a wheel, or editable install: wherever ``fcdesk.resources`` is importable from
   (site-packages, or ``<repo>/resources`` through the editable finder);
3. plain source checkout on ``sys.path`` without any install: ``<repo>/resources``.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path, PurePosixPath, PureWindowsPath

_PACKAGE = "fcdesk.resources"


def resources_dir() -> Path:
    """The folder holding the resource files (it is not created; it may be missing if broken)."""
    meipass = getattr(sys, "_MEIPASS", None)
    if getattr(sys, "frozen", False) and meipass:
        return Path(meipass) / "fcdesk" / "resources"
    try:
        spec = importlib.util.find_spec(_PACKAGE)
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidate = Path(location)
            if candidate.is_dir():
                return candidate
    # Source checkout: fcdesk/ and resources/ are siblings.
    return Path(__file__).resolve().parent.parent / "resources"


def resource_path(name: str) -> Path:
    """Absolute path of the resource ``name`` (a relative POSIX path such as ``"icons/app.svg"``).

    Raises ``ValueError`` for absolute names or names that climb out of the resources folder. The
    file's existence is not checked: callers decide whether a missing file is an error.
    """
    relative = PurePosixPath(name)
    if not name or relative.is_absolute() or PureWindowsPath(name).anchor or ".." in relative.parts:
        raise ValueError(f"not a resource name: {name!r}")
    return resources_dir().joinpath(*relative.parts)
