"""Every dialect relays a stream as it arrives: the first event reaches the client while
Ollama is still generating (never held until the end)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest

from proxy_core import ProxyService
from tests.conftest import Sim
from tests.fakes.ollama_sim import FaultyReply

MESSAGES = [{"role": "user", "content": "relay"}]
CASES = [
    ("/api/chat", {"model": "llama3.2", "messages": MESSAGES}, b'"first "'),
    ("/v1/chat/completions", {"model": "llama3.2", "messages": MESSAGES}, b"first "),
    ("/v1/messages", {"model": "llama3.2", "messages": MESSAGES, "max_tokens": 9}, b"first "),
    ("/v1/responses", {"model": "llama3.2", "input": "relay"}, b"first "),
]


def _line(content: str, done: bool) -> bytes:
    line: dict[str, object] = {
        "model": "llama3.2",
        "created_at": "2026-11-29T10:00:00Z",
        "message": {"role": "assistant", "content": content},
        "done": done,
    }
    if done:
        line.update(done_reason="stop", prompt_eval_count=3, eval_count=2, eval_duration=10**6)
    return json.dumps(line).encode() + b"\n"


@pytest.mark.parametrize("path, body, first", CASES)
async def test_the_first_event_arrives_before_ollama_finishes(
    proxy: ProxyService,
    sim: Sim,
    http: aiohttp.ClientSession,
    path: str,
    body: dict[str, object],
    first: bytes,
) -> None:
    resume = asyncio.Event()

    async def generating() -> AsyncIterator[bytes]:
        yield _line("first ", False)
        await asyncio.wait_for(resume.wait(), 8)  # a regression fails, never hangs
        yield _line("second", False)
        yield _line("", True)

    sim.config.override_replies["/api/chat"] = FaultyReply(
        generating(), content_type="application/x-ndjson"
    )
    async with http.post(proxy.base_url + path, json={**body, "stream": True}) as resp:
        assert resp.status == 200
        seen = b""
        while first not in seen:
            seen += await asyncio.wait_for(resp.content.readany(), 5)
        resume.set()
        rest = await resp.read()
    assert b"second" in seen + rest
