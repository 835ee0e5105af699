"""Hand-made snapshots for the presenter and dashboard tests (and the screenshot)."""

from __future__ import annotations

import dataclasses

from proxy_core.observe.hardware import GpuUsage, HardwareSample, ProcessUsage
from proxy_core.observe.model_stats import ModelCounts
from proxy_core.observe.ollama_status import LoadedModel, OllamaStatus
from proxy_core.observe.recorder import LATENCY_BUCKETS, MetricsRecorder, MetricsSnapshot
from proxy_core.observe.specs import GB, Machine, assess


def hardware(*, gpus: bool = False, link: float | None = 1000.0) -> HardwareSample:
    return HardwareSample(
        taken=0.0,
        cpu_percent=37.0,
        per_core=(30.0, 44.0),
        load=(0.8, 0.6, 0.5),
        cores=2,
        ram_total=24 * GB,
        ram_used=9 * GB,
        ram_available=15 * GB,
        swap_total=0,
        swap_used=0,
        net_rx_mbps=12.5,
        net_tx_mbps=3.0,
        link_mbps=link,
        ssd=True,
        proxy=ProcessUsage("running", 4.0, 120_000_000),
        ollama=ProcessUsage("no permission"),
        gpus=(GpuUsage("RTX 4090", 63.0, 8 * GB, 24 * GB),) if gpus else (),
        assessment=assess(Machine(2, 24 * GB, link, True, ram_available=15 * GB)),
    )


OLLAMA_UP = OllamaStatus(
    0.0,
    True,
    version="0.12.3",
    loaded=(LoadedModel("llama3.2:latest", 3_400_000_000, 3_000_000_000),),
    models=("llama3.2:latest", "nomic-embed-text:latest", "llama3.3:70b"),
    sizes=(
        ("llama3.2:latest", 2_019_393_189),
        ("nomic-embed-text:latest", 274_302_450),
        ("llama3.3:70b", 42_520_413_916),
    ),
)


def _buckets(**by_bound: int) -> tuple[int, ...]:
    counts = [0] * (len(LATENCY_BUCKETS) + 1)
    for bound, count in by_bound.items():
        counts[LATENCY_BUCKETS.index(float(bound.lstrip("b").replace("_", ".")))] = count
    return tuple(counts)


def generations(requests: int) -> ModelCounts:
    """The half of ``requests`` that were not hits, all for llama3.2: first tokens in
    0.1-0.25 s (most) and 0.25-0.5 s, whole replies in 0.5-1 s and 1-2.5 s."""
    n = requests - requests // 2
    return ModelCounts(
        generations=n,
        ttft_counts=_buckets(b0_25=n - n // 4, b0_5=n // 4),
        duration_counts=_buckets(b0_5=n // 2, b2_5=n - n // 2),
    )


def snapshot(taken: float, requests: int, **values: object) -> MetricsSnapshot:
    """A snapshot whose ``requests`` are spread over a few realistic latency buckets."""
    counts = [0] * (len(LATENCY_BUCKETS) + 1)
    counts[LATENCY_BUCKETS.index(0.0005)] = requests // 2  # cache hits
    counts[LATENCY_BUCKETS.index(0.5)] = requests // 4
    counts[LATENCY_BUCKETS.index(2.5)] = requests - requests // 2 - requests // 4
    hits = [0] * len(counts)
    hits[LATENCY_BUCKETS.index(0.0005)] = requests // 2
    base = MetricsRecorder().snapshot()
    fields: dict[str, object] = {
        "taken": taken,
        "requests": requests,
        "latency_counts": tuple(counts),
        "hit_counts": tuple(hits),
        "models": {"llama3.2:latest": generations(requests)},
        "latency_sum": requests * 0.4,
        "cache_hits": requests // 2,
        "cache_misses": requests // 3,
        "ttfb_count": requests // 2,
        "ttfb_sum": requests // 2 * 0.12,
        "ttft_count": requests // 2,
        "ttft_sum": requests // 2 * 0.12,
        "completion_tokens": requests * 40,
        "generation_seconds": requests * 0.5,
        "cache_entries": 42,
        "cache_bytes": 3_100_000,
        "cache_time_saved": 81.0,
        "hardware": hardware(),
        "ollama": OLLAMA_UP,
    }
    fields.update(values)
    return dataclasses.replace(base, **fields)  # type: ignore[arg-type]


class Source:
    """Snapshots that grow by 40 requests per call, like a busy proxy."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> MetricsSnapshot:
        self.calls += 1
        return snapshot(self.calls * 0.5, 100 + 40 * self.calls, hardware=hardware(gpus=True))
