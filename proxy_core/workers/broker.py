"""The supervisor's broker: the one set of per-model slots every worker draws from, and
the scrape that sums every worker's metrics. Workers reach it over a Unix socket.

A worker that dies (or whose connection drops) gives back every slot it held and every
wait it had queued, so a crash never leaks a model's slot."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import logging
from pathlib import Path
from typing import Any

from ..lanes import Lanes, Superseded
from .merge import merge
from .wire import LINE_LIMIT, parse, send

log = logging.getLogger(__name__)
SCRAPE_SECONDS = 5.0  # a worker that does not answer a scrape in time is left out


class _Worker:
    """One worker's connection: the slots it holds and the waits it queued."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.held: collections.Counter[str] = collections.Counter()
        self.waits: dict[int, asyncio.Task[None]] = {}


class Broker:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.lanes = Lanes()
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
            ident = int(message["id"])
            task = asyncio.get_running_loop().create_task(self._acquire(worker, message))
            worker.waits[ident] = task
        elif op == "cancel":
            waiting = worker.waits.pop(int(message["id"]), None)
            if waiting is not None:
                waiting.cancel()
        elif op == "release":
            self._release(worker, str(message["model"]))
        elif op == "scrape":  # every worker's metrics, summed
            self._spawn(self._fan_out(worker, int(message["id"]), "collect"))
        elif op == "cleared":  # one worker cleared the cache: every other drops its memory
            self._spawn(self._fan_out(worker, int(message["id"]), "drop"))
        elif op == "collected":
            future = self._scrapes.get(int(message["id"]))
            if future is not None and not future.done():
                future.set_result(str(message.get("text") or ""))

    async def _acquire(self, worker: _Worker, message: dict[str, Any]) -> None:
        ident, model = int(message["id"]), str(message["model"])
        try:
            waited = await self.lanes.acquire(
                model,
                int(message["slots"]),
                background=bool(message["background"]),
                client=str(message["client"]),  # as in one process: by client label
            )
        except Superseded as exc:
            send(worker.writer, {"id": ident, "ok": False, "error": str(exc)})
            return
        finally:
            worker.waits.pop(ident, None)
        worker.held[model] += 1
        send(worker.writer, {"id": ident, "ok": True, "waited": waited, "model": model})

    def _release(self, worker: _Worker, model: str) -> None:
        if worker.held[model] > 0:
            worker.held[model] -= 1
            self.lanes.release(model)

    def _forget(self, worker: _Worker) -> None:
        for task in worker.waits.values():
            task.cancel()
        for model, count in worker.held.items():
            for _ in range(count):
                self.lanes.release(model)
        worker.held.clear()

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
