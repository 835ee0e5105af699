"""Build the aiohttp application: every route with its dialect, middleware, state."""

from __future__ import annotations

import dataclasses
from functools import partial

from aiohttp import web
from aiohttp.web_urldispatcher import UrlMappingMatchInfo

from . import admin
from .access import MCP_PATH
from .dialects.base import PROXY, ROUTE_DIALECTS, Dialect, Route, shared
from .dialects.registry import DIALECTS
from .front import FRONT_ROUTES, FrontRoute
from .guard import deferred_expect
from .middleware import boundary
from .state import STATE, ProxyState
from .tools import mcp_route

# One middleware: the boundary runs the guard first, so its refusals are counted and
# logged like any reply. One list for both of the server's paths (front.py builds the
# same chain per route).
MIDDLEWARES = (boundary,)


def create_app(state: ProxyState) -> web.Application:
    app = web.Application(middlewares=MIDDLEWARES, client_max_size=state.settings.max_body_size)
    app[STATE] = state
    dialects: dict[str, Dialect] = {}
    app[ROUTE_DIALECTS] = dialects
    state.requests.dialect_of_route = lambda route: dialects.get(route, PROXY).name
    own: set[str] = set()
    front: dict[tuple[str, str], FrontRoute] = {}
    app[FRONT_ROUTES] = front

    def add(route: Route, dialect: Dialect) -> None:
        registered = app.router.add_route(
            route.method, route.path, route.handler, expect_handler=deferred_expect
        )
        canonical = registered.resource.canonical  # type: ignore[union-attr]
        dialects[canonical] = dialect
        if route.own:
            own.add(canonical)
        elif dialect is not PROXY and "{" not in route.path and route.method != "*":
            front[(route.method, route.path)] = _front_route(app, registered, route)

    for route in (*admin.ROUTES, Route("*", MCP_PATH, mcp_route.route)):
        add(route, PROXY)
    for fallback in (False, True):  # catch-alls last: routes match in this order
        by_path: dict[tuple[str, str], list[tuple[Route, Dialect]]] = {}
        for dialect in DIALECTS:
            for route in dialect.routes:
                if route.fallback is fallback:
                    by_path.setdefault((route.method, route.path), []).append((route, dialect))
        for pairs in by_path.values():
            route, dialect = pairs[0]
            if len(pairs) > 1:  # a path two dialects serve, told apart per request
                route = dataclasses.replace(route, handler=shared(pairs), when=None)
                dialect = next(d for r, d in pairs if r.when is None)
            add(route, dialect)
    state.metrics.own_routes = frozenset(own)
    return app


def _front_route(app: web.Application, registered: web.AbstractRoute, route: Route) -> FrontRoute:
    """A dialect's exact route for the short path (front.py): its handler inside the same
    middlewares, in the same order, and the match info the router would have made."""
    match_info = UrlMappingMatchInfo({}, registered)
    match_info.add_app(app)
    match_info.freeze()
    handler = route.handler
    for middleware in reversed(MIDDLEWARES):
        handler = partial(middleware, handler=handler)
    return handler, match_info
