"""An IDE session on a real engine with one slot (issue 26): a chat streams in one window
while the editor asks for an autocomplete on every keystroke (every 150 ms), straight to
llama-server against through the proxy, in one run.

The editor here waits for every answer it asked for (it does not cancel), as a plugin
without cancellation does. Straight to the engine, its one slot serves requests in
arrival order: autocompletes queue behind the chat and behind each other, and the queue
grows while the user types faster than the engine answers. Through the proxy (one slot
per model, ``default_num_parallel=1``, so the queue is the proxy's), autocomplete is the
background lane: a newer one from the same editor answers the older ones still waiting
at once (499, superseded: their text is stale), so what waits is at most one per editor.
Chat stays the interactive lane. Every request is a real generation: the prefixes never
repeat (no cache hit) and the chat is sampled (not cacheable).

Reported: autocomplete p50/p95 of the answers the editor got (the superseded ones count
apart), and the chat stream's p50 time, both ways.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time

import aiohttp

from tests.real_engine import engine as real

from .harness import free_port, processes, start_proxy, wait_ready

TYPING_SECONDS = 20.0
KEYSTROKE = 0.150
CODE = (
    "def moving_average(values, window):\n"
    '    """The mean of each run of `window` values, in order."""\n'
    "    if window <= 0:\n"
    "        raise ValueError('window must be positive')\n"
    "    total = sum(values[:window])\n"
    "    out = [total / window]\n"
    "    for i in range(window, len(values)):\n"
    "        total += values[i] - values[i - window]\n"
    "        out.append(total / window)\n"
    "    return out\n"
)
CHAT = {
    "model": real.MODEL,
    "messages": [{"role": "user", "content": "Explain what a moving average is."}],
    "max_tokens": 96,
    "temperature": 0.8,  # sampled: a chat is never a cache hit
    "stream": True,
}
BACKGROUND = {"X-Proxy-Priority": "background"}


async def _chat(http: aiohttp.ClientSession, base: str) -> float:
    started = time.perf_counter()
    async with http.post(base + "/v1/chat/completions", json=CHAT) as resp:
        assert resp.status == 200, await resp.text()
        async for _ in resp.content:
            pass
    return time.perf_counter() - started


async def _complete(http: aiohttp.ClientSession, base: str, prompt: str) -> tuple[int, float]:
    body = {"model": real.MODEL, "prompt": prompt, "max_tokens": 12, "temperature": 0}
    started = time.perf_counter()
    async with http.post(base + "/v1/completions", json=body, headers=BACKGROUND) as resp:
        await resp.read()
        return resp.status, time.perf_counter() - started


async def _session(
    base: str, tag: str, seconds: float = TYPING_SECONDS
) -> dict[str, list[float] | int]:
    """One typing session against ``base``; ``tag`` makes its prefixes its own."""
    chats: list[float] = []
    connector = aiohttp.TCPConnector(limit=0, force_close=True)  # see bench_real_engine
    async with aiohttp.ClientSession(connector=connector) as http:
        typing = True

        async def chat_window() -> None:
            while typing:
                chats.append(await _chat(http, base))

        chatting = asyncio.create_task(chat_window())
        asked: list[asyncio.Task[tuple[int, float]]] = []
        started = time.perf_counter()
        keys = 0
        while time.perf_counter() - started < seconds:
            keys += 1
            prefix = f"# session {tag}\n" + CODE[: keys % len(CODE) + 1]
            asked.append(asyncio.create_task(_complete(http, base, prefix)))
            await asyncio.sleep(KEYSTROKE)
        typing = False
        answers = await asyncio.gather(*asked)
        with contextlib.suppress(asyncio.CancelledError):
            await chatting
    return {
        "answered": [seconds for status, seconds in answers if status == 200],
        "superseded": sum(1 for status, _ in answers if status == 499),
        "failed": sum(1 for status, _ in answers if status not in (200, 499)),
        "chats": chats,
    }


def _p(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


async def run() -> list[tuple[str, str]]:
    if real.installed() is None:
        return [("IDE session", "the real engine is not set up (scripts/real-engine.sh)")]
    engine = real.start(slots=1, threads=1)
    proxy_port = free_port()
    proxy_url = f"http://127.0.0.1:{proxy_port}"
    proxy = start_proxy(
        proxy_port, "none", "--openai-upstream", f"llamacpp={engine.url}", num_parallel=1
    )
    try:
        with processes(proxy):
            await wait_ready(proxy_url)
            await _session(proxy_url, "warm-up", 2.0)  # the pools, the model's first runs
            direct = await _session(engine.url, "direct")
            proxied = await _session(proxy_url, "proxy")
    finally:
        engine.stop()
    return _rows(direct, proxied)


def _rows(
    direct: dict[str, list[float] | int], proxied: dict[str, list[float] | int]
) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    p95 = {}
    for name, got in (("direct", direct), ("through the proxy", proxied)):
        answered, chats = got["answered"], got["chats"]
        assert isinstance(answered, list) and isinstance(chats, list)
        p95[name] = _p(answered, 95)
        rows += [
            (f"autocomplete answered, {name}", str(len(answered))),
            (f"autocomplete superseded (499), {name}", str(got["superseded"])),
            (f"autocomplete failed, {name}", str(got["failed"])),
            (f"autocomplete p50 ms, {name}", f"{_p(answered, 50) * 1000:.0f}"),
            (f"autocomplete p95 ms, {name}", f"{p95[name] * 1000:.0f}"),
            (f"chat stream p50 ms ({len(chats)} chats), {name}", f"{_p(chats, 50) * 1000:.0f}"),
        ]
    ratio = p95["through the proxy"] / p95["direct"]
    rows.append(("autocomplete p95, proxy / direct (target <= 0.5)", f"{ratio:.2f}"))
    return rows


if __name__ == "__main__":
    from .harness import print_table

    print_table(asyncio.run(run()))
