"""The fast hit path: an answer rendered before for exactly the same request bytes is
sent again without parsing, keying or rendering (cache/answers.py keeps them), and
accounted as the full path accounts a hit."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from ..cache import RouteKind
from ..cache.answers import Answer
from ..clients import recognise
from ..state import REQUEST_CACHE, REQUEST_MODEL, STATE, ProxyState
from .reply import HIT, Reply, requested_ctx


def remembered_response(request: web.Request, raw: bytes) -> web.Response | None:
    """The answer rendered before for exactly these request bytes; a request with its own
    cache directives takes the full path."""
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
    state.cache.count_hit(answer.entry)


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
    num_ctx = requested_ctx(body)
    answer = Answer(reply.key, reply.entry, rendered, headers, kind, model, num_ctx, id_prefix)
    state.cache.answers.put(route, raw, answer)
