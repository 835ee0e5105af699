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
import os
import time
from pathlib import Path
from typing import Literal

Outcome = Literal["executed", "refused", "denied", "error"]
AUDIT_FILE = "audit.jsonl"
KEPT_IN_MEMORY = 200


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
        data = dataclasses.asdict(self)
        data["time"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.time))
        data["paths"], data["argv"] = list(self.paths), list(self.argv)
        return json.dumps(data, ensure_ascii=False).encode() + b"\n"


class AuditLog:
    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / AUDIT_FILE
        self.recent: collections.deque[AuditEntry] = collections.deque(maxlen=KEPT_IN_MEMORY)
        self._pending: set[asyncio.Future[None]] = set()

    def record(self, entry: AuditEntry) -> None:
        self.recent.append(entry)
        future = asyncio.get_running_loop().run_in_executor(None, self._append, entry.line())
        self._pending.add(future)
        future.add_done_callback(self._pending.discard)

    def _append(self, line: bytes) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)

    async def drain(self) -> None:
        if self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)
