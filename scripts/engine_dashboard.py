"""The dashboard and the Models panel with a real model's traffic (issue 26): llama-server
and Gemma 3 270M (scripts/real-engine.sh) as the proxy's only upstream (no Ollama:
``ollama_url=none``), 40 s of streamed chats (new questions and repeats, so hits too),
then both windows rendered offscreen to docs/screenshots/dashboard-real-engine.png and
models-real-engine.png. ``python -m scripts.engine_dashboard [DIR]``; every figure in
them is the engine's."""

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
from PySide6.QtWidgets import QApplication  # noqa: E402

from app.dashboard import DashboardWindow  # noqa: E402
from app.models_panel import ModelsWindow  # noqa: E402
from app.presenter import DashboardPresenter  # noqa: E402
from proxy_core import ProxyService, ProxySettings  # noqa: E402
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
    settings = ProxySettings(
        port=0,
        ollama_url="none",
        openai_upstreams=f"llamacpp={engine.url}",
        data_dir=Path(tempfile.mkdtemp(prefix="otp-engine-shot-")),
        monitor_interval=1.0,
    )
    service = ProxyService(settings)
    await service.start()
    log = service.state.requests if service.state is not None else None
    window = DashboardWindow(
        service.metrics_snapshot,
        DashboardPresenter(settings.ollama_base),
        requests=lambda: log.latest(len(log.records)) if log is not None else [],
    )
    window.resize(1280, 1000)
    window.show()
    models = ModelsWindow(service.metrics_snapshot, lambda: service.settings.models)
    models.resize(1300, 220)
    models.show()
    try:
        deadline = time.monotonic() + SECONDS
        load = asyncio.gather(*(traffic(service.base_url, deadline, s) for s in range(2)))
        while not load.done():
            window.refresh()
            models.refresh()
            QApplication.processEvents()  # a plain asyncio loop: Qt lays out only here
            await asyncio.sleep(1)
        await load
        await asyncio.sleep(1.5)  # the monitor's next poll: what is loaded now
        for _ in range(2):
            window.refresh()
            models.refresh()
            QApplication.processEvents()
        for widget, name in ((window, "dashboard"), (models, "models")):
            widget.grab().save(str(out / f"{name}-real-engine.png"))
            print(out / f"{name}-real-engine.png")
    finally:
        await service.stop()
        engine.stop()


if __name__ == "__main__":
    application = QApplication(sys.argv[:1])
    asyncio.run(main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots")))
