"""The Models panel: rows from two snapshots (pure), in-place profile edits and the
one-click "enforce one context size" (pytest-qt)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from PySide6.QtWidgets import QApplication, QPushButton
from pytestqt.qtbot import QtBot

from app.models_panel import COLUMNS, ModelsWindow
from app.models_view import edited_profile, model_rows
from proxy_core.observe.model_stats import ModelCounts
from proxy_core.observe.ollama_status import LoadedModel, OllamaStatus
from proxy_core.observe.recorder import MetricsRecorder, MetricsSnapshot

STATUS = OllamaStatus(
    0.0,
    True,
    version="0.12.3",
    loaded=(LoadedModel("llama3.2:latest", 3_400_000_000, 3_000_000_000, 8192),),
    models=("llama3.2:latest", "qwen2.5-coder:1.5b"),
)


def snapshot(taken: float, models: dict[str, ModelCounts]) -> MetricsSnapshot:
    base = MetricsRecorder().snapshot()
    return dataclasses.replace(
        base, taken=taken, ollama=STATUS, models=models, lanes={"llama3.2:latest": (1, 3)}
    )


BEFORE = snapshot(
    0.0, {"llama3.2:latest": ModelCounts(generations=2, contexts=((8192, "continue", 2),))}
)
NOW = snapshot(
    60.0,
    {
        "llama3.2:latest": ModelCounts(
            generations=7,
            truncations=1,
            completion_tokens=50,
            generation_seconds=2.0,
            contexts=((4096, "copilot", 2), (8192, "continue", 5)),
        )
    },
)
PROFILES = {"llama3.2": {"num_ctx": 8192, "keep_alive": "30m"}}


def test_rows_show_profile_traffic_and_reload_risk() -> None:
    rows = {row.model: row for row in model_rows(BEFORE, NOW, PROFILES)}
    llama = rows["llama3.2:latest"]
    assert (llama.loaded, llama.num_ctx, llama.keep_alive, llama.mode) == (
        "3.4 GB",
        "8192",
        "30m",
        "default",
    )
    assert (llama.generations, llama.truncations, llama.tokens_per_second) == ("5", "1", "25.0")
    assert llama.enforce_num_ctx == 8192 and "4096" in llama.risk
    assert llama.now == "1 / 3"
    coder = rows["qwen2.5-coder:1.5b"]  # installed, idle, no profile
    assert (coder.loaded, coder.num_ctx, coder.generations, coder.enforce_num_ctx) == (
        "no",
        "",
        "0",
        None,
    )


def test_a_model_loaded_with_no_size_reported_is_loaded() -> None:
    """llama-server's model (through /api/ps) is loaded, its size unknown: "yes", not "no"."""
    loaded = (LoadedModel("gemma3-270m", 0, 0, 2048),)
    status = OllamaStatus(0.0, True, loaded=loaded, models=("gemma3-270m",))
    now = dataclasses.replace(NOW, ollama=status)
    assert {row.model: row.loaded for row in model_rows(None, now, {})}["gemma3-270m:latest"] == (
        "yes"
    )


@pytest.mark.parametrize(
    ("field", "text", "expected"),
    [
        ("num_ctx", "16384", {"num_ctx": 16384, "keep_alive": "30m"}),
        ("num_ctx", "", {"keep_alive": "30m"}),
        ("keep_alive", "300", {"num_ctx": 8192, "keep_alive": 300}),
        ("mode", "enforce", {"num_ctx": 8192, "keep_alive": "30m", "mode": "enforce"}),
    ],
)
def test_edits(field: str, text: str, expected: dict[str, Any]) -> None:
    assert edited_profile(PROFILES["llama3.2"], field, text) == expected


@pytest.mark.parametrize(
    ("field", "text"), [("num_ctx", "big"), ("num_ctx", "-1"), ("mode", "strict")]
)
def test_bad_edits_are_refused_in_words(field: str, text: str) -> None:
    with pytest.raises(ValueError, match=field if field == "num_ctx" else "mode"):
        edited_profile({}, field, text)


def test_the_panel_edits_in_place_and_enforces_in_one_click(
    qapp: QApplication, qtbot: QtBot
) -> None:
    snapshots = iter([BEFORE, NOW])
    window = ModelsWindow(lambda: next(snapshots), lambda: PROFILES)
    qtbot.addWidget(window)
    window.refresh()
    window.refresh()
    changes: list[tuple[str, dict[str, Any]]] = []
    window.profile_changed.connect(lambda model, profile: changes.append((model, profile)))
    column = [name for name, _ in COLUMNS].index("num_ctx")
    window.table.item(0, column).setText("16384")  # what a double-click edit does
    assert changes[-1] == ("llama3.2:latest", {"num_ctx": 16384, "keep_alive": "30m"})
    window.table.item(0, column).setText("lots")
    assert "whole number" in window.error.text() and len(changes) == 1
    assert window.table.item(0, column).text() == "8192"  # back to the value in force
    button = window.table.cellWidget(0, len(COLUMNS) - 1)
    assert isinstance(button, QPushButton) and button.text() == "Enforce num_ctx 8192"
    button.click()
    assert changes[-1] == (
        "llama3.2:latest",
        {"num_ctx": 8192, "keep_alive": "30m", "mode": "enforce"},
    )
    assert window.table.cellWidget(1, len(COLUMNS) - 1) is None  # no risk, no button
