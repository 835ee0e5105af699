"""One native generation request (chat, generate, embed): cache, coalescing, upstream.

Both dialects come through here with a native body, so the cache and metrics see one
form. The reply is the native bytes Ollama sent (or the stored native lines on a hit);
the caller renders them in its own dialect.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from .cache import (
    CacheEntry,
    RouteKind,
    is_cacheable_request,
    is_complete_answer,
    parse_cache_control,
)
from .cache.flight import Flight
from .forwarding import request_headers, response_headers
from .ndjson import LineSplitter
from .state import ProxyState

HIT, MISS, BYPASS = "HIT", "MISS", "BYPASS"
PATHS: dict[RouteKind, str] = {
    "chat": "/api/chat",
    "generate": "/api/generate",
    "embed": "/api/embed",
    "embeddings": "/api/embeddings",
}


@dataclasses.dataclass
class Reply:
    status: int
    headers: dict[str, str]
    cache: str
    chunks: AsyncIterator[bytes] | None = None  # live bytes (miss / bypass)
    entry: CacheEntry | None = None  # stored lines (hit)
    ttfb: float = 0.0
    length: int | None = None  # the upstream's Content-Length, when it sent one

    @property
    def streamed(self) -> bool:
        if self.entry is not None:
            return self.entry.streamed
        return "ndjson" in self.headers.get("Content-Type", "")


def wants_stream(kind: RouteKind, body: Mapping[str, Any]) -> bool:
    return kind in ("chat", "generate") and body.get("stream", True) is not False


@asynccontextmanager
async def open_reply(
    state: ProxyState,
    kind: RouteKind,
    raw_body: bytes,
    body: dict[str, Any] | None,
    client_headers: Mapping[str, str],
) -> AsyncIterator[Reply]:
    """Yield the reply for one native request; leaving the block releases upstream."""
    headers = request_headers(client_headers)
    cache = state.cache
    if body is None or not cache.enabled or not is_cacheable_request(kind, body, cache.policy):
        if body is not None:
            cache.stats.bypasses += 1
        async with _direct(state, kind, raw_body, headers, BYPASS) as reply:
            yield reply
        return

    control = parse_cache_control(client_headers)
    key = cache.key_for(kind, raw_body, body)
    streamed = wants_stream(kind, body)
    if control.lookup:
        entry = cache.lookup(key, control.max_age)
        # A stream is never made up from a single stored object: Ollama never streams one
        # done line carrying the whole text, and clients that read content from the
        # done:false lines would show nothing. Such a request goes upstream and its stream
        # replaces the entry; a stored stream answers both shapes (merged as Ollama does).
        if entry is not None and streamed and not entry.streamed:
            entry = None
        if entry is not None:
            cache.stats.hits += 1
            cache.stats.time_saved += entry.upstream_seconds
            content_type = (
                "application/x-ndjson" if entry.streamed else "application/json; charset=utf-8"
            )
            yield Reply(200, {"Content-Type": content_type}, HIT, entry=entry)
            return
    if control.lookup:
        cache.stats.misses += 1
    else:
        cache.stats.bypasses += 1
    flight_key = f"{key}:{int(streamed)}:{int(control.store)}"
    started = time.perf_counter()

    async def run(flight: Flight) -> None:
        async with state.upstream.request(
            "POST", PATHS[kind], headers=headers, data=raw_body
        ) as resp:
            flight.set_head(resp.status, response_headers(resp.headers), resp.content_length)
            keep = resp.status == 200 and control.store
            limit = cache.max_entry_bytes
            splitter = LineSplitter()
            lines: list[bytes] = []
            held = 0
            async for chunk in state.upstream.iter_body(resp):
                flight.push(chunk)
                if keep:
                    held += len(chunk)
                    if held > limit:
                        # Too big to store: keep relaying, stop buffering (memory stays
                        # bounded whatever the upstream sends).
                        keep = False
                        lines.clear()
                        splitter = LineSplitter()
                        continue
                    lines.extend(splitter.feed(chunk))
            if keep:
                tail = splitter.tail()
                if tail:
                    lines.append(tail)
                _store_if_complete(state, kind, key, lines, streamed, time.perf_counter() - started)

    flight, _leader = cache.flights.join_or_start(flight_key, run)
    try:
        status, reply_headers, length = await flight.head
        yield Reply(
            status,
            reply_headers,
            MISS if control.lookup else BYPASS,
            chunks=flight.follow(),
            ttfb=time.perf_counter() - started,
            length=length,
        )
    finally:
        flight.unsubscribe()


def _store_if_complete(
    state: ProxyState,
    kind: RouteKind,
    key: str,
    lines: list[bytes],
    streamed: bool,
    seconds: float,
) -> None:
    """Only whole, well-formed answers: every line a JSON object without an error, one
    line when Ollama did not stream, and a final line that completed the answer."""
    if not lines or (not streamed and len(lines) != 1):
        return
    final: Any = None
    for line in lines:
        try:
            final = json.loads(line)
        except (ValueError, RecursionError):
            return
        if not isinstance(final, dict) or "error" in final:
            return
    if is_complete_answer(kind, final):
        state.cache.write(key, state.cache.new_entry(lines, streamed, seconds))


@asynccontextmanager
async def _direct(
    state: ProxyState,
    kind: RouteKind,
    raw_body: bytes,
    headers: dict[str, str],
    cache_status: str,
) -> AsyncIterator[Reply]:
    started = time.perf_counter()
    async with state.upstream.request("POST", PATHS[kind], headers=headers, data=raw_body) as resp:
        yield Reply(
            resp.status,
            response_headers(resp.headers),
            cache_status,
            chunks=state.upstream.iter_body(resp),
            ttfb=time.perf_counter() - started,
            length=resp.content_length,
        )
