"""Snapshot -> dashboard figures, checked against hand-computed tables."""

from __future__ import annotations

import dataclasses

import pytest

from proxy_core.observe.rates import compare, format_seconds, hit_rate, percentile
from proxy_core.observe.recorder import LATENCY_BUCKETS, MetricsRecorder, MetricsSnapshot

BOUNDS = (0.001, 0.01, 0.1, 1.0)


@pytest.mark.parametrize(
    ("counts", "quantile", "expected"),
    [
        # 10 values all in (0.001, 0.01]: the median is half way through that bucket.
        ((0, 10, 0, 0, 0), 0.5, 0.0055),
        # 100 values: 50 in the first bucket, 50 in the second.
        ((50, 50, 0, 0, 0), 0.5, 0.001),
        ((50, 50, 0, 0, 0), 0.95, 0.001 + 0.009 * 0.9),
        ((50, 50, 0, 0, 0), 0.99, 0.001 + 0.009 * 0.98),
        # The first bucket starts at zero.
        ((4, 0, 0, 0, 0), 0.25, 0.00025),
        # Values past the last bound are reported as that bound.
        ((0, 0, 0, 1, 3), 0.99, 1.0),
        ((0, 0, 0, 1, 3), 0.25, 1.0),
        ((1, 0, 0, 0, 1), 0.0, 0.0),
    ],
)
def test_percentile_table(counts: tuple[int, ...], quantile: float, expected: float) -> None:
    assert percentile(BOUNDS, counts, quantile) == pytest.approx(expected)


def test_percentile_of_nothing_is_none_and_bad_input_is_refused() -> None:
    assert percentile(BOUNDS, (0, 0, 0, 0, 0), 0.5) is None
    with pytest.raises(ValueError):
        percentile(BOUNDS, (1, 2), 0.5)
    with pytest.raises(ValueError):
        percentile(BOUNDS, (1, 0, 0, 0, 0), 1.5)


def test_hit_rate_ignores_bypasses() -> None:
    assert hit_rate(3, 1) == 0.75
    assert hit_rate(0, 0) is None


def _snapshot(taken: float, **values: object) -> MetricsSnapshot:
    base = MetricsRecorder().snapshot()
    return dataclasses.replace(base, taken=taken, **values)  # type: ignore[arg-type]


def _counts(**per_bound: int) -> tuple[int, ...]:
    counts = [0] * (len(LATENCY_BUCKETS) + 1)
    for bound, count in per_bound.items():
        counts[LATENCY_BUCKETS.index(float(bound.replace("_", ".").lstrip("b")))] = count
    return tuple(counts)


def test_compare_window_and_lifetime() -> None:
    first = _snapshot(
        100.0,
        requests=10,
        errors=1,
        latency_counts=_counts(b0_001=10),
        latency_sum=0.005,
        cache_hits=2,
        cache_misses=8,
        ttfb_count=4,
        ttfb_sum=0.4,
        completion_tokens=100,
        generation_seconds=2.0,
    )
    second = _snapshot(
        102.0,
        requests=30,
        errors=1,
        latency_counts=_counts(b0_001=10, b1_0=20),
        latency_sum=10.005,
        cache_hits=10,
        cache_misses=10,
        ttfb_count=8,
        ttfb_sum=0.6,
        completion_tokens=400,
        generation_seconds=5.0,
        in_flight=3,
    )
    figures = compare(first, second)
    assert figures.seconds == 2.0
    assert figures.requests_per_second == 10.0
    assert figures.errors_per_second == 0.0
    # The window holds only the 20 slow requests: all between 0.5 s and 1 s.
    assert figures.window.count == 20
    assert figures.window.p50 == pytest.approx(0.75)
    assert figures.window.mean == pytest.approx(0.5)
    assert figures.lifetime.count == 30
    assert figures.lifetime.p50 == pytest.approx(0.5 + 0.5 * (5 / 20))
    assert figures.hit_rate_window == pytest.approx(8 / 10)
    assert figures.hit_rate_lifetime == pytest.approx(10 / 20)
    assert figures.ttfb_window == pytest.approx(0.05)
    assert figures.tokens_per_second == pytest.approx(100.0)
    assert figures.in_flight == 3
    assert sum(figures.window.histogram) == 20


def test_compare_without_previous_is_lifetime_with_no_rate() -> None:
    only = _snapshot(5.0, requests=4, latency_counts=_counts(b0_01=4), latency_sum=0.02)
    figures = compare(None, only)
    assert figures.requests_per_second == 0.0
    assert figures.window == figures.lifetime
    assert figures.hit_rate_window is None and figures.ttfb_window is None


def test_compare_refuses_snapshots_with_different_buckets() -> None:
    first = _snapshot(1.0)
    other = dataclasses.replace(first, latency_buckets=(1.0,), latency_counts=(0, 0))
    with pytest.raises(ValueError):
        compare(other, first)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "-"),
        (0.0004, "0.4 ms"),
        (0.012, "12 ms"),
        (1.25, "1.2 s"),
        (42.0, "42.0 s"),
        (125.0, "2 min 5 s"),
        (180.0, "3 min"),
        (11_520.0, "3 h 12 min"),
        (7200.0, "2 h"),
    ],
)
def test_format_seconds(seconds: float | None, text: str) -> None:
    assert format_seconds(seconds) == text


def test_recorder_feeds_the_snapshot() -> None:
    recorder = MetricsRecorder()
    recorder.request_started()
    recorder.request_finished("/api/chat", "POST", 200, "MISS", 0.003)
    recorder.request_started()
    recorder.request_finished("/api/chat", "POST", 502, "BYPASS", 0.2)
    recorder.upstream_first_byte("/api/chat", 0.1)
    recorder.generation_done("m", {"eval_count": 50, "eval_duration": 500_000_000})
    snap = recorder.snapshot()
    assert snap.requests == 2 and snap.errors == 1 and snap.in_flight == 0
    assert snap.latency_counts[LATENCY_BUCKETS.index(0.005)] == 1
    assert snap.latency_counts[LATENCY_BUCKETS.index(0.25)] == 1
    assert snap.completion_tokens == 50 and snap.generation_seconds == 0.5
    assert compare(None, snap).lifetime.count == 2


def test_hits_and_generations_are_counted_apart() -> None:
    """The dashboard's generation charts must not drown in sub-millisecond hits."""
    recorder = MetricsRecorder()
    recorder.own_routes = frozenset({"/metrics"})  # create_app marks the proxy's own
    recorder.set_known_models(["llama3.2"])
    for route, status, cache, seconds, model in (
        ("/api/chat", 200, "HIT", 0.0004, "llama3.2"),
        ("/v1/chat/completions", 200, "HIT", 0.0004, "llama3.2"),
        ("/api/chat", 200, "MISS", 1.7, "llama3.2:latest"),
        ("/api/chat", 502, "BYPASS", 0.2, "llama3.2"),  # an error is no generation
        ("/api/tags", 200, "NONE", 0.002, None),  # nor is a listing
        ("/metrics", 200, "NONE", 0.001, None),  # nor the proxy's own routes (not traffic)
    ):
        recorder.request_started()
        recorder.request_finished(route, "POST", status, cache, seconds, model)
    snap = recorder.snapshot()
    assert snap.requests == 5
    assert sum(snap.hit_counts) == 2 and snap.hit_counts[0] == 2
    durations = snap.models["llama3.2:latest"].duration_counts
    assert sum(durations) == 1 and durations[LATENCY_BUCKETS.index(2.5)] == 1
    recorder.first_token("llama3.2", 0.25)  # the traffic chart's line: streamed TTFTs
    later = recorder.snapshot()
    assert later.ttft_count == 1 and later.ttft_sum == 0.25
