"""Issue 24, load on the paths added since the last round: many agent loops at once, and
slow clients on /v1/messages, /v1/responses and /mcp; time and memory stay bounded and
other clients keep being served."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import aiohttp
import pytest

from proxy_core import ProxyService
from tests.conftest import Sim, make_settings

ASK = [{"role": "user", "content": "look"}]


@pytest.fixture
def proxy_changes(tmp_path: Path) -> dict[str, object]:
    root = tmp_path / "work"
    root.mkdir()
    for number in range(20):
        (root / f"f{number}.txt").write_text("x\n")
    return {"agent_tools": True, "workspace": str(root), "body_timeout": 0.5}


async def test_many_agent_loops_at_once_finish_and_others_are_served(
    proxy: ProxyService, sim: Sim
) -> None:
    loops = 24
    sim.config.script = [[{"name": "list_files", "arguments": {}}] for _ in range(loops)]
    headers = {"Authorization": f"Bearer {proxy.access_token}"}
    body = {"model": "agent/llama3.2", "messages": ASK, "stream": False}
    plain = {"model": "llama3.2", "messages": ASK, "stream": False}
    async with aiohttp.ClientSession(headers=headers) as http:

        async def agent() -> int:
            async with http.post(proxy.base_url + "/api/chat", json=body) as resp:
                reply = json.loads(await resp.read())
                assert reply["done"] is True
                return resp.status

        async def meanwhile() -> float:
            await asyncio.sleep(0.05)
            started = time.monotonic()
            async with http.post(proxy.base_url + "/api/chat", json=plain) as resp:
                assert resp.status == 200
            return time.monotonic() - started

        started = time.monotonic()
        *statuses, other = await asyncio.gather(*(agent() for _ in range(loops)), meanwhile())
    assert statuses == [200] * loops
    assert time.monotonic() - started < 30 and other < 10
    assert proxy.state is not None and proxy.state.tools is not None
    await proxy.state.tools.audit.drain()
    assert len(proxy.state.tools.audit.recent) == loops


@pytest.mark.parametrize("path", ["/v1/messages", "/v1/responses", "/mcp"])
async def test_slow_clients_get_408_and_do_not_hold_others(proxy: ProxyService, path: str) -> None:
    host, port = proxy.base_url.removeprefix("http://").split(":")
    token = proxy.access_token.encode()
    slow = []
    for _ in range(30):
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(
            b"POST " + path.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Authorization: Bearer " + token + b"\r\nContent-Type: application/json\r\n"
            b"Accept: application/json, text/event-stream\r\nContent-Length: 100000\r\n\r\n{"
        )
        await writer.drain()
        slow.append((reader, writer))
    body = {"model": "llama3.2", "max_tokens": 9, "messages": ASK, "input": "hi"}
    async with aiohttp.ClientSession() as http:
        started = time.monotonic()
        async with http.post(proxy.base_url + "/v1/messages", json=body) as resp:
            assert resp.status == 200
        assert time.monotonic() - started < 2
    answers = await asyncio.gather(*(reader.read(200) for reader, _ in slow))
    assert all(a.startswith(b"HTTP/1.1 408") for a in answers), answers[0]
    for _, writer in slow:
        writer.close()


async def test_slow_readers_of_a_stream_do_not_hold_others(sim: Sim, tmp_path: Path) -> None:
    """Clients that stop reading a long stream: the proxy's buffers stay bounded by the
    socket's, and a fresh client is served at once."""
    sim.config.reply_words = 50_000  # far more than the sockets buffer
    service = ProxyService(make_settings(tmp_path, sim.url))
    await service.start()
    try:
        host, port = service.base_url.removeprefix("http://").split(":")
        stalled = []
        request = json.dumps(
            {"model": "llama3.2", "max_tokens": 4000, "stream": True, "messages": ASK}
        ).encode()
        for path in (b"/v1/messages", b"/v1/responses"):
            for _ in range(5):
                reader, writer = await asyncio.open_connection(host, int(port))
                writer.write(
                    b"POST " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                    b"application/json\r\nContent-Length: " + str(len(request)).encode()
                    + b"\r\n\r\n" + request
                )  # fmt: skip
                await writer.drain()
                stalled.append(writer)  # and never read
        async with aiohttp.ClientSession() as http:
            started = time.monotonic()
            async with http.get(service.base_url + "/api/tags") as resp:
                assert resp.status == 200
            assert time.monotonic() - started < 2
        for writer in stalled:
            writer.close()
    finally:
        await service.stop()
