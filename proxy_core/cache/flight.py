"""Request coalescing: identical cacheable requests in flight share one upstream call.

The upstream call runs in its own task, not in any one handler, so the first client may
leave without breaking the stream for the others. Every subscriber replays the chunks
from the start, then follows live. When the last subscriber leaves, the upstream call is
cancelled, which closes the upstream connection and stops Ollama's generation.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

Head = tuple[int, dict[str, str], int | None]  # status, headers, Content-Length


class Flight:
    """One upstream exchange whose chunks many subscribers read.

    Chunks are kept from the start so a late subscriber can replay them, up to
    ``replay_limit`` bytes. Past it the flight is sealed: it takes no new subscribers
    (they start their own) and drops the chunks every current subscriber has read, so an
    endless stream costs bounded memory."""

    def __init__(self, replay_limit: int = 16 << 20) -> None:
        self.head: asyncio.Future[Head] = asyncio.get_running_loop().create_future()
        self.chunks: list[bytes] = []
        self.base = 0  # index (since the start of the reply) of chunks[0]
        self.sealed = False
        self._held = 0
        self._replay_limit = replay_limit
        self._positions: dict[int, int] = {}  # follower -> next index it will read
        self._ids = itertools.count()
        self.done = False
        self.error: BaseException | None = None
        self._changed = asyncio.Event()
        self._subscribers = 0
        self.task: asyncio.Task[Any] | None = None

    # producer side
    def set_head(self, status: int, headers: dict[str, str], length: int | None = None) -> None:
        if not self.head.done():
            self.head.set_result((status, headers, length))

    def push(self, chunk: bytes) -> None:
        self.chunks.append(chunk)
        self._held += len(chunk)
        if self._held > self._replay_limit:
            self.sealed = True
            self._trim()
        self._wake()

    def _trim(self) -> None:
        """Drop the chunks every subscriber has read (only once sealed: before, a new
        subscriber may still need them)."""
        if len(self._positions) < self._subscribers:
            return  # a subscriber has not started reading: it needs everything still
        upto = min(self._positions.values()) - self.base
        if upto > 0:
            self._held -= sum(len(c) for c in self.chunks[:upto])
            del self.chunks[:upto]
            self.base += upto

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
        me = next(self._ids)
        index = 0  # counted from the start of the reply
        self._positions[me] = 0
        try:
            while True:
                if index - self.base < len(self.chunks):
                    chunk = self.chunks[index - self.base]
                    index += 1
                    self._positions[me] = index
                    yield chunk
                    continue
                if self.done:
                    if self.error is not None:
                        raise self.error
                    return
                await self._changed.wait()
        finally:
            self._positions.pop(me, None)


class FlightBoard:
    """The flights in the air, by key."""

    def __init__(self, replay_limit: int = 16 << 20) -> None:
        self.replay_limit = replay_limit
        self._flights: dict[str, Flight] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    def __len__(self) -> int:
        return len(self._flights)

    def live(self, key: str) -> Flight | None:
        """The flight for ``key`` that a new request may still join, if any."""
        flight = self._flights.get(key)
        if flight is None or flight.done or flight.sealed:
            return None
        return flight

    def join_or_start(
        self, key: str, run: Callable[[Flight], Awaitable[None]]
    ) -> tuple[Flight, bool]:
        """Return the flight for ``key`` and whether this caller started it."""
        flight = self._flights.get(key)
        if flight is not None and not flight.done and not flight.sealed:
            flight.subscribe()
            return flight, False
        flight = Flight(self.replay_limit)
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
