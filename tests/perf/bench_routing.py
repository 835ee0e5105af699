"""Several Ollama hosts: throughput of two slow hosts behind one proxy against one host
directly, and what a routing decision costs. ``python -m tests.perf.run_all routing``

Slow hosts: the simulator with 4 parallel slots (OLLAMA_NUM_PARALLEL) and 10 tokens at
20 ms each, so one host answers about 20 requests/s whatever the load; the proxy is not
the bottleneck, the hosts are. Concurrency 64, as the issue asks.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from tempfile import TemporaryDirectory

import aiohttp
from aiohttp.test_utils import TestServer

from proxy_core import ProxyService, ProxySettings
from proxy_core.engines.ollama import OllamaEngine
from proxy_core.engines.router import Router, conversation_key
from tests.fakes.ollama_sim import SIM_CONFIG, create_sim_app

CONCURRENCY = 64
SECONDS = 6.0
ROUNDS = 200_000


async def slow_sim() -> TestServer:
    server = TestServer(create_sim_app())
    await server.start_server()
    config = server.app[SIM_CONFIG]
    config.parallel, config.token_delay, config.reply_words = 4, 0.02, 10
    return server


async def load(base: str) -> float:
    """Completed chats per second at CONCURRENCY for SECONDS (each a different question,
    so nothing is cached or coalesced)."""
    done = 0
    deadline = time.monotonic() + SECONDS
    counter = iter(range(10**9))

    async def worker(http: aiohttp.ClientSession) -> None:
        nonlocal done
        while time.monotonic() < deadline:
            body = {
                "model": "llama3.2",
                "stream": False,
                "messages": [{"role": "user", "content": f"q{next(counter)}"}],
            }
            async with http.post(base + "/api/chat", json=body) as resp:
                await resp.read()
                if resp.status == 200:
                    done += 1

    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector) as http:
        started = time.monotonic()
        await asyncio.gather(*(worker(http) for _ in range(CONCURRENCY)))
        return done / (time.monotonic() - started)


async def through_proxy(hosts: list[TestServer]) -> float:
    with TemporaryDirectory() as data:
        settings = ProxySettings(
            port=0,
            ollama_url=", ".join(str(h.make_url("")).rstrip("/") for h in hosts),
            data_dir=Path(data),
            monitor_interval=0,
            log_level="warning",
        )
        proxy = ProxyService(settings)
        await proxy.start()
        try:
            await asyncio.sleep(0.3)  # the first poll of each host
            return await load(proxy.base_url)
        finally:
            await proxy.stop()


def decision_cost() -> float:
    """Microseconds per routing decision: two hosts, the model on both, a conversation."""
    clients = [
        OllamaEngine(f"http://h{i}:11434", connect_timeout=1, read_timeout=1, max_connections=1)
        for i in range(2)
    ]
    router = Router(clients)
    for backend in router.backends:
        router.polled(backend, True, ["llama3.2:latest", "qwen2.5-coder:1.5b"], ["llama3.2:latest"])
    body = {
        "messages": [{"role": "system", "content": "x" * 500}, {"role": "user", "content": "y"}]
    }
    started = time.perf_counter()
    for n in range(ROUNDS):
        backend = router.pick("llama3.2", conversation_key("llama3.2", body) + n % 64)
        router.started(backend)
        router.finished(backend, True)
    return (time.perf_counter() - started) / ROUNDS * 1e6


async def run() -> list[tuple[str, str]]:
    a, b = await slow_sim(), await slow_sim()
    try:
        direct = await load(str(a.make_url("")).rstrip("/"))
        one = await through_proxy([a])
        two = await through_proxy([a, b])
    finally:
        await a.close()
        await b.close()
    cost = decision_cost()
    return [
        ("one slow host, direct (req/s)", f"{direct:.1f}"),
        ("one slow host through the proxy (req/s)", f"{one:.1f} ({one / direct:.2f}x direct)"),
        ("two slow hosts through the proxy (req/s)", f"{two:.1f} ({two / direct:.2f}x one host)"),
        ("routing decision with stickiness, two hosts (us)", f"{cost:.2f}"),
    ]


async def cache_hits(cache_url: str, data: Path, sim_url: str) -> tuple[float, float]:
    """(hits/s, p50 ms) with the in-memory layer off: every hit reads the store."""
    from proxy_core.cache import layer

    saved = layer.HOT_ENTRY_BYTES
    layer.HOT_ENTRY_BYTES = 0  # no memory layer: measure the store itself
    settings = ProxySettings(
        port=0,
        ollama_url=sim_url,
        data_dir=data,
        monitor_interval=0,
        log_level="warning",
        cache_url=cache_url,
    )
    proxy = ProxyService(settings)
    await proxy.start()
    body = {
        "model": "llama3.2",
        "stream": False,
        "options": {"temperature": 0},
        "messages": [{"role": "user", "content": "cached"}],
    }
    latencies: list[float] = []
    try:
        async with aiohttp.ClientSession() as http:
            async with http.post(proxy.base_url + "/api/chat", json=body) as resp:
                await resp.read()
            assert proxy.state is not None
            await proxy.state.cache.drain()
            proxy.state.cache.drop_memory()
            deadline = time.monotonic() + 3.0
            # Cache-Control keeps requests off the fast path, which answers from memory
            headers = {"Cache-Control": "max-age=600"}

            async def worker() -> None:
                while time.monotonic() < deadline:
                    started = time.perf_counter()
                    async with http.post(
                        proxy.base_url + "/api/chat", json=body, headers=headers
                    ) as resp:
                        await resp.read()
                        assert resp.headers.get("X-Cache") == "HIT"
                    latencies.append(time.perf_counter() - started)

            began = time.monotonic()
            await asyncio.gather(*(worker() for _ in range(16)))
            elapsed = time.monotonic() - began
    finally:
        await proxy.stop()
        layer.HOT_ENTRY_BYTES = saved
    latencies.sort()
    return len(latencies) / elapsed, latencies[len(latencies) // 2] * 1000


async def run_cache() -> list[tuple[str, str]]:
    from tests.fakes.redis_server import RedisServer, installed

    if not installed():
        return [("redis-server", "not installed: skipped")]
    sim = TestServer(create_sim_app())
    await sim.start_server()
    with TemporaryDirectory() as one, TemporaryDirectory() as two, TemporaryDirectory() as db:
        server = RedisServer(Path(db))
        server.start()
        try:
            sim_url = str(sim.make_url("")).rstrip("/")
            disk = await cache_hits("", Path(one), sim_url)
            shared = await cache_hits(server.url, Path(two), sim_url)
        finally:
            await sim.close()
            server.stop()
    return [
        ("disk cache hits, memory layer off (hits/s, p50)", f"{disk[0]:.0f}, {disk[1]:.2f} ms"),
        (
            "Redis cache hits, memory layer off (hits/s, p50)",
            f"{shared[0]:.0f}, {shared[1]:.2f} ms",
        ),
    ]
