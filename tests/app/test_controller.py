"""The tray app's lifecycle on qasync's loop: real HTTP through the proxy while the GUI
runs, the tray actions, port conflicts, Ollama down/up notices, quit with a stream open."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer
from PySide6.QtGui import QGuiApplication

from app.controller import AppController
from app.settings_store import SettingsStore
from app.tray_state import STATE_TEXT, TrayState
from proxy_core import ProxyService
from proxy_core.engines.ollama import OllamaEngine
from proxy_core.engines.router import Router
from proxy_core.errors import PortInUse
from tests.conftest import make_settings
from tests.fakes.ollama_sim import SIM_CONFIG, SIM_RECORDER, create_sim_app

Run = Callable[[Awaitable[Any]], Any]
CACHEABLE = {
    "model": "llama3.2",
    "stream": False,
    "options": {"temperature": 0},
    "messages": [{"role": "user", "content": "hello"}],
}


async def started_sim() -> TestServer:
    server = TestServer(create_sim_app())
    await server.start_server()
    return server


def sim_url(server: TestServer) -> str:
    return str(server.make_url("")).rstrip("/")


async def chat(base: str, body: dict[str, Any]) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http:
        async with http.post(base + "/api/chat", json=body) as resp:
            await resp.read()
            return resp.status, resp.headers.get("X-Cache", "")


async def until(check: Callable[[], bool], seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.02)):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached")


def test_lifecycle_actions_and_quit_with_a_stream_in_flight(
    on_qt_loop: Run, tmp_path: Path, store: SettingsStore
) -> None:
    async def scenario() -> None:
        sim = await started_sim()
        settings = make_settings(tmp_path, sim_url(sim), monitor_interval=0.05)
        controller = AppController(ProxyService(settings), store, tray_available=True)
        running = asyncio.ensure_future(controller.run())
        await asyncio.wait_for(controller.started.wait(), 10)
        assert controller.service.running
        base = controller.service.base_url
        menu = controller.tray.menu
        assert menu.caching.isChecked()

        # A real request through the proxy while the GUI shares the loop.
        assert await chat(base, CACHEABLE) == (200, "MISS")
        assert controller.service.state is not None
        await controller.service.state.cache.drain()  # the write runs in the executor
        assert await chat(base, CACHEABLE) == (200, "HIT")
        # The caching toggle takes effect at once and is persisted.
        menu.caching.trigger()
        assert not menu.caching.isChecked()
        assert await chat(base, CACHEABLE) == (200, "BYPASS")
        assert store.load()["cache_enabled"] is False
        menu.caching.trigger()
        assert await chat(base, CACHEABLE) == (200, "HIT")

        menu.copy_openai_url.trigger()
        assert QGuiApplication.clipboard().text() == base + "/v1"
        menu.copy_ollama_url.trigger()
        assert QGuiApplication.clipboard().text() == base

        await until(lambda: controller.state is TrayState.HEALTHY)
        controller.update_status()
        assert controller.tray.state is TrayState.HEALTHY
        assert base in controller.tray.toolTip()

        # An idle tray app builds no dashboard (memory) until it is opened.
        assert controller._dashboard is None
        menu.open_dashboard.trigger()
        assert controller._dashboard is not None and controller.dashboard.isVisible()
        await until(
            lambda: (
                controller.dashboard.view is not None and bool(controller.dashboard.view.hardware)
            )
        )
        assert "requests served" in controller.dashboard.summary.text()
        menu.connect_ide.trigger()
        assert controller.connect_dialog is not None
        assert base in controller.connect_dialog.text.toPlainText()
        # Issue 16 item 2: the snippets use installed models, each for what it can do.
        dialog = controller.connect_dialog
        await until(lambda: dialog.choice is not None)
        assert dialog.models_note.text() == "Snippets use your installed models."
        snippet = dialog.text.toPlainText()  # Continue, the first entry
        assert "model: llama3.2:latest\n    apiBase" in snippet
        assert "model: qwen2.5-coder:1.5b" in snippet and "roles: [autocomplete]" in snippet
        assert "model: nomic-embed-text:latest" in snippet
        dialog.copy.click()
        assert dialog.copy.text() == "Copied" and QGuiApplication.clipboard().text() == snippet
        # The Test button asks the proxy the way each client would.
        names = [c.name for c in dialog.configs]
        for name, expect in (
            ("Continue", "OK: 200"),
            ("Claude Code", "OK: 200"),
            ("Codex CLI", "OK: 200"),
            ("Cline (OpenAI Compatible)", "OK: 200"),
            ("MCP: Claude Code", "turn Agent tools on"),
        ):
            dialog.list.setCurrentRow(names.index(name))
            dialog.test.click()
            await until(lambda: not dialog.test_result.text().startswith("Testing"))
            assert expect in dialog.test_result.text(), (name, dialog.test_result.text())

        # Quit with a stream in flight: the stream ends complete, run() returns 0.
        sim.app[SIM_CONFIG].token_delay = 0.05
        async with aiohttp.ClientSession() as http:
            resp = await http.post(
                base + "/api/chat",
                json={"model": "llama3.2", "messages": [{"role": "user", "content": "a b c d"}]},
            )
            await resp.content.readline()
            menu.quit.trigger()
            raw = await resp.read()
        assert json.loads(raw.splitlines()[-1])["done"] is True
        assert await running == 0
        assert not controller.service.running
        assert not controller.dashboard.timer.isActive()
        await sim.close()

    on_qt_loop(scenario())


def test_taken_port_asks_for_another(on_qt_loop: Run, tmp_path: Path, store: SettingsStore) -> None:
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    taken = blocker.getsockname()[1]
    asked: list[PortInUse] = []

    async def ask(error: PortInUse) -> int | None:
        asked.append(error)
        return 0  # "pick a free one"

    async def scenario() -> None:
        settings = make_settings(tmp_path, "http://127.0.0.1:9", port=taken)
        controller = AppController(ProxyService(settings), store, tray_available=True, ask_port=ask)
        assert await controller.start()
        try:
            assert [e.port for e in asked] == [taken]
            assert controller.service.address[1] not in (0, taken)
            assert store.load()["port"] == 0
        finally:
            await controller.shutdown()

    try:
        on_qt_loop(scenario())
    finally:
        blocker.close()


def test_giving_up_on_the_port_ends_the_app(
    on_qt_loop: Run, tmp_path: Path, store: SettingsStore
) -> None:
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()

    async def give_up(error: PortInUse) -> int | None:
        return None

    async def scenario() -> int:
        settings = make_settings(tmp_path, "http://127.0.0.1:9", port=blocker.getsockname()[1])
        controller = AppController(ProxyService(settings), store, ask_port=give_up)
        return await controller.run()

    try:
        assert on_qt_loop(scenario()) == 1
    finally:
        blocker.close()


def test_with_no_ollama_the_engine_is_named_as_what_it_is(
    on_qt_loop: Run, tmp_path: Path, store: SettingsStore
) -> None:
    """ollama_url none: a llama-server that is down is "the engine", not "Ollama", with
    no advice to run `ollama serve`."""

    async def scenario() -> None:
        settings = make_settings(
            tmp_path, "none", openai_upstreams="llamacpp=http://127.0.0.1:9", monitor_interval=0.05
        )
        controller = AppController(ProxyService(settings), store, tray_available=True)
        assert await controller.start()
        try:
            await until(lambda: controller.tray.state is TrayState.OLLAMA_DOWN)
            title, message = controller.notices[-1]
            assert title == "The engine is unreachable" and "Ollama" not in message
            assert controller.tray.menu.status.text().startswith("⚠ The engine is not answering")
            controller.open_dashboard()
            controller.update_status()
            banner = controller.dashboard.ollama_banner
            assert banner.headline.text() == "The engine is not running at 127.0.0.1:9"
            assert "ollama serve" not in banner.how.text()
        finally:
            await controller.shutdown()

    on_qt_loop(scenario())


def test_ollama_down_and_back_notify_and_change_the_icon(
    on_qt_loop: Run, tmp_path: Path, store: SettingsStore
) -> None:
    async def scenario() -> None:
        sim = await started_sim()
        settings = make_settings(tmp_path, "http://127.0.0.1:9", monitor_interval=0.05)
        controller = AppController(ProxyService(settings), store, tray_available=True)
        assert await controller.start()
        try:
            # The status timer, not the test, updates the icon and raises the notice.
            await until(lambda: controller.tray.state is TrayState.OLLAMA_DOWN)
            assert controller.notices[-1][0] == "Ollama is unreachable"
            # Issue 16 item 4: the dashboard says it as a state, with actions.
            controller.open_dashboard()
            controller.update_status()
            banner = controller.dashboard.ollama_banner
            assert banner.isVisible()
            assert banner.headline.text() == "Ollama is not running at 127.0.0.1:9"
            assert "ollama serve" in banner.how.text()
            banner.change_url.click()
            assert controller.settings_dialog is not None
            assert controller.settings_dialog.isVisible()
            controller.settings_dialog.reject()
            assert controller.service.state is not None
            # Ollama starts where the settings point (here: the engine is swapped in).
            engine = OllamaEngine(
                sim_url(sim), connect_timeout=2, read_timeout=30, max_connections=4
            )
            await engine.start()
            controller.service.state.router = Router([engine])
            controller.service.state.upstream = engine
            banner.retry.click()  # Ollama is there now: Retry hides the banner at once
            await until(lambda: not banner.isVisible())
            # Ollama is back (here: the user points the settings at it).
            await controller.apply_settings(
                controller.service.settings.replace(ollama_url=sim_url(sim))
            )
            await until(lambda: controller.tray.state is TrayState.HEALTHY)
            assert controller.notices[-1][0] == "Ollama is back"
            assert store.load()["ollama_url"] == sim_url(sim)
        finally:
            await controller.shutdown()
            await sim.close()

    on_qt_loop(scenario())


def test_no_system_tray_opens_the_dashboard_and_says_why(
    on_qt_loop: Run, tmp_path: Path, store: SettingsStore
) -> None:
    async def scenario() -> None:
        settings = make_settings(tmp_path, "http://127.0.0.1:9")
        controller = AppController(ProxyService(settings), store, tray_available=False)
        running = asyncio.ensure_future(controller.run())
        await until(lambda: controller.dashboard.isVisible())
        assert "No system tray" in controller.dashboard.banner.text()
        # Issue 16 item 1: every tray action is in the window's menu bar.
        dashboard = controller.dashboard
        assert dashboard.menu_bar.isVisible()
        offered = {a.text() for a in dashboard.actions_menu.actions() if not a.isSeparator()}
        menu = controller.tray.menu
        for action in menu.commands():
            assert action.text() in offered
        assert {
            "Settings…",
            "Connect an IDE…",
            "Caching",
            "Copy OpenAI base URL",
            "Quit",
        } <= offered
        by_text = {a.text(): a for a in dashboard.actions_menu.actions()}
        by_text["Copy OpenAI base URL"].trigger()
        assert QGuiApplication.clipboard().text() == controller.service.base_url + "/v1"
        dashboard.close()  # standing in for the tray, closing it quits
        assert await running == 0

    on_qt_loop(scenario())


def test_settings_dialog_applies_live_and_rebinds(
    on_qt_loop: Run, tmp_path: Path, store: SettingsStore
) -> None:
    async def scenario() -> None:
        sim = await started_sim()
        settings = make_settings(tmp_path, sim_url(sim))
        controller = AppController(ProxyService(settings), store, tray_available=True)
        assert await controller.start()
        try:
            old_base = controller.service.base_url
            controller.tray.menu.settings.trigger()
            dialog = controller.settings_dialog
            assert dialog is not None
            dialog.cache_policy.setCurrentIndex(dialog.cache_policy.findData("all"))
            dialog.cache_enabled.setChecked(False)
            with socket.socket() as s:  # a port that is free right now
                s.bind(("127.0.0.1", 0))
                new_port = s.getsockname()[1]
            dialog.port.setValue(new_port)
            dialog.accept()
            await until(lambda: controller.service.address[1] == new_port)
            assert controller.service.base_url != old_base
            assert not controller.tray.menu.caching.isChecked()
            assert controller.service.state is not None
            assert controller.service.state.cache.policy == "all"
            status, _ = await chat(controller.service.base_url, CACHEABLE)
            assert status == 200
            stored = store.load()
            assert stored["port"] == new_port and stored["cache_policy"] == "all"
            # Requiring the token applies at once too.
            await controller.apply_settings(controller.service.settings.replace(require_token=True))
            assert (await chat(controller.service.base_url, CACHEABLE))[0] == 401
        finally:
            await controller.shutdown()
            await sim.close()

    on_qt_loop(scenario())


def test_the_port_dialog_answers_without_a_nested_loop(on_qt_loop: Run) -> None:
    from PySide6.QtWidgets import QApplication, QInputDialog

    from app.controller import ask_port_dialog

    async def scenario() -> tuple[int | None, int | None]:
        asking = asyncio.ensure_future(ask_port_dialog(PortInUse("127.0.0.1", 11435)))
        await until(
            lambda: any(
                isinstance(w, QInputDialog) and w.isVisible()
                for w in QApplication.topLevelWidgets()
            )
        )
        (dialog,) = [
            w
            for w in QApplication.topLevelWidgets()
            if isinstance(w, QInputDialog) and w.isVisible()
        ]
        assert "11435" in dialog.labelText() and dialog.intValue() == 11436
        dialog.setIntValue(12000)
        dialog.accept()
        chosen = await asking
        cancelling = asyncio.ensure_future(ask_port_dialog(PortInUse("127.0.0.1", 1)))
        await until(
            lambda: any(
                isinstance(w, QInputDialog) and w.isVisible()
                for w in QApplication.topLevelWidgets()
            )
        )
        for w in QApplication.topLevelWidgets():
            if isinstance(w, QInputDialog) and w.isVisible():
                w.reject()
        return chosen, await cancelling

    assert on_qt_loop(scenario()) == (12000, None)


def test_an_address_it_cannot_listen_on_shows_red_until_fixed(
    on_qt_loop: Run, tmp_path: Path, store: SettingsStore
) -> None:
    async def scenario() -> None:
        sim = await started_sim()
        # 203.0.113.7 is TEST-NET-3: no machine has it, so binding fails (EADDRNOTAVAIL).
        settings = make_settings(tmp_path, sim_url(sim), host="203.0.113.7")
        controller = AppController(ProxyService(settings), store, tray_available=True)
        try:
            assert await controller.start()  # the app stays up...
            assert not controller.service.running
            controller.update_status()
            assert controller.tray.state is TrayState.PROXY_ERROR  # ...red, and says why
            assert controller.notices[-1][0] == "The proxy could not start"
            await controller.apply_settings(controller.service.settings.replace(host="127.0.0.1"))
            assert controller.service.running and controller.error is None
            assert (await chat(controller.service.base_url, CACHEABLE))[0] == 200
        finally:
            await controller.shutdown()
            await sim.close()

    on_qt_loop(scenario())


def test_a_second_instance_is_told_apart(qapp: Any, tmp_path: Path, store: SettingsStore) -> None:
    """Another data folder: its name in the tooltip and a badge on the icon."""
    from PySide6.QtGui import QImage

    from app.icons import state_icon

    settings = make_settings(tmp_path, "http://127.0.0.1:9", data_dir=tmp_path / "team-b")
    controller = AppController(ProxyService(settings), store, tray_available=True)
    assert controller.instance_label == "team-b"
    controller.update_status()
    assert controller.tray.toolTip().startswith("Ollama Tray Proxy (team-b) — ")
    plain = state_icon(TrayState.STARTING).pixmap(64, 64).toImage()
    badged = controller.tray.icon().pixmap(64, 64).toImage()
    assert plain.convertToFormat(QImage.Format.Format_ARGB32) != badged.convertToFormat(
        QImage.Format.Format_ARGB32
    )
    assert QImage(badged).pixelColor(2, 15).name() == "#7048e8"  # the violet badge


def test_ollama_going_down_changes_icon_and_tooltip_on_the_status_timer(
    on_qt_loop: Run, tmp_path: Path, store: SettingsStore
) -> None:
    async def scenario() -> None:
        sim = await started_sim()
        settings = make_settings(tmp_path, sim_url(sim), monitor_interval=0.05)
        controller = AppController(ProxyService(settings), store, tray_available=True)
        assert await controller.start()
        try:
            await until(lambda: controller.tray.state is TrayState.HEALTHY)
            healthy_tip = controller.tray.toolTip()
            await sim.close()  # Ollama goes away; nobody calls update_status
            await until(lambda: controller.tray.state is TrayState.OLLAMA_DOWN)
            tip = controller.tray.toolTip()
            assert tip != healthy_tip and STATE_TEXT[TrayState.OLLAMA_DOWN] in tip
            assert controller.notices[-1][0] == "Ollama is unreachable"
            # The menu's status line stays readable (enabled, not greyed) and says it.
            status = controller.tray.menu.status
            assert status.isEnabled() and status.text().startswith("⚠ Ollama is not answering")
            assert not status.icon().isNull()
        finally:
            await controller.shutdown()

    on_qt_loop(scenario())


def test_a_truncated_prompt_is_announced_and_fixed_in_one_click(
    on_qt_loop: Run, tmp_path: Path, store: SettingsStore
) -> None:
    long_prompt = " ".join(f"w{i}" for i in range(80))

    async def scenario() -> None:
        sim = await started_sim()
        settings = make_settings(tmp_path, sim_url(sim), models={"llama3.2": {"num_ctx": 32}})
        controller = AppController(ProxyService(settings), store, tray_available=True)
        assert await controller.start()
        try:
            body = {
                "model": "llama3.2",
                "stream": False,
                "messages": [{"role": "user", "content": long_prompt}],
            }
            async with aiohttp.ClientSession(headers={"User-Agent": "Cline/3.17"}) as http:
                async with http.post(controller.service.base_url + "/api/chat", json=body) as r:
                    assert r.headers["X-Context-Truncated"] == "32/32"
            title, message = controller.notices[-1]
            assert title == "Prompt cut short for llama3.2"
            assert "Cline" in message and "8192" in message
            action = controller.tray.menu.raise_context
            assert action.isVisible() and "8192" in action.text()
            action.trigger()  # the one click
            await until(
                lambda: (
                    controller.service.settings.models.get("llama3.2", {}).get("num_ctx") == 8192
                )
            )
            assert not action.isVisible()
            assert store.load()["models"] == {"llama3.2": {"num_ctx": 8192}}  # persisted
            async with aiohttp.ClientSession() as http:
                async with http.post(controller.service.base_url + "/api/chat", json=body) as r:
                    assert "X-Context-Truncated" not in r.headers
            sent = sim.app[SIM_RECORDER].by_path("/api/chat")[-1].json()
            assert sent["options"]["num_ctx"] == 8192
        finally:
            await controller.shutdown()
            await sim.close()

    on_qt_loop(scenario())


def test_a_profile_edited_in_the_models_panel_is_applied_and_saved(
    on_qt_loop: Run, tmp_path: Path, store: SettingsStore
) -> None:
    async def scenario() -> None:
        sim = await started_sim()
        controller = AppController(
            ProxyService(make_settings(tmp_path, sim_url(sim))), store, tray_available=True
        )
        assert await controller.start()
        try:
            controller.tray.menu.models.trigger()
            window = controller.models_window
            assert window is not None and window.isVisible()
            window.profile_changed.emit("llama3.2:latest", {"num_ctx": 12288, "mode": "enforce"})
            await until(lambda: bool(controller.service.settings.models))
            assert store.load()["models"] == {
                "llama3.2:latest": {"num_ctx": 12288, "mode": "enforce"}
            }
            body = {
                "model": "llama3.2",
                "stream": False,
                "options": {"num_ctx": 2048},
                "messages": [{"role": "user", "content": "x"}],
            }
            async with aiohttp.ClientSession() as http:
                async with http.post(controller.service.base_url + "/api/chat", json=body):
                    pass
            sent = sim.app[SIM_RECORDER].by_path("/api/chat")[-1].json()
            assert sent["options"]["num_ctx"] == 12288  # enforced over the client's 2048
        finally:
            await controller.shutdown()
            await sim.close()

    on_qt_loop(scenario())


def test_agent_tools_switched_on_and_off_in_settings(
    on_qt_loop: Run, tmp_path: Path, store: SettingsStore
) -> None:
    workspace = tmp_path / "work"
    workspace.mkdir()

    async def scenario() -> None:
        sim = await started_sim()
        settings = make_settings(tmp_path, sim_url(sim))
        controller = AppController(ProxyService(settings), store, tray_available=True)
        running = asyncio.ensure_future(controller.run())
        await asyncio.wait_for(controller.started.wait(), 10)
        menu = controller.tray.menu
        assert not menu.agent_tools.isVisible()
        assert controller.service.tool_asker is controller.asker  # prompts go to the tray
        on = controller.service.settings.replace(agent_tools=True, workspace=str(workspace))
        await controller.apply_settings(on)
        assert menu.agent_tools.isVisible() and str(workspace) in menu.agent_tools.text()
        assert controller.service.state is not None and controller.service.state.mcp is not None
        assert store.load()["agent_tools"] is True
        tools = controller.service.state.tools
        assert tools is not None
        await tools.call("list_files", {}, origin="mcp", client="cline")
        controller.open_dashboard()
        controller.dashboard.refresh()
        assert controller.dashboard.tools_box.isVisible()
        assert "list_files [mcp]" in " ".join(controller.dashboard.tools.text())
        await tools.audit.drain()
        # A workspace that is gone: a warning, the tools stay off, the proxy serves on.
        gone = on.replace(workspace=str(tmp_path / "gone"))
        await controller.apply_settings(gone)
        assert controller.warning_box is not None and "workspace" in controller.warning_box.text()
        assert controller.service.running and controller.service.settings.agent_tools is False
        assert controller.service.state.mcp is None and not menu.agent_tools.isVisible()
        controller.quit()
        assert await running == 0
        await sim.close()

    on_qt_loop(scenario())


def test_the_port_suggested_after_a_clash_is_free() -> None:
    from app.controller import free_port_near

    held = []
    first = socket.socket()
    first.bind(("127.0.0.1", 0))
    port = first.getsockname()[1]
    held.append(first)
    nxt = socket.socket()
    try:
        nxt.bind(("127.0.0.1", port + 1))  # the obvious suggestion is taken too
        held.append(nxt)
    except OSError:
        nxt.close()  # already taken by someone else: just as good
    try:
        suggested = free_port_near("127.0.0.1", port)
        assert suggested not in (port, port + 1)
        with socket.socket() as check:
            check.bind(("127.0.0.1", suggested))  # really free
    finally:
        for sock in held:
            sock.close()


def test_open_metrics_with_a_token_gives_a_curl_line(
    on_qt_loop: Run, tmp_path: Path, store: SettingsStore
) -> None:
    async def scenario() -> None:
        settings = make_settings(tmp_path, "http://127.0.0.1:9", require_token=True)
        controller = AppController(ProxyService(settings), store, tray_available=True)
        assert await controller.start()
        try:
            controller.tray.menu.open_metrics.trigger()  # a browser cannot send the token
            token = controller.service.access_token
            line = QGuiApplication.clipboard().text()
            assert line == (
                f'curl -H "Authorization: Bearer {token}" {controller.service.base_url}/metrics'
            )
            title, text = controller.notices[-1]
            assert title.startswith("Metrics") and token not in text and "<token>" in text
        finally:
            await controller.shutdown()

    on_qt_loop(scenario())
