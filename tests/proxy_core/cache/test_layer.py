"""The in-memory layers over the disk store: same answers, bounded memory."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from proxy_core.cache import CacheLayer, cache_key
from proxy_core.cache import layer as layer_module
from tests.fakes.clock import Clock


@pytest.fixture
async def clock() -> Clock:
    return Clock()


@pytest.fixture
async def layer(tmp_path: Path, clock: Clock) -> AsyncIterator[CacheLayer]:
    cache = CacheLayer(
        tmp_path / "cache", enabled=True, policy="all", ttl=300, size_limit=1 << 30, clock=clock
    )
    await cache.open()
    try:
        yield cache
    finally:
        await cache.close()


def body(n: int) -> tuple[bytes, dict[str, object]]:
    value = {"model": "m", "messages": [{"role": "user", "content": f"q{n}"}]}
    return json.dumps(value).encode(), value


async def test_key_index_gives_the_canonical_key_and_stays_bounded(
    layer: CacheLayer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(layer_module, "KEY_INDEX_BYTES", 500)
    for n in range(50):
        raw, value = body(n)
        assert layer.key_for("chat", raw, value) == cache_key("chat", value)
        assert layer.key_for("chat", raw, value) == cache_key("chat", value)  # from the index
    assert layer._keys_bytes <= 500
    # Other bytes for the same request (key order, spacing) still find the same key.
    raw, value = body(1)
    respaced = json.dumps(value, indent=2, sort_keys=True).encode()
    assert layer.key_for("chat", respaced, value) == layer.key_for("chat", raw, value)
    # The same bytes on another route are another request.
    assert layer.key_for("generate", raw, value) != layer.key_for("chat", raw, value)


LINE_1K = b'{"response":"' + b"x" * 985 + b'"}'  # a stored line replays: a JSON object


async def test_hot_entries_are_bounded_and_fall_back_to_disk(
    layer: CacheLayer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(layer_module, "HOT_ENTRY_BYTES", 20_000)
    for n in range(20):
        layer.write(f"{n:064x}", layer.new_entry([LINE_1K], False, 0.5))
    await layer.drain()
    assert layer._hot_bytes <= 20_000 and len(layer._hot) < 20
    assert f"{0:064x}" not in layer._hot  # oldest left memory first...
    first = layer.lookup(f"{0:064x}", None)  # ...but the disk still has it
    assert first is not None and first.lines == (LINE_1K,)
    assert f"{0:064x}" in layer._hot  # and it is hot again


async def test_memory_obeys_ttl_max_age_and_clear(layer: CacheLayer, clock: Clock) -> None:
    key = "ab" * 32
    layer.write(key, layer.new_entry([b'{"done":true}'], False, 0.5))
    await layer.drain()
    assert layer.lookup(key, None) is not None
    clock.now += 60
    assert layer.lookup(key, max_age=30) is None  # too old for this client...
    assert layer.lookup(key, None) is not None  # ...still fine for others
    clock.now += 241
    assert layer.lookup(key, None) is None  # past the TTL, memory or not
    layer.write(key, layer.new_entry([b'{"done":true}'], False, 0.5))
    await layer.clear()
    assert layer.lookup(key, None) is None


async def test_a_learnt_or_changed_digest_gives_the_same_bytes_a_new_key(
    layer: CacheLayer,
) -> None:
    raw = b'{"model":"llama3.2","messages":[{"role":"user","content":"x"}]}'
    body = {"model": "llama3.2", "messages": [{"role": "user", "content": "x"}]}
    unknown = layer.key_for("chat", raw, body)
    layer.learn_digests([{"model": "llama3.2:latest", "digest": "a" * 64}])
    first = layer.key_for("chat", raw, body)
    layer.learn_digests([{"name": "llama3.2", "digest": "a" * 64}])  # the same again
    assert layer.key_for("chat", raw, body) == first
    layer.learn_digests([{"model": "llama3.2:latest", "digest": "b" * 64}])  # re-pulled
    assert len({unknown, first, layer.key_for("chat", raw, body)}) == 3
