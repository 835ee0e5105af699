"""The request inspector's memory: the last N requests, newest last (a ring buffer).

Recording is one small object per request holding references (no copies, no redaction
on the request path); reading (the tray's inspector, ``GET /_proxy/requests``) turns
entries into plain data with secrets redacted. Bodies are kept only when the
``log_bodies`` setting is on, and only their first ``BODY_LIMIT`` bytes.
"""

from __future__ import annotations

import collections
import dataclasses
import shlex
import time
from collections.abc import Callable, Mapping
from typing import Any

from ..clients import recognise
from ..credentials import REDACTED as REDACTED
from ..credentials import redact_headers

BODY_LIMIT = 16 << 10


@dataclasses.dataclass(slots=True)
class RequestRecord:
    time: float  # wall clock, when it ended
    client: str
    dialect: str
    method: str
    path: str
    model: str | None
    status: int
    cache: str
    duration: float  # seconds
    ttfb: float | None  # seconds to Ollama's first byte (its time to first token)
    prompt_tokens: int | None
    completion_tokens: int | None
    tokens_per_second: float | None
    request_headers: Mapping[str, str]
    response_headers: Mapping[str, str]
    request_body: bytes | None = None  # only with log_bodies

    def as_json(self) -> dict[str, Any]:
        return {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(self.time))
            + f".{int(self.time * 1000) % 1000:03d}Z",
            "client": self.client,
            "dialect": self.dialect,
            "method": self.method,
            "path": self.path,
            "model": self.model,
            "status": self.status,
            "cache": self.cache,
            "duration_ms": round(self.duration * 1000, 3),
            "ttfb_ms": None if self.ttfb is None else round(self.ttfb * 1000, 3),
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "tokens_per_second": self.tokens_per_second,
            "request_headers": redacted(self.request_headers),
            "response_headers": redacted(self.response_headers),
            "request_body": None
            if self.request_body is None
            else self.request_body[:BODY_LIMIT].decode("utf-8", "replace"),
        }

    def curl(self, base_url: str) -> str:
        """The request as a ``curl`` line (the token redacted; the body when kept)."""
        parts = ["curl", "-X", self.method, base_url.rstrip("/") + self.path]
        for name, value in redacted(self.request_headers).items():
            if name.lower() in ("host", "content-length", "connection", "accept-encoding"):
                continue
            parts += ["-H", f"{name}: {value}"]
        if self.request_body is not None:
            parts += ["--data-binary", self.request_body[:BODY_LIMIT].decode("utf-8", "replace")]
        return " ".join(shlex.quote(part) for part in parts)


def redacted(headers: Mapping[str, str]) -> dict[str, str]:
    return redact_headers(headers)


Raw = tuple[Any, ...]  # what the request path stores: see RequestLog.add


class RequestLog:
    """The ring. The request path appends one tuple of references (about a microsecond:
    a record object, client recognition and the dialect lookup measured at 7% of a
    proxied request's CPU); :meth:`latest` turns them into records when someone looks."""

    def __init__(self, size: int) -> None:
        self.records: collections.deque[Raw] = collections.deque(maxlen=max(size, 1))
        self.enabled = size > 0
        self.dialect_of_route: Callable[[str], str] = lambda route: "native"

    def resize(self, size: int) -> None:
        self.records = collections.deque(self.records, maxlen=max(size, 1))
        self.enabled = size > 0

    def add(self, raw: Raw) -> None:
        """``(time, route, method, path, model, status, cache, duration, ttfb, tokens,
        request headers, response headers, request body)``."""
        if self.enabled:
            self.records.append(raw)

    def latest(self, limit: int) -> list[RequestRecord]:
        """Newest first."""
        if limit <= 0:
            return []
        return [self._record(raw) for raw in list(self.records)[-limit:][::-1]]

    def _record(self, raw: Raw) -> RequestRecord:
        at, route, method, path, model, status, cache, duration, ttfb, tokens, req, resp, body = raw
        prompt, completion, rate = tokens or (None, None, None)
        return RequestRecord(
            at, recognise(req), self.dialect_of_route(route), method, path, model, status,
            cache, duration, ttfb, prompt, completion, rate, req, resp, body,
        )  # fmt: skip
