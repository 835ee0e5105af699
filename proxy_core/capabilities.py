"""What a model can do, as Ollama says (``/api/show``), remembered for a minute."""

from __future__ import annotations

import time

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
        resp = await state.upstream.fetch(
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
