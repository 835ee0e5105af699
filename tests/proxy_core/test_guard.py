"""Host, Origin/CORS, token and model-management checks (proxy_core/guard.py)."""

from __future__ import annotations

import asyncio
import json
import logging
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from proxy_core import ProxyService
from proxy_core.access import TOKEN_FILE, host_name, token_required
from proxy_core.settings import ProxySettings
from tests.conftest import Sim, make_settings, serving

CHAT = {"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}], "stream": False}


async def call(
    service: ProxyService,
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    body: object = None,
) -> tuple[int, dict[str, str], bytes]:
    host, port = service.address
    async with aiohttp.ClientSession() as http:
        async with http.request(
            method,
            f"http://127.0.0.1:{port}{path}",
            headers=headers,
            data=None if body is None else json.dumps(body).encode(),
        ) as resp:
            return resp.status, dict(resp.headers), await resp.read()


def upstream_calls(sim: Sim) -> int:
    return len(sim.recorder.requests)


@pytest.mark.parametrize(
    "host",
    ["evil.test:11435", "127.0.0.1.nip.io", "x.local", "0.0.0.0:11435", "my-laptop", "[::2]:1"],
)
@pytest.mark.parametrize(("path", "dialect"), [("/api/chat", "native"), ("/v1/models", "openai")])
async def test_foreign_host_is_refused_in_the_routes_dialect(
    proxy: ProxyService, sim: Sim, host: str, path: str, dialect: str
) -> None:
    status, _, raw = await call(
        proxy,
        "POST" if dialect == "native" else "GET",
        path,
        headers={"Host": host},
        body=CHAT if dialect == "native" else None,
    )
    assert status == 403
    error = json.loads(raw)["error"]
    message = error if dialect == "native" else error["message"]
    assert "Host" in message
    assert upstream_calls(sim) == 0


@pytest.mark.parametrize("host", ["localhost:11435", "127.0.0.1:9", "[::1]:11435", "LOCALHOST"])
async def test_loopback_hosts_are_served(proxy: ProxyService, host: str) -> None:
    status, _, _ = await call(proxy, "GET", "/api/version", headers={"Host": host})
    assert status == 200


async def raw_exchange(service: ProxyService, request: bytes) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection(*service.address)
    try:
        writer.write(request)
        reply = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    head, _, body = reply.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


@pytest.mark.parametrize(
    ("target", "host", "status"),
    [
        ("http://evil.test/api/chat", "localhost", 403),  # the target's name is judged
        ("http://evil.test:11435/v1/models", "127.0.0.1", 403),
        ("http://localhost/api/chat", "evil.test", 403),  # and so is the header
        ("http://127.0.0.1:11435/api/chat", "localhost", 200),
    ],
)
async def test_an_absolute_form_target_names_the_host_too(
    proxy: ProxyService, sim: Sim, target: str, host: str, status: int
) -> None:
    """RFC 9112 §3.2.2: the authority of an absolute-form target overrides Host, and
    Ollama's own server judges that one; the proxy must not let it through on a loopback
    Host header."""
    body = json.dumps(CHAT).encode()
    method = "GET" if target.endswith("/models") else "POST"
    head = (
        f"{method} {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    got, raw = await raw_exchange(proxy, head.encode() + body)
    assert got == status, raw
    if status == 403:
        assert b"Host" in raw and upstream_calls(sim) == 0


def test_host_name_parsing() -> None:
    assert host_name("LocalHost:11435") == "localhost"
    assert host_name("[::1]:8080") == "::1"
    assert host_name("127.0.0.1") == "127.0.0.1"
    assert host_name("example.com.") == "example.com"


@pytest.mark.parametrize(
    "origin",
    ["https://evil.example", "null", "http://localhost.evil.example", "chrome-extension://x"],
)
async def test_foreign_origin_is_refused_without_cors(
    proxy: ProxyService, sim: Sim, origin: str
) -> None:
    status, headers, raw = await call(
        proxy, "POST", "/api/chat", headers={"Origin": origin}, body=CHAT
    )
    assert status == 403 and "Access-Control-Allow-Origin" not in headers
    assert "origin" in json.loads(raw)["error"]
    status, headers, _ = await call(
        proxy,
        "OPTIONS",
        "/v1/chat/completions",
        headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
    )
    assert status == 403 and "Access-Control-Allow-Origin" not in headers
    assert upstream_calls(sim) == 0


@pytest.mark.parametrize(
    "origin",
    [
        "http://localhost:3000",
        "https://127.0.0.1",
        "http://0.0.0.0:8080",
        "vscode-webview://1a2b3c",
        "vscode-file://vscode-app",
        "app://obsidian.md",
        "tauri://localhost",
        "file://",
    ],
)
async def test_allowed_origin_gets_cors_and_preflight(proxy: ProxyService, origin: str) -> None:
    status, headers, _ = await call(
        proxy,
        "OPTIONS",
        "/v1/chat/completions",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert status == 204
    assert headers["Access-Control-Allow-Origin"] == origin  # echoed, never *
    assert "POST" in headers["Access-Control-Allow-Methods"]
    assert headers["Access-Control-Allow-Headers"] == "authorization, content-type"
    status, headers, raw = await call(
        proxy, "POST", "/api/chat", headers={"Origin": origin}, body=CHAT
    )
    assert status == 200 and headers["Access-Control-Allow-Origin"] == origin
    assert "X-Cache" in headers["Access-Control-Expose-Headers"]


async def test_streamed_replies_carry_cors_too(proxy: ProxyService) -> None:
    status, headers, _ = await call(
        proxy,
        "POST",
        "/api/chat",
        headers={"Origin": "http://localhost:5173"},
        body={**CHAT, "stream": True},
    )
    assert status == 200 and headers["Access-Control-Allow-Origin"] == "http://localhost:5173"


@pytest.mark.parametrize(
    ("method", "path", "body", "expected"),
    [
        ("POST", "/v1/chat/completions", {"model": 3}, 400),  # refused by the dialect
        ("POST", "/api/pull", {"model": "x"}, 403),  # refused by the guard
        ("GET", "/no/such/route", None, 404),  # refused by aiohttp's router
        ("POST", "/api/chat", {**CHAT, "model": "no-such-model"}, 404),  # Ollama's error
    ],
)
async def test_an_allowed_page_can_read_the_errors_too(
    proxy: ProxyService, method: str, path: str, body: object, expected: int
) -> None:
    origin = "http://localhost:5173"
    status, headers, _ = await call(proxy, method, path, headers={"Origin": origin}, body=body)
    assert status == expected
    assert headers["Access-Control-Allow-Origin"] == origin
    assert headers["Vary"] == "Origin"


async def test_extra_origins_setting(sim: Sim, tmp_path: Path) -> None:
    service = ProxyService(
        make_settings(
            tmp_path, sim.url, allowed_origins="chrome-extension://abc*, https://ide.example"
        )
    )
    await service.start()
    try:
        for origin, expected in [
            ("chrome-extension://abcdef", 200),
            ("https://ide.example", 200),
            ("chrome-extension://zzz", 403),
        ]:
            status, _, _ = await call(service, "GET", "/api/version", headers={"Origin": origin})
            assert status == expected, origin
    finally:
        await service.stop()


@pytest.fixture
async def locked(sim: Sim, tmp_path: Path) -> AsyncIterator[ProxyService]:
    async with serving(make_settings(tmp_path, sim.url, require_token=True)) as service:
        yield service


@pytest.mark.parametrize(
    "path", ["/api/tags", "/v1/models", "/healthz", "/metrics", "/_proxy/cache"]
)
async def test_token_is_required_on_every_route(locked: ProxyService, sim: Sim, path: str) -> None:
    token = locked.access_token
    for headers in (
        {},
        {"Authorization": "Bearer wrong-token-0123456789"},
        {"Authorization": token},
    ):
        status, response_headers, raw = await call(locked, "GET", path, headers=headers)
        assert status == 401, headers
        assert response_headers["WWW-Authenticate"].startswith("Bearer")
        body = json.loads(raw)
        assert "token" in (body["error"]["message"] if path.startswith("/v1") else body["error"])
    assert upstream_calls(sim) == 0
    status, _, _ = await call(locked, "GET", path, headers={"Authorization": f"Bearer {token}"})
    assert status == 200


async def test_token_is_per_install_private_and_never_logged(
    locked: ProxyService, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    token = locked.access_token
    token_file = locked.settings.data_dir / TOKEN_FILE
    assert token_file.read_text().strip() == token and len(token) >= 32
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    with caplog.at_level(logging.DEBUG):
        await call(
            locked, "POST", "/api/chat", headers={"Authorization": f"Bearer {token}"}, body=CHAT
        )
        await call(
            locked, "GET", "/api/tags", headers={"Authorization": "Bearer not-it-0123456789"}
        )
    assert token not in caplog.text
    # The same install keeps its token across restarts.
    again = ProxyService(locked.settings)
    await again.start()
    try:
        assert again.access_token == token
    finally:
        await again.stop()


async def test_configured_token_wins(sim: Sim, tmp_path: Path) -> None:
    service = ProxyService(
        make_settings(tmp_path, sim.url, require_token=True, access_token="team-token-0123456789")
    )
    await service.start()
    try:
        headers = {"Authorization": "Bearer team-token-0123456789"}
        assert (await call(service, "GET", "/api/version", headers=headers))[0] == 200
    finally:
        await service.stop()


def test_a_non_loopback_address_always_needs_a_token(tmp_path: Path) -> None:
    assert token_required(ProxySettings(host="0.0.0.0", data_dir=tmp_path))
    assert token_required(ProxySettings(host="192.168.1.20", data_dir=tmp_path))
    assert not token_required(ProxySettings(host="127.0.0.1", data_dir=tmp_path))
    assert not token_required(ProxySettings(host="::1", data_dir=tmp_path))


async def test_lan_binding_needs_token_and_checks_allowed_hosts(sim: Sim, tmp_path: Path) -> None:
    service = ProxyService(
        make_settings(tmp_path, sim.url, host="0.0.0.0", allowed_hosts="proxy.lan, *.corp.example")
    )
    await service.start()
    try:
        auth = {"Authorization": f"Bearer {service.access_token}"}
        assert (await call(service, "GET", "/api/version"))[0] == 401
        for host, expected in [
            ("proxy.lan:11435", 200),
            ("dev.corp.example", 200),
            ("127.0.0.1", 200),
            ("evil.test", 403),
        ]:
            status, _, _ = await call(
                service, "GET", "/api/version", headers={**auth, "Host": host}
            )
            assert status == expected, host
    finally:
        await service.stop()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/pull"),
        ("POST", "/api/push"),
        ("POST", "/api/create"),
        ("POST", "/api/copy"),
        ("DELETE", "/api/delete"),
        ("POST", "/api/blobs/sha256:" + "0" * 64),
        ("HEAD", "/api/blobs/sha256:" + "0" * 64),
    ],
)
async def test_model_management_is_off_by_default(
    proxy: ProxyService, sim: Sim, method: str, path: str
) -> None:
    status, _, raw = await call(proxy, method, path, body={"model": "llama3.2"})
    assert status == 403
    if method != "HEAD":
        assert "allow_model_management" in json.loads(raw)["error"]
    assert upstream_calls(sim) == 0


@pytest.mark.parametrize(
    ("method", "target"),
    [
        ("DELETE", "//api/delete"),
        ("DELETE", "/api//delete"),
        ("DELETE", "/api/./delete"),
        ("DELETE", "/x/../api/delete"),
        ("DELETE", "/api/delete/"),
        ("DELETE", "/api/%64elete"),
        ("POST", "/api/pull%2f"),
        ("POST", "/api/%2e/pull"),
        ("POST", "/%61pi/create"),
        ("POST", "/api//blobs/sha256:" + "0" * 64),
        ("POST", "/api/copy?x=1"),
    ],
)
async def test_model_management_is_judged_by_the_path_forwarded(
    proxy: ProxyService, sim: Sim, method: str, target: str
) -> None:
    """The pass-through forwards the normalized path (``//api/delete`` reaches Ollama as
    ``/api/delete``), so the guard must judge that path, not the one the client spelled."""
    body = json.dumps({"model": "llama3.2"}).encode()
    head = (
        f"{method} {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    status, raw = await raw_exchange(proxy, head.encode() + body)
    assert status == 403, raw
    assert "allow_model_management" in json.loads(raw)["error"]
    assert upstream_calls(sim) == 0


async def test_listed_hosts_are_accepted_on_loopback_for_docker_desktop(
    sim: Sim, tmp_path: Path
) -> None:
    """Open WebUI in Docker reaches the host as host.docker.internal (README recipe)."""
    service = ProxyService(
        make_settings(tmp_path, sim.url, allowed_hosts="host.docker.internal", require_token=True)
    )
    await service.start()
    try:
        auth = {"Authorization": f"Bearer {service.access_token}"}
        ok = await call(
            service, "GET", "/api/tags", headers={"Host": "host.docker.internal:11435", **auth}
        )
        evil = await call(service, "GET", "/api/tags", headers={"Host": "evil.test", **auth})
    finally:
        await service.stop()
    assert ok[0] == 200
    assert evil[0] == 403
