"""Child process for the shared-loop stress test: ProxyService on the tray app's loop
(qasync with batched callbacks, app.qt_loop) with a QApplication, as the tray app runs it.
Prints its port, serves until stdin closes."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")

from PySide6.QtWidgets import QApplication  # noqa: E402

from app.qt_loop import BatchingQEventLoop  # noqa: E402
from proxy_core import ProxyService, ProxySettings  # noqa: E402


async def serve(ollama_url: str, data_dir: Path) -> None:
    settings = ProxySettings(port=0, ollama_url=ollama_url, data_dir=data_dir, shutdown_grace=2)
    service = ProxyService(settings)
    await service.start()
    print(service.address[1], flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.readline)  # the parent closes stdin to stop us
    await service.stop()


def main() -> None:
    app = QApplication(sys.argv[:1])
    loop = BatchingQEventLoop(app)
    asyncio.set_event_loop(loop)
    with loop:
        loop.run_until_complete(serve(sys.argv[1], Path(sys.argv[2])))
    print("clean exit", flush=True)


if __name__ == "__main__":
    main()
