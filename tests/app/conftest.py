"""App tests run their scenario on the app's loop (qasync, batched; app.qt_loop)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from app.qt_loop import BatchingQEventLoop
from app.settings_store import SettingsStore


@pytest.fixture
def on_qt_loop(qapp: QApplication) -> Iterator[Callable[[Awaitable[object]], object]]:
    qapp.setQuitOnLastWindowClosed(False)  # as app.main sets it: closing a window never quits
    loop = BatchingQEventLoop(qapp)
    asyncio.set_event_loop(loop)

    def run(scenario: Awaitable[object]) -> object:
        return loop.run_until_complete(asyncio.wait_for(scenario, 60))

    try:
        yield run
    finally:
        loop.close()
        asyncio.set_event_loop(None)


@pytest.fixture
def store(tmp_path: Path) -> SettingsStore:
    return SettingsStore(QSettings(str(tmp_path / "tray.ini"), QSettings.Format.IniFormat))
