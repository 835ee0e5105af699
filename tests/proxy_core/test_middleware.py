"""The request boundary's log line: one at debug, none at info, never the prompt."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

import aiohttp
import pytest

from proxy_core import ProxyService
from tests.conftest import Sim, make_settings
from tests.fakes.ollama_sim import FaultyReply

SECRET = "my-very-private-prompt"


async def _chat(proxy: ProxyService) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(
            proxy.base_url + "/api/chat",
            json={"model": "llama3.2", "messages": [{"role": "user", "content": SECRET}]},
        ) as resp:
            await resp.read()


async def test_one_debug_line_per_request(
    proxy: ProxyService, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="proxy_core.middleware"):
        await _chat(proxy)
    lines = [r.getMessage() for r in caplog.records if r.name == "proxy_core.middleware"]
    assert len(lines) == 1
    (line,) = lines
    for part in ("route=/api/chat", "model=llama3.2", "status=200", "cache=", "duration_ms="):
        assert part in line
    assert "ttfb_ms=" in line and "ttfb_ms=-" not in line
    assert SECRET not in caplog.text


async def test_nothing_per_request_at_info(
    proxy: ProxyService, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        await _chat(proxy)
    assert [r for r in caplog.records if r.name.startswith("proxy_core")] == []


async def test_bodies_only_with_the_debug_setting(
    sim: Sim, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    service = ProxyService(make_settings(tmp_path, sim.url, log_bodies=True))
    await service.start()
    try:
        with caplog.at_level(logging.DEBUG, logger="proxy_core.middleware"):
            await _chat(service)
    finally:
        await service.stop()
    assert SECRET in caplog.text


async def _debug_line(
    service: ProxyService, caplog: pytest.LogCaptureFixture, method: str, path: str, **kw: object
) -> str:
    with caplog.at_level(logging.DEBUG, logger="proxy_core.middleware"):
        async with aiohttp.ClientSession() as http:
            async with http.request(method, service.base_url + path, **kw) as resp:  # type: ignore[arg-type]
                await resp.read()
    lines = [r.getMessage() for r in caplog.records if r.name == "proxy_core.middleware"]
    caplog.clear()
    return lines[-1]


async def test_pass_through_lines_name_the_real_path_never_the_query(
    proxy: ProxyService, caplog: pytest.LogCaptureFixture
) -> None:
    line = await _debug_line(proxy, caplog, "GET", "/api/tags?secret=abc")
    assert "GET /api/tags " in line and "secret" not in line
    line = await _debug_line(proxy, caplog, "POST", "/api/show", json={"model": "llama3.2"})
    assert "POST /api/show " in line


@pytest.mark.parametrize(
    ("changes", "headers", "path", "rule"),
    [
        ({"require_token": True, "access_token": "t" * 20}, {}, "/api/tags", "token"),
        ({}, {"Host": "evil.example"}, "/api/tags", "host"),
        ({}, {"Origin": "https://evil.example"}, "/api/tags", "origin"),
        ({}, {}, "/api/pull", "model_management"),
        ({"max_body_size": 10}, {}, "/api/show", "max_body_size"),
    ],
)
async def test_a_refusal_says_which_rule_refused(
    sim: Sim,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    changes: dict[str, object],
    headers: dict[str, str],
    path: str,
    rule: str,
) -> None:
    service = ProxyService(make_settings(tmp_path, sim.url, **changes))
    await service.start()
    try:
        line = await _debug_line(
            service, caplog, "POST", path, headers=headers, json={"model": "x" * 20}
        )
    finally:
        await service.stop()
    assert f"refused_by={rule}" in line and f"POST {path} " in line


async def test_the_upstream_session_keeps_no_cookies(
    sim: Sim, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    # By name: aiohttp's default jar ignores cookies from IP-address hosts anyway.
    by_name = sim.url.replace("127.0.0.1", "localhost")
    service = ProxyService(make_settings(tmp_path, by_name))
    await service.start()
    sim.config.override_replies["/api/version"] = FaultyReply(
        [b'{"version":"x"}'], headers={"Set-Cookie": "session=client-a; Path=/"}
    )
    try:
        async with http.get(service.base_url + "/api/version") as resp:
            await resp.read()
        del sim.config.override_replies["/api/version"]
        async with aiohttp.ClientSession() as other_client:
            async with other_client.get(service.base_url + "/api/version") as resp:
                assert resp.status == 200
    finally:
        await service.stop()
    assert "Cookie" not in sim.recorder.requests[-1].headers


async def test_polling_the_proxys_own_routes_is_not_traffic(
    proxy: ProxyService, http: aiohttp.ClientSession
) -> None:
    """The app marks its own routes (admin.ROUTES) for the recorder: a dashboard or a
    scraper polling them adds no request to the dashboard's counts; a generation does."""
    for path in ("/healthz", "/metrics", "/_proxy/cache", "/_proxy/requests"):
        async with http.get(proxy.base_url + path) as resp:
            assert resp.status == 200
    snapshot = proxy.metrics_snapshot()
    assert snapshot is not None and snapshot.requests == 0
    async with http.get(proxy.base_url + "/api/tags") as resp:
        assert resp.status == 200
    snapshot = proxy.metrics_snapshot()
    assert snapshot is not None and snapshot.requests == 1


@pytest.mark.parametrize("target", ["/api/chat", "/api/chat?through=aiohttp"])
async def test_an_error_after_a_stream_began_closes_it_and_writes_no_second_reply(
    proxy: ProxyService,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    target: str,
) -> None:
    """Once a stream's head and chunks are out, an unexpected error cannot become a 500
    reply: one written then lands inside the chunked body (a second status line the
    client reads as garbage). The stream is cut instead, and the error logged, on the
    short path (front.py) and on aiohttp's own (a query string takes it)."""

    def broken(*_: object) -> None:
        raise RuntimeError("a bug after the last chunk")

    monkeypatch.setattr("proxy_core.dialects.native._observe_final", broken)
    body = b'{"model":"llama3.2","messages":[{"role":"user","content":"hi"}]}'
    head = f"POST {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n\r\n"
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.address[1])
    writer.write(head.encode() + body)
    got = b""
    closed = False
    with caplog.at_level(logging.ERROR, logger="proxy_core.middleware"):
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                while chunk := await reader.read(65536):
                    got += chunk
                closed = True
    writer.close()
    assert closed, got[-400:]  # the proxy closed the connection: a cut reply is not kept alive
    assert got.startswith(b"HTTP/1.1 200 OK\r\n") and b'"done":false' in got
    assert got.count(b"HTTP/1.1") == 1, got[-300:]
    assert not got.endswith(b"0\r\n\r\n")  # no end of body: the client sees a cut reply
    assert "a bug after the last chunk" in caplog.text
