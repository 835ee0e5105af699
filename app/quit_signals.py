"""Ctrl-C and SIGTERM quit the tray app cleanly, as they quit the headless proxy.

Python runs a signal handler only between bytecodes, and while Qt waits for events no
bytecode runs: a plain handler (or the default KeyboardInterrupt) fires late, inside
whatever Qt callback happens next, where it cannot stop the app. ``set_wakeup_fd`` makes
the C-level handler write a byte to a socket the loop watches, so the loop wakes at once
and the quit runs as an ordinary callback.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
from collections.abc import Callable

QUIT_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class QuitOnSignals:
    """While installed, SIGINT and SIGTERM call ``on_quit`` on the loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, on_quit: Callable[[], None]) -> None:
        self._loop = loop
        self._on_quit = on_quit
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)
        self._writer.setblocking(False)
        self._previous: dict[int, object] = {}
        self._previous_fd = -1

    def install(self) -> None:
        self._loop.add_reader(self._reader.fileno(), self._drain)
        self._previous_fd = signal.set_wakeup_fd(self._writer.fileno(), warn_on_full_buffer=False)
        for sig in QUIT_SIGNALS:
            self._previous[sig] = signal.signal(sig, self._handle)

    def _handle(self, signum: int, _frame: object) -> None:
        self._loop.call_soon_threadsafe(self._on_quit)

    def _drain(self) -> None:
        with contextlib.suppress(OSError):
            while self._reader.recv(64):
                pass

    def uninstall(self) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)  # type: ignore[arg-type]
        self._previous.clear()
        signal.set_wakeup_fd(self._previous_fd)
        with contextlib.suppress(Exception):
            self._loop.remove_reader(self._reader.fileno())
        self._reader.close()
        self._writer.close()
