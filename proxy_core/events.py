"""Events that need a person (a truncated prompt today; tool confirmations later), told to
whoever listens on ``ProxyService`` (the tray app) through one small interface: a
callable per listener, called on the loop. The core never touches Qt objects."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)
REPEAT_AFTER = 60.0  # the same notice for the same model and client at most once a minute


@dataclasses.dataclass(frozen=True, slots=True)
class ContextTruncated:
    """A prompt filled the context Ollama ran with: its start was most likely cut."""

    model: str
    client: str
    prompt_tokens: int
    num_ctx: int


ProxyEvent = ContextTruncated
Listener = Callable[[ProxyEvent], None]


class EventHub:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.listeners: list[Listener] = []
        self._clock = clock
        self._last: dict[tuple[str, str], float] = {}

    def publish(self, event: ProxyEvent) -> None:
        key = (event.model, event.client)
        now = self._clock()
        last = self._last.get(key)
        if last is not None and now - last < REPEAT_AFTER:
            return
        if len(self._last) > 1024:  # bounded: model and client labels are bounded anyway
            self._last.clear()
        self._last[key] = now
        for listener in list(self.listeners):
            try:
                listener(event)
            except Exception:  # a listener's bug must never fail a request
                log.exception("an event listener failed on %s", event)
