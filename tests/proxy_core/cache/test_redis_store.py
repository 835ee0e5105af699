"""The shared cache in Redis (``cache_url``): Debian's redis-server on a free loopback
port, two proxies answering each other's questions, one generation for both, a clear
for every proxy, and Redis going away and coming back without a failed request."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from proxy_core import ProxyService
from proxy_core.cache import redis_store
from tests.conftest import Sim, make_settings
from tests.fakes.redis_server import RedisServer, free_port

CHAT = {
    "model": "llama3.2",
    "stream": False,
    "options": {"temperature": 0},
    "messages": [{"role": "user", "content": "shared question"}],
}


@pytest.fixture
async def two_proxies(
    tmp_path: Path, sim: Sim, redis_server: RedisServer
) -> AsyncIterator[tuple[ProxyService, ProxyService]]:
    proxies = []
    for name in ("one", "two"):
        settings = make_settings(tmp_path / name, sim.url, cache_url=redis_server.url)
        proxy = ProxyService(settings)
        await proxy.start()
        proxies.append(proxy)
    try:
        yield proxies[0], proxies[1]
    finally:
        for proxy in proxies:
            await proxy.stop()


NO_STORE = {"Cache-Control": "no-store"}


async def chat(
    base: str, body: dict[str, object] = CHAT, headers: dict[str, str] | None = None
) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as http:
        async with http.post(base + "/api/chat", json=body, headers=headers) as resp:
            data = await resp.json()
            return resp.status, resp.headers.get("X-Cache", ""), data["message"]["content"]


async def settle(*proxies: ProxyService) -> None:
    for proxy in proxies:
        assert proxy.state is not None
        await proxy.state.cache.drain()


def test_a_hit_is_shared_by_two_proxy_processes(tmp_path: Path, redis_server: RedisServer) -> None:
    sim_port = free_port()
    sim = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.ollama_sim", "--port", str(sim_port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    ports = [free_port(), free_port()]
    proxies = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "proxy_core",
                "--port",
                str(port),
                "--ollama-url",
                f"http://127.0.0.1:{sim_port}",
                "--cache-url",
                redis_server.url,
                "--data-dir",
                str(tmp_path / f"p{port}"),
                "--log-level",
                "warning",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        for port in ports
    ]
    try:

        async def scenario() -> None:
            async with aiohttp.ClientSession() as http:
                for port in ports:
                    for _ in range(100):
                        try:
                            async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
                                if resp.status == 200:
                                    break
                        except aiohttp.ClientError:
                            pass
                        await asyncio.sleep(0.1)
            first = await chat(f"http://127.0.0.1:{ports[0]}")
            # The write is a task after the reply: wait for it to land. no-store keeps a
            # miss of the second proxy's from storing the answer itself.
            for _ in range(100):
                second = await chat(f"http://127.0.0.1:{ports[1]}", headers=NO_STORE)
                if second[1] == "HIT":
                    break
                await asyncio.sleep(0.1)
            assert first[0] == second[0] == 200
            assert (first[1], second[1]) == ("MISS", "HIT") and first[2] == second[2]

        asyncio.run(scenario())
    finally:
        for process in [*proxies, sim]:
            process.terminate()
            process.wait(10)


async def test_one_generation_for_two_proxies_asking_at_once(
    two_proxies: tuple[ProxyService, ProxyService], sim: Sim
) -> None:
    one, two = two_proxies
    sim.config.token_delay, sim.config.reply_words = 0.05, 8  # about 0.4 s to answer
    results = await asyncio.gather(chat(one.base_url), chat(two.base_url))
    assert [r[0] for r in results] == [200, 200] and results[0][2] == results[1][2]
    assert sorted(r[1] for r in results) == ["HIT", "MISS"]  # the second waited for it
    assert len(sim.recorder.by_path("/api/chat")) == 1


async def test_a_clear_on_one_proxy_clears_every_proxy(
    two_proxies: tuple[ProxyService, ProxyService], sim: Sim
) -> None:
    one, two = two_proxies
    await chat(one.base_url)
    await settle(one)
    assert (await chat(two.base_url))[1] == "HIT"  # now in two's memory layer as well
    async with aiohttp.ClientSession() as http:
        async with http.delete(one.base_url + "/_proxy/cache") as resp:
            assert resp.status == 200 and (await resp.json())["cleared"] == 1
    for _ in range(50):  # the announcement reaches two
        await asyncio.sleep(0.02)
        status, cache, _ = await chat(two.base_url)
        if cache == "MISS":
            break
    assert cache == "MISS"


async def test_redis_down_is_bypassed_with_one_warning_and_recovers(
    tmp_path: Path,
    sim: Sim,
    redis_server: RedisServer,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(redis_store, "RETRY_SECONDS", 0.2)
    proxy = ProxyService(make_settings(tmp_path, sim.url, cache_url=redis_server.url))
    await proxy.start()
    assert proxy.state is not None
    try:
        redis_server.stop()
        for n in range(4):  # every request still answered, from Ollama
            body = {**CHAT, "messages": [{"role": "user", "content": f"q{n}"}]}
            status, _, content = await chat(proxy.base_url, body)
            assert status == 200 and content
        await settle(proxy)
        warnings = [r for r in caplog.records if "shared cache" in r.getMessage()]
        assert len(warnings) == 1 and "failed" in warnings[0].getMessage()
        redis_server.start()  # back on the same port
        await asyncio.sleep(0.3)
        body = {**CHAT, "messages": [{"role": "user", "content": "after"}]}
        proxy.state.cache.drop_memory()
        for _ in range(20):
            await chat(proxy.base_url, body)
            await settle(proxy)
            proxy.state.cache.drop_memory()  # from Redis, not this proxy's memory
            if (await chat(proxy.base_url, body))[1] == "HIT":
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("caching did not resume")
        assert any("answers again" in r.getMessage() for r in caplog.records)
    finally:
        await proxy.stop()


async def test_a_conversation_continues_on_another_proxy(
    two_proxies: tuple[ProxyService, ProxyService], sim: Sim
) -> None:
    """Stateless proxies: a Responses follow-up may reach any proxy behind the balancer."""
    import openai

    one, two = two_proxies
    first_client = openai.AsyncOpenAI(base_url=one.base_url + "/v1", api_key="x")
    other_client = openai.AsyncOpenAI(base_url=two.base_url + "/v1", api_key="x")
    first = await first_client.responses.create(model="llama3.2", input="my name is Ada")
    await settle(one)
    assert one.state is not None
    await one.state.responses.close()  # type: ignore[union-attr]  # the write has landed
    await other_client.responses.create(
        model="llama3.2", input="what is my name?", previous_response_id=first.id
    )
    messages = sim.recorder.by_path("/api/chat")[-1].json()["messages"]
    assert messages[0] == {"role": "user", "content": "my name is Ada"}
    assert messages[-1] == {"role": "user", "content": "what is my name?"}


async def test_the_volume_is_counted_rarely(
    two_proxies: tuple[ProxyService, ProxyService], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The monitor asks every second; a shared cache is scanned at most every 30 s."""
    one, _ = two_proxies
    assert one.state is not None and one.state.cache.shared is not None
    shared = one.state.cache.shared
    await chat(one.base_url)
    await settle(one)
    entries, used = await shared.volume()
    assert entries == 1 and used > 0
    scans = 0
    original = shared._batches

    def counting(pattern: str):  # type: ignore[no-untyped-def]
        nonlocal scans
        scans += 1
        return original(pattern)

    monkeypatch.setattr(shared, "_batches", counting)
    for _ in range(5):
        assert (await shared.volume())[0] == 1
    assert scans == 0


async def test_a_client_leaving_while_queued_releases_its_claim(
    tmp_path: Path, sim: Sim, redis_server: RedisServer
) -> None:
    """Otherwise every other proxy asking the same question would wait for the lock to
    expire (a minute) for an answer nobody is generating."""
    settings = make_settings(tmp_path, sim.url, cache_url=redis_server.url, default_num_parallel=1)
    proxy = ProxyService(settings)
    await proxy.start()
    assert proxy.state is not None and proxy.state.cache.shared is not None
    shared = proxy.state.cache.shared
    sim.config.token_delay, sim.config.reply_words = 0.05, 10  # half a second each
    try:
        busy = asyncio.ensure_future(chat(proxy.base_url))  # holds the model's one slot
        await asyncio.sleep(0.1)
        queued_body = {**CHAT, "messages": [{"role": "user", "content": "queued"}]}
        queued = asyncio.ensure_future(chat(proxy.base_url, queued_body))
        await asyncio.sleep(0.1)  # claimed its key, waiting for the slot
        queued.cancel()
        await asyncio.gather(queued, return_exceptions=True)
        await busy
        await settle(proxy)
        for _ in range(50):
            locks = [k async for k in shared._redis.scan_iter(match=f"{shared.prefix}:lock:*")]
            if not locks:
                break
            await asyncio.sleep(0.02)
        assert locks == []
    finally:
        await proxy.stop()
