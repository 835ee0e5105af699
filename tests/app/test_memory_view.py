"""Do the installed models fit this machine (pure: tables, no Qt)."""

from __future__ import annotations

import dataclasses

import pytest

from app.memory_view import Fit, fit, installed_fit, memory_rows
from proxy_core.observe.ollama_status import OllamaStatus
from proxy_core.observe.specs import GB
from tests.app.samples import OLLAMA_UP, hardware


@pytest.mark.parametrize(
    ("size_gb", "ram_gb", "vram_gb", "where"),
    [
        (2, 16, 8, Fit.GPU),  # 2.4 GB with its context: on the GPU
        (7, 16, 8, Fit.SPLIT),  # 8.4 GB: over 8 GB of VRAM, under VRAM + 12 GB of RAM
        (7, 16, 0, Fit.CPU),  # no GPU: in RAM beside the system's 4 GB
        (20, 16, 0, Fit.NO),
        (40, 24, 24, Fit.NO),  # 48 GB > 24 + 20
    ],
)
def test_fit(size_gb: int, ram_gb: int, vram_gb: int, where: Fit) -> None:
    assert fit(size_gb * GB, ram_gb * GB, vram_gb * GB) is where


def test_installed_fit_counts_the_good_and_names_the_rest() -> None:
    sizes = [(f"small{i}", 1 * GB) for i in range(3)] + [("llama3.3:70b", 42 * GB)]
    text = installed_fit(sizes, 24 * GB, 0)
    assert text.startswith("3 of 4 fit in RAM, on the CPU (slower); ")
    assert "llama3.3:70b (42.0 GB) does not fit" in text
    assert "plus 20% for its context" in text  # the rule is said, not hidden
    assert installed_fit([], 24 * GB, 0).startswith("none installed")


def test_memory_rows_put_loaded_models_next_to_ram_and_vram() -> None:
    rows = dict(memory_rows(OLLAMA_UP, hardware(gpus=True)))
    assert rows["Memory for models"] == "24.0 GB RAM + 24.0 GB GPU memory"
    assert rows["Loaded now"] == "3.4 GB in 1 model, 3.0 GB of it on the GPU"
    assert "llama3.3:70b (42.5 GB) does not fit" in rows["Installed models"]
    assert "llama3.2:latest (2.0 GB)" in rows["Installed models"]  # two that fit: named
    idle = dataclasses.replace(OLLAMA_UP, loaded=())
    assert dict(memory_rows(idle, hardware()))["Loaded now"].startswith("no model")
    down = OllamaStatus(0.0, False, error="refused")
    assert dict(memory_rows(down, hardware()))["Models"].startswith("unknown while Ollama")
    assert memory_rows(OLLAMA_UP, None) == ()
