"""Response cache through the running proxy: policy, dialects, replay, TTL, safety."""

from __future__ import annotations

import asyncio
import json
import pickle
from pathlib import Path
from typing import Any

import aiohttp
import diskcache
import pytest

from proxy_core import ProxyService
from proxy_core.cache import CacheLayer, cache_key
from tests.conftest import Sim, make_settings
from tests.fakes.clock import Clock

CHAT = {
    "model": "llama3.2",
    "messages": [{"role": "user", "content": "cache me"}],
    "options": {"temperature": 0},
}


async def post(
    service: ProxyService, path: str, body: Any, headers: dict[str, str] | None = None
) -> tuple[int, str, bytes]:
    assert service.state is not None
    async with aiohttp.ClientSession() as http:
        async with http.post(service.base_url + path, json=body, headers=headers) as resp:
            raw = await resp.read()
            status, cache = resp.status, resp.headers.get("X-Cache", "")
    await service.state.cache.drain()
    return status, cache, raw


def upstream_calls(sim: Sim, path: str = "/api/chat") -> int:
    return len(sim.recorder.by_path(path))


async def test_deterministic_request_hits_and_replays_bytes(cached: ProxyService, sim: Sim) -> None:
    _, first, miss_body = await post(cached, "/api/chat", CHAT)
    _, second, hit_body = await post(cached, "/api/chat", CHAT)
    assert (first, second) == ("MISS", "HIT")
    assert hit_body == miss_body  # same chunks, same order, same bytes
    assert upstream_calls(sim) == 1


async def test_non_deterministic_request_bypasses_by_default(
    cached: ProxyService, sim: Sim
) -> None:
    body = {**CHAT, "options": {}}
    assert (await post(cached, "/api/chat", body))[1] == "BYPASS"
    assert (await post(cached, "/api/chat", body))[1] == "BYPASS"
    assert upstream_calls(sim) == 2
    seeded = {**CHAT, "options": {"seed": 42}}
    assert (await post(cached, "/api/chat", seeded))[1] == "MISS"
    assert (await post(cached, "/api/chat", seeded))[1] == "HIT"


async def test_policy_all_caches_everything(cached: ProxyService, sim: Sim) -> None:
    await cached.apply(cached.settings.replace(cache_policy="all"))
    body = {**CHAT, "options": {}}
    assert [(await post(cached, "/api/chat", body))[1] for _ in range(2)] == ["MISS", "HIT"]


async def test_cross_dialect_hit_and_shapes(cached: ProxyService, sim: Sim) -> None:
    # A stored stream answers every shape and dialect (a single stored object answers
    # only non-stream requests: test_cache_hardening).
    _, status, stream_raw = await post(cached, "/api/chat", CHAT)
    assert status == "MISS"
    lines = [json.loads(line) for line in stream_raw.splitlines()]
    _, status, native_raw = await post(cached, "/api/chat", {**CHAT, "stream": False})
    assert status == "HIT"
    native = json.loads(native_raw)
    assert native["message"]["content"] == "".join(c["message"]["content"] for c in lines)
    _, status, raw = await post(
        cached,
        "/v1/chat/completions",
        {
            "model": "llama3.2:latest",
            "temperature": 0,
            "messages": [{"role": "user", "content": "cache me"}],
        },
    )
    assert status == "HIT"
    reply = json.loads(raw)
    assert reply["choices"][0]["message"]["content"] == native["message"]["content"]
    assert reply["usage"]["completion_tokens"] == native["eval_count"]
    _, status, raw = await post(
        cached,
        "/v1/chat/completions",
        {
            "model": "llama3.2",
            "temperature": 0,
            "stream": True,
            "messages": [{"role": "user", "content": "cache me"}],
        },
    )
    assert status == "HIT" and raw.endswith(b"data: [DONE]\n\n")
    assert upstream_calls(sim) == 1


async def test_stream_entry_serves_non_stream_merge(cached: ProxyService) -> None:
    _, _, stream_raw = await post(cached, "/api/chat", CHAT)
    _, status, whole = await post(cached, "/api/chat", {**CHAT, "stream": False})
    text = "".join(json.loads(line)["message"]["content"] for line in stream_raw.splitlines())
    assert status == "HIT" and json.loads(whole)["message"]["content"] == text


async def test_embeddings_cached_across_dialects(cached: ProxyService, sim: Sim) -> None:
    body = {"model": "nomic-embed-text", "input": ["a b"]}
    assert (await post(cached, "/api/embed", body))[1] == "MISS"
    _, status, raw = await post(cached, "/v1/embeddings", {**body, "input": "a b"})
    assert status == "HIT" and len(json.loads(raw)["data"][0]["embedding"]) == 8
    assert upstream_calls(sim, "/api/embed") == 1


async def test_ttl_expiry_with_injected_clock(cached: ProxyService, clock: Clock) -> None:
    await post(cached, "/api/chat", CHAT)
    clock.now += 299
    assert (await post(cached, "/api/chat", CHAT))[1] == "HIT"
    clock.now += 2
    assert (await post(cached, "/api/chat", CHAT))[1] == "MISS"


async def test_cache_control_headers(cached: ProxyService, sim: Sim, clock: Clock) -> None:
    assert (await post(cached, "/api/chat", CHAT, {"Cache-Control": "no-store"}))[1] == "MISS"
    assert (await post(cached, "/api/chat", CHAT))[1] == "MISS"  # nothing was stored
    assert (await post(cached, "/api/chat", CHAT, {"Cache-Control": "no-cache"}))[1] == "BYPASS"
    assert upstream_calls(sim) == 3
    clock.now += 30
    assert (await post(cached, "/api/chat", CHAT, {"Cache-Control": "max-age=10"}))[1] == "MISS"
    assert (await post(cached, "/api/chat", CHAT, {"Cache-Control": "max-age=10"}))[1] == "HIT"


async def test_errors_and_truncated_streams_are_not_cached(cached: ProxyService, sim: Sim) -> None:
    missing = {**CHAT, "model": "nope"}
    assert (await post(cached, "/api/chat", missing))[0] == 404
    assert (await post(cached, "/api/chat", missing))[1] == "MISS"
    sim.config.fail_after_chunks = 2
    _, _, raw = await post(cached, "/api/chat", CHAT)
    assert b'"error"' in raw
    sim.config.fail_after_chunks = None
    assert (await post(cached, "/api/chat", CHAT))[1] == "MISS"
    length = {**CHAT, "options": {"temperature": 0, "num_predict": 2}}
    await post(cached, "/api/chat", length)
    assert (await post(cached, "/api/chat", length))[1] == "HIT"  # done_reason length is whole


async def test_runtime_toggle_and_no_cache(cached: ProxyService, sim: Sim) -> None:
    await post(cached, "/api/chat", CHAT)
    cached.set_caching(False)
    assert (await post(cached, "/api/chat", CHAT))[1] == "BYPASS"
    cached.set_caching(True)
    assert (await post(cached, "/api/chat", CHAT))[1] == "HIT"


async def test_no_cache_setting(sim: Sim, tmp_path: Path) -> None:
    service = ProxyService(make_settings(tmp_path, sim.url, cache_enabled=False))
    await service.start()
    try:
        assert [(await post(service, "/api/chat", CHAT))[1] for _ in range(2)] == ["BYPASS"] * 2
    finally:
        await service.stop()


async def test_concurrent_identical_requests_share_one_generation(
    cached: ProxyService, sim: Sim
) -> None:
    sim.config.token_delay = 0.02
    results = await asyncio.gather(*(post(cached, "/api/chat", CHAT) for _ in range(10)))
    assert upstream_calls(sim) == 1
    bodies = {raw for _, _, raw in results}
    assert len(bodies) == 1 and all(status == 200 for status, _, _ in results)


async def test_leader_leaving_does_not_break_followers(cached: ProxyService, sim: Sim) -> None:
    sim.config.token_delay = 0.05
    async with aiohttp.ClientSession() as http:
        leader = await http.post(cached.base_url + "/api/chat", json=CHAT)
        follower = asyncio.ensure_future(post(cached, "/api/chat", CHAT))
        assert cached.state is not None
        flights = cached.state.cache.flights._flights
        for _ in range(200):  # until the follower has joined the leader's flight
            if any(f._subscribers == 2 for f in flights.values()):
                break
            await asyncio.sleep(0.01)
        else:
            raise AssertionError("the follower never joined the flight")
        leader.close()
        status, _, raw = await follower
    assert status == 200 and json.loads(raw.splitlines()[-1])["done"] is True
    assert upstream_calls(sim) == 1


async def test_size_bound_evicts(sim: Sim, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, sim.url)
    layer = CacheLayer(
        settings.data_dir / "cache", enabled=True, policy="all", ttl=300, size_limit=200_000
    )
    await layer.open()
    try:
        for i in range(300):
            line = b'{"response":"' + b"x" * 3985 + b'"}'
            layer.store.put(f"{i:064x}", layer.new_entry([line], False, 0.1))
        entries, size = await layer.volume()
        assert entries < 300
        assert size <= 200_000
        assert layer.stats.evictions == 300 - entries  # every removal is counted
        assert layer.stats.expirations == 0
        assert layer.store.get(f"{0:064x}") is None  # oldest went first
        assert layer.store.get(f"{299:064x}") is not None
    finally:
        await layer.close()


async def test_corrupted_cache_is_a_miss_and_rebuilt(cached: ProxyService, sim: Sim) -> None:
    await post(cached, "/api/chat", CHAT)
    assert cached.state is not None
    db = cached.state.cache.store.directory / "cache.db"
    with db.open("r+b") as f:  # scribble over the live database
        f.write(b"this is not sqlite" * 200)
    cached.state.cache.drop_memory()  # as after a restart: the next lookup reads the disk
    status, result, _ = await post(cached, "/api/chat", CHAT)
    assert status == 200 and result == "MISS"
    assert (await post(cached, "/api/chat", CHAT))[1] == "HIT"


async def test_pickled_entries_are_never_loaded(
    cached: ProxyService, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cached.state is not None
    directory = cached.state.cache.store.directory
    key = cache_key("chat", CHAT)
    plain = diskcache.Cache(str(directory))
    plain.set(key, {"a pickled": "object"})  # what an attacker with disk access could plant
    plain.close()
    loads: list[object] = []
    monkeypatch.setattr(pickle, "load", lambda *a, **k: loads.append(a))
    monkeypatch.setattr(pickle, "loads", lambda *a, **k: loads.append(a))
    status, result, _ = await post(cached, "/api/chat", CHAT)
    assert status == 200 and result == "MISS"
    assert loads == []


async def test_admin_route_stats_and_clear(cached: ProxyService) -> None:
    await post(cached, "/api/chat", CHAT)
    await post(cached, "/api/chat", CHAT)
    async with aiohttp.ClientSession() as http:
        async with http.get(cached.base_url + "/_proxy/cache") as resp:
            stats = await resp.json()
        assert stats["hits"] == 1 and stats["misses"] == 1 and stats["entries"] == 1
        assert stats["time_saved"] > 0
        async with http.delete(cached.base_url + "/_proxy/cache") as resp:
            assert (await resp.json())["cleared"] == 1
    assert (await post(cached, "/api/chat", CHAT))[1] == "MISS"


def test_data_dir_is_private(cached: ProxyService) -> None:
    assert (cached.settings.data_dir.stat().st_mode & 0o777) == 0o700
