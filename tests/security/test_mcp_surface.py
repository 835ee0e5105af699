"""Issue 24, ``/mcp`` from outside: the token on every method and path, Host and Origin,
no session to guess or take over, oversize and malformed JSON-RPC, slow clients, and
nothing at all while the agent tools are off."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from proxy_core import ProxyService
from tests.conftest import Sim, make_settings
from tests.proxy_core.tools.test_mcp import INITIALIZE

ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
CALL = {
    "jsonrpc": "2.0",
    "id": 2,
    "method": "tools/call",
    "params": {"name": "read_file", "arguments": {"path": "hello.txt"}},
}


@pytest.fixture
def proxy_changes(tmp_path: Path) -> dict[str, object]:
    root = tmp_path / "work"
    root.mkdir()
    (root / "hello.txt").write_text("hello\n")
    return {"agent_tools": True, "workspace": str(root), "max_body_size": 1 << 20}


def auth(proxy: ProxyService) -> dict[str, str]:
    return {**ACCEPT, "Authorization": f"Bearer {proxy.access_token}"}


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE", "PUT", "OPTIONS", "HEAD"])
@pytest.mark.parametrize(
    "path", ["/mcp", "/mcp/", "/mcp/x", "/mcp?x=1", "/%6dcp", "/api/%2e%2e/mcp", "/MCP", "//mcp"]
)
async def test_no_method_or_spelling_of_the_path_skips_the_token(
    proxy: ProxyService, http: aiohttp.ClientSession, method: str, path: str
) -> None:
    url = aiohttp.client.URL(proxy.base_url + path, encoded=True)
    async with http.request(method, url, headers=ACCEPT, json=CALL) as resp:
        # Every spelling that reaches the tool server needs the token; the others are not
        # the tool server at all.
        expected = 404 if path in ("/MCP", "//mcp", "/api/%2e%2e/mcp") else 401
        assert resp.status == expected, (method, path, resp.status)
    assert proxy.state is not None and proxy.state.tools is not None
    assert list(proxy.state.tools.audit.recent) == []


@pytest.mark.parametrize(
    "extra",
    [
        {"Host": "evil.example"},
        {"Host": "127.0.0.1.nip.io"},
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Origin": "http://localhost.evil.example"},
    ],
)
async def test_host_and_origin_are_checked_even_with_the_token(
    proxy: ProxyService, http: aiohttp.ClientSession, extra: dict[str, str]
) -> None:
    async with http.post(
        proxy.base_url + "/mcp", json=CALL, headers={**auth(proxy), **extra}
    ) as resp:
        assert resp.status == 403
    assert proxy.state is not None and proxy.state.tools is not None
    assert list(proxy.state.tools.audit.recent) == []


async def test_no_session_is_issued_and_a_forged_one_grants_nothing(
    proxy: ProxyService, http: aiohttp.ClientSession
) -> None:
    async with http.post(proxy.base_url + "/mcp", json=INITIALIZE, headers=auth(proxy)) as resp:
        assert resp.status == 200
        assert "mcp-session-id" not in {k.lower() for k in resp.headers}
    forged = {**ACCEPT, "Mcp-Session-Id": "0123456789abcdef"}
    async with http.post(proxy.base_url + "/mcp", json=CALL, headers=forged) as resp:
        assert resp.status == 401  # a session id is no credential here: only the token is


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[]",
        b"null",
        b'"initialize"',
        b'{"jsonrpc": "2.0"}',
        b'{"jsonrpc": "2.0", "id": 1, "method": 42}',
        b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": "x"}',
        b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": {}}}',
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a": ' * 50_000 + b"1" + b"}" * 50_000,
        "\ud800".encode("utf-8", "surrogatepass"),
        b"\xff\xfe\x00",
    ],
)
async def test_malformed_json_rpc_is_a_client_error(
    proxy: ProxyService, http: aiohttp.ClientSession, body: bytes
) -> None:
    async with http.post(proxy.base_url + "/mcp", data=body, headers=auth(proxy)) as resp:
        assert 400 <= resp.status < 500 or (
            resp.status == 200 and "error" in json.loads(await resp.read())
        ), resp.status
    async with http.post(proxy.base_url + "/mcp", json=INITIALIZE, headers=auth(proxy)) as resp:
        assert resp.status == 200  # still serving


async def test_an_oversize_body_is_413_before_it_is_read(
    proxy: ProxyService, http: aiohttp.ClientSession
) -> None:
    huge = {**CALL, "params": {"name": "write_file", "arguments": {"content": "x" * (2 << 20)}}}
    async with http.post(proxy.base_url + "/mcp", json=huge, headers=auth(proxy)) as resp:
        assert resp.status == 413


async def test_slow_clients_do_not_hold_the_tool_server(
    sim: Sim, tmp_path: Path, proxy_changes: dict[str, Any]
) -> None:
    service = ProxyService(make_settings(tmp_path, sim.url, **proxy_changes, body_timeout=0.5))
    await service.start()
    try:
        host, port = service.base_url.removeprefix("http://").split(":")
        slow = []
        for _ in range(20):  # each promises a body and never sends it
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(
                b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n"
                b"Authorization: Bearer " + service.access_token.encode() + b"\r\n"
                b"Content-Type: application/json\r\nAccept: application/json, text/event-stream"
                b"\r\n\r\n{"
            )
            await writer.drain()
            slow.append((reader, writer))
        async with aiohttp.ClientSession() as http:
            async with http.post(
                service.base_url + "/mcp", json=INITIALIZE, headers=auth(service)
            ) as resp:
                assert resp.status == 200
        answers = await asyncio.gather(*(r.read(100) for r, _ in slow))
        assert all(a.startswith(b"HTTP/1.1 408") for a in answers)
        for _, writer in slow:
            writer.close()
    finally:
        await service.stop()


async def test_nothing_is_exposed_while_the_tools_are_off(sim: Sim, tmp_path: Path) -> None:
    service = ProxyService(make_settings(tmp_path, sim.url))
    await service.start()
    try:
        async with aiohttp.ClientSession() as http:
            for headers in (ACCEPT, auth(service)):
                for method in ("GET", "POST", "DELETE"):
                    async with http.request(
                        method, service.base_url + "/mcp", json=CALL, headers=headers
                    ) as resp:
                        assert resp.status in (401, 404)
            async with http.get(service.base_url + "/api/tags") as resp:
                names = [m["name"] for m in (await resp.json())["models"]]
        assert not any(name.startswith("agent/") for name in names)
    finally:
        await service.stop()
