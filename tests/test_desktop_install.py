"""Desktop integration: the icon set, the desktop entry, AppStream, the MIME type, ``fcdesk
install-desktop``, and the wheel that pip and pipx install."""

from __future__ import annotations

import configparser
import importlib.metadata
import importlib.util
import os
import shutil
import sqlite3
import stat
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from types import ModuleType

import pytest
from PySide6.QtGui import QImage, QImageReader

from fcdesk import __version__, desktop_install
from fcdesk.appinfo import APP_ID, APP_NAME, DISPLAY_NAME, ICON_NAME, RELEASE_DATE, SNAPSHOT_MIME, SUMMARY
from fcdesk.cli import run
from fcdesk.desktop_install import DesktopInstallError, exec_value, install, launch_command, uninstall
from fcdesk.resources_path import resource_path
from fcdesk.store.snapshot import APPLICATION_ID

REPO = Path(__file__).resolve().parents[1]
RESOURCES = REPO / "resources"
MIME_NS = {"m": "http://www.freedesktop.org/standards/shared-mime-info"}
#: A launcher path with everything the Exec quoting rules care about: space, quote, $, backslash, %.
AWKWARD_LAUNCHER = '/opt/My Apps/"fc" $desk\\bin 100%/fcdesk-gui'


def _load_render_icons() -> ModuleType:
    """packaging/ is a folder of scripts, not a package: load the renderer from its file."""
    spec = importlib.util.spec_from_file_location("render_icons", REPO / "packaging" / "render_icons.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


render_icons = _load_render_icons()


def read_desktop_entry(path: Path) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read_string(path.read_text(encoding="utf-8"))
    assert parser.sections() == ["Desktop Entry"]
    return dict(parser["Desktop Entry"])


def parse_exec(value: str) -> list[str]:
    """Split an Exec value back into arguments, the way the Desktop Entry Specification reads it:
    string escapes first, then quoting; ``%%`` becomes ``%`` and ``%f`` is kept as a field code."""
    unescaped, i = [], 0
    while i < len(value):
        if value[i] == "\\" and i + 1 < len(value):
            unescaped.append({"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}[value[i + 1]])
            i += 2
        else:
            unescaped.append(value[i])
            i += 1
    text = "".join(unescaped)
    arguments: list[str] = []
    current: list[str] = []
    quoted = in_argument = False
    i = 0
    while i < len(text):
        char = text[i]
        if quoted and char == "\\":
            assert text[i + 1] in '"`$\\', f"bad escape in a quoted argument: {text[i : i + 2]!r}"
            current.append(text[i + 1])
            i += 2
            continue
        if char == '"':
            quoted, in_argument = not quoted, True
        elif char == " " and not quoted:
            if in_argument:
                arguments.append("".join(current))
            current, in_argument = [], False
        else:
            assert quoted or char not in "\"'\\><~|&;$*?#()`\t\n", f"reserved {char!r} outside quotes"
            assert not quoted or char not in "`$", f"unescaped {char!r} inside quotes"
            current.append(char)
            in_argument = True
        i += 1
    assert not quoted, "unterminated quote"
    if in_argument:
        arguments.append("".join(current))
    return [argument if argument == "%f" else argument.replace("%%", "%") for argument in arguments]


def validate_with_desktop_file_validate(path: Path) -> None:
    """The reference validator, where installed (desktop-file-utils); the parsing above always runs."""
    tool = shutil.which("desktop-file-validate")
    if tool is not None:
        result = subprocess.run([tool, str(path)], capture_output=True, text=True, timeout=30, check=False)
        assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


# --------------------------------------------------------------------------------------------
# Icons


def test_the_window_icon_and_every_hicolor_size_are_committed() -> None:
    assert resource_path("icons/fcdesk.svg").is_file()  # fcdesk/gui.py's window icon
    found = sorted(RESOURCES.glob("icons/hicolor/*/apps/*"))
    expected = [render_icons.png_path(size) for size in render_icons.SIZES] + [render_icons.scalable_path()]
    assert sorted(found) == sorted(expected)
    assert render_icons.SIZES == (16, 24, 32, 48, 64, 128, 256, 512)
    assert all(path.name.startswith(f"{ICON_NAME}.") for path in found)


@pytest.mark.parametrize("size", render_icons.SIZES)
def test_each_png_has_its_size_and_matches_a_fresh_render_of_the_svg(qapp, size: int) -> None:
    committed = QImage(str(render_icons.png_path(size)))
    assert not committed.isNull()
    assert (committed.width(), committed.height()) == (size, size)
    assert committed.hasAlphaChannel()
    fresh = render_icons.render(RESOURCES / "icons" / "fcdesk.svg", size)
    assert render_icons.matches(committed, fresh), (
        f"{size}x{size} PNG no longer matches fcdesk.svg: run `python packaging/render_icons.py`"
    )


def test_the_comparison_ignores_rendering_noise_but_sees_a_changed_picture(qapp) -> None:
    fresh = render_icons.render(RESOURCES / "icons" / "fcdesk.svg", 32)
    noisy = fresh.copy()
    pixel = noisy.pixelColor(16, 16)
    pixel.setRed(pixel.red() + 3 if pixel.red() < 128 else pixel.red() - 3)
    noisy.setPixelColor(16, 16, pixel)
    assert noisy != fresh and render_icons.matches(noisy, fresh)

    changed = fresh.copy()
    for x in range(10, 16):
        for y in range(10, 16):
            changed.setPixelColor(x, y, fresh.pixelColor(0, 0))  # a 6x6 transparent hole in the shield
    assert not render_icons.matches(changed, fresh)
    assert not render_icons.matches(render_icons.render(RESOURCES / "icons" / "fcdesk.svg", 24), fresh)


def test_the_scalable_icon_is_the_svg_and_the_ico_holds_the_committed_pngs(qapp) -> None:
    assert render_icons.scalable_path().read_bytes() == (RESOURCES / "icons" / "fcdesk.svg").read_bytes()
    data = (RESOURCES / "icons" / "fcdesk.ico").read_bytes()
    reserved, kind, count = struct.unpack_from("<HHH", data, 0)
    assert (reserved, kind, count) == (0, 1, len(render_icons.ICO_SIZES))
    for index, size in enumerate(render_icons.ICO_SIZES):
        width, height, _colors, _reserved, _planes, bits, length, offset = struct.unpack_from(
            "<BBBBHHII", data, 6 + 16 * index
        )
        assert (width or 256, height or 256, bits) == (size, size, 32)
        assert data[offset : offset + length] == render_icons.png_path(size).read_bytes()
    reader = QImageReader(str(RESOURCES / "icons" / "fcdesk.ico"))
    assert reader.imageCount() == len(render_icons.ICO_SIZES)
    assert render_icons.drifted() == []


# --------------------------------------------------------------------------------------------
# The committed desktop entry, AppStream file and MIME type


def test_the_desktop_entry_names_fcdesk_and_opens_snapshots() -> None:
    assert not (RESOURCES / "fcdesk.desktop").exists()  # renamed to the application id
    path = RESOURCES / f"{APP_ID}.desktop"
    entry = read_desktop_entry(path)
    assert entry["Type"] == "Application"
    assert entry["Name"] == DISPLAY_NAME and entry["GenericName"] and entry["Comment"] == SUMMARY
    assert entry["Icon"] == ICON_NAME and entry["Terminal"] == "false" and entry["StartupNotify"] == "true"
    assert entry["StartupWMClass"] == APP_NAME  # Qt's X11 WM_CLASS class is the applicationName
    assert entry["MimeType"].split(";") == [SNAPSHOT_MIME, ""]
    categories = entry["Categories"].split(";")
    assert categories[-1] == "" and {"System", "Security", "Qt"} <= set(categories)
    assert entry["Keywords"].endswith(";") and "Azure" in entry["Keywords"].split(";")
    assert parse_exec(entry["Exec"]) == [f"{APP_NAME}-gui", "%f"]
    assert entry["TryExec"] == f"{APP_NAME}-gui"
    validate_with_desktop_file_validate(path)


def test_the_metainfo_describes_fcdesk_and_leaves_the_version_to_the_installer() -> None:
    root = ET.parse(RESOURCES / f"{APP_ID}.metainfo.xml").getroot()
    assert root.tag == "component" and root.get("type") == "desktop-application"
    assert root.findtext("id") == APP_ID
    assert root.findtext("metadata_license") in {"CC0-1.0", "FSFAP"}
    assert root.findtext("project_license")
    assert root.findtext("name") == DISPLAY_NAME and root.findtext("summary") == SUMMARY
    paragraphs = root.findall("description/p")
    assert len(paragraphs) >= 2 and all(len((p.text or "").split()) > 5 for p in paragraphs)
    launchable = root.find("launchable")
    assert launchable is not None and launchable.get("type") == "desktop-id"
    assert launchable.text == f"{APP_ID}.desktop"
    assert {b.text for b in root.findall("provides/binary")} == {APP_NAME, f"{APP_NAME}-gui"}
    assert [m.text for m in root.findall("provides/mediatype")] == [SNAPSHOT_MIME]
    assert root.findall("categories/category") and root.findall("keywords/keyword")
    rating = root.find("content_rating")
    assert rating is not None and rating.get("type") == "oars-1.1"
    releases = root.findall("releases/release")
    assert [(r.get("version"), r.get("date")) for r in releases] == [("@VERSION@", "@DATE@")]


def test_the_mime_type_matches_the_snapshot_header() -> None:
    root = ET.parse(RESOURCES / f"{APP_ID}.mime.xml").getroot()
    (mime,) = root.findall("m:mime-type", MIME_NS)
    assert mime.get("type") == SNAPSHOT_MIME
    assert [g.get("pattern") for g in mime.findall("m:glob", MIME_NS)] == ["*.fcsnap"]
    assert [s.get("type") for s in mime.findall("m:sub-class-of", MIME_NS)] == ["application/vnd.sqlite3"]
    magic = mime.find("m:magic", MIME_NS)
    assert magic is not None and int(magic.get("priority", "50")) > 50  # above SQLite's own magic
    (outer,) = magic.findall("m:match", MIME_NS)
    (inner,) = outer.findall("m:match", MIME_NS)
    header = (RESOURCES / "demo.fcsnap").read_bytes()[:100]
    assert outer.get("type") == "string" and outer.get("offset") == "0"
    assert outer.get("value", "").replace("\\0", "\0").encode() == header[:16] == b"SQLite format 3\0"
    assert inner.get("type") == "big32" and inner.get("offset") == "68"
    assert int(inner.get("value", ""), 16) == APPLICATION_ID == int.from_bytes(header[68:72], "big")


# --------------------------------------------------------------------------------------------
# install() / uninstall()


@pytest.fixture
def data_home(tmp_path: Path) -> Path:
    return tmp_path / "data home"


def expected_files(home: Path) -> set[Path]:
    icons = {
        home / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{ICON_NAME}.png"
        for size in render_icons.SIZES
    }
    return icons | {
        home / "icons" / "hicolor" / "scalable" / "apps" / f"{ICON_NAME}.svg",
        home / "applications" / f"{APP_ID}.desktop",
        home / "metainfo" / f"{APP_ID}.metainfo.xml",
        home / "mime" / "packages" / f"{APP_ID}.xml",
    }


def test_install_writes_every_file_with_a_quoted_absolute_launcher(data_home: Path) -> None:
    written = install(data_home, exec_path=AWKWARD_LAUNCHER)

    assert set(written) == expected_files(data_home) and len(written) == len(set(written))
    assert all(path.is_file() for path in written)
    desktop = data_home / "applications" / f"{APP_ID}.desktop"
    entry = read_desktop_entry(desktop)
    assert parse_exec(entry["Exec"]) == [AWKWARD_LAUNCHER, "%f"]
    assert entry["TryExec"].replace("\\\\", "\\") == AWKWARD_LAUNCHER
    committed = read_desktop_entry(RESOURCES / f"{APP_ID}.desktop")
    assert {k: v for k, v in entry.items() if k not in {"Exec", "TryExec"}} == {
        k: v for k, v in committed.items() if k not in {"Exec", "TryExec"}
    }
    validate_with_desktop_file_validate(desktop)
    for size in render_icons.SIZES:
        relative = f"hicolor/{size}x{size}/apps/{ICON_NAME}.png"
        assert (data_home / "icons" / relative).read_bytes() == (RESOURCES / "icons" / relative).read_bytes()
    mime = data_home / "mime" / "packages" / f"{APP_ID}.xml"
    assert mime.read_bytes() == (RESOURCES / f"{APP_ID}.mime.xml").read_bytes()
    assert stat.S_IMODE(desktop.stat().st_mode) == 0o644
    assert not list(data_home.rglob(".*.tmp"))


def test_the_installed_metainfo_carries_this_version_and_validates(data_home: Path) -> None:
    install(data_home, exec_path="/usr/bin/fcdesk-gui")
    path = data_home / "metainfo" / f"{APP_ID}.metainfo.xml"
    text = path.read_text(encoding="utf-8")
    assert "@" not in text  # every placeholder filled
    (release,) = ET.fromstring(text).findall("releases/release")
    assert (release.get("version"), release.get("date")) == (__version__, RELEASE_DATE)
    tool = shutil.which("appstreamcli")
    if tool is not None:  # installed on the developers' machines; CI may lack it
        result = subprocess.run(
            [tool, "validate", "--no-net", str(path)], capture_output=True, text=True, timeout=60, check=False
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_the_desktop_recognises_a_snapshot_by_its_content_once_installed(
    data_home: Path, tmp_path: Path
) -> None:
    """Qt reads the same shared-mime-info data as file managers: a renamed snapshot is still ours,
    a plain SQLite file is not."""
    install(data_home, exec_path="/usr/bin/fcdesk-gui")
    renamed = tmp_path / "evidence.bin"
    shutil.copyfile(RESOURCES / "demo.fcsnap", renamed)
    plain = tmp_path / "plain.bin"
    with sqlite3.connect(plain) as connection:
        connection.execute("CREATE TABLE t (x)")
    connection.close()
    code = (
        "import sys; from PySide6.QtCore import QMimeDatabase; db = QMimeDatabase(); "
        "print(*(db.mimeTypeForFile(p).name() for p in sys.argv[1:]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(renamed), str(plain)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "XDG_DATA_HOME": str(data_home)},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [SNAPSHOT_MIME, "application/vnd.sqlite3"]


def test_dry_run_writes_nothing(data_home: Path) -> None:
    planned = install(data_home, exec_path="/usr/bin/fcdesk-gui", dry_run=True)
    assert set(planned) == expected_files(data_home)
    assert not data_home.exists()


def test_uninstall_removes_exactly_what_install_wrote(data_home: Path) -> None:
    neighbours = [
        data_home / "applications" / "org.example.Other.desktop",
        data_home / "icons" / "hicolor" / "48x48" / "apps" / "org.example.Other.png",
        data_home / "mime" / "packages" / "org.example.Other.xml",
        # a user's own copy beside ours, named after it: not ours to delete
        data_home / "icons" / "hicolor" / "48x48" / "apps" / f"{APP_ID}.png.bak",
    ]
    for path in neighbours:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("not fcdesk's")
    written = install(data_home, exec_path="/usr/bin/fcdesk-gui")

    assert set(uninstall(data_home, dry_run=True)) == set(written)
    assert all(path.exists() for path in written)  # the dry run removed nothing
    removed = uninstall(data_home)

    assert set(removed) == set(written)
    assert not any(path.exists() for path in written)
    assert all(path.read_text() == "not fcdesk's" for path in neighbours)
    assert not (data_home / "icons" / "hicolor" / "16x16").exists()  # emptied folders go too
    assert uninstall(data_home) == []


def test_exec_refuses_a_launcher_path_a_desktop_entry_cannot_hold() -> None:
    with pytest.raises(DesktopInstallError, match='contains "="'):
        exec_value(["/opt/a=b/fcdesk-gui"])
    with pytest.raises(DesktopInstallError, match="not valid UTF-8"):
        exec_value([os.fsdecode(b"/opt/caf\xe9/fcdesk-gui")])  # a Latin-1 folder name
    assert parse_exec(exec_value(["/usr/bin/python3", "-m", "fcdesk"])) == [
        "/usr/bin/python3",
        "-m",
        "fcdesk",
        "%f",
    ]
    assert exec_value(["/usr/bin/fcdesk-gui"]) == "/usr/bin/fcdesk-gui %f"  # nothing to quote, no quotes


def _fake_bin(folder: Path, *names: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_text("#!/bin/sh\n")
        (folder / name).chmod(0o755)
    return folder


def test_a_venv_or_pipx_install_starts_the_gui_script_beside_its_python(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    venv_bin = _fake_bin(tmp_path / "pipx venv" / "bin", "python", "fcdesk", "fcdesk-gui")
    monkeypatch.setattr(sys, "executable", str(venv_bin / "python"))
    monkeypatch.delattr(sys, "frozen", raising=False)
    assert launch_command() == [str(venv_bin / "fcdesk-gui")]
    assert launch_command("/elsewhere/fcdesk-gui") == ["/elsewhere/fcdesk-gui"]


def test_without_scripts_beside_python_path_then_python_m_fcdesk_are_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bare = _fake_bin(tmp_path / "bare", "python")
    on_path = _fake_bin(tmp_path / "on path", "fcdesk-gui")
    monkeypatch.setattr(sys, "executable", str(bare / "python"))
    monkeypatch.delattr(sys, "frozen", raising=False)
    monkeypatch.setenv("PATH", str(on_path))
    assert launch_command() == [str(on_path / "fcdesk-gui")]
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    assert launch_command() == [str(bare / "python"), "-m", "fcdesk"]


def test_a_frozen_build_starts_its_own_executable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = _fake_bin(tmp_path / "dist" / "fcdesk", "fcdesk")
    monkeypatch.setattr(sys, "executable", str(app / "fcdesk"))
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert launch_command() == [str(app / "fcdesk")]
    _fake_bin(app, "fcdesk-gui")
    assert launch_command() == [str(app / "fcdesk-gui")]


def test_the_installer_needs_nothing_beyond_the_standard_library() -> None:
    """It must run where Qt cannot start (over SSH, before a display exists)."""
    code = (
        "import sys; before = set(sys.modules); import fcdesk.desktop_install; "
        "print(*sorted({m.split('.')[0] for m in set(sys.modules) - before} - set(sys.stdlib_module_names)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["fcdesk"]


def test_the_default_data_home_follows_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert desktop_install.default_data_home() == tmp_path / "xdg"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/ignored")  # the spec says to ignore relative paths
    assert desktop_install.default_data_home() == tmp_path / "home" / ".local" / "share"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert install(dry_run=True, exec_path="/usr/bin/fcdesk-gui")[0] == (
        tmp_path / "home" / ".local" / "share" / "applications" / f"{APP_ID}.desktop"
    )


# --------------------------------------------------------------------------------------------
# The command line


def test_cli_installs_lists_and_uninstalls(data_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["install-desktop", "--data-home", str(data_home), "--dry-run"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert {line.removeprefix("would write ") for line in out} == {str(p) for p in expected_files(data_home)}
    assert not data_home.exists()

    assert run(["install-desktop", "--data-home", str(data_home)]) == 0
    captured = capsys.readouterr()
    assert {line.removeprefix("wrote ") for line in captured.out.splitlines()} == {
        str(p) for p in expected_files(data_home)
    }
    exec_line = read_desktop_entry(data_home / "applications" / f"{APP_ID}.desktop")["Exec"]
    launcher = parse_exec(exec_line)[:-1]
    assert launcher == launch_command() and Path(launcher[0]).is_absolute()
    assert launcher[0] in captured.err

    assert run(["install-desktop", "--uninstall", "--data-home", str(data_home)]) == 0
    removed = capsys.readouterr().out.splitlines()
    assert {line.removeprefix("removed ") for line in removed} == {str(p) for p in expected_files(data_home)}
    assert run(["install-desktop", "--uninstall", "--data-home", str(data_home)]) == 0
    assert "nothing to remove" in capsys.readouterr().err


def test_cli_says_windows_and_macos_use_the_build_shortcut(
    data_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for platform in ("win32", "darwin"):
        monkeypatch.setattr(sys, "platform", platform)
        assert run(["install-desktop", "--data-home", str(data_home)]) == 2
        err = capsys.readouterr().err
        assert "only applies to Linux and BSD" in err and "Traceback" not in err
    assert not data_home.exists()


def test_cli_reports_an_unwritable_data_home_in_one_sentence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a file"
    blocker.write_text("")
    assert run(["install-desktop", "--data-home", str(blocker)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("fcdesk: could not change") and len(err.strip().splitlines()) == 1


# --------------------------------------------------------------------------------------------
# The wheel (what `pip install .` and `pipx install` install)


def _build_backend_problem() -> str | None:
    """Why this environment cannot build a wheel offline, if it cannot (``--no-build-isolation``
    uses the setuptools installed here; ``bdist_wheel`` is built in from setuptools 70.1)."""
    try:
        version = importlib.metadata.version("setuptools")
    except importlib.metadata.PackageNotFoundError:
        return "setuptools is not installed"
    if tuple(int(part) for part in version.split(".")[:2]) >= (70, 1):
        return None
    try:
        importlib.metadata.version("wheel")
    except importlib.metadata.PackageNotFoundError:
        return f"setuptools {version} cannot build wheels without the wheel package (70.1 and later can)"
    return None


def test_the_wheel_ships_the_resources_and_both_launchers(tmp_path: Path) -> None:
    problem = _build_backend_problem()
    assert problem is None, f"{problem}: the [test] extra in pyproject.toml must require setuptools>=70.1"
    # Build from a clean copy: setuptools' build/ folder in a checkout can carry stale files.
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy2(REPO / name, source / name)
    for name in ("fcdesk", "resources"):
        shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path / "wheels"
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index"]
    result = subprocess.run(
        [*command, "--quiet", "--wheel-dir", str(out), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    assert result.returncode == 0, result.stdout + result.stderr

    (wheel,) = out.glob("*.whl")
    assert wheel.name == f"fcdesk-{__version__}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = archive.read(f"fcdesk-{__version__}.dist-info/entry_points.txt").decode()
    prefix = "fcdesk/resources/"
    shipped = {name.removeprefix(prefix) for name in names if name.startswith(prefix)}
    icons = {f"icons/hicolor/{size}x{size}/apps/{ICON_NAME}.png" for size in render_icons.SIZES}
    assert {
        "demo.fcsnap",
        f"{APP_ID}.desktop",
        f"{APP_ID}.metainfo.xml",
        f"{APP_ID}.mime.xml",
        "icons/fcdesk.svg",
        "icons/fcdesk.ico",
        f"icons/hicolor/scalable/apps/{ICON_NAME}.svg",
        *icons,
    } <= shipped
    assert {"fcdesk/desktop_install.py", "fcdesk/appinfo.py", "fcdesk/_version.py"} <= names
    entry = configparser.ConfigParser()
    entry.read_string(entry_points)
    assert entry["console_scripts"]["fcdesk"] == "fcdesk.__main__:main"
    assert entry["gui_scripts"]["fcdesk-gui"] == "fcdesk.__main__:main"
