"""Issue 11, cache correctness: poisoning, re-pulled models, stream fidelity, validation,
shared data dirs, a full disk, and memory bounded whatever the upstream sends."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import diskcache
import pytest

from proxy_core import ProxyService
from proxy_core.cache.keys import canonical_options
from proxy_core.cache.store import MARKER_CHECK_SECONDS, CacheEntry, ResponseStore
from tests.conftest import Sim, make_settings
from tests.fakes.clock import Clock
from tests.fakes.ollama_sim import FaultyReply
from tests.proxy_core.test_cache import CHAT, post

# An /api/embeddings body shaped like the canonical form of CHAT: its route field and
# its options filled with Ollama's defaults, as the chat key is computed.
EMBED_POISON = {
    "model": "llama3.2",
    "kind": "chat",
    "v": 1,
    "messages": CHAT["messages"],
    "options": canonical_options(CHAT["options"]),
}


async def get(service: ProxyService, path: str) -> bytes:
    async with aiohttp.ClientSession() as http:
        async with http.get(service.base_url + path) as resp:
            return await resp.read()


def tags_reply(digest: str) -> bytes:
    model = {"name": "llama3.2:latest", "model": "llama3.2:latest", "digest": digest}
    return json.dumps({"models": [model]}).encode()


# -- 10. cross-route poisoning ---------------------------------------------------------------


async def test_a_body_cannot_forge_another_routes_key(cached: ProxyService, sim: Sim) -> None:
    assert (await post(cached, "/api/embeddings", EMBED_POISON))[:2] == (200, "MISS")
    status, cache, raw = await post(cached, "/api/chat", {**CHAT, "stream": False})
    assert (status, cache) == (200, "MISS")
    assert "message" in json.loads(raw)
    body = {"model": "llama3.2", "temperature": 0, "messages": CHAT["messages"]}
    status, _, raw = await post(cached, "/v1/chat/completions", body)
    assert status == 200, raw


# -- 11. a re-pulled model -------------------------------------------------------------------


async def test_a_re_pulled_model_is_not_answered_from_old_weights(
    cached: ProxyService, sim: Sim
) -> None:
    body = {**CHAT, "stream": False}
    sim.config.override_replies["/api/tags"] = tags_reply("a" * 64)
    await get(cached, "/api/tags")
    assert (await post(cached, "/api/chat", body))[1] == "MISS"
    assert (await post(cached, "/api/chat", body))[1] == "HIT"
    # Re-pulled: same name, new digest, learnt from the next listing (any dialect).
    sim.config.override_replies["/api/tags"] = tags_reply("b" * 64)
    await get(cached, "/v1/models")
    assert (await post(cached, "/api/chat", body))[1] == "MISS"
    assert (await post(cached, "/api/chat", body))[1] == "HIT"


# -- 12. a streamed hit looks like a stream --------------------------------------------------


async def test_a_stream_is_never_made_from_a_single_stored_object(
    cached: ProxyService, sim: Sim
) -> None:
    assert (await post(cached, "/api/chat", {**CHAT, "stream": False}))[1] == "MISS"
    _, cache, raw = await post(cached, "/api/chat", CHAT)  # streaming by default
    assert cache == "MISS"
    lines = [json.loads(line) for line in raw.splitlines()]
    assert len(lines) > 2 and not lines[0]["done"] and lines[-1]["done"]
    # The stream now answers both shapes.
    _, cache, again = await post(cached, "/api/chat", CHAT)
    assert (cache, again) == ("HIT", raw)
    _, cache, whole = await post(cached, "/api/chat", {**CHAT, "stream": False})
    assert cache == "HIT"
    assert json.loads(whole)["message"]["content"] == "".join(
        line["message"]["content"] for line in lines
    )
    body = {"model": "llama3.2", "temperature": 0, "stream": True, "messages": CHAT["messages"]}
    _, cache, sse = await post(cached, "/v1/chat/completions", body)
    assert cache == "HIT" and sse.count(b"data: ") > 3


# -- 13. only well-formed answers are stored ---------------------------------------------------

GOOD_DONE = (
    b'{"model":"llama3.2","created_at":"x","message":{"role":"assistant","content":""},'
    b'"done":true,"done_reason":"stop","eval_count":1,"prompt_eval_count":1}\n'
)


async def test_malformed_lines_before_a_valid_done_are_not_stored(
    cached: ProxyService, sim: Sim
) -> None:
    sim.config.override_replies["/api/chat"] = FaultyReply(
        [b"{not json\n", b"[1,2]\n", GOOD_DONE], content_type="application/x-ndjson"
    )
    assert (await post(cached, "/api/chat", CHAT))[1] == "MISS"
    assert (await post(cached, "/api/chat", CHAT))[1] == "MISS"
    del sim.config.override_replies["/api/chat"]
    body = {"model": "llama3.2", "temperature": 0, "messages": CHAT["messages"]}
    assert (await post(cached, "/v1/chat/completions", body))[0] == 200


async def test_a_stream_without_a_done_line_is_not_stored(cached: ProxyService, sim: Sim) -> None:
    chunk = b'{"model":"llama3.2","message":{"role":"assistant","content":"hi"},"done":false}\n'
    sim.config.override_replies["/api/chat"] = FaultyReply(
        [chunk, chunk], content_type="application/x-ndjson"
    )
    assert (await post(cached, "/api/chat", CHAT))[1] == "MISS"
    assert (await post(cached, "/api/chat", CHAT))[1] == "MISS"


async def test_a_stored_entry_that_cannot_replay_is_a_miss_deleted_and_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = ResponseStore(tmp_path / "c", size_limit=1 << 20, ttl=300)
    store.open()
    bad = CacheEntry((b"{not json", GOOD_DONE.strip()), True, store.clock(), 0.1)
    assert store._cache is not None
    store._cache.set("k1", bad.encode())
    store._cache.set("k2", bad.encode())
    with caplog.at_level(logging.WARNING):
        assert store.get("k1") is None
        assert store.get("k2") is None
    assert "k1" not in store._cache and "k2" not in store._cache
    assert sum("cannot be replayed" in r.message for r in caplog.records) == 1
    store.close()


# -- 14. a clear is seen by every process sharing the data dir -----------------------------


async def test_a_clear_in_one_process_is_seen_by_another(sim: Sim, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, sim.url)
    first, second = ProxyService(settings), ProxyService(settings)
    await first.start()
    await second.start()
    try:
        assert (await post(first, "/api/chat", CHAT))[1] == "MISS"
        assert (await post(second, "/api/chat", CHAT))[1] == "HIT"  # from disk
        assert (await post(second, "/api/chat", CHAT))[1] == "HIT"  # from memory now
        async with aiohttp.ClientSession() as http:
            async with http.delete(first.base_url + "/_proxy/cache") as resp:
                assert resp.status == 200
        await asyncio.sleep(MARKER_CHECK_SECONDS * 1.5)  # the other process looks this often
        assert (await post(second, "/api/chat", CHAT))[1] == "MISS"
    finally:
        await first.stop()
        await second.stop()


# -- 15. a full disk loses one entry, never the cache ----------------------------------------


@pytest.fixture
def disk_full(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bool]]:
    full = [False]
    real_set = diskcache.Cache.set

    def set_or_fail(self: diskcache.Cache, *args: object, **kwargs: object) -> object:
        if full[0]:
            raise sqlite3.OperationalError("database or disk is full")
        return real_set(self, *args, **kwargs)

    monkeypatch.setattr(diskcache.Cache, "set", set_or_fail)
    yield full


async def test_a_full_disk_keeps_stored_entries_and_recovers(
    cached: ProxyService,
    sim: Sim,
    disk_full: list[bool],
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    other = {**CHAT, "messages": [{"role": "user", "content": "another"}]}
    third = {**CHAT, "messages": [{"role": "user", "content": "a third"}]}
    assert (await post(cached, "/api/chat", CHAT))[1] == "MISS"
    disk_full[0] = True
    with caplog.at_level(logging.WARNING):
        assert (await post(cached, "/api/chat", other))[1] == "MISS"
        assert (await post(cached, "/api/chat", third))[1] == "MISS"
    assert cached.state is not None
    cached.state.cache.drop_memory()  # what is on disk, not in this process's memory
    assert (await post(cached, "/api/chat", CHAT))[1] == "HIT"  # the cache was not wiped
    assert (await post(cached, "/api/chat", other))[0] == 200
    assert sum("cannot write the response cache" in r.message for r in caplog.records) == 1
    disk_full[0] = False
    clock.now += 31
    assert (await post(cached, "/api/chat", third))[1] == "MISS"
    cached.state.cache.drop_memory()
    assert (await post(cached, "/api/chat", third))[1] == "HIT"  # writing again


# -- 16. an endless cacheable stream is relayed, not buffered ---------------------------------


async def test_an_answer_past_the_entry_limit_is_relayed_but_not_stored(
    sim: Sim, tmp_path: Path
) -> None:
    service = ProxyService(make_settings(tmp_path, sim.url, cache_size_limit=4 << 20))
    await service.start()
    try:
        assert service.state is not None
        limit = service.state.cache.max_entry_bytes
        line = (
            b'{"model":"llama3.2","message":{"role":"assistant","content":"'
            + b"x" * 4000
            + b'"},"done":false}\n'
        )
        count = limit // len(line) + 10
        sim.config.override_replies["/api/chat"] = FaultyReply(
            iter([line] * count + [GOOD_DONE]), content_type="application/x-ndjson"
        )
        status, cache, raw = await post(service, "/api/chat", CHAT)
        assert (status, cache) == (200, "MISS")
        assert len(raw) == len(line) * count + len(GOOD_DONE)
        sim.config.override_replies["/api/chat"] = FaultyReply(
            iter([line] * count + [GOOD_DONE]), content_type="application/x-ndjson"
        )
        assert (await post(service, "/api/chat", CHAT))[1] == "MISS"  # was not stored
    finally:
        await service.stop()


async def test_a_coalesced_flight_past_the_limit_holds_bounded_memory(
    sim: Sim, tmp_path: Path
) -> None:
    service = ProxyService(make_settings(tmp_path, sim.url, cache_size_limit=4 << 20))
    await service.start()
    resume = asyncio.Event()
    line = b'{"model":"llama3.2","message":{"role":"assistant","content":"' + b"y" * 4000
    line += b'"},"done":false}\n'

    async def endless() -> AsyncIterator[bytes]:
        for _ in range(2000):  # 8 MB, twice the 1 MiB entry limit of a 4 MiB cache
            yield line
        await asyncio.wait_for(resume.wait(), 8)  # a regression fails, never hangs
        yield GOOD_DONE

    sim.config.override_replies["/api/chat"] = FaultyReply(
        endless(), content_type="application/x-ndjson"
    )
    try:
        assert service.state is not None
        async with aiohttp.ClientSession() as http:
            async with http.post(service.base_url + "/api/chat", json=CHAT) as resp:
                received = 0
                while received < 2000 * len(line):
                    received += len(await resp.content.readany())
                (flight,) = service.state.cache.flights._flights.values() or [None]
                held = sum(len(c) for c in flight.chunks) if flight else 0
                assert held <= service.state.cache.max_entry_bytes + 64 * len(line)
                resume.set()
                await resp.read()
    finally:
        await service.stop()


async def test_an_answer_cached_right_after_start_survives_the_first_model_listing(
    sim: Sim, tmp_path: Path
) -> None:
    """Keys include a model's digest; the digests are learnt before the proxy listens,
    so the first answer is not keyed without one and lost when the monitor learns it."""
    service = ProxyService(make_settings(tmp_path, sim.url, monitor_interval=0.05))
    await service.start()
    try:
        assert (await post(service, "/api/chat", CHAT))[1] == "MISS"
        assert service.state is not None
        ticks = len(sim.recorder.by_path("/api/tags"))
        for _ in range(200):  # until the monitor has listed the models again
            if len(sim.recorder.by_path("/api/tags")) > ticks:
                break
            await asyncio.sleep(0.01)
        assert (await post(service, "/api/chat", CHAT))[1] == "HIT"
    finally:
        await service.stop()


@pytest.mark.parametrize("found", [None, "keys 1, entries 1"])
def test_a_cache_of_another_format_is_cleared_never_misread(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, found: str | None
) -> None:
    """Upgrading: a cache written before format files (None) or in another format is
    emptied at open; one in today's format is kept."""
    import time

    from proxy_core.cache.store import CACHE_FORMAT, FORMAT_FILE

    entry = CacheEntry((GOOD_DONE.strip(),), True, time.time(), 0.1)
    old = diskcache.Cache(str(tmp_path / "c"))  # an older version's cache
    old.set("k1", entry.encode())
    old.close()
    if found is not None:
        (tmp_path / "c" / FORMAT_FILE).write_text(found)
    store = ResponseStore(tmp_path / "c", size_limit=1 << 20, ttl=300)
    with caplog.at_level(logging.WARNING):
        store.open()
    assert store.get("k1") is None and store.volume()[0] == 0
    assert "cleared 1 cached answers written in another format" in caplog.text
    assert (tmp_path / "c" / FORMAT_FILE).read_text().strip() == CACHE_FORMAT
    store.put("k2", entry)
    store.close()
    again = ResponseStore(tmp_path / "c", size_limit=1 << 20, ttl=300)
    again.open()  # today's format: kept
    assert again.get("k2") is not None
    again.close()
