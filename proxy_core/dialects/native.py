"""Ollama's native API: generation routes through the cache, everything else passed through.

Bytes are forwarded as they arrive (no buffering of streams), so the first token reaches
the client when Ollama sends it, and a client sees exactly the bytes Ollama sent.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web

from ..access import MANAGEMENT_PATHS
from ..cache import RouteKind
from ..engines.connection import PoolReply
from ..engines.listings import UNION_PATHS, client_for_model, fetch_listing
from ..engines.openai_wire import FIXED_CONTEXT_KEY
from ..errors import UpstreamError
from ..forwarding import encode_path, request_headers, response_headers, upstream_path
from ..generation import (
    HIT,
    TRUNCATED_HEADER,
    Reply,
    observe_final,
    open_reply,
    remember_answer,
    remembered_response,
    wants_stream,
)
from ..ndjson import dumps, object_or_none
from ..render import native_body
from ..slow_clients import iter_body, read_body
from ..state import (
    REQUEST_CACHE,
    REQUEST_MODEL,
    REQUEST_TTFB,
    STATE,
    ProxyState,
    client_gone,
    learn_tags,
    note_tokens,
    prepare_stream,
)
from ..tools.listing import with_agent_models
from .base import Dialect, Route
from .shapes import native_error

log = logging.getLogger(__name__)

# Replies up to this size with a Content-Length are read whole and sent in one write.
_SMALL_REPLY = 1 << 20
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def parse_json_object(raw: bytes) -> dict[str, Any] | None:
    """The body as a dict, or None when it is not a JSON object (Ollama will answer it)."""
    return object_or_none(raw)


def generation_handler(kind: RouteKind) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        state = request.app[STATE]
        raw = await read_body(request)
        fast = remembered_response(request, raw)
        if fast is not None:  # the fast hit path: these exact bytes were answered before
            return fast
        body = parse_json_object(raw)
        if body is not None and isinstance(body.get("model"), str):
            request[REQUEST_MODEL] = body["model"]
        async with open_reply(state, kind, raw, body, request.headers) as reply:
            request[REQUEST_CACHE] = reply.cache
            want_stream = wants_stream(kind, body) if body is not None else reply.streamed
            if reply.entry is not None and body is not None:
                stored, content_type = native_body(reply.entry, want_stream)
                headers = {"Content-Type": content_type, "X-Cache": HIT}
                remember_answer(
                    state, request.path, raw, request.headers, reply, kind, body, stored, headers
                )
                return web.Response(body=stored, headers=headers)
            return await send_native(request, state, reply, want_stream)

    return handle


# The generation routes, also reached from the pass-through by another spelling of the path.
_GENERATION = {
    "/api/chat": generation_handler("chat"),
    "/api/generate": generation_handler("generate"),
    "/api/embed": generation_handler("embed"),
    "/api/embeddings": generation_handler("embeddings"),
}


async def send_native(
    request: web.Request, state: ProxyState, reply: Reply, want_stream: bool
) -> web.StreamResponse:
    headers = dict(reply.headers)
    headers["X-Cache"] = reply.cache
    assert reply.chunks is not None
    state.metrics.upstream_first_byte(request.path, reply.ttfb)
    request[REQUEST_TTFB] = reply.ttfb
    if reply.body is not None or (reply.length is not None and reply.length <= _SMALL_REPLY):
        # A whole reply of declared, small size: read it and send it in one write.
        body = reply.body
        if body is None:
            body = b"".join([chunk async for chunk in reply.chunks])
        truncated = _observe_final(state, request, body, reply)
        if truncated is not None:
            headers[TRUNCATED_HEADER] = truncated
        return web.Response(body=body, status=reply.status, headers=headers)
    # A stream, a large reply, or one of unknown length (whatever its content type):
    # relayed as it arrives, never held whole. (Its headers are gone before the final
    # chunk tells of a truncation: a stream reports one in metrics and to the tray only.)
    return await stream_chunks(request, state, reply.status, headers, reply.chunks, reply)


async def stream_chunks(
    request: web.Request,
    state: ProxyState,
    status: int,
    headers: dict[str, str],
    chunks: AsyncIterator[bytes],
    reply: Reply | None = None,
) -> web.StreamResponse:
    response = web.StreamResponse(status=status, headers=headers)
    await prepare_stream(request, response)
    last = b""
    try:
        try:
            async for chunk in chunks:
                await response.write(chunk)
                last = chunk
        except UpstreamError as exc:
            # Headers are gone already: tell the client in Ollama's mid-stream form.
            state.metrics.upstream_error(type(exc).__name__)
            await response.write(dumps({"error": str(exc)}) + b"\n")
        else:
            _observe_final(state, request, last, reply)
        await response.write_eof()
    except ConnectionResetError:
        client_gone(request)
    return response


def _observe_final(
    state: ProxyState, request: web.Request, tail: bytes, reply: Reply | None
) -> str | None:
    """Token metrics (and, for a generation, the truncation check) from Ollama's final
    chunk, when it is in the last bytes sent."""
    line = tail.rstrip(b"\n").rsplit(b"\n", 1)[-1]
    if b'"eval_count"' not in line:
        return None
    final = parse_json_object(line)
    if final is None:
        return None
    note_tokens(request, final)
    model = str(final.get("model") or request.get(REQUEST_MODEL) or "")
    if reply is None:
        state.metrics.generation_done(model, final)
        return None
    return observe_final(state, reply, model, final)


async def passthrough(request: web.Request) -> web.StreamResponse:
    """Any other native route: same method, path, query, status, body, content type."""
    state = request.app[STATE]
    path = upstream_path(request.rel_url.raw_path)
    if path is None:
        return web.Response(status=404, text="404 page not found", content_type="text/plain")
    own = _GENERATION.get(path) if request.method == "POST" else None
    if own is not None:  # //api/chat, /api/chat/: still the proxy's route, its policy applies
        return await own(request)
    headers = request_headers(request.headers)
    data: bytes | AsyncIterator[bytes] | None = None
    if request.body_exists:
        length = request.content_length
        if length is not None and length <= _SMALL_REPLY:
            data = await read_body(request)
        else:
            # Large uploads (/api/blobs) stream through; only a chunk is held at a time.
            data = iter_body(request)
            if length is not None:
                headers["Content-Length"] = str(length)
    target = encode_path(path, request.rel_url.raw_query_string)
    client = state.upstream
    if not state.router.single:  # several Ollama hosts (engines/router.py)
        if request.method == "GET" and path in UNION_PATHS:
            status, listed_headers, listed = await fetch_listing(state.router, path)
            if path == "/api/tags" and status == 200:
                listed = await _tags_seen(state, listed)
            return web.Response(
                body=listed, status=status, headers=response_headers(listed_headers)
            )
        client = _host_for(state, path, data)
    if not isinstance(data, AsyncIterator) and (request.method != "HEAD" or client.translating):
        # The lean pool (engines/pool.py): a small framed reply whole, anything else
        # relayed as it arrives. HEAD (no body despite a length) and uploads: aiohttp.
        got = await client.fetch(request.method, target, headers, data)
        try:
            return await _relay_reply(request, state, path, data, got)
        finally:
            got.release()
    async with client.request(request.method, target, headers=headers, data=data) as resp:
        out_headers = response_headers(resp.headers)
        length = resp.content_length
        if request.method == "HEAD" or (length is not None and length <= _SMALL_REPLY):
            body = await client.read_body(resp)
            return web.Response(body=body, status=resp.status, headers=out_headers)
        return await stream_chunks(request, state, resp.status, out_headers, client.iter_body(resp))


def _host_for(state: ProxyState, path: str, data: bytes | AsyncIterator[bytes] | None) -> Any:
    """Several hosts: a request about a model goes where the model is; the rest (model
    management, blobs, ``HEAD /``, /api/version) is Ollama's own and goes to an Ollama
    host, never to an OpenAI-compatible server (routing.Router.ollama_host)."""
    if path.startswith((*MANAGEMENT_PATHS, "/api/blobs")):
        return state.upstream
    body = parse_json_object(data) if isinstance(data, bytes) else None
    model = (body or {}).get("model") or (body or {}).get("name")
    if isinstance(model, str):
        return client_for_model(state.router, model)
    return state.router.ollama_host().client


async def _relay_reply(
    request: web.Request, state: ProxyState, path: str, data: bytes | None, got: PoolReply
) -> web.StreamResponse:
    out_headers = response_headers(got.headers)
    if got.body is None:
        return await stream_chunks(request, state, got.status, out_headers, got.chunks())
    body = got.body
    if path == "/api/tags" and got.status == 200:
        body = await _tags_seen(state, body)
    if path == "/api/show" and got.status == 200 and data is not None:
        body = honest_show(state, data, body)
    return web.Response(body=body, status=got.status, headers=out_headers)


async def _tags_seen(state: ProxyState, body: bytes) -> bytes:
    """An /api/tags answer on its way out: its models learnt (metric labels), agent
    models added when the tools are on."""
    _learn_models(state, body)
    if state.tools is not None:
        body = await _list_agents(state, body)
    return body


async def _list_agents(state: ProxyState, body: bytes) -> bytes:
    tags = parse_json_object(body)
    if tags is None or not isinstance(tags.get("models"), list):
        return body
    tags["models"] = await with_agent_models(state, tags["models"])
    return dumps(tags)


ARCH_CONTEXT_KEY = "ollama_tray_proxy.architecture_context_length"


def honest_show(state: ProxyState, request_body: bytes, body: bytes) -> bytes:
    """``/api/show`` with the context the model will really run with (its profile's
    ``num_ctx``) where clients read it, ``model_info["<arch>.context_length"]``, and the
    architecture's maximum kept under ``ARCH_CONTEXT_KEY``: Copilot and others size their
    prompts from that number, and the maximum (often 131072) overflows the context."""
    asked = parse_json_object(request_body)
    model = (asked or {}).get("model") or (asked or {}).get("name")
    if not isinstance(model, str):
        return body
    profile = state.profiles.profile_for(model)
    if not profile.reports_context:
        return body
    shown = parse_json_object(body)
    info = shown.get("model_info") if shown is not None else None
    if not isinstance(info, dict) or info.get(FIXED_CONTEXT_KEY):
        return body  # an OpenAI-compatible server's context is its own to report
    assert shown is not None
    key = f"{info.get('general.architecture')}.context_length"
    if key in info:
        info[ARCH_CONTEXT_KEY] = info[key]
    info[key] = profile.num_ctx
    return dumps(shown)


def _learn_models(state: ProxyState, body: bytes) -> None:
    """Model metric labels are bounded to the models Ollama reports; clients list them
    often, so the proxy learns them passively instead of polling."""
    tags = parse_json_object(body)
    if tags is not None:
        learn_tags(state, tags.get("models"))


DIALECT = Dialect(
    "native",
    native_error,
    routes=(
        *(Route("POST", path, handler) for path, handler in _GENERATION.items()),
        Route("*", "/{tail:.*}", passthrough, fallback=True),  # the rest is Ollama's
    ),
)
