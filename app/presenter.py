"""What the tray and the dashboard show, computed from snapshots. No Qt here: pure, tested.

The dashboard's timer calls :meth:`DashboardPresenter.update` with a fresh
:class:`MetricsSnapshot` about twice a second; the widgets only draw the returned view.
"""

from __future__ import annotations

import collections
import dataclasses
import time
from collections.abc import Sequence

from proxy_core import (
    AuditEntry,
    DashboardFigures,
    HardwareSample,
    MetricsSnapshot,
    OllamaStatus,
    RequestRecord,
    compare,
    format_seconds,
)

from .chart_data import (
    LatencyChart,
    TimelinePoint,
    latency_chart,
    model_counts,
    smoothed_timeline,
    window_counts,
)
from .hardware_view import (
    SpecRow,
    format_bytes,
    format_rate,
    hardware_rows,
    ollama_is_local,
    overall,
    process_text,
)
from .memory_view import memory_rows
from .tray_state import plural

RECENT_SECONDS = 60.0  # the "recent" histogram and hit rate cover the last minute
SMOOTH_SECONDS = 3.0  # each traffic point is a rate over this long
TIMELINE_SAMPLES = 128  # a minute and the smoothing window at two refreshes a second


@dataclasses.dataclass(frozen=True, slots=True)
class DashboardView:
    summary: str
    # The two headline distributions of generations (for ``model`` or all models).
    ttft: LatencyChart
    duration: LatencyChart
    # Cache hits and all traffic, each a line apart from the charts.
    latency_lines: tuple[str, ...]
    model_choices: tuple[str, ...]  # model labels with generations in the last minute
    timeline: tuple[TimelinePoint, ...]
    cache: tuple[tuple[str, str], ...]
    hardware: tuple[SpecRow, ...]
    verdict: str
    ollama: tuple[tuple[str, str], ...]
    models: tuple[tuple[str, str], ...]
    this_app: tuple[tuple[str, str], ...] = ()  # the proxy's own CPU and memory
    memory: tuple[tuple[str, str], ...] = ()  # RAM and VRAM against the models (memory_view)
    upstreams: tuple[tuple[str, str], ...] = ()  # several Ollama hosts: one row each


class DashboardPresenter:
    """Keeps the last minute of snapshots; turns each new one into a :class:`DashboardView`."""

    def __init__(self, ollama_url: str = "") -> None:
        self.ollama_url = ollama_url
        self.caching = True  # set by the controller: shown on the dashboard when off
        self.last_tokens_per_second: float | None = None
        self._history: collections.deque[MetricsSnapshot] = collections.deque()
        # Cumulative (taken, requests, ttft_count, ttft_sum): the traffic chart's source.
        self._samples: collections.deque[tuple[float, int, int, float]] = collections.deque(
            maxlen=TIMELINE_SAMPLES
        )
        self.model: str | None = None  # the latency charts' model label; None: all models

    def reset(self) -> None:
        """Forget history (the dashboard was hidden: a gap must not look like a lull)."""
        self._history.clear()
        self._samples.clear()

    def update(self, snapshot: MetricsSnapshot) -> DashboardView:
        previous = self._history[-1] if self._history else None
        tick = compare(previous, snapshot)
        # Keep one snapshot at or beyond the window's start as its base, so a gap (the
        # window was hidden) shows the requests since then, not the whole lifetime.
        history = self._history
        while len(history) >= 2 and snapshot.taken - history[1].taken >= RECENT_SECONDS:
            history.popleft()
        base = self._history[0] if self._history else None
        recent = compare(base, snapshot)
        self._history.append(snapshot)
        self._samples.append(
            (snapshot.taken, snapshot.requests, snapshot.ttft_count, snapshot.ttft_sum)
        )
        return self._view(base, snapshot, tick, recent)

    def _latency(
        self, base: MetricsSnapshot | None, snap: MetricsSnapshot, recent: DashboardFigures
    ) -> tuple[LatencyChart, LatencyChart, tuple[str, ...], tuple[str, ...]]:
        """The generation charts for the chosen model, the hits and all-traffic lines,
        and the models to choose from."""
        bounds = snap.latency_buckets
        choices = tuple(
            sorted(
                label
                for label, stats in snap.models.items()
                if stats.generations
                > (base.models[label].generations if base and label in base.models else 0)
            )
        )
        if self.model is not None and self.model not in choices:
            choices = (*choices, self.model)  # keep the choice while it is idle
        which = "" if self.model is None else f" of {self.model}"
        ttft = latency_chart(
            f"Time to first token{which}",
            bounds,
            model_counts(base, snap, "ttft_counts", self.model),
        )
        duration = latency_chart(
            f"Total duration{which}",
            bounds,
            model_counts(base, snap, "duration_counts", self.model),
        )
        hits = latency_chart(
            "Cache hits", bounds, window_counts(snap.hit_counts, base.hit_counts if base else None)
        )
        window = recent.window
        lines = (
            f"{hits.headline} ({plural(hits.count, 'hit')}, not in the charts)"
            if hits.count
            else hits.headline,
            f"All requests, hits and errors too: {plural(window.count, 'request')} · "
            + " · ".join(
                f"{name} {format_seconds(getattr(window, name))}" for name in ("p50", "p95", "p99")
            ),
        )
        return ttft, duration, lines, choices

    def _view(
        self,
        base: MetricsSnapshot | None,
        snap: MetricsSnapshot,
        tick: DashboardFigures,
        recent: DashboardFigures,
    ) -> DashboardView:
        ttft, duration, latency_lines, choices = self._latency(base, snap, recent)
        timeline = smoothed_timeline(self._samples, snap.taken, SMOOTH_SECONDS)
        summary = (
            f"{tick.requests_per_second:.1f} req/s · {snap.in_flight} in flight · "
            f"{plural(snap.requests, 'request')} served · {plural(snap.errors, 'error')}"
        )
        if tick.tokens_per_second is not None:
            self.last_tokens_per_second = tick.tokens_per_second
            summary += f" · <b>{tick.tokens_per_second:.0f} tokens/s</b>"
        elif self.last_tokens_per_second is not None:  # idle: the last value, greyed
            summary += (
                f' · <span style="color: #868e96">{self.last_tokens_per_second:.0f} '
                "tokens/s (last)</span>"
            )
        cache = (
            *(() if self.caching else (("Caching", "off: every request goes to Ollama"),)),
            ("Hit rate (last minute)", format_rate(recent.hit_rate_window)),
            ("Hit rate (since start)", format_rate(recent.hit_rate_lifetime)),
            ("Hits / misses", f"{snap.cache_hits} / {snap.cache_misses}"),
            ("Bypassed", str(snap.cache_bypasses)),
            ("Entries", f"{snap.cache_entries} ({format_bytes(snap.cache_bytes)})"),
            ("Evicted", str(snap.cache_evictions)),
            ("Time saved", format_seconds(snap.cache_time_saved)),
        )
        hw = snap.hardware
        local = ollama_is_local(self.ollama_url)
        verdict = "measuring…" if hw is None else overall(hw.assessment, local).label
        return DashboardView(
            summary=summary,
            ttft=ttft,
            duration=duration,
            latency_lines=latency_lines,
            model_choices=choices,
            timeline=timeline,
            cache=cache,
            hardware=() if hw is None else hardware_rows(hw, network_counts=not local),
            verdict=verdict,
            ollama=self._ollama_rows(snap.ollama, hw),
            models=self._models(snap.ollama),
            this_app=() if hw is None else _this_app(hw, snap.in_flight),
            memory=memory_rows(snap.ollama, hw),
            upstreams=tuple(upstream_rows(snap.upstreams)),
        )

    def _ollama_rows(
        self, status: OllamaStatus | None, hw: HardwareSample | None
    ) -> tuple[tuple[str, str], ...]:
        # The same rows up or down ("-" where unknown): the box keeps its shape.
        rows: list[tuple[str, str]] = [("URL", self.ollama_url)]
        up = status is not None and status.reachable
        if status is None:
            rows.append(("Status", "checking…"))
        elif status.reachable:
            rows.append(("Status", "reachable"))
        else:
            rows.append(("Status", f"unreachable ({short_reason(status.error)})"))
        rows.append(("Version", (status.version if status and up else None) or "-"))
        rows.append(("Installed models", str(len(status.models)) if status and up else "-"))
        if hw is not None:
            rows.append(
                (
                    "Ollama process",
                    process_text(hw.ollama.status, hw.ollama.cpu_percent, hw.ollama.rss),
                )
            )
        return tuple(rows)

    @staticmethod
    def _models(status: OllamaStatus | None) -> tuple[tuple[str, str], ...]:
        if status is None or not status.reachable:
            return ()
        return tuple(
            (
                m.name,
                f"{format_bytes(m.size)}"
                + (f" ({format_bytes(m.size_vram)} on GPU)" if m.size_vram else ""),
            )
            for m in status.loaded
        )


def upstream_rows(
    upstreams: Sequence[tuple[str, bool, str, int, int]],
) -> list[tuple[str, str]]:
    """One row per Ollama host when there are several: usable or not, its breaker, the
    requests there now and its share of all routed so far."""
    if len(upstreams) < 2:
        return []
    total = sum(row[4] for row in upstreams) or 1
    rows = []
    for url, usable, breaker, in_flight, routed in upstreams:
        state = "up" if usable else "down"
        if breaker != "closed":
            state += f", breaker {breaker}"
        rows.append(
            (
                url.split("://", 1)[-1],
                f"{state} · {in_flight} in flight · {routed / total:.0%} of requests",
            )
        )
    return rows


def short_reason(error: str | None) -> str:
    """A few words for why Ollama did not answer (the banner above says the rest): the
    full OS error would wrap over three lines and push the boxes below down."""
    text = (error or "").lower()
    for needle, words in (
        ("refused", "connection refused"),
        ("errno 111", "connection refused"),
        ("timed out", "no answer in time"),
        ("no answer in time", "no answer in time"),
        ("name or service not known", "unknown host name"),
        ("nodename nor servname", "unknown host name"),
        ("getaddrinfo", "unknown host name"),
        ("unreachable", "network unreachable"),
    ):
        if needle in text:
            return words
    return (error or "no answer")[:40]


def tool_rows(entries: Sequence[AuditEntry], limit: int = 8) -> list[tuple[str, str]]:
    """The newest tool actions as dashboard rows: time and tool, then outcome and target
    (a path or the command line), and why it was not executed."""
    rows = []
    for entry in list(entries)[-limit:][::-1]:
        when = time.strftime("%H:%M:%S", time.localtime(entry.time))
        target = " ".join(entry.argv) or ", ".join(entry.paths)
        text = f"{entry.outcome}: {target}" if target else entry.outcome
        if entry.outcome != "executed" and entry.reason:
            text += f" ({entry.reason[:80]})"
        rows.append((f"{when} {entry.tool} [{entry.origin}]", text))
    return rows


@dataclasses.dataclass(frozen=True)
class ClientRow:
    client: str
    requests: int
    errors: int
    models: str  # the models it asked for, most used first


def client_rows(
    records: Sequence[RequestRecord], now: float, window: float = 60.0
) -> list[ClientRow]:
    """Who is talking to the proxy: per recognised client over the last ``window``
    seconds (from the inspector's ring, so at most its size in requests), busiest first.
    A "404 for qwen3" or "autocomplete sent to a chat model" shows here at a glance."""
    per: dict[str, list[RequestRecord]] = collections.defaultdict(list)
    for record in records:
        if now - record.time <= window and not record.path.startswith(
            ("/_proxy", "/metrics", "/healthz")
        ):
            per[record.client].append(record)
    rows = []
    for client, mine in per.items():
        counts = collections.Counter(r.model for r in mine if r.model)
        models = ", ".join(f"{m} ({n})" for m, n in counts.most_common(3)) or "-"
        errors = sum(1 for r in mine if r.status >= 400)
        rows.append(ClientRow(client, len(mine), errors, models))
    return sorted(rows, key=lambda row: (-row.requests, row.client))


def _this_app(hw: HardwareSample, in_flight: int) -> tuple[tuple[str, str], ...]:
    proxy = hw.proxy
    return (
        ("CPU and memory", process_text(proxy.status, proxy.cpu_percent, proxy.rss)),
        ("Requests in flight", str(in_flight)),
    )
