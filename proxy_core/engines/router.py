"""Which Ollama host serves a request, when there are several (``ollama_url`` lists them).

Each host is polled on an interval (``/api/tags``, ``/api/ps``: which models it has and
which are loaded; poller.py). A request for a model goes to a host that is healthy and
has it, preferring one where it is loaded (no load time), then the fewest requests in
flight. A conversation sticks to the host that served its start while that host is
healthy, so its KV cache stays warm. Each host has a circuit breaker: after
``breaker_failures`` failures in a row it is skipped for ``breaker_backoff`` seconds, then
one request tries it (half-open); a success closes it again.

One host (the usual case) skips all of this: ``pick`` returns it at once.
"""

from __future__ import annotations

import collections
import dataclasses
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from ..cache.keys import normalize_model
from ..credentials import redact_url
from ..errors import UpstreamUnavailable
from .base import Engine

STICKY_CONVERSATIONS = 4096  # remembered conversation -> host pairs (oldest dropped first)
CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"


@dataclasses.dataclass(eq=False)
class Backend:
    """One Ollama host and what the router knows of it."""

    client: Engine
    healthy: bool = True  # until a poll or a request says otherwise
    models: frozenset[str] = frozenset()  # normalized names; empty: not polled yet
    loaded: frozenset[str] = frozenset()
    digests: Mapping[str, str] = dataclasses.field(default_factory=dict)  # name -> weights
    in_flight: int = 0
    routed: int = 0  # requests sent here, lifetime (the dashboard's share)
    failures: int = 0  # in a row
    open_until: float = 0.0  # the breaker skips this host until then (monotonic)
    trial: bool = False  # half-open: one request is trying the host now
    polled: bool = False
    error: str | None = None  # why it is unhealthy, for the dashboard and /healthz

    @property
    def url(self) -> str:
        return self.client.base_url

    def breaker(self, now: float) -> str:
        if self.failures == 0 or self.open_until == 0.0:
            return CLOSED
        return OPEN if now < self.open_until else HALF_OPEN


class NoUpstream(UpstreamUnavailable):
    """Every host is down or its breaker is open (a 502 in the caller's dialect)."""


class Router:
    def __init__(
        self,
        clients: Sequence[Engine],
        *,
        breaker_failures: int = 3,
        breaker_backoff: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not clients:
            raise ValueError("at least one upstream")
        self.backends = [Backend(client) for client in clients]
        self.primary = self.backends[0]
        self.single = len(self.backends) == 1
        self.breaker_failures = breaker_failures
        self.breaker_backoff = breaker_backoff
        self.clock = clock
        self._sticky: collections.OrderedDict[int, Backend] = collections.OrderedDict()

    # choosing ------------------------------------------------------------------------------
    def usable(self, backend: Backend, now: float) -> bool:
        if not backend.healthy:
            return False  # the poller found it down; requests resume when a poll succeeds
        state = backend.breaker(now)
        return state == CLOSED or (state == HALF_OPEN and not backend.trial)

    def pick(
        self, model: str | None = None, conversation: int | None = None, exclude: Any = None
    ) -> Backend:
        """The host for a request (``exclude``: the one that just failed it)."""
        if self.single:
            return self.primary
        now = self.clock()
        usable = [b for b in self.backends if b is not exclude and self.usable(b, now)]
        if not usable:
            raise NoUpstream(
                "no Ollama host is available: "
                + "; ".join(
                    f"{redact_url(b.url)}: {b.error or 'circuit open'}" for b in self.backends
                )
            )
        if model is not None:
            for backend in usable:  # "lmstudio/qwen": addressed to that upstream by name
                if backend.client.prefix and model.startswith(backend.client.prefix):
                    return self._chosen(backend, now)
            wanted = normalize_model(model)
            having = [b for b in usable if wanted in b.models]
            # One name, one set of weights: a host whose copy differs from the first
            # host's (another quantisation under the same tag) is not used for it, so a
            # cached answer is never served for weights that did not make it.
            weights = self._weights(wanted)
            if weights:
                having = [b for b in having if b.digests.get(wanted, weights) == weights]
            # nobody polled has it: let a host that was not polled yet (or all) answer
            candidates = having or [b for b in usable if not b.polled] or usable
            if conversation is not None:
                sticky = self._sticky.get(conversation)
                if sticky is not None and sticky in candidates:
                    self._sticky.move_to_end(conversation)
                    return self._chosen(sticky, now)
            loaded = [b for b in candidates if wanted in b.loaded]
            chosen = min(loaded or candidates, key=_load)
            if conversation is not None:
                self._sticky[conversation] = chosen
                if len(self._sticky) > STICKY_CONVERSATIONS:
                    self._sticky.popitem(last=False)
            return self._chosen(chosen, now)
        return self._chosen(min(usable, key=_load), now)

    def _weights(self, wanted: str) -> str:
        for backend in self.backends:  # the first host (in the order given) that has it
            digest = backend.digests.get(wanted)
            if digest:
                return digest
        return ""

    def ollama_host(self) -> Backend:
        """For what only Ollama answers (no model to route by): the primary while it is
        usable, else the first usable Ollama host, else the primary (its error says why)."""
        now = self.clock()
        for backend in self.backends:
            if not backend.client.translating and self.usable(backend, now):
                return backend
        return self.primary

    def hosts_with(self, model: str) -> int:
        """How many usable hosts have ``model`` (at least 1: the lanes' slot multiplier)."""
        if self.single:
            return 1
        wanted = normalize_model(model)
        now = self.clock()
        return max(1, sum(1 for b in self.backends if wanted in b.models and self.usable(b, now)))

    def route_for(
        self, model: str, chat: Mapping[str, Any] | None
    ) -> tuple[str | None, int | None]:
        """What picks the engine for a request: its model, and for a chat its conversation
        (sticky); nothing with one engine (the fast path computes no key)."""
        if self.single:
            return (None, None)
        return (model, conversation_key(model, chat) if chat is not None else None)

    def _chosen(self, backend: Backend, now: float) -> Backend:
        if backend.breaker(now) == HALF_OPEN:
            backend.trial = True
        return backend

    # what happened -------------------------------------------------------------------------
    def started(self, backend: Backend) -> None:
        backend.in_flight += 1
        backend.routed += 1

    def finished(self, backend: Backend, ok: bool, error: str | None = None) -> None:
        """``ok``: Ollama answered (any status it chose); not ok: no answer (refused,
        reset, timed out before the first byte)."""
        backend.in_flight -= 1
        backend.trial = False
        if ok:
            backend.failures = 0
            backend.open_until = 0.0
            backend.healthy = True
            backend.error = None
            return
        backend.failures += 1
        backend.error = error
        if backend.failures >= self.breaker_failures or backend.open_until:
            backend.open_until = self.clock() + self.breaker_backoff

    def polled(
        self,
        backend: Backend,
        reachable: bool,
        models: Iterable[str] = (),
        loaded: Iterable[str] = (),
        error: str | None = None,
        digests: Iterable[tuple[str, str]] = (),
    ) -> None:
        backend.polled = True
        backend.healthy = reachable
        if reachable:
            backend.models = frozenset(normalize_model(m) for m in models)
            backend.loaded = frozenset(normalize_model(m) for m in loaded)
            backend.digests = {normalize_model(m): d for m, d in digests if d}
            backend.error = None
            if backend.open_until and backend.breaker(self.clock()) != OPEN:
                backend.failures, backend.open_until = 0, 0.0  # recovered while skipped
        else:
            backend.error = error

    def rows(self) -> list[tuple[str, bool, str, int, int]]:
        """(url, healthy, breaker, in flight, routed) per host, for metrics and the tray."""
        now = self.clock()
        return [
            (b.url, b.healthy and b.breaker(now) != OPEN, b.breaker(now), b.in_flight, b.routed)
            for b in self.backends
        ]


def _load(backend: Backend) -> tuple[int, int]:
    return backend.in_flight, backend.routed


def conversation_key(model: str, body: Mapping[str, Any]) -> int | None:
    """A chat's identity for stickiness: its model and its opening, the messages up to and
    including the first user message (every later turn repeats them). Prompts without
    messages have none."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return None
    head = []
    for message in messages[:4]:
        if not isinstance(message, dict):
            return None
        head.append((message.get("role"), str(message.get("content"))[:2000]))
        if message.get("role") == "user":
            break
    return hash((model, tuple(head)))
