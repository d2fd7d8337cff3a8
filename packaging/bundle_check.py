"""What an fcdesk build carries, as one JSON object: the same report inside and outside the bundle.

Inside the frozen app: ``FCDESK_BUNDLE_CHECK=1 dist/fcdesk/fcdesk`` (see ``launch.py``). From
source: ``.venv/bin/python packaging/bundle_check.py``. tests/test_packaging.py runs both with the
same environment and compares them, so "the frozen app finds the same keyring backend" or "uses
aiohttp's C parser" is a fact checked on every test run, not a hope. Keys:

- ``imports``: every hidden import of ``hidden_imports.py`` -> "ok" or the error;
- ``speedups``: each C speedup -> whether importing aiohttp loaded it as a compiled extension;
- ``keyring``: the backend ``keyring.get_keyring()`` picks, the entry points keyring finds, and for
  every backend class they name its priority or why it is not viable here;
- ``fcdesk_modules``: every module of the fcdesk package -> "ok" or the error;
- ``resources``: the files in the resources folder (``fcdesk.resources_path``), relative POSIX paths;
- ``images``: every SVG/PNG among them -> whether Qt renders it (the SVG needs Qt's svg plugins);
- ``user_dirs``: fcdesk's per-user folders (platformdirs), ``ssl``: whether OpenSSL finds CAs.

Exit status 1 when an import fails or an image does not render.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import json
import os
import pkgutil
import sys
from pathlib import Path
from typing import Any

from hidden_imports import C_SPEEDUPS, hidden_imports

IMAGE_SUFFIXES = (".svg", ".png")


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _import(module: str) -> str:
    try:
        importlib.import_module(module)
    except Exception as exc:  # noqa: BLE001 - reported, not raised: the report lists every failure
        return _error(exc)
    return "ok"


def _speedups() -> dict[str, bool]:
    """Run before anything imports the speedups by name: only what aiohttp itself loaded counts."""
    import aiohttp  # noqa: F401 - importing it is the point

    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    found: dict[str, bool] = {}
    for name in C_SPEEDUPS:
        module = sys.modules.get(name)
        origin = getattr(getattr(module, "__spec__", None), "origin", None) or ""
        found[name] = module is not None and origin.endswith(suffixes)
    return found


def _keyring() -> dict[str, Any]:
    from importlib.metadata import entry_points

    import keyring
    from keyring.backend import KeyringBackend

    chosen = keyring.get_keyring()
    points = sorted(entry_points(group="keyring.backends"), key=lambda ep: ep.name)
    classes: dict[str, Any] = {}
    for point in points:
        try:
            module = point.load()
        except Exception as exc:  # noqa: BLE001 - a backend that cannot load is part of the report
            classes[f"{point.value} (entry point {point.name})"] = _error(exc)
            continue
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, KeyringBackend)
                and value.__module__ == module.__name__
            ):
                try:
                    classes[f"{value.__module__}.{value.__name__}"] = value.priority
                except Exception as exc:  # noqa: BLE001 - not viable here: why is the interesting part
                    classes[f"{value.__module__}.{value.__name__}"] = f"not viable: {_error(exc)}"
    return {
        "backend": f"{type(chosen).__module__}.{type(chosen).__name__}",
        "entry_points": [point.name for point in points],
        "classes": classes,
    }


def _fcdesk_modules() -> dict[str, str]:
    import fcdesk

    names = sorted(
        info.name for info in pkgutil.walk_packages(fcdesk.__path__, "fcdesk.", onerror=lambda _name: None)
    )
    return {name: _import(name) for name in names}


def _resources() -> tuple[Path, list[str]]:
    from fcdesk.resources_path import resources_dir

    root = resources_dir()
    files = sorted(
        path.relative_to(root).as_posix()
        for path in root.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    )
    return root, files


def _images(root: Path, files: list[str]) -> dict[str, bool]:
    """Whether Qt renders each image the way fcdesk loads icons (QIcon), at 48 px."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QSize
    from PySide6.QtGui import QGuiApplication, QIcon

    app = QGuiApplication.instance() or QGuiApplication([sys.argv[0]])
    rendered = {
        name: not QIcon(str(root / name)).pixmap(QSize(48, 48)).isNull()
        for name in files
        if name.endswith(IMAGE_SUFFIXES)
    }
    del app
    return rendered


def _ssl() -> dict[str, bool]:
    import ssl

    import certifi

    found = ssl.get_default_verify_paths()
    return {
        "openssl_finds_cas": bool(found.cafile or found.capath),
        "certifi": Path(certifi.where()).is_file(),
    }


def report() -> dict[str, Any]:
    """The whole report (see the module docstring). Imports a lot: run it in a process of its own."""
    from fcdesk.store import paths

    speedups = _speedups()
    root, files = _resources()
    return {
        "frozen": bool(getattr(sys, "frozen", False)),
        "python": sys.version.split()[0],
        "imports": {module: _import(module) for module in hidden_imports()},
        "speedups": speedups,
        "keyring": _keyring(),
        "fcdesk_modules": _fcdesk_modules(),
        "resources": files,
        "images": _images(root, files),
        "user_dirs": {"data": str(paths.data_dir()), "config": str(paths.config_dir())},
        "ssl": _ssl(),
    }


def main() -> int:
    result = report()
    print(json.dumps(result, indent=2, sort_keys=True))
    imports = {**result["imports"], **result["fcdesk_modules"]}
    failed = [name for name, state in imports.items() if state != "ok"]
    failed += [name for name, rendered in result["images"].items() if not rendered]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
