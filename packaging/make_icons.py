"""Render resources/icons/pusa-studio.svg into the raster icons installers need.

    python packaging/make_icons.py OUT_DIR    -> OUT_DIR/pusa-studio.ico (16..256 px) and pusa-studio-256.png

build.spec calls it on Windows (the .exe icon); the Inno Setup script uses the same .ico.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SVG = ROOT / "resources" / "icons" / "pusa-studio.svg"
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)


def render(size: int):
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    QSvgRenderer(str(SVG)).render(painter)
    painter.end()
    return image


def make_icons(out_dir: Path) -> Path:
    import io

    from PIL import Image
    from PySide6.QtCore import QBuffer, QIODevice
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication.instance() or QGuiApplication(["make_icons", "-platform", "offscreen"])  # noqa: F841
    out_dir.mkdir(parents=True, exist_ok=True)
    buf = QBuffer()
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    render(256).save(buf, "PNG")
    big = Image.open(io.BytesIO(bytes(buf.data()))).convert("RGBA")
    big.save(out_dir / "pusa-studio-256.png")
    ico = out_dir / "pusa-studio.ico"
    big.save(ico, sizes=[(s, s) for s in ICO_SIZES])
    return ico


if __name__ == "__main__":
    print(make_icons(Path(sys.argv[1] if len(sys.argv) > 1 else "build/icons")))
