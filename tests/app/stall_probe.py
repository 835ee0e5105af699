"""A probe task for the shared loop: how long it went without running."""

from __future__ import annotations

import asyncio
import time


async def worst_stall(seconds: float) -> float:
    """The longest gap between wake-ups of a task that sleeps 5 ms at a time."""
    worst = 0.0
    last = time.perf_counter()
    end = last + seconds
    while time.perf_counter() < end:
        await asyncio.sleep(0.005)
        now = time.perf_counter()
        worst = max(worst, now - last)
        last = now
    return worst
