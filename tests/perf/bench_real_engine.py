"""A real engine under the proxy (issue 26): what the proxy adds to time to first token
and to a whole streamed answer, with llama-server and Gemma 3 270M, straight against
through the headless proxy, interleaved in one run (medians of per-pair differences).

The proxy runs as a process of its own (the simulator beside it as its Ollama host), the
engine has one slot, and every request skips the cache (``Cache-Control: no-store,
no-cache``): each one is a real generation.
"""

from __future__ import annotations

import asyncio
import statistics
import time

import aiohttp

from tests.real_engine import engine as real

from .harness import free_port, processes, start_proxy, start_sim, wait_ready

ROUNDS = 15
BODY = {
    "model": real.MODEL,
    "messages": [{"role": "user", "content": "Write two sentences about the sea."}],
    "max_tokens": 32,
    "temperature": 0,
    "stream": True,
}
NO_CACHE = {"Cache-Control": "no-store, no-cache"}


async def _stream(http: aiohttp.ClientSession, base: str) -> tuple[float, float]:
    """(seconds to the first content chunk, seconds to the end) of one streamed chat."""
    started = time.perf_counter()
    first = 0.0
    async with http.post(base + "/v1/chat/completions", json=BODY, headers=NO_CACHE) as resp:
        assert resp.status == 200, await resp.text()
        async for line in resp.content:
            if not first and b'"content":"' in line and b'"content":""' not in line:
                first = time.perf_counter() - started
    return first, time.perf_counter() - started


def _ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.2f}"


async def run() -> list[tuple[str, str]]:
    if real.installed() is None:
        return [("real engine", "not set up (scripts/real-engine.sh)")]
    engine = real.start(threads=1)  # one core for the engine, one for the proxy and client
    sim_port, proxy_port = free_port(), free_port()
    sim_url, proxy_url = f"http://127.0.0.1:{sim_port}", f"http://127.0.0.1:{proxy_port}"
    sim = start_sim(sim_port)
    proxy = start_proxy(proxy_port, sim_url, "--openai-upstream", f"llamacpp={engine.url}")
    try:
        with processes(sim, proxy):
            await wait_ready(sim_url)
            await wait_ready(proxy_url)
            return await _measure(engine.url, proxy_url)
    finally:
        engine.stop()


async def _measure(direct_url: str, proxy_url: str) -> list[tuple[str, str]]:
    direct: dict[str, list[float]] = {"first": [], "total": []}
    proxied: dict[str, list[float]] = {"first": [], "total": []}
    # A new connection per request on both paths: llama-server closes idle keep-alive
    # connections by itself, which a reused client connection would meet as an error.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
        for _ in range(3):  # warm up both paths (the model's first run, the pools)
            await _stream(http, direct_url)
            await _stream(http, proxy_url)
        for round_number in range(ROUNDS):
            order = [(direct_url, direct), (proxy_url, proxied)]
            for url, into in order if round_number % 2 == 0 else order[::-1]:
                first, total = await _stream(http, url)
                into["first"].append(first)
                into["total"].append(total)
    added = {
        kind: [p - d for p, d in zip(proxied[kind], direct[kind], strict=True)]
        for kind in ("first", "total")
    }
    return [
        ("time to first token, direct p50 ms", _ms(direct["first"])),
        ("time to first token, through the proxy p50 ms", _ms(proxied["first"])),
        ("added time to first token, p50 of pairs ms (target <= 1)", _ms(added["first"])),
        ("whole 32-token stream, direct p50 ms", _ms(direct["total"])),
        ("whole 32-token stream, through the proxy p50 ms", _ms(proxied["total"])),
        ("added total time, p50 of pairs ms (target <= 1)", _ms(added["total"])),
    ]


if __name__ == "__main__":
    from .harness import print_table

    print_table(asyncio.run(run()))
