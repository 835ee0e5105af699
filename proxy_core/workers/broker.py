"""The supervisor's broker: the line for a model's slots once they are all taken, and the
scrape that sums every worker's metrics. Workers reach it over a Unix socket.

A free slot a worker takes itself, in the shared table (slots.py); here waits the request
that found none: interactive before background (autocomplete), a newer autocomplete from
a client superseding its older one, as lanes.py does in one process. A worker that dies
(or whose connection drops) gives back every slot it held and every wait it had queued,
so a crash never leaks a model's slot."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import itertools
import logging
import time
from pathlib import Path
from typing import Any

from .merge import merge
from .slots import SlotTable
from .wire import LINE_LIMIT, parse, send

log = logging.getLogger(__name__)
SCRAPE_SECONDS = 5.0  # a worker that does not answer a scrape in time is left out


class _Worker:
    """One worker's connection, and its column in the slot table (its hello says which)."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.index: int | None = None


@dataclasses.dataclass(eq=False, slots=True)
class _Waiter:
    worker: _Worker
    ident: int
    model: str
    client: str
    since: float


class Broker:
    def __init__(self, path: Path, table: Path) -> None:
        self.path = path
        self.table = SlotTable(table, worker=-1)
        self.superseded = 0
        self._slots: dict[str, int] = {}  # the latest slot count asked for, per model
        # model -> (interactive, background) lines
        self._lines: dict[str, tuple[collections.deque[_Waiter], collections.deque[_Waiter]]] = {}
        self._workers: set[_Worker] = set()
        self._server: asyncio.AbstractServer | None = None
        self._ids = itertools.count(1)
        self._scrapes: dict[int, asyncio.Future[str]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_unix_server(
            self._serve, path=str(self.path), limit=LINE_LIMIT
        )

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        self.table.close()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        worker = _Worker(writer)
        self._workers.add(worker)
        try:
            while line := await reader.readline():
                message = parse(line)
                if message is not None:
                    self._handle(worker, message)
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            self._workers.discard(worker)
            self._forget(worker)
            writer.close()

    def _handle(self, worker: _Worker, message: dict[str, Any]) -> None:
        op = message.get("op")
        if op == "acquire":
            self._acquire(worker, message)
        elif op == "freed":  # a worker gave a slot back while someone waited
            self._grant(str(message["model"]))
        elif op == "cancel":
            self._cancel(worker, int(message["id"]))
        elif op == "hello":
            worker.index = int(message["index"])
        elif op == "scrape":  # every worker's metrics, summed
            self._spawn(self._fan_out(worker, int(message["id"]), "collect"))
        elif op == "cleared":  # one worker cleared the cache: every other drops its memory
            self._spawn(self._fan_out(worker, int(message["id"]), "drop"))
        elif op == "collected":
            future = self._scrapes.get(int(message["id"]))
            if future is not None and not future.done():
                future.set_result(str(message.get("text") or ""))

    # -- the line for a model's slots --------------------------------------------------------
    def _acquire(self, worker: _Worker, message: dict[str, Any]) -> None:
        model, ident = str(message["model"]), int(message["id"])
        self._slots[model] = int(message["slots"])
        waiter = _Waiter(worker, ident, model, str(message["client"]), time.perf_counter())
        with self.table.locked():
            offset = self.table.entry(model)
            if offset is not None and (
                self.table.waiting(offset) or self.table.running(offset) >= self._slots[model]
            ):
                interactive, background = self._lines.setdefault(
                    model, (collections.deque(), collections.deque())
                )
                if message.get("background"):
                    self._supersede(model, waiter.client, offset)
                    background.append(waiter)
                else:
                    interactive.append(waiter)
                self.table.add_waiting(offset, 1)
                return
            if offset is not None and worker.index is not None:
                self.table.add_running(offset, worker.index, 1)
        self._granted(waiter)

    def _grant(self, model: str) -> None:
        lines = self._lines.get(model)
        granted = []
        with self.table.locked():
            offset = self.table.entry(model)
            while lines and (lines[0] or lines[1]) and offset is not None:
                if self.table.running(offset) >= self._slots.get(model, 1):
                    break
                waiter = (lines[0] or lines[1]).popleft()
                self.table.add_waiting(offset, -1)
                if waiter.worker.index is not None:
                    self.table.add_running(offset, waiter.worker.index, 1)
                granted.append(waiter)
        for waiter in granted:
            self._granted(waiter)

    def _granted(self, waiter: _Waiter) -> None:
        waited = time.perf_counter() - waiter.since
        reply = {"id": waiter.ident, "ok": True, "waited": waited, "model": waiter.model}
        send(waiter.worker.writer, reply)

    def _supersede(self, model: str, client: str, offset: int) -> None:
        """Under the lock: the client's older autocomplete still waiting is answered."""
        background = self._lines[model][1]
        for waiter in [w for w in background if w.client == client]:
            background.remove(waiter)
            self.table.add_waiting(offset, -1)
            self.superseded += 1
            message = "superseded by a newer autocomplete request from this client"
            send(waiter.worker.writer, {"id": waiter.ident, "ok": False, "error": message})

    def _cancel(self, worker: _Worker, ident: int) -> None:
        self._drop_waiters(lambda w: w.worker is worker and w.ident == ident)

    def _drop_waiters(self, which: Any) -> None:
        with self.table.locked():
            for model, lines in self._lines.items():
                offset = self.table.entry(model)
                for line in lines:
                    for waiter in [w for w in line if which(w)]:
                        line.remove(waiter)
                        if offset is not None:
                            self.table.add_waiting(offset, -1)

    def _forget(self, worker: _Worker) -> None:
        """A worker is gone: its waits leave the line, its slots go to the next in line."""
        self._drop_waiters(lambda w: w.worker is worker)
        if worker.index is not None:
            with self.table.locked():
                self.table.forget_worker(worker.index)
        for model in list(self._lines):
            self._grant(model)

    async def _fan_out(self, asker: _Worker, ident: int, op: str) -> None:
        """Ask every worker (``collect``: its metrics; ``drop``: forget the cache's memory
        layers) and answer the asker once all did: the metrics summed."""
        futures = []
        loop = asyncio.get_running_loop()
        for worker in list(self._workers):
            if op == "drop" and worker is asker:
                continue
            key = next(self._ids)
            future: asyncio.Future[str] = loop.create_future()
            self._scrapes[key] = future
            futures.append((key, future))
            send(worker.writer, {"op": op, "id": key})
        texts: list[str] = []
        try:
            if futures:
                done, _ = await asyncio.wait([f for _, f in futures], timeout=SCRAPE_SECONDS)
                texts = [f.result() for f in done if not f.cancelled()]
        finally:
            for key, future in futures:
                self._scrapes.pop(key, None)
                future.cancel()
        text = (await loop.run_in_executor(None, merge, texts)).decode() if op == "collect" else ""
        send(asker.writer, {"id": ident, "text": text})
        with contextlib.suppress(ConnectionError):
            await asker.writer.drain()
