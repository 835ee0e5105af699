"""The request boundary's log line: one at debug, none at info, never the prompt."""

from __future__ import annotations

import logging
from pathlib import Path

import aiohttp
import pytest

from proxy_core import ProxyService
from tests.conftest import Sim, make_settings

SECRET = "my-very-private-prompt"


async def _chat(proxy: ProxyService) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(
            proxy.base_url + "/api/chat",
            json={"model": "llama3.2", "messages": [{"role": "user", "content": SECRET}]},
        ) as resp:
            await resp.read()


async def test_one_debug_line_per_request(
    proxy: ProxyService, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="proxy_core.middleware"):
        await _chat(proxy)
    lines = [r.getMessage() for r in caplog.records if r.name == "proxy_core.middleware"]
    assert len(lines) == 1
    (line,) = lines
    for part in ("route=/api/chat", "model=llama3.2", "status=200", "cache=", "duration_ms="):
        assert part in line
    assert "ttfb_ms=" in line and "ttfb_ms=-" not in line
    assert SECRET not in caplog.text


async def test_nothing_per_request_at_info(
    proxy: ProxyService, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        await _chat(proxy)
    assert [r for r in caplog.records if r.name.startswith("proxy_core")] == []


async def test_bodies_only_with_the_debug_setting(
    sim: Sim, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    service = ProxyService(make_settings(tmp_path, sim.url, log_bodies=True))
    await service.start()
    try:
        with caplog.at_level(logging.DEBUG, logger="proxy_core.middleware"):
            await _chat(service)
    finally:
        await service.stop()
    assert SECRET in caplog.text
