"""Per-request metrics as plain counters, turned into Prometheus families at scrape time.

prometheus-client's Histogram and Counter take a lock and walk their buckets on every
observation; on the request path that was several microseconds per request. Here an
observation is a dict lookup and two increments on the event loop (the bucket index is
computed once and shared with the dashboard's counters); ``/metrics``, in an executor
thread, copies the cells under the recorder's lock and builds the families.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.utils import floatToGoString

Labels = tuple[str, ...]


class ScrapedHistogram:
    """Bucket counts (the last one +Inf) and a sum per label tuple."""

    def __init__(self, name: str, doc: str, labels: Sequence[str], buckets: Sequence[float]):
        self.name, self.doc, self.labels = name, doc, list(labels)
        self._bounds = [floatToGoString(b) for b in buckets] + ["+Inf"]  # type: ignore[no-untyped-call]
        self._cells: dict[Labels, list[float]] = {}

    def observe(self, labels: Labels, index: int, value: float) -> None:
        """Count ``value`` in bucket ``index`` (``bisect_left`` of the bounds); the caller
        holds the lock."""
        cell = self._cells.get(labels)
        if cell is None:
            cell = self._cells[labels] = [0.0] * (len(self._bounds) + 1)
        cell[index] += 1
        cell[-1] += value

    def family(self) -> HistogramMetricFamily:
        family = HistogramMetricFamily(self.name, self.doc, labels=self.labels)
        for labels, cell in list(self._cells.items()):
            running, cumulative = 0.0, []
            for bound, count in zip(self._bounds, cell, strict=False):
                running += count
                cumulative.append((bound, running))
            family.add_metric(list(labels), cumulative, cell[-1])
        return family


class ScrapedCounter:
    def __init__(self, name: str, doc: str, labels: Sequence[str], gauge: bool = False) -> None:
        self.name, self.doc, self.labels, self.gauge = name, doc, list(labels), gauge
        self._values: dict[Labels, float] = {}

    def inc(self, labels: Labels, amount: float = 1.0) -> None:
        self._values[labels] = self._values.get(labels, 0.0) + amount

    def set(self, labels: Labels, value: float) -> None:
        self._values[labels] = value

    def family(self) -> Any:
        kind = GaugeMetricFamily if self.gauge else CounterMetricFamily
        family = kind(self.name, self.doc, labels=self.labels)
        for labels, value in list(self._values.items()):
            family.add_metric(list(labels), value)
        return family


class ScrapeCollector:
    """Hands the registry the families, copied under ``lock``."""

    def __init__(self, lock: threading.Lock, metrics: Sequence[Any], extra: Any = None) -> None:
        self._lock = lock
        self._metrics = metrics
        self._extra = extra  # a callable yielding more families (read under the lock)

    def collect(self) -> Iterator[Any]:
        with self._lock:
            families = [metric.family() for metric in self._metrics]
            if self._extra is not None:
                families.extend(self._extra())
        yield from families
