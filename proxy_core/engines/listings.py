"""Model listings (``/api/tags``, ``/api/ps``) and the host for a model-bearing request,
whether there is one engine or several (router.py). Several hosts' listings are
their union: a model two hosts have is listed once (they serve the same name)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from ..errors import UpstreamError
from ..ndjson import dumps, loads
from .base import Engine
from .router import NoUpstream, Router

UNION_PATHS = ("/api/tags", "/api/ps")
JSON_HEADERS: Mapping[str, str] = {"Content-Type": "application/json; charset=utf-8"}


async def _get(client: Engine, path: str) -> tuple[int, Mapping[str, str], bytes]:
    reply = await client.fetch("GET", path)
    return reply.status, reply.headers, await reply.read()


async def fetch_listing(router: Router, path: str) -> tuple[int, Mapping[str, str], bytes]:
    """(status, headers, body) of a listing: the host's own, or the union of all usable
    hosts (the first failure is raised when none answers)."""
    if router.single:
        return await _get(router.primary.client, path)
    now = router.clock()
    backends = [b for b in router.backends if router.usable(b, now)] or router.backends
    results = await asyncio.gather(
        *(_get(b.client, path) for b in backends), return_exceptions=True
    )
    models: list[Any] = []
    seen: set[str] = set()
    answered = False
    for backend, result in zip(backends, results, strict=True):
        if isinstance(result, BaseException):
            continue
        status, _, raw = result
        try:
            parsed = loads(raw) if status == 200 else None
        except ValueError:
            parsed = None
        listed = parsed.get("models") if isinstance(parsed, dict) else None
        if not isinstance(listed, list):
            continue
        answered = True
        for model in listed:
            name = (model.get("model") or model.get("name")) if isinstance(model, dict) else None
            if not isinstance(name, str) or not name:
                continue  # not a model entry (str(None) was listed as a model "None")
            prefix = backend.client.prefix
            if name in seen and prefix:
                # Another engine serves this name (other weights, maybe): listed by the
                # upstream's name, which routes to it (routing.Router.pick).
                name = prefix + name
                model = {**model, "name": name, "model": name}
            if name not in seen:
                seen.add(name)
                models.append(model)
    if not answered:
        for result in results:
            if isinstance(result, UpstreamError):
                raise result
            if not isinstance(result, BaseException):
                return result  # a host's own error reply, as it sent it
        raise NoUpstream(f"no engine answered {path}")
    return 200, JSON_HEADERS, dumps({"models": models})


def client_for_model(router: Router, model: object) -> Engine:
    """The host a request about ``model`` goes to (``/api/show``, capabilities)."""
    if router.single or not isinstance(model, str):
        return router.primary.client
    try:
        return router.pick(model).client
    except NoUpstream:
        return router.primary.client  # its error will say what is wrong
