"""Is Ollama up, which version, which models are loaded: polled, never per request."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from typing import Any

from ..engines.base import Engine
from ..errors import UpstreamError

CHECK_TIMEOUT = 3.0


@dataclasses.dataclass(frozen=True, slots=True)
class LoadedModel:
    name: str
    size: int  # bytes in memory
    size_vram: int  # of which on the GPU
    context_length: int = 0  # the context it is loaded with (0: not reported)


@dataclasses.dataclass(frozen=True, slots=True)
class OllamaStatus:
    checked: float  # time.monotonic()
    reachable: bool
    version: str | None = None
    loaded: tuple[LoadedModel, ...] = ()
    models: tuple[str, ...] = ()  # installed, from /api/tags
    digests: tuple[tuple[str, str], ...] = ()  # (model, digest) from /api/tags
    sizes: tuple[tuple[str, int], ...] = ()  # (model, bytes on disk) from /api/tags
    error: str | None = None


async def _get_json(upstream: Engine, path: str) -> Any:
    resp = await upstream.fetch("GET", path)
    raw = await resp.read()
    if resp.status != 200:
        raise UpstreamError(f"{path} answered {resp.status}")
    return json.loads(raw)


def _loaded(payload: Any) -> tuple[LoadedModel, ...]:
    models = payload.get("models") if isinstance(payload, dict) else None
    out = []
    for m in models if isinstance(models, list) else ():
        if isinstance(m, dict):
            out.append(
                LoadedModel(
                    str(m.get("name") or m.get("model") or "?"),
                    int(m.get("size") or 0),
                    int(m.get("size_vram") or 0),
                    int(m.get("context_length") or 0),
                )
            )
    return tuple(out)


def _installed(payload: Any) -> tuple[str, ...]:
    models = payload.get("models") if isinstance(payload, dict) else None
    return tuple(
        str(m.get("model") or m.get("name"))
        for m in (models if isinstance(models, list) else ())
        if isinstance(m, dict)
    )


async def check_ollama(upstream: Engine) -> OllamaStatus:
    """One round of /api/version, /api/ps and /api/tags; any failure means unreachable."""
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            version = await _get_json(upstream, "/api/version")
            ps = await _get_json(upstream, "/api/ps")
            tags = await _get_json(upstream, "/api/tags")
    except (UpstreamError, TimeoutError, ValueError, TypeError) as exc:
        return OllamaStatus(time.monotonic(), False, error=str(exc) or "no answer in time")
    return OllamaStatus(
        time.monotonic(),
        True,
        version=str(version.get("version")) if isinstance(version, dict) else None,
        loaded=_loaded(ps),
        models=_installed(tags),
        digests=_digests(tags),
        sizes=_sizes(tags),
    )


def _sizes(payload: Any) -> tuple[tuple[str, int], ...]:
    models = payload.get("models") if isinstance(payload, dict) else None
    return tuple(
        (str(m.get("model") or m.get("name")), m["size"])
        for m in (models if isinstance(models, list) else ())
        if isinstance(m, dict) and isinstance(m.get("size"), int) and m["size"] > 0
    )


def _digests(payload: Any) -> tuple[tuple[str, str], ...]:
    models = payload.get("models") if isinstance(payload, dict) else None
    return tuple(
        (str(m.get("model") or m.get("name")), m["digest"])
        for m in (models if isinstance(models, list) else ())
        if isinstance(m, dict) and isinstance(m.get("digest"), str)
    )
