"""The export dialog: format (H.264 / H.265 MP4, WebM VP9, ProRes, PNG frames, GIF), quality, frame rate,
size, and where to. It starts in the folder of the last export (or the output folder)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from .core.export_formats import (
    FORMATS,
    PRORES_PROFILES,
    ExportOptions,
    SourceVideo,
    missing_encoder,
    output_frames,
    output_size,
)

FRAME_RATES = (8, 10, 12, 15, 16, 24, 25, 30, 60)
SCALES = (2.0, 1.5, 1.0, 0.75, 0.5, 0.25)
KIND_FORMATS = {"mp4": "h264", "gif": "gif", "png": "png"}  # the menu entries' first choice
GIF_WIDTH = 480
CRF_HINT = {"h264": "18 looks like the original; 23 is smaller", "h265": "22 looks like the original; 28 is smaller",
            "vp9": "31 is good; 20 looks like the original", "prores": "", "png": "", "gif": ""}


def free_path(path: Path) -> Path:
    """`path`, or `name (2).ext`, `name (3).ext`... when it is taken."""
    if not path.exists():
        return path
    for n in range(2, 1000):
        candidate = path.with_name(f"{path.stem} ({n}){path.suffix}")
        if not candidate.exists():
            return candidate
    return path


class ExportDialog(QDialog):
    def __init__(self, video: str, source: SourceVideo, start_folder: Path, kind: str = "mp4",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Export {Path(video).name}")
        self.setMinimumWidth(520)
        self.video, self.source, self.folder = video, source, start_folder
        self.format = QComboBox(self)
        self.format.setAccessibleName("Format")
        for key, spec in FORMATS.items():
            self.format.addItem(spec.label, key)
            why = missing_encoder(key)
            if why:  # shown, but not chosen: the reason is its tooltip
                index = self.format.count() - 1
                self.format.model().item(index).setEnabled(False)
                self.format.setItemData(index, why, Qt.ItemDataRole.ToolTipRole)
        self.crf = QSpinBox(self)
        self.crf.setAccessibleName("Quality (CRF: lower is better)")
        self.profile = QComboBox(self)
        self.profile.setAccessibleName("ProRes profile")
        self.profile.addItems(PRORES_PROFILES)
        self.quality_hint = QLabel("", self)
        self.fps = QComboBox(self)
        self.fps.setAccessibleName("Frame rate")
        self.fps.addItem(f"Same as the video ({source.fps:g} fps)", None)
        for rate in FRAME_RATES:
            self.fps.addItem(f"{rate} fps", float(rate))
        self.scale = QComboBox(self)
        self.scale.setAccessibleName("Size")
        for scale in SCALES:
            self.scale.addItem(f"{scale:.0%} ({round(source.width * scale)} x {round(source.height * scale)})", scale)
        self.scale.setCurrentIndex(SCALES.index(1.0))
        self.width_box = QSpinBox(self)
        self.width_box.setAccessibleName("GIF width in pixels")
        self.width_box.setRange(16, 7680)
        self.width_box.setSuffix(" px wide")
        self.width_box.setValue(min(GIF_WIDTH, source.width))
        self.target = QLineEdit(self)
        self.target.setAccessibleName("Export to")
        browse = QPushButton("Browse…", self)
        browse.clicked.connect(self._browse)
        where = QHBoxLayout()
        where.addWidget(self.target, 1)
        where.addWidget(browse)
        self.summary = QLabel("", self)
        self.summary.setWordWrap(True)
        quality = QHBoxLayout()
        quality.addWidget(self.crf)
        quality.addWidget(self.profile)
        quality.addWidget(self.quality_hint, 1)
        form = QFormLayout()
        form.addRow("Format", self.format)
        form.addRow("Quality", quality)
        form.addRow("Frame rate", self.fps)
        form.addRow("Size", self.scale)
        form.addRow("GIF size", self.width_box)
        form.addRow("Export to", where)
        self._form = form
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        self.export_button = buttons.addButton("Export", QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.summary)
        layout.addWidget(buttons)
        self.format.currentIndexChanged.connect(lambda _i: self._format_changed())
        for box in (self.crf, self.width_box):
            box.valueChanged.connect(lambda _v: self._update_summary())
        for combo in (self.profile, self.fps, self.scale):
            combo.currentIndexChanged.connect(lambda _i: self._update_summary())
        self.format.setCurrentIndex(max(0, self.format.findData(KIND_FORMATS.get(kind, "h264"))))
        self._format_changed()

    @property
    def format_key(self) -> str:
        return str(self.format.currentData())

    def options(self) -> ExportOptions:
        key = self.format_key
        spec = FORMATS[key]
        quality = None
        if key == "prores":
            quality = self.profile.currentIndex()
        elif spec.quality:
            quality = self.crf.value()
        gif = key == "gif"
        return ExportOptions(key, quality, self.fps.currentData(), 1.0 if gif else float(self.scale.currentData()),
                             self.width_box.value() if gif else None)

    def target_path(self) -> Path:
        return Path(self.target.text().strip()).expanduser()

    def set_format(self, key: str) -> None:
        self.format.setCurrentIndex(self.format.findData(key))

    def _default_target(self, key: str) -> Path:
        spec = FORMATS[key]
        stem = Path(self.video).stem
        name = f"{stem}-frames" if key == "png" else f"{stem}{'-' + key if key in ('h265', 'prores') else ''}"
        return free_path(self.folder / f"{name}{spec.suffix}")

    def _format_changed(self) -> None:
        key = self.format_key
        spec = FORMATS[key]
        current = self.target.text().strip()
        if current:  # keep the folder and name the user chose; only the extension follows the format
            self.folder = Path(current).expanduser().parent
        self.target.setText(str(self._default_target(key)))
        self.crf.setVisible(bool(spec.quality) and key != "prores")
        self.profile.setVisible(key == "prores")
        if spec.quality and key != "prores":
            self.crf.setRange(spec.quality[0], spec.quality[1])
            self.crf.setValue(spec.quality[2])
            self.crf.setPrefix("CRF ")
        if key == "prores":
            self.profile.setCurrentIndex(spec.quality[2] if spec.quality else 3)
        self.quality_hint.setText(CRF_HINT.get(key, "") if spec.quality else "(no quality setting)")
        for widget, shown in ((self.scale, key != "gif"), (self.width_box, key == "gif")):
            widget.setVisible(shown)
            self._form.labelForField(widget).setVisible(shown)
        self._update_summary()

    def _update_summary(self) -> None:
        options = self.options()
        width, height = output_size(options, self.source)
        frames = output_frames(options, self.source)
        fps = options.fps or self.source.fps
        what = "PNG files in a new folder" if options.format == "png" else FORMATS[options.format].label
        self.summary.setText(f"{frames} frames of {width} x {height} at {fps:g} fps: {what}")

    def accept(self) -> None:
        """Export, after asking before a file is replaced (a folder of frames is never written into)."""
        target = self.target_path()
        if self.format_key != "png" and target.is_file():
            answer = QMessageBox.question(self, "Replace the file?", f"{target} exists. Replace it?")
            if answer != QMessageBox.StandardButton.Yes:
                return
        super().accept()

    def _browse(self) -> None:
        key = self.format_key
        current = self.target_path()
        if key == "png":
            folder = QFileDialog.getExistingDirectory(self, "Put the PNG frames folder in", str(current.parent))
            chosen = str(Path(folder) / current.name) if folder else ""
        else:
            suffix = FORMATS[key].suffix
            chosen, _ = QFileDialog.getSaveFileName(self, "Export to", str(current), f"{key.upper()} (*{suffix})")
            if chosen and not chosen.lower().endswith(suffix):
                chosen += suffix
        if chosen:
            self.target.setText(chosen)
