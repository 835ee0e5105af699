"""Connect an IDE: copyable configuration for each plugin, filled with the live URL."""

from __future__ import annotations

import asyncio

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from .client_probe import probe_client
from .icons import app_icon
from .ide_configs import README_CHOICE, IdeConfig, ModelChoice, ide_configs, mcp_configs


class ConnectDialog(QDialog):
    def __init__(
        self,
        base_url: str,
        token_required: bool = False,
        parent: QWidget | None = None,
        token: str = "",
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Connect an IDE")
        self.setWindowIcon(app_icon())
        self._base_url = base_url
        self._token = token
        self._token_required = token_required
        self.choice: ModelChoice | None = None  # the installed models, once known
        self.configs = self._configs(README_CHOICE)
        self.list = QListWidget()
        self.list.addItems([c.name for c in self.configs])
        self.list.setMaximumWidth(220)
        self.where = QLabel()
        self.where.setWordWrap(True)
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)  # code never wraps
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.copy = QPushButton("Copy")
        self.copy.clicked.connect(self.copy_current)
        self.test = QPushButton("Test")
        self.test.setToolTip("Send one tiny request the way this client would")
        self.test.clicked.connect(self.run_test)
        self.test_result = QLabel()
        self.test_result.setWordWrap(True)
        self.test_result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._test_task: asyncio.Task[None] | None = None
        self.models_note = QLabel("Looking for the installed models…")
        self.models_note.setWordWrap(True)
        right = self._right_column(base_url, token_required)
        body = QHBoxLayout()
        body.addWidget(self.list)
        body.addLayout(right, 1)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        root = QVBoxLayout(self)
        root.addLayout(body, 1)
        root.addWidget(close)
        self.list.currentRowChanged.connect(self._show)
        self.list.setCurrentRow(0)
        self.resize(760, 420)

    def _right_column(self, base_url: str, token_required: bool) -> QVBoxLayout:
        """Where the proxy answers, the token note, the snippet and its buttons."""
        right = QVBoxLayout()
        right.addWidget(QLabel(f"The proxy answers at <b>{base_url}</b>"))
        if token_required:
            note = QLabel(
                "This proxy requires its access token (Settings… shows it): use it as the "
                "API key of OpenAI clients, or send <code>Authorization: Bearer &lt;token&gt;"
                "</code> from Ollama clients (Continue <code>apiKey</code>, Zed "
                "<code>OLLAMA_API_KEY</code>)."
            )
            note.setWordWrap(True)
            right.addWidget(note)
        right.addWidget(self.models_note)
        right.addWidget(self.where)
        right.addWidget(self.text, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.test)
        buttons.addWidget(self.copy)
        right.addLayout(buttons)
        right.addWidget(self.test_result)
        return right

    def _show(self, row: int) -> None:
        if 0 <= row < len(self.configs):
            self.where.setText(self.configs[row].where)
            self.text.setPlainText(self.configs[row].text)

    def _configs(self, choice: ModelChoice) -> tuple[IdeConfig, ...]:
        token = self._token if self._token_required else ""
        mcp = mcp_configs(self._base_url, self._token or "<access token from Settings>")
        return ide_configs(self._base_url, token=token, choice=choice) + mcp

    def set_choice(self, choice: ModelChoice | None) -> None:
        """The installed models (None: Ollama could not be asked): snippets use them."""
        self.choice = choice
        if choice is None:
            self.models_note.setText(
                "Ollama could not be asked for its models: the snippets use example names."
            )
            return
        missing = [
            job
            for job, name in (
                ("chat", choice.chat),
                ("autocomplete (fill-in-the-middle)", choice.autocomplete),
                ("embeddings", choice.embed),
            )
            if name is None
        ]
        self.models_note.setText(
            "Snippets use your installed models."
            + (f" None can do {', '.join(missing)}." if missing else "")
        )
        self.configs = self._configs(choice)
        self._show(self.list.currentRow())

    def run_test(self) -> None:
        row = self.list.currentRow()
        if not 0 <= row < len(self.configs):
            return
        config = self.configs[row]
        self.test_result.setText(f"Testing {config.name}…")
        model = (self.choice.chat if self.choice else None) or README_CHOICE.chat or "llama3.2"
        token = self._token if (self._token_required or config.dialect == "mcp") else ""

        async def run() -> None:
            self.test_result.setText(
                await probe_client(self._base_url, config.dialect, model, token, config.headers)
            )

        self._test_task = asyncio.ensure_future(run())

    def copy_current(self) -> None:
        QGuiApplication.clipboard().setText(self.text.toPlainText())
        self.copy.setText("Copied")
        QTimer.singleShot(1500, lambda: self.copy.setText("Copy"))
