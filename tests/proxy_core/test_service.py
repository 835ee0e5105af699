"""ProxyService lifecycle: re-apply settings at run time, graceful stop, metrics."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp
from aiohttp.test_utils import TestServer
from prometheus_client.parser import text_string_to_metric_families

from proxy_core import ProxyService
from tests.conftest import Sim, make_settings
from tests.fakes.ollama_sim import SIM_RECORDER, create_sim_app


async def test_apply_rebinds_and_swaps_upstream(sim: Sim, tmp_path: Path) -> None:
    service = ProxyService(make_settings(tmp_path, sim.url))
    await service.start()
    other = TestServer(create_sim_app())
    await other.start_server()
    try:
        await service.apply(service.settings.replace(port=0, ollama_url=str(other.make_url(""))))
        async with aiohttp.ClientSession() as http:
            async with http.get(service.base_url + "/api/version") as resp:
                assert resp.status == 200
        assert len(other.app[SIM_RECORDER].requests) == 1
        assert sim.recorder.requests == []
    finally:
        await service.stop()
        await other.close()


async def test_stop_lets_an_inflight_stream_finish(sim: Sim, tmp_path: Path) -> None:
    sim.config.token_delay = 0.05
    service = ProxyService(make_settings(tmp_path, sim.url))
    await service.start()
    async with aiohttp.ClientSession() as http:
        resp = await http.post(
            service.base_url + "/api/chat",
            json={"model": "llama3.2", "messages": [{"role": "user", "content": "a b c"}]},
        )
        await resp.content.readline()
        stopping = asyncio.ensure_future(service.stop())
        raw = await resp.read()
        await stopping
    assert json.loads(raw.splitlines()[-1])["done"] is True


async def test_metrics_exposition_moves_with_requests(proxy: ProxyService) -> None:
    async def scrape() -> dict[str, float]:
        async with aiohttp.ClientSession() as http:
            async with http.get(proxy.base_url + "/metrics") as resp:
                text = await resp.text()
        values: dict[str, float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if (
                    sample.name == "proxy_request_duration_seconds_count"
                    and sample.labels["route"] == "/api/chat"
                ):
                    values["chat"] = values.get("chat", 0) + sample.value
                if sample.name == "proxy_tokens_total":
                    values["tokens"] = values.get("tokens", 0) + sample.value
        return values

    before = await scrape()
    async with aiohttp.ClientSession() as http:
        for _ in range(3):
            async with http.post(
                proxy.base_url + "/api/chat",
                json={"model": "llama3.2", "messages": [{"role": "user", "content": "m"}]},
            ) as resp:
                await resp.read()
    after = await scrape()
    assert after["chat"] - before.get("chat", 0) == 3
    assert after["tokens"] > before.get("tokens", 0)
    snapshot = proxy.metrics_snapshot()
    assert snapshot is not None and snapshot.requests >= 3


async def test_model_labels_are_bounded_to_models_ollama_reports(proxy: ProxyService) -> None:
    assert proxy.state is not None
    metrics = proxy.state.metrics
    assert metrics.model_label("llama3.2:latest") == "other"
    async with aiohttp.ClientSession() as http:
        async with http.get(proxy.base_url + "/api/tags") as resp:
            assert resp.status == 200
    assert metrics.model_label("llama3.2:latest") == "llama3.2:latest"
    assert metrics.model_label("LLAMA3.2") == "llama3.2:latest"  # one label per model
    assert metrics.model_label("made-up-by-a-client") == "other"


def test_every_setting_says_what_a_change_of_it_touches() -> None:
    from proxy_core.settings import SCOPES, SPECS

    assert {spec.scope for spec in SPECS.values()} <= SCOPES
    assert SPECS["engines"].scope == SPECS["ollama_url"].scope == "engines"


async def test_a_new_engines_value_swaps_the_engines_while_running(
    sim: Sim, tmp_path: Path
) -> None:
    """Scope "engines": the router is rebuilt from the new list (the engines setting too)."""
    from aiohttp.test_utils import TestServer

    from tests.fakes.openai_server import FakeState, create_app

    fake = TestServer(create_app(FakeState()))
    await fake.start_server()
    service = ProxyService(make_settings(tmp_path, sim.url))
    await service.start()
    try:
        assert service.state is not None and service.state.router.single
        url = str(fake.make_url("")).rstrip("/")
        await service.apply(service.settings.replace(engines=f"openai:local={url}"))
        kinds = [b.client.kind for b in service.state.router.backends]
        assert kinds == ["ollama", "openai"]
    finally:
        await service.stop()
        await fake.close()
