"""The whole proxy's metrics from each worker's: counters and histograms add up, as do the
gauges of each worker's own (requests in flight, its CPU and memory); the gauges every
worker reads from the same place (the machine, Ollama, the shared cache, the shared
model slots) are taken once.

Why a parent that sums and not prometheus-client's multiprocess mode: the recorder's
counters are plain integers rendered at scrape (observe/families.py), a few nanoseconds
per request; the multiprocess mode keeps every value in a memory-mapped file per process
and supports neither those nor custom collectors. Summing costs the scrape, not the
request (docs/PERFORMANCE.md)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

# Gauges that are each worker's own: the whole proxy's value is their sum.
SUMMED_GAUGES = frozenset(
    {
        "proxy_requests_in_flight",
        "proxy_upstream_in_flight",
        "proxy_process_cpu_percent",
        "proxy_process_rss_bytes",
    }
)


def merge(texts: Iterable[str]) -> bytes:
    """Prometheus text from several processes as one exposition."""
    families: dict[str, Metric] = {}
    values: dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]] = {}
    for text in texts:
        for family in text_string_to_metric_families(text):
            families.setdefault(family.name, family)
            table = values.setdefault(family.name, {})
            add = family.type != "gauge" or family.name in SUMMED_GAUGES
            for sample in family.samples:
                key = (sample.name, tuple(sorted(sample.labels.items())))
                if key not in table:
                    table[key] = sample.value
                else:
                    old = table[key]
                    table[key] = old + sample.value if add else max(old, sample.value)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Merged(families, values))
    return generate_latest(registry)


class _Merged:
    def __init__(
        self,
        families: dict[str, Metric],
        values: dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]],
    ) -> None:
        self._families = families
        self._values = values

    def collect(self) -> Iterator[Any]:
        for name, family in self._families.items():
            out = Metric(family.name, family.documentation, family.type)
            for (sample, labels), value in self._values[name].items():
                out.add_sample(sample, dict(labels), value)
            yield out
