"""Issue 14 item 5: per-request metrics kept as plain counters render at scrape time to
exactly what prometheus-client's own Histogram and Counter render."""

from __future__ import annotations

import bisect
import random
import threading

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from proxy_core.observe.families import ScrapeCollector, ScrapedCounter, ScrapedHistogram
from proxy_core.observe.recorder import LATENCY_BUCKETS


def _without_created(text: bytes) -> list[str]:
    return [line for line in text.decode().splitlines() if "_created" not in line]


def test_the_scraped_families_match_prometheus_client() -> None:
    reference = CollectorRegistry()
    histogram = Histogram(
        "h_seconds", "doc", ["route"], buckets=LATENCY_BUCKETS, registry=reference
    )
    counter = Counter("c", "doc", ["client"], registry=reference)
    lock = threading.Lock()
    ours = CollectorRegistry()
    scraped_h = ScrapedHistogram("h_seconds", "doc", ["route"], LATENCY_BUCKETS)
    scraped_c = ScrapedCounter("c", "doc", ["client"])
    ours.register(ScrapeCollector(lock, [scraped_h, scraped_c]))
    rng = random.Random(7)
    for _ in range(500):
        route = rng.choice(["/api/chat", "/v1/chat/completions"])
        seconds = rng.choice([0.0005, 0.001, 0.3, 400.0, rng.random() * rng.choice([0.01, 10])])
        histogram.labels(route).observe(seconds)
        scraped_h.observe((route,), bisect.bisect_left(LATENCY_BUCKETS, seconds), seconds)
        client = rng.choice(["continue", "other"])
        counter.labels(client).inc()
        scraped_c.inc((client,))
    assert _without_created(generate_latest(ours)) == _without_created(generate_latest(reference))


def test_the_proxys_own_routes_are_not_traffic() -> None:
    from proxy_core import admin
    from proxy_core.observe.recorder import MetricsRecorder

    recorder = MetricsRecorder()
    recorder.own_routes = frozenset(r.path for r in admin.ROUTES if r.own)  # as create_app
    assert recorder.own_routes == {"/healthz", "/metrics", "/_proxy/cache", "/_proxy/requests"}
    for route in ("/healthz", "/metrics", "/_proxy/cache", "/_proxy/requests"):
        recorder.request_started()
        recorder.request_finished(route, "GET", 200, "NONE", 0.0002)
    recorder.request_started()
    recorder.request_finished("/api/chat", "POST", 500, "BYPASS", 0.3)
    snap = recorder.snapshot()
    assert snap.requests == 1 and snap.errors == 1 and sum(snap.latency_counts) == 1
    assert snap.in_flight == 0
    # Prometheus still sees every route, by its label.
    value = recorder.registry.get_sample_value(
        "proxy_request_duration_seconds_count",
        {"route": "/metrics", "method": "GET", "status_class": "2xx", "cache": "NONE"},
    )
    assert value == 1
