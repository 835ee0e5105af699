"""The dashboard renders sample data (to a PNG) and refreshes only while visible."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtGui import QColor, QImage, QPalette
from pytestqt.qtbot import QtBot

from app.dashboard import DashboardWindow
from app.presenter import DashboardPresenter
from tests.app.samples import Source


def test_renders_sample_data_to_png(qtbot: QtBot, tmp_path: Path) -> None:
    source = Source()
    window = DashboardWindow(source, DashboardPresenter("http://127.0.0.1:11434"))
    qtbot.addWidget(window)
    window.show()
    for _ in range(5):
        window.refresh()
    view = window.view
    assert view is not None
    assert "80.0 req/s" in window.summary.text()
    assert window.cache.text()["Entries"] == "42 (3.1 MB)"
    assert window.ttft_title.text().startswith("<b>Time to first token: p50")
    assert window.duration_chart.chart.count == 20 * 5  # show() and 5 refreshes: 5 steps
    assert "Cache hits" in window.latency_lines.text()
    rows = [r for r in window._hardware_rows if r.name.isVisibleTo(window)]
    assert [r.name.text() for r in rows] == [
        "<b>CPU</b>",
        "<b>RAM</b>",
        "<b>Network</b>",
        "<b>Storage</b>",
        "<b>GPU</b>",
    ]
    path = tmp_path / "dashboard.png"
    assert window.grab().save(str(path))
    image = QImage(str(path))
    assert image.width() >= 640 and image.height() >= 480  # fitted to the offscreen screen
    # Not a blank window: the charts put many distinct colours on it.
    colours = {
        image.pixel(x, y) for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)
    }
    assert len(colours) > 20


def test_refreshes_only_while_visible(qtbot: QtBot) -> None:
    source = Source()
    window = DashboardWindow(source, DashboardPresenter())
    qtbot.addWidget(window)
    assert not window.timer.isActive()
    window.show()
    assert window.timer.isActive()
    qtbot.waitUntil(lambda: source.calls >= 3, timeout=3000)
    window.close()  # closing hides, never quits
    assert not window.isVisible() and not window.timer.isActive()
    calls = source.calls
    qtbot.wait(700)
    assert source.calls == calls


def test_not_running_says_so(qtbot: QtBot) -> None:
    window = DashboardWindow(lambda: None, DashboardPresenter())
    qtbot.addWidget(window)
    window.refresh()
    assert window.summary.text() == "The proxy is not running."


def test_follows_a_dark_palette(qtbot: QtBot) -> None:
    window = DashboardWindow(Source(), DashboardPresenter())
    qtbot.addWidget(window)
    dark = QPalette()
    for role, colour in [
        (QPalette.ColorRole.Window, "#202020"),
        (QPalette.ColorRole.WindowText, "#eeeeee"),
        (QPalette.ColorRole.Base, "#181818"),
        (QPalette.ColorRole.Text, "#eeeeee"),
    ]:
        dark.setColor(role, QColor(colour))
    window.setPalette(dark)
    window.show()
    window.refresh()
    window.refresh()
    image = window.grab().toImage()
    lightness = sorted(
        QColor(image.pixel(x, y)).lightness()
        for x in range(0, image.width(), 5)
        for y in range(0, image.height(), 5)
    )
    assert lightness[len(lightness) // 2] < 80  # the background is the palette's, dark
    assert lightness[-1] > 200  # and text is drawn light on it


def test_the_dashboard_scrolls_on_a_small_screen(qtbot: QtBot) -> None:
    from PySide6.QtWidgets import QScrollArea

    window = DashboardWindow(Source(), DashboardPresenter("http://127.0.0.1:11434"))
    qtbot.addWidget(window)
    window.resize(640, 480)
    window.show()
    window.refresh()
    [scroll] = window.findChildren(QScrollArea)
    assert window.size().width() <= 660 and window.size().height() <= 500
    assert scroll.verticalScrollBar().maximum() > 0  # the rest is a scroll away, not clipped


def test_clients_say_when_the_ring_holds_less_than_a_minute(qtbot: QtBot) -> None:
    import time

    from proxy_core.observe.requests_log import RequestRecord

    def record(age: float) -> RequestRecord:
        return RequestRecord(
            time.time() - age, "continue", "native", "POST", "/api/chat", "llama3.2", 200,
            "BYPASS", 0.1, None, None, None, None, {}, {},
        )  # fmt: skip

    records = [record(1), record(2)]
    window = DashboardWindow(
        Source(), DashboardPresenter("http://127.0.0.1:11434"), requests=lambda: records
    )
    qtbot.addWidget(window)
    window.refresh()
    assert window.clients_box.title() == "Clients (last minute)"
    window.ring_size = lambda: 2  # full, and its oldest entry is seconds old
    window.refresh()
    assert window.clients_box.title() == "Clients (the last 2 requests)"


def test_the_layout_does_not_jump_when_ollama_goes_down(qtbot: QtBot) -> None:
    import dataclasses

    from proxy_core.observe.ollama_status import LoadedModel, OllamaStatus
    from tests.app.samples import OLLAMA_UP, snapshot

    two_loaded = dataclasses.replace(
        OLLAMA_UP, loaded=(*OLLAMA_UP.loaded, LoadedModel("qwen2.5-coder:1.5b", 10**9, 0))
    )
    state = {"ollama": two_loaded}
    calls = [0]

    def source():  # type: ignore[no-untyped-def]
        calls[0] += 1
        return snapshot(calls[0] * 0.5, 100 + 40 * calls[0], ollama=state["ollama"])

    window = DashboardWindow(source, DashboardPresenter("http://127.0.0.1:11434"))
    qtbot.addWidget(window)
    window.show()
    window.refresh()
    qtbot.wait(50)
    this_app_box = window.this_app.parentWidget()
    before = (window.ollama.height(), this_app_box.mapTo(window, this_app_box.rect().topLeft()))
    state["ollama"] = OllamaStatus(0.0, False, error="refused")  # two loaded-model rows go
    window.refresh()
    qtbot.wait(50)
    after = (window.ollama.height(), this_app_box.mapTo(window, this_app_box.rect().topLeft()))
    assert window.ollama.text()["Version"] == "-"
    assert "none loaded" in window.models.text().values()
    assert after == before


@pytest.mark.parametrize(("width", "height"), [(2560, 1440), (1920, 1080)])
def test_not_bigger_than_the_screen_at_2x_scale(tmp_path: Path, width: int, height: int) -> None:
    """At 2x scale a 1440-pixel screen has 720 logical pixels: the dashboard fits it
    (and a 1080-pixel one), scrolling what does not fit."""
    import json
    import os
    import subprocess
    import sys

    config = tmp_path / "screens.json"
    screen = {"name": "hidpi", "x": 0, "y": 0, "width": width, "height": height}
    config.write_text(json.dumps({"screens": [{**screen, "logicalDpi": 96, "dpr": 1}]}))
    env = {
        **os.environ,
        "QT_SCALE_FACTOR": "2",
        "QT_QPA_PLATFORM": f"offscreen:configfile={config}",
    }
    out = subprocess.run(
        [sys.executable, "-m", "tests.app.hidpi_child"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.split()
    shot_w, shot_h, ratio = int(out[0]), int(out[1]), float(out[2])
    assert ratio == 2.0
    assert shot_h <= height and shot_w <= width
