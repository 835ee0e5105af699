"""Priority lanes: at most ``num_parallel`` generations per model go to Ollama at once; the
rest wait here, interactive requests (chat, tools, agents) before background ones
(fill-in-the-middle autocomplete, or what a client marks ``X-Proxy-Priority:
background``).

A new autocomplete request from a client drops that client's older ones still waiting
for the same model: the user typed on, so their answers would be thrown away anyway.
They are answered at once (:class:`Superseded`, 499) and never reach Ollama. A request
already running is not touched here; it is cancelled upstream when its client leaves.

The fast path (a free slot, nobody waiting) allocates nothing and arms no timer.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import time

from .errors import ProxyError


class Superseded(ProxyError):
    """A waiting autocomplete request replaced by a newer one from the same client."""

    status = 499


@dataclasses.dataclass(eq=False, slots=True)
class _Waiter:
    future: asyncio.Future[None]
    client: str
    background: bool
    since: float


class ModelLane:
    __slots__ = ("running", "slots", "interactive", "background")

    def __init__(self, slots: int) -> None:
        self.running = 0
        self.slots = slots
        self.interactive: collections.deque[_Waiter] = collections.deque()
        self.background: collections.deque[_Waiter] = collections.deque()

    @property
    def waiting(self) -> int:
        return len(self.interactive) + len(self.background)


class Lanes:
    def __init__(self) -> None:
        self._models: dict[str, ModelLane] = {}
        self.superseded = 0

    def lane(self, model: str, slots: int) -> ModelLane:
        lane = self._models.get(model)
        if lane is None:
            lane = self._models[model] = ModelLane(slots)
        lane.slots = slots  # a settings change applies to the next request
        return lane

    def depth(self) -> dict[str, tuple[int, int]]:
        """model -> (running, waiting), for metrics and the dashboard."""
        return {m: (lane.running, lane.waiting) for m, lane in self._models.items()}

    def try_acquire(self, model: str, slots: int) -> bool:
        """Take a free slot at once if there is one and nobody waits (no coroutine)."""
        lane = self.lane(model, slots)
        if lane.running < lane.slots and not lane.waiting:
            lane.running += 1
            return True
        return False

    async def acquire(self, model: str, slots: int, *, background: bool, client: str) -> float:
        """Wait for a slot; returns the seconds waited. Raises :class:`Superseded`."""
        if self.try_acquire(model, slots):
            return 0.0
        lane = self.lane(model, slots)
        if background:
            self._supersede(lane, client)
        waiter = _Waiter(
            asyncio.get_running_loop().create_future(), client, background, time.perf_counter()
        )
        (lane.background if background else lane.interactive).append(waiter)
        try:
            await waiter.future
        except BaseException:
            if (
                waiter.future.done()
                and not waiter.future.cancelled()
                and (waiter.future.exception() is None)
            ):
                self.release(model)  # granted and cancelled at once: hand the slot on
            else:
                self._forget(lane, waiter)
            raise
        return time.perf_counter() - waiter.since

    def release(self, model: str) -> None:
        lane = self._models[model]
        lane.running -= 1
        self._grant(lane)

    def _grant(self, lane: ModelLane) -> None:
        while lane.running < lane.slots and lane.waiting:
            queue = lane.interactive if lane.interactive else lane.background
            waiter = queue.popleft()
            if waiter.future.done():  # its client left while it waited
                continue
            lane.running += 1
            waiter.future.set_result(None)

    def _supersede(self, lane: ModelLane, client: str) -> None:
        keep: collections.deque[_Waiter] = collections.deque()
        for waiter in lane.background:
            if waiter.client == client and not waiter.future.done():
                waiter.future.set_exception(
                    Superseded("superseded by a newer autocomplete request from this client")
                )
                self.superseded += 1
            else:
                keep.append(waiter)
        lane.background = keep

    def _forget(self, lane: ModelLane, waiter: _Waiter) -> None:
        for queue in (lane.interactive, lane.background):
            try:
                queue.remove(waiter)
            except ValueError:
                continue
