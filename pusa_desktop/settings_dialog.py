"""Settings: model folder, LoRA file, output folder, device plan; the engine checks the model folder."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from .aio import in_thread, spawn
from .app_settings import AppSettings

DEFAULT_PLANS = ["auto", "cpu", "cuda:0"]


def _validate_model_files(model_dir: str, lora_path: str) -> list[str]:
    from pusa_engine.validation import validate_model_files  # heavy module: only on a worker thread

    return list(validate_model_files(model_dir, lora_path))


def _available_plans() -> list[str]:
    from pusa_engine.engine import available_plans

    return list(available_plans())


class SettingsDialog(QDialog):
    def __init__(self, settings: AppSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Pusa Studio settings")
        self.setMinimumWidth(560)
        self._settings = settings
        self.model_dir = QLineEdit(settings.model_dir, self)
        self.model_dir.setPlaceholderText("empty = the built-in demo model (random weights)")
        self.model_dir.setAccessibleName("Model folder")
        self.model_dir.setToolTip("Folder with Wan2.1-T2V-14B as released (DiT shards, T5, VAE, tokenizer)")
        self.lora_path = QLineEdit(settings.lora_path, self)
        self.lora_path.setAccessibleName("LoRA file")
        self.lora_path.setToolTip("The Pusa V1 LoRA .safetensors file")
        self.output_dir = QLineEdit(str(settings.output_dir), self)
        self.output_dir.setAccessibleName("Output folder")
        self.plan = QComboBox(self)
        self.plan.setAccessibleName("Device plan")
        self.plan.setToolTip("Where the model runs; 'auto' picks the best the computer offers")
        self.plan.addItems(DEFAULT_PLANS if settings.plan in DEFAULT_PLANS else [*DEFAULT_PLANS, settings.plan])
        self.plan.setCurrentText(settings.plan)
        self.problems = QListWidget(self)
        self.problems.setAccessibleName("Problems with the model files")
        self.problems.setMaximumHeight(120)
        self.status = QLabel("", self)
        self.status.setWordWrap(True)
        self.check_button = QPushButton("Check model files", self)
        self.check_button.clicked.connect(lambda: spawn(self.check_model_files()))

        form = QFormLayout()
        form.addRow("Model folder", self._with_browse(self.model_dir, folder=True))
        form.addRow("LoRA file", self._with_browse(self.lora_path, folder=False))
        form.addRow("Output folder", self._with_browse(self.output_dir, folder=True))
        form.addRow("Device plan", self.plan)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.check_button)
        layout.addWidget(self.status)
        layout.addWidget(self.problems)
        layout.addWidget(buttons)
        spawn(self.load_plans())

    def _with_browse(self, edit: QLineEdit, folder: bool) -> QWidget:
        box = QWidget(self)
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(edit, 1)
        browse = QPushButton("Browse…", box)
        browse.setAccessibleName(f"Browse for {edit.accessibleName().lower()}")

        def choose() -> None:
            if folder:
                path = QFileDialog.getExistingDirectory(self, edit.accessibleName(), edit.text())
            else:
                path, _ = QFileDialog.getOpenFileName(
                    self, edit.accessibleName(), edit.text(), "LoRA (*.safetensors);;All files (*)"
                )
            if path:
                edit.setText(path)

        browse.clicked.connect(choose)
        row.addWidget(browse)
        return box

    async def load_plans(self) -> list[str]:
        try:
            plans = await in_thread(_available_plans)
        except Exception as error:  # noqa: BLE001 - the engine may not import on this machine
            self.status.setText(f"Could not list devices: {error}")
            return []
        current = self.plan.currentText()
        self.plan.clear()
        self.plan.addItems(plans)
        self.plan.setCurrentText(current if current in plans else plans[0])
        return plans

    async def check_model_files(self) -> list[str]:
        """Ask the engine whether the model folder and LoRA are complete; show each problem."""
        self.problems.clear()
        if not self.model_dir.text().strip():
            self.status.setText("No model folder: the built-in demo model is used (its videos are noise).")
            return []
        self.status.setText("Checking…")
        self.check_button.setEnabled(False)
        try:
            problems = await in_thread(
                _validate_model_files, self.model_dir.text().strip(), self.lora_path.text().strip()
            )
        except Exception as error:  # noqa: BLE001 - shown to the user
            problems = [f"could not check the files: {error}"]
        finally:
            self.check_button.setEnabled(True)
        self.problems.addItems(problems)
        self.status.setText(
            "The model files look complete." if not problems else f"{len(problems)} problem(s) with the model files:"
        )
        return problems

    def accept(self) -> None:
        self._settings.model_dir = self.model_dir.text().strip()
        self._settings.lora_path = self.lora_path.text().strip()
        self._settings.output_dir = self.output_dir.text().strip() or str(self._settings.output_dir)
        self._settings.plan = self.plan.currentText() or "auto"
        self._settings.sync()
        super().accept()
