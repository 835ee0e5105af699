"""Issue 15 item 5 (MCP): the official ``mcp`` client lists and calls the sandboxed tools
over /mcp; the token is required there even on loopback, a foreign Origin is refused, and
with the tools off /mcp does not exist."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import httpx2
import pytest
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client

from proxy_core import ProxyService
from tests.conftest import Sim, make_settings


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "work"
    root.mkdir()
    (root / "hello.txt").write_text("hello from the workspace\n")
    return root


@pytest.fixture
def proxy_changes(workspace: Path, tmp_path: Path) -> dict[str, object]:
    data = tmp_path / "data"
    data.mkdir()
    (data / "tool-policy.json").write_text(json.dumps({"write_file": "allow"}))
    return {"agent_tools": True, "workspace": str(workspace)}


@asynccontextmanager
async def mcp_session(proxy: ProxyService, token: str | None) -> AsyncIterator[ClientSession]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx2.AsyncClient(headers=headers) as http:
        async with streamable_http_client(proxy.base_url + "/mcp", http_client=http) as streams:
            async with ClientSession(streams[0], streams[1]) as session:
                await session.initialize()
                yield session


def _text(result: Any) -> str:
    return "".join(part.text for part in result.content)


async def test_the_mcp_client_lists_and_calls_the_tools(
    proxy: ProxyService, workspace: Path
) -> None:
    async with mcp_session(proxy, proxy.access_token) as session:
        listed = await session.list_tools()
        names = {tool.name for tool in listed.tools}
        assert names == {"list_files", "read_file", "write_file", "run_command"}
        read = await session.call_tool("read_file", {"path": "hello.txt"})
        assert not read.is_error and _text(read) == "hello from the workspace\n"
        wrote = await session.call_tool("write_file", {"path": "out/new.txt", "content": "hi\n"})
        assert not wrote.is_error and "new file" in _text(wrote)
        escape = await session.call_tool("read_file", {"path": "../data/access-token"})
        assert escape.is_error and "outside" in _text(escape)
        command = await session.call_tool("run_command", {"argv": ["true"]})
        assert command.is_error and "approval" in _text(command)  # headless "ask" = denied
    assert (workspace / "out" / "new.txt").read_text() == "hi\n"
    assert proxy.state is not None and proxy.state.tools is not None
    await proxy.state.tools.audit.drain()
    lines = (proxy.settings.data_dir / "audit.jsonl").read_text().splitlines()
    outcomes = [(json.loads(x)["tool"], json.loads(x)["outcome"]) for x in lines]
    assert outcomes == [
        ("read_file", "executed"),
        ("write_file", "executed"),
        ("read_file", "refused"),
        ("run_command", "denied"),
    ]
    assert all(json.loads(x)["origin"] == "mcp" for x in lines)


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "probe", "version": "1"},
    },
}


async def test_the_token_is_required_on_mcp_even_on_loopback(
    proxy: ProxyService, http: aiohttp.ClientSession
) -> None:
    assert not proxy.token_required  # the rest of the proxy is open on loopback
    headers = {"Accept": "application/json, text/event-stream"}
    async with http.post(proxy.base_url + "/mcp", json=INITIALIZE, headers=headers) as resp:
        assert resp.status == 401
    wrong = {**headers, "Authorization": "Bearer not-the-token-at-all"}
    async with http.post(proxy.base_url + "/mcp", json=INITIALIZE, headers=wrong) as resp:
        assert resp.status == 401
    good = {**headers, "Authorization": f"Bearer {proxy.access_token}"}
    async with http.post(proxy.base_url + "/mcp", json=INITIALIZE, headers=good) as resp:
        assert resp.status == 200
        assert (await resp.json())["result"]["serverInfo"]["name"] == "ollama-tray-proxy"


def authorized(proxy: ProxyService) -> dict[str, str]:
    """What an MCP client with the token sends."""
    return {
        "Accept": "application/json, text/event-stream",
        "Authorization": f"Bearer {proxy.access_token}",
    }


async def test_a_foreign_origin_and_a_rebinding_host_are_refused(
    proxy: ProxyService, http: aiohttp.ClientSession
) -> None:
    for extra in ({"Origin": "https://evil.example"}, {"Host": "evil.example"}):
        async with http.post(
            proxy.base_url + "/mcp", json=INITIALIZE, headers={**authorized(proxy), **extra}
        ) as resp:
            assert resp.status == 403


async def test_an_allowed_origin_reads_the_tool_server_s_replies(
    proxy: ProxyService, http: aiohttp.ClientSession
) -> None:
    headers = {**authorized(proxy), "Origin": "http://localhost:5173"}
    async with http.post(proxy.base_url + "/mcp", json=INITIALIZE, headers=headers) as resp:
        assert resp.status == 200
        assert resp.headers["Access-Control-Allow-Origin"] == "http://localhost:5173"


async def test_with_tools_off_mcp_is_not_found(sim: Sim, tmp_path: Path) -> None:
    service = ProxyService(make_settings(tmp_path, sim.url))
    await service.start()
    try:
        async with aiohttp.ClientSession() as http:
            headers = {"Authorization": f"Bearer {service.access_token}"}
            async with http.post(
                service.base_url + "/mcp", json=INITIALIZE, headers=headers
            ) as resp:
                assert resp.status == 404
    finally:
        await service.stop()


async def test_a_missing_workspace_stops_start_up_in_one_line(sim: Sim, tmp_path: Path) -> None:
    from proxy_core.errors import StartupError

    settings = make_settings(
        tmp_path, sim.url, agent_tools=True, workspace=str(tmp_path / "nowhere")
    )
    with pytest.raises(StartupError, match="workspace: .* is not an existing folder"):
        await ProxyService(settings).start()
