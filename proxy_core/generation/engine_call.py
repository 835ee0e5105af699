"""The engine stage: one native request sent through the router (engines/send.py) and
its reply as the pipeline's :class:`Reply`, carrying the request's facts."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Any

from ..cache import RouteKind
from ..engines import send as engines
from ..state import ProxyState
from .reply import BYPASS, PATHS, Facts, Reply


def send(
    state: ProxyState,
    kind: RouteKind,
    raw_body: bytes,
    headers: dict[str, str],
    whole: bool,
    facts: Facts,
    route: engines.Route = (None, None),
) -> AbstractAsyncContextManager[Reply]:
    """The engine's reply; leaving the block releases (or closes) its connection."""

    def retried() -> None:
        state.metrics.upstream_error("retried_elsewhere")

    sent = engines.send(state.router, PATHS[kind], raw_body, headers, whole, route, retried)
    return _AsReply(sent, facts)


class _AsReply(AbstractAsyncContextManager[Reply]):
    """The engine's context, its reply carrying the facts. A class, not a generator: it
    runs for every request, and an async generator costs the event loop's bookkeeping
    each time (docs/PERFORMANCE.md)."""

    __slots__ = ("_sent", "_facts")

    def __init__(self, sent: AbstractAsyncContextManager[engines.EngineReply], facts: Facts):
        self._sent = sent
        self._facts = facts

    async def __aenter__(self) -> Reply:
        got = await self._sent.__aenter__()
        return Reply(
            got.status,
            got.headers,
            BYPASS,
            chunks=got.chunks,
            body=got.body,
            ttfb=got.ttfb,
            length=got.length,
            **self._facts.fields(),
        )

    async def __aexit__(self, *exc_info: Any) -> bool | None:
        return await self._sent.__aexit__(*exc_info)
