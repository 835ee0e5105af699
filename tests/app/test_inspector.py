"""Issue 16 item 8 (tray): the inspector table fills, filters, shows a row's details with
secrets redacted, and copies a row as curl."""

from __future__ import annotations

import asyncio
import shlex
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
from PySide6.QtGui import QGuiApplication

from app.controller import AppController
from app.inspector import COLUMNS
from app.settings_store import SettingsStore
from proxy_core import ProxyService
from tests.app.test_controller import sim_url, started_sim, until
from tests.conftest import make_settings

Run = Callable[[Awaitable[object]], object]


def test_the_inspector_fills_filters_and_redacts(
    on_qt_loop: Run, tmp_path: Path, store: SettingsStore
) -> None:
    async def scenario() -> None:
        sim = await started_sim()
        settings = make_settings(tmp_path, sim_url(sim))
        controller = AppController(ProxyService(settings), store, tray_available=True)
        assert await controller.start()
        try:
            base = controller.service.base_url
            headers = {"Authorization": "Bearer hidden-token-value"}
            async with aiohttp.ClientSession(headers=headers) as http:
                for body in (
                    {
                        "model": "llama3.2",
                        "stream": False,
                        "messages": [{"role": "user", "content": "a"}],
                    },
                    {
                        "model": "no-such-model",
                        "stream": False,
                        "messages": [{"role": "user", "content": "b"}],
                    },
                ):
                    async with http.post(base + "/api/chat", json=body) as resp:
                        await resp.read()
            # Issue 16 item 9: the dashboard says who is talking and what fails.
            controller.open_dashboard()
            controller.dashboard.refresh()
            clients = controller.dashboard.clients.text()
            assert any("2 requests, 1 errors" in value for value in clients.values()), clients
            controller.tray.menu.requests.trigger()
            inspector = controller.inspector
            assert inspector is not None and inspector.isVisible()
            await until(lambda: inspector.table.rowCount() >= 2)
            assert inspector.table.columnCount() == len(COLUMNS)
            paths = [inspector.table.item(r, 3).text() for r in range(inspector.table.rowCount())]
            assert paths[:2] == ["POST /api/chat", "POST /api/chat"]  # newest first
            inspector.status_filter.setText("4xx")
            assert inspector.table.rowCount() == 1
            assert inspector.table.item(0, 4).text() == "no-such-model"
            assert inspector.table.item(0, 5).text() == "404"
            inspector.status_filter.clear()
            inspector.model_filter.setText("llama")
            assert [r.model for r in inspector.shown] == ["llama3.2"]
            inspector.table.selectRow(0)
            detail = inspector.detail.toPlainText()
            assert '"Authorization": "<redacted>"' in detail
            assert "hidden-token-value" not in detail and "kept only with log_bodies" in detail
            inspector.copy_curl.click()
            copied = QGuiApplication.clipboard().text()
            assert shlex.split(copied)[:4] == ["curl", "-X", "POST", base + "/api/chat"]
            assert "hidden-token-value" not in copied and inspector.copy_curl.text() == "Copied"
        finally:
            await controller.shutdown()
            await sim.close()
            await asyncio.sleep(0)

    on_qt_loop(scenario())


def test_time_to_first_token_only_for_streamed_rows() -> None:
    import time

    from app.inspector import COLUMNS, row_text
    from proxy_core.observe.requests_log import RequestRecord

    def record(content_type: str) -> RequestRecord:
        return RequestRecord(
            time.time(), "continue", "native", "POST", "/api/chat", "llama3.2", 200, "MISS",
            1.5, 1.4, 10, 40, 30.0, {}, {"Content-Type": content_type},
        )  # fmt: skip

    column = COLUMNS.index("TTFT ms")
    assert row_text(record("application/x-ndjson"))[column] == "1400.0"
    assert row_text(record("text/event-stream; charset=utf-8"))[column] == "1400.0"
    assert row_text(record("application/json; charset=utf-8"))[column] == "-"  # whole reply
