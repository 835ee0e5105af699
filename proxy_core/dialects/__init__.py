"""The API dialects the proxy speaks, one module each, chosen per route.

Every dialect maps its requests to Ollama's native form and back (its own module) and
owns the shape of its errors (here, so the error boundary and the guard can answer any
route in its caller's dialect without looking at paths):

- ``native``: Ollama's own API, ``{"error": "..."}``;
- ``openai``: chat/completions/embeddings/models, ``{"error": {message, type, param, code}}``;
- ``responses``: OpenAI Responses (Codex CLI), the same error shape as ``openai``;
- ``anthropic``: Messages (Claude Code), ``{"type": "error", "error": {type, message}}``.

``create_app`` registers each route with its dialect (``route_dialect``); a request's
dialect is then one dictionary lookup by its route.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from aiohttp import web

from ..ndjson import dumps
from .openai.errors import error_object

ErrorBody = Callable[[int, str, "str | None"], dict[str, Any]]

_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    408: "invalid_request_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


def anthropic_error(status: int, message: str, param: str | None = None) -> dict[str, Any]:
    """Anthropic's error body; anything else (Ollama down included) is ``api_error``."""
    return {
        "type": "error",
        "error": {"type": _ANTHROPIC_TYPES.get(status, "api_error"), "message": message},
    }


def native_error(status: int, message: str, param: str | None = None) -> dict[str, Any]:
    return {"error": message}


@dataclasses.dataclass(frozen=True, slots=True)
class Dialect:
    name: str
    error: ErrorBody

    def error_response(self, status: int, message: str, param: str | None = None) -> web.Response:
        return web.Response(
            status=status,
            body=dumps(self.error(status, message, param)),
            content_type="application/json",
        )


NATIVE = Dialect("native", native_error)
OPENAI = Dialect("openai", error_object)
RESPONSES = Dialect("responses", error_object)
ANTHROPIC = Dialect("anthropic", anthropic_error)

ROUTE_DIALECTS = web.AppKey("route_dialects", dict)


def dialect_of(request: web.Request) -> Dialect:
    """The dialect of the route this request matched (native when none matched)."""
    resource = request.match_info.route.resource
    if resource is None:
        return NATIVE
    table: dict[str, Dialect] = request.app[ROUTE_DIALECTS]
    return table.get(resource.canonical, NATIVE)
