"""Per-model figures for the Models panel (proxy_core/observe/model_stats.py)."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from proxy_core import ProxyService
from proxy_core.observe.model_stats import ModelCounts, model_figures
from tests.conftest import Sim, make_settings

BUCKETS = (0.1, 0.5, 1.0)


def test_figures_of_the_window_between_two_copies() -> None:
    before = {
        "llama3.2:latest": ModelCounts(
            generations=10,
            ttft_counts=(5, 5, 0, 0),
            completion_tokens=100,
            generation_seconds=10.0,
            contexts=((8192, "continue", 10),),
        )
    }
    now = {
        "llama3.2:latest": ModelCounts(
            generations=14,
            ttft_counts=(5, 6, 3, 0),
            truncations=1,
            queued=2,
            queue_seconds=0.5,
            completion_tokens=300,
            generation_seconds=12.0,
            contexts=((2048, "copilot", 1), (8192, "continue", 13)),
        ),
        "qwen:1b": ModelCounts(generations=1, ttft_counts=(1, 0, 0, 0)),
    }
    figures = model_figures(BUCKETS, before, now)
    llama = figures["llama3.2:latest"]
    assert llama.generations == 4 and llama.truncations == 1
    assert llama.ttft_p50 is not None and 0.5 < llama.ttft_p50 <= 1.0  # 1 in (0.1,0.5], 3 above
    assert llama.tokens_per_second == 100.0  # 200 tokens in 2 s
    assert llama.queue_wait == 0.25
    assert llama.contexts == (2048, 8192) and llama.reload_risk
    assert llama.clients == ("continue", "copilot")
    qwen = figures["qwen:1b"]
    assert qwen.generations == 1 and qwen.tokens_per_second is None and not qwen.reload_risk


async def test_requests_fill_the_per_model_counts(sim: Sim, tmp_path: Path) -> None:
    service = ProxyService(make_settings(tmp_path, sim.url))
    await service.start()
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(service.base_url + "/api/tags") as resp:  # learn the labels
                await resp.read()
            for ctx, agent, stream in (
                (8192, "Continue/1", True),
                (2048, "GitHubCopilotChat/0.3", False),
            ):
                body = {
                    "model": "llama3.2",
                    "stream": stream,
                    "options": {"num_ctx": ctx},
                    "messages": [{"role": "user", "content": "x"}],
                }
                async with http.post(
                    service.base_url + "/api/chat", json=body, headers={"User-Agent": agent}
                ) as resp:
                    await resp.read()
        snapshot = service.metrics_snapshot()
    finally:
        await service.stop()
    assert snapshot is not None
    counts = snapshot.models["llama3.2:latest"]
    assert counts.generations == 2 and sum(counts.duration_counts) == 2
    # Time to first token only where there is one to see: a whole reply's head comes
    # after its last token, so the non-streamed request has none.
    assert sum(counts.ttft_counts) == 1
    assert counts.completion_tokens > 0
    assert counts.contexts == ((2048, "copilot", 1), (8192, "continue", 1))
