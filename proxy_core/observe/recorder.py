"""Records every request into a private Prometheus registry and fixed-bucket counters.

The hot path is a bisect and a few increments (no allocation per subscriber, no signal);
the dashboard pulls an immutable :class:`MetricsSnapshot` on its own timer.
"""

from __future__ import annotations

import bisect
import dataclasses
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

from ..cache.keys import normalize_model
from ..cache.store import CacheStats
from .exposition import CacheCollector, HardwareCollector, LaneCollector, RouterCollector
from .families import ScrapeCollector, ScrapedCounter, ScrapedHistogram
from .hardware import HardwareSample
from .model_stats import ModelCounts, ModelStats
from .ollama_status import OllamaStatus

# Resolves sub-millisecond cache hits and multi-minute generations.
LATENCY_BUCKETS: tuple[float, ...] = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
)  # fmt: skip
OTHER_MODEL = "other"
_STATUS_CLASS = {n: f"{n}xx" for n in range(1, 6)}


@dataclasses.dataclass(frozen=True, slots=True)
class MetricsSnapshot:
    """An immutable copy of the counters at ``taken`` (``time.monotonic()``)."""

    taken: float
    requests: int
    errors: int
    latency_buckets: tuple[float, ...]
    latency_counts: tuple[int, ...]  # per bucket, last one is +Inf
    latency_sum: float
    ttfb_count: int
    ttfb_sum: float
    completion_tokens: int
    generation_seconds: float
    cache_hits: int
    cache_misses: int
    cache_bypasses: int
    cache_time_saved: float
    cache_writes: int
    cache_evictions: int
    cache_entries: int  # as of the last monitor tick (a sqlite read, so not per snapshot)
    cache_bytes: int
    in_flight: int
    hardware: HardwareSample | None = None  # None until the first sample
    ollama: OllamaStatus | None = None  # None until the first check
    models: Mapping[str, ModelCounts] = dataclasses.field(default_factory=dict)  # by label
    lanes: Mapping[str, tuple[int, int]] = dataclasses.field(default_factory=dict)  # run, wait
    # The cache hits among ``latency_counts``, per bucket: shown apart from generations,
    # whose seconds would otherwise vanish under thousands of sub-millisecond hits.
    hit_counts: tuple[int, ...] = ()
    # Time to first token of streamed generations (all models): the traffic chart's line.
    ttft_count: int = 0
    ttft_sum: float = 0.0
    # Per Ollama host: (url, usable, breaker state, in flight, routed) (engines/router.py)
    upstreams: tuple[tuple[str, bool, str, int, int], ...] = ()


class MetricsRecorder:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        # The proxy's own routes (health, metrics, admin; create_app marks them): a
        # dashboard or a scraper polling them is not traffic, nor generation latency.
        self.own_routes: frozenset[str] = frozenset()
        self._declare_scraped()
        self._declare_counters()
        self.known_models: frozenset[str] = frozenset()
        self._models: dict[str, ModelStats] = {}  # by model label (bounded like metrics)
        self._lane_depth: Callable[[], dict[str, tuple[int, int]]] = dict
        self._router_rows: Callable[[], list[tuple[str, bool, str, int, int]]] = list
        self._lock = threading.Lock()
        self._children: dict[Any, Any] = {}  # (metric id, labels) -> prometheus child (_child)
        self._counts = [0] * (len(LATENCY_BUCKETS) + 1)
        self._hit_counts = [0] * (len(LATENCY_BUCKETS) + 1)
        self._labels: dict[str, str] = {}  # raw model name -> label, reset with the models
        self._requests = 0
        self._errors = 0
        self._sum = 0.0
        self._ttfb_count = 0
        self._ttfb_sum = 0.0
        self._ttft_count = 0
        self._ttft_sum = 0.0
        self._completion_tokens = 0
        self._generation_seconds = 0.0
        self._in_flight = 0
        self._cache_stats: Callable[[], CacheStats] = CacheStats
        # Set by the background monitor (proxy_core.observe.monitor), read by snapshot().
        self.hardware: HardwareSample | None = None
        self.ollama: OllamaStatus | None = None
        self.cache_volume: tuple[int, int] = (0, 0)
        self.registry.register(HardwareCollector(lambda: (self.hardware, self.ollama)))
        scraped = (
            self.request_duration,
            self.upstream_ttfb,
            self.queue_wait,
            self.tokens,
            self.tokens_per_second,
            self.client_requests,
        )
        self.registry.register(ScrapeCollector(self._lock, scraped, self._in_flight_family))

    def _declare_scraped(self) -> None:
        """What every request records: plain counters, families at scrape (families.py)."""
        self.request_duration = ScrapedHistogram(
            "proxy_request_duration_seconds",
            "Time from request to the last byte of the reply",
            ["route", "method", "status_class", "cache"],
            LATENCY_BUCKETS,
        )
        self.upstream_ttfb = ScrapedHistogram(
            "proxy_upstream_ttfb_seconds",
            "Time to the first byte from Ollama",
            ["route"],
            LATENCY_BUCKETS,
        )
        self.tokens = ScrapedCounter("proxy_tokens", "Tokens by model and kind", ["model", "kind"])
        self.tokens_per_second = ScrapedCounter(
            "proxy_generation_tokens_per_second",
            "Generation speed of the last reply, from eval_count/eval_duration",
            ["model"],
            gauge=True,
        )
        self.client_requests = ScrapedCounter(
            "proxy_client_generations", "Generation requests by recognised client", ["client"]
        )
        self.queue_wait = ScrapedHistogram(
            "proxy_queue_wait_seconds",
            "Time a generation waited in the proxy for a slot of its model",
            ["model", "lane"],
            LATENCY_BUCKETS,
        )

    def _declare_counters(self) -> None:
        """What the tools, the agent and the engines' failures record (prometheus-client's
        own metrics: rare events, no need for the scraped kind)."""
        self.tool_duration = Histogram(
            "tool_execution_duration_seconds",
            "Built-in tool execution time",
            ["tool"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.agent_steps = Histogram(
            "proxy_agent_steps",
            "Generations per agent/<model> turn (each step runs the tools of one reply)",
            buckets=(1, 2, 3, 4, 6, 8),
            registry=self.registry,
        )
        self.tool_prompts = Counter(
            "proxy_tool_prompts",
            "Tool actions put to a person, by answer (no_one: headless, so denied)",
            ["answer"],
            registry=self.registry,
        )
        self.tool_outcomes = Counter(
            "proxy_tool_calls",
            "Built-in tool calls by outcome: executed, refused (sandbox), denied (policy or a "
            "person), error",
            ["tool", "outcome"],
            registry=self.registry,
        )
        self.upstream_errors = Counter(
            "proxy_upstream_errors", "Upstream failures by kind", ["kind"], registry=self.registry
        )
        self.truncations = Counter(
            "proxy_context_truncations",
            "Replies whose prompt filled the context Ollama ran with (likely cut)",
            ["model", "client"],
            registry=self.registry,
        )

    def _in_flight_family(self) -> list[Any]:
        return [
            GaugeMetricFamily(
                "proxy_requests_in_flight", "Requests being served", value=self._in_flight
            )
        ]

    def attach_cache(
        self, stats: Callable[[], CacheStats], volume: Callable[[], tuple[int, int]]
    ) -> None:
        self._cache_stats = stats
        self.registry.register(CacheCollector(stats, volume))

    def set_known_models(self, names: Iterable[str]) -> None:
        self.known_models = frozenset(normalize_model(name) for name in names)
        self._labels = {}

    def learn_models(self, tags_models: Any) -> None:
        """Take the label set from the ``models`` list of an ``/api/tags`` reply."""
        if isinstance(tags_models, list):
            self.set_known_models(
                str(m.get("model") or m.get("name")) for m in tags_models if isinstance(m, dict)
            )

    def model_label(self, name: str) -> str:
        """Bounded cardinality: only models Ollama reports get their own label."""
        label = self._labels.get(name)
        if label is None:
            normal = normalize_model(name)
            label = normal if normal in self.known_models else OTHER_MODEL
            if len(self._labels) < 1024:  # clients choose names: the memo stays bounded
                self._labels[name] = label
        return label

    # hot path ---------------------------------------------------------------------------
    def request_started(self) -> None:
        self._in_flight += 1

    def request_finished(
        self,
        route: str,
        method: str,
        status: int,
        cache: str,
        seconds: float,
        model: str | None = None,
    ) -> None:
        self._in_flight -= 1
        index = bisect.bisect_left(LATENCY_BUCKETS, seconds)
        labels = (route, method, _STATUS_CLASS.get(status // 100) or f"{status // 100}xx", cache)
        with self._lock:
            self.request_duration.observe(labels, index, seconds)  # every route, labelled
            if route in self.own_routes:
                return  # the proxy's own routes are not traffic: not in the dashboard's counts
            self._counts[index] += 1
            self._requests += 1
            self._sum += seconds
            if status >= 500:
                self._errors += 1
            if cache == "HIT":
                self._hit_counts[index] += 1
            elif model is not None and status < 400:  # Ollama answered it: a generation
                self._model(self.model_label(model)).durations[index] += 1

    def _child(self, metric: Any, *labels: str) -> Any:
        """``metric.labels(*labels)``, cached: prometheus-client's lookup costs a few
        microseconds per call and these run for every request."""
        key = (id(metric), labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def upstream_first_byte(self, route: str, seconds: float) -> None:
        index = bisect.bisect_left(LATENCY_BUCKETS, seconds)
        with self._lock:
            self.upstream_ttfb.observe((route,), index, seconds)
            self._ttfb_count += 1
            self._ttfb_sum += seconds

    def attach_router(self, rows: Callable[[], list[tuple[str, bool, str, int, int]]]) -> None:
        """Per-host health, breaker, in-flight and routed counts, read at scrape time and by
        the snapshot (routing.Router.rows)."""
        self._router_rows = rows
        self.registry.register(RouterCollector(rows))

    def attach_lanes(
        self, depth: Callable[[], dict[str, tuple[int, int]]], superseded: Callable[[], int]
    ) -> None:
        """Queue depth and superseded autocompletes, read at scrape time (lanes.py)."""
        self._lane_depth = depth
        self.registry.register(LaneCollector(self.model_label, depth, superseded))

    def loaded_context(self, model: str) -> int | None:
        """The context a loaded model runs with, from the monitor's last /api/ps."""
        status = self.ollama
        if status is None:
            return None
        wanted = normalize_model(model)
        for loaded in status.loaded:
            if loaded.context_length and normalize_model(loaded.name) == wanted:
                return loaded.context_length
        return None

    def _model(self, label: str) -> ModelStats:
        stats = self._models.get(label)
        if stats is None:
            stats = self._models[label] = ModelStats(len(LATENCY_BUCKETS))
        return stats

    def truncated(self, model: str, client: str) -> None:
        label = self.model_label(model)
        self._child(self.truncations, label, client).inc()
        with self._lock:
            self._model(label).truncations += 1

    def generation_requested(self, model: str, client: str, num_ctx: int | None) -> None:
        """A generation (chat or generate) asked of ``model`` by ``client``."""
        with self._lock:
            self.client_requests.inc((client,))
            self._model(self.model_label(model)).requested(client, num_ctx)

    def first_token(self, model: str, seconds: float) -> None:
        """Time to Ollama's first byte of a generation (its time to first token)."""
        index = bisect.bisect_left(LATENCY_BUCKETS, seconds)
        with self._lock:
            self._model(self.model_label(model)).ttft[index] += 1
            self._ttft_count += 1
            self._ttft_sum += seconds

    def queued(self, model: str, lane: str, seconds: float) -> None:
        label = self.model_label(model)
        index = bisect.bisect_left(LATENCY_BUCKETS, seconds)
        with self._lock:
            self.queue_wait.observe((label, lane), index, seconds)
            stats = self._model(label)
            stats.queued += 1
            stats.queue_seconds += seconds

    def tool_prompt(self, answer: str) -> None:
        """A tool action that asks: allowed, always, denied, timed_out, no_one (headless)."""
        self.tool_prompts.labels(answer).inc()

    def agent_turn(self, steps: int) -> None:
        """An agent/<model> turn ended after ``steps`` generations (tools/agent.py)."""
        self.agent_steps.observe(steps)

    def tool_finished(self, tool: str, outcome: str, seconds: float) -> None:
        """A built-in tool call ended (tools/engine.py); only executed calls are timed."""
        self._child(self.tool_outcomes, tool, outcome).inc()
        if outcome == "executed":
            self._child(self.tool_duration, tool).observe(seconds)

    def upstream_error(self, kind: str) -> None:
        self.upstream_errors.labels(kind).inc()

    def generation_done(self, model: str, final: dict[str, Any]) -> None:
        """Token counts from Ollama's final chunk."""
        label = self.model_label(model)
        prompt = final.get("prompt_eval_count")
        completion = final.get("eval_count")
        duration = final.get("eval_duration")
        with self._lock:
            if isinstance(prompt, int):
                self.tokens.inc((label, "prompt"), prompt)
            if not isinstance(completion, int):
                return
            self.tokens.inc((label, "completion"), completion)
            if isinstance(duration, int) and duration > 0:
                self.tokens_per_second.set((label,), completion / (duration / 1e9))
                self._completion_tokens += completion
                self._generation_seconds += duration / 1e9
                stats = self._model(label)
                stats.completion_tokens += completion
                stats.generation_seconds += duration / 1e9

    # read side ---------------------------------------------------------------------------
    def snapshot(self) -> MetricsSnapshot:
        stats = self._cache_stats()
        with self._lock:
            return MetricsSnapshot(
                taken=time.monotonic(),
                requests=self._requests,
                errors=self._errors,
                latency_buckets=LATENCY_BUCKETS,
                latency_counts=tuple(self._counts),
                latency_sum=self._sum,
                ttfb_count=self._ttfb_count,
                ttfb_sum=self._ttfb_sum,
                completion_tokens=self._completion_tokens,
                generation_seconds=self._generation_seconds,
                cache_hits=stats.hits,
                cache_misses=stats.misses,
                cache_bypasses=stats.bypasses,
                cache_time_saved=stats.time_saved,
                cache_writes=stats.writes,
                cache_evictions=stats.evictions,
                cache_entries=self.cache_volume[0],
                cache_bytes=self.cache_volume[1],
                in_flight=self._in_flight,
                hardware=self.hardware,
                ollama=self.ollama,
                models={label: stats.freeze() for label, stats in self._models.items()},
                lanes=self._lane_depth(),
                hit_counts=tuple(self._hit_counts),
                ttft_count=self._ttft_count,
                ttft_sum=self._ttft_sum,
                upstreams=tuple(self._router_rows()),
            )
