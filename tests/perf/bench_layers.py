"""Where a request's CPU goes (``make bench SECTIONS=layers``): servers that each stand for
one layer more (layer_servers.py) and the proxy, side by side in one run under wrk
(c=64, fast stand-in upstream), CPU of the answering process per request, medians of
three rounds. The differences between rows are what each layer costs; docs/PERFORMANCE.md
keeps the table."""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys

import psutil

from . import wrk
from .bench_wrk import OPENAI, PARALLEL
from .fast_upstream import start_fast
from .harness import CACHED, CHAT, free_port, processes, start_proxy, wait_ready

SECONDS = 3.0
ROUNDS = 3


def _layer(mode: str, port: int, *extra: str) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "tests.perf.layer_servers", mode, str(port), *extra]
    return subprocess.Popen(argv)


async def _listening(port: int) -> None:
    """The layer servers answer only POST /api/chat: ready once the port takes a connection."""
    for _ in range(100):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        writer.close()
        return
    raise RuntimeError(f"nothing listens on port {port}")


def _cpu(process: subprocess.Popen[bytes]) -> float:
    times = psutil.Process(process.pid).cpu_times()
    return float(times.user + times.system)


async def run() -> list[tuple[str, str]]:
    ports = {name: free_port() for name in ("up", "bare", "front", "front-pool", "proxy")}
    url = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    up = start_fast(ports["up"])
    servers = {
        "bare": _layer("bare", ports["bare"]),
        "front": _layer("front", ports["front"]),
        "front-pool": _layer("front-pool", ports["front-pool"], url["up"]),
        "proxy": start_proxy(ports["proxy"], url["up"], num_parallel=PARALLEL),
    }
    # (row, server, path, body)
    cases = [
        ("the fast stand-in (aiohttp's low-level server), direct", "up", "/api/chat", CHAT),
        ("bare httptools protocol, fixed reply", "bare", "/api/chat", CHAT),
        ("aiohttp app on the short path, fixed reply", "front", "/api/chat", CHAT),
        ("the same, forwarding through the lean pool", "front-pool", "/api/chat", CHAT),
        ("the proxy: native pass-through", "proxy", "/api/chat", CHAT),
        ("the proxy: /v1 pass-through", "proxy", "/v1/chat/completions", OPENAI),
        ("the proxy: cache hit", "proxy", "/api/chat", CACHED),
    ]
    answering = {"up": up, **servers}
    figures: dict[str, list[tuple[float, float]]] = {}
    errors = 0
    with processes(up, *servers.values()):
        await wait_ready(url["up"])
        await wait_ready(url["proxy"])
        for name in ("bare", "front", "front-pool"):
            await _listening(ports[name])
        await wrk.run(url["proxy"] + "/api/chat", CACHED, connections=8, seconds=1)
        for _ in range(ROUNDS):
            for row, name, path, body in cases:
                before = _cpu(answering[name])
                result = await wrk.run(url[name] + path, body, connections=64, seconds=SECONDS)
                spent = _cpu(answering[name]) - before
                errors += result.errors
                if result.good_rps:
                    cpu = spent / (result.good_rps * SECONDS) * 1e6
                    figures.setdefault(row, []).append((cpu, result.good_rps))
    rows = []
    for row, *_ in cases:
        values = figures.get(row, [])
        cpu = statistics.median(v[0] for v in values) if values else float("nan")
        rps = statistics.median(v[1] for v in values) if values else 0.0
        rows.append((row, f"{cpu:.1f} us CPU, {rps:,.0f} req/s"))
    rows.append(("errors", str(errors)))
    return rows
