"""Request coalescing: identical cacheable requests in flight share one upstream call.

The upstream call runs in its own task, not in any one handler, so the first client may
leave without breaking the stream for the others. Every subscriber replays the chunks
from the start, then follows live. When the last subscriber leaves, the upstream call is
cancelled, which closes the upstream connection and stops Ollama's generation.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any


class Flight:
    """One upstream exchange whose chunks many subscribers read."""

    def __init__(self) -> None:
        self.head: asyncio.Future[tuple[int, dict[str, str]]] = (
            asyncio.get_running_loop().create_future()
        )
        self.chunks: list[bytes] = []
        self.done = False
        self.error: BaseException | None = None
        self._changed = asyncio.Event()
        self._subscribers = 0
        self.task: asyncio.Task[Any] | None = None

    # producer side
    def set_head(self, status: int, headers: dict[str, str]) -> None:
        if not self.head.done():
            self.head.set_result((status, headers))

    def push(self, chunk: bytes) -> None:
        self.chunks.append(chunk)
        self._wake()

    def finish(self, error: BaseException | None = None) -> None:
        self.done = True
        self.error = error
        if not self.head.done():
            if error is None:
                error = RuntimeError("upstream ended without a reply")
            self.head.set_exception(error)
            self.head.exception()  # mark retrieved: subscribers may have left already
        self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    # consumer side
    def subscribe(self) -> None:
        self._subscribers += 1

    def unsubscribe(self) -> None:
        self._subscribers -= 1
        if self._subscribers <= 0 and not self.done and self.task is not None:
            self.task.cancel()

    async def follow(self) -> AsyncIterator[bytes]:
        index = 0
        while True:
            if index < len(self.chunks):
                chunk = self.chunks[index]
                index += 1
                yield chunk
                continue
            if self.done:
                if self.error is not None:
                    raise self.error
                return
            await self._changed.wait()


class FlightBoard:
    """The flights in the air, by key."""

    def __init__(self) -> None:
        self._flights: dict[str, Flight] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    def __len__(self) -> int:
        return len(self._flights)

    def join_or_start(
        self, key: str, run: Callable[[Flight], Awaitable[None]]
    ) -> tuple[Flight, bool]:
        """Return the flight for ``key`` and whether this caller started it."""
        flight = self._flights.get(key)
        if flight is not None and not flight.done:
            flight.subscribe()
            return flight, False
        flight = Flight()
        flight.subscribe()
        self._flights[key] = flight

        async def _runner() -> None:
            try:
                await run(flight)
                flight.finish()
            except asyncio.CancelledError:
                flight.finish(ConnectionAbortedError("all clients left"))
                raise
            except BaseException as exc:  # handed to every subscriber
                flight.finish(exc)
            finally:
                if self._flights.get(key) is flight:
                    del self._flights[key]

        flight.task = asyncio.get_running_loop().create_task(_runner())
        self._tasks.add(flight.task)
        flight.task.add_done_callback(self._tasks.discard)
        return flight, True

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
