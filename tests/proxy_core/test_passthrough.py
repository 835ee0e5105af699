"""Native pass-through: byte equality, streaming, disconnects, upstream down and back."""

from __future__ import annotations

import asyncio
import hashlib
import json
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from proxy_core import ProxyService
from tests.conftest import Sim, make_settings
from tests.fakes.ollama_sim import create_sim_app


@pytest.fixture
def proxy_changes() -> dict[str, object]:
    """This module checks faithful pass-through of every route, model management
    included, so its proxy allows it (off by default: tests/proxy_core/test_guard.py)."""
    return {"allow_model_management": True}


# Requests whose replies carry no timestamps or durations, so two runs give equal bytes.
STABLE_REQUESTS = [
    ("GET", "/", None),
    ("HEAD", "/", None),
    ("GET", "/api/version", None),
    ("GET", "/api/tags", None),
    ("POST", "/api/show", {"model": "llama3.2"}),
    ("POST", "/api/show", {"name": "qwen2.5-coder:1.5b"}),
    ("POST", "/api/show", {"model": "missing"}),
    ("POST", "/api/show", {}),
    ("POST", "/api/embeddings", {"model": "nomic-embed-text", "prompt": "hi"}),
    ("POST", "/api/chat", {"model": "nope", "messages": [{"role": "user", "content": "x"}]}),
    ("POST", "/api/generate", {"model": "llama3.2", "prompt": "x", "suffix": "y"}),
    ("POST", "/api/pull", {"model": "llama3.2"}),
    ("POST", "/api/pull", {"model": "llama3.2", "stream": False}),
    ("POST", "/api/copy", {"source": "llama3.2", "destination": "mine"}),
    ("DELETE", "/api/delete", {"model": "nope"}),
    ("GET", "/api/nothing-here?x=1", None),
    ("GET", "/api/chat", None),
]


@pytest.mark.parametrize(("method", "path", "body"), STABLE_REQUESTS)
async def test_bytes_equal_direct(
    sim: Sim,
    proxy: ProxyService,
    http: aiohttp.ClientSession,
    method: str,
    path: str,
    body: object,
) -> None:
    data = json.dumps(body).encode() if body is not None else None
    async with http.request(method, sim.url + path, data=data) as direct:
        direct_body = await direct.read()
    async with http.request(method, proxy.base_url + path, data=data) as proxied:
        proxied_body = await proxied.read()
    assert proxied.status == direct.status
    assert proxied_body == direct_body
    assert end_to_end(proxied.headers) == end_to_end(direct.headers)
    assert "X-Ollama-Simulator" in end_to_end(direct.headers)  # the comparison has teeth


# Set per connection or by the proxy itself (X-Cache), so not compared.
_PER_HOP = {"date", "server", "content-length", "transfer-encoding", "connection", "keep-alive"}


def end_to_end(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() not in _PER_HOP and k != "X-Cache"}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/show", {"model": "llama3.2"}),  # pass-through
        ("POST", "/api/chat", {"model": "llama3.2", "messages": []}),  # generation
        ("POST", "/api/generate", {"model": "llama3.2", "prompt": "x"}),
        ("POST", "/v1/chat/completions", {"model": "llama3.2", "messages": [{"role": "user"}]}),
    ],
)
async def test_client_headers_reach_ollama(
    sim: Sim, proxy: ProxyService, method: str, path: str, body: object
) -> None:
    headers = {"User-Agent": "Continue/1.2 (test)", "X-Request-Id": "req-42"}
    async with aiohttp.ClientSession() as http:
        async with http.request(method, proxy.base_url + path, json=body, headers=headers) as r:
            await r.read()
    seen = {k.lower(): v for k, v in sim.recorder.requests[-1].headers.items()}
    assert seen.get("user-agent") == "Continue/1.2 (test)"
    assert seen.get("x-request-id") == "req-42"


async def test_a_query_string_reaches_ollama_unchanged(sim: Sim, proxy: ProxyService) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(proxy.base_url + "/api/tags?b=2&a=%20x&a=y&flag") as resp:
            assert resp.status == 200
    assert sim.recorder.requests[-1].query == "b=2&a=%20x&a=y&flag"


@pytest.mark.parametrize("target", ["//api/chat", "/api//chat", "/api/chat/", "/api/./chat"])
async def test_another_spelling_of_a_generation_route_is_still_the_proxys(
    sim: Sim, proxy: ProxyService, target: str
) -> None:
    """A base URL with a trailing slash makes ``//api/chat``. The pass-through would send
    it to Ollama as ``/api/chat`` past the proxy's cache, lanes and profiles; it is served
    by the generation route instead (a second call is a cache hit)."""
    messages = [{"role": "user", "content": "spelled"}]
    chat = {"model": "llama3.2", "messages": messages, "stream": False, "options": {"seed": 1}}
    body = json.dumps(chat).encode()
    head = (
        f"POST {target} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    reader, writer = await asyncio.open_connection(*proxy.address)
    try:
        caches = []
        for _ in range(2):
            writer.write(head + body)
            reply_head = await reader.readuntil(b"\r\n\r\n")
            fields = dict(
                line.split(": ", 1) for line in reply_head.decode().split("\r\n")[1:] if line
            )
            answer = json.loads(await reader.readexactly(int(fields["Content-Length"])))
            assert answer["message"]["content"].startswith("Simulated reply to: spelled")
            caches.append(fields.get("X-Cache"))
    finally:
        writer.close()
    assert caches == ["MISS", "HIT"]
    assert [r.path for r in sim.recorder.requests if r.path.endswith("chat")] == ["/api/chat"]


def _strip_times(raw: bytes) -> list[dict[str, object]]:
    out = []
    for line in raw.splitlines():
        obj = json.loads(line)
        for key in list(obj):
            if key == "created_at" or key.endswith("_duration"):
                obj[key] = "T"
        out.append(obj)
    return out


async def test_stream_lines_equal_direct_but_for_clock_fields(
    sim: Sim, proxy: ProxyService, http: aiohttp.ClientSession
) -> None:
    body = {"model": "llama3.2", "messages": [{"role": "user", "content": "compare me"}]}
    async with http.post(sim.url + "/api/chat", json=body) as direct:
        direct_raw = await direct.read()
    async with http.post(proxy.base_url + "/api/chat", json=body) as proxied:
        proxied_raw = await proxied.read()
        assert proxied.headers["Content-Type"] == "application/x-ndjson"
        assert proxied.headers["X-Cache"] == "BYPASS"
    assert _strip_times(proxied_raw) == _strip_times(direct_raw)


async def test_first_token_arrives_before_the_stream_ends(
    sim: Sim, proxy: ProxyService, http: aiohttp.ClientSession
) -> None:
    sim.config.token_delay = 0.2
    body = {"model": "llama3.2", "messages": [{"role": "user", "content": "slow"}]}
    async with http.post(proxy.base_url + "/api/chat", json=body) as resp:
        first = await resp.content.readline()
        # No clock: the simulator is still generating when the first line arrives.
        still_generating = not sim.recorder.by_path("/api/chat")[-1].completed
        rest = await resp.read()
    assert json.loads(first)["done"] is False
    assert rest.count(b"\n") >= 4
    assert still_generating


async def test_client_disconnect_closes_upstream(
    sim: Sim, proxy: ProxyService, http: aiohttp.ClientSession
) -> None:
    sim.config.token_delay = 0.3
    body = {"model": "llama3.2", "messages": [{"role": "user", "content": "long answer"}]}
    resp = await http.post(proxy.base_url + "/api/chat", json=body)
    await resp.content.readline()
    resp.close()
    for _ in range(50):
        if sim.recorder.disconnects:
            break
        await asyncio.sleep(0.05)
    chats = sim.recorder.by_path("/api/chat")
    assert chats and chats[-1].disconnected and not chats[-1].completed


async def test_blob_upload_streams_and_checks_digest(
    proxy: ProxyService, http: aiohttp.ClientSession
) -> None:
    payload = bytes(range(256)) * 16384  # 4 MiB: above the in-memory threshold
    digest = "sha256:" + hashlib.sha256(payload).hexdigest()

    async def chunks():  # type: ignore[no-untyped-def]
        for i in range(0, len(payload), 1 << 18):
            yield payload[i : i + (1 << 18)]

    async with http.post(f"{proxy.base_url}/api/blobs/{digest}", data=chunks()) as resp:
        assert resp.status == 201
    async with http.head(f"{proxy.base_url}/api/blobs/{digest}") as resp:
        assert resp.status == 200
    async with http.post(f"{proxy.base_url}/api/blobs/sha256:{'0' * 64}", data=b"x") as resp:
        assert resp.status == 400


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_upstream_down_then_back(tmp_path: Path, http: aiohttp.ClientSession) -> None:
    port = _free_port()
    service = ProxyService(make_settings(tmp_path, f"http://127.0.0.1:{port}"))
    await service.start()
    try:
        started = time.perf_counter()
        async with http.get(service.base_url + "/api/tags") as resp:
            body = await resp.json()
        assert resp.status == 502
        # Refused at once, not after the 5 s connect timeout (half of it: slack for load).
        assert time.perf_counter() - started < service.settings.connect_timeout / 2
        assert f"127.0.0.1:{port}" in body["error"]
        async with http.post(
            service.base_url + "/v1/chat/completions",
            json={"model": "m", "messages": [{"role": "user", "content": "x"}]},
        ) as resp:
            err = await resp.json()
        assert resp.status == 502 and err["error"]["type"] == "api_error"
        async with http.get(service.base_url + "/healthz") as resp:
            health = await resp.json()
        assert health["proxy"] == "up" and health["ollama"]["reachable"] is False

        server = TestServer(create_sim_app(), port=port)
        await server.start_server()
        try:
            async with http.get(service.base_url + "/api/tags") as resp:
                assert resp.status == 200
            async with http.get(service.base_url + "/healthz") as resp:
                health = await resp.json()
            assert health["ollama"] == {
                "url": f"http://127.0.0.1:{port}",
                "reachable": True,
                "version": "0.32.15",
            }
        finally:
            await server.close()
        # Ollama restarted: pooled connections are dead, the next request still works.
        server = TestServer(create_sim_app(), port=port)
        await server.start_server()
        try:
            async with http.get(service.base_url + "/api/version") as resp:
                assert resp.status == 200
        finally:
            await server.close()
    finally:
        await service.stop()


async def test_upstream_read_timeout_is_504(
    sim: Sim, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    sim.config.header_delay = 1.0
    service = ProxyService(make_settings(tmp_path, sim.url, read_timeout=0.2))
    await service.start()
    try:
        async with http.post(
            service.base_url + "/api/chat",
            json={"model": "llama3.2", "messages": [{"role": "user", "content": "x"}]},
        ) as resp:
            assert resp.status == 504
            assert "did not answer in time" in (await resp.json())["error"]
    finally:
        await service.stop()


async def test_a_cold_model_load_is_waited_for(
    sim: Sim, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    sim.config.header_delay = 1.5  # Ollama sends nothing until the model is in memory
    service = ProxyService(make_settings(tmp_path, sim.url, read_timeout=5))
    await service.start()
    try:
        async with http.post(
            service.base_url + "/api/chat",
            json={"model": "llama3.2", "messages": [{"role": "user", "content": "x"}]},
        ) as resp:
            assert resp.status == 200
            assert json.loads((await resp.read()).splitlines()[-1])["done"] is True
    finally:
        await service.stop()


async def test_path_tricks_never_leave_the_api(
    sim: Sim, proxy: ProxyService, http: aiohttp.ClientSession
) -> None:
    for path in ("/api/../metrics-x", "/api/%2e%2e/etc/passwd", "/elsewhere"):
        async with http.get(proxy.base_url + path) as resp:
            assert resp.status == 404
    assert not [r for r in sim.recorder.requests if not r.path.startswith("/api") and r.path != "/"]


def test_import_proxy_core_pulls_no_qt() -> None:
    code = (
        "import sys, proxy_core, proxy_core.cli; "
        "bad=[m for m in sys.modules if m.startswith(('PySide6','qasync','PyQt'))]; print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
