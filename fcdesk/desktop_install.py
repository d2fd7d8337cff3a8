"""``fcdesk install-desktop``: put fcdesk in this user's application menu on Linux and BSD desktops.

::

    fcdesk install-desktop [--uninstall] [--data-home DIR] [--dry-run] [--verbose]

A pip, pipx or venv install only puts the ``fcdesk``/``fcdesk-gui`` scripts in a ``bin`` folder; the
desktop learns about an application from files in the per-user data folder (``$XDG_DATA_HOME``,
by default ``~/.local/share``), as the freedesktop specifications describe:

- ``applications/<APP_ID>.desktop``: the menu entry. ``Exec`` names this installation's launcher by
  its absolute path (found by :func:`launch_command`), so the entry works whatever is on the
  desktop session's ``PATH``; ``TryExec`` hides the entry once that launcher is gone;
- ``icons/hicolor/<N>x<N>/apps/<ICON_NAME>.png`` and ``icons/hicolor/scalable/apps/<ICON_NAME>.svg``;
- ``metainfo/<APP_ID>.metainfo.xml``: the AppStream description software centres show, with the
  release filled in from ``fcdesk._version`` (the committed file holds ``@VERSION@``/``@DATE@``, so
  the version number lives in one place);
- ``mime/packages/<APP_ID>.xml``: the ``.fcsnap`` file type, so file managers open snapshots with
  fcdesk.

The desktop's caches are then refreshed with ``update-desktop-database``, ``update-mime-database``
and ``gtk-update-icon-cache`` when they are installed: best effort, their failure never fails the
install. Windows and macOS have no such folders: their users use the shortcut of the packaged
build, and this command says so (exit 2).

Standard library only (plus :mod:`fcdesk.appinfo` and :mod:`fcdesk.resources_path`): it must run
where Qt cannot start, over SSH or before a display exists.

Exit codes: 0 done; 1 a file could not be read or written; 2 bad arguments, or not a Linux/BSD desktop.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fcdesk.appinfo import APP_ID, APP_NAME, ICON_NAME, RELEASE_DATE, __version__
from fcdesk.resources_path import resource_path

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2

#: The launchers a desktop entry may start, preferred first (``fcdesk-gui`` is the gui-script).
LAUNCHERS = (f"{APP_NAME}-gui", APP_NAME)
#: Platforms whose desktops follow the freedesktop specifications.
FREEDESKTOP_PLATFORMS = ("linux", "freebsd", "openbsd", "netbsd", "dragonfly")
#: Seconds each cache tool may take: they finish in well under a second on a per-user folder.
TOOL_TIMEOUT = 10.0

DESKTOP_ENTRY = f"{APP_ID}.desktop"
METAINFO = f"{APP_ID}.metainfo.xml"
MIME_PACKAGE = f"{APP_ID}.mime.xml"
#: Characters that oblige an Exec argument to be quoted (Desktop Entry Specification, "The Exec key").
_EXEC_RESERVED = frozenset(" \t\n\"'\\><~|&;$*?#()`")
_PLACEHOLDER = re.compile(r"@[A-Z_]+@")
#: What ``run`` prints before each path, by (uninstall, dry run).
_VERBS = {
    (False, False): "wrote",
    (False, True): "would write",
    (True, False): "removed",
    (True, True): "would remove",
}


class DesktopInstallError(Exception):
    """The install cannot go on; ``str(error)`` is one plain sentence for the user."""


class UnsupportedPlatform(DesktopInstallError):
    """Not a freedesktop (Linux/BSD) desktop."""


def default_data_home() -> Path:
    """``$XDG_DATA_HOME`` if set to an absolute path (the spec says to ignore a relative one), else
    ``~/.local/share``."""
    configured = os.environ.get("XDG_DATA_HOME", "")
    if configured and Path(configured).is_absolute():
        return Path(configured)
    return Path.home() / ".local" / "share"


def launch_command(exec_path: str | None = None) -> list[str]:
    """The command a menu entry runs to start this installation of fcdesk.

    ``exec_path`` wins when given. A PyInstaller build starts the launcher beside its own
    executable. A pip, pipx or venv install starts the ``fcdesk-gui`` script in the folder of
    ``sys.executable`` (not resolved: a venv's ``python`` is a symlink to the base interpreter, far
    from the scripts), else one found on ``PATH``, else ``python -m fcdesk`` with this interpreter.
    """
    if exec_path is not None:
        return [exec_path]
    here = Path(sys.executable).absolute().parent
    beside = [here / name for name in LAUNCHERS]
    found = next((str(path) for path in beside if _is_executable(path)), None)
    if getattr(sys, "frozen", False):
        return [found or str(Path(sys.executable).absolute())]
    found = found or next((which for name in LAUNCHERS if (which := shutil.which(name))), None)
    return [found] if found else [str(Path(sys.executable).absolute()), "-m", APP_NAME]


def quote_exec_argument(argument: str) -> str:
    """One argument of an ``Exec`` command line, quoted as the Desktop Entry Specification says.

    A literal ``%`` is doubled (it would start a field code); an argument with a reserved character
    is put in double quotes, inside which double quote, backtick, dollar and backslash take a
    backslash. The string-value escaping that comes on top (:func:`escape_string`) is left to the
    caller.
    """
    argument = argument.replace("%", "%%")
    if argument and not _EXEC_RESERVED.intersection(argument):
        return argument
    return '"' + re.sub(r'(["`$\\])', r"\\\1", argument) + '"'


def escape_string(value: str) -> str:
    """A value of type string as written in a desktop file (backslash, newline, tab, CR escaped)."""
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")


def exec_value(command: Sequence[str], field_codes: str = "%f") -> str:
    """The ``Exec=`` value that runs ``command`` followed by ``field_codes`` (e.g. ``%f``)."""
    program = command[0]
    if "=" in program:  # the spec forbids it in the program name, and no quoting lifts that
        raise DesktopInstallError(
            f'the launcher path "{program}" contains "=", which a desktop entry cannot hold'
        )
    try:
        "".join(command).encode("utf-8")
    except UnicodeEncodeError:  # a path in another encoding: desktop files are UTF-8 only
        raise DesktopInstallError(
            f"the launcher path {program!r} is not valid UTF-8, which a desktop entry needs"
        ) from None
    line = " ".join(quote_exec_argument(argument) for argument in command)
    return escape_string(line) + (f" {field_codes}" if field_codes else "")


def desktop_entry_text(command: Sequence[str]) -> str:
    """The committed desktop entry with ``Exec`` and ``TryExec`` pointing at ``command``."""
    lines = _read_text(DESKTOP_ENTRY).splitlines()
    out: list[str] = []
    for line in lines:
        key, sep, value = line.partition("=")
        if sep and key == "Exec":
            _program, _, field_codes = value.partition(" ")
            line = f"Exec={exec_value(command, field_codes)}"
        elif sep and key == "TryExec":
            line = f"TryExec={escape_string(command[0])}"
        out.append(line)
    return "\n".join(out) + "\n"


def metainfo_text() -> str:
    """The committed AppStream file with its release filled in (version and date)."""
    text = _read_text(METAINFO).replace("@VERSION@", __version__).replace("@DATE@", RELEASE_DATE)
    left = _PLACEHOLDER.search(text)
    if left:
        raise DesktopInstallError(f"{METAINFO} has a placeholder nothing fills in: {left.group()}")
    return text


def planned_files(data_home: Path, command: Sequence[str]) -> list[tuple[Path, bytes]]:
    """Every file :func:`install` writes under ``data_home``, with its content."""
    files: list[tuple[Path, bytes]] = [
        (data_home / "applications" / DESKTOP_ENTRY, desktop_entry_text(command).encode("utf-8"))
    ]
    for icon in _bundled_icons():
        relative = icon.relative_to(resource_path("icons"))
        files.append((data_home / "icons" / relative, icon.read_bytes()))
    files.append((data_home / "metainfo" / METAINFO, metainfo_text().encode("utf-8")))
    files.append((data_home / "mime" / "packages" / f"{APP_ID}.xml", _read_bytes(MIME_PACKAGE)))
    return files


def installed_files(data_home: Path) -> list[Path]:
    """The files of ours found under ``data_home`` (any icon size, whichever version wrote them)."""
    candidates = [data_home / "applications" / DESKTOP_ENTRY]
    hicolor = data_home / "icons" / "hicolor"
    candidates += sorted(p for suffix in (".png", ".svg") for p in hicolor.glob(f"*/apps/{ICON_NAME}{suffix}"))
    candidates += [data_home / "metainfo" / METAINFO, data_home / "mime" / "packages" / f"{APP_ID}.xml"]
    return [path for path in candidates if path.is_file()]


def install(
    data_home: Path | None = None,
    *,
    exec_path: str | None = None,
    dry_run: bool = False,
    verbose: bool = False,
) -> list[Path]:
    """Write the desktop entry, icons, AppStream file and MIME type under ``data_home`` (default
    :func:`default_data_home`), then refresh the desktop caches. Returns the files written (with
    ``dry_run``: that would be written, and nothing is touched).

    Raises :class:`UnsupportedPlatform` off Linux/BSD, :class:`DesktopInstallError` when a bundled
    file is missing or the launcher path cannot be written in a desktop entry, ``OSError`` when a
    file cannot be written.
    """
    _require_freedesktop()
    home = data_home if data_home is not None else default_data_home()
    files = planned_files(home, launch_command(exec_path))
    if dry_run:
        return [path for path, _ in files]
    for path, content in files:
        _write_atomically(path, content)
    refresh_caches(home, verbose=verbose)
    return [path for path, _ in files]


def uninstall(data_home: Path | None = None, *, dry_run: bool = False, verbose: bool = False) -> list[Path]:
    """Remove what :func:`install` wrote (found by name, so an older version's icon sizes go too) and
    the folders that leaves empty, then refresh the caches. Returns the files removed."""
    _require_freedesktop()
    home = data_home if data_home is not None else default_data_home()
    files = installed_files(home)
    if dry_run:
        return files
    for path in files:
        path.unlink(missing_ok=True)
        _prune_empty_parents(path.parent, stop=home)
    if files:
        refresh_caches(home, verbose=verbose)
    return files


def refresh_caches(data_home: Path, *, verbose: bool = False) -> None:
    """Tell the desktop about the change, with whichever cache tools are installed (best effort)."""
    commands = [
        ["update-desktop-database", str(data_home / "applications")],
        ["update-mime-database", str(data_home / "mime")],
        ["gtk-update-icon-cache", "-f", "-t", str(data_home / "icons" / "hicolor")],
    ]
    for command in commands:
        if shutil.which(command[0]) is None or not Path(command[-1]).is_dir():
            if verbose:
                print(f"fcdesk: skipped {command[0]} (not installed, or nothing to index)", file=sys.stderr)
            continue
        try:
            result = subprocess.run(
                command,
                capture_output=True,
                text=True,
                timeout=TOOL_TIMEOUT,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            if verbose:
                print(f"fcdesk: {command[0]} did not run: {exc}", file=sys.stderr)
            continue
        if verbose:
            print(f"fcdesk: {' '.join(command)} exited {result.returncode}", file=sys.stderr)
            for output in (result.stdout, result.stderr):
                if output.strip():
                    print(output.rstrip(), file=sys.stderr)


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``install-desktop`` subcommand to ``fcdesk``'s subparsers."""
    p = sub.add_parser(
        "install-desktop",
        help="add fcdesk to this user's application menu (Linux and BSD desktops)",
        description="Add fcdesk to this user's application menu: a desktop entry starting this "
        "installation, the icons, the AppStream description and the .fcsnap file type, under "
        "$XDG_DATA_HOME (default ~/.local/share). Exit codes: 0 done, 1 a file could not be written, "
        "2 bad arguments or not a Linux/BSD desktop.",
    )
    p.add_argument("--uninstall", action="store_true", help="remove what install-desktop added")
    p.add_argument(
        "--data-home", type=Path, metavar="DIR", help="use DIR instead of $XDG_DATA_HOME or ~/.local/share"
    )
    p.add_argument(
        "--dry-run", action="store_true", help="print what would be written or removed; change nothing"
    )
    p.add_argument("-v", "--verbose", action="store_true", help="show what the desktop cache tools said")
    return p


def run(args: argparse.Namespace) -> int:
    """``fcdesk install-desktop``: one line per file on standard output, notes on standard error."""
    verb = _VERBS[(args.uninstall, args.dry_run)]
    try:
        if args.uninstall:
            paths = uninstall(args.data_home, dry_run=args.dry_run, verbose=args.verbose)
        else:
            paths = install(args.data_home, dry_run=args.dry_run, verbose=args.verbose)
    except UnsupportedPlatform as exc:
        print(f"fcdesk: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except DesktopInstallError as exc:
        print(f"fcdesk: {exc}", file=sys.stderr)
        return EXIT_FAIL
    except OSError as exc:
        where = f' "{exc.filename}"' if exc.filename else ""
        print(f"fcdesk: could not change{where}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAIL
    for path in paths:
        print(f"{verb} {path}")
    if args.uninstall and not paths:
        print(f"fcdesk: nothing to remove under {args.data_home or default_data_home()}", file=sys.stderr)
    elif not args.uninstall:
        command = " ".join(quote_exec_argument(argument) for argument in launch_command())
        print(f"fcdesk: the menu entry starts {command}", file=sys.stderr)
    return EXIT_OK


def _require_freedesktop() -> None:
    if not sys.platform.startswith(FREEDESKTOP_PLATFORMS):
        raise UnsupportedPlatform(
            "install-desktop only applies to Linux and BSD desktops; on Windows and macOS use the "
            "shortcut or application bundle of the packaged fcdesk build"
        )


def _bundled_icons() -> list[Path]:
    icons = sorted(resource_path("icons/hicolor").glob(f"*/apps/{ICON_NAME}.*"))
    if not icons:
        raise DesktopInstallError(f"the bundled icons are missing from {resource_path('icons/hicolor')}")
    return icons


def _read_bytes(name: str) -> bytes:
    path = resource_path(name)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise DesktopInstallError(f'the bundled file "{path}" cannot be read: {exc.strerror or exc}') from exc


def _read_text(name: str) -> str:
    return _read_bytes(name).decode("utf-8")


def _write_atomically(path: Path, content: bytes) -> None:
    """Write through a temporary file, so a desktop watching the folder never reads half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        temporary.write_bytes(content)
        temporary.chmod(0o644)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _prune_empty_parents(folder: Path, *, stop: Path) -> None:
    """Remove ``folder`` and its parents while empty, up to (not including) the category folders
    directly under ``stop`` (``applications``, ``icons``, ``metainfo``, ``mime``)."""
    while folder.parent != stop and folder != stop and stop in folder.parents:
        try:
            folder.rmdir()
        except OSError:  # not empty (or not ours to remove): stop here
            return
        folder = folder.parent


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)
