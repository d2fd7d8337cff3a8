"""Render the application icon set from ``resources/icons/fcdesk.svg``, the one drawn source.

::

    python packaging/render_icons.py           # (re)write the files below
    python packaging/render_icons.py --check   # exit 1 if a committed file drifted from the SVG

Writes, under ``resources/icons/``:

- ``hicolor/scalable/apps/<ICON_NAME>.svg``: a byte copy of the SVG;
- ``hicolor/<N>x<N>/apps/<ICON_NAME>.png`` for every N in :data:`SIZES` (the freedesktop icon
  theme sizes that launchers, docks and alt-tab ask for);
- ``fcdesk.ico``: the Windows icon, one PNG-compressed image per size in :data:`ICO_SIZES`.

The outputs are committed (installs must not need Qt's SVG module, and PyInstaller wants an .ico),
so ``tests/test_desktop_install.py`` re-renders them and fails when they no longer match the SVG.
Rendering is Qt's own (``QSvgRenderer``): no other image library is needed. Qt's ICO writer only
writes one image per file, hence the few lines of :func:`ico_bytes` (the ICO container is a
header, a directory and the PNG data, as Windows Vista and later read it). No macOS ``.icns`` is
produced.
"""

from __future__ import annotations

import argparse
import shutil
import struct
import sys
from collections.abc import Mapping
from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QRectF, Qt
from PySide6.QtGui import QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script from a plain checkout: make `fcdesk` importable
    sys.path.insert(0, str(REPO))

from fcdesk.appinfo import ICON_NAME  # noqa: E402  (needs the path above)

ICONS_DIR = REPO / "resources" / "icons"
SOURCE_NAME = "fcdesk.svg"
ICO_NAME = "fcdesk.ico"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
#: An ICO directory entry stores a dimension in one byte (0 means 256): 256 is the largest size.
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
#: A channel may differ by this much (of 255) between two renders without counting as a change
#: (anti-aliasing and premultiplied-alpha rounding vary a little between Qt versions) ...
CHANNEL_TOLERANCE = 8
#: ... and this share of the pixels may differ by more before the images count as different.
PIXEL_TOLERANCE = 0.005


def png_path(size: int, icons_dir: Path = ICONS_DIR) -> Path:
    return icons_dir / "hicolor" / f"{size}x{size}" / "apps" / f"{ICON_NAME}.png"


def scalable_path(icons_dir: Path = ICONS_DIR) -> Path:
    return icons_dir / "hicolor" / "scalable" / "apps" / f"{ICON_NAME}.svg"


def render(svg: Path, size: int) -> QImage:
    """The SVG drawn into a transparent ``size`` × ``size`` image (premultiplied ARGB32)."""
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise ValueError(f"{svg} is not a valid SVG file")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    return image


def png_bytes(image: QImage) -> bytes:
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):
        raise OSError("Qt could not encode the icon as PNG")
    buffer.close()
    return bytes(data.data())


def ico_bytes(pngs: Mapping[int, bytes]) -> bytes:
    """A Windows ICO file holding each ``size -> PNG data`` entry, smallest first."""
    count = len(pngs)
    offset = 6 + 16 * count  # ICONDIR header, then one 16-byte ICONDIRENTRY per image
    header = struct.pack("<HHH", 0, 1, count)  # reserved, type 1 = icon, count
    entries: list[bytes] = []
    for size, data in sorted(pngs.items()):
        dimension = 0 if size >= 256 else size
        # width, height, palette colours, reserved, colour planes, bits per pixel, size, offset
        entries.append(struct.pack("<BBBBHHII", dimension, dimension, 0, 0, 1, 32, len(data), offset))
        offset += len(data)
    return header + b"".join(entries) + b"".join(data for _, data in sorted(pngs.items()))


def matches(committed: QImage, fresh: QImage) -> bool:
    """Whether two icon images are the same picture, give or take rendering noise."""
    if committed.size() != fresh.size():
        return False
    a = _premultiplied_bytes(committed)
    b = _premultiplied_bytes(fresh)
    if a == b:
        return True
    differing = sum(
        1 for i in range(0, len(a), 4) if max(abs(a[i + k] - b[i + k]) for k in range(4)) > CHANNEL_TOLERANCE
    )
    return differing <= PIXEL_TOLERANCE * committed.width() * committed.height()


def _premultiplied_bytes(image: QImage) -> bytes:
    converted = image.convertToFormat(QImage.Format.Format_ARGB32_Premultiplied)
    return bytes(converted.constBits())[: converted.sizeInBytes()]


def write_all(icons_dir: Path = ICONS_DIR) -> list[Path]:
    """Render every output from ``icons_dir/fcdesk.svg``; returns the files written."""
    source = icons_dir / SOURCE_NAME
    written: list[Path] = []
    pngs: dict[int, bytes] = {}
    for size in SIZES:
        pngs[size] = png_bytes(render(source, size))
        written.append(_write(png_path(size, icons_dir), pngs[size]))
    scalable = scalable_path(icons_dir)
    scalable.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, scalable)
    written.append(scalable)
    written.append(_write(icons_dir / ICO_NAME, ico_bytes({size: pngs[size] for size in ICO_SIZES})))
    return written


def drifted(icons_dir: Path = ICONS_DIR) -> list[str]:
    """What is missing or out of date compared with a fresh render (empty when all is current)."""
    source = icons_dir / SOURCE_NAME
    problems: list[str] = []
    pngs: dict[int, bytes] = {}
    for size in SIZES:
        path = png_path(size, icons_dir)
        committed = QImage(str(path))
        if committed.isNull() or not matches(committed, render(source, size)):
            problems.append(f"{path.relative_to(icons_dir)} differs from {SOURCE_NAME} at {size}x{size}")
        elif size in ICO_SIZES:
            pngs[size] = path.read_bytes()
    scalable = scalable_path(icons_dir)
    if not scalable.is_file() or scalable.read_bytes() != source.read_bytes():
        problems.append(f"{scalable.relative_to(icons_dir)} is not a copy of {SOURCE_NAME}")
    ico = icons_dir / ICO_NAME
    if len(pngs) == len(ICO_SIZES) and (not ico.is_file() or ico.read_bytes() != ico_bytes(pngs)):
        problems.append(f"{ICO_NAME} is not made of the committed PNGs")
    return problems


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only report files that drifted from the SVG")
    args = parser.parse_args(argv)
    if args.check:
        problems = drifted()
        for problem in problems:
            print(f"render_icons: {problem}", file=sys.stderr)
        if problems:
            print("render_icons: run python packaging/render_icons.py, then commit", file=sys.stderr)
        return 1 if problems else 0
    for path in write_all():
        print(path.relative_to(REPO))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
