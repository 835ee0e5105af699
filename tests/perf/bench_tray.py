"""The tray app against headless, and the dashboard's cost while the proxy is busy."""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import IO

import aiohttp
import psutil

from .harness import (
    CHAT,
    Request,
    aiohttp_sender,
    free_port,
    processes,
    start_proxy,
    start_sim,
    throughput,
    wait_ready,
)

ROUNDS = 3


def start_tray(
    port: int, sim_url: str, dashboard: str, log: IO[bytes] | None = None
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen"),
        "QT_LOGGING_RULES": "qt.qpa.*=false",  # the offscreen plugin warns on every resize
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.perf.tray_child",
            str(port),
            sim_url,
            tempfile.mkdtemp(prefix="otp-tray-"),
            dashboard,
        ],
        env=env,
        stderr=log,
    )


async def p99_ms(send: Request, concurrency: int, seconds: float = 3.0) -> float:
    samples: list[float] = []
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            await send()
            samples.append(time.perf_counter() - started)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return statistics.quantiles(samples, n=100)[98] * 1000


def refresh_cost_ms() -> float:
    """Median cost of one dashboard refresh and the repaint it causes, offscreen."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from app.dashboard import DashboardWindow
    from app.presenter import DashboardPresenter
    from tests.app.samples import Source

    app = QApplication.instance() or QApplication([])
    window = DashboardWindow(Source(), DashboardPresenter("http://127.0.0.1:11434"))
    window.show()
    costs = []
    for _ in range(200):
        started = time.perf_counter()
        window.refresh()
        app.processEvents()  # paints what the refresh changed, as the real loop would
        costs.append(time.perf_counter() - started)
    window.hide()
    return statistics.median(costs[20:]) * 1000


async def run() -> list[tuple[str, str]]:
    rows = [("dashboard refresh + its repaint ms (median)", f"{refresh_cost_ms():.2f}")]
    sim_port = free_port()
    sim_url = f"http://127.0.0.1:{sim_port}"
    ports = {name: free_port() for name in ("headless", "hidden", "shown")}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    procs = {
        "headless": start_proxy(ports["headless"], sim_url),
        "hidden": start_tray(ports["hidden"], sim_url, "hidden"),
        "shown": start_tray(ports["shown"], sim_url, "shown"),
    }
    with processes(start_sim(sim_port), *procs.values()):
        await wait_ready(sim_url)
        for url in urls.values():
            await wait_ready(url)
        time.sleep(2.0)  # let the tray processes settle before reading idle RSS
        idle_rss = psutil.Process(procs["hidden"].pid).memory_info().rss
        results: dict[str, list[float]] = {name: [] for name in urls}
        p99: dict[str, list[float]] = {name: [] for name in ("hidden", "shown")}
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as http:
            for _ in range(ROUNDS):  # interleaved, so drift in machine load hits all sides
                for name, url in urls.items():
                    send = aiohttp_sender(http, url + "/api/chat", CHAT)
                    results[name].append(await throughput(send, concurrency=16))
                    if name in p99:
                        p99[name].append(await p99_ms(send, 16))
    rps = {name: statistics.median(values) for name, values in results.items()}
    tail = {name: statistics.median(values) for name, values in p99.items()}
    rows += [
        ("idle tray app RSS MB", f"{idle_rss / 1e6:.0f}"),
        ("headless (uvloop) req/s c=16", f"{rps['headless']:.0f}"),
        ("tray, dashboard hidden req/s c=16", f"{rps['hidden']:.0f}"),
        ("tray, dashboard shown req/s c=16", f"{rps['shown']:.0f}"),
        ("tray / headless throughput", f"{rps['hidden'] / rps['headless']:.2f}x"),
        ("dashboard shown / hidden throughput", f"{rps['shown'] / rps['hidden']:.2f}x"),
        ("p99 ms hidden / shown (c=16)", f"{tail['hidden']:.1f} / {tail['shown']:.1f}"),
    ]
    return rows
