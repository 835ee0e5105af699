"""The tray icon and its menu. Actions only emit; the controller decides what they do."""

from __future__ import annotations

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QSystemTrayIcon, QWidget

from .icons import state_icon
from .tray_state import TrayState


class TrayMenu(QMenu):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # Enabled, so it reads in full colour in error states (a disabled line is grey);
        # it opens the dashboard, where the state is explained.
        self.status = self.addAction("Starting…")
        self.addSeparator()
        self.open_dashboard = self.addAction("Open dashboard")
        self.caching = self.addAction("Caching")
        self.caching.setCheckable(True)
        # Shown while the built-in tools are on (Settings…), so a person always knows.
        self.agent_tools = self.addAction("Agent tools on")
        self.agent_tools.setEnabled(False)
        self.agent_tools.setVisible(False)
        self.addSeparator()
        self.copy_openai_url = self.addAction("Copy OpenAI base URL")
        self.copy_ollama_url = self.addAction("Copy Ollama URL")
        self.connect_ide = self.addAction("Connect an IDE…")
        self.models = self.addAction("Models…")
        self.requests = self.addAction("Requests…")
        self.settings = self.addAction("Settings…")
        self.open_metrics = self.addAction("Open metrics")
        # Shown after a prompt was cut by a model's context: the one-click fix.
        self.raise_context = self.addAction("Raise num_ctx")
        self.raise_context.setVisible(False)
        self.addSeparator()
        self.quit = self.addAction("Quit")

    def all_actions(self) -> list[QAction]:
        return [a for a in self.actions() if not a.isSeparator()]

    def commands(self) -> list[QAction]:
        """The actions a person runs (not the status lines), for the dashboard's menu."""
        passive = (self.status, self.agent_tools)
        return [a for a in self.all_actions() if a not in passive and a is not self.open_dashboard]


class Tray(QSystemTrayIcon):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(state_icon(TrayState.STARTING), parent)
        self.menu = TrayMenu()
        self.setContextMenu(self.menu)
        self.state = TrayState.STARTING
        self.badge: str | None = None  # a second instance's label (presenter.instance_label)

    def show_state(self, state: TrayState, tooltip: str, status: str = "") -> None:
        if state is not self.state:
            self.state = state
            self.setIcon(state_icon(state, self.badge))
            self.menu.status.setIcon(state_icon(state))
        self.setToolTip(tooltip)
        if status:
            self.menu.status.setText(status)

    def set_badge(self, badge: str | None) -> None:
        self.badge = badge
        self.setIcon(state_icon(self.state, badge))
