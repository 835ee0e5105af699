"""Start-up: one QApplication, qasync's loop, the proxy service on that same loop."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Sequence

from PySide6.QtWidgets import QApplication, QMessageBox

from proxy_core import (
    ProxyService,
    SettingsError,
    build_parser,
    settings_from_args,
    tune_for_serving,
)

from . import HEADLESS_FLAG
from .controller import AppController
from .icons import app_icon
from .qt_loop import BatchingQEventLoop
from .quit_signals import QuitOnSignals
from .settings_store import APPLICATION, ORGANIZATION, SettingsStore
from .single_instance import SingleInstance, instance_key

PROG = "ollama-tray-proxy"


def use_offscreen_without_display() -> bool:
    """On a Linux box with no display (a server, CI) run the proxy with Qt's offscreen
    platform instead of aborting: the endpoint works, the windows are simply unseen."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return False
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return False
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    return True


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser(PROG)
    parser.add_argument(
        HEADLESS_FLAG, action="store_true", help="run the proxy alone, without the tray or Qt"
    )
    args = parser.parse_args(argv)
    if args.headless:  # reached only when main() is called directly (launch.py handles it)
        from proxy_core import run_headless as headless

        return headless([a for a in (sys.argv[1:] if argv is None else argv) if a != HEADLESS_FLAG])
    del args.headless
    if use_offscreen_without_display():
        print(
            f"{PROG}: no display found; the proxy runs, but its windows cannot be shown "
            "(use `make headless` on servers)",
            file=sys.stderr,
        )
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName("Ollama Tray Proxy")
    app.setWindowIcon(app_icon())
    app.setQuitOnLastWindowClosed(False)  # closing windows never quits; only Quit does
    store = SettingsStore()
    try:
        settings = settings_from_args(args, stored=store.load())
    except SettingsError as exc:
        print(f"{PROG}: invalid setting: {exc}", file=sys.stderr)
        QMessageBox.critical(None, "Ollama Tray Proxy", f"Invalid setting:\n{exc}")
        return 2
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    instance = SingleInstance(instance_key(settings.data_dir))
    if not instance.claim():
        print(f"{PROG}: already running; asked it to show its dashboard", flush=True)
        return 0
    loop = BatchingQEventLoop(app)
    asyncio.set_event_loop(loop)
    controller = AppController(ProxyService(settings), store)
    instance.activated.connect(controller.open_dashboard)
    signals = QuitOnSignals(loop, controller.quit)
    tune_for_serving()
    try:
        with loop:
            signals.install()
            try:
                code = int(loop.run_until_complete(controller.run()))
            finally:
                signals.uninstall()
    finally:
        instance.release()
    if code == 0:
        print(f"{PROG}: stopped", flush=True)
    return code
