"""A worker's side of the broker (broker.py): the model slots shared by every worker, with
the interface of lanes.Lanes (the lane stage cannot tell them apart): a free one taken in
the shared table (slots.py), a wait in the broker's line; and the whole proxy's metrics."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from ..lanes import Superseded
from .slots import SlotTable
from .wire import LINE_LIMIT, parse, send

log = logging.getLogger(__name__)
Collect = Callable[[], Awaitable[bytes]]  # this worker's own metrics, as Prometheus text


class BrokerLink:
    def __init__(self, path: Path, index: int) -> None:
        self.path = path
        self.index = index  # which worker this is (0 .. N-1), for /healthz and logs
        self.collect: Collect | None = None
        self.drop_memory: Callable[[], None] | None = None  # the cache's memory layers
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._task: asyncio.Task[None] | None = None
        self.lanes = SharedLanes(self)
        self.closed = asyncio.Event()  # set when the broker is gone (the supervisor died)

    async def connect(self) -> None:
        self._reader, self._writer = await asyncio.open_unix_connection(
            str(self.path), limit=LINE_LIMIT
        )
        self.lanes.table = SlotTable(self.path.parent / "slots", self.index)
        self.tell({"op": "hello", "index": self.index})
        self._task = asyncio.get_running_loop().create_task(self._read())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._writer is not None:
            self._writer.close()
        if self.lanes.table is not None:
            self.lanes.table.close()
            self.lanes.table = None

    def tell(self, message: dict[str, Any]) -> None:
        if self._writer is None:
            raise ConnectionError("not connected to the workers' broker")
        send(self._writer, message)

    def ask(self, message: dict[str, Any]) -> tuple[int, asyncio.Future[dict[str, Any]]]:
        ident = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[ident] = future
        self.tell(message | {"id": ident})
        return ident, future

    def forget(self, ident: int) -> None:
        self._pending.pop(ident, None)

    async def scrape(self) -> bytes:
        """The whole proxy's metrics: every worker's, summed by the broker."""
        return str((await self._round_trip({"op": "scrape"}))["text"]).encode()

    async def cleared(self) -> None:
        """This worker cleared the cache: returns once every other worker has dropped its
        memory layers, so no worker answers from what was cleared."""
        await self._round_trip({"op": "cleared"})

    async def _round_trip(self, message: dict[str, Any]) -> dict[str, Any]:
        ident, future = self.ask(message)
        try:
            return await future
        finally:
            self.forget(ident)

    async def _read(self) -> None:
        assert self._reader is not None
        try:
            while line := await self._reader.readline():
                message = parse(line)
                if message is not None:
                    self._handle(message)
        except (ConnectionError, ValueError):
            pass
        log.error("worker %d lost its broker: the supervisor is gone; stopping", self.index)
        self.closed.set()
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ConnectionError("the workers' broker is gone"))

    def _handle(self, message: dict[str, Any]) -> None:
        if message.get("op") == "collect":
            asyncio.get_running_loop().create_task(self._collect(int(message["id"])))
            return
        if message.get("op") == "drop":
            if self.drop_memory is not None:
                self.drop_memory()
            self.tell({"op": "collected", "id": message["id"], "text": ""})
            return
        future = self._pending.pop(int(message.get("id") or 0), None)
        if future is not None and not future.done():
            future.set_result(message)
        elif message.get("ok") is True and "model" in message:
            self.lanes.release(str(message["model"]))  # granted after its waiter left

    async def _collect(self, ident: int) -> None:
        text = await self.collect() if self.collect is not None else b""
        with contextlib.suppress(ConnectionError):
            self.tell({"op": "collected", "id": ident, "text": text.decode()})


class SharedLanes:
    """lanes.Lanes' interface over the shared table: a free slot is taken there (a lock,
    no round trip); only a request that must wait asks the broker, which keeps the line."""

    def __init__(self, link: BrokerLink) -> None:
        self._link = link
        self.table: SlotTable | None = None  # set once connected
        self.superseded = 0
        self._seen: set[str] = set()  # the models this worker served (for depth())

    def try_acquire(self, model: str, slots: int) -> bool:
        self._seen.add(model)
        return self.table is not None and self.table.try_take(model, slots)

    async def acquire(self, model: str, slots: int, *, background: bool, client: str) -> float:
        message = {"op": "acquire", "model": model, "slots": slots}
        ident, future = self._link.ask(message | {"background": background, "client": client})
        try:
            reply = await future
        except asyncio.CancelledError:
            self._link.forget(ident)
            if future.done() and not future.cancelled() and future.result().get("ok"):
                self.release(model)  # granted as its request was cancelled: hand it on
            else:
                self._link.tell({"op": "cancel", "id": ident})  # a late grant is released
            raise
        if not reply.get("ok"):
            self.superseded += 1
            raise Superseded(str(reply.get("error") or "superseded"))
        return float(reply.get("waited") or 0.0)

    def release(self, model: str) -> None:
        if self.table is not None and self.table.give_back(model):
            self._link.tell({"op": "freed", "model": model})  # someone waits in line

    def depth(self) -> dict[str, tuple[int, int]]:
        """model -> (running, waiting) across every worker (the same in each)."""
        if self.table is None:
            return {}
        return {model: self.table.depth(model) for model in self._seen}
