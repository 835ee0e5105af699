"""Anthropic Messages (Claude Code, the Anthropic SDKs) translated to native ``/api/chat``.

Mapped as Ollama's own ``/v1/messages`` maps it (anthropic/anthropic.go), plus what a proxy
adds: ``num_ctx`` defaults, the cache shared with every other dialect, metrics, and
``count_tokens`` (Ollama has none). Accepted and ignored: ``cache_control``, ``metadata``,
``context_management``, ``defer_loading``, ``$schema`` in tool schemas, any
``anthropic-beta`` feature and the query string (Claude Code sends ``?beta=true``).
``thinking``/``output_config.effort`` become ``think`` only for models whose capabilities
include thinking (``/api/show``); for others they are dropped rather than failing."""

from __future__ import annotations

from aiohttp import web

from ...capabilities import model_capabilities
from ...errors import BadRequest
from ...ndjson import dumps
from ...state import STATE
from ..base import Dialect, Route
from ..kit import generate, read_json_object
from ..shapes import anthropic_error
from .request import to_native
from .stream import MessageStream, estimate_tokens, whole

# -- handlers --------------------------------------------------------------------------------


async def messages(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    body = await read_json_object(request)
    native = to_native(body)
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise BadRequest("'stream' must be a boolean", "stream")
    if "think" in native and "thinking" not in await model_capabilities(state, native["model"]):
        del native["think"]  # a model without thinking: answer plainly, never fail
    model = str(body["model"])
    return await generate(
        request,
        native,
        stream,
        MessageStream(model, estimate_tokens(body)),
        lambda merged: whole(model, merged),
    )


async def count_tokens(request: web.Request) -> web.Response:
    body = await read_json_object(request)
    if not isinstance(body.get("model"), str):
        raise BadRequest("'model' is required", "model")
    if not isinstance(body.get("messages"), list):
        raise BadRequest("'messages' must be an array", "messages")
    return web.Response(
        body=dumps({"input_tokens": estimate_tokens(body)}), content_type="application/json"
    )


DIALECT = Dialect(
    "anthropic",
    anthropic_error,
    routes=(
        Route("POST", "/v1/messages", messages),
        Route("POST", "/v1/messages/count_tokens", count_tokens),
    ),
)
