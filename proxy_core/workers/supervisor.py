"""Start N workers on one port, restart one that dies, stop them all with a drain.

Every worker binds the same address with SO_REUSEPORT and the kernel spreads new
connections over them. A platform without SO_REUSEPORT (Windows) cannot run several
workers: the proxy says so at start instead of silently running one. Port 0 is resolved
here first (and held) so every worker listens on the same port."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import sys
import tempfile
from pathlib import Path

from ..access import load_or_create_token, token_required
from ..errors import StartupError
from ..settings import ProxySettings
from . import slots
from .broker import Broker
from .wire import EXIT_STARTUP

log = logging.getLogger(__name__)
READY_SECONDS = 60.0  # a worker that is not listening by then failed to start
RESTART_DELAY = 1.0  # between a worker's death and its replacement (no tight crash loop)


def worker_count(setting: str) -> int:
    """``auto`` is one worker per core."""
    if setting == "auto":
        return os.cpu_count() or 1
    return int(setting)


def reserve_port(host: str, port: int) -> tuple[int, socket.socket | None]:
    """The port every worker binds; port 0 is picked here, held by a socket that joins
    the workers' SO_REUSEPORT group without listening (it never takes a connection)."""
    if not hasattr(socket, "SO_REUSEPORT"):
        raise StartupError(
            "workers: this platform has no SO_REUSEPORT, so several processes cannot share "
            "one port; run with --workers 1"
        )
    if port != 0:
        return port, None
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    holder = socket.socket(family, socket.SOCK_STREAM)
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    holder.bind((host, 0))
    return int(holder.getsockname()[1]), holder


class Worker:
    def __init__(self, index: int) -> None:
        self.index = index
        self.process: asyncio.subprocess.Process | None = None
        self.restarts = 0


class Supervisor:
    def __init__(self, settings: ProxySettings, count: int) -> None:
        self.settings = settings
        self.count = count
        self.workers = [Worker(i) for i in range(count)]
        self._runtime = Path(tempfile.mkdtemp(prefix="ollama-tray-proxy-"))
        slots.create(self._runtime / "slots")
        self.broker = Broker(self._runtime / "broker.sock", self._runtime / "slots")
        self._stopping = False
        self._holder: socket.socket | None = None
        self._watchers: list[asyncio.Task[None]] = []

    @property
    def token_required(self) -> bool:
        return token_required(self.settings)

    @property
    def base_url(self) -> str:
        host = self.settings.host
        return f"http://{f'[{host}]' if ':' in host else host}:{self.settings.port}"

    async def start(self) -> None:
        port, self._holder = reserve_port(self.settings.host, self.settings.port)
        self.settings = self.settings.replace(port=port)
        # One token file for all: created here, before any worker could race to make it.
        await asyncio.get_running_loop().run_in_executor(
            None, load_or_create_token, self.settings.data_dir
        )
        await self.broker.start()
        try:
            await asyncio.gather(*(self._launch(w) for w in self.workers))
        except BaseException:
            await self.stop()
            raise
        self._watchers = [
            asyncio.get_running_loop().create_task(self._watch(w)) for w in self.workers
        ]

    async def _launch(self, worker: Worker) -> None:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "proxy_core.workers.child",
            str(self.broker.path),
            str(worker.index),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            # Its own process group: a terminal's Ctrl-C reaches the supervisor alone, which
            # then stops every worker in order (they would otherwise die at once, and be
            # taken for crashed and restarted).
            start_new_session=True,
        )
        worker.process = process
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(json.dumps(self.settings.to_json()).encode())
        process.stdin.close()
        try:
            line = await asyncio.wait_for(process.stdout.readline(), READY_SECONDS)
        except TimeoutError:
            line = b""
        if line.strip() != b"ready":
            code = await process.wait()
            raise StartupError(f"worker {worker.index} did not start (exit code {code})")

    async def _watch(self, worker: Worker) -> None:
        """Restart the worker whenever it dies while the proxy runs."""
        while True:
            assert worker.process is not None
            code = await worker.process.wait()
            if self._stopping:
                return
            log.warning(
                "worker %d (pid %d) exited with %s; restarting it",
                worker.index,
                worker.process.pid,
                code,
            )
            if code == EXIT_STARTUP and worker.restarts > 3:
                log.error("worker %d cannot start; the proxy runs without it", worker.index)
                return
            await asyncio.sleep(RESTART_DELAY)
            worker.restarts += 1
            with contextlib.suppress(StartupError):
                await self._launch(worker)

    def pids(self) -> list[int]:
        return [w.process.pid for w in self.workers if w.process and w.process.returncode is None]

    async def stop(self) -> None:
        """SIGTERM to every worker: each stops listening and gives its open streams the
        shutdown grace; a worker still there after that (and 10 s) is killed."""
        self._stopping = True
        for task in self._watchers:
            task.cancel()
        running = [w.process for w in self.workers if w.process and w.process.returncode is None]
        for process in running:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        grace = self.settings.shutdown_grace + 10
        for process in running:
            try:
                await asyncio.wait_for(process.wait(), grace)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        await self.broker.close()
        if self._holder is not None:
            self._holder.close()
        with contextlib.suppress(OSError):
            self.broker.path.unlink()
            (self._runtime / "slots").unlink()
            self._runtime.rmdir()
