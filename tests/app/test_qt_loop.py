"""The batching loop keeps asyncio's ordering and cancellation rules."""

from __future__ import annotations

import asyncio
import socket

from PySide6.QtWidgets import QApplication

from app.qt_loop import BatchingQEventLoop
from tests.app.stall_probe import worst_stall


def test_order_cancellation_and_batches(qapp: QApplication) -> None:
    loop = BatchingQEventLoop(qapp)
    asyncio.set_event_loop(loop)
    seen: list[str] = []

    async def scenario() -> None:
        running = asyncio.get_running_loop()
        assert running is loop
        running.call_soon(seen.append, "a")
        cancelled = running.call_soon(seen.append, "never")
        running.call_soon(lambda: running.call_soon(seen.append, "next batch") and None)
        running.call_soon(seen.append, "b")
        cancelled.cancel()
        await asyncio.sleep(0.01)
        # Tasks, futures and timers all work on top of it.
        results = await asyncio.gather(*(asyncio.sleep(0.001 * i, result=i) for i in range(50)))
        assert results == list(range(50))

    try:
        loop.run_until_complete(scenario())
    finally:
        loop.close()
        asyncio.set_event_loop(None)
    assert seen == ["a", "b", "next batch"]


def test_an_exception_in_a_callback_reaches_the_handler(qapp: QApplication) -> None:
    loop = BatchingQEventLoop(qapp)
    asyncio.set_event_loop(loop)
    errors: list[BaseException] = []
    loop.set_exception_handler(lambda _loop, ctx: errors.append(ctx["exception"]))

    def boom() -> None:
        raise ValueError("boom")

    async def scenario() -> None:
        asyncio.get_running_loop().call_soon(boom)
        await asyncio.sleep(0.01)

    try:
        loop.run_until_complete(scenario())
    finally:
        loop.close()
        asyncio.set_event_loop(None)
    assert [str(e) for e in errors] == ["boom"]


def _worst_stall(loop: BatchingQEventLoop, seconds: float) -> float:
    return float(loop.run_until_complete(worst_stall(seconds)))


def test_timers_fire_in_deadline_order_and_not_early(qapp: QApplication) -> None:
    loop = BatchingQEventLoop(qapp)
    asyncio.set_event_loop(loop)
    fired: list[tuple[int, float]] = []
    try:
        start = loop.time()
        for delay_ms in (40, 10, 30, 0, 20):
            loop.call_later(delay_ms / 1000, lambda d=delay_ms: fired.append((d, loop.time())))
        loop.call_at(start + 0.015, lambda: fired.append((15, loop.time())))
        loop.call_later(0.005, lambda: fired.append((-1, 0.0))).cancel()
        loop.run_until_complete(asyncio.sleep(0.1))
    finally:
        loop.close()
        asyncio.set_event_loop(None)
    assert [d for d, _ in fired] == [0, 10, 15, 20, 30, 40]
    for delay_ms, at in fired:
        assert at - start >= delay_ms / 1000 - 0.001


def test_cancelled_timers_are_dropped_and_never_stall_the_loop(qapp: QApplication) -> None:
    """Issue 11: each request's timeout left a Qt timer behind when cancelled; tens of
    thousands then fired and were killed at once, stalling the shared loop for seconds."""
    loop = BatchingQEventLoop(qapp)
    asyncio.set_event_loop(loop)
    try:
        for _ in range(60_000):
            loop.call_later(0.3, lambda: None).cancel()
        # Compaction keeps only live handles: memory does not grow with dead timeouts.
        assert loop.scheduled_timer_count <= 200
        assert _worst_stall(loop, 0.8) < 0.05  # past the 0.3 s horizon
    finally:
        loop.close()
        asyncio.set_event_loop(None)


def test_socket_readers_run_when_data_arrives_and_stop_when_removed(qapp: QApplication) -> None:
    loop = BatchingQEventLoop(qapp)
    asyncio.set_event_loop(loop)
    errors: list[BaseException] = []
    loop.set_exception_handler(lambda _loop, ctx: errors.append(ctx["exception"]))
    left, right = socket.socketpair()
    left.setblocking(False)
    got: list[bytes] = []

    def read_some() -> None:
        got.append(left.recv(4))  # a small read: data remains, the reader fires again
        if b"!" in got[-1]:
            raise ValueError("bang")

    async def scenario() -> None:
        running = asyncio.get_running_loop()
        running.add_reader(left, read_some)
        right.send(b"hello world")
        for _ in range(100):
            if b"".join(got) == b"hello world":
                break
            await asyncio.sleep(0.01)
        running.add_reader(left, read_some)  # replaced: only the new one runs
        right.send(b"!")
        await asyncio.sleep(0.05)
        running.remove_reader(left)
        right.send(b"after")
        await asyncio.sleep(0.05)

    try:
        loop.run_until_complete(scenario())
    finally:
        loop.close()
        asyncio.set_event_loop(None)
        left.close()
        right.close()
    assert b"".join(got) == b"hello world!"
    assert [str(e) for e in errors] == ["bang"]  # a reader's error reaches the handler
