"""The leader of a flight (cache/flight.py): the one request that asks the engine for an
answer others may share, relays its bytes to every follower as they arrive, and stores
the answer when it is whole and well-formed."""

from __future__ import annotations

import time
from typing import Any

from ..cache import RouteKind, is_complete_answer
from ..cache.flight import Flight
from ..ndjson import LineSplitter, loads
from ..state import ProxyState
from . import engine_call
from .reply import NO_FACTS


async def relay_and_store(
    state: ProxyState,
    flight: Flight,
    request: tuple[RouteKind, bytes, dict[str, str]],
    key: str,
    shape: tuple[bool, bool],
    route: tuple[str | None, int | None],
    started: float,
) -> None:
    """``request``: (kind, raw body, upstream headers); ``shape``: (streamed, the client
    allows storing it); ``started``: when the request began (the answer's cost)."""
    kind, raw_body, headers = request
    streamed, store = shape
    cache = state.cache
    async with engine_call.send(
        state, kind, raw_body, headers, not streamed, NO_FACTS, route
    ) as got:
        flight.set_head(got.status, got.headers, got.length)
        keep = got.status == 200 and store
        limit = cache.max_entry_bytes
        if got.body is not None:  # read whole (Ollama's stream: false answer)
            flight.push(got.body)
            if keep and len(got.body) <= limit:
                lines = [line for line in got.body.split(b"\n") if line.strip()]
                _store_if_complete(state, kind, key, lines, streamed, got.ttfb)
            return
        assert got.chunks is not None
        splitter = LineSplitter()
        lines = []
        held = 0
        async for chunk in got.chunks:
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
            final = loads(line)
        except ValueError:
            return
        if not isinstance(final, dict) or "error" in final:
            return
    if is_complete_answer(kind, final):
        state.cache.write(key, state.cache.new_entry(lines, streamed, seconds))
