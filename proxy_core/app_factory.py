"""Build the aiohttp application: routes (each with its dialect), middleware, state."""

from __future__ import annotations

from aiohttp import web

from . import admin
from .access import MCP_PATH
from .dialects import (
    ANTHROPIC,
    NATIVE,
    OPENAI,
    RESPONSES,
    ROUTE_DIALECTS,
    Dialect,
    anthropic,
    native,
    responses,
)
from .dialects.openai import handlers as openai
from .dialects.openai.errors import OpenAIError, error_object
from .guard import add_cors_headers, deferred_expect, guard
from .middleware import Handler, boundary
from .state import STATE, ProxyState
from .tools import mcp_route


async def _openai_unknown(request: web.Request) -> web.StreamResponse:
    raise OpenAIError(
        404, error_object(404, f"{request.method} {request.path} is not served by this proxy")
    )


def create_app(state: ProxyState) -> web.Application:
    # boundary outermost: the guard's refusals are counted and logged like any reply.
    app = web.Application(
        middlewares=[boundary, guard], client_max_size=state.settings.max_body_size
    )
    app[STATE] = state
    dialects: dict[str, Dialect] = {}
    app[ROUTE_DIALECTS] = dialects
    state.requests.dialect_of_route = lambda route: dialects.get(route, NATIVE).name
    app.on_response_prepare.append(add_cors_headers)

    def add(method: str, path: str, handler: Handler, dialect: Dialect) -> None:
        route = app.router.add_route(method, path, handler, expect_handler=deferred_expect)
        dialects[route.resource.canonical] = dialect  # type: ignore[union-attr]

    add("GET", "/healthz", admin.healthz, NATIVE)
    add("GET", "/metrics", admin.metrics, NATIVE)
    add("GET", "/_proxy/cache", admin.cache_stats, NATIVE)
    add("DELETE", "/_proxy/cache", admin.cache_clear, NATIVE)
    add("GET", "/_proxy/requests", admin.recent_requests, NATIVE)
    add("POST", "/v1/chat/completions", openai.chat_completions, OPENAI)
    add("POST", "/v1/completions", openai.completions, OPENAI)
    add("POST", "/v1/embeddings", openai.embeddings, OPENAI)
    add("GET", "/v1/models", openai.list_models, OPENAI)
    add("GET", "/v1/models/{model:.+}", openai.get_model, OPENAI)
    add("POST", "/v1/messages", anthropic.messages, ANTHROPIC)
    add("POST", "/v1/messages/count_tokens", anthropic.count_tokens, ANTHROPIC)
    add("POST", "/v1/responses", responses.create, RESPONSES)
    add("*", "/v1/{tail:.*}", _openai_unknown, OPENAI)
    add("POST", "/api/chat", native.generation_handler("chat"), NATIVE)
    add("POST", "/api/generate", native.generation_handler("generate"), NATIVE)
    add("POST", "/api/embed", native.generation_handler("embed"), NATIVE)
    add("POST", "/api/embeddings", native.generation_handler("embeddings"), NATIVE)
    add("*", MCP_PATH, mcp_route.route, NATIVE)
    add("*", "/{tail:.*}", native.passthrough, NATIVE)
    return app
