"""The audit log keeps the order of what happened, whatever the executor's threads do."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from proxy_core.tools.audit import AuditEntry, AuditLog


async def test_lines_keep_their_order_when_a_write_is_slow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = os.write

    def slow_first(fd: int, data: bytes) -> int:
        if b'"client": "c0"' in data:  # the first entry's write stalls (a busy disk)
            time.sleep(0.1)
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", slow_first)
    log = AuditLog(tmp_path)
    for n in range(6):
        log.record(AuditEntry(time.time(), "mcp", f"c{n}", "read_file", "executed"))
    await log.drain()
    monkeypatch.setattr(os, "write", real_write)
    clients = [json.loads(line)["client"] for line in log.path.read_text().splitlines()]
    assert clients == [f"c{n}" for n in range(6)]
    assert [entry.client for entry in log.recent] == clients


async def test_a_failed_write_is_logged_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log = AuditLog(tmp_path / "missing-folder")
    log.record(AuditEntry(time.time(), "agent", "c", "write_file", "denied"))
    await log.drain()
    assert "cannot be written" in caplog.text
