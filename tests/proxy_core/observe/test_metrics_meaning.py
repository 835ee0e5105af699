"""Issue 19 item 4: metrics that say what happened, scraped from /metrics as an operator
would: upstream failures by kind, tokens by kind equal to Ollama's counts, clients that
leave counted as 499, the proxy's own 500s counted as errors, in-flight back to 0."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from proxy_core import ProxyService
from proxy_core.dialects.openai import response_map
from tests.conftest import Sim, make_settings
from tests.fakes.ollama_sim import FaultyReply

CHAT = {"model": "llama3.2", "messages": [{"role": "user", "content": "count my tokens"}]}


async def scrape(service: ProxyService) -> list[tuple[str, dict[str, str], float]]:
    async with aiohttp.ClientSession() as http:
        async with http.get(service.base_url + "/metrics") as resp:
            text = await resp.text()
    return [
        (s.name, dict(s.labels), s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
    ]


def value(samples: list[tuple[str, dict[str, str], float]], name: str, **labels: str) -> float:
    return sum(
        v for n, lab, v in samples if n == name and all(lab.get(k) == x for k, x in labels.items())
    )


async def started(sim_url: str, tmp_path: Path, **changes: object) -> ProxyService:
    service = ProxyService(make_settings(tmp_path, sim_url, **changes))
    await service.start()
    return service


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


async def test_ollama_down_counts_an_unavailable_error(tmp_path: Path) -> None:
    service = await started(closed_port_url(), tmp_path)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.post(service.base_url + "/api/chat", json=CHAT) as resp:
                assert resp.status == 502
        samples = await scrape(service)
    finally:
        await service.stop()
    assert value(samples, "proxy_upstream_errors_total", kind="UpstreamUnavailable") == 1
    assert value(samples, "proxy_upstream_errors_total", kind="UpstreamTimeout") == 0


async def test_a_slow_ollama_counts_a_timeout(sim: Sim, tmp_path: Path) -> None:
    sim.config.header_delay = 1.0
    service = await started(sim.url, tmp_path, read_timeout=0.2)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.post(service.base_url + "/api/chat", json=CHAT) as resp:
                assert resp.status == 504
        samples = await scrape(service)
    finally:
        await service.stop()
    assert value(samples, "proxy_upstream_errors_total", kind="UpstreamTimeout") == 1


async def test_a_connection_lost_mid_stream_counts_an_error(sim: Sim, tmp_path: Path) -> None:
    async def breaks() -> AsyncIterator[bytes]:
        yield b'{"model":"llama3.2","message":{"role":"assistant","content":"a"},"done":false}\n'
        raise ConnectionResetError("simulated crash")  # the sim drops the connection

    sim.config.override_replies["/api/chat"] = FaultyReply(
        breaks(), content_type="application/x-ndjson"
    )
    service = await started(sim.url, tmp_path)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.post(service.base_url + "/api/chat", json=CHAT) as resp:
                raw = await resp.read()
        samples = await scrape(service)
    finally:
        await service.stop()
    assert b'"error"' in raw.splitlines()[-1]
    assert value(samples, "proxy_upstream_errors_total", kind="UpstreamUnavailable") == 1


async def test_token_counts_by_kind_equal_ollamas(proxy: ProxyService, sim: Sim) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(proxy.base_url + "/api/tags") as resp:  # learn the model label
            await resp.read()
        async with http.post(proxy.base_url + "/api/chat", json={**CHAT, "stream": False}) as r:
            native = json.loads(await r.read())
        body = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}
        async with http.post(proxy.base_url + "/v1/chat/completions", json=body) as r:
            sse = await r.read()
    usage = [json.loads(e[6:]) for e in sse.split(b"\n\n") if e.startswith(b"data: {")][-1]
    samples = await scrape(proxy)
    prompt = value(samples, "proxy_tokens_total", model="llama3.2:latest", kind="prompt")
    completion = value(samples, "proxy_tokens_total", model="llama3.2:latest", kind="completion")
    assert prompt == native["prompt_eval_count"] + usage["usage"]["prompt_tokens"]
    assert completion == native["eval_count"] + usage["usage"]["completion_tokens"]
    assert prompt != completion  # two counts, not one sum split in two


@pytest.mark.parametrize(
    ("path", "route"),
    [("/api/chat", "/api/chat"), ("/v1/chat/completions", "/v1/chat/completions")],
)
async def test_a_client_that_leaves_mid_stream_is_a_499(
    proxy: ProxyService, sim: Sim, path: str, route: str
) -> None:
    sim.config.token_delay = 0.05
    sim.config.reply_words = 200
    async with aiohttp.ClientSession() as http:
        resp = await http.post(proxy.base_url + path, json={**CHAT, "stream": True})
        await resp.content.readline()
        resp.close()  # the client goes away
    assert proxy.state is not None
    for _ in range(100):
        if proxy.state.metrics.snapshot().in_flight == 0:
            break
        await asyncio.sleep(0.05)
    samples = await scrape(proxy)
    count = "proxy_request_duration_seconds_count"
    assert value(samples, count, route=route, status_class="4xx") == 1
    assert value(samples, count, route=route, status_class="2xx") == 0


async def test_a_500_the_proxy_makes_itself_counts_as_an_error(
    proxy: ProxyService, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object, **__: object) -> dict[str, object]:
        raise RuntimeError("a bug in the proxy")

    monkeypatch.setattr(response_map, "model_object", broken)
    async with aiohttp.ClientSession() as http:
        async with http.get(proxy.base_url + "/v1/models") as resp:
            assert resp.status == 500
    samples = await scrape(proxy)
    count = "proxy_request_duration_seconds_count"
    assert value(samples, count, route="/v1/models", status_class="5xx") == 1
    assert proxy.metrics_snapshot() is not None
    assert proxy.metrics_snapshot().errors == 1  # type: ignore[union-attr]


async def test_in_flight_returns_to_zero(proxy: ProxyService, sim: Sim) -> None:
    sim.config.token_delay = 0.01
    async with aiohttp.ClientSession() as http:

        async def one(stream: bool) -> None:
            async with http.post(
                proxy.base_url + "/api/chat", json={**CHAT, "stream": stream}
            ) as r:
                await r.read()

        busy = asyncio.gather(*(one(i % 2 == 0) for i in range(8)))
        await asyncio.sleep(0.02)
        assert value(await scrape(proxy), "proxy_requests_in_flight") >= 1
        await busy
    snapshot = proxy.metrics_snapshot()
    assert snapshot is not None and snapshot.in_flight == 0
    # The exposition agrees: only the scrape itself is in flight while it renders.
    assert value(await scrape(proxy), "proxy_requests_in_flight") == 1
