"""Per-model counters for the tray's Models panel: generations, time to first token,
tokens, truncations, queue waits and the ``num_ctx`` values clients asked for.

Recorded on the loop (plain counters, no locks needed beyond the recorder's), copied
into an immutable :class:`ModelCounts` per snapshot; :func:`model_figures` turns two
copies into the figures of the window between them (pure, tested with tables).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from .histogram import percentile

MAX_CONTEXTS = 16  # distinct (num_ctx, client) pairs kept per model: labels are bounded


@dataclasses.dataclass(frozen=True, slots=True)
class ModelCounts:
    generations: int = 0
    ttft_counts: tuple[int, ...] = ()  # per latency bucket, last one +Inf
    # Whole-request durations of the model's requests Ollama answered (not cache hits,
    # not errors): the dashboard's second headline distribution, per model.
    duration_counts: tuple[int, ...] = ()
    truncations: int = 0
    queued: int = 0
    queue_seconds: float = 0.0
    completion_tokens: int = 0
    generation_seconds: float = 0.0
    contexts: tuple[tuple[int, str, int], ...] = ()  # (num_ctx, client, requests)


class ModelStats:
    __slots__ = (
        "generations",
        "ttft",
        "durations",
        "truncations",
        "queued",
        "queue_seconds",
        "completion_tokens",
        "generation_seconds",
        "contexts",
    )

    def __init__(self, buckets: int) -> None:
        self.generations = 0
        self.ttft = [0] * (buckets + 1)
        self.durations = [0] * (buckets + 1)
        self.truncations = 0
        self.queued = 0
        self.queue_seconds = 0.0
        self.completion_tokens = 0
        self.generation_seconds = 0.0
        self.contexts: dict[tuple[int, str], int] = {}

    def requested(self, client: str, num_ctx: int | None) -> None:
        self.generations += 1
        if num_ctx is not None:
            key = (num_ctx, client)
            if key in self.contexts or len(self.contexts) < MAX_CONTEXTS:
                self.contexts[key] = self.contexts.get(key, 0) + 1

    def freeze(self) -> ModelCounts:
        return ModelCounts(
            self.generations,
            tuple(self.ttft),
            tuple(self.durations),
            self.truncations,
            self.queued,
            self.queue_seconds,
            self.completion_tokens,
            self.generation_seconds,
            tuple((ctx, client, n) for (ctx, client), n in sorted(self.contexts.items())),
        )


@dataclasses.dataclass(frozen=True, slots=True)
class ModelFigures:
    generations: int  # in the window
    ttft_p50: float | None  # seconds
    tokens_per_second: float | None
    truncations: int
    queue_wait: float | None  # mean seconds of the requests that waited
    contexts: tuple[int, ...]  # the num_ctx values clients asked for in the window
    clients: tuple[str, ...]

    @property
    def reload_risk(self) -> bool:
        """Clients ask for different context sizes: Ollama reloads the model each time."""
        return len(self.contexts) > 1


def model_figures(
    buckets: Sequence[float],
    before: Mapping[str, ModelCounts],
    now: Mapping[str, ModelCounts],
) -> dict[str, ModelFigures]:

    out: dict[str, ModelFigures] = {}
    for model, current in now.items():
        old = before.get(model, ModelCounts())
        old_ttft = old.ttft_counts or (0,) * len(current.ttft_counts)
        ttft = [a - b for a, b in zip(current.ttft_counts, old_ttft, strict=True)]
        tokens = current.completion_tokens - old.completion_tokens
        seconds = current.generation_seconds - old.generation_seconds
        queued = current.queued - old.queued
        waited = current.queue_seconds - old.queue_seconds
        seen = {(c, cl): n for c, cl, n in old.contexts}
        window = [(c, cl) for c, cl, n in current.contexts if n > seen.get((c, cl), 0)]
        out[model] = ModelFigures(
            generations=current.generations - old.generations,
            ttft_p50=percentile(buckets, ttft, 0.5) if sum(ttft) else None,
            tokens_per_second=tokens / seconds if seconds > 0 else None,
            truncations=current.truncations - old.truncations,
            queue_wait=waited / queued if queued else None,
            contexts=tuple(sorted({c for c, _ in window})),
            clients=tuple(sorted({cl for _, cl in window})),
        )
    return out
