"""Workers across cores (issue 28): one worker and two, side by side in one run, against
the fast stand-in and the simulator at c=64: native pass-through, /v1 and cache hits, as
a ratio of the upstream's own rate (direct), with the CPU each request cost the whole
proxy (the supervisor and every worker)."""

from __future__ import annotations

import asyncio
import statistics

import psutil

from . import wrk
from .bench_wrk import OPENAI, PARALLEL
from .fast_upstream import start_fast
from .harness import CACHED, CHAT, free_port, processes, start_proxy, start_sim, wait_ready

ROUNDS = 2
SECONDS = 3.0
CASES = (
    ("native", "/api/chat", CHAT),
    ("/v1", "/v1/chat/completions", OPENAI),
    ("hit", "/api/chat", CACHED),
)


def _cpu_seconds(pid: int) -> float:
    """CPU of a process and its children (a supervisor's workers) so far."""
    root = psutil.Process(pid)
    total = 0.0
    for process in (root, *root.children(recursive=True)):
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


async def _one(upstream: str) -> dict[str, list[float]]:
    up_port = free_port()
    up_url = f"http://127.0.0.1:{up_port}"
    up = start_fast(up_port) if upstream == "fast" else start_sim(up_port)
    ports = {n: free_port() for n in (1, 2)}
    proxies = {
        n: start_proxy(port, up_url, "--workers", str(n), num_parallel=PARALLEL)
        for n, port in ports.items()
    }
    figures: dict[str, list[float]] = {}

    def note(name: str, value: float) -> None:
        figures.setdefault(name, []).append(value)

    with processes(up, *proxies.values()):
        for url in (up_url, *(f"http://127.0.0.1:{p}" for p in ports.values())):
            await wait_ready(url)
        for n in ports:  # fill the caches and the pools
            base = f"http://127.0.0.1:{ports[n]}"
            await wrk.run(base + "/api/chat", CACHED, connections=8, seconds=1)
        for _ in range(ROUNDS):
            direct = await wrk.run(up_url + "/api/chat", CHAT, connections=64, seconds=SECONDS)
            for n, port in ports.items():
                for name, path, body in CASES:
                    before = _cpu_seconds(proxies[n].pid)
                    result = await wrk.run(
                        f"http://127.0.0.1:{port}{path}", body, connections=64, seconds=SECONDS
                    )
                    cpu = _cpu_seconds(proxies[n].pid) - before
                    note(f"{n} {name} ratio", result.good_rps / direct.good_rps)
                    note(f"{n} {name} rps", result.good_rps)
                    if result.good_rps:
                        note(f"{n} {name} cpu", cpu / (result.good_rps * SECONDS) * 1e6)
    return figures


async def run() -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for upstream in ("fast", "sim"):
        figures = await _one(upstream)

        def m(name: str, figures: dict[str, list[float]] = figures) -> float:
            return statistics.median(figures[name])

        label = "fast stand-in" if upstream == "fast" else "simulator"
        for name, _, _ in CASES:
            cells = [
                f"{m(f'{n} {name} rps'):,.0f} req/s ({m(f'{n} {name} ratio'):.2f}x, "
                f"{m(f'{n} {name} cpu'):.0f} µs CPU)"
                for n in (1, 2)
            ]
            rows.append((f"{label}: {name}, 1 worker / 2 workers", " / ".join(cells)))
        rows.append(
            (
                f"{label}: /v1 ratio / native ratio, 1 / 2 workers (target >= 0.9)",
                " / ".join(f"{m(f'{n} /v1 ratio') / m(f'{n} native ratio'):.2f}" for n in (1, 2)),
            )
        )
    return rows


if __name__ == "__main__":
    asyncio.run(run())
