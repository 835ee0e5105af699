"""The real Claude Code CLI, configured with the Connect dialog's own MCP snippet, reaches
the built-in tools at /mcp (its health check initialises a session and lists tools)."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from app.ide_configs import mcp_configs
from proxy_core import ProxyService
from tests.agent_clis import base_env, run
from tests.conftest import Sim, make_settings


@pytest.fixture
async def tools_proxy(sim: Sim, tmp_path: Path) -> ProxyService:
    workspace = tmp_path / "work"
    workspace.mkdir()
    service = ProxyService(
        make_settings(tmp_path, sim.url, agent_tools=True, workspace=str(workspace))
    )
    await service.start()
    yield service  # type: ignore[misc]
    await service.stop()


async def test_claude_code_connects_to_the_tools_with_the_connect_snippet(
    agents: Path, tools_proxy: ProxyService, tmp_path: Path
) -> None:
    env = base_env(tmp_path) | {"DISABLE_AUTOUPDATER": "1", "DISABLE_TELEMETRY": "1"}
    snippet = {c.name: c for c in mcp_configs(tools_proxy.base_url, tools_proxy.access_token)}
    argv = shlex.split(snippet["MCP: Claude Code"].text.replace("\\\n", " "))
    assert argv[0] == "claude"
    code, out, err = await run([str(agents / "claude"), *argv[1:]], env, tmp_path)
    assert code == 0, err[-2000:]
    code, out, err = await run([str(agents / "claude"), "mcp", "list"], env, tmp_path)
    assert code == 0, err[-2000:]
    line = next(x for x in out.splitlines() if x.startswith("ollama-tools"))
    assert "Connected" in line, out
