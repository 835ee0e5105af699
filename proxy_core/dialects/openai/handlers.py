"""OpenAI routes: parse, map to native, run through the shared generation path, map back.

Handlers only wire I/O; the mapping is in ``request_map`` and ``response_map``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from aiohttp import web

from ...cache import RouteKind, normalize_model
from ...cache.answers import with_placeholders
from ...errors import BadRequest, ReplyError, UpstreamMalformed, reading_reply
from ...generation import (
    TRUNCATED_HEADER,
    Reply,
    open_reply,
    remember_answer,
    remembered_response,
)
from ...ndjson import dumps
from ...slow_clients import read_body
from ...state import (
    REQUEST_CACHE,
    REQUEST_MODEL,
    STATE,
)
from ...tools.listing import with_agent_models
from ..kit import (
    DATA_ONLY,
    Event,
    json_object,
    note_reply,
    raise_for_status,
    read_json_object,
    stream_events,
    whole_chunks,
)
from ..models import engine_object, installed_tags
from ..shapes import openai_error
from . import request_map, response_map


class _StreamMapper(Protocol):
    def feed(self, native: dict[str, Any]) -> list[dict[str, Any]]: ...


def _include_usage(body: dict[str, Any]) -> bool:
    options = body.get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True


def _stream_flag(body: dict[str, Any]) -> bool:
    stream = body.get("stream", False)
    if stream is not None and not isinstance(stream, bool):
        raise BadRequest("'stream' must be a boolean", "stream")
    return bool(stream)


class _Events:
    """OpenAI's chunk mappers as the kit's event mapper: ``data:`` lines, no names."""

    def __init__(self, mapper: _StreamMapper) -> None:
        self.mapper = mapper

    def feed(self, native: dict[str, Any]) -> list[Event]:
        return [(None, chunk) for chunk in self.mapper.feed(native)]

    def error(self, status: int, message: str) -> list[Event]:
        return [(None, openai_error(status, message))]


def _json(obj: dict[str, Any], reply: Reply, truncated: str | None = None) -> web.Response:
    headers = {"X-Cache": reply.cache}
    if truncated is not None:
        headers[TRUNCATED_HEADER] = truncated
    headers["Content-Type"] = "application/json"  # as a header: no content-type parsing
    return web.Response(body=dumps(obj), headers=headers)


async def _generate(
    request: web.Request,
    kind: RouteKind,
    build: Callable[[dict[str, Any]], dict[str, Any]],
    stream_mapper: Callable[[str, bool], _StreamMapper],
    whole: Callable[[str, list[dict[str, Any]]], dict[str, Any]],
) -> web.StreamResponse:
    state = request.app[STATE]
    raw = await read_body(request)
    fast = remembered_response(request, raw)
    if fast is not None:  # the fast hit path: these exact bytes were answered before
        return fast
    body = json_object(raw)
    native = build(body)
    stream = _stream_flag(body)
    model = native["model"]
    request[REQUEST_MODEL] = model
    async with open_reply(state, kind, dumps(native), native, request.headers) as reply:
        note_reply(request, reply)
        await raise_for_status(reply)
        if stream:
            events = _Events(stream_mapper(model, _include_usage(body)))
            return await stream_events(request, reply, events, model, DATA_ONLY)
        chunks, truncated = await whole_chunks(request, reply, model)
        with reading_reply("Ollama"):
            answer_object = whole(model, chunks)
        response = _json(answer_object, reply, truncated)
        if reply.entry is not None:
            remember_answer(
                state,
                request.path,
                raw,
                request.headers,
                reply,
                kind,
                native,
                dumps(with_placeholders(answer_object)),
                {k: v for k, v in response.headers.items() if k != "Content-Length"},
                id_prefix=str(answer_object["id"]).split("-", 1)[0],
            )
        return response


async def chat_completions(request: web.Request) -> web.StreamResponse:
    return await _generate(
        request,
        "chat",
        request_map.chat_request,
        response_map.ChatStream,
        response_map.chat_completion,
    )


async def completions(request: web.Request) -> web.StreamResponse:
    return await _generate(
        request,
        "generate",
        request_map.completion_request,
        response_map.CompletionStream,
        response_map.completion,
    )


async def embeddings(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    body = await read_json_object(request)
    native, encoding = request_map.embedding_request(body)
    request[REQUEST_MODEL] = native["model"]
    async with open_reply(state, "embed", dumps(native), native, request.headers) as reply:
        request[REQUEST_CACHE] = reply.cache
        await raise_for_status(reply)
        if reply.entry is not None:
            raw = reply.entry.lines[0]
        else:
            assert reply.chunks is not None
            raw = b"".join([c async for c in reply.chunks])
    result = engine_object(state.upstream.base_url, "/api/embed", raw)
    vectors = result.get("embeddings")
    if not isinstance(vectors, list) or not all(isinstance(v, list) for v in vectors):
        raise UpstreamMalformed(
            f"Ollama at {state.upstream.base_url} answered /api/embed without embeddings"
        )
    with reading_reply("Ollama"):
        answer_object = response_map.embeddings(native["model"], result, encoding)
    return _json(answer_object, reply)


def _with_context(request: web.Request, entry: dict[str, Any]) -> dict[str, Any]:
    """A model entry with the context its profile runs it with (as /api/show reports)."""
    profile = request.app[STATE].profiles.profile_for(str(entry["id"]))
    if profile.reports_context and "context_length" not in entry:  # not an engine's own
        entry["context_length"] = profile.num_ctx
    return entry


async def list_models(request: web.Request) -> web.Response:
    models = await with_agent_models(request.app[STATE], await installed_tags(request))
    data = [_with_context(request, response_map.model_object(m)) for m in models]
    return web.Response(
        body=dumps({"object": "list", "data": data}), content_type="application/json"
    )


async def get_model(request: web.Request) -> web.Response:
    wanted = request.match_info["model"]
    for tag in await installed_tags(request):
        name = str(tag.get("model") or tag.get("name") or "")
        if normalize_model(name) == normalize_model(wanted):
            return web.Response(
                body=dumps(_with_context(request, response_map.model_object(tag, wanted))),
                content_type="application/json",
            )
    raise ReplyError(404, f"model '{wanted}' not found", "model")


async def not_served(request: web.Request) -> web.StreamResponse:
    """Any other /v1 path: OpenAI's 404, not Ollama's plain-text one."""
    raise ReplyError(404, f"{request.method} {request.path} is not served by this proxy")
