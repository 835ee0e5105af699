"""Do the user's models fit this machine? The loaded models' memory (``/api/ps``) next to
RAM and VRAM, and a verdict per installed model (``/api/tags`` sizes). Pure, no Qt.

The rule is a guide, said in the UI: a model needs about its file size plus a fifth for
the context (the KV cache at a default context); it runs fast when that fits in GPU
memory, split between GPU and CPU (slower) or on the CPU when it fits in RAM beside the
system's own share, and not at all otherwise.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

from proxy_core import GB, HardwareSample, OllamaStatus

CONTEXT_SHARE = 1.2  # weights plus room for the context
SYSTEM_SHARE = 4 * GB  # RAM left to the OS, the IDE and this app
RULE = "a model needs about its file size plus 20% for its context"


class Fit(enum.Enum):
    """Where a model fits (the words after "fits"/"fit")."""

    GPU = "in GPU memory"
    SPLIT = "only split between GPU and RAM (slower)"
    CPU = "in RAM, on the CPU (slower)"
    NO = ""

    def said_of(self, count: int) -> str:
        if self is Fit.NO:
            return "does not fit" if count == 1 else "do not fit"
        return f"{'fits' if count == 1 else 'fit'} {self.value}"


def fit(size: int, ram_total: int, vram_total: int) -> Fit:
    need = size * CONTEXT_SHARE
    if vram_total and need <= vram_total:
        return Fit.GPU
    if need <= vram_total + max(ram_total - SYSTEM_SHARE, 0):
        return Fit.SPLIT if vram_total else Fit.CPU
    return Fit.NO


def _gb(value: float) -> str:
    return f"{value / GB:.1f} GB"


def memory_rows(
    status: OllamaStatus | None, hw: HardwareSample | None
) -> tuple[tuple[str, str], ...]:
    """Rows for the hardware box: memory, what is loaded, and whether installed models fit."""
    if hw is None:
        return ()
    vram = sum(gpu.memory_total for gpu in hw.gpus)
    memory = f"{_gb(hw.ram_total)} RAM" + (f" + {_gb(vram)} GPU memory" if vram else ", no GPU")
    rows = [("Memory for models", memory)]
    if status is None or not status.reachable:
        rows.append(("Models", "unknown while Ollama does not answer"))
        return tuple(rows)
    loaded = status.loaded
    if loaded:
        size = sum(m.size for m in loaded)
        on_gpu = sum(m.size_vram for m in loaded)
        rows.append(
            (
                "Loaded now",
                f"{_gb(size)} in {len(loaded)} model{'s' if len(loaded) != 1 else ''}"
                + (f", {_gb(on_gpu)} of it on the GPU" if on_gpu else ", all in RAM"),
            )
        )
    else:
        rows.append(("Loaded now", "no model (Ollama loads one on the first request)"))
    rows.append(("Installed models", installed_fit(status.sizes, hw.ram_total, vram)))
    return tuple(rows)


def installed_fit(sizes: Sequence[tuple[str, int]], ram_total: int, vram_total: int) -> str:
    """ "3 of 4 fit in GPU memory; qwen3:32b (20.0 GB) does not fit" in one line."""
    if not sizes:
        return "none installed (ollama pull <model>)"
    verdicts = [(name, size, fit(size, ram_total, vram_total)) for name, size in sizes]
    parts = []
    for kind in Fit:
        mine = [(name, size) for name, size, verdict in verdicts if verdict is kind]
        if not mine:
            continue
        if kind in (Fit.GPU, Fit.CPU) and len(mine) > 2:  # the good news, counted
            parts.append(f"{len(mine)} of {len(sizes)} {kind.said_of(len(mine))}")
        else:  # the exceptions, named
            named = ", ".join(f"{name} ({_gb(size)})" for name, size in mine[:3])
            more = f" and {len(mine) - 3} more" if len(mine) > 3 else ""
            parts.append(f"{named}{more} {kind.said_of(len(mine))}")
    return "; ".join(parts) + f" ({RULE})"
