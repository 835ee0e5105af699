"""Sending one native request through the router: the engine it picks, one retry on
another engine when the first gave no answer at all, and the reply in one shape whatever
the engine's kind (:class:`EngineReply`, or what the caller's ``wrap`` makes of it, so
the caller needs no context of its own around this one). One engine, the common case, is
sent to directly with no routing bookkeeping (measured: tests/perf/bench_routing.py)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Generic, NamedTuple, TypeVar

import aiohttp

from ..errors import UpstreamTimeout, UpstreamUnavailable
from ..forwarding import response_headers
from .base import Engine
from .connection import PoolReply
from .router import NoUpstream, Router


class EngineReply(NamedTuple):  # a tuple: made on every request, cheaper than a dataclass
    status: int
    headers: dict[str, str]
    chunks: AsyncIterator[bytes]  # as they arrive (a whole reply: in one piece)
    body: bytes | None  # the whole reply, when it was read whole
    length: int | None  # the engine's Content-Length, when it sent one
    ttfb: float  # seconds to the reply's head


Route = tuple[str | None, int | None]  # (model, conversation): which engine (router.py)
T = TypeVar("T")


def send(
    router: Router,
    path: str,
    raw_body: bytes,
    headers: dict[str, str],
    whole: bool,
    wrap: Callable[[EngineReply], T],
    route: Route = (None, None),
    retried: Callable[[], None] = lambda: None,
) -> AbstractAsyncContextManager[T]:
    """The engine's reply, as ``wrap`` makes it; leaving the block releases (or closes)
    its connection.

    ``whole`` (the client asked for no stream, or an embedding): the lean pool, which
    reads a small framed reply in one go and relays anything else as it arrives;
    ``retried`` is told when a request went to a second engine."""
    if not router.single:
        return _routed(router, path, raw_body, headers, (whole, wrap), route, retried)
    client = router.primary.client  # one engine: no routing, no bookkeeping
    if whole or client.translating:  # translated replies: fetch() only
        return _Fetch(client, path, headers, raw_body, wrap)
    return _stream(client, path, headers, raw_body, wrap)


class _Fetch(AbstractAsyncContextManager[T], Generic[T]):
    """One engine, a whole reply: the common request. A class, not a generator: an async
    generator costs the event loop's bookkeeping on every request (docs/PERFORMANCE.md)."""

    __slots__ = ("_args", "_wrap", "_got")

    def __init__(
        self,
        client: Engine,
        path: str,
        headers: dict[str, str],
        body: bytes,
        wrap: Callable[[EngineReply], T],
    ) -> None:
        self._args = (client, path, headers, body)
        self._wrap = wrap
        self._got: PoolReply | None = None

    async def __aenter__(self) -> T:
        client, path, headers, body = self._args
        started = time.perf_counter()
        self._got = await client.fetch("POST", path, headers, body)
        return self._wrap(_fetched(self._got, started))

    async def __aexit__(self, *exc_info: object) -> None:
        if self._got is not None:
            self._got.release()


@asynccontextmanager
async def _stream(
    client: Engine,
    path: str,
    headers: dict[str, str],
    raw_body: bytes,
    wrap: Callable[[EngineReply], T],
) -> AsyncIterator[T]:
    started = time.perf_counter()
    async with client.request("POST", path, headers=headers, data=raw_body) as resp:
        yield wrap(_streamed(client, resp, started))


def _fetched(got: PoolReply, started: float) -> EngineReply:
    return EngineReply(
        got.status,
        response_headers(got.headers),
        got.chunks(),
        got.body,
        got.length,
        time.perf_counter() - started,
    )


def _streamed(client: Engine, resp: aiohttp.ClientResponse, started: float) -> EngineReply:
    return EngineReply(
        resp.status,
        response_headers(resp.headers),
        client.iter_body(resp),
        None,
        resp.content_length,
        time.perf_counter() - started,
    )


@asynccontextmanager
async def _routed(
    router: Router,
    path: str,
    raw_body: bytes,
    headers: dict[str, str],
    shape: tuple[bool, Callable[[EngineReply], T]],
    route: Route,
    retried: Callable[[], None],
) -> AsyncIterator[T]:
    """Several engines: the one the router picks; one that gives no answer at all is
    tried once more elsewhere, since nothing reached the client yet. ``shape``: whole,
    and the caller's wrap."""
    whole, wrap = shape
    backend = router.pick(*route)
    again = False
    async with contextlib.AsyncExitStack() as stack:
        while True:
            started = time.perf_counter()
            router.started(backend)
            client = backend.client
            try:
                if whole or client.translating:  # translated replies: fetch() only
                    got = await client.fetch("POST", path, headers, raw_body)
                    stack.callback(got.release)
                else:
                    resp = await stack.enter_async_context(
                        client.request("POST", path, headers=headers, data=raw_body)
                    )
            except (UpstreamUnavailable, UpstreamTimeout) as exc:
                router.finished(backend, False, str(exc))
                if again:
                    raise
                again = True
                try:
                    backend = router.pick(*route, exclude=backend)
                except NoUpstream:
                    raise exc from None
                retried()
                continue
            break
        stack.callback(router.finished, backend, True)
        if whole or client.translating:
            yield wrap(_fetched(got, started))
        else:
            yield wrap(_streamed(client, resp, started))
