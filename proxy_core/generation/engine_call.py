"""The engine stage: one native request sent through the router (engines/send.py) and
its reply as the pipeline's :class:`Reply`, carrying the request's facts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from ..cache import RouteKind
from ..engines import send as engines
from ..state import ProxyState
from .reply import BYPASS, PATHS, Facts, Reply


@asynccontextmanager
async def send(
    state: ProxyState,
    kind: RouteKind,
    raw_body: bytes,
    headers: dict[str, str],
    whole: bool,
    facts: Facts,
    route: engines.Route = (None, None),
) -> AsyncIterator[Reply]:
    """The engine's reply; leaving the block releases (or closes) its connection."""

    def retried() -> None:
        state.metrics.upstream_error("retried_elsewhere")

    async with engines.send(
        state.router, PATHS[kind], raw_body, headers, whole, route, retried
    ) as got:
        yield Reply(
            got.status,
            got.headers,
            BYPASS,
            chunks=got.chunks,
            body=got.body,
            ttfb=got.ttfb,
            length=got.length,
            **facts.fields(),
        )
