"""The background ticker: hardware, cache volume and Ollama status, off the hot path.

Each tick's blocking reads (psutil, sqlite) run in the default executor; the GPU is an
asyncio subprocess; Ollama is asked over the shared upstream pool every few ticks.
"""

from __future__ import annotations

import asyncio
import logging
import time

from ..state import ProxyState
from .hardware import HardwareMonitor
from .ollama_status import check_ollama

log = logging.getLogger(__name__)


async def refresh_ollama(state: ProxyState) -> None:
    """Ask Ollama for its version, loaded and installed models; learn the model labels
    and digests (cache keys include a model's digest: cache/keys.py)."""
    status = await check_ollama(state.upstream)
    state.metrics.ollama = status
    if status.reachable:
        state.metrics.set_known_models(status.models)
        state.cache.learn_digests(
            [{"model": name, "digest": digest} for name, digest in status.digests]
        )


class BackgroundMonitor:
    def __init__(
        self,
        state: ProxyState,
        hardware: HardwareMonitor | None,
        *,
        interval: float,
        ollama_every: float,
    ) -> None:
        self._state = state
        self._hardware = hardware
        self._interval = interval
        self._ollama_every = ollama_every
        self._next_ollama = float("-inf")
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
        slow_tick = now >= self._next_ollama  # every ollama_every seconds (5 s by default)
        if self._hardware is not None:
            if slow_tick and self._hardware.uses_nvidia_smi:
                await self._hardware.read_gpus()  # tens of ms of CPU: not every tick
            metrics.hardware = await loop.run_in_executor(None, self._hardware.sample)
        metrics.cache_volume = await state.cache.volume()
        if slow_tick:
            self._next_ollama = now + self._ollama_every
            await refresh_ollama(state)
