"""Issue 24 item 2: one list of credential headers, used to redact (inspector, copy as
curl, logs) and to drop before any upstream request; keys in query strings and passwords
in URLs are never shown either. A test for each header."""

from __future__ import annotations

import logging

import aiohttp
import pytest

from proxy_core import ProxyService
from proxy_core.credentials import (
    drop_credential_params,
    is_credential_header,
    redact_query,
    redact_url,
)
from proxy_core.engines.base import map_error
from tests.conftest import Sim, make_settings

SECRET = "sk-live-0123456789abcdef"
# Headers clients are known to send keys in, and "any similar".
CREDENTIAL_HEADERS = [
    "Authorization",
    "Proxy-Authorization",
    "x-api-key",
    "api-key",  # Azure style, Copilot CLI's BYOK mode
    "x-goog-api-key",  # Gemini CLI
    "OpenAI-Api-Key",
    "anthropic-api-key",
    "Ocp-Apim-Subscription-Key",
    "X-Auth-Token",
    "X-Access-Token",
    "Cookie",
    "X-Custom-Secret",
    "X-Vendor-ApiKey",
    "X-Gateway-Password",
    "Mcp-Session-Id",
]
HARMLESS_HEADERS = ["User-Agent", "Content-Type", "Accept", "X-Request-Id", "Keep-Alive-Hint"]


@pytest.mark.parametrize("name", CREDENTIAL_HEADERS)
def test_each_credential_header_is_known(name: str) -> None:
    assert is_credential_header(name) and is_credential_header(name.upper())


@pytest.mark.parametrize("name", HARMLESS_HEADERS)
def test_ordinary_headers_are_not_credentials(name: str) -> None:
    assert not is_credential_header(name)


@pytest.fixture
def proxy_changes() -> dict[str, object]:
    return {"log_bodies": False}


@pytest.mark.parametrize("name", CREDENTIAL_HEADERS)
async def test_a_credential_never_reaches_ollama_nor_the_inspector(
    proxy: ProxyService, sim: Sim, http: aiohttp.ClientSession, name: str
) -> None:
    body = {"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}], "stream": False}
    headers = {name: SECRET if name != "Authorization" else f"Bearer {SECRET}"}
    if name.lower() in ("authorization", "x-api-key"):
        headers = {name: SECRET}  # not the proxy's token: it is not required here
    async with http.post(proxy.base_url + "/api/chat", json=body, headers=headers) as resp:
        assert resp.status == 200
    async with http.get(proxy.base_url + "/v1/models", headers=headers) as resp:
        assert resp.status == 200
    for request in sim.recorder.requests:
        sent = {k.lower(): v for k, v in request.headers.items()}
        assert name.lower() not in sent
        assert all(SECRET not in value for value in sent.values())
    async with http.get(proxy.base_url + "/_proxy/requests") as resp:
        text = await resp.text()
    assert SECRET not in text and "<redacted>" in text
    assert proxy.state is not None
    for record in proxy.state.requests.latest(10):
        assert SECRET not in record.curl(proxy.base_url)


async def test_a_key_in_the_query_string_is_not_forwarded_nor_recorded(
    proxy: ProxyService, sim: Sim, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    url = proxy.base_url + f"/api/tags?key={SECRET}&verbose=1"
    async with http.get(url, headers={"x-goog-api-key": SECRET}) as resp:
        assert resp.status == 200
    tags = sim.recorder.by_path("/api/tags")[-1]
    assert SECRET not in tags.query and "verbose=1" in tags.query
    async with http.get(proxy.base_url + "/_proxy/requests") as resp:
        assert SECRET not in await resp.text()
    assert SECRET not in caplog.text


def test_query_and_url_redaction() -> None:
    assert redact_query(f"alt=sse&key={SECRET}") == "alt=sse&key=<redacted>"
    assert drop_credential_params(f"alt=sse&key={SECRET}&api_key=x") == "alt=sse"
    assert (
        redact_url(f"redis://:{SECRET}@cache.lan:6379/0") == "redis://<redacted>@cache.lan:6379/0"
    )
    assert redact_url(f"http://me:{SECRET}@gpu.lan:11434") == "http://me:<redacted>@gpu.lan:11434"
    assert redact_url("http://gpu.lan:11434") == "http://gpu.lan:11434"
    assert SECRET not in str(map_error(ConnectionError("x"), f"http://me:{SECRET}@gpu.lan:1"))


async def test_healthz_and_errors_never_show_a_password_in_the_ollama_url(
    tmp_path: object, http: aiohttp.ClientSession, unused_tcp_port: int
) -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    url = f"http://user:{SECRET}@127.0.0.1:{unused_tcp_port}"
    service = ProxyService(make_settings(tmp_path, url))
    await service.start()
    try:
        async with http.get(service.base_url + "/healthz") as resp:
            health = await resp.text()
        body = {"model": "llama3.2", "prompt": "hi", "stream": False}
        async with http.post(service.base_url + "/api/generate", json=body) as resp:
            assert resp.status == 502
            error = await resp.text()
        async with http.post(service.base_url + "/v1/chat/completions", json=body) as resp:
            error += await resp.text()
    finally:
        await service.stop()
    assert SECRET not in health and "<redacted>" in health
    assert SECRET not in error
