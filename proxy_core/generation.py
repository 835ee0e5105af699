"""One native generation request (chat, generate, embed): profile, cache, coalescing,
lanes, upstream.

Every dialect comes through here with a native body, so the model profile, the cache
key, coalescing, the lanes and the metrics see one form. The order matters: the profile
is applied first (it is part of the cache key, as if the client had sent it); a cache hit
is answered at once and never waits in a lane; only what goes to Ollama queues. The reply
is the native bytes Ollama sent (or the stored native lines on a hit); the caller renders
them in its own dialect and reports the final chunk to :func:`observe_final`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from aiohttp import web

from .cache import (
    CacheEntry,
    RouteKind,
    is_cacheable_request,
    is_complete_answer,
    parse_cache_control,
)
from .cache.answers import Answer
from .cache.flight import Flight
from .cache.keys import normalize_model
from .cache.redis_store import LOCK_SECONDS
from .capabilities import model_capabilities
from .clients import OTHER, recognise
from .errors import Unauthorized, UpstreamTimeout, UpstreamUnavailable
from .events import ContextTruncated
from .forwarding import request_headers, response_headers
from .ndjson import LineSplitter, dumps, loads
from .profiles import NO_PROFILE, Profile, apply_profile
from .routing import NoUpstream, conversation_key
from .state import REQUEST_CACHE, REQUEST_MODEL, STATE, ProxyState
from .tools.agent import agent_model, agent_reply
from .upstream import UpstreamClient
from .upstream_pool import PoolReply

BACKGROUND_HEADER = "X-Proxy-Priority"  # "background" or "interactive", from the client
TRUNCATED_HEADER = "X-Context-Truncated"  # "<prompt tokens>/<num_ctx>" on whole replies

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
    body: bytes | None = None  # the whole live reply, when it was read whole
    entry: CacheEntry | None = None  # stored lines (hit)
    key: str | None = None  # the cache key of a hit (the fast hit path remembers it)
    ttfb: float = 0.0
    length: int | None = None  # the upstream's Content-Length, when it sent one
    num_ctx: int | None = None  # the context Ollama runs this request with, when known
    client: str = "other"  # recognised from the request's headers (clients.py)

    @property
    def streamed(self) -> bool:
        if self.entry is not None:
            return self.entry.streamed
        return "ndjson" in self.headers.get("Content-Type", "")


def _require_token_for_tools(state: ProxyState, client_headers: Mapping[str, str]) -> None:
    """``agent/<model>`` runs programs and writes files: like ``/mcp`` it needs the access
    token always, even on loopback, where any local process or ``http://localhost:*`` page
    could otherwise drive it."""
    sent = {name.lower(): value for name, value in client_headers.items()}
    if not state.policy.token_ok(sent.get("authorization"), sent.get("x-api-key"), always=True):
        raise Unauthorized(
            "agent models run the workspace tools and need the access token always: send "
            "Authorization: Bearer <token> (the token is in the tray's Settings)"
        )


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
    if kind == "chat" and state.tools is not None and body is not None:
        real = agent_model(body.get("model"))
        if real is not None:
            _require_token_for_tools(state, client_headers)
        # A model without tools is answered as Ollama answers an unknown name.
        if real is not None and "tools" in await model_capabilities(state, real):
            async with agent_reply(state, body, client_headers) as reply:
                yield reply
            return
    headers = request_headers(client_headers)
    cache = state.cache
    model = body.get("model") if body is not None else None
    profile = NO_PROFILE
    generation = body is not None and isinstance(model, str) and kind in ("chat", "generate")
    facts = _NO_FACTS  # client and context matter to generations only (embeddings: none)
    route: tuple[str | None, int | None] = (None, None)  # which Ollama host (routing.py)
    if not state.router.single and isinstance(model, str) and body is not None:
        route = (model, conversation_key(model, body) if kind == "chat" else None)
    if generation:
        assert body is not None and isinstance(model, str)
        profile = state.profiles.profile_for(model)
        if profile is not NO_PROFILE and apply_profile(body, profile):
            raw_body = dumps(body)  # Ollama gets what the key was made from
        facts = _Facts(recognise(client_headers), model, _num_ctx(state, body, model))
        state.metrics.generation_requested(model, facts.client, facts.num_ctx)
    if body is None or not cache.enabled or not is_cacheable_request(kind, body, cache.policy):
        if body is not None:
            cache.stats.bypasses += 1
        lane = _lane(state, kind, body, client_headers, profile) if generation else None
        whole = body is not None and not wants_stream(kind, body)
        await _acquire(state, lane, facts)
        try:
            async with _direct(state, kind, raw_body, headers, whole, facts, route) as reply:
                if generation and not whole:  # a whole reply's head comes after its last token
                    state.metrics.first_token(facts.model, reply.ttfb)
                yield reply
        finally:
            if lane is not None:
                state.lanes.release(lane.model)
        return

    control = parse_cache_control(client_headers)
    key = cache.key_for(kind, raw_body, body)
    streamed = wants_stream(kind, body)
    if control.lookup:
        entry = cache.lookup(key, control.max_age)
        if entry is None and cache.backend.shared:
            flight_key = f"{key}:{int(streamed)}:{int(control.store)}"
            entry = await _shared_answer(state, key, control.max_age, flight_key)
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
            yield Reply(
                200, {"Content-Type": content_type}, HIT, entry=entry, key=key, **facts.fields()
            )
            return
    if control.lookup:
        cache.stats.misses += 1
    else:
        cache.stats.bypasses += 1
    # Only what goes to Ollama takes a lane: a hit (above) never waits.
    lane = _lane(state, kind, body, client_headers, profile) if generation else None
    flight_key = f"{key}:{int(streamed)}:{int(control.store)}"
    started = time.perf_counter()

    async def run(flight: Flight) -> None:
        try:
            await upstream(flight)
        finally:
            cache.unclaim(key)  # no answer stored: other proxies waiting may ask Ollama
            if lane is not None:
                state.lanes.release(lane.model)  # the slot belongs to the flight, not a client

    async def upstream(flight: Flight) -> None:
        async with _direct(state, kind, raw_body, headers, not streamed, _NO_FACTS, route) as got:
            flight.set_head(got.status, got.headers, got.length)
            keep = got.status == 200 and control.store
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

    flight = cache.flights.live(flight_key)
    if flight is not None:
        flight.subscribe()  # the same answer is on its way: no slot of its own
    else:
        try:
            await _acquire(state, lane, facts)
        except BaseException:  # the client left while queued: other proxies must not wait
            cache.unclaim(key)
            raise
        flight, leader = cache.flights.join_or_start(flight_key, run)
        if not leader and lane is not None:
            state.lanes.release(lane.model)  # another request started it while we waited
    try:
        status, reply_headers, length = await flight.head
        ttfb = time.perf_counter() - started
        if generation and streamed:  # a whole reply's head comes after its last token
            state.metrics.first_token(facts.model, ttfb)
        yield Reply(
            status,
            reply_headers,
            MISS if control.lookup else BYPASS,
            chunks=flight.follow(),
            ttfb=ttfb,
            length=length,
            **facts.fields(),
        )
    finally:
        flight.unsubscribe()


async def _shared_answer(
    state: ProxyState, key: str, max_age: float | None, flight_key: str
) -> CacheEntry | None:
    """The shared store's answer; when another proxy is generating it right now (it holds
    the key's short lock), that answer once stored, instead of asking Ollama twice. A
    flight in this proxy is joined as usual (no lock needed)."""
    cache = state.cache
    entry = await cache.fetch(key, max_age)
    if entry is not None or cache.flights.live(flight_key) or await cache.claim(key):
        return entry
    wait = min(state.settings.read_timeout, LOCK_SECONDS)
    return await cache.backend.wait_for(key, max_age, wait)


def remembered_response(request: web.Request, raw: bytes) -> web.Response | None:
    """The fast hit path: the answer rendered before for exactly these request bytes,
    accounted as the full path accounts a hit. A request with its own cache directives
    takes the full path."""
    if "Cache-Control" in request.headers:
        return None
    state = request.app[STATE]
    answer = state.cache.answer_for(request.path, raw)
    if answer is None:
        return None
    _account_hit(state, answer, request.headers)
    request[REQUEST_CACHE] = HIT
    request[REQUEST_MODEL] = answer.model
    return web.Response(body=answer.body(), headers=answer.headers)


def _account_hit(state: ProxyState, answer: Answer, client_headers: Mapping[str, str]) -> None:
    if answer.kind in ("chat", "generate"):
        num_ctx = answer.num_ctx or state.metrics.loaded_context(answer.model)
        state.metrics.generation_requested(answer.model, recognise(client_headers), num_ctx)
    state.cache.stats.hits += 1
    state.cache.stats.time_saved += answer.entry.upstream_seconds


def remember_answer(
    state: ProxyState,
    route: str,
    raw: bytes,
    client_headers: Mapping[str, str],
    reply: Reply,
    kind: RouteKind,
    body: Mapping[str, Any],
    rendered: bytes,
    headers: dict[str, str],
    id_prefix: str = "",
) -> None:
    """Keep a hit's rendered answer for the fast path (``body`` is the native request,
    its profile applied; ``rendered`` has the id placeholders when ``id_prefix`` is set)."""
    if reply.entry is None or reply.key is None or "Cache-Control" in client_headers:
        return
    model = str(body.get("model") or "")
    num_ctx = _requested_ctx(body)
    answer = Answer(reply.key, reply.entry, rendered, headers, kind, model, num_ctx, id_prefix)
    state.cache.answers.put(route, raw, answer)


@dataclasses.dataclass(frozen=True, slots=True)
class _Facts:
    client: str
    model: str
    num_ctx: int | None

    def fields(self) -> dict[str, Any]:
        return {"client": self.client, "num_ctx": self.num_ctx}


_NO_FACTS = _Facts(OTHER, "", None)


@dataclasses.dataclass(frozen=True, slots=True)
class _Lane:
    model: str  # normalised: "llama3.2" and "llama3.2:latest" share their slots
    slots: int
    background: bool


def _lane(
    state: ProxyState,
    kind: RouteKind,
    body: dict[str, Any] | None,
    client_headers: Mapping[str, str],
    profile: Profile,
) -> _Lane:
    assert body is not None
    marked = client_headers.get(BACKGROUND_HEADER, "").strip().lower()
    if marked in ("background", "interactive"):
        background = marked == "background"
    elif kind == "generate" and body.get("suffix"):
        background = True  # fill-in-the-middle: autocomplete
    else:
        background = profile.priority == "background"
    slots = profile.num_parallel or state.settings.default_num_parallel
    if not state.router.single:  # each host that has the model runs that many
        slots *= state.router.hosts_with(str(body.get("model")))
    return _Lane(normalize_model(str(body.get("model"))), slots, background)


def _num_ctx(state: ProxyState, body: dict[str, Any], model: str) -> int | None:
    """The context Ollama will run with: the request's (after its profile), else the one
    the model is loaded with (/api/ps, from the background monitor), else unknown."""
    return _requested_ctx(body) or state.metrics.loaded_context(model)


def _requested_ctx(body: Mapping[str, Any]) -> int | None:
    options = body.get("options")
    requested = options.get("num_ctx") if isinstance(options, dict) else None
    if isinstance(requested, int) and not isinstance(requested, bool) and requested > 0:
        return requested
    return None


async def _acquire(state: ProxyState, lane: _Lane | None, facts: _Facts) -> None:
    if lane is None or state.lanes.try_acquire(lane.model, lane.slots):
        return
    waited = await state.lanes.acquire(
        lane.model, lane.slots, background=lane.background, client=facts.client
    )
    if waited:
        state.metrics.queued(lane.model, "background" if lane.background else "interactive", waited)


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
    whole: bool,
    facts: _Facts,
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


def _fetched(got: PoolReply, started: float, facts: _Facts) -> Reply:
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


def _streamed(
    client: UpstreamClient, resp: aiohttp.ClientResponse, started: float, facts: _Facts
) -> Reply:
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
    facts: _Facts,
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
