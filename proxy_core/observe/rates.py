"""Pure functions that turn two :class:`MetricsSnapshot` values into dashboard figures.

Nothing here reads a clock or the recorder: the dashboard passes the snapshot it took
last time and the one it took now, and the tests pass hand-made ones.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

from .histogram import percentile
from .recorder import MetricsSnapshot


@dataclasses.dataclass(frozen=True, slots=True)
class LatencyFigures:
    count: int
    p50: float | None
    p95: float | None
    p99: float | None
    mean: float | None
    histogram: tuple[int, ...]  # per bucket of the snapshot, last one is +Inf


@dataclasses.dataclass(frozen=True, slots=True)
class DashboardFigures:
    seconds: float  # length of the window
    requests_per_second: float
    errors_per_second: float
    window: LatencyFigures
    lifetime: LatencyFigures
    hit_rate_window: float | None  # None: no cacheable request in the window
    hit_rate_lifetime: float | None
    ttfb_window: float | None  # mean time to Ollama's first byte, seconds
    tokens_per_second: float | None  # completion tokens over generation time, window
    in_flight: int


def latency_figures(
    bounds: Sequence[float], counts: Sequence[int], total_seconds: float
) -> LatencyFigures:
    count = sum(counts)
    return LatencyFigures(
        count=count,
        p50=percentile(bounds, counts, 0.50),
        p95=percentile(bounds, counts, 0.95),
        p99=percentile(bounds, counts, 0.99),
        mean=total_seconds / count if count else None,
        histogram=tuple(counts),
    )


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole > 0 else None


def hit_rate(hits: int, misses: int) -> float | None:
    """Hits over cacheable lookups (bypasses are not lookups, so they do not count)."""
    return _ratio(hits, hits + misses)


def compare(previous: MetricsSnapshot | None, current: MetricsSnapshot) -> DashboardFigures:
    """Figures for the interval ``previous`` -> ``current`` plus lifetime figures.

    With no previous snapshot the window is the whole lifetime (rates are then zero, as
    there is no interval to divide by).
    """
    if previous is not None and previous.latency_buckets != current.latency_buckets:
        raise ValueError("snapshots use different latency buckets")
    base = previous or _zero_like(current)
    seconds = max(current.taken - base.taken, 0.0) if previous is not None else 0.0
    window_counts = tuple(
        max(now - then, 0)
        for now, then in zip(current.latency_counts, base.latency_counts, strict=True)
    )
    requests = current.requests - base.requests
    errors = current.errors - base.errors
    ttfb_count = current.ttfb_count - base.ttfb_count
    gen_seconds = current.generation_seconds - base.generation_seconds
    return DashboardFigures(
        seconds=seconds,
        requests_per_second=requests / seconds if seconds > 0 else 0.0,
        errors_per_second=errors / seconds if seconds > 0 else 0.0,
        window=latency_figures(
            current.latency_buckets, window_counts, current.latency_sum - base.latency_sum
        ),
        lifetime=latency_figures(
            current.latency_buckets, current.latency_counts, current.latency_sum
        ),
        hit_rate_window=hit_rate(
            current.cache_hits - base.cache_hits, current.cache_misses - base.cache_misses
        ),
        hit_rate_lifetime=hit_rate(current.cache_hits, current.cache_misses),
        ttfb_window=_ratio(current.ttfb_sum - base.ttfb_sum, ttfb_count),
        tokens_per_second=_ratio(current.completion_tokens - base.completion_tokens, gen_seconds),
        in_flight=current.in_flight,
    )


def _zero_like(snapshot: MetricsSnapshot) -> MetricsSnapshot:
    return dataclasses.replace(
        snapshot,
        requests=0,
        errors=0,
        latency_counts=(0,) * len(snapshot.latency_counts),
        latency_sum=0.0,
        ttfb_count=0,
        ttfb_sum=0.0,
        completion_tokens=0,
        generation_seconds=0.0,
        cache_hits=0,
        cache_misses=0,
        cache_bypasses=0,
        cache_time_saved=0.0,
    )


def format_seconds(value: float | None) -> str:
    """Human text for a duration: ``0.4 ms``, ``12 ms``, ``1.3 s``, ``2 min 5 s``,
    ``3 h 12 min``; ``-`` for none."""
    if value is None or math.isnan(value):
        return "-"
    if value < 0.01:
        return f"{value * 1000:.1f} ms"
    if value < 1:
        return f"{value * 1000:.0f} ms"
    if value < 60:
        return f"{value:.1f} s"
    minutes, seconds = divmod(round(value), 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"
