"""Settings: model folder, LoRA file, output folder, device plan, cluster; the engine checks the model folder.

The engine (in its own process) answers both questions, the device plans and the file check, so the
window never imports torch. Without an engine to ask, only a quick look for missing files is possible.
"""

from __future__ import annotations

import asyncio

from PySide6.QtWidgets import (
    QCheckBox,
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

from pusa_engine.jobs.protocol import Answer, EngineSetup

from .aio import spawn
from .app_settings import AppSettings, lora_or_none
from .core.readiness import EngineAsker, quick_model_problems
from .model_settings import FamilyFields

DEFAULT_PLANS = ["auto", "cpu", "cuda:0"]


class SettingsDialog(QDialog):
    def __init__(self, settings: AppSettings, parent: QWidget | None = None, engine: EngineAsker | None = None,
                 document=None) -> None:
        """`engine` (the window's EngineHost) answers the device plans and the file check; `document` (default:
        the parent window's) takes the LoRA strengths and the speed preset."""
        super().__init__(parent)
        self._engine = engine
        self.setWindowTitle("Pusa Studio settings")
        self.setMinimumWidth(560)
        self._settings = settings
        self.model_dir = QLineEdit(settings.model_dir, self)
        self.model_dir.setPlaceholderText("empty = the built-in demo model (random weights)")
        self.model_dir.setAccessibleName("Model folder")
        self.model_dir.setToolTip("Folder with Wan2.1-T2V-14B as released (DiT shards, T5, VAE, tokenizer)")
        self.lora_path = QLineEdit(settings.lora_path, self)
        self.lora_path.setPlaceholderText("empty = no LoRA")
        self.lora_path.setAccessibleName("LoRA file")
        self.lora_path.setToolTip("The Pusa V1 LoRA .safetensors file")
        self.family = FamilyFields(self, settings, document or getattr(parent, "document", None), self.lora_path)
        self.output_dir = QLineEdit(str(settings.output_dir), self)
        self.output_dir.setAccessibleName("Output folder")
        self.plan = QComboBox(self)
        self.plan.setAccessibleName("Device plan")
        self.plan.setToolTip("Where the model runs; 'auto' picks the best the computer offers")
        self.plan.addItems(DEFAULT_PLANS if settings.plan in DEFAULT_PLANS else [*DEFAULT_PLANS, settings.plan])
        self.plan.setCurrentText(settings.plan)
        self.cluster_address = QLineEdit(settings.cluster_address, self)
        self.cluster_address.setAccessibleName("Cluster address")
        self.cluster_address.setPlaceholderText("empty = this computer only; e.g. ray://192.168.1.10:10001")
        self.cluster_address.setToolTip("A Ray cluster whose Pusa workers run queued jobs too (see the README's "
                                        "Cluster section): ray://HEAD:10001, or HEAD:6379 on a node of it")
        self.cluster_token = QLineEdit(settings.cluster_token, self)
        self.cluster_token.setAccessibleName("Cluster token")
        self.cluster_token.setEchoMode(QLineEdit.EchoMode.Password)
        self.cluster_token.setPlaceholderText("empty = RAY_AUTH_TOKEN or ~/.ray/auth_token")
        self.use_local = QCheckBox("Also run jobs on this computer", self)
        self.use_local.setAccessibleName("Run jobs on this computer too")
        self.use_local.setChecked(settings.use_local_engine)
        self.problems = QListWidget(self)
        self.problems.setAccessibleName("Problems with the model files")
        self.problems.setWordWrap(True)  # every problem in full, however long its path
        self.problems.setSpacing(5)  # one problem clearly apart from the next
        self.problems.setMinimumHeight(160)
        self.problems.setVisible(False)
        self.status = QLabel("", self)
        self.status.setWordWrap(True)
        self.check_button = QPushButton("Check model files", self)
        self.check_button.clicked.connect(lambda: spawn(self.check_model_files()))

        form = QFormLayout()
        form.addRow("Model folder", self._with_browse(self.model_dir, folder=True))
        form.addRow("LoRA file", self._with_browse(self.lora_path, folder=False))
        self.family.add_rows(form, lambda edit, folder: self._with_browse(edit, folder))
        self.model_dir.textChanged.connect(self.family.follow)
        self.family.follow(self.model_dir.text())
        form.addRow("Output folder", self._with_browse(self.output_dir, folder=True))
        form.addRow("Device plan", self.plan)
        form.addRow("Cluster address", self.cluster_address)
        form.addRow("Cluster token", self.cluster_token)
        form.addRow("", self.use_local)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.check_button)
        layout.addWidget(self.status)
        layout.addWidget(self.problems, 1)
        layout.addStretch(0)  # with no problems listed, the status stays under the button
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

    async def _ask(self, question: str, setup: EngineSetup | None = None) -> Answer:
        if self._engine is None:
            raise RuntimeError("no engine to ask")
        answer: Answer = await asyncio.wrap_future(self._engine.ask(question, setup))  # type: ignore[arg-type]
        if answer.problem:
            raise RuntimeError(answer.problem)
        return answer

    async def load_plans(self) -> list[str]:
        if self._engine is None:
            return [self.plan.itemText(i) for i in range(self.plan.count())]
        try:
            plans = [str(plan) for plan in (await self._ask("plans")).value or []]
        except Exception as error:  # noqa: BLE001 - the engine may not start on this machine
            self.status.setText(f"Could not list devices: {error}")
            return []
        if not plans:
            return []
        current = self.plan.currentText()
        self.plan.clear()
        self.plan.addItems(plans)
        self.plan.setCurrentText(current if current in plans else plans[0])
        return plans

    async def check_model_files(self) -> list[str]:
        """Ask the engine whether the model folder and LoRA are complete; show every problem in the dialog."""
        self.problems.clear()
        self.problems.setVisible(False)
        model_dir, lora = self.model_dir.text().strip(), lora_or_none(self.lora_path.text())
        if not model_dir:
            ignored = " The LoRA file is not used with it." if lora else ""
            self.status.setText(f"No model folder: the built-in demo model is used (its videos are noise).{ignored}")
            return []
        self.status.setText("Checking…")
        self.check_button.setEnabled(False)
        quick_only = self._engine is None
        try:
            if quick_only:
                problems = quick_model_problems(model_dir, lora)
            else:
                low = lora_or_none(self.family.lora_low.text()) or ""
                setup = EngineSetup(model_dir, lora or "", lora_low_path=low)
                problems = [str(p) for p in (await self._ask("check_files", setup)).value]
        except Exception as error:  # noqa: BLE001 - shown to the user
            problems = [f"could not check the files ({type(error).__name__}: {error})"]
        finally:
            self.check_button.setEnabled(True)
        for problem in problems:
            self.problems.addItem(problem)
            self.problems.item(self.problems.count() - 1).setToolTip(problem)
        self.problems.setVisible(bool(problems))
        count = f"{len(problems)} problem{'s' if len(problems) > 1 else ''} with the model files:"
        if problems:
            self.status.setText(count)
        elif quick_only:
            self.status.setText("No file is missing (the file headers are read when the engine is running).")
        else:
            note = "" if lora else " No LoRA is set: plain Wan2.1 runs, without Pusa's per-frame control."
            self.status.setText(f"The model files look complete.{note}")
        return problems

    def accept(self) -> None:
        problem = self.family.problem(self.model_dir.text())
        if problem:
            self.status.setText(problem)
            return
        self.family.save(self._settings, self.model_dir.text())
        self._settings.model_dir = self.model_dir.text().strip()
        self._settings.lora_path = lora_or_none(self.lora_path.text()) or ""
        self._settings.output_dir = self.output_dir.text().strip() or str(self._settings.output_dir)
        self._settings.plan = self.plan.currentText() or "auto"
        self._settings.cluster_address = self.cluster_address.text()
        self._settings.cluster_token = self.cluster_token.text()
        self._settings.use_local_engine = self.use_local.isChecked()
        self._settings.sync()
        super().accept()
