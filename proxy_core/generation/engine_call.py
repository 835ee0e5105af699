"""The engine stage: send one native request to the host that serves it and hand back
its reply (leaving the block releases or closes the connection). One host, the common
case, is sent to directly with no routing bookkeeping (measured: bench_routing.py)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp

from ..cache import RouteKind
from ..engines.base import Engine
from ..engines.pool import PoolReply
from ..engines.router import NoUpstream
from ..errors import UpstreamTimeout, UpstreamUnavailable
from ..forwarding import response_headers
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
    route: tuple[str | None, int | None] = (None, None),
) -> AsyncIterator[Reply]:
    """The upstream reply; leaving the block releases (or closes) its connection.

    ``whole`` (the client asked for no stream, or an embedding): the lean pool, which
    reads a small framed reply in one go and relays anything else as it arrives.
    ``route`` (model, conversation) picks the host when there are several (_routed)."""
    if not state.router.single:
        async with _routed(state, kind, raw_body, headers, whole, facts, route) as reply:
            yield reply
        return
    client = state.upstream  # one host: no routing, no bookkeeping (the common case)
    started = time.perf_counter()
    if whole or client.translating:  # translated replies: fetch() only
        got = await client.fetch("POST", PATHS[kind], headers, raw_body)
        try:
            yield _fetched(got, started, facts)
        finally:
            got.release()
        return
    async with client.request("POST", PATHS[kind], headers=headers, data=raw_body) as resp:
        yield _streamed(client, resp, started, facts)


def _fetched(got: PoolReply, started: float, facts: Facts) -> Reply:
    return Reply(
        got.status,
        response_headers(got.headers),
        BYPASS,
        chunks=got.chunks(),
        body=got.body,
        ttfb=time.perf_counter() - started,
        length=got.length,
        **facts.fields(),
    )


def _streamed(client: Engine, resp: aiohttp.ClientResponse, started: float, facts: Facts) -> Reply:
    return Reply(
        resp.status,
        response_headers(resp.headers),
        BYPASS,
        chunks=client.iter_body(resp),
        ttfb=time.perf_counter() - started,
        length=resp.content_length,
        **facts.fields(),
    )


@asynccontextmanager
async def _routed(
    state: ProxyState,
    kind: RouteKind,
    raw_body: bytes,
    headers: dict[str, str],
    whole: bool,
    facts: Facts,
    route: tuple[str | None, int | None],
) -> AsyncIterator[Reply]:
    """Several hosts (routing.py): the one the router picks; a host that gives no answer
    at all is tried once more elsewhere, since nothing reached the client yet."""
    router = state.router
    backend = router.pick(*route)
    retried = False
    async with contextlib.AsyncExitStack() as stack:
        while True:
            started = time.perf_counter()
            router.started(backend)
            client = backend.client
            try:
                if whole or client.translating:  # translated replies: fetch() only
                    got = await client.fetch("POST", PATHS[kind], headers, raw_body)
                    stack.callback(got.release)
                else:
                    resp = await stack.enter_async_context(
                        client.request("POST", PATHS[kind], headers=headers, data=raw_body)
                    )
            except (UpstreamUnavailable, UpstreamTimeout) as exc:
                router.finished(backend, False, str(exc))
                if retried:
                    raise
                retried = True
                try:
                    backend = router.pick(*route, exclude=backend)
                except NoUpstream:
                    raise exc from None
                state.metrics.upstream_error("retried_elsewhere")
                continue
            break
        stack.callback(router.finished, backend, True)
        if whole or client.translating:
            yield _fetched(got, started, facts)
        else:
            yield _streamed(client, resp, started, facts)
