"""The one shape of a dialect: its name, its error body, and its routes. A dialect is a
package (or module) exporting ``DIALECT``; registry.py lists them, and ``create_app``
registers every route with its dialect, so the error boundary and the guard answer any
route in its caller's dialect with one dictionary lookup, never by reading the path."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from aiohttp import web

from ..ndjson import dumps
from .shapes import native_error

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ErrorBody(Protocol):
    def __call__(
        self, status: int, message: str, param: str | None = None, code: str | None = None
    ) -> dict[str, Any]: ...


@dataclasses.dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    handler: Handler
    own: bool = False  # the proxy's own (health, metrics, admin): not counted as traffic
    fallback: bool = False  # a catch-all: registered after every other route
    # Serves only requests it is true for; the other dialect's route at the same method and
    # path serves the rest (GET /v1/models: Google's SDK when it sends Google's headers).
    when: Callable[[web.Request], bool] | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Dialect:
    name: str
    error: ErrorBody
    routes: tuple[Route, ...] = ()

    def error_response(
        self, status: int, message: str, param: str | None = None, code: str | None = None
    ) -> web.Response:
        return web.Response(
            status=status,
            body=dumps(self.error(status, message, param, code)),
            content_type="application/json",
        )


# What a request that matched no route (or a route of the proxy's own) is answered in.
PROXY = Dialect("native", native_error)

ROUTE_DIALECTS = web.AppKey("route_dialects", dict)
CHOSEN_DIALECT = web.RequestKey("chosen_dialect", Dialect)  # set where a path is shared


def shared(routes: list[tuple[Route, Dialect]]) -> Handler:
    """One handler for routes of several dialects at one method and path: the first whose
    ``when`` holds serves the request (and answers errors in its dialect), else the one
    without a ``when``."""
    choices = sorted(routes, key=lambda pair: pair[0].when is None)

    async def handler(request: web.Request) -> web.StreamResponse:
        for route, dialect in choices:
            if route.when is None or route.when(request):
                request[CHOSEN_DIALECT] = dialect
                return await route.handler(request)
        raise web.HTTPNotFound()

    return handler


def dialect_of(request: web.Request) -> Dialect:
    """The dialect of the route this request matched (Ollama's when none matched)."""
    chosen: Dialect | None = request.get(CHOSEN_DIALECT)
    if chosen is not None:
        return chosen
    resource = request.match_info.route.resource
    if resource is None:
        return PROXY
    table: dict[str, Dialect] = request.app[ROUTE_DIALECTS]
    return table.get(resource.canonical, PROXY)


def error_response(
    request: web.Request,
    status: int,
    message: str,
    param: str | None = None,
    code: str | None = None,
) -> web.Response:
    """An error in the dialect of the request's route."""
    return dialect_of(request).error_response(status, message, param, code)
