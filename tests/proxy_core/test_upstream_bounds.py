"""Issue 11 items 17-18: whatever the upstream sends, the proxy relays it as it arrives,
in linear time, and a line it cannot hold ends a translated reply with an error."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest

from proxy_core import ProxyService
from proxy_core.ndjson import LineSplitter, LineTooLong
from tests.conftest import Sim
from tests.fakes.ollama_sim import FaultyReply

NOT_CACHEABLE = {"model": "llama3.2", "prompt": "hi", "stream": False}


@pytest.fixture
def proxy_changes() -> dict[str, object]:
    return {"max_line_bytes": 1 << 20}


async def test_a_reply_of_unknown_type_and_length_is_relayed_as_it_arrives(
    proxy: ProxyService, sim: Sim, http: aiohttp.ClientSession
) -> None:
    resume = asyncio.Event()

    async def slow_text() -> AsyncIterator[bytes]:
        yield b"first part of a plain-text reply\n"
        await asyncio.wait_for(resume.wait(), 8)  # a regression fails, never hangs
        yield b"the rest\n"

    sim.config.override_replies["/api/generate"] = FaultyReply(
        slow_text(), content_type="text/plain"
    )
    async with http.post(proxy.base_url + "/api/generate", json=NOT_CACHEABLE) as resp:
        assert resp.status == 200
        first = await asyncio.wait_for(resp.content.readany(), 5)
        assert first.startswith(b"first part")
        resume.set()
        assert (first + await resp.read()).endswith(b"the rest\n")


def test_splitting_is_linear_in_the_bytes_fed() -> None:
    splitter = LineSplitter()
    chunk = b"x" * (64 << 10)
    started = time.perf_counter()
    for _ in range(2000):  # 125 MiB without a newline: quadratic copying took minutes
        assert splitter.feed(chunk) == []
    lines = splitter.feed(b"\n{}\n")
    assert time.perf_counter() - started < 10  # linear: well under a second here
    assert len(lines[0]) == 2000 * len(chunk) and lines[1] == b"{}"


def test_a_line_past_the_cap_raises() -> None:
    splitter = LineSplitter(max_line=1000)
    splitter.feed(b"a" * 600)
    with pytest.raises(LineTooLong):
        splitter.feed(b"b" * 600)
    with pytest.raises(LineTooLong):
        LineSplitter(max_line=10).feed(b"c" * 20 + b"\n")


def _huge_line() -> FaultyReply:
    return FaultyReply(
        iter([b'{"message":{"content":"' + b"z" * (64 << 10)] * 40),  # 2.5 MiB, no newline
        content_type="application/x-ndjson",
    )


async def test_a_huge_line_ends_an_openai_stream_with_an_error_event(
    proxy: ProxyService, sim: Sim, http: aiohttp.ClientSession
) -> None:
    sim.config.override_replies["/api/chat"] = _huge_line()
    body = {"model": "llama3.2", "stream": True, "messages": [{"role": "user", "content": "x"}]}
    async with http.post(proxy.base_url + "/v1/chat/completions", json=body) as resp:
        raw = await resp.read()
    events = [json.loads(e[6:]) for e in raw.split(b"\n\n") if e.startswith(b"data: {")]
    assert "longer than" in events[-1]["error"]["message"]
    assert b"[DONE]" not in raw


async def test_a_huge_line_is_a_502_for_a_whole_openai_reply(
    proxy: ProxyService, sim: Sim, http: aiohttp.ClientSession
) -> None:
    sim.config.override_replies["/api/chat"] = _huge_line()
    body = {"model": "llama3.2", "messages": [{"role": "user", "content": "x"}]}
    async with http.post(proxy.base_url + "/v1/chat/completions", json=body) as resp:
        raw = await resp.read()
    assert resp.status == 502
    assert "longer than" in json.loads(raw)["error"]["message"]
