"""What one cache hit costs, step by step, in microseconds (median of 5 rounds).

These figures decide what may run on the event loop: a step costing a few tens of
microseconds is cheaper than a round trip to an executor thread (which is itself
measured here), so hits stay on the loop and only writes (a sqlite commit) go to the
executor.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from proxy_core.cache import CacheEntry, CacheLayer, cache_key
from proxy_core.dialects.native import parse_json_object

BODY = {
    "model": "llama3.2",
    "stream": False,
    "options": {"temperature": 0},
    "messages": [{"role": "user", "content": "bench"}],
}
ANSWER = json.dumps(
    {
        "model": "llama3.2",
        "created_at": "2026-01-01T00:00:00Z",
        "message": {"role": "assistant", "content": "word " * 60},
        "done": True,
        "done_reason": "stop",
        "eval_count": 60,
    }
).encode()


def per_call_us(fn: Callable[[], object], n: int = 20_000) -> float:
    rounds = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(n):
            fn()
        rounds.append((time.perf_counter() - started) / n * 1e6)
    return statistics.median(rounds)


async def executor_round_trip_us(n: int = 2_000) -> float:
    loop = asyncio.get_running_loop()
    started = time.perf_counter()
    for _ in range(n):
        await loop.run_in_executor(None, int)
    return (time.perf_counter() - started) / n * 1e6


async def run() -> list[tuple[str, str]]:
    raw = json.dumps(BODY).encode()
    layer = CacheLayer(
        Path(tempfile.mkdtemp()) / "cache",
        enabled=True,
        policy="deterministic",
        ttl=300,
        size_limit=1 << 30,
    )
    await layer.open()
    key = cache_key("chat", BODY)
    entry = CacheEntry((ANSWER,), False, time.time(), 0.5)
    layer.store.put(key, entry)
    layer.key_for("chat", raw, BODY)
    rows = [
        ("parse the body (orjson)", per_call_us(lambda: parse_json_object(raw))),
        ("cache key: canonicalize + hash", per_call_us(lambda: cache_key("chat", BODY))),
        ("cache key: from the bytes index", per_call_us(lambda: layer.key_for("chat", raw, BODY))),
        ("read one entry from sqlite", per_call_us(lambda: layer.store.get(key))),
        ("read one entry from memory", per_call_us(lambda: layer.lookup(key, None))),
        ("write one entry to sqlite", per_call_us(lambda: layer.store.put(key, entry), n=300)),
        ("executor round trip (for comparison)", await executor_round_trip_us()),
    ]
    await layer.close()
    return [(f"{name} (us)", f"{value:.1f}") for name, value in rows]
