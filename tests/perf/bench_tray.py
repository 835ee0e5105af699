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

import psutil

from .fast_upstream import start_fast
from .harness import (
    free_port,
    processes,
    start_proxy,
    wait_ready,
)


def start_tray(
    port: int,
    sim_url: str,
    dashboard: str,
    log: IO[bytes] | None = None,
    num_parallel: int | None = None,
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
            *([str(num_parallel)] if num_parallel is not None else []),
        ],
        env=env,
        stderr=log,
    )


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
    """What wrk cannot measure: the dashboard's own cost, and idle memory of each mode
    (throughput of tray vs headless is in the wrk table)."""
    rows = [("dashboard refresh + its repaint ms (median)", f"{refresh_cost_ms():.2f}")]
    up_port = free_port()
    up_url = f"http://127.0.0.1:{up_port}"
    ports = {name: free_port() for name in ("headless", "hidden", "shown")}
    procs = {
        "headless": start_proxy(ports["headless"], up_url),
        "hidden": start_tray(ports["hidden"], up_url, "hidden"),
        "shown": start_tray(ports["shown"], up_url, "shown"),
    }
    with processes(start_fast(up_port), *procs.values()):
        await wait_ready(up_url)
        for port in ports.values():
            await wait_ready(f"http://127.0.0.1:{port}")
        await asyncio.sleep(3.0)  # let the processes settle before reading idle RSS
        rss = {name: psutil.Process(p.pid).memory_info().rss / 1e6 for name, p in procs.items()}
    rows += [
        ("idle RSS MB: headless", f"{rss['headless']:.0f}"),
        ("idle RSS MB: tray, dashboard never opened (target <= 90)", f"{rss['hidden']:.0f}"),
        ("idle RSS MB: tray, dashboard shown", f"{rss['shown']:.0f}"),
    ]
    return rows
