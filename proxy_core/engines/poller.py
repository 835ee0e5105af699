"""Polls every Ollama host for its models, loaded models and health (engines/router.py uses
them). Runs only when there are several hosts; one host is the background monitor's."""

from __future__ import annotations

import asyncio
import logging

from ..credentials import redact_url
from ..observe.ollama_status import check_ollama
from .router import Backend, Router

log = logging.getLogger(__name__)


async def poll_once(router: Router, backend: Backend) -> None:
    status = await check_ollama(backend.client)
    was = backend.healthy
    router.polled(
        backend,
        status.reachable,
        status.models,
        (m.name for m in status.loaded),
        status.error,
        status.digests,
    )
    if was != status.reachable:
        log.warning(
            "Ollama at %s is %s",
            redact_url(backend.url),
            "back" if status.reachable else "unreachable",
        )


async def poll_all(router: Router) -> None:
    await asyncio.gather(*(poll_once(router, b) for b in router.backends))


async def run(router: Router, interval: float) -> None:
    """Poll every ``interval`` seconds until cancelled."""
    while True:
        try:
            await poll_all(router)
        except Exception:  # a poll must never end the loop
            log.exception("polling the Ollama hosts failed")
        await asyncio.sleep(interval)


def start(router: Router, interval: float) -> asyncio.Task[None] | None:
    """The poller's task, with several engines (one is the background monitor's)."""
    if router.single:
        return None
    return asyncio.get_running_loop().create_task(
        run(router, interval), name="proxy-upstream-poller"
    )
