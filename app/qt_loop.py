"""qasync's loop with ready callbacks batched and timers on one heap.

Two costs of qasync dominated the tray app under load, both because qasync maps asyncio
onto one Qt timer per callback:

* ``call_soon``: every ready callback became a zero-delay Qt timer (startTimer, a timer
  event into Python, killTimer). This loop queues ready handles in a deque and drains
  them with one zero-delay timer per batch, the way asyncio's own ``_run_once`` does; Qt
  events still interleave between batches, so the GUI stays responsive.
* ``call_later``/``call_at``: qasync returns a plain ``Handle`` whose ``cancel()`` leaves
  its Qt timer armed until it fires. Every request's ``asyncio.timeout`` (and aiohttp's
  read timeouts) left one behind, so tens of thousands of dead timers piled up and, when
  their deadline came, all fired and were killed at once: Qt's timer list is linear, so
  the loop stalled for seconds (issue 11, py-spy in ``_SimpleTimer.timerEvent`` ->
  ``killTimer``) and their handles held memory until then. This loop keeps real
  ``TimerHandle`` objects in a heap (as asyncio's base loop does), drops cancelled ones
  (compacting when they are the majority) and arms a single Qt timer for the earliest
  live deadline. docs/QT_LOOP.md has the measurements.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextvars
import heapq
import math
from collections.abc import Callable
from typing import Any

import qasync
from PySide6.QtCore import QSocketNotifier, Qt, QTimer

# Rebuild the heap when this many handles, and more than half of it, are cancelled
# (asyncio's base loop uses the same rule).
_MIN_CANCELLED_TO_COMPACT = 100


class BatchingQEventLoop(qasync.QEventLoop):  # type: ignore[misc]
    def __init__(self, app: Any = None) -> None:
        self._ready_handles: collections.deque[asyncio.Handle] = collections.deque()
        self._drain_timer = QTimer()
        self._drain_timer.setSingleShot(True)
        self._drain_timer.setInterval(0)
        self._drain_timer.timeout.connect(self._drain_ready)
        self._scheduled_handles: list[asyncio.TimerHandle] = []
        self._cancelled_handles = 0
        self._deadline_timer = QTimer()
        self._deadline_timer.setSingleShot(True)
        self._deadline_timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._deadline_timer.timeout.connect(self._run_due)
        self._armed_for = math.inf  # the deadline the Qt timer is set for
        super().__init__(app)
        # qasync's default executor starts ten QThreads up front; the proxy's blocking work
        # (sqlite writes, psutil samples, /metrics) needs a few threads, made when needed.
        self.set_default_executor(
            concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="otp-io")
        )

    # -- ready callbacks --------------------------------------------------------------------

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

    # -- sockets ---------------------------------------------------------------------------
    # qasync answers each readiness by disabling the fd's QSocketNotifier, queueing a
    # wrapper with call_soon, and re-enabling the notifier after the callback: two
    # dispatcher registrations and a queue round trip per packet (a tenth of the tray's
    # CPU under load). Here the callback runs when the notifier fires, as asyncio's own
    # selector loop runs reader callbacks straight after select(). Level-triggered
    # notifiers fire again while data remains, so nothing is missed; a notifier replaced
    # or removed meanwhile is checked before its callback runs.

    def _add_reader(self, fd: Any, callback: Callable[..., object], *args: Any) -> None:
        self._add_notifier(self._read_notifiers, QSocketNotifier.Type.Read, fd, callback, args)

    def _add_writer(self, fd: Any, callback: Callable[..., object], *args: Any) -> None:
        self._add_notifier(self._write_notifiers, QSocketNotifier.Type.Write, fd, callback, args)

    def _add_notifier(
        self,
        notifiers: dict[Any, QSocketNotifier],
        kind: QSocketNotifier.Type,
        fd: Any,
        callback: Callable[..., object],
        args: tuple[Any, ...],
    ) -> None:
        self._check_closed()
        existing = notifiers.pop(fd, None)
        if existing is not None:
            existing.setEnabled(False)
            existing.activated["int"].disconnect()  # type: ignore[index]
        notifier = QSocketNotifier(fd if isinstance(fd, int) else int(fd.fileno()), kind)
        handle = asyncio.Handle(callback, args, self)  # errors go to the exception handler

        def ready(_fd: int) -> None:
            if notifiers.get(fd) is notifier and not handle._cancelled:
                handle._run()

        # The "int" overload, which qasync's _remove_reader/_remove_writer disconnect.
        notifier.activated["int"].connect(ready)  # type: ignore[index]
        notifier.setEnabled(True)
        notifiers[fd] = notifier

    # -- timers ----------------------------------------------------------------------------

    def call_later(
        self,
        delay: float,
        callback: Callable[..., object],
        *args: Any,
        context: contextvars.Context | None = None,
    ) -> asyncio.TimerHandle:
        return self.call_at(self.time() + delay, callback, *args, context=context)

    def call_at(
        self,
        when: float,
        callback: Callable[..., object],
        *args: Any,
        context: contextvars.Context | None = None,
    ) -> asyncio.TimerHandle:
        self._check_closed()
        handle = asyncio.TimerHandle(when, callback, args, self, context=context)
        heapq.heappush(self._scheduled_handles, handle)
        handle._scheduled = True  # type: ignore[attr-defined]
        if when < self._armed_for:
            self._arm(when)
        return handle

    def _timer_handle_cancelled(self, handle: asyncio.TimerHandle) -> None:
        """Called by ``TimerHandle.cancel()``: drop dead handles instead of firing them."""
        if not getattr(handle, "_scheduled", False):
            return
        self._cancelled_handles += 1
        scheduled = self._scheduled_handles
        if (
            self._cancelled_handles > _MIN_CANCELLED_TO_COMPACT
            and self._cancelled_handles * 2 > len(scheduled)
        ):
            live = []
            for item in scheduled:
                if item._cancelled:
                    item._scheduled = False  # type: ignore[attr-defined]
                else:
                    live.append(item)
            heapq.heapify(live)
            self._scheduled_handles = live
            self._cancelled_handles = 0

    def _arm(self, when: float) -> None:
        self._armed_for = when
        delay_ms = max(0, math.ceil((when - self.time()) * 1000))
        self._deadline_timer.start(delay_ms)

    def _run_due(self) -> None:
        self._armed_for = math.inf
        scheduled = self._scheduled_handles
        now = self.time()
        while scheduled:
            head = scheduled[0]
            if head._cancelled:
                heapq.heappop(scheduled)
                head._scheduled = False  # type: ignore[attr-defined]
                self._cancelled_handles -= 1
                continue
            if head.when() > now:
                break
            heapq.heappop(scheduled)
            head._scheduled = False  # type: ignore[attr-defined]
            self._ready_handles.append(head)
        if self._ready_handles and not self._drain_timer.isActive():
            self._drain_timer.start()
        if scheduled:
            self._arm(scheduled[0].when())

    @property
    def scheduled_timer_count(self) -> int:
        """Timers waiting in the heap, cancelled ones not yet dropped included (tests)."""
        return len(self._scheduled_handles)

    def close(self) -> None:
        self._drain_timer.stop()
        self._deadline_timer.stop()
        self._ready_handles.clear()
        handles, self._scheduled_handles = self._scheduled_handles, []
        for handle in handles:
            handle._scheduled = False  # type: ignore[attr-defined]
            handle.cancel()
        super().close()
