"""The engine stage: one native request sent through the router (engines/send.py) and
its reply as the pipeline's :class:`Reply`, carrying the request's facts."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

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
    """The engine's reply; leaving the block releases (or closes) its connection. The
    reply is made by the engine's own context (``wrap``), not a context around it: a
    layer of coroutines less on every request (docs/PERFORMANCE.md)."""

    def as_reply(got: engines.EngineReply) -> Reply:
        return Reply(
            got.status,
            got.headers,
            BYPASS,
            chunks=got.chunks,
            body=got.body,
            ttfb=got.ttfb,
            length=got.length,
            num_ctx=facts.num_ctx,
            client=facts.client,
        )

    def retried() -> None:
        state.metrics.upstream_error("retried_elsewhere")

    return engines.send(
        state.router, PATHS[kind], raw_body, headers, whole, as_reply, route, retried
    )
