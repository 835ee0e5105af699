"""qasync's loop with ready callbacks batched: the proxy's throughput on the Qt loop.

qasync turns every ``call_soon`` into its own zero-delay Qt timer (startTimer, a timer
event into Python, killTimer). asyncio schedules several per request (task steps, future
callbacks, transport events), so that per-callback cost dominated the tray app's
throughput in profiling. This subclass queues ready handles in a deque and drains them
with one zero-delay timer per batch, the way asyncio's own ``_run_once`` does; Qt events
still interleave between batches, so the GUI stays responsive.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
from collections.abc import Callable
from typing import Any

import qasync
from PySide6.QtCore import QTimer


class BatchingQEventLoop(qasync.QEventLoop):  # type: ignore[misc]
    def __init__(self, app: Any = None) -> None:
        self._ready_handles: collections.deque[asyncio.Handle] = collections.deque()
        self._drain_timer = QTimer()
        self._drain_timer.setSingleShot(True)
        self._drain_timer.setInterval(0)
        self._drain_timer.timeout.connect(self._drain_ready)
        super().__init__(app)

    def call_soon(
        self,
        callback: Callable[..., object],
        *args: Any,
        context: contextvars.Context | None = None,
    ) -> asyncio.Handle:
        self._check_closed()
        handle = asyncio.Handle(callback, args, self, context=context)
        self._ready_handles.append(handle)
        if not self._drain_timer.isActive():
            self._drain_timer.start()
        return handle

    def _drain_ready(self) -> None:
        # Only what was ready when the batch began: callbacks scheduled by this batch run
        # in the next one, after Qt has had a turn (as asyncio's _run_once does).
        ready = self._ready_handles
        for _ in range(len(ready)):
            handle = ready.popleft()
            if not handle._cancelled:
                handle._run()
        if ready:
            self._drain_timer.start()

    def close(self) -> None:
        self._drain_timer.stop()
        self._ready_handles.clear()
        super().close()
