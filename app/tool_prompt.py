"""The person in the loop: a tool action that asks is shown here, with its exact effect.

A small non-modal window (never ``exec()``: the proxy keeps serving on the shared loop)
shows who asks (MCP or an agent model, and the recognised client), the tool, and exactly
what it will do: the path and diff summary of a write, the argv and folder of a command.
Allow once, Deny, or Always allow in this workspace: for a command, the button names what
it approves (that program, or that exact command for programs that run code). Closing it
denies; so does not answering within the engine's time limit (the engine cancels the
wait, which closes it). Several prompts may be open at once, one per action.

Everything a model controls is shown as plain text, never rich text: a command holding
``<!-- -->`` or ``<span style=display:none>`` would otherwise hide the part that runs.
"""

from __future__ import annotations

import asyncio
import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox, QLabel, QPushButton, QVBoxLayout, QWidget

from proxy_core import Action, Answer

from .icons import app_icon

ORIGINS = {"mcp": "A coding agent (over MCP)", "agent": "An agent model"}


def always_label(action: Action) -> str:
    """What the "always" button approves, said on the button itself."""
    if not action.argv:
        return "Always allow in this workspace"
    if action.scope:
        return f"Always allow {action.scope} in this workspace"
    return "Always allow this exact command in this workspace"


class ToolPrompt(QWidget):
    def __init__(self, tool: str, action: Action, origin: str, client: str) -> None:
        super().__init__(None, Qt.WindowType.Window | Qt.WindowType.WindowStaysOnTopHint)
        self.setWindowTitle("Allow this tool action?")
        self.setWindowIcon(app_icon())
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, False)
        self.answer: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        who = ORIGINS.get(origin, origin)
        if client and client != "other":
            who += f" ({client})"
        self.headline = QLabel(f"{html.escape(who)} wants to use <b>{html.escape(tool)}</b>:")
        self.headline.setTextFormat(Qt.TextFormat.RichText)
        self.detail = QLabel(action.summary)
        self.detail.setTextFormat(Qt.TextFormat.PlainText)  # exactly what runs, always
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.detail.setWordWrap(True)
        self.detail.setStyleSheet("font-family: monospace")
        buttons = QDialogButtonBox()
        self.allow_once = QPushButton("Allow once")
        self.deny = QPushButton("Deny")
        self.always = QPushButton(always_label(action))
        buttons.addButton(self.allow_once, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(self.always, QDialogButtonBox.ButtonRole.ApplyRole)
        buttons.addButton(self.deny, QDialogButtonBox.ButtonRole.RejectRole)
        self.deny.setDefault(True)  # Enter never approves by accident
        self.allow_once.clicked.connect(lambda: self._answer("once"))
        self.always.clicked.connect(lambda: self._answer("always"))
        self.deny.clicked.connect(lambda: self._answer("deny"))
        layout = QVBoxLayout(self)
        layout.addWidget(self.headline)
        layout.addWidget(self.detail)
        layout.addWidget(buttons)

    def _answer(self, answer: Answer) -> None:
        if not self.answer.done():
            self.answer.set_result(answer)
        self.close()

    def closeEvent(self, event: object) -> None:  # noqa: N802 (Qt's name)
        if not self.answer.done():
            self.answer.set_result("deny")  # closing the window is a no
        super().closeEvent(event)  # type: ignore[arg-type]


class TrayAsker:
    """The engine's Asker in the tray app: one prompt per action, a tray message too."""

    def __init__(self, notify: object = None) -> None:
        self.notify = notify  # (title, text) -> None, e.g. the controller's notify
        self.open: list[ToolPrompt] = []

    async def ask(self, tool: str, action: Action, origin: str, client: str) -> Answer:
        prompt = ToolPrompt(tool, action, origin, client)
        self.open.append(prompt)
        prompt.show()
        prompt.raise_()
        if callable(self.notify):
            self.notify("A tool action needs your approval", action.summary)
        try:
            return await prompt.answer
        finally:  # answered, or cancelled by the engine's time limit
            self.open.remove(prompt)
            prompt.close()
            prompt.deleteLater()
