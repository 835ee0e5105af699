"""The batching loop keeps asyncio's ordering and cancellation rules."""

from __future__ import annotations

import asyncio

from PySide6.QtWidgets import QApplication

from app.qt_loop import BatchingQEventLoop


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
