"""Issue 16 item 8: the request inspector's ring buffer and GET /_proxy/requests."""

from __future__ import annotations

import aiohttp
import ollama
import openai

from proxy_core import ProxyService
from proxy_core.observe.requests_log import RequestLog
from tests.conftest import Sim


async def recent(http: aiohttp.ClientSession, proxy: ProxyService, limit: int = 10) -> list[dict]:  # type: ignore[type-arg]
    async with http.get(proxy.base_url + f"/_proxy/requests?limit={limit}") as resp:
        assert resp.status == 200
        return list((await resp.json())["requests"])


async def test_a_generation_is_recorded_with_its_facts_and_no_secrets(
    proxy: ProxyService, sim: Sim, http: aiohttp.ClientSession
) -> None:
    client = ollama.AsyncClient(
        host=proxy.base_url, headers={"Authorization": "Bearer s3cret-value"}
    )
    await client.chat("llama3.2", [{"role": "user", "content": "inspect me"}])
    [row] = [r for r in await recent(http, proxy) if r["path"] == "/api/chat"]
    assert row["dialect"] == "native" and row["method"] == "POST" and row["status"] == 200
    assert row["model"] == "llama3.2" and row["cache"] == "BYPASS"
    assert row["prompt_tokens"] > 0 and row["completion_tokens"] > 0 and row["ttfb_ms"] >= 0
    assert row["duration_ms"] >= row["ttfb_ms"]
    assert row["request_headers"]["Authorization"] == "<redacted>"
    assert "s3cret-value" not in str(row)
    assert row["request_body"] is None  # bodies only with log_bodies


async def test_dialects_and_streams_are_recorded_newest_first(
    proxy: ProxyService, sim: Sim, http: aiohttp.ClientSession
) -> None:
    client = openai.AsyncOpenAI(base_url=proxy.base_url + "/v1", api_key="x", max_retries=0)
    stream = await client.chat.completions.create(
        model="llama3.2",
        messages=[{"role": "user", "content": "streamed"}],
        stream=True,
    )
    async for _ in stream:
        pass
    await client.models.list()
    await client.close()
    rows = await recent(http, proxy)
    assert [r["path"] for r in rows[:2]] == ["/v1/models", "/v1/chat/completions"]
    assert rows[1]["dialect"] == "openai" and rows[1]["completion_tokens"] > 0
    assert rows[1]["client"] == "openai-python"


async def test_a_bad_limit_is_a_clear_error(
    proxy: ProxyService, http: aiohttp.ClientSession
) -> None:
    async with http.get(proxy.base_url + "/_proxy/requests?limit=lots") as resp:
        assert resp.status == 400 and "limit" in (await resp.json())["error"]


def test_size_zero_keeps_nothing() -> None:
    log = RequestLog(0)
    assert not log.enabled and log.latest(5) == []
