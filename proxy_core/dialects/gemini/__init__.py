"""Google's Gemini API (Gemini CLI, the google-genai SDKs, pi) translated to native
``/api/chat``: ``models/{model}:generateContent``, ``:streamGenerateContent`` (server-sent
events with ``alt=sse``, one streamed JSON array without), ``:countTokens`` and the model
list, under ``/v1beta`` (Gemini CLI) and ``/v1`` (the Python SDK's default).

Like every dialect it runs through the one generation path (profiles, lanes, the cache,
coalescing, metrics, the inspector). The key Google's clients send (``x-goog-api-key``, or
``?key=``) is the proxy's access token (guard.py) and never reaches an engine or a log
(credentials.py). ``thinkingConfig`` becomes ``think`` only for models whose capabilities
include thinking, as for Anthropic; ``safetySettings`` and ``cachedContent`` are accepted
and ignored; a search or code-execution tool is dropped (no internet behind a local model)."""

from __future__ import annotations

from aiohttp import web

from ...capabilities import model_capabilities
from ...errors import BadRequest, ReplyError
from ...ndjson import dumps
from ...state import STATE
from ..base import Dialect, Route
from ..kit import generate, read_json_object
from ..models import installed_tags
from ..shapes import google_error
from .request import field, to_native
from .stream import SSE, CandidateStream, json_array, model_entry, whole

_ACTIONS = ("generateContent", "streamGenerateContent", "countTokens")


def _target(request: web.Request) -> tuple[str, str]:
    """``llama3.2:latest:generateContent`` -> (model, action): the action is after the
    last colon, since a model's tag has one too."""
    model, colon, action = request.match_info["model"].rpartition(":")
    if not colon or not model:
        raise ReplyError(404, f"{request.path}: name a method, as in models/MODEL:generateContent")
    if action not in _ACTIONS:
        raise ReplyError(
            404, f"the method {action!r} is not served; these are: {', '.join(_ACTIONS)}"
        )
    return model, action


async def post_model(request: web.Request) -> web.StreamResponse:
    model, action = _target(request)
    body = await read_json_object(request)
    if action == "countTokens":
        return _count_tokens(body)
    stream = action == "streamGenerateContent"
    native = to_native(model, body, stream)
    state = request.app[STATE]
    if "think" in native and "thinking" not in await model_capabilities(state, model):
        del native["think"]  # a model without thinking: answer plainly, never fail
    framing = SSE if request.query.get("alt") == "sse" else json_array()
    return await generate(
        request,
        native,
        stream,
        CandidateStream(model),
        lambda merged: whole(model, merged),
        framing=framing,
    )


def _count_tokens(body: dict[str, object]) -> web.Response:
    """An estimate, as for Anthropic's count_tokens: a quarter of the characters of the
    contents, the system instruction and the tools (Ollama has no tokenizer endpoint)."""
    inner = field(body, "generateContentRequest")
    request = inner if isinstance(inner, dict) else body
    if not isinstance(request.get("contents"), list):
        raise BadRequest("'contents' must be an array", "contents")
    counted = [request.get("contents"), field(request, "systemInstruction"), request.get("tools")]
    total = sum(len(dumps(part)) for part in counted if part is not None)
    return web.Response(
        body=dumps({"totalTokens": max(1, total // 4)}), content_type="application/json"
    )


def _entry(request: web.Request, tag: dict[str, object]) -> dict[str, object]:
    profile = request.app[STATE].profiles.profile_for(str(tag.get("model") or tag.get("name")))
    context = tag.get("context_length")
    if not isinstance(context, int):
        context = profile.num_ctx if profile.reports_context else None
    return model_entry(tag, context)


async def list_models(request: web.Request) -> web.Response:
    models = [_entry(request, tag) for tag in await installed_tags(request)]
    return web.Response(body=dumps({"models": models}), content_type="application/json")


async def get_model(request: web.Request) -> web.Response:
    wanted = request.match_info["model"]
    for tag in await installed_tags(request):
        entry = _entry(request, tag)
        if entry["baseModelId"] == wanted or str(tag.get("name")) == wanted:
            return web.Response(body=dumps(entry), content_type="application/json")
    raise ReplyError(404, f"model 'models/{wanted}' not found")


def google_client(request: web.Request) -> bool:
    """Google's SDKs and CLI send their key in ``x-goog-api-key`` and name themselves in
    ``x-goog-api-client``; a hand-made call may send ``?key=``."""
    headers = request.headers
    return "x-goog-api-client" in headers or "x-goog-api-key" in headers or "key" in request.query


async def not_served(request: web.Request) -> web.StreamResponse:
    """Any other /v1beta path: Google's 404, not Ollama's plain-text one."""
    raise ReplyError(404, f"{request.method} {request.path} is not served by this proxy")


DIALECT = Dialect(
    "gemini",
    google_error,
    routes=(
        Route("POST", "/v1beta/models/{model:.+}", post_model),
        Route("GET", "/v1beta/models", list_models),
        Route("GET", "/v1beta/models/{model:.+}", get_model),
        # /v1 (the Python SDK's default): POSTs there are Google's alone; the two GETs are
        # OpenAI's too, so they are Google's only when Google's client sent them.
        Route("POST", "/v1/models/{model:.+}", post_model),
        Route("GET", "/v1/models", list_models, when=google_client),
        Route("GET", "/v1/models/{model:.+}", get_model, when=google_client),
        Route("*", "/v1beta/{tail:.*}", not_served, fallback=True),
    ),
)
