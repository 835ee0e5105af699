"""Agent tools (issue 15): what a tool call costs through the engine (policy, sandbox,
executor, audit), and an MCP round trip through the proxy with the official client."""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx2
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client

from proxy_core import ProxyService, ProxySettings
from proxy_core.observe.recorder import MetricsRecorder
from proxy_core.tools import ToolContext, Workspace
from proxy_core.tools.audit import AuditLog
from proxy_core.tools.engine import ToolEngine
from proxy_core.tools.policy import parse
from proxy_core.tools.run_command import resolve_commands

from .fast_upstream import start_fast
from .harness import free_port, processes, wait_ready


async def p50_ms(call: Callable[[], Awaitable[object]], n: int = 100) -> float:
    for _ in range(10):
        await call()
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


async def run() -> list[tuple[str, str]]:
    base = Path(tempfile.mkdtemp(prefix="otp-bench-tools-"))
    root = base / "work"
    (root / "many").mkdir(parents=True)
    for n in range(1000):
        (root / "many" / f"file{n:04}.txt").write_text("x")
    (root / "big.txt").write_text("line of text\n" * (100_000 // 13))
    policy = parse({"run_command": "allow", "allow_commands": ["true"]})
    ctx = ToolContext(Workspace(root), resolve_commands(["true"]))
    engine = ToolEngine(ctx, policy, AuditLog(base), MetricsRecorder())

    def tool(name: str, args: dict[str, object]) -> Callable[[], Awaitable[object]]:
        return lambda: engine.call(name, args, origin="agent", client="bench")

    rows = [
        ("list_files of 1,000 entries, p50 ms (target <= 5)",
         f"{await p50_ms(tool('list_files', {'path': 'many', 'limit': 1000})):.2f}"),
        ("read_file of 100 KB, p50 ms (target <= 5)",
         f"{await p50_ms(tool('read_file', {'path': 'big.txt'})):.2f}"),
        ("run_command true, p50 ms (target <= 20)",
         f"{await p50_ms(tool('run_command', {'argv': ['true']}), 50):.2f}"),
    ]  # fmt: skip
    await engine.audit.drain()
    up_port = free_port()
    with processes(start_fast(up_port)):
        await wait_ready(f"http://127.0.0.1:{up_port}")
        data = base / "data"
        data.mkdir()
        (data / "tool-policy.json").write_text(json.dumps({"read_file": "allow"}))
        settings = ProxySettings(
            port=0,
            ollama_url=f"http://127.0.0.1:{up_port}",
            data_dir=data,
            agent_tools=True,
            workspace=str(root),
            monitor_interval=0,
            log_level="warning",
        )
        service = ProxyService(settings)
        await service.start()
        try:
            headers = {"Authorization": f"Bearer {service.access_token}"}
            async with (
                httpx2.AsyncClient(headers=headers) as http,
                streamable_http_client(service.base_url + "/mcp", http_client=http) as streams,
                ClientSession(streams[0], streams[1]) as session,
            ):
                await session.initialize()
                mcp = await p50_ms(lambda: session.call_tool("read_file", {"path": "big.txt"}))
        finally:
            await service.stop()
    rows.append(("MCP read_file round trip through the proxy, p50 ms (target <= 10)", f"{mcp:.2f}"))
    return rows
