"""The dashboard with a real model's traffic (issue 26): llama-server and Gemma 3 270M
(scripts/real-engine.sh) as an OpenAI-compatible upstream, the simulator as the Ollama
host, 40 s of streamed chats (new questions and repeats, so hits too), then the
dashboard rendered offscreen to docs/screenshots/dashboard-real-engine.png.
``python -m scripts.engine_dashboard [PNG]``; its figures are the engine's."""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

# An offscreen screen the size of a laptop's, so the dashboard lays out as on a desktop.
_SCREEN = Path(tempfile.mkdtemp(prefix="otp-screen-")) / "screens.json"
_SCREEN.write_text(
    json.dumps({"screens": [{"name": "s", "x": 0, "y": 0, "width": 1440, "height": 1000,
                             "logicalDpi": 96, "dpr": 1}]})
)  # fmt: skip
os.environ["QT_QPA_PLATFORM"] = f"offscreen:configfile={_SCREEN}"

import aiohttp  # noqa: E402
from aiohttp.test_utils import TestServer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from app.dashboard import DashboardWindow  # noqa: E402
from app.presenter import DashboardPresenter  # noqa: E402
from proxy_core import ProxyService, ProxySettings  # noqa: E402
from tests.fakes.ollama_sim import create_sim_app  # noqa: E402
from tests.real_engine import engine as real  # noqa: E402

SECONDS = 40


async def traffic(base: str, deadline: float, seed: int) -> None:
    rng = random.Random(seed)
    async with aiohttp.ClientSession() as http:
        for n in range(10_000):
            if time.monotonic() > deadline:
                return
            repeat = rng.random() < 0.4  # asked before: a cache hit at temperature 0
            body = {
                "model": real.MODEL,
                "stream": True,
                "max_tokens": rng.choice((16, 32, 48)),
                "temperature": 0 if repeat else 0.8,
                "messages": [{"role": "user", "content": f"The sea, {n % 4 if repeat else n}?"}],
            }  # fmt: skip
            async with http.post(base + "/v1/chat/completions", json=body) as resp:
                await resp.read()


async def main(out: Path) -> None:
    engine = real.start(threads=1)
    sim = TestServer(create_sim_app())
    await sim.start_server()
    settings = ProxySettings(
        port=0,
        ollama_url=str(sim.make_url("")).rstrip("/"),
        openai_upstreams=f"llamacpp={engine.url}",
        data_dir=Path(tempfile.mkdtemp(prefix="otp-engine-shot-")),
        monitor_interval=1.0,
    )
    service = ProxyService(settings)
    await service.start()
    window = DashboardWindow(service.metrics_snapshot, DashboardPresenter(settings.ollama_base))
    window.resize(1280, 1000)
    window.show()
    try:
        deadline = time.monotonic() + SECONDS
        load = asyncio.gather(*(traffic(service.base_url, deadline, s) for s in range(2)))
        while not load.done():
            window.refresh()
            await asyncio.sleep(1)
        await load
        window.refresh()
        window.grab().save(str(out))
        print(out)
    finally:
        await service.stop()
        await sim.close()
        engine.stop()


if __name__ == "__main__":
    application = QApplication(sys.argv[:1])
    target = Path(
        sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots/dashboard-real-engine.png"
    )
    asyncio.run(main(target))
