"""Issue 11: the tray app froze 40-60 s after a burst of requests ended, when the burst's
per-request timeouts all came due on the Qt loop. A probe task measures the loop's longest
stall past the timeout horizon."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer

from proxy_core import ProxyService
from tests.app.stall_probe import worst_stall
from tests.conftest import make_settings
from tests.fakes.ollama_sim import create_sim_app

Run = Callable[[Awaitable[Any]], Any]
BURST = 10_000
HORIZON = 1.0  # body_timeout: every request armed (and cancelled) one timeout this long


def pending_timers(loop: asyncio.AbstractEventLoop) -> int:
    """Timers the loop holds, dead ones included (plain qasync: one Qt timer each)."""
    own = getattr(loop, "scheduled_timer_count", None)
    if own is not None:
        return int(own)
    return len(loop._timer._SimpleTimer__callbacks)  # type: ignore[attr-defined]


def test_no_stall_after_a_burst_once_its_timeouts_come_due(on_qt_loop: Run, tmp_path: Path) -> None:
    async def scenario() -> tuple[float, int, int]:
        sim = TestServer(create_sim_app())
        await sim.start_server()
        url = str(sim.make_url("")).rstrip("/")
        service = ProxyService(make_settings(tmp_path, url, body_timeout=HORIZON))
        await service.start()
        body = {
            "model": "llama3.2",
            "stream": False,
            "options": {"temperature": 0},
            "messages": [{"role": "user", "content": "burst"}],
        }
        ok = 0
        try:
            connector = aiohttp.TCPConnector(limit=32)
            async with aiohttp.ClientSession(connector=connector) as http:

                async def one(_: int) -> None:
                    nonlocal ok
                    async with http.post(service.base_url + "/api/chat", json=body) as resp:
                        await resp.read()
                        ok += resp.status == 200

                started = time.perf_counter()
                await asyncio.gather(*(one(i) for i in range(BURST)))
                pending = pending_timers(asyncio.get_running_loop())
                # Wait until the first request's timeout is due, then probe past the last.
                await asyncio.sleep(max(0.0, HORIZON - (time.perf_counter() - started)))
                stall = await worst_stall(HORIZON + 0.5)
            return stall, ok, pending
        finally:
            await service.stop()
            await sim.close()

    stall, ok, timers = on_qt_loop(scenario())
    assert ok == BURST
    assert stall < 0.05, f"the loop stalled {stall * 1000:.0f} ms"
    assert timers < 500, "dead timeouts accumulate (memory grows with traffic)"
