"""What the tray and the dashboard show, computed from snapshots. No Qt here: pure, tested.

The dashboard's timer calls :meth:`DashboardPresenter.update` with a fresh
:class:`MetricsSnapshot` about twice a second; the widgets only draw the returned view.
"""

from __future__ import annotations

import collections
import dataclasses
import enum
import time
from collections.abc import Sequence

from proxy_core.events import ContextTruncated
from proxy_core.observe.hardware import HardwareSample
from proxy_core.observe.ollama_status import OllamaStatus
from proxy_core.observe.rates import DashboardFigures, compare, format_seconds
from proxy_core.observe.recorder import MetricsSnapshot
from proxy_core.observe.requests_log import RequestRecord
from proxy_core.observe.specs import (
    CPU,
    GB,
    NETWORK,
    RAM,
    STORAGE,
    Assessment,
    Requirement,
    Verdict,
)
from proxy_core.tools.audit import AuditEntry

from .chart_data import (
    LatencyChart,
    TimelinePoint,
    latency_chart,
    model_counts,
    smoothed_timeline,
    window_counts,
)
from .memory_view import memory_rows

RECENT_SECONDS = 60.0  # the "recent" histogram and hit rate cover the last minute
SMOOTH_SECONDS = 3.0  # each traffic point is a rate over this long
TIMELINE_SAMPLES = 128  # a minute and the smoothing window at two refreshes a second


class TrayState(enum.Enum):
    STARTING = "starting"
    HEALTHY = "healthy"
    OLLAMA_DOWN = "ollama-down"
    PROXY_ERROR = "proxy-error"


STATE_TEXT = {
    TrayState.STARTING: "Starting",
    TrayState.HEALTHY: "Healthy",
    TrayState.OLLAMA_DOWN: "Ollama unreachable",
    TrayState.PROXY_ERROR: "Proxy error",
}


def tray_state(running: bool, error: str | None, ollama: OllamaStatus | None) -> TrayState:
    if error is not None:
        return TrayState.PROXY_ERROR
    if not running or ollama is None:
        return TrayState.STARTING
    return TrayState.HEALTHY if ollama.reachable else TrayState.OLLAMA_DOWN


def instance_label(data_dir: str, default_dir: str) -> str | None:
    """A second instance (another data folder) is told apart by its folder's name; the
    default folder's instance needs no label."""
    if data_dir.rstrip("/\\") == default_dir.rstrip("/\\"):
        return None
    name = data_dir.rstrip("/\\").replace("\\", "/").rsplit("/", 1)[-1]
    return name or data_dir


def status_line(state: TrayState, base_url: str, ollama_url: str, error: str | None) -> str:
    """The tray menu's first line: the state in words and what it concerns."""
    if state is TrayState.OLLAMA_DOWN:
        where = ollama_url.split("://", 1)[-1].rstrip("/")
        return f"⚠ Ollama is not answering at {where}"
    if state is TrayState.PROXY_ERROR and error:
        return f"⚠ {error[:90]}"
    return f"{STATE_TEXT[state]} — {base_url}"


def tooltip(
    state: TrayState,
    base_url: str,
    figures: DashboardFigures | None,
    caching: bool = True,
    label: str | None = None,
) -> str:
    name = "Ollama Tray Proxy" if label is None else f"Ollama Tray Proxy ({label})"
    lines = [f"{name} — {STATE_TEXT[state]}", base_url]
    if figures is not None:
        rate = figures.hit_rate_lifetime
        cache = (
            "caching off"
            if not caching
            else "cache hit rate " + ("-" if rate is None else f"{rate:.0%}")
        )
        lines.append(f"{figures.requests_per_second:.1f} req/s · {cache}")
    elif not caching:
        lines.append("caching off")
    return "\n".join(lines)


def plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def raised_context(num_ctx: int) -> int:
    """The one-click fix for a truncated prompt: twice the context, at least 8192."""
    return max(num_ctx * 2, 8192)


def truncation_notice(event: ContextTruncated) -> tuple[str, str]:
    """(title, message) for a prompt that filled the model's context."""
    who = CLIENT_NAMES.get(event.client, "A client")
    return (
        f"Prompt cut short for {event.model}",
        f"{who} sent {event.model} a prompt that filled its whole context "
        f"({event.prompt_tokens} of {event.num_ctx} tokens), so its start was likely lost. "
        f"Click to raise num_ctx for {event.model} to {raised_context(event.num_ctx)}.",
    )


CLIENT_NAMES = {
    "claude-code": "Claude Code",
    "codex": "Codex CLI",
    "copilot": "Copilot Chat",
    "continue": "Continue",
    "cline": "Cline",
    "roo": "Roo Code",
    "zed": "Zed",
    "jetbrains": "JetBrains AI",
    "void": "Void",
    "aider": "aider",
    "open-webui": "Open WebUI",
}


def ollama_notice(before: bool | None, now: bool | None, url: str) -> tuple[str, str] | None:
    """(title, message) when Ollama went down or came back; None otherwise.

    ``before`` None is the first check: being down at start-up is news, being up is not.
    """
    if now is None or before == now:
        return None
    if not now:
        return "Ollama is unreachable", f"Requests will fail until Ollama answers at {url}."
    if before is False:
        return "Ollama is back", f"Ollama answers again at {url}."
    return None


def ollama_down(url: str, platform: str) -> tuple[str, str]:
    """The dashboard's banner when Ollama does not answer: what is wrong, and how to
    start Ollama on this OS (``sys.platform``)."""
    where = url.split("://", 1)[-1].rstrip("/")
    if platform == "darwin":
        how = "Open the Ollama app (it lives in the menu bar), or run: ollama serve"
    elif platform == "win32":
        how = "Start Ollama from the Start menu (it lives in the tray), or run: ollama serve"
    else:
        how = "Run: ollama serve   (installed as a service: sudo systemctl start ollama)"
    return f"Ollama is not running at {where}", how


# formatting --------------------------------------------------------------------------------
def format_bytes(value: float | None) -> str:
    if value is None:
        return "-"
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(value) >= size:
            return f"{value / size:.1f} {unit}"
    return f"{value:.0f} B"


def format_rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def format_mbps(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value / 1000:.1f} Gbit/s" if value >= 1000 else f"{value:.1f} Mbit/s"


# dashboard view ------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True, slots=True)
class SpecRow:
    name: str
    capacity: str  # "2 cores", "24.0 GB", "not reported"
    verdict: Verdict | None  # None: no spec is recommended for this item (GPU)
    value: float | None  # capacity on the scale; None when unknown
    minimum: float | None
    optimal: float | None
    scale: float  # right end of the drawn scale
    used: float | None  # 0..1 of the capacity in use now
    detail: str
    ticks: tuple[str, str] = ("", "")  # the minimum's and optimum's labels, with values


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


def _scale(requirement: Requirement, value: float | None) -> float:
    """The drawn scale runs past the optimal mark, and past the machine when it is bigger."""
    scale = requirement.optimal * 1.25
    return scale if value is None else max(scale, value * 1.05)


def spec_row(
    name: str,
    requirement: Requirement,
    verdict: Verdict,
    value: float | None,
    capacity: str,
    used: float | None,
    detail: str,
    unit: float = 1.0,
) -> SpecRow:
    """A row drawn against the spec; ``unit`` scales raw values (bytes -> GB) for drawing."""

    def scaled(v: float | None) -> float | None:
        return None if v is None else v / unit

    return SpecRow(
        name=name,
        capacity=capacity,
        verdict=verdict,
        value=scaled(value),
        minimum=scaled(requirement.minimum),
        optimal=requirement.optimal / unit,
        scale=_scale(requirement, value) / unit,
        used=used,
        detail=detail,
        ticks=TICKS[requirement.item],
    )


# The spec's values on the bars' ticks (specs.py holds the numbers).
TICKS = {
    "cpu": ("min 4 cores", "optimal 8"),
    "ram": ("min 8 GB", "optimal 16 GB"),
    "network": ("min 100 Mbit/s", "optimal 1 Gbit/s"),
    "storage": ("", "optimal: SSD"),
}
SPECS_PURPOSE = (
    "What the specs are for: this proxy beside Ollama serving everyday coding models "
    "(up to about 8B parameters) to a few IDEs. Bigger models need more memory: whether "
    "yours fit is below. The proxy itself needs little (see This app)."
)


def _ram_floor(headroom: int | None) -> str:
    if headroom is None:
        return ""
    if headroom >= 0:
        return f" ({format_bytes(headroom)} above the 8 GB floor)"
    return f" ({format_bytes(-headroom)} short of the 8 GB floor)"


def ollama_is_local(url: str) -> bool:
    """Ollama on this machine: the proxy reaches it over loopback, not the network."""
    host = url.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0].strip("[]").lower()
    return host in ("localhost", "::1") or host.startswith("127.")


def overall(assessment: Assessment, local: bool) -> Verdict:
    """The weakest known item; the network does not count when Ollama is local (a
    loopback proxy does not use it)."""
    known = [
        entry.verdict
        for entry in assessment.items
        if entry.verdict is not Verdict.UNKNOWN
        and not (local and entry.requirement.item == "network")
    ]
    return min(known) if known else Verdict.UNKNOWN


def hardware_rows(sample: HardwareSample, network_counts: bool = True) -> tuple[SpecRow, ...]:
    a = sample.assessment
    load = "" if sample.load is None else f" · load {sample.load[0]:.2f}"
    cpu, ram, net, disk = (a.item(n) for n in ("cpu", "ram", "network", "storage"))
    rows = [
        spec_row(
            "CPU",
            CPU,
            cpu.verdict,
            cpu.value,
            f"{sample.cores} cores" if sample.cores else "not reported",
            sample.cpu_percent / 100,
            f"{sample.cpu_percent:.0f}% busy{load}",
        ),
        spec_row(
            "RAM",
            RAM,
            ram.verdict,
            ram.value,
            format_bytes(sample.ram_total),
            sample.ram_used / sample.ram_total if sample.ram_total else None,
            f"{format_bytes(sample.ram_used)} used, {format_bytes(sample.ram_available)} free"
            + _ram_floor(a.ram_headroom),
            unit=GB,
        ),
    ]
    rx, tx, link = sample.net_rx_mbps, sample.net_tx_mbps, sample.link_mbps
    has_traffic = rx is not None and tx is not None
    rows.append(
        spec_row(
            "Network",
            NETWORK,
            net.verdict,
            net.value,
            "link speed not reported" if link is None else format_mbps(link),
            min(max(rx or 0.0, tx or 0.0) / link, 1.0) if link and has_traffic else None,
            (f"↓ {format_mbps(rx)}  ↑ {format_mbps(tx)}" if has_traffic else "no counters")
            + ("" if network_counts else " · not counted: Ollama runs on this machine"),
        )
    )
    kind = {True: "SSD", False: "rotational disk", None: "disk kind not detectable"}[sample.ssd]
    rows.append(
        spec_row(
            "Storage",
            STORAGE,
            disk.verdict,
            disk.value,
            kind,
            None,
            "optimal is an SSD; any disk meets the minimum",
        )
    )
    for gpu in sample.gpus:  # no GPU spec is recommended: drawn as plain utilisation
        rows.append(
            SpecRow(
                name="GPU",
                capacity=gpu.name,
                verdict=None,
                value=gpu.utilization_percent,
                minimum=None,
                optimal=None,
                scale=100.0,
                used=gpu.memory_used / gpu.memory_total if gpu.memory_total else None,
                detail=f"{gpu.utilization_percent:.0f}% busy, {format_bytes(gpu.memory_used)} "
                f"of {format_bytes(gpu.memory_total)} memory",
            )
        )
    if not sample.gpus:
        rows.append(
            SpecRow(
                name="GPU",
                capacity="no GPU data",
                verdict=None,
                value=None,
                minimum=None,
                optimal=None,
                scale=100.0,
                used=None,
                detail="no NVIDIA GPU found through NVML or nvidia-smi",
            )
        )
    return tuple(rows)


def _process_text(status: str, cpu: float | None, rss: int | None) -> str:
    if status != "running":
        return status
    return f"{cpu or 0:.0f}% CPU, {format_bytes(rss)} RSS"


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
                    _process_text(hw.ollama.status, hw.ollama.cpu_percent, hw.ollama.rss),
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
        ("CPU and memory", _process_text(proxy.status, proxy.cpu_percent, proxy.rss)),
        ("Requests in flight", str(in_flight)),
    )
