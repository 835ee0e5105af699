"""Build the aiohttp application: routes, middleware, state."""

from __future__ import annotations

from aiohttp import web

from . import admin, native
from .guard import add_cors_headers, deferred_expect, guard
from .middleware import boundary
from .openai import handlers as openai
from .openai.errors import OpenAIError, error_object
from .state import STATE, ProxyState


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
    app.on_response_prepare.append(add_cors_headers)
    r = app.router
    r.add_get("/healthz", admin.healthz, expect_handler=deferred_expect)
    r.add_get("/metrics", admin.metrics, expect_handler=deferred_expect)
    r.add_get("/_proxy/cache", admin.cache_stats, expect_handler=deferred_expect)
    r.add_delete("/_proxy/cache", admin.cache_clear, expect_handler=deferred_expect)
    r.add_post("/v1/chat/completions", openai.chat_completions, expect_handler=deferred_expect)
    r.add_post("/v1/completions", openai.completions, expect_handler=deferred_expect)
    r.add_post("/v1/embeddings", openai.embeddings, expect_handler=deferred_expect)
    r.add_get("/v1/models", openai.list_models, expect_handler=deferred_expect)
    r.add_get("/v1/models/{model:.+}", openai.get_model, expect_handler=deferred_expect)
    r.add_route("*", "/v1/{tail:.*}", _openai_unknown, expect_handler=deferred_expect)
    r.add_post("/api/chat", native.generation_handler("chat"), expect_handler=deferred_expect)
    r.add_post(
        "/api/generate", native.generation_handler("generate"), expect_handler=deferred_expect
    )
    r.add_post("/api/embed", native.generation_handler("embed"), expect_handler=deferred_expect)
    r.add_post(
        "/api/embeddings", native.generation_handler("embeddings"), expect_handler=deferred_expect
    )
    r.add_route("*", "/{tail:.*}", native.passthrough, expect_handler=deferred_expect)
    return app
