"""What the dashboard's charts draw, computed from snapshots. Pure (no Qt), tested with
tables; charts.py only paints these values.

Latency is shown as two headline distributions of *generations* (time to first token and
total duration), for all models or one; cache hits and the rest of the traffic get a line
of their own, because thousands of sub-millisecond hits would otherwise flatten the
seconds a person waits for a model into nothing.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

from proxy_core import MetricsSnapshot, format_seconds, percentile

MIN_BARS = 8  # a chart of one busy bucket still shows its neighbours, for scale
QUANTILES = (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))


def _amount(seconds: float) -> tuple[str, str]:
    """(number, unit) for a bucket bound: 0.5 ms, 250 ms, 2.5 s, 2 min."""
    if seconds < 1:
        value, unit = seconds * 1000, "ms"
    elif seconds < 60:
        value, unit = seconds, "s"
    else:
        value, unit = seconds / 60, "min"
    return f"{value:g}", unit


def bucket_range(lower: float, upper: float | None) -> str:
    """A bucket as the range it holds: ``≤ 0.5 ms``, ``1–2.5 ms``, ``500 ms–1 s``,
    ``> 5 min``."""
    if upper is None:
        return "> " + " ".join(_amount(lower))
    if lower <= 0:
        return "≤ " + " ".join(_amount(upper))
    (low, low_unit), (high, high_unit) = _amount(lower), _amount(upper)
    if low_unit == high_unit:
        return f"{low}–{high} {high_unit}"
    return f"{low} {low_unit}–{high} {high_unit}"


def bound_label(seconds: float) -> str:
    """A tick under the edge between two bars."""
    return " ".join(_amount(seconds))


@dataclasses.dataclass(frozen=True, slots=True)
class Bar:
    lower: float
    upper: float | None  # None: the open-ended last bucket
    count: int

    @property
    def label(self) -> str:
        return bucket_range(self.lower, self.upper)


@dataclasses.dataclass(frozen=True, slots=True)
class Mark:
    name: str  # p50, p95, p99
    position: float  # on the x axis, in bars from the chart's first bar
    text: str  # "p95 1.2 s"


@dataclasses.dataclass(frozen=True, slots=True)
class LatencyChart:
    title: str
    bars: tuple[Bar, ...] = ()  # empty: nothing in the window
    marks: tuple[Mark, ...] = ()
    count: int = 0

    @property
    def headline(self) -> str:
        if not self.count:
            return f"{self.title}: none in the last minute"
        figures = " · ".join(mark.text for mark in self.marks)
        return f"{self.title}: {figures}"


def _position(bounds: Sequence[float], value: float) -> float:
    lower = 0.0
    for index, upper in enumerate(bounds):
        if value <= upper:
            return index + (value - lower) / (upper - lower)
        lower = upper
    return float(len(bounds))


def latency_chart(
    title: str, bounds: Sequence[float], counts: Sequence[int], min_bars: int = MIN_BARS
) -> LatencyChart:
    """The populated stretch of a bucketed histogram (with a neighbour each side, at least
    ``min_bars`` wide) and its percentile marks."""
    total = sum(counts)
    if not total:
        return LatencyChart(title)
    used = [index for index, count in enumerate(counts) if count]
    first, last = max(used[0] - 1, 0), min(used[-1] + 1, len(counts) - 1)
    while last - first + 1 < min(min_bars, len(counts)):
        if first > 0:
            first -= 1
        if last - first + 1 < min_bars and last < len(counts) - 1:
            last += 1
    edges = [0.0, *bounds]
    bars = tuple(
        Bar(edges[i], bounds[i] if i < len(bounds) else None, counts[i])
        for i in range(first, last + 1)
    )
    marks = []
    for name, quantile in QUANTILES:
        value = percentile(bounds, counts, quantile)
        if value is not None:
            marks.append(
                Mark(name, _position(bounds, value) - first, f"{name} {format_seconds(value)}")
            )
    return LatencyChart(title, bars, tuple(marks), total)


def window_counts(now: Sequence[int], base: Sequence[int] | None) -> list[int]:
    """Per-bucket counts between two snapshots (a missing base counts from zero)."""
    if not base:
        return list(now)
    return [max(a - b, 0) for a, b in zip(now, base, strict=True)]


def model_counts(
    base: MetricsSnapshot | None, now: MetricsSnapshot, field: str, model: str | None = None
) -> list[int]:
    """A per-model histogram (``ttft_counts`` or ``duration_counts``) between two
    snapshots, for one model label or summed over all of them."""
    width = len(now.latency_buckets) + 1

    def total(snapshot: MetricsSnapshot | None) -> list[int]:
        counts = [0] * width
        if snapshot is None:
            return counts
        for label, stats in snapshot.models.items():
            if model is None or label == model:
                for index, count in enumerate(getattr(stats, field)[:width]):
                    counts[index] += count
        return counts

    return window_counts(total(now), total(base))


def nice_ceiling(value: float) -> float:
    """The next 1, 2 or 5 times a power of ten at or above ``value`` (an axis's top)."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power * (1 + 1e-9):
            return float(step * power)
    return 10.0 * power  # pragma: no cover - the loop ends at 10


def log_ticks(top: int) -> tuple[int, ...]:
    """Count-axis ticks of a log scale: 1, 10, 100… up to the first one above ``top``."""
    ticks = [1]
    while ticks[-1] < top:
        ticks.append(ticks[-1] * 10)
    return tuple(ticks)


def log_height(count: int, top_tick: int) -> float:
    """A bar's height (0..1) on a log axis whose top is ``top_tick``: 1 stays visible."""
    if count <= 0:
        return 0.0
    return math.log10(1 + count) / math.log10(1 + max(top_tick, 1))


@dataclasses.dataclass(frozen=True, slots=True)
class TimelinePoint:
    seconds_ago: float
    requests_per_second: float
    ttft: float | None  # mean time to first token over the smoothing window


def smoothed_timeline(
    samples: Sequence[tuple[float, int, int, float]], now: float, smooth_seconds: float
) -> tuple[TimelinePoint, ...]:
    """Points from cumulative samples ``(taken, requests, ttft_count, ttft_sum)``, each a
    rate over the ``smooth_seconds`` before it (not the half-second tick, whose spikes
    say more about the timer than about the traffic)."""
    points = []
    start = 0
    for taken, requests, ttfb_count, ttfb_sum in samples:
        while start < len(samples) - 1 and taken - samples[start + 1][0] >= smooth_seconds:
            start += 1
        base = samples[start]
        seconds = taken - base[0]
        if seconds <= 0:
            continue
        firsts = ttfb_count - base[2]
        points.append(
            TimelinePoint(
                now - taken,
                (requests - base[1]) / seconds,
                (ttfb_sum - base[3]) / firsts if firsts > 0 else None,
            )
        )
    return tuple(points)
