"""What a model can do, as Ollama says (``/api/show``), remembered for a minute."""

from __future__ import annotations

import asyncio
import time

from .engines.listings import client_for_model, fetch_listing
from .errors import UpstreamError
from .ndjson import dumps, loads
from .state import ProxyState

CAPABILITIES_TTL = 60.0  # seconds a model's /api/show capabilities are trusted


async def model_capabilities(state: ProxyState, model: str) -> frozenset[str]:
    """What Ollama says the model can do (``/api/show``), remembered for a minute; an
    empty set when Ollama cannot say (the caller then leaves optional features out)."""
    now = time.monotonic()
    known = state.capabilities.get(model)
    if known is not None and now - known[0] < CAPABILITIES_TTL:
        return known[1]
    caps: frozenset[str] = frozenset()
    try:
        resp = await client_for_model(state.router, model).fetch(
            "POST",
            "/api/show",
            {"Content-Type": "application/json"},
            dumps({"model": model}),
        )
        raw = await resp.read()
        if resp.status == 200:
            parsed = loads(raw)
            listed = parsed.get("capabilities") if isinstance(parsed, dict) else None
            if isinstance(listed, list):
                caps = frozenset(str(c) for c in listed)
    except (UpstreamError, ValueError):
        pass
    state.capabilities[model] = (now, caps)
    return caps


async def installed_capabilities(state: ProxyState) -> list[tuple[str, frozenset[str]]] | None:
    """Each installed model (``/api/tags``) with its capabilities; None when Ollama
    cannot say (down, or an answer that is not a model list)."""
    try:
        status, _, raw = await fetch_listing(state.router, "/api/tags")
    except UpstreamError:
        return None
    if status != 200:
        return None
    try:
        tags = loads(raw)
    except ValueError:
        return None
    models = tags.get("models") if isinstance(tags, dict) else None
    if not isinstance(models, list):
        return None
    names = [str(m.get("model") or m.get("name")) for m in models if isinstance(m, dict)]
    return list(zip(names, await capabilities_of(state, names), strict=True))


async def capabilities_of(state: ProxyState, names: list[str]) -> list[frozenset[str]]:
    """Each model's capabilities, asked concurrently (each remembered for a minute)."""
    return list(await asyncio.gather(*(model_capabilities(state, name) for name in names)))
