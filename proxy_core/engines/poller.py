"""The one health poller: asks every engine for its version, models, loaded models and
health on an interval. The router routes by what it learns (engines/router.py); the
primary engine's status goes to whoever listens (the service: the tray's status, the
models' labels and digests for cache keys)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from ..credentials import redact_url
from ..observe.ollama_status import OllamaStatus, check_ollama
from .router import Backend, Router

log = logging.getLogger(__name__)
Listener = Callable[[OllamaStatus], None]  # told the primary engine's status each round


async def poll_once(router: Router, backend: Backend) -> OllamaStatus:
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
            "%s at %s is %s",
            backend.client.who,
            redact_url(backend.url),
            "back" if status.reachable else "unreachable",
        )
    return status


async def poll_all(router: Router) -> OllamaStatus:
    """One round over every engine; the primary's status."""
    statuses = await asyncio.gather(*(poll_once(router, b) for b in router.backends))
    return statuses[router.backends.index(router.primary)]


async def run(router: Router, interval: float, listener: Listener) -> None:
    """Poll every ``interval`` seconds until cancelled."""
    while True:
        try:
            listener(await poll_all(router))
        except Exception:  # a poll must never end the loop
            log.exception("polling the engines failed")
        await asyncio.sleep(interval)


def start(router: Router, interval: float, listener: Listener) -> asyncio.Task[None]:
    return asyncio.get_running_loop().create_task(
        run(router, interval, listener), name="proxy-engine-poller"
    )
