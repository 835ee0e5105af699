"""Which requests may be answered from the cache, and which answers may be stored."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

from .keys import RouteKind

_MAX_AGE = re.compile(r"max-age\s*=\s*(\d+)")


@dataclasses.dataclass(frozen=True, slots=True)
class CacheControl:
    lookup: bool = True
    store: bool = True
    max_age: float | None = None


def parse_cache_control(headers: Mapping[str, str]) -> CacheControl:
    value = headers.get("Cache-Control", "").lower()
    if not value:
        return CacheControl()
    match = _MAX_AGE.search(value)
    return CacheControl(
        lookup="no-cache" not in value,
        store="no-store" not in value,
        max_age=float(match.group(1)) if match else None,
    )


def is_deterministic(kind: RouteKind, body: Mapping[str, Any]) -> bool:
    """Temperature explicitly 0, or a fixed seed; embeddings always."""
    if kind in ("embed", "embeddings"):
        return True
    options = body.get("options")
    if not isinstance(options, dict):
        return False
    temperature = options.get("temperature")
    if (
        isinstance(temperature, int | float)
        and not isinstance(temperature, bool)
        and temperature == 0
    ):
        return True
    seed = options.get("seed")
    return isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0


def is_cacheable_request(kind: RouteKind, body: Mapping[str, Any], policy: str) -> bool:
    if not isinstance(body.get("model"), str) or not body.get("model"):
        return False
    if kind == "chat" and not body.get("messages"):
        return False  # load / unload requests
    if kind == "generate" and not body.get("prompt"):
        return False
    return policy == "all" or is_deterministic(kind, body)


def is_complete_answer(kind: RouteKind, final: Mapping[str, Any]) -> bool:
    """Only whole answers are stored: no error, and a done chunk that stopped or hit the limit."""
    if "error" in final:
        return False
    if kind in ("embed", "embeddings"):
        return "embeddings" in final or "embedding" in final
    return final.get("done") is True and final.get("done_reason") in ("stop", "length")
