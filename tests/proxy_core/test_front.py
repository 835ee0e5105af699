"""The short path (front.py): which requests take it, and that a connection behaves as
aiohttp's own would around it (order, pipelining, keep-alive, disconnects, bad input)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import ollama
import openai
import pytest

from proxy_core import ProxyService, front
from tests.conftest import Sim, make_settings, serving

CHAT = json.dumps(
    {"model": "llama3.2", "stream": False, "messages": [{"role": "user", "content": "hi"}]}
).encode()


def _post(path: str, body: bytes = CHAT, extra: str = "") -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n{extra}\r\n"
    )
    return head.encode() + body


async def _read_reply(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    status = int((await reader.readline()).split()[1])
    while status < 200:  # 100 Continue, then the reply
        assert await reader.readline() == b"\r\n"
        status = int((await reader.readline()).split()[1])
    headers: dict[str, str] = {}
    while (line := await reader.readline()) != b"\r\n":
        name, _, value = line.decode().partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        return status, headers, await reader.readexactly(int(headers["content-length"]))
    body = b""
    while size := int((await reader.readline()).strip(), 16):  # chunked
        body += await reader.readexactly(size)
        await reader.readline()
    await reader.readline()
    return status, headers, body


async def _exchange(
    proxy: ProxyService, raw: bytes, replies: int = 1
) -> list[tuple[int, dict[str, str], bytes]]:
    reader, writer = await asyncio.open_connection(*proxy.address)
    try:
        writer.write(raw)
        return [await asyncio.wait_for(_read_reply(reader), 10) for _ in range(replies)]
    finally:
        writer.close()


async def test_the_generation_routes_of_the_real_clients_take_the_short_path(
    proxy: ProxyService,
) -> None:
    before = proxy.front_served
    client = ollama.AsyncClient(host=proxy.base_url)
    answer = await client.chat(model="llama3.2", messages=[{"role": "user", "content": "hi"}])
    assert answer.message.content
    streamed = [part async for part in await client.generate("llama3.2", "hi", stream=True)]
    assert streamed[-1].done
    openai_client = openai.AsyncOpenAI(base_url=proxy.base_url + "/v1", api_key="x")
    completion = await openai_client.chat.completions.create(
        model="llama3.2", messages=[{"role": "user", "content": "hi"}]
    )
    assert completion.choices[0].message.content
    await client.list()  # a passthrough route: aiohttp's own path
    assert proxy.front_served - before >= 3


async def test_what_the_short_path_leaves_to_aiohttp_is_answered_the_same(
    proxy: ProxyService,
) -> None:
    cases = [
        _post("/api/chat?x=1"),  # a query string
        _post("/api/chat", extra="Expect: 100-continue\r\n"),
        b"POST /api/chat HTTP/1.0\r\nHost: localhost\r\nContent-Length: %d\r\n\r\n" % len(CHAT)
        + CHAT,
        b"POST /api/chat HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
        + b"%x\r\n" % len(CHAT)
        + CHAT
        + b"\r\n0\r\n\r\n",
    ]
    before = proxy.front_served
    for raw in cases:
        ((status, _, body),) = await _exchange(proxy, raw)
        assert status == 200 and json.loads(body)["done"] is True
    assert proxy.front_served - before == 1  # only the chunked body, complete in one read


async def test_pipelined_requests_are_answered_in_order(proxy: ProxyService) -> None:
    second = json.dumps({"model": "llama3.2", "prompt": "two", "stream": False}).encode()
    replies = await _exchange(proxy, _post("/api/chat") + _post("/api/generate", second), 2)
    assert [status for status, _, _ in replies] == [200, 200]
    assert "message" in json.loads(replies[0][2]) and "response" in json.loads(replies[1][2])


async def test_a_request_sent_before_the_previous_reply_waits_its_turn(
    sim: Sim, proxy: ProxyService
) -> None:
    sim.config.header_delay = 0.3  # the first request is still in Ollama's hands
    reader, writer = await asyncio.open_connection(*proxy.address)
    try:
        writer.write(_post("/api/chat"))
        await writer.drain()
        await asyncio.sleep(0.1)
        # A quick request (aiohttp's path) must not overtake the slow one on the wire.
        writer.write(b"GET /api/version HTTP/1.1\r\nHost: localhost\r\n\r\n")
        first = await asyncio.wait_for(_read_reply(reader), 10)
        second = await asyncio.wait_for(_read_reply(reader), 10)
    finally:
        writer.close()
    assert "message" in json.loads(first[2]) and "version" in json.loads(second[2])


async def test_connection_close_is_honoured_and_keep_alive_kept(proxy: ProxyService) -> None:
    reader, writer = await asyncio.open_connection(*proxy.address)
    try:
        for _ in range(3):  # one connection, several requests
            writer.write(_post("/api/chat"))
            status, headers, _ = await asyncio.wait_for(_read_reply(reader), 10)
            assert status == 200 and headers.get("connection") != "close"
        writer.write(_post("/api/chat", extra="Connection: close\r\n"))
        status, headers, _ = await asyncio.wait_for(_read_reply(reader), 10)
        assert status == 200 and headers["connection"] == "close"
        assert await asyncio.wait_for(reader.read(), 5) == b""
    finally:
        writer.close()


async def test_a_client_that_leaves_mid_generation_stops_the_upstream_request(
    sim: Sim, proxy: ProxyService
) -> None:
    sim.config.header_delay = 5.0
    before = proxy.front_served
    reader, writer = await asyncio.open_connection(*proxy.address)
    writer.write(_post("/api/chat"))
    await writer.drain()
    await asyncio.sleep(0.3)
    assert proxy.front_served == before + 1
    writer.close()
    state = proxy.state
    assert state is not None
    for _ in range(50):  # the handler is cancelled: the generation slot is given back
        await asyncio.sleep(0.05)
        if state.metrics.snapshot().in_flight == 0:
            break
    assert state.metrics.snapshot().in_flight == 0


async def test_a_refusal_on_the_short_path_is_in_the_route_dialect(proxy: ProxyService) -> None:
    ((status, _, body),) = await _exchange(proxy, _post("/v1/chat/completions", b"{not json"))
    assert status == 400 and "error" in json.loads(body)
    assert isinstance(json.loads(body)["error"], dict)  # OpenAI's shape, not Ollama's
    ((status, _, body),) = await _exchange(
        proxy, _post("/api/chat").replace(b"Host: localhost", b"Host: evil.example")
    )
    assert status == 403 and "DNS rebinding" in json.loads(body)["error"]


async def test_an_aiohttp_without_the_internals_it_relies_on_serves_everything_as_before(
    sim: Sim, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # A future aiohttp that renamed one of them: the short path stays off, nothing breaks.
    monkeypatch.setattr(front, "_HANDLER_INTERNALS", (*front._HANDLER_INTERNALS, "_renamed"))
    async with serving(make_settings(tmp_path, sim.url)) as proxy:
        ((status, _, body),) = await _exchange(proxy, _post("/api/chat") + _post("/api/chat"))
        assert status == 200 and json.loads(body)["done"] is True
        answer = await ollama.AsyncClient(host=proxy.base_url).chat(
            model="llama3.2", messages=[{"role": "user", "content": "hi"}]
        )
        assert answer.message.content
        assert proxy.front_served == 0
    assert "short path is off" in caplog.text
