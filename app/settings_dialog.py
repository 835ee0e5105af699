"""Settings: the same fields as the headless flags, validated by ProxySettings itself."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from proxy_core import LOG_LEVELS, SPECS, ProxySettings, SettingsError

from . import autostart
from .icons import app_icon
from .settings_fields import GROUPS, Field, field_for, label_of

MB = 1 << 20
# The settings laid out by hand on the General tab (with composite rows: the URL test,
# folder pickers, the token row); every other one is on the More tab, made from its Spec.
HAND_MADE = frozenset(
    {"ollama_url", "openai_upstreams", "cache_url", "host", "port", "cache_enabled",
     "cache_policy", "cache_ttl", "cache_size_limit", "data_dir", "log_level",
     "require_token", "access_token", "allowed_origins", "allow_model_management",
     "agent_tools", "workspace"}
)  # fmt: skip
MORE = tuple(name for name in SPECS if name not in HAND_MADE)
# What takes effect only at the next start (Spec.scope "restart"), said in the dialog.
RESTART = ", ".join(label_of(n).lower() for n, spec in SPECS.items() if spec.scope == "restart")


class SettingsDialog(QDialog):
    def __init__(
        self,
        current: ProxySettings,
        start_at_login: bool,
        access_token: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setWindowIcon(app_icon())
        self.current = current
        self.accepted_settings: ProxySettings | None = None

        self.ollama_url = QLineEdit(current.ollama_url)
        self.test_ollama = QPushButton("Test connection")
        self.test_ollama.clicked.connect(self.run_ollama_test)
        self.ollama_result = QLabel()
        self.ollama_result.setWordWrap(True)
        url_row = QHBoxLayout()
        url_row.addWidget(self.ollama_url, 1)
        url_row.addWidget(self.test_ollama)
        self._test_task: asyncio.Task[None] | None = None
        self.openai_upstreams = QLineEdit(current.openai_upstreams)
        self.openai_upstreams.setPlaceholderText(
            "none; e.g. llamacpp=http://127.0.0.1:8080, http://127.0.0.1:1234 (LM Studio)"
        )
        self.cache_url = QLineEdit(current.cache_url)
        self.cache_url.setPlaceholderText("empty: the data folder; redis://host:6379/0 to share")
        self.host = QLineEdit(current.host)
        self.port = QSpinBox()
        port = SPECS["port"]  # the range the settings accept, from their one description
        self.port.setRange(int(port.minimum or 0), int(port.maximum or 65535))
        self.port.setValue(current.port)
        self._cache_fields(current)
        self.data_dir = QLineEdit(str(current.data_dir))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        data_row = QHBoxLayout()
        data_row.addWidget(self.data_dir, 1)
        data_row.addWidget(browse)
        self.log_level = QComboBox()
        self.log_level.addItems(list(LOG_LEVELS))
        self.log_level.setCurrentText(current.log_level)
        self.start_at_login = QCheckBox("Start Ollama Tray Proxy when I log in")
        self.start_at_login.setChecked(start_at_login)
        self.start_at_login.setEnabled(autostart.supported())

        token_row = self._access_fields(current, access_token)

        workspace_row = self._tools_fields(current)
        form = self._form(url_row, data_row, token_row, workspace_row)
        self.more = [field_for(name, getattr(current, name)) for name in MORE]
        self.tabs = tabs = QTabWidget()
        general = QWidget()
        QVBoxLayout(general).addLayout(form)
        tabs.addTab(general, "General")
        tabs.addTab(self._more_tab(), "More settings")
        self._lay_out(tabs)

    def _tools_fields(self, current: ProxySettings) -> QHBoxLayout:
        self.agent_tools = QCheckBox(
            "Let models use the built-in tools (list, read and write files, run programs)"
        )
        self.agent_tools.setChecked(current.agent_tools)
        self.workspace = QLineEdit(current.workspace)
        self.workspace.setPlaceholderText("the only folder the tools may touch")
        pick = QPushButton("Browse…")
        pick.clicked.connect(self._pick_workspace)
        workspace_row = QHBoxLayout()
        workspace_row.addWidget(self.workspace, 1)
        workspace_row.addWidget(pick)
        return workspace_row

    def _lay_out(self, tabs: QTabWidget) -> None:
        note = QLabel(
            "Changes apply at once; a new port or host restarts the listener. "
            f"These take effect at the next start: {RESTART}. A listen host other than "
            "127.0.0.1, localhost or ::1 always requires the access token "
            "(see Security in the README)."
        )
        note.setWordWrap(True)
        self.error = QLabel()
        self.error.setStyleSheet("color: #e03131")
        self.error.setWordWrap(True)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        root = QVBoxLayout(self)
        root.addWidget(tabs)
        root.addWidget(note)
        root.addWidget(self.error)
        root.addWidget(buttons)

    def _form(
        self,
        url_row: QHBoxLayout,
        data_row: QHBoxLayout,
        token_row: QHBoxLayout,
        workspace_row: QHBoxLayout,
    ) -> QFormLayout:
        """The settings most people change, hand-laid with their composite rows."""
        form = QFormLayout()
        # Each field that can be wrong has its own error line right under it, in words.
        self.field_errors: dict[str, QLabel] = {}

        def row(name: str, label: str, field: Any) -> None:
            self._row(form, name, label, field)

        row("ollama_url", "Ollama URL", url_row)
        form.addRow("", self.ollama_result)
        row("openai_upstreams", "OpenAI-compatible servers", self.openai_upstreams)
        row("host", "Listen host", self.host)
        row("port", "Listen port", self.port)
        form.addRow("Caching", self.cache_enabled)
        form.addRow("Cache policy", self.cache_policy)
        row("cache_ttl", "Cache TTL", self.cache_ttl)
        row("cache_size_limit", "Cache size limit", self.cache_size)
        row("cache_url", "Shared cache", self.cache_url)
        row("data_dir", "Data folder", data_row)
        form.addRow("Access", self.require_token)
        form.addRow("Access token", token_row)
        row("allowed_origins", "Allowed origins", self.allowed_origins)
        form.addRow("", self.allow_model_management)
        form.addRow("Agent tools", self.agent_tools)
        row("workspace", "Workspace", workspace_row)
        form.addRow("Log level", self.log_level)
        form.addRow("", self.start_at_login)
        return form

    def _row(self, form: QFormLayout, name: str, label: str, field: Any) -> None:
        """A field and, under it, its own error line (hidden until it has one)."""
        form.addRow(label, field)
        error = QLabel()
        error.setStyleSheet("color: #e03131")
        error.setWordWrap(True)
        error.hide()
        form.addRow("", error)
        self.field_errors[name] = error

    def _more_tab(self) -> QScrollArea:
        """Every other setting, made from its description (settings_fields.py), grouped
        by what a change of it touches."""
        form = QFormLayout()
        by_group: dict[str, list[Field]] = {}
        for field in self.more:
            by_group.setdefault(GROUPS[SPECS[field.name].scope], []).append(field)
        for group in dict.fromkeys(GROUPS.values()):
            if group in by_group:
                form.addRow(QLabel(f"<b>{group}</b>"))
            for field in by_group.get(group, []):
                field.widget.setToolTip(SPECS[field.name].help)
                self._row(form, field.name, field.label, field.widget)
        inner = QWidget()
        inner.setLayout(form)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(inner)
        return scroll

    def _cache_fields(self, current: ProxySettings) -> None:
        self.cache_enabled = QCheckBox("Cache answers on disk (which ones: Cache policy)")
        self.cache_enabled.setChecked(current.cache_enabled)
        self.cache_policy = QComboBox()
        self.cache_policy.addItem(
            "Deterministic requests only (temperature 0 or a seed)", "deterministic"
        )
        self.cache_policy.addItem("All requests", "all")
        self.cache_policy.setCurrentIndex(self.cache_policy.findData(current.cache_policy))
        self.cache_ttl = QDoubleSpinBox()
        self.cache_ttl.setRange(1, 30 * 24 * 3600)  # as validated: a positive number of seconds
        self.cache_ttl.setDecimals(0)
        self.cache_ttl.setSuffix(" s")
        self.cache_ttl.setValue(current.cache_ttl)
        self.cache_size = QSpinBox()
        self.cache_size.setRange(1, 1 << 20)
        self.cache_size.setSuffix(" MiB")
        self.cache_size.setValue(max(1, current.cache_size_limit // MB))

    def _access_fields(self, current: ProxySettings, access_token: str) -> QHBoxLayout:
        """The token row (read-only, shown on demand, copyable) and the access switches."""
        self.require_token = QCheckBox("Require the access token on every request")
        self.require_token.setChecked(current.require_token)
        self.token = QLineEdit(access_token)
        self.token.setReadOnly(True)
        self.token.setEchoMode(QLineEdit.EchoMode.Password)
        show = QPushButton("Show")
        show.setCheckable(True)
        show.toggled.connect(
            lambda on: self.token.setEchoMode(
                QLineEdit.EchoMode.Normal if on else QLineEdit.EchoMode.Password
            )
        )
        copy = QPushButton("Copy")
        copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.token.text()))
        token_row = QHBoxLayout()
        token_row.addWidget(self.token, 1)
        token_row.addWidget(show)
        token_row.addWidget(copy)
        self.allowed_origins = QLineEdit(current.allowed_origins)
        self.allowed_origins.setPlaceholderText("e.g. chrome-extension://abc*, https://ide.example")
        self.allow_model_management = QCheckBox(
            "Pass model management through (pull, push, create, copy, delete)"
        )
        self.allow_model_management.setChecked(current.allow_model_management)

        return token_row

    def _browse(self) -> None:
        chosen = QFileDialog.getExistingDirectory(self, "Data folder", self.data_dir.text())
        if chosen:
            self.data_dir.setText(chosen)

    def _pick_workspace(self) -> None:
        chosen = QFileDialog.getExistingDirectory(self, "Workspace", self.workspace.text())
        if chosen:
            self.workspace.setText(chosen)

    def values(self) -> dict[str, Any]:
        return {
            "ollama_url": ollama_url(self.ollama_url.text()),
            "openai_upstreams": self.openai_upstreams.text().strip(),
            "cache_url": self.cache_url.text().strip(),
            "host": self.host.text().strip(),
            "port": self.port.value(),
            "cache_enabled": self.cache_enabled.isChecked(),
            "cache_policy": self.cache_policy.currentData(),
            "cache_ttl": float(self.cache_ttl.value()),
            "cache_size_limit": self.cache_size.value() * MB,
            "data_dir": Path(self.data_dir.text().strip()).expanduser(),
            "log_level": self.log_level.currentText(),
            "require_token": self.require_token.isChecked(),
            "allowed_origins": self.allowed_origins.text().strip(),
            "allow_model_management": self.allow_model_management.isChecked(),
            "agent_tools": self.agent_tools.isChecked(),
            "workspace": self.workspace.text().strip(),
            **{field.name: field.read() for field in self.more},
        }

    def validated(self) -> ProxySettings:
        """The edited settings, or SettingsError naming the field in words a user reads."""
        if not self.data_dir.text().strip():
            raise SettingsError("data_dir: cannot be empty; choose a folder for the cache")
        return self.current.replace(**self.values())

    def accept(self) -> None:
        for label in self.field_errors.values():
            label.hide()
        self.error.clear()
        try:
            self.accepted_settings = self.validated()
        except SettingsError as exc:
            self.show_error(str(exc))
            return
        super().accept()

    def show_error(self, text: str) -> None:
        """Next to the field it is about, in words ("Cache TTL must be ..."), else below."""
        name, _, message = text.partition(": ")
        label = self.field_errors.get(name)
        if label is None:
            self.error.setText(text)
            return
        label.setText(f"{LABELS.get(name, label_of(name))} {message}".replace("  ", " "))
        label.show()
        self.tabs.setCurrentIndex(1 if name in MORE else 0)  # where the field is

    def run_ollama_test(self) -> None:
        urls = [url for url in ollama_url(self.ollama_url.text()).split(", ") if url]
        self.ollama_result.setText(f"Asking {', '.join(urls)} …")

        async def run() -> None:
            self.ollama_result.setText(await ask_all(urls))

        self._test_task = asyncio.ensure_future(run())


LABELS = {
    "ollama_url": "The Ollama URL",
    "openai_upstreams": "An OpenAI-compatible server's URL",
    "cache_url": "The shared cache URL",
    "host": "The listen host",
    "port": "The listen port",
    "cache_ttl": "Cache TTL",
    "cache_size_limit": "The cache size limit",
    "data_dir": "The data folder",
    "allowed_origins": "Allowed origins",
    "workspace": "The workspace",
}


def ollama_url(text: str) -> str:
    """What a person types, as the URL(s) Ollama answers at: ``localhost:11434`` gains
    ``http://``; a trailing ``/api`` (Ollama's API path, which the proxy adds itself) and
    slashes are dropped. Several hosts, separated by commas or spaces, each the same way."""
    return ", ".join(_one_url(part) for part in text.replace(",", " ").split())


def _one_url(text: str) -> str:
    url = text.strip()
    if url and "://" not in url:
        url = "http://" + url
    url = url.rstrip("/")
    if url.endswith("/api"):
        url = url[: -len("/api")]
    return url


async def ask_all(urls: list[str]) -> str:
    """Every listed host at once, a line each (several hosts: each is asked)."""
    answers = await asyncio.gather(*(ask_ollama(url) for url in urls))
    return "\n".join(answers) or "No URL to ask."


async def ask_ollama(url: str) -> str:
    """One GET /api/version: a line saying whether Ollama answers there, in words."""
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http,
            http.get(url + "/api/version") as resp,
        ):
            data = await resp.json(content_type=None) if resp.status == 200 else None
            status = resp.status
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        return f"Ollama is not answering at {url} ({exc or 'no answer in 5 s'})."
    if status != 200 or not isinstance(data, dict) or "version" not in data:
        return f"Something answers at {url}, but not like Ollama (status {status})."
    return f"Ollama {data['version']} answers at {url}."
