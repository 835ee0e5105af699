"""Issue 15 item 4: a tool action that asks is put to a person in a non-modal prompt:
allowed once, denied, always allowed in this workspace, closed, or left unanswered."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot
from shiboken6 import isValid

from app.tool_prompt import TrayAsker
from proxy_core.observe.recorder import MetricsRecorder
from proxy_core.tools import ToolContext, Workspace
from proxy_core.tools.audit import AuditLog
from proxy_core.tools.engine import ToolEngine, ToolResult
from proxy_core.tools.policy import ToolPolicy

Run = Callable[[Awaitable[object]], object]


def engine(tmp_path: Path, asker: TrayAsker, ask_timeout: float = 10.0) -> ToolEngine:
    root = tmp_path / "work"
    root.mkdir(exist_ok=True)
    ctx = ToolContext(Workspace(root), {})
    policy = ToolPolicy(path=tmp_path / "tool-policy.json")
    return ToolEngine(ctx, policy, AuditLog(tmp_path), MetricsRecorder(), asker, ask_timeout)


async def until(check: Callable[[], bool]) -> None:
    for _ in range(200):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


def write(tools: ToolEngine, name: str = "notes.txt") -> asyncio.Task[ToolResult]:
    args = {"path": name, "content": "one\n"}
    return asyncio.ensure_future(tools.call("write_file", args, origin="agent", client="continue"))


def test_allow_once_deny_and_always(on_qt_loop: Run, qtbot: QtBot, tmp_path: Path) -> None:
    notices: list[tuple[str, str]] = []
    asker = TrayAsker(lambda title, text: notices.append((title, text)))
    tools = engine(tmp_path, asker)

    async def scenario() -> None:
        pending = write(tools)
        await until(lambda: len(asker.open) == 1)
        prompt = asker.open[0]
        assert prompt.isVisible() and not prompt.isModal()
        assert "An agent model (continue)" in prompt.headline.text()
        assert prompt.detail.text() == "write notes.txt (new file, 1 lines)"
        assert notices[-1] == ("A tool action needs your approval", prompt.detail.text())
        qtbot.mouseClick(prompt.allow_once, Qt.MouseButton.LeftButton)
        assert (await pending).ok and (tmp_path / "work" / "notes.txt").exists()
        assert asker.open == []

        pending = write(tools, "second.txt")
        await until(lambda: len(asker.open) == 1)
        qtbot.mouseClick(asker.open[0].deny, Qt.MouseButton.LeftButton)
        denied = await pending
        assert denied.outcome == "denied" and "denied by the user" in denied.text

        pending = write(tools, "third.txt")
        await until(lambda: len(asker.open) == 1)
        qtbot.mouseClick(asker.open[0].always, Qt.MouseButton.LeftButton)
        assert (await pending).ok
        assert (await write(tools, "fourth.txt")).ok and asker.open == []  # not asked again
        await tools.audit.drain()  # its executor writes end before the loop does

    on_qt_loop(scenario())


def test_closing_or_not_answering_is_a_denial(on_qt_loop: Run, tmp_path: Path) -> None:
    asker = TrayAsker()
    tools = engine(tmp_path, asker, ask_timeout=0.3)

    async def scenario() -> None:
        pending = write(tools)
        await until(lambda: len(asker.open) == 1)
        asker.open[0].close()
        assert (await pending).outcome == "denied"

        pending = write(tools, "late.txt")
        await until(lambda: len(asker.open) == 1)
        prompt = asker.open[0]
        late = await pending  # nobody answers
        assert late.outcome == "denied" and "not approved in time" in late.text
        assert asker.open == [] and (not isValid(prompt) or not prompt.isVisible())
        assert not (tmp_path / "work" / "late.txt").exists()
        scraped = tools.metrics.registry.get_sample_value(  # type: ignore[attr-defined]
            "proxy_tool_prompts_total", {"answer": "timed_out"}
        )
        assert scraped == 1
        await tools.audit.drain()

    on_qt_loop(scenario())


def command_engine(tmp_path: Path, asker: TrayAsker) -> ToolEngine:
    from proxy_core.tools.run_command import resolve_commands

    root = tmp_path / "work"
    root.mkdir(exist_ok=True)
    ctx = ToolContext(Workspace(root), resolve_commands(["echo", "ls", "python3"]))
    policy = ToolPolicy(path=tmp_path / "tool-policy.json")
    return ToolEngine(ctx, policy, AuditLog(tmp_path), MetricsRecorder(), asker)


def command(tools: ToolEngine, *argv: str) -> asyncio.Task[ToolResult]:
    return asyncio.ensure_future(
        tools.call("run_command", {"argv": list(argv)}, origin="mcp", client="claude-code")
    )


def test_the_command_is_shown_as_plain_text_exactly(on_qt_loop: Run, tmp_path: Path) -> None:
    """Issue 24 item 5: rich text would hide what an HTML comment wraps."""
    asker = TrayAsker()
    tools = command_engine(tmp_path, asker)
    hidden = ["echo", "harmless<!--", "--> ; rm -rf ~", "<b>bold</b>", "line\nbreak"]

    async def scenario() -> None:
        pending = command(tools, *hidden)
        await until(lambda: len(asker.open) == 1)
        prompt = asker.open[0]
        assert prompt.detail.textFormat() == Qt.TextFormat.PlainText
        shown = prompt.detail.text()
        assert "harmless<!--" in shown and "--> ; rm -rf ~" in shown and "<b>bold</b>" in shown
        assert "\n" not in shown and "line\\nbreak" in shown  # one line: nothing below the fold
        prompt.deny.click()
        assert (await pending).outcome == "denied"
        await tools.audit.drain()

    on_qt_loop(scenario())


def test_always_names_and_approves_only_that_program(on_qt_loop: Run, tmp_path: Path) -> None:
    """Issue 24 item 6: "always" approves the program shown, or, for a program that runs
    code, that exact command; never every later command."""
    asker = TrayAsker()
    tools = command_engine(tmp_path, asker)

    async def scenario() -> None:
        pending = command(tools, "echo", "one")
        await until(lambda: len(asker.open) == 1)
        assert asker.open[0].always.text() == "Always allow echo in this workspace"
        asker.open[0].always.click()
        assert (await pending).ok
        assert (await command(tools, "echo", "two")).ok and asker.open == []  # echo: approved

        pending = command(tools, "ls")  # another program: asked again
        await until(lambda: len(asker.open) == 1)
        asker.open[0].deny.click()
        assert (await pending).outcome == "denied"

        pending = command(tools, "python3", "-c", "print(1)")
        await until(lambda: len(asker.open) == 1)
        assert asker.open[0].always.text() == "Always allow this exact command in this workspace"
        asker.open[0].always.click()
        assert (await pending).ok
        assert (await command(tools, "python3", "-c", "print(1)")).ok and asker.open == []
        pending = command(tools, "python3", "-c", "print(2)")  # another python3 command
        await until(lambda: len(asker.open) == 1)
        asker.open[0].deny.click()
        assert (await pending).outcome == "denied"
        await tools.audit.drain()

    on_qt_loop(scenario())
