"""Proxy-owned routes: health, metrics, cache administration (under /_proxy)."""

from __future__ import annotations

import asyncio
import os

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .credentials import redact_url
from .dialects.base import Route
from .errors import BadRequest, UpstreamError
from .ndjson import dumps, object_or_none
from .state import STATE
from .version import __version__

HEALTH_TIMEOUT = 2.0


async def healthz(request: web.Request) -> web.Response:
    state = request.app[STATE]
    ollama: dict[str, object] = {"url": redact_url(state.upstream.base_url), "reachable": False}
    try:
        async with asyncio.timeout(HEALTH_TIMEOUT):
            resp = await state.upstream.fetch("GET", "/api/version")
            raw = await resp.read()
            if resp.status == 200:
                ollama["reachable"] = True
                version = (object_or_none(raw) or {}).get("version")
                if isinstance(version, str):
                    ollama["version"] = version
                else:  # another program on Ollama's port, or a broken one
                    ollama["error"] = "its answer to /api/version is not Ollama's"
            else:
                ollama["error"] = f"status {resp.status}"
    except (UpstreamError, TimeoutError) as exc:
        ollama["error"] = str(exc) or "no answer in time"
    body = {
        "status": "ok",
        "proxy": "up",
        "version": __version__,
        "ollama": ollama,
        "cache": {"enabled": state.cache.enabled},
    }
    if state.cluster is not None:  # which worker answered (connections are spread)
        body["worker"] = {"index": state.cluster.index, "pid": os.getpid()}
    return web.json_response(body)


async def metrics(request: web.Request) -> web.Response:
    state = request.app[STATE]
    if state.cluster is not None:  # one of several workers: the whole proxy's, summed
        payload = await state.cluster.scrape()
    else:  # the cache collector reads sqlite: keep it off the event loop
        registry = state.metrics.registry
        payload = await asyncio.get_running_loop().run_in_executor(None, generate_latest, registry)
    return web.Response(body=payload, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def cache_stats(request: web.Request) -> web.Response:
    cache = request.app[STATE].cache
    entries, size = await cache.volume()
    stats = cache.stats
    return web.json_response(
        {
            "enabled": cache.enabled,
            "policy": cache.policy,
            "ttl": cache.backend.ttl,
            "size_limit": cache.backend.size_limit,
            "shared": cache.backend.shared,
            "entries": entries,
            "bytes": size,
            "hits": stats.hits,
            "misses": stats.misses,
            "bypasses": stats.bypasses,
            "writes": stats.writes,
            "errors": stats.errors,
            "time_saved": stats.time_saved,
        }
    )


async def cache_clear(request: web.Request) -> web.Response:
    state = request.app[STATE]
    removed = await state.cache.clear()
    if state.cluster is not None:  # the other workers forget their memory layers first
        await state.cluster.cleared()
    return web.json_response({"cleared": removed})


async def recent_requests(request: web.Request) -> web.Response:
    """``GET /_proxy/requests?limit=N``: the inspector's last N requests, newest first,
    secrets redacted (bodies only when log_bodies is on)."""
    try:
        limit = min(max(int(request.query.get("limit", "50")), 0), 10_000)
    except ValueError:
        raise BadRequest("limit must be a whole number") from None
    records = request.app[STATE].requests.latest(limit)
    return web.Response(
        body=dumps({"requests": [r.as_json() for r in records]}), content_type="application/json"
    )


# The proxy's own routes: a dashboard or a scraper polling them is not traffic.
ROUTES = (
    Route("GET", "/healthz", healthz, own=True),
    Route("GET", "/metrics", metrics, own=True),
    Route("GET", "/_proxy/cache", cache_stats, own=True),
    Route("DELETE", "/_proxy/cache", cache_clear, own=True),
    Route("GET", "/_proxy/requests", recent_requests, own=True),
)
