"""Connect an IDE: copyable configuration for each plugin, filled with the live URL."""

from __future__ import annotations

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

from .icons import app_icon
from .ide_configs import IdeConfig, ide_configs, mcp_configs


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
        self.configs: tuple[IdeConfig, ...] = ide_configs(
            base_url, token=token if token_required else ""
        ) + mcp_configs(base_url, token or "<access token from Settings>")
        self.list = QListWidget()
        self.list.addItems([c.name for c in self.configs])
        self.list.setMaximumWidth(220)
        self.where = QLabel()
        self.where.setWordWrap(True)
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.copy = QPushButton("Copy")
        self.copy.clicked.connect(self.copy_current)
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
        right.addWidget(self.where)
        right.addWidget(self.text, 1)
        right.addWidget(self.copy)
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

    def _show(self, row: int) -> None:
        if 0 <= row < len(self.configs):
            self.where.setText(self.configs[row].where)
            self.text.setPlainText(self.configs[row].text)

    def copy_current(self) -> None:
        QGuiApplication.clipboard().setText(self.text.toPlainText())
