"""What the generation pipeline hands a dialect: :class:`Reply` (live bytes, a whole body,
or stored lines), and the facts about the request it carries (client, context)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Mapping
from typing import Any

from ..cache import CacheEntry, RouteKind
from ..clients import OTHER

BACKGROUND_HEADER = "X-Proxy-Priority"  # "background" or "interactive", from the client
TRUNCATED_HEADER = "X-Context-Truncated"  # "<prompt tokens>/<num_ctx>" on whole replies

HIT, MISS, BYPASS = "HIT", "MISS", "BYPASS"
PATHS: dict[RouteKind, str] = {
    "chat": "/api/chat",
    "generate": "/api/generate",
    "embed": "/api/embed",
    "embeddings": "/api/embeddings",
}


@dataclasses.dataclass
class Reply:
    status: int
    headers: dict[str, str]
    cache: str
    chunks: AsyncIterator[bytes] | None = None  # live bytes (miss / bypass)
    body: bytes | None = None  # the whole live reply, when it was read whole
    entry: CacheEntry | None = None  # stored lines (hit)
    key: str | None = None  # the cache key of a hit (the fast hit path remembers it)
    ttfb: float = 0.0
    length: int | None = None  # the upstream's Content-Length, when it sent one
    num_ctx: int | None = None  # the context Ollama runs this request with, when known
    client: str = "other"  # recognised from the request's headers (clients.py)

    @property
    def streamed(self) -> bool:
        if self.entry is not None:
            return self.entry.streamed
        return "ndjson" in self.headers.get("Content-Type", "")


@dataclasses.dataclass(frozen=True, slots=True)
class Facts:
    """Who asked and with which context: generations only (embeddings have none)."""

    client: str
    model: str
    num_ctx: int | None


NO_FACTS = Facts(OTHER, "", None)


def wants_stream(kind: RouteKind, body: Mapping[str, Any]) -> bool:
    return kind in ("chat", "generate") and body.get("stream", True) is not False


def requested_ctx(body: Mapping[str, Any]) -> int | None:
    options = body.get("options")
    requested = options.get("num_ctx") if isinstance(options, dict) else None
    if isinstance(requested, int) and not isinstance(requested, bool) and requested > 0:
        return requested
    return None
