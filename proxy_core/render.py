"""Render a stored native answer for a native client (stream or not)."""

from __future__ import annotations

from .cache import CacheEntry
from .ndjson import dumps, loads, merge_chunks

NDJSON = "application/x-ndjson"
JSON = "application/json; charset=utf-8"


def native_body(entry: CacheEntry, want_stream: bool) -> tuple[bytes, str]:
    """The bytes a native client gets for a hit, and their content type.

    A stream stored as a stream replays the same lines byte for byte; a single stored
    object is sent as it came; only the cross shapes are rebuilt."""
    if want_stream:
        return b"\n".join(entry.lines) + b"\n", NDJSON
    if not entry.streamed:
        return entry.lines[0], JSON
    merged = merge_chunks(loads(line) for line in entry.lines)
    return dumps(merged), JSON
