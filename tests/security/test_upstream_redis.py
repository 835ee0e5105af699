"""Issue 24, upstreams and the shared cache: no request field, name, header or request
line steers the proxy to a URL that is not configured (SSRF); what is in Redis is read as
untrusted (another type, huge, garbage, forged times: a miss, never a crash, an unbounded
read, a poisoned answer or a "Redis is down"); a Redis that never answers costs one short
timeout."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from proxy_core import ProxyService
from proxy_core.cache import redis_store
from tests.conftest import Sim, make_settings
from tests.fakes.redis_server import RedisServer

HI = [{"role": "user", "content": "hi"}]


@pytest.fixture
async def trap() -> AsyncIterator[tuple[str, list[str]]]:
    """A server nobody configured: it must never be asked anything."""
    seen: list[str] = []

    async def anything(request: web.Request) -> web.Response:
        seen.append(f"{request.method} {request.path_qs}")
        return web.Response(text="trapped")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", anything)
    server = TestServer(app)
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/"), seen
    finally:
        await server.close()


def steering_bodies(trap_url: str) -> list[tuple[str, dict[str, Any]]]:
    host = trap_url.removeprefix("http://")
    fields = {
        "api_base": trap_url,
        "base_url": trap_url,
        "user_config": {"api_base": trap_url},
        "url": trap_url,
        "host": trap_url,
        "ollama_url": trap_url,
    }
    out: list[tuple[str, dict[str, Any]]] = []
    for model in ("llama3.2", trap_url + "/llama3.2", f"{host}/llama3.2", "trap/llama3.2"):
        out += [
            ("/api/chat", {"model": model, "messages": HI, "stream": False, **fields}),
            ("/api/generate", {"model": model, "prompt": "hi", "stream": False, **fields}),
            ("/v1/chat/completions", {"model": model, "messages": HI, **fields}),
            ("/v1/messages", {"model": model, "max_tokens": 9, "messages": HI, **fields}),
            ("/v1/responses", {"model": model, "input": "hi", **fields}),
            ("/api/embed", {"model": model, "input": "hi", **fields}),
        ]
    return out


async def test_no_request_field_or_model_name_reaches_an_unconfigured_url(
    proxy: ProxyService, http: aiohttp.ClientSession, trap: tuple[str, list[str]]
) -> None:
    url, seen = trap
    headers = {
        "X-Forwarded-Host": url.removeprefix("http://"),
        "Forwarded": f"host={url.removeprefix('http://')}",
        "X-Original-URL": url,
    }
    for path, body in steering_bodies(url):
        async with http.post(proxy.base_url + path, json=body, headers=headers) as resp:
            assert resp.status in (200, 400, 404), (path, body["model"], resp.status)
    assert seen == []


async def test_an_absolute_request_target_is_not_followed(
    proxy: ProxyService, trap: tuple[str, list[str]], sim: Sim
) -> None:
    url, seen = trap
    host, port = proxy.base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        f"GET {url}/api/tags HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
    )
    await writer.drain()
    answer = await reader.read()
    writer.close()
    assert answer.startswith(b"HTTP/1.1 ") and seen == []


# -- the shared cache ----------------------------------------------------------------------


async def ask(base: str) -> tuple[int, str, str]:
    body = {"model": "llama3.2", "stream": False, "options": {"temperature": 0}, "messages": HI}
    async with aiohttp.ClientSession() as http:
        async with http.post(base + "/api/chat", json=body) as resp:
            data = json.loads(await resp.read())
            return resp.status, resp.headers.get("X-Cache", ""), data["message"]["content"]


async def poison_every_answer(redis_url: str, how: str) -> int:
    import redis.asyncio as redis

    client = redis.Redis.from_url(redis_url)
    keys = [k async for k in client.scan_iter(match="*:answer:*")]
    for key in keys:
        if how == "wrong type":
            await client.delete(key)
            await client.lpush(key, b"x")
        elif how == "huge":
            await client.setrange(key, redis_store.MAX_VALUE_BYTES + 10, b"x")
        elif how == "garbage":
            await client.set(key, b"\x00\xffnot an entry")
        elif how == "forever fresh":
            entry = await client.get(key)
            head, _, rest = entry.partition(b"\n")
            meta = json.loads(head)
            meta["created"] = 1e300
            await client.set(key, json.dumps(meta).encode() + b"\n" + rest)
        elif how == "another answer":
            entry = await client.get(key)
            await client.set(key, entry.replace(b"Simulated", b"POISONED"))
    await client.aclose()
    return len(keys)


@pytest.mark.parametrize("how", ["wrong type", "huge", "garbage", "forever fresh"])
async def test_a_poisoned_entry_is_a_miss_and_redis_stays_up(
    tmp_path: Path, sim: Sim, redis_server: RedisServer, how: str
) -> None:
    first = ProxyService(make_settings(tmp_path / "a", sim.url, cache_url=redis_server.url))
    await first.start()
    try:
        status, cache, answer = await ask(first.base_url)
        assert (status, cache) == (200, "MISS")
        assert first.state is not None
        await first.state.cache.drain()
    finally:
        await first.stop()
    assert await poison_every_answer(redis_server.url, how) == 1
    other = ProxyService(make_settings(tmp_path / "b", sim.url, cache_url=redis_server.url))
    await other.start()
    try:
        status, cache, again = await ask(other.base_url)
        assert (status, cache, again) == (200, "MISS", answer)  # from Ollama, not the poison
        assert other.state is not None
        await other.state.cache.drain()
        shared = other.state.cache.backend
        assert getattr(shared, "shared", False) and shared.available  # not "down"
        assert (await ask(other.base_url))[1] == "HIT"  # the good answer is stored again
    finally:
        await other.stop()


async def test_a_redis_that_never_answers_costs_one_short_timeout(tmp_path: Path, sim: Sim) -> None:
    silent: list[asyncio.StreamWriter] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        silent.append(writer)  # reads nothing, answers nothing

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    service = ProxyService(
        make_settings(tmp_path, sim.url, cache_url=f"redis://127.0.0.1:{port}/0")
    )
    await service.start()
    try:
        loop = asyncio.get_running_loop()
        for _ in range(3):
            started = loop.time()
            status, _, _ = await ask(service.base_url)
            assert status == 200 and loop.time() - started < 2 * redis_store.TIMEOUT + 1
    finally:
        await service.stop()
        server.close()
        for writer in silent:
            writer.close()
