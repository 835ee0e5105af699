"""The installed models as every dialect lists them: the engines' ``/api/tags`` (the union
of all usable hosts), learned for the metrics' labels, and an engine's answer parsed."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..engines.listings import fetch_listing
from ..errors import ReplyError, UpstreamMalformed
from ..ndjson import loads, native_error_message
from ..state import STATE, learn_tags


def engine_object(base_url: str, path: str, raw: bytes) -> dict[str, Any]:
    """An engine's reply as a JSON object, or a 502 naming the engine."""
    try:
        parsed = loads(raw)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        raise UpstreamMalformed(f"Ollama at {base_url} answered {path} with something not JSON")
    return parsed


async def installed_tags(request: web.Request) -> list[dict[str, Any]]:
    """``/api/tags``' model entries; the engine's error status passed on."""
    state = request.app[STATE]
    status, _, raw = await fetch_listing(state.router, "/api/tags")
    if status != 200:
        raise ReplyError(status, native_error_message(status, raw))
    models = engine_object(state.upstream.base_url, "/api/tags", raw).get("models")
    if not isinstance(models, list):
        raise UpstreamMalformed(
            f"Ollama at {state.upstream.base_url} answered /api/tags without a model list"
        )
    learn_tags(state, models)
    return [m for m in models if isinstance(m, dict)]
