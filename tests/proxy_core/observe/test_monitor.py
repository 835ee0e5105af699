"""The background monitor inside a running ProxyService."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from proxy_core import ProxyService
from proxy_core.observe.recorder import MetricsSnapshot
from tests.conftest import Sim, make_settings


async def wait_for(
    service: ProxyService, ready: Callable[[MetricsSnapshot], bool]
) -> MetricsSnapshot:
    for _ in range(200):
        snap = service.metrics_snapshot()
        if snap is not None and ready(snap):
            return snap
        await asyncio.sleep(0.02)
    raise AssertionError("the monitor never produced the expected snapshot")


async def scrape(service: ProxyService) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    async with aiohttp.ClientSession() as http:
        async with http.get(service.base_url + "/metrics") as resp:
            text = await resp.text()
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


async def test_monitor_fills_snapshot_and_gauges(sim: Sim, tmp_path: Path) -> None:
    service = ProxyService(make_settings(tmp_path, sim.url, monitor_interval=0.05))
    await service.start()
    try:
        snap = await wait_for(service, lambda s: s.hardware is not None and s.ollama is not None)
        assert snap.ollama is not None and snap.ollama.reachable
        assert snap.ollama.version and snap.ollama.loaded  # the simulator has one loaded
        # Installed sizes from /api/tags, for "do my models fit" on the dashboard.
        assert dict(snap.ollama.sizes)["llama3.2:latest"] == 2_019_393_189
        assert snap.hardware is not None and snap.hardware.proxy.status == "running"
        # Model labels are known from the start, before any client listed the models.
        assert service.state is not None
        assert service.state.metrics.model_label("llama3.2") == "llama3.2:latest"
        metrics = await scrape(service)
        assert metrics["proxy_ollama_up"][()] == 1
        assert (("item", "cpu"),) in metrics["proxy_spec_verdict"]
        assert metrics["proxy_host_memory_bytes"][(("kind", "total"),)] > 0
        assert metrics["proxy_process_rss_bytes"][(("process", "proxy"),)] > 0
    finally:
        await service.stop()


async def test_monitor_reports_ollama_down_and_back(sim: Sim, tmp_path: Path) -> None:
    dead = "http://127.0.0.1:9"  # discard port: nothing listens
    service = ProxyService(make_settings(tmp_path, dead, monitor_interval=0.05))
    await service.start()
    try:
        snap = await wait_for(service, lambda s: s.ollama is not None)
        assert snap.ollama is not None and not snap.ollama.reachable and snap.ollama.error
        assert (await scrape(service))["proxy_ollama_up"][()] == 0
        await service.apply(service.settings.replace(ollama_url=sim.url))  # Ollama is back
        snap = await wait_for(service, lambda s: s.ollama is not None and s.ollama.reachable)
        assert snap.ollama is not None and snap.ollama.error is None
    finally:
        await service.stop()


async def test_monitor_off_means_no_background_work(proxy: ProxyService, sim: Sim) -> None:
    await asyncio.sleep(0.1)
    snap = proxy.metrics_snapshot()
    assert snap is not None and snap.hardware is None and snap.ollama is None
    assert sim.recorder.requests == []
