"""The collectors read at scrape time (prometheus-client calls them on /metrics): the
cache, the machine and Ollama's last status, the lanes and the engines. Nothing here is on
a request's path; the recorder (recorder.py) registers them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from ..cache.store import CacheStats
from .hardware import HardwareSample
from .ollama_status import OllamaStatus


class CacheCollector(Collector):
    def __init__(self, stats: Callable[[], CacheStats], volume: Callable[[], tuple[int, int]]):
        self._stats = stats
        self._volume = volume

    def collect(self) -> Iterator[Any]:
        stats = self._stats()
        requests = CounterMetricFamily(
            "proxy_cache_requests", "Cache lookups by result", labels=["result"]
        )
        requests.add_metric(["hit"], stats.hits)
        requests.add_metric(["miss"], stats.misses)
        requests.add_metric(["bypass"], stats.bypasses)
        yield requests
        yield CounterMetricFamily(
            "proxy_cache_time_saved_seconds", "Upstream time saved by hits", value=stats.time_saved
        )
        yield CounterMetricFamily("proxy_cache_writes", "Entries written", value=stats.writes)
        yield CounterMetricFamily("proxy_cache_errors", "Cache failures", value=stats.errors)
        yield CounterMetricFamily(
            "proxy_cache_evictions", "Entries evicted by the size limit", value=stats.evictions
        )
        yield CounterMetricFamily(
            "proxy_cache_expirations",
            "Entries removed when their TTL ran out",
            value=stats.expirations,
        )
        entries, size = self._volume()
        yield GaugeMetricFamily("proxy_cache_entries", "Entries in the cache", value=entries)
        yield GaugeMetricFamily("proxy_cache_bytes", "Bytes on disk", value=size)


class HardwareCollector(Collector):
    """Gauges from the monitor's last sample; nothing when there is none yet."""

    def __init__(self, latest: Callable[[], tuple[HardwareSample | None, OllamaStatus | None]]):
        self._latest = latest  # (the machine's last sample, Ollama's last status)

    def collect(self) -> Iterator[Any]:
        sample, status = self._latest()
        if sample is not None:
            yield from hardware_families(sample)
        if status is not None:
            yield GaugeMetricFamily(
                "proxy_ollama_up", "Ollama answered the last check", value=int(status.reachable)
            )
            yield GaugeMetricFamily(
                "proxy_ollama_models_loaded",
                "Models Ollama holds in memory",
                value=len(status.loaded),
            )


def hardware_families(sample: HardwareSample) -> Iterator[Any]:
    cpu = GaugeMetricFamily("proxy_host_cpu_percent", "CPU use of the whole machine")
    cpu.add_metric([], sample.cpu_percent)
    yield cpu
    memory = GaugeMetricFamily("proxy_host_memory_bytes", "RAM and swap", labels=["kind"])
    for kind, value in (
        ("total", sample.ram_total),
        ("used", sample.ram_used),
        ("available", sample.ram_available),
        ("swap_total", sample.swap_total),
        ("swap_used", sample.swap_used),
    ):
        memory.add_metric([kind], value)
    yield memory
    if sample.net_rx_mbps is not None and sample.net_tx_mbps is not None:
        net = GaugeMetricFamily(
            "proxy_host_network_mbps", "Network throughput", labels=["direction"]
        )
        net.add_metric(["receive"], sample.net_rx_mbps)
        net.add_metric(["transmit"], sample.net_tx_mbps)
        yield net
    processes = [("proxy", sample.proxy), ("ollama", sample.ollama)]
    cpu_proc = GaugeMetricFamily(
        "proxy_process_cpu_percent", "CPU of one core used", labels=["process"]
    )
    rss = GaugeMetricFamily("proxy_process_rss_bytes", "Resident memory", labels=["process"])
    for name, usage in processes:
        if usage.cpu_percent is not None and usage.rss is not None:
            cpu_proc.add_metric([name], usage.cpu_percent)
            rss.add_metric([name], usage.rss)
    yield cpu_proc
    yield rss
    if sample.gpus:
        util = GaugeMetricFamily("proxy_gpu_utilization_percent", "GPU use", labels=["gpu"])
        mem = GaugeMetricFamily("proxy_gpu_memory_used_bytes", "GPU memory used", labels=["gpu"])
        for index, gpu in enumerate(sample.gpus):
            util.add_metric([str(index)], gpu.utilization_percent)
            mem.add_metric([str(index)], gpu.memory_used)
        yield util
        yield mem
    verdict = GaugeMetricFamily(
        "proxy_spec_verdict",
        "Machine vs the recommended specs: -1 unknown, 0 below minimum, 1 meets minimum, 2 optimal",
        labels=["item"],
    )
    for item in sample.assessment.items:
        verdict.add_metric([item.requirement.item], int(item.verdict))
    verdict.add_metric(["overall"], int(sample.assessment.overall))
    yield verdict
    if sample.assessment.ram_headroom is not None:
        yield GaugeMetricFamily(
            "proxy_spec_ram_headroom_bytes",
            "Available RAM above the 8 GB minimum (negative: short of it)",
            value=sample.assessment.ram_headroom,
        )


class LaneCollector:
    def __init__(
        self,
        model_label: Callable[[str], str],
        depth: Callable[[], dict[str, tuple[int, int]]],
        superseded: Callable[[], int],
    ) -> None:
        self._model_label = model_label
        self._depth = depth
        self._superseded = superseded

    def collect(self) -> Iterator[Any]:
        running = GaugeMetricFamily(
            "proxy_generations_running", "Generations sent to Ollama, by model", labels=["model"]
        )
        waiting = GaugeMetricFamily(
            "proxy_generations_waiting",
            "Generations waiting in the proxy, by model",
            labels=["model"],
        )
        by_label: dict[str, tuple[int, int]] = {}
        for model, (run, wait) in self._depth().items():
            label = self._model_label(model)
            old = by_label.get(label, (0, 0))
            by_label[label] = (old[0] + run, old[1] + wait)
        for label, (run, wait) in by_label.items():
            running.add_metric([label], run)
            waiting.add_metric([label], wait)
        yield running
        yield waiting
        yield CounterMetricFamily(
            "proxy_autocomplete_superseded",
            "Waiting autocomplete requests dropped for a newer one from the same client",
            value=self._superseded(),
        )


class RouterCollector(Collector):
    def __init__(self, rows: Callable[[], list[tuple[str, bool, str, int, int]]]) -> None:
        self._rows = rows

    def collect(self) -> Iterator[Any]:
        up = GaugeMetricFamily(
            "proxy_upstream_up",
            "The Ollama host takes requests (healthy, breaker not open)",
            labels=["upstream"],
        )
        breaker = GaugeMetricFamily(
            "proxy_upstream_breaker_open",
            "Circuit breaker: 0 closed, 1 open (skipped), 0.5 half-open (one trial)",
            labels=["upstream"],
        )
        in_flight = GaugeMetricFamily(
            "proxy_upstream_in_flight", "Requests at the host now", labels=["upstream"]
        )
        routed = CounterMetricFamily(
            "proxy_upstream_routed", "Requests sent to the host", labels=["upstream"]
        )
        for url, usable, state, flying, sent in self._rows():
            up.add_metric([url], int(usable))
            breaker.add_metric([url], {"closed": 0.0, "open": 1.0}.get(state, 0.5))
            in_flight.add_metric([url], flying)
            routed.add_metric([url], sent)
        yield from (up, breaker, in_flight, routed)
