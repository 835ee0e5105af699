"""Limits and slow clients: heads, bodies, idle sockets, oversized input."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from proxy_core import ProxyService
from tests.conftest import Sim, make_settings


@pytest.fixture
async def strict(sim: Sim, tmp_path: Path) -> AsyncIterator[ProxyService]:
    service = ProxyService(
        make_settings(
            tmp_path,
            sim.url,
            keepalive_timeout=0.5,
            body_timeout=0.5,
            max_body_size=10_000,
        )
    )
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


async def open_raw(service: ProxyService) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", service.address[1])


async def closed_within(reader: asyncio.StreamReader, seconds: float) -> bytes:
    """Everything the server sent before it closed the connection."""
    return await asyncio.wait_for(reader.read(), seconds)


async def test_a_head_sent_too_slowly_is_dropped(strict: ProxyService) -> None:
    reader, writer = await open_raw(strict)
    writer.write(b"GET /api/version HTTP/1.1\r\nHost: 127.0.0.1\r\n")

    async def trickle() -> None:
        for _ in range(40):  # one header byte every 50 ms: a slowloris
            writer.write(b"X")
            await asyncio.sleep(0.05)

    task = asyncio.ensure_future(trickle())
    try:
        assert await closed_within(reader, 3.0) == b""
        assert not task.done()  # dropped while the head was still trickling in
    finally:
        task.cancel()
        writer.close()


async def test_an_idle_connection_is_closed_after_keepalive(strict: ProxyService) -> None:
    reader, writer = await open_raw(strict)
    try:
        assert await closed_within(reader, 3.0) == b""
    finally:
        writer.close()


@pytest.mark.parametrize(
    ("path", "dialect"), [("/api/chat", "native"), ("/v1/chat/completions", "openai")]
)
async def test_a_body_sent_too_slowly_is_408_in_dialect(
    strict: ProxyService, sim: Sim, path: str, dialect: str
) -> None:
    reader, writer = await open_raw(strict)
    writer.write(
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        'Content-Length: 100\r\n\r\n{"model":'.encode()
    )
    try:
        reply = await asyncio.wait_for(reader.read(4096), 3.0)
    finally:
        writer.close()
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408")
    error = json.loads(body)["error"]
    assert "did not arrive" in (error if dialect == "native" else error["message"])
    assert sim.recorder.requests == []


async def test_many_idle_and_slow_sockets_do_not_starve_real_requests(
    strict: ProxyService,
) -> None:
    sockets = []
    for i in range(200):
        reader, writer = await open_raw(strict)
        if i % 2:
            writer.write(b"POST /api/chat HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never finished
        sockets.append(writer)
    try:
        async with aiohttp.ClientSession() as http:
            # Served while the sockets are held (a bound, not a speed target).
            async with asyncio.timeout(10):
                async with http.get(strict.base_url + "/api/version") as resp:
                    assert resp.status == 200
    finally:
        for writer in sockets:
            writer.close()


@pytest.mark.parametrize(
    ("path", "dialect"), [("/api/chat", "native"), ("/v1/chat/completions", "openai")]
)
async def test_oversized_body_is_413_in_dialect(
    strict: ProxyService, sim: Sim, path: str, dialect: str
) -> None:
    body = {"model": "llama3.2", "messages": [{"role": "user", "content": "x" * 20_000}]}
    async with aiohttp.ClientSession() as http:
        async with http.post(strict.base_url + path, json=body) as resp:
            assert resp.status == 413
            error = (await resp.json())["error"]
    assert "10000 bytes" in (error if dialect == "native" else error["message"])
    assert sim.recorder.requests == []


@pytest.mark.parametrize(
    ("path", "dialect"), [("/api/chat", "native"), ("/v1/chat/completions", "openai")]
)
async def test_an_oversized_chunked_body_in_one_packet_is_413_in_dialect(
    strict: ProxyService, sim: Sim, path: str, dialect: str
) -> None:
    # No Content-Length for the guard to judge: the body is whole in the buffer when the
    # handler takes it, and its size is checked there.
    body = json.dumps({"model": "llama3.2", "prompt": "x" * 20_000}).encode()
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    reader, writer = await open_raw(strict)
    writer.write(head.encode() + b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n")
    try:
        reply = await asyncio.wait_for(reader.read(), 5.0)
    finally:
        writer.close()
    status_line, _, rest = reply.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 413 Request Entity Too Large"
    error = json.loads(rest.partition(b"\r\n\r\n")[2])["error"]
    assert "10000 bytes" in (error if dialect == "native" else error["message"])
    assert sim.recorder.requests == []


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Big": "a" * 9000},  # over aiohttp's 8190-byte field limit
        {f"X-H{i}": "v" for i in range(200)},  # over its 128-header limit
    ],
)
async def test_oversized_headers_are_400(strict: ProxyService, headers: dict[str, str]) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(strict.base_url + "/api/version", headers=headers) as resp:
            assert resp.status == 400
