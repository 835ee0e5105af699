"""One deterministic question asked in every dialect makes one upstream generation."""

from __future__ import annotations

import aiohttp

from proxy_core import ProxyService
from tests.conftest import Sim

QUESTION = [{"role": "user", "content": "the same question"}]
REQUESTS = [
    (
        "/api/chat",
        {
            "model": "llama3.2",
            "messages": QUESTION,
            "options": {"temperature": 0, "num_predict": 100},
        },
    ),
    (
        "/v1/chat/completions",
        {"model": "llama3.2", "messages": QUESTION, "temperature": 0, "max_tokens": 100},
    ),
    (
        "/v1/responses",
        {
            "model": "llama3.2",
            "input": "the same question",
            "temperature": 0,
            "max_output_tokens": 100,
        },
    ),
    (
        "/v1/messages",
        {"model": "llama3.2", "messages": QUESTION, "temperature": 0, "max_tokens": 100},
    ),
    (
        "/v1/messages",
        {
            "model": "llama3.2",
            "messages": QUESTION,
            "temperature": 0,
            "max_tokens": 100,
            "stream": True,
        },
    ),
    (
        "/v1/responses",
        {
            "model": "llama3.2",
            "input": "the same question",
            "temperature": 0,
            "max_output_tokens": 100,
            "stream": True,
        },
    ),
]


async def test_every_dialect_shares_one_generation(proxy: ProxyService, sim: Sim) -> None:
    assert proxy.state is not None
    caches = []
    async with aiohttp.ClientSession() as http:
        for path, body in REQUESTS:
            async with http.post(proxy.base_url + path, json=body) as resp:
                await resp.read()
                assert resp.status == 200, path
                caches.append(resp.headers["X-Cache"])
            await proxy.state.cache.drain()
    assert caches == ["MISS"] + ["HIT"] * (len(REQUESTS) - 1)
    assert len(sim.recorder.by_path("/api/chat")) == 1
