"""Issue 14 item 4: the fast hit path. Exact request bytes seen before are answered from
the rendered answer without parsing, exactly as the full path answers them, and only
while the entry behind it is the one the cache holds."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import openai
import pytest

from proxy_core import ProxyService
from proxy_core.cache.answers import (
    ID_PLACEHOLDER,
    Answer,
    AnswerIndex,
    with_placeholders,
)
from proxy_core.cache.store import CacheEntry
from proxy_core.dialects import native
from proxy_core.ndjson import dumps
from tests.conftest import Sim

CHAT = json.dumps(
    {
        "model": "llama3.2",
        "stream": False,
        "messages": [{"role": "user", "content": "fast"}],
        "options": {"temperature": 0},
    }
).encode()


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Every body the native handler parses: the fast path parses none."""
    seen: list[bytes] = []
    real = native.parse_json_object

    def counting(raw: bytes) -> dict[str, Any] | None:
        seen.append(raw)
        return real(raw)

    monkeypatch.setattr(native, "parse_json_object", counting)
    return seen


async def _post(
    http: aiohttp.ClientSession, url: str, data: bytes, **headers: str
) -> tuple[int, dict[str, str], bytes]:
    async with http.post(url, data=data, headers=headers) as resp:
        body = await resp.read()
        kept = {k: v for k, v in resp.headers.items() if k not in ("Date", "Server")}
        return resp.status, kept, body


async def test_a_repeat_is_answered_without_parsing_exactly_as_before(
    proxy: ProxyService, sim: Sim, http: aiohttp.ClientSession, parses: list[bytes]
) -> None:
    assert proxy.state is not None
    url = proxy.base_url + "/api/chat"
    miss = await _post(http, url, CHAT)
    await proxy.state.cache.drain()
    full_hit = await _post(http, url, CHAT)  # the full path renders and remembers it
    assert miss[1]["X-Cache"] == "MISS" and full_hit[1]["X-Cache"] == "HIT"
    parsed_before = len(parses)
    hits_before = proxy.state.cache.stats.hits
    fast_hit = await _post(http, url, CHAT)
    assert fast_hit == full_hit
    assert len(parses) == parsed_before  # served before any JSON parse
    assert proxy.state.cache.stats.hits == hits_before + 1  # accounted like any hit
    assert len(sim.recorder.by_path("/api/chat")) == 1
    # A stream asked with other bytes takes the full path, and its own shape.
    streamed = CHAT.replace(b'"stream": false', b'"stream": true')
    assert (await _post(http, url, streamed))[1]["Content-Type"] == "application/x-ndjson"


async def test_cache_control_takes_the_full_path(
    proxy: ProxyService, sim: Sim, http: aiohttp.ClientSession
) -> None:
    assert proxy.state is not None
    url = proxy.base_url + "/api/chat"
    await _post(http, url, CHAT)
    await proxy.state.cache.drain()
    await _post(http, url, CHAT)
    assert len(proxy.state.cache.answers) == 1
    status, headers, _ = await _post(http, url, CHAT, **{"Cache-Control": "no-cache"})
    assert status == 200 and headers["X-Cache"] == "BYPASS"  # looked up nowhere
    assert len(sim.recorder.by_path("/api/chat")) == 2


async def test_a_clear_or_a_disabled_cache_ends_the_fast_answers(
    proxy: ProxyService, sim: Sim, http: aiohttp.ClientSession
) -> None:
    assert proxy.state is not None
    url = proxy.base_url + "/api/chat"
    for _ in range(3):
        await _post(http, url, CHAT)
        await proxy.state.cache.drain()
    await proxy.state.cache.clear()
    assert (await _post(http, url, CHAT))[1]["X-Cache"] == "MISS"
    await proxy.state.cache.drain()
    await _post(http, url, CHAT)
    assert len(proxy.state.cache.answers) == 1
    proxy.state.cache.configure(enabled=False, policy="deterministic", ttl=3600)
    assert (await _post(http, url, CHAT))[1]["X-Cache"] == "BYPASS"
    assert len(sim.recorder.by_path("/api/chat")) == 3


async def test_an_expired_entry_is_not_answered_fast(
    proxy: ProxyService, sim: Sim, http: aiohttp.ClientSession
) -> None:
    assert proxy.state is not None
    url = proxy.base_url + "/api/chat"
    for _ in range(2):
        await _post(http, url, CHAT)
        await proxy.state.cache.drain()
    [answer] = [proxy.state.cache.answers.get("/api/chat", CHAT)]
    assert answer is not None
    proxy.state.cache.store.ttl = 0.0001  # every stored entry is now past its TTL
    assert (await _post(http, url, CHAT))[1]["X-Cache"] == "MISS"
    assert len(sim.recorder.by_path("/api/chat")) == 2


async def test_openai_hits_get_a_fresh_id_each_time(proxy: ProxyService, sim: Sim) -> None:
    assert proxy.state is not None
    client = openai.AsyncOpenAI(base_url=proxy.base_url + "/v1", api_key="x", max_retries=0)
    ask: dict[str, Any] = {
        "model": "llama3.2",
        "messages": [{"role": "user", "content": "ids"}],
        "temperature": 0,
    }
    answers = []
    for _ in range(4):
        raw = await client.chat.completions.with_raw_response.create(**ask)
        answers.append((raw.headers["X-Cache"], raw.parse()))
        await proxy.state.cache.drain()
    await client.close()
    assert [cache for cache, _ in answers] == ["MISS", "HIT", "HIT", "HIT"]
    assert len(proxy.state.cache.answers) == 1  # the last two came the fast way
    ids = {completion.id for _, completion in answers}
    assert len(ids) == 4 and all(i.startswith("chatcmpl-") for i in ids)
    first = answers[0][1]
    for _, completion in answers[1:]:
        assert completion.choices[0].message.content == first.choices[0].message.content
        assert completion.usage == first.usage
        assert abs(completion.created - first.created) < 60
    assert len(sim.recorder.by_path("/api/chat")) == 1


def test_a_model_writing_the_placeholder_cannot_forge_the_id() -> None:
    entry = CacheEntry((b"{}",), False, 0.0, 0.1)
    obj = {"id": "x", "created": 1, "content": f'"{ID_PLACEHOLDER}" and more'}
    answer = Answer("k", entry, dumps(with_placeholders(obj)), {}, "chat", "m", None, "cmpl")
    out = json.loads(answer.body())
    assert out["content"] == obj["content"]
    assert out["id"].startswith("cmpl-") and isinstance(out["created"], int)


def test_the_index_is_bounded_oldest_first() -> None:
    entry = CacheEntry((b"{}",), False, 0.0, 0.1)
    index = AnswerIndex(limit=1000)
    for n in range(20):
        index.put("/r", str(n).encode(), Answer("k", entry, b"x" * 100, {}, "chat", "m", None))
    assert len(index) < 10
    assert index.get("/r", b"19") is not None and index.get("/r", b"0") is None
