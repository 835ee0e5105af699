"""Issue 24, the inspector and ``/_proxy/*``: no secret in any field, readable only by
this user (the token when required; never by pages of other origins), and no simple
cross-site POST (``text/plain``) changes anything."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest

from proxy_core import ProxyService, ProxySettings
from tests.conftest import Sim, make_settings

SECRET = "sk-secret-fedcba9876543210"
ROUTES = ["/_proxy/requests", "/_proxy/cache", "/metrics", "/healthz"]


@pytest.fixture
async def locked(sim: Sim, tmp_path: Path) -> ProxyService:
    service = ProxyService(make_settings(tmp_path, sim.url, require_token=True))
    await service.start()
    yield service  # type: ignore[misc]
    await service.stop()


async def test_no_secret_reaches_any_field_of_the_inspector(
    proxy: ProxyService, http: aiohttp.ClientSession
) -> None:
    headers = {
        "Authorization": f"Bearer {SECRET}",
        "x-api-key": SECRET,
        "anthropic-api-key": SECRET,
        "OpenAI-Api-Key": SECRET,
        "x-goog-api-key": SECRET,
        "api-key": SECRET,
        "Cookie": f"session={SECRET}",
        "X-Vendor-Token": SECRET,
    }
    body = {"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}], "stream": False}
    for path in ("/api/chat", "/v1/chat/completions"):
        async with http.post(
            proxy.base_url + path + f"?key={SECRET}", json=body, headers=headers
        ) as resp:
            assert resp.status == 200
    async with http.get(proxy.base_url + "/_proxy/requests") as resp:
        text = await resp.text()
    assert SECRET not in text
    records = json.loads(text)["requests"]
    assert all(r["request_headers"].get("x-goog-api-key") == "<redacted>" for r in records[:2])
    assert proxy.state is not None
    for record in proxy.state.requests.latest(10):
        assert SECRET not in record.curl(proxy.base_url)
    async with http.get(proxy.base_url + "/metrics") as resp:
        assert SECRET not in await resp.text()


@pytest.mark.parametrize("path", ROUTES)
async def test_admin_routes_need_the_token_when_it_is_required(
    locked: ProxyService, http: aiohttp.ClientSession, path: str
) -> None:
    async with http.get(locked.base_url + path) as resp:
        assert resp.status == 401
    good = {"Authorization": f"Bearer {locked.access_token}"}
    async with http.get(locked.base_url + path, headers=good) as resp:
        assert resp.status == 200


@pytest.mark.parametrize("method", ["GET", "DELETE"])
@pytest.mark.parametrize("path", ["/_proxy/requests", "/_proxy/cache"])
async def test_pages_of_other_origins_are_refused_even_with_the_token(
    locked: ProxyService, http: aiohttp.ClientSession, method: str, path: str
) -> None:
    headers = {
        "Authorization": f"Bearer {locked.access_token}",
        "Origin": "https://evil.example",
    }
    async with http.request(method, locked.base_url + path, headers=headers) as resp:
        assert resp.status == 403
        assert "Access-Control-Allow-Origin" not in resp.headers


@pytest.mark.parametrize(
    "path",
    ["/api/chat", "/v1/chat/completions", "/v1/messages", "/v1/responses", "/api/pull",
     "/_proxy/cache", "/mcp", "/api/delete"],
)  # fmt: skip
@pytest.mark.parametrize("origin", ["https://evil.example", "null", "http://localhost.evil"])
async def test_simple_cross_site_posts_change_nothing(
    proxy: ProxyService, sim: Sim, http: aiohttp.ClientSession, path: str, origin: str
) -> None:
    body = '{"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}]}'
    headers = {"Content-Type": "text/plain", "Origin": origin}
    async with http.post(proxy.base_url + path, data=body, headers=headers) as resp:
        assert resp.status == 403
    assert sim.recorder.requests == []


async def test_a_password_in_a_url_setting_is_redacted(tmp_path: Path) -> None:
    settings = ProxySettings(
        ollama_url=f"http://me:{SECRET}@gpu.lan:11434",
        cache_url=f"redis://:{SECRET}@cache.lan:6379/0",
        openai_upstreams=f"vllm=http://u:{SECRET}@vllm.lan:8000",
        data_dir=tmp_path,
    )
    shown = json.dumps(settings.to_json(redact=True))
    assert SECRET not in shown and "cache.lan" in shown and "vllm.lan" in shown
