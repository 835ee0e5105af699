"""Issue 14 item 3: Ollama is asked for what the client asked. A client that wants no
stream gets a non-streaming upstream request (cheaper for Ollama), cancellation still
stops the generation, and the cache serves both shapes faithfully."""

from __future__ import annotations

import asyncio

import aiohttp
import openai
import pytest

from proxy_core import ProxyService
from tests.conftest import Sim

MESSAGES = [{"role": "user", "content": "shape"}]
DIALECTS = [
    ("/v1/chat/completions", "/api/chat", {"model": "llama3.2", "messages": MESSAGES}),
    ("/v1/completions", "/api/generate", {"model": "llama3.2", "prompt": "shape"}),
    ("/v1/messages", "/api/chat", {"model": "llama3.2", "messages": MESSAGES, "max_tokens": 50}),
    ("/v1/responses", "/api/chat", {"model": "llama3.2", "input": "shape"}),
]


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("path, native_path, body", DIALECTS)
async def test_the_upstream_request_streams_only_when_the_client_asked(
    proxy: ProxyService,
    sim: Sim,
    http: aiohttp.ClientSession,
    path: str,
    native_path: str,
    body: dict[str, object],
    stream: bool,
) -> None:
    async with http.post(proxy.base_url + path, json={**body, "stream": stream}) as resp:
        text = await resp.text()
        assert resp.status == 200, text
    if stream:
        assert "data:" in text
    sent = sim.recorder.by_path(native_path)[-1].json()
    assert sent["stream"] is stream


async def test_a_client_giving_up_on_a_whole_answer_stops_the_generation(
    proxy: ProxyService, sim: Sim
) -> None:
    sim.config.token_delay, sim.config.reply_words = 0.05, 100  # five seconds of tokens
    client = openai.AsyncOpenAI(base_url=proxy.base_url + "/v1", api_key="x", max_retries=0)
    with pytest.raises(openai.APITimeoutError):
        await client.chat.completions.create(
            model="llama3.2",
            messages=MESSAGES,
            timeout=0.3,  # type: ignore[arg-type]
        )
    for _ in range(100):
        if sim.recorder.disconnects:
            break
        await asyncio.sleep(0.05)
    [gone] = sim.recorder.disconnects
    assert gone.path == "/api/chat" and gone.json()["stream"] is False
    await client.close()


async def test_the_cache_keeps_each_shape_faithful(proxy: ProxyService, sim: Sim) -> None:
    assert proxy.state is not None
    client = openai.AsyncOpenAI(base_url=proxy.base_url + "/v1", api_key="x", max_retries=0)
    ask = {"model": "llama3.2", "messages": MESSAGES, "temperature": 0}

    async def whole() -> tuple[str, str | None]:
        raw = await client.chat.completions.with_raw_response.create(**ask)  # type: ignore[call-overload]
        await proxy.state.cache.drain()  # type: ignore[union-attr]
        return raw.headers["X-Cache"], raw.parse().choices[0].message.content

    async def streamed() -> tuple[str, str]:
        raw = await client.chat.completions.with_raw_response.create(**ask, stream=True)  # type: ignore[call-overload]
        text = "".join([c.choices[0].delta.content or "" async for c in raw.parse() if c.choices])
        await proxy.state.cache.drain()  # type: ignore[union-attr]
        return raw.headers["X-Cache"], text

    first = await whole()
    assert first[0] == "MISS" and (await whole()) == ("HIT", first[1])
    # A stored whole answer never pretends to be a stream: the stream goes upstream...
    stream_cache, stream_text = await streamed()
    assert stream_cache == "MISS" and stream_text == first[1]
    # ...and its stored stream answers both shapes from now on.
    assert (await streamed())[0] == "HIT" and (await whole()) == ("HIT", first[1])
    shapes = [r.json()["stream"] for r in sim.recorder.by_path("/api/chat")]
    assert shapes == [False, True]
    await client.close()
