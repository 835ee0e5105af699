"""The audit log: every tool action executed or refused, one JSON line each.

``audit.jsonl`` in the data dir (0600), appended from the executor; the most recent
entries are also kept in memory for the dashboard. An entry names the tool, its paths or
argv, who asked (origin ``mcp`` or ``agent``, and the recognised client), the outcome
(``executed``, ``refused`` by the sandbox, ``denied`` by policy or a person, ``error``)
and why; never file contents, command output or tokens.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import json
import logging
import os
import time
from pathlib import Path
from typing import Literal

Outcome = Literal["executed", "refused", "denied", "error"]
AUDIT_FILE = "audit.jsonl"
KEPT_IN_MEMORY = 200
# A model controls paths and argv: bound what one line may hold (the log must not be a way
# to fill the disk), and say what was cut.
MAX_ITEMS = 64
MAX_ITEM_CHARS = 1024


log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class AuditEntry:
    time: float
    origin: str  # "mcp" or "agent"
    client: str
    tool: str
    outcome: Outcome
    reason: str = ""
    paths: tuple[str, ...] = ()
    argv: tuple[str, ...] = ()
    seconds: float = 0.0

    def line(self) -> bytes:
        """One JSON line. ``ensure_ascii`` escapes every control character and every
        other line break (U+0085, U+2028, U+2029) too, so one action is always one line,
        whatever a model put in an argument."""
        data = dataclasses.asdict(self)
        data["time"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.time))
        data["paths"], data["argv"] = _bounded(self.paths), _bounded(self.argv)
        data["reason"] = _cut(self.reason, 4 * MAX_ITEM_CHARS)
        return json.dumps(data, ensure_ascii=True).encode() + b"\n"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]}[... {len(text) - limit} more]"


def _bounded(items: tuple[str, ...]) -> list[str]:
    kept = [_cut(item, MAX_ITEM_CHARS) for item in items[:MAX_ITEMS]]
    if len(items) > MAX_ITEMS:
        kept.append(f"[... {len(items) - MAX_ITEMS} more]")
    return kept


class AuditLog:
    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / AUDIT_FILE
        self.recent: collections.deque[AuditEntry] = collections.deque(maxlen=KEPT_IN_MEMORY)
        # One write at a time, in the order of the calls: the executor has several threads,
        # and an audit log whose lines can swap places under load says the wrong thing.
        self._queue: list[bytes] = []
        self._writer: asyncio.Future[None] | None = None

    def record(self, entry: AuditEntry) -> None:
        self.recent.append(entry)
        self._queue.append(entry.line())
        if self._writer is None:
            self._write_queued()

    def _write_queued(self) -> None:
        lines, self._queue = self._queue, []
        self._writer = asyncio.get_running_loop().run_in_executor(None, self._append, lines)
        self._writer.add_done_callback(self._written)

    def _written(self, done: asyncio.Future[None]) -> None:
        self._writer = None
        if not done.cancelled() and done.exception() is not None:
            log.warning("the audit log %s cannot be written: %s", self.path, done.exception())
        if self._queue:  # recorded while the last write ran: next, in order
            self._write_queued()

    def _append(self, lines: list[bytes]) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, b"".join(lines))
        finally:
            os.close(fd)

    async def drain(self) -> None:
        """Wait until every recorded line is written (tests, shutdown)."""
        while self._writer is not None or self._queue:
            if self._writer is not None:
                await asyncio.wait({self._writer})
            await asyncio.sleep(0)  # the done callback starts the next write
