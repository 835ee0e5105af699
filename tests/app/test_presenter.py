"""The tray and dashboard logic, without Qt."""

from __future__ import annotations

import pytest

from app.hardware_view import format_bytes, hardware_rows
from app.presenter import DashboardPresenter
from app.tray_state import TrayState, ollama_notice, tooltip, tray_state
from proxy_core.observe.ollama_status import OllamaStatus
from proxy_core.observe.rates import compare
from proxy_core.observe.specs import Verdict
from tests.app.samples import OLLAMA_UP, hardware, snapshot

DOWN = OllamaStatus(0.0, False, error="connection refused")


@pytest.mark.parametrize(
    ("running", "error", "ollama", "state"),
    [
        (False, None, None, TrayState.STARTING),
        (True, None, None, TrayState.STARTING),
        (True, None, OLLAMA_UP, TrayState.HEALTHY),
        (True, None, DOWN, TrayState.OLLAMA_DOWN),
        (True, "port taken", OLLAMA_UP, TrayState.PROXY_ERROR),
        (False, "crashed", None, TrayState.PROXY_ERROR),
    ],
)
def test_tray_state(
    running: bool, error: str | None, ollama: OllamaStatus | None, state: TrayState
) -> None:
    assert tray_state(running, error, ollama) is state


def test_tooltip_names_endpoint_rate_and_hit_rate() -> None:
    figures = compare(snapshot(0.0, 0), snapshot(2.0, 20))
    text = tooltip(TrayState.HEALTHY, "http://127.0.0.1:11435", figures)
    assert "Healthy" in text and "http://127.0.0.1:11435" in text
    assert "10.0 req/s" in text and "cache hit rate 62%" in text  # 10 hits / 16 lookups


@pytest.mark.parametrize(
    ("before", "now", "title"),
    [
        (None, True, None),  # up at start-up is not news
        (None, False, "Ollama is unreachable"),  # down at start-up is
        (True, False, "Ollama is unreachable"),
        (False, True, "Ollama is back"),
        (True, True, None),
        (False, False, None),
        (True, None, None),
    ],
)
def test_ollama_notice(before: bool | None, now: bool | None, title: str | None) -> None:
    notice = ollama_notice(before, now, "http://o:11434")
    assert (notice[0] if notice else None) == title


def test_hardware_rows_against_the_spec() -> None:
    rows = {row.name: row for row in hardware_rows(hardware(gpus=True))}
    cpu, ram, net, disk, gpu = (rows[n] for n in ("CPU", "RAM", "Network", "Storage", "GPU"))
    assert cpu.verdict is Verdict.BELOW_MINIMUM and (cpu.minimum, cpu.optimal) == (4, 8)
    assert cpu.capacity == "2 cores" and cpu.used == pytest.approx(0.37)
    assert ram.verdict is Verdict.OPTIMAL and (ram.minimum, ram.optimal) == (8, 16)
    assert ram.value == pytest.approx(24) and ram.scale >= ram.value
    assert "7.0 GB above the 8 GB floor" in ram.detail
    # The ticks carry the spec's values, not just "min" and "optimal".
    assert ram.ticks == ("min 8 GB", "optimal 16 GB") and ram.minimum == pytest.approx(8)
    assert net.verdict is Verdict.OPTIMAL and net.used == pytest.approx(12.5 / 1000)
    assert disk.verdict is Verdict.OPTIMAL and disk.capacity == "SSD"
    assert gpu.verdict is None and "63% busy" in gpu.detail


def test_unknown_link_speed_is_said_not_guessed() -> None:
    (net,) = [r for r in hardware_rows(hardware(link=None)) if r.name == "Network"]
    assert net.verdict is Verdict.UNKNOWN and net.value is None
    assert net.capacity == "link speed not reported"


def test_no_gpu_is_said_plainly() -> None:
    (gpu,) = [r for r in hardware_rows(hardware(gpus=False)) if r.name == "GPU"]
    assert gpu.capacity == "no GPU data" and gpu.value is None and gpu.verdict is None


def test_dashboard_view_over_a_minute() -> None:
    presenter = DashboardPresenter("http://127.0.0.1:11434")
    first = presenter.update(snapshot(0.0, 100))
    assert first.timeline == ()  # one snapshot: no interval yet
    view = presenter.update(snapshot(0.5, 140))
    assert "80.0 req/s" in view.summary
    # Generations apart from hits: 20 of the 40 requests reached Ollama.
    assert view.ttft.count == 20 and view.duration.count == 20
    assert [mark.name for mark in view.ttft.marks] == ["p50", "p95", "p99"]
    hits, everything = view.latency_lines
    assert hits.startswith("Cache hits: p50") and "20 hits" in hits
    assert "40 requests" in everything
    assert view.model_choices == ("llama3.2:latest",)
    assert len(view.timeline) == 1 and view.timeline[0].requests_per_second == 80.0
    cache = dict(view.cache)
    assert cache["Entries"] == "42 (3.1 MB)"
    assert dict(view.ollama)["Version"] == "0.12.3"
    assert dict(view.ollama)["Ollama process"] == "no permission"
    assert view.models == (("llama3.2:latest", "3.4 GB (3.0 GB on GPU)"),)
    assert view.verdict == "below minimum"  # 2 cores
    # Past a minute, the oldest snapshots leave the recent window.
    later = presenter.update(snapshot(100.0, 150))
    assert "10 requests" in later.latency_lines[1]


def test_reset_forgets_history() -> None:
    presenter = DashboardPresenter()
    presenter.update(snapshot(0.0, 10))
    presenter.update(snapshot(1.0, 20))
    presenter.reset()
    view = presenter.update(snapshot(2.0, 30))
    assert view.timeline == ()


def test_ollama_down_rows() -> None:
    view = DashboardPresenter("u").update(snapshot(0.0, 1, ollama=DOWN))
    assert dict(view.ollama)["Status"] == "unreachable (connection refused)"
    assert view.models == ()


@pytest.mark.parametrize(
    ("value", "text"), [(None, "-"), (512, "512 B"), (3_100_000, "3.1 MB"), (24e9, "24.0 GB")]
)
def test_format_bytes(value: float | None, text: str) -> None:
    assert format_bytes(value) == text


def test_tool_rows_newest_first_with_target_and_reason() -> None:
    from app.presenter import tool_rows
    from proxy_core.tools.audit import AuditEntry

    entries = [
        AuditEntry(0.0, "mcp", "cline", "read_file", "executed", paths=("src/a.py",)),
        AuditEntry(
            1.0, "agent", "other", "run_command", "denied", "x was denied", argv=("git", "push")
        ),
    ]
    rows = tool_rows(entries)
    assert rows[0][0].endswith("run_command [agent]")
    assert rows[0][1] == "denied: git push (x was denied)"
    assert rows[1][1] == "executed: src/a.py"
    assert len(tool_rows(entries * 10)) == 8


def test_ollama_down_says_how_to_start_it_on_each_os() -> None:
    from app.tray_state import ollama_down

    headline, how = ollama_down("http://127.0.0.1:11434/", "linux")
    assert headline == "Ollama is not running at 127.0.0.1:11434"
    assert "ollama serve" in how and "systemctl start ollama" in how
    assert "menu bar" in ollama_down("http://h:1", "darwin")[1]
    assert "Start menu" in ollama_down("http://h:1", "win32")[1]


def test_client_rows_show_who_talks_what_and_what_fails() -> None:
    from app.presenter import ClientRow, client_rows
    from proxy_core.observe.requests_log import RequestRecord

    def record(
        client: str, model: str | None, status: int, age: float, path: str = "/api/chat"
    ) -> RequestRecord:
        return RequestRecord(
            1000.0 - age, client, "native", "POST", path, model, status, "BYPASS", 0.1,
            None, None, None, None, {}, {},
        )  # fmt: skip

    rows = client_rows(
        [
            record("continue", "qwen2.5-coder:1.5b", 200, 5),
            record("continue", "llama3.2", 200, 10),
            record("continue", "llama3.2", 200, 20),
            record("copilot", "qwen3", 404, 3),
            record("copilot", None, 200, 2, "/_proxy/requests"),  # the proxy's own route
            record("zed", "llama3.2", 200, 120),  # older than the window
        ],
        now=1000.0,
    )
    assert rows == [
        ClientRow("continue", 3, 0, "llama3.2 (2), qwen2.5-coder:1.5b (1)"),
        ClientRow("copilot", 1, 1, "qwen3 (1)"),
    ]


def test_small_things_plural_caching_off_and_idle_tokens() -> None:
    import dataclasses

    presenter = DashboardPresenter("u")
    one = dataclasses.replace(snapshot(0.0, 1), requests=1, errors=1)
    assert "1 request served · 1 error" in presenter.update(one).summary
    presenter.caching = False
    view = presenter.update(snapshot(1.0, 5))
    assert dict(view.cache)["Caching"] == "off: every request goes to Ollama"
    assert "caching off" in tooltip(TrayState.HEALTHY, "u", None, caching=False)
    # tokens/s stays visible, greyed, when the proxy goes idle.
    presenter.last_tokens_per_second = 42.0
    idle = presenter.update(snapshot(2.0, 5))
    assert "42 tokens/s (last)" in idle.summary and "tokens/s</b>" not in idle.summary


def test_generation_charts_per_model_and_for_all() -> None:
    import dataclasses

    from proxy_core.observe.model_stats import ModelCounts

    before = snapshot(0.0, 10, models={})
    width = len(before.latency_buckets) + 1
    slow = [0] * width
    slow[before.latency_buckets.index(0.5)] = 8  # eight first tokens in (0.25, 0.5] s
    fast = [0] * width
    fast[1] = 2  # two in (0.5, 1] ms
    presenter = DashboardPresenter("u")
    presenter.update(before)
    models = {
        "llama3.2:latest": ModelCounts(generations=8, ttft_counts=tuple(slow)),
        "qwen:1": ModelCounts(generations=2, ttft_counts=tuple(fast)),
    }
    now = dataclasses.replace(snapshot(30.0, 20), models=models)
    view = presenter.update(now)
    assert view.model_choices == ("llama3.2:latest", "qwen:1")
    assert view.ttft.count == 10
    assert view.ttft.headline.startswith("Time to first token: p50 ")
    presenter.model = "qwen:1"
    only = presenter.update(dataclasses.replace(now, taken=30.5))
    assert only.ttft.count == 2 and only.ttft.title == "Time to first token of qwen:1"
    assert only.ttft.marks[0].text == "p50 0.8 ms"
    assert only.duration.count == 0 and only.duration.headline.endswith("none in the last minute")


def test_this_app_has_its_own_heading() -> None:
    view = DashboardPresenter("u").update(snapshot(0.0, 1, hardware=hardware()))
    assert "This app" not in dict(view.ollama)
    assert dict(view.this_app)["CPU and memory"].endswith("RSS")


def test_the_network_does_not_count_when_ollama_is_local() -> None:
    from app.hardware_view import ollama_is_local, overall
    from proxy_core.observe.specs import GB, Machine, assess

    slow_link = assess(Machine(cores=16, ram_total=32 * GB, link_mbps=10.0, ssd=True))
    assert slow_link.overall is Verdict.BELOW_MINIMUM  # 10 Mbit/s
    assert overall(slow_link, local=True) is Verdict.OPTIMAL
    assert overall(slow_link, local=False) is Verdict.BELOW_MINIMUM
    for url, local in (
        ("http://127.0.0.1:11434", True),
        ("http://localhost:11434/", True),
        ("http://[::1]:11434", True),
        ("http://gpu-box.lan:11434", False),
        ("https://ollama.example.com", False),
    ):
        assert ollama_is_local(url) is local, url


def test_instance_label_and_status_line() -> None:
    from app.tray_state import instance_label, status_line

    assert instance_label("/home/a/.local/share/otp", "/home/a/.local/share/otp/") is None
    assert instance_label("/srv/team-b/", "/home/a/.local/share/otp") == "team-b"
    line = status_line(TrayState.OLLAMA_DOWN, "http://127.0.0.1:11435", "http://o:11434", None)
    assert line == "⚠ Ollama is not answering at o:11434"
    assert status_line(TrayState.PROXY_ERROR, "u", "o", "port 11435 is taken") == (
        "⚠ port 11435 is taken"
    )
    assert status_line(TrayState.HEALTHY, "http://127.0.0.1:11435", "o", None) == (
        "Healthy — http://127.0.0.1:11435"
    )


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (
            "Ollama is not reachable at http://127.0.0.1:18434: [Errno 111] Connect call "
            "failed ('127.0.0.1', 18434)",
            "connection refused",
        ),
        ("no answer in time", "no answer in time"),
        ("Cannot connect: [Errno -2] Name or service not known", "unknown host name"),
        ("/api/version answered 500", "/api/version answered 500"),
    ],
)
def test_why_ollama_is_down_in_a_few_words(error: str, words: str) -> None:
    from app.presenter import short_reason

    assert short_reason(error) == words


def test_several_ollama_hosts_get_a_row_each() -> None:
    from app.presenter import upstream_rows

    assert upstream_rows([("http://a:11434", True, "closed", 0, 9)]) == []  # one host: none
    rows = dict(
        upstream_rows(
            [("http://a:11434", True, "closed", 2, 30), ("http://gpu:11434", False, "open", 0, 10)]
        )
    )
    assert rows["a:11434"] == "up · 2 in flight · 75% of requests"
    assert rows["gpu:11434"] == "down, breaker open · 0 in flight · 25% of requests"
    view = DashboardPresenter("u").update(
        snapshot(0.0, 1, upstreams=(("http://a:1", True, "closed", 0, 1),) * 2)
    )
    assert len(view.upstreams) == 2
