"""The background ticker: hardware and cache volume, off the hot path (the engines' health
is engines/poller.py's).

Each tick's blocking reads (psutil, sqlite) run in the default executor; the GPU is an
asyncio subprocess, asked every few ticks.
"""

from __future__ import annotations

import asyncio
import logging
import time

from ..state import ProxyState
from .hardware import HardwareMonitor

log = logging.getLogger(__name__)


class BackgroundMonitor:
    def __init__(
        self,
        state: ProxyState,
        hardware: HardwareMonitor | None,
        *,
        interval: float,
        gpu_every: float,
    ) -> None:
        self._state = state
        self._hardware = hardware
        self._interval = interval
        self._gpu_every = gpu_every
        self._next_gpu = float("-inf")
        self._failed_once = False

    async def run(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:  # a monitor failure must never take the proxy down
                if not self._failed_once:
                    self._failed_once = True
                    log.exception("background monitor tick failed; it keeps trying")
            await asyncio.sleep(self._interval)

    async def tick(self) -> None:
        state = self._state
        metrics = state.metrics
        loop = asyncio.get_running_loop()
        now = time.monotonic()
        if self._hardware is not None:
            if now >= self._next_gpu and self._hardware.uses_nvidia_smi:
                self._next_gpu = now + self._gpu_every
                await self._hardware.read_gpus()  # tens of ms of CPU: not every tick
            metrics.hardware = await loop.run_in_executor(None, self._hardware.sample)
        metrics.cache_volume = await state.cache.volume()
