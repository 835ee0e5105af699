"""One native generation request (chat, generate, embed) as stages:
front (the agent loop, when registered) → profile → cache → coalesce → lane → engine.

Every dialect comes through here with a native body, so the model profile, the cache
key, coalescing, the lanes and the metrics see one form. The order matters: the profile
is applied first (it is part of the cache key, as if the client had sent it); a cache hit
is answered at once and never waits in a lane; only what goes to the engine queues. The
reply is the native bytes the engine sent (or the stored native lines on a hit); the
caller renders them in its own dialect and reports the final chunk to
:func:`observe_final`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator, Awaitable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol

from ..cache import RouteKind, is_cacheable_request, parse_cache_control
from ..cache.flight import Flight
from ..clients import recognise
from ..events import ContextTruncated
from ..forwarding import request_headers
from ..ndjson import dumps
from ..profiles import NO_PROFILE, Profile, apply_profile
from ..state import ProxyState
from . import admission, engine_call
from .admission import Lane
from .leader import relay_and_store
from .reply import BYPASS, HIT, MISS, NO_FACTS, Facts, Reply, requested_ctx, wants_stream


class FrontStage(Protocol):
    """A stage before the profile that may take a request whole (the agent loop). The
    service registers them in ``ProxyState.front_stages``. ``claims`` is a cheap test run
    for every request; only a request it claims is awaited, and the stage may still give
    it back (None) to let the pipeline go on."""

    def claims(self, state: ProxyState, kind: RouteKind, body: dict[str, Any] | None) -> bool: ...

    def __call__(
        self,
        state: ProxyState,
        kind: RouteKind,
        body: dict[str, Any] | None,
        client_headers: Mapping[str, str],
    ) -> Awaitable[AbstractAsyncContextManager[Reply] | None]: ...


@dataclasses.dataclass
class _Request:
    """One request as the stages after the front see it (the profile applied)."""

    kind: RouteKind
    raw_body: bytes
    body: dict[str, Any] | None
    client_headers: Mapping[str, str]
    headers: dict[str, str]  # what goes upstream
    profile: Profile = NO_PROFILE
    facts: Facts = NO_FACTS
    route: tuple[str | None, int | None] = (None, None)  # which host (engines/router.py)

    @property
    def generation(self) -> bool:
        return self.facts is not NO_FACTS


def open_reply(
    state: ProxyState,
    kind: RouteKind,
    raw_body: bytes,
    body: dict[str, Any] | None,
    client_headers: Mapping[str, str],
) -> AbstractAsyncContextManager[Reply]:
    """The reply for one native request; leaving the block releases upstream. (Plain
    functions choose the stages: no generator more than needed on every request.)"""
    request = _Request(kind, raw_body, body, client_headers, request_headers(client_headers))
    stages: tuple[FrontStage, ...] = state.front_stages
    claimed = [stage for stage in stages if stage.claims(state, kind, body)]
    if claimed:
        return _fronted(claimed, state, request)
    return _staged(state, request)


@asynccontextmanager
async def _fronted(
    stages: list[FrontStage], state: ProxyState, request: _Request
) -> AsyncIterator[Reply]:
    for stage in stages:  # the agent loop (tools/agent.py), when it claims the request
        taken = await stage(state, request.kind, request.body, request.client_headers)
        if taken is not None:
            async with taken as reply:
                yield reply
            return
    async with _staged(state, request) as reply:
        yield reply


def _staged(state: ProxyState, request: _Request) -> AbstractAsyncContextManager[Reply]:
    _profile(state, request)
    cache, body = state.cache, request.body
    if (
        body is not None
        and cache.enabled
        and is_cacheable_request(request.kind, body, cache.policy)
    ):
        return _cached(state, request, body)
    return _Uncached(state, request)


def _profile(state: ProxyState, request: _Request) -> None:
    """The profile stage: the model's serving policy applied to the body (the engine gets
    what the cache key is made from), the client recognised, the request counted."""
    body = request.body
    model = body.get("model") if body is not None else None
    if body is None or not isinstance(model, str):
        return
    kind = request.kind
    request.route = state.router.route_for(model, body if kind == "chat" else None)
    if kind in ("chat", "generate"):
        request.profile = state.profiles.profile_for(model)
        if request.profile is not NO_PROFILE and apply_profile(body, request.profile):
            request.raw_body = dumps(body)
        num_ctx = requested_ctx(body) or state.metrics.loaded_context(model)
        request.facts = Facts(recognise(request.client_headers), model, num_ctx)
        state.metrics.generation_requested(model, request.facts.client, num_ctx)


def _lane(state: ProxyState, request: _Request) -> Lane | None:
    if not request.generation or request.body is None:
        return None  # embeddings and bodiless requests take no slot
    return admission.lane_for(
        state, request.kind, request.body, request.client_headers, request.profile
    )


class _Uncached(AbstractAsyncContextManager[Reply]):
    """Not cacheable (or the cache is off): lane → engine, nothing shared. A class, not a
    generator: most requests take it (docs/PERFORMANCE.md, "The generation path")."""

    __slots__ = ("_state", "_request", "_lane", "_sent")

    def __init__(self, state: ProxyState, request: _Request) -> None:
        self._state, self._request = state, request
        self._lane: Lane | None = None
        self._sent: AbstractAsyncContextManager[Reply] | None = None

    async def __aenter__(self) -> Reply:
        state, request = self._state, self._request
        if request.body is not None:
            state.cache.count_bypass()
        lane = self._lane = _lane(state, request)
        whole = request.body is not None and not wants_stream(request.kind, request.body)
        if lane is not None and not admission.take(state, lane):
            await admission.wait(state, lane, request.facts)
        sent = engine_call.send(
            state, request.kind, request.raw_body, request.headers, whole, request.facts,
            request.route,
        )  # fmt: skip
        try:
            reply = await sent.__aenter__()
        except BaseException:
            admission.release(state, lane)
            raise
        self._sent = sent
        if request.generation and not whole:  # a whole reply's head comes at its end
            state.metrics.first_token(request.facts.model, reply.ttfb)
        return reply

    async def __aexit__(self, *exc_info: Any) -> bool | None:
        assert self._sent is not None
        try:
            return await self._sent.__aexit__(*exc_info)
        finally:
            admission.release(self._state, self._lane)


@asynccontextmanager
async def _cached(
    state: ProxyState, request: _Request, body: dict[str, Any]
) -> AsyncIterator[Reply]:
    """Cacheable: a stored answer at once, else coalesce → lane → engine as a flight
    (cache/flight.py) that followers of the same request join."""
    cache = state.cache
    control = parse_cache_control(request.client_headers)
    key = cache.key_for(request.kind, request.raw_body, body)
    streamed = wants_stream(request.kind, body)
    flight_key = f"{key}:{int(streamed)}:{int(control.store)}"
    if control.lookup:
        entry = cache.lookup(key, control.max_age)
        if entry is None and cache.backend.shared:
            wait = state.settings.read_timeout
            entry = await cache.shared_answer(key, control.max_age, flight_key, wait)
        # A stream is never made up from a single stored object: Ollama never streams one
        # done line carrying the whole text, and clients that read content from the
        # done:false lines would show nothing. Such a request goes upstream and its stream
        # replaces the entry; a stored stream answers both shapes (merged as Ollama does).
        if entry is not None and (entry.streamed or not streamed):
            cache.count_hit(entry)
            kind = "application/x-ndjson" if entry.streamed else "application/json; charset=utf-8"
            headers = {"Content-Type": kind}
            facts = request.facts
            yield Reply(
                200, headers, HIT, entry=entry, key=key, num_ctx=facts.num_ctx, client=facts.client
            )
            return
        cache.count_miss()
    else:
        cache.count_bypass()
    started = time.perf_counter()
    flight = await _join_flight(state, request, (key, flight_key), streamed, control.store, started)
    try:
        status, reply_headers, length = await flight.head
        ttfb = time.perf_counter() - started
        if request.generation and streamed:  # a whole reply's head comes after its end
            state.metrics.first_token(request.facts.model, ttfb)
        cache_state = MISS if control.lookup else BYPASS
        yield Reply(
            status,
            reply_headers,
            cache_state,
            chunks=flight.follow(),
            ttfb=ttfb,
            length=length,
            num_ctx=request.facts.num_ctx,
            client=request.facts.client,
        )
    finally:
        flight.unsubscribe()


async def _join_flight(
    state: ProxyState,
    request: _Request,
    keys: tuple[str, str],
    streamed: bool,
    store: bool,
    started: float,
) -> Flight:
    """The coalesce stage: the same answer on its way is followed (no slot of its own);
    else this request takes a lane slot and leads a new flight, which owns the slot.
    ``keys``: the cache key and the flight's (the key with the reply's shape)."""
    key, flight_key = keys
    cache = state.cache
    flight = cache.flights.live(flight_key)
    if flight is not None:
        flight.subscribe()
        return flight
    lane = _lane(state, request)
    sent = (request.kind, request.raw_body, request.headers)

    async def lead(flight: Flight) -> None:
        try:
            await relay_and_store(
                state, flight, sent, key, (streamed, store), request.route, started
            )
        finally:
            cache.unclaim(key)  # no answer stored: other proxies waiting may ask the engine
            admission.release(state, lane)  # the slot belongs to the flight, not a client

    try:
        if lane is not None and not admission.take(state, lane):
            await admission.wait(state, lane, request.facts)
    except BaseException:  # the client left while queued: other proxies must not wait
        cache.unclaim(key)
        raise
    flight, leader = cache.flights.join_or_start(flight_key, lead)
    if not leader:
        admission.release(state, lane)  # another request started it while we waited
    return flight


def observe_final(state: ProxyState, reply: Reply, model: str, final: dict[str, Any]) -> str | None:
    """Account a finished generation (tokens) and tell whether its prompt was cut: the
    value of ``X-Context-Truncated`` (``"<prompt tokens>/<num_ctx>"``) or None."""
    state.metrics.generation_done(model, final)
    prompt = final.get("prompt_eval_count")
    if reply.num_ctx is None or not isinstance(prompt, int) or prompt < reply.num_ctx:
        return None
    state.metrics.truncated(model, reply.client)
    state.events.publish(ContextTruncated(model, reply.client, prompt, reply.num_ctx))
    return f"{prompt}/{reply.num_ctx}"
