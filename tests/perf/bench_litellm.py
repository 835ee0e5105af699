"""LiteLLM's proxy (one worker, the ``ollama_chat/`` route) against ours, on the wrk
harness and the fast stand-in: the same OpenAI request, side by side in one run.

LiteLLM is not a dependency: ``make bench-litellm`` installs it into its own venv and
passes its executable in ``LITELLM``.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import aiohttp
import psutil

from . import wrk
from .bench_wrk import OPENAI
from .fast_upstream import start_fast
from .harness import CHAT, free_port, processes, start_proxy, wait_ready

ROUNDS = 3
SECONDS = 3
MASTER_KEY = "sk-bench-only"
AUTH = {"Authorization": f"Bearer {MASTER_KEY}"}


def start_litellm(executable: str, port: int, upstream: str) -> subprocess.Popen[bytes]:
    config = Path(tempfile.mkdtemp(prefix="otp-litellm-")) / "config.yaml"
    config.write_text(
        "model_list:\n"
        "  - model_name: llama3.2\n"
        "    litellm_params:\n"
        "      model: ollama_chat/llama3.2\n"
        f"      api_base: {upstream}\n"
    )
    env = {
        **os.environ,
        "LITELLM_LOG": "ERROR",
        "LITELLM_TELEMETRY": "False",
        "LITELLM_MASTER_KEY": MASTER_KEY,  # it refuses to start without one
    }
    return subprocess.Popen(
        [executable, "--config", str(config), "--port", str(port), "--num_workers", "1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def wait_openai(url: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession(headers=AUTH) as http:
        while time.monotonic() < deadline:
            try:
                async with http.post(url + "/v1/chat/completions", json=OPENAI) as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.5)
    raise RuntimeError(f"{url} did not answer")


async def run() -> list[tuple[str, str]]:
    executable = os.environ.get("LITELLM", "litellm")
    up_port, ours_port, lite_port = free_port(), free_port(), free_port()
    up_url = f"http://127.0.0.1:{up_port}"
    ours_url, lite_url = f"http://127.0.0.1:{ours_port}", f"http://127.0.0.1:{lite_port}"
    ours = start_proxy(ours_port, up_url)
    lite = start_litellm(executable, lite_port, up_url)
    figures: dict[str, list[float]] = {}
    with processes(start_fast(up_port), ours, lite):
        await wait_ready(up_url)
        await wait_openai(ours_url)
        await wait_openai(lite_url)
        for _ in range(ROUNDS):
            for name, url, body, headers in (
                ("direct", up_url + "/api/chat", CHAT, {}),
                ("ours", ours_url + "/v1/chat/completions", OPENAI, {}),
                ("litellm", lite_url + "/v1/chat/completions", OPENAI, AUTH),
            ):
                one = await wrk.run(url, body, connections=1, seconds=SECONDS, headers=headers)
                many = await wrk.run(url, body, connections=64, seconds=SECONDS, headers=headers)
                figures.setdefault(name + " p50", []).append(one.p50_ms)
                figures.setdefault(name + " rps", []).append(many.good_rps)
                figures.setdefault(name + " errors", []).append(many.errors + one.errors)
        rss = {
            "ours": psutil.Process(ours.pid).memory_info().rss / 1e6,
            "litellm": sum(
                p.memory_info().rss
                for p in [psutil.Process(lite.pid), *psutil.Process(lite.pid).children(True)]
            )
            / 1e6,
        }

    def m(name: str) -> float:
        return statistics.median(figures[name])

    rows = [("load average (1, 5, 15 min)", " / ".join(f"{x:.2f}" for x in os.getloadavg()))]
    for name in ("ours", "litellm"):
        rows += [
            (f"{name}: added p50 ms (c=1)", f"{m(name + ' p50') - m('direct p50'):+.2f}"),
            (f"{name}: req/s (c=64), ratio to direct", _ratio(m, name)),
            (f"{name}: RSS MB after load", f"{rss[name]:.0f}"),
            (f"{name}: errors", f"{sum(figures[name + ' errors']):.0f}"),
        ]
    return rows


def _ratio(m: object, name: str) -> str:
    assert callable(m)
    return f"{m(name + ' rps'):,.0f} ({m(name + ' rps') / m('direct rps'):.3f}x)"
