"""The numbers behind the dashboard's charts (pure: tables, no Qt)."""

from __future__ import annotations

import pytest

from app.chart_data import (
    Bar,
    bucket_range,
    latency_chart,
    log_height,
    log_ticks,
    nice_ceiling,
    smoothed_timeline,
    window_counts,
)
from proxy_core.observe.recorder import LATENCY_BUCKETS


@pytest.mark.parametrize(
    ("lower", "upper", "text"),
    [
        (0.0, 0.0005, "≤ 0.5 ms"),
        (0.001, 0.0025, "1–2.5 ms"),
        (0.25, 0.5, "250–500 ms"),
        (0.5, 1.0, "500 ms–1 s"),
        (1.0, 2.5, "1–2.5 s"),
        (30.0, 60.0, "30 s–1 min"),
        (120.0, 300.0, "2–5 min"),
        (300.0, None, "> 5 min"),
    ],
)
def test_buckets_read_as_ranges(lower: float, upper: float | None, text: str) -> None:
    assert bucket_range(lower, upper) == text
    assert Bar(lower, upper, 3).label == text


def _counts(**by_bound: int) -> list[int]:
    counts = [0] * (len(LATENCY_BUCKETS) + 1)
    for bound, count in by_bound.items():
        counts[LATENCY_BUCKETS.index(float(bound.lstrip("b").replace("_", ".")))] = count
    return counts


def test_chart_shows_the_populated_stretch_with_its_marks() -> None:
    chart = latency_chart("Total duration", LATENCY_BUCKETS, _counts(b1_0=90, b2_5=10))
    assert chart.count == 100
    assert len(chart.bars) == 8  # two busy buckets, widened to the minimum for scale
    busy = [bar for bar in chart.bars if bar.count]
    assert [bar.label for bar in busy] == ["500 ms–1 s", "1–2.5 s"]
    # Marks sit on the trimmed axis: p50 inside the 0.5-1 s bar, p99 inside 1-2.5 s.
    index = {bar.upper: i for i, bar in enumerate(chart.bars)}
    p50, p95, p99 = chart.marks
    assert index[1.0] <= p50.position < index[1.0] + 1
    assert index[2.5] <= p99.position < index[2.5] + 1
    # interpolated inside the bucket: 0.5 + 0.5 * 50/90 s; 1 + 1.5 * 5/10; 1 + 1.5 * 9/10
    assert chart.headline == "Total duration: p50 778 ms · p95 1.8 s · p99 2.4 s"


def test_chart_reaches_the_open_ended_bucket() -> None:
    counts = _counts()
    counts[-1] = 3  # three requests over five minutes
    chart = latency_chart("Total duration", LATENCY_BUCKETS, counts)
    assert chart.bars[-1] == Bar(300.0, None, 3) and len(chart.bars) == 8


def test_empty_chart_says_so() -> None:
    chart = latency_chart("Time to first token", LATENCY_BUCKETS, _counts())
    assert chart.bars == () and chart.headline == "Time to first token: none in the last minute"


@pytest.mark.parametrize(
    ("value", "top"), [(0, 1), (0.3, 0.5), (1, 1), (1.2, 2), (3, 5), (7, 10), (4200, 5000)]
)
def test_axis_tops_are_round(value: float, top: float) -> None:
    assert nice_ceiling(value) == pytest.approx(top)


def test_log_count_axis() -> None:
    assert log_ticks(1) == (1,) and log_ticks(350) == (1, 10, 100, 1000)
    # One request stays visible next to thousands; heights grow with the count.
    assert 0 < log_height(1, 1000) < log_height(10, 1000) < log_height(1000, 1000) == 1.0
    assert log_height(0, 1000) == 0.0


def test_window_counts_never_go_negative() -> None:
    assert window_counts([5, 3], [2, 4]) == [3, 0] and window_counts([1, 2], None) == [1, 2]


def test_traffic_is_smoothed_over_seconds() -> None:
    # A half-second tick with 10 requests then one with none: a 20 -> 0 req/s spike per
    # tick, but a steady 10 req/s over any three seconds.
    samples = []
    requests = 0
    for tick in range(13):
        requests += 10 if tick % 2 else 0
        samples.append((tick * 0.5, requests, tick, tick * 0.1))
    points = smoothed_timeline(samples, now=6.0, smooth_seconds=3.0)
    steady = [p for p in points if p.seconds_ago <= 3.0]
    assert steady and all(p.requests_per_second == pytest.approx(10.0) for p in steady)
    assert points[-1].seconds_ago == 0.0 and points[-1].ttft == pytest.approx(0.1)
    assert len(points) == 12  # the first sample has no interval before it
