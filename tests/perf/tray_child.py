"""The tray app's controller for the benchmarks: the real AppController on qasync's loop,
with the dashboard shown (refreshing twice a second) or hidden, as argv says.

    python -m tests.perf.tray_child PORT OLLAMA_URL DATA_DIR shown|hidden [NUM_PARALLEL]
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from app.controller import AppController
from app.qt_loop import BatchingQEventLoop
from app.settings_store import SettingsStore
from proxy_core import ProxyService, ProxySettings


def main() -> None:
    port, ollama_url, data_dir, dashboard = sys.argv[1:5]
    parallel = {"default_num_parallel": int(sys.argv[5])} if len(sys.argv) > 5 else {}
    app = QApplication(sys.argv[:1])
    loop = BatchingQEventLoop(app)
    asyncio.set_event_loop(loop)
    settings = ProxySettings(
        port=int(port),
        ollama_url=ollama_url,
        data_dir=Path(data_dir),
        log_level="warning",
        **parallel,  # type: ignore[arg-type]
    )
    store = SettingsStore(QSettings(str(Path(data_dir) / "tray.ini"), QSettings.Format.IniFormat))
    controller = AppController(ProxyService(settings), store, tray_available=True)
    if dashboard == "shown":
        controller.open_dashboard()
    with loop:
        loop.run_until_complete(controller.run())


if __name__ == "__main__":
    main()
