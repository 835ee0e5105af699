"""Issue 24 item 3: ``agent/<model>`` runs the workspace tools, so like ``/mcp`` it needs
the access token always, even on loopback: from any local process or any
``http://localhost:*`` page without it, each dialect answers 401 in its own shape, and no
tool runs and nothing reaches Ollama."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from proxy_core import ProxyService
from tests.conftest import Sim

ASK = [{"role": "user", "content": "list the workspace"}]
LIST = [{"name": "list_files", "arguments": {}}]

ROUTES: list[tuple[str, dict[str, Any]]] = [
    ("/api/chat", {"model": "agent/llama3.2", "messages": ASK, "stream": False}),
    ("/v1/chat/completions", {"model": "agent/llama3.2", "messages": ASK}),
    ("/v1/messages", {"model": "agent/llama3.2", "max_tokens": 50, "messages": ASK}),
    ("/v1/responses", {"model": "agent/llama3.2", "input": "list the workspace"}),
]


@pytest.fixture
def proxy_changes(tmp_path: Path) -> dict[str, object]:
    root = tmp_path / "work"
    root.mkdir()
    (root / "a.txt").write_text("a\n")
    return {"agent_tools": True, "workspace": str(root)}


def is_dialect_401(path: str, body: Any) -> bool:
    if path == "/api/chat":
        return "access token" in body["error"]
    if path == "/v1/messages":
        return body["type"] == "error" and "access token" in body["error"]["message"]
    return "access token" in body["error"]["message"]


@pytest.mark.parametrize("path, body", ROUTES)
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token-0123456789"},
        {"x-api-key": "wrong-token-0123456789"},
        {"Origin": "http://localhost:5173"},  # an allowed page, but no token
    ],
)
async def test_no_token_no_tools(
    proxy: ProxyService,
    sim: Sim,
    http: aiohttp.ClientSession,
    path: str,
    body: dict[str, Any],
    headers: dict[str, str],
) -> None:
    sim.config.script = [LIST, []]
    async with http.post(proxy.base_url + path, json=body, headers=headers) as resp:
        assert resp.status == 401
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
        assert is_dialect_401(path, json.loads(await resp.read()))
    assert sim.recorder.by_path("/api/chat") == []
    assert proxy.state is not None and proxy.state.tools is not None
    assert list(proxy.state.tools.audit.recent) == []


@pytest.mark.parametrize("path, body", ROUTES)
@pytest.mark.parametrize("scheme", ["Authorization", "x-api-key"])
async def test_with_the_token_the_loop_runs(
    proxy: ProxyService,
    sim: Sim,
    http: aiohttp.ClientSession,
    path: str,
    body: dict[str, Any],
    scheme: str,
) -> None:
    sim.config.script = [LIST, []]
    token = proxy.access_token
    headers = {scheme: f"Bearer {token}" if scheme == "Authorization" else token}
    async with http.post(proxy.base_url + path, json=body, headers=headers) as resp:
        text = await resp.text()  # the loop runs while the reply is read
        assert resp.status == 200, text
    assert proxy.state is not None and proxy.state.tools is not None
    assert [e.tool for e in proxy.state.tools.audit.recent] == ["list_files"]


async def test_plain_models_still_need_no_token_on_loopback(
    proxy: ProxyService, http: aiohttp.ClientSession
) -> None:
    body = {"model": "llama3.2", "messages": ASK, "stream": False}
    async with http.post(proxy.base_url + "/api/chat", json=body) as resp:
        assert resp.status == 200
