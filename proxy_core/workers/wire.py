"""The broker's wire: one JSON object per line over a Unix socket."""

from __future__ import annotations

import asyncio
from typing import Any

from ..ndjson import dumps, loads

LINE_LIMIT = 64 << 20  # a metrics exposition of many models is a long line
EXIT_STARTUP = 3  # a worker that could not start: the supervisor does not retry it forever


def send(writer: asyncio.StreamWriter, message: dict[str, Any]) -> None:
    """Queue one message (the transport writes it; nothing to await for small ones)."""
    if not writer.is_closing():
        writer.write(dumps(message) + b"\n")


def parse(line: bytes) -> dict[str, Any] | None:
    try:
        message = loads(line)
    except ValueError:
        return None
    return message if isinstance(message, dict) else None
