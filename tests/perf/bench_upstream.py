"""Upstream client candidates for whole replies, in one process against the fast stand-in:
httpx, aiohttp's ClientSession (as the proxy configures it) and the lean httptools pool. CPU per
request is what matters to the proxy, so each is measured as requests per CPU second of
this process as well as per wall second."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import httpx

from proxy_core.engines.pool import LeanPool

from .fast_upstream import start_fast
from .harness import free_port, processes, wait_ready

BODY = b'{"model":"llama3.2","stream":false,"messages":[{"role":"user","content":"bench"}]}'
HEADERS = [("Content-Type", "application/json")]


async def _measure(
    send: object, concurrency: int = 64, seconds: float = 3.0
) -> tuple[float, float]:
    assert callable(send)
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await send()
            done += 1

    wall, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return done / wall, cpu / done * 1e6


async def run() -> list[tuple[str, str]]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    rows: list[tuple[str, str]] = []
    with processes(start_fast(port)):
        await wait_ready(url)
        connector = aiohttp.TCPConnector(limit=64, keepalive_timeout=30)
        async with aiohttp.ClientSession(
            connector=connector,
            auto_decompress=False,
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding"),
            cookie_jar=aiohttp.DummyCookieJar(),
            timeout=aiohttp.ClientTimeout(total=None, connect=5, sock_read=600),
        ) as http:

            async def via_aiohttp() -> None:
                async with http.post(url + "/api/chat", data=BODY, headers=dict(HEADERS)) as resp:
                    await resp.read()

            pool = LeanPool(url, connect_timeout=5, read_timeout=600, limit=64)

            async def via_pool() -> None:
                await pool.request("POST", "/api/chat", HEADERS, BODY)

            limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
            async with httpx.AsyncClient(limits=limits, timeout=None, trust_env=False) as hx:

                async def via_httpx() -> None:
                    resp = await hx.post(url + "/api/chat", content=BODY, headers=dict(HEADERS))
                    assert resp.status_code == 200

                results: dict[str, list[tuple[float, float]]] = {}
                candidates = (
                    ("httpx AsyncClient", via_httpx),
                    ("aiohttp ClientSession", via_aiohttp),
                    ("lean pool (httptools)", via_pool),
                )
                for _ in range(3):
                    for name, send in candidates:
                        results.setdefault(name, []).append(await _measure(send))
            pool.close()
    for name, values in results.items():
        rps = sorted(v[0] for v in values)[1]
        cpu = sorted(v[1] for v in values)[1]
        rows.append((f"{name}: req/s (c=64), CPU us per request", f"{rps:,.0f}, {cpu:.0f}"))
    return rows
