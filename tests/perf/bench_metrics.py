"""What observing costs: one record, one hardware sample, and throughput on vs off."""

from __future__ import annotations

import itertools
import statistics
import tempfile
import time
from pathlib import Path

from proxy_core.observe.hardware import HardwareMonitor
from proxy_core.observe.recorder import MetricsRecorder

from . import wrk
from .fast_upstream import start_fast
from .harness import CHAT, free_port, processes, start_proxy, wait_ready


def record_cost_us(n: int = 200_000) -> float:
    """Median over 5 rounds of start+finish for one request, in microseconds."""
    recorder = MetricsRecorder()
    routes = [("/api/chat", "POST", 200, "MISS"), ("/v1/chat/completions", "POST", 200, "HIT")]
    rounds = []
    for _ in range(5):
        started = time.perf_counter()
        for i in range(n):
            route, method, status, cache = routes[i & 1]
            recorder.request_started()
            recorder.request_finished(route, method, status, cache, 0.0123)
        rounds.append((time.perf_counter() - started) / n * 1e6)
    return statistics.median(rounds)


def sample_cost_percent(samples: int = 50) -> tuple[float, float]:
    """CPU time of one hardware sample (ms) and its share of one core at 1 Hz (%)."""
    ticks = itertools.count(start=0.0, step=1.0)  # as at 1 Hz: the Ollama rescan every 10th
    monitor = HardwareMonitor(Path(tempfile.gettempdir()), clock=lambda: next(ticks))
    monitor.sample()
    started = time.process_time()
    for _ in range(samples):
        monitor.sample()
    per_sample = (time.process_time() - started) / samples
    return per_sample * 1000, per_sample * 100


async def run() -> list[tuple[str, str]]:
    rows = [("record one request (us, median of 5x200k)", f"{record_cost_us():.2f}")]
    ms, percent = sample_cost_percent()
    rows += [
        ("hardware sample CPU ms", f"{ms:.2f}"),
        ("hardware sampling at 1 Hz, % of one core", f"{percent:.2f}%"),
    ]
    up_port, on_port, off_port = free_port(), free_port(), free_port()
    up_url = f"http://127.0.0.1:{up_port}"
    on_url, off_url = f"http://127.0.0.1:{on_port}", f"http://127.0.0.1:{off_port}"
    with processes(
        start_fast(up_port),
        start_proxy(on_port, up_url, num_parallel=64),  # the stand-in has no slot limit
        start_proxy(off_port, up_url, module="tests.perf.no_metrics_proxy", num_parallel=64),
    ):
        for url in (up_url, on_url, off_url):
            await wait_ready(url)
        on, off = [], []
        for _ in range(4):  # alternate, so drift in machine load hits both sides
            on.append((await wrk.run(on_url + "/api/chat", CHAT, connections=64)).good_rps)
            off.append((await wrk.run(off_url + "/api/chat", CHAT, connections=64)).good_rps)
    on_rps, off_rps = statistics.median(on), statistics.median(off)
    rows += [
        ("metrics on req/s (wrk c=64, fast stand-in, median of 4)", f"{on_rps:.0f}"),
        ("metrics off req/s (wrk c=64, fast stand-in, median of 4)", f"{off_rps:.0f}"),
        ("metrics on / off", f"{on_rps / off_rps:.3f}x"),
    ]
    return rows
