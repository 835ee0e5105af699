"""The Models panel's rows: pure functions from two metrics snapshots (a minute apart),
the ``models`` setting and Ollama's status to what each column shows."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from proxy_core import MetricsSnapshot, ModelFigures, format_seconds, model_figures, normalize_model

EDITABLE = ("num_ctx", "keep_alive", "mode")


@dataclasses.dataclass(frozen=True, slots=True)
class ModelRow:
    model: str
    loaded: str  # "4.3 GB" or "no"
    num_ctx: str  # the profile's, "" when none
    keep_alive: str
    mode: str
    generations: str
    ttft_p50: str
    tokens_per_second: str
    truncations: str
    queue_wait: str
    now: str  # "running / waiting" in the proxy's lanes at this moment
    enforce_num_ctx: int | None  # set when clients disagree on num_ctx (a reload risk)
    risk: str  # words for the flag column


def profile_for(models: Mapping[str, Any], model: str) -> Mapping[str, Any]:
    for name, profile in models.items():
        if normalize_model(name) == model and isinstance(profile, Mapping):
            return profile
    return {}


def _gigabytes(size: int) -> str:
    return f"{size / 1e9:.1f} GB"


def model_rows(
    before: MetricsSnapshot | None,
    now: MetricsSnapshot,
    models: Mapping[str, Any],
) -> list[ModelRow]:
    figures = model_figures(now.latency_buckets, before.models if before else {}, now.models)
    installed = list(now.ollama.models) if now.ollama is not None else []
    loaded = {normalize_model(m.name): m.size for m in (now.ollama.loaded if now.ollama else ())}
    names = [normalize_model(n) for n in installed]
    names += [n for n in figures if n not in names and n != "other"]
    rows = []
    for name in names:
        profile = profile_for(models, name)
        fig = figures.get(name)
        running, waiting = now.lanes.get(name, (0, 0))
        rows.append(_row(name, profile, fig, loaded.get(name), f"{running} / {waiting}"))
    return rows


def _row(
    name: str,
    profile: Mapping[str, Any],
    fig: ModelFigures | None,
    size: int | None,
    lanes: str,
) -> ModelRow:
    enforce = None
    risk = ""
    if fig is not None and fig.reload_risk:
        enforce = max(fig.contexts)
        risk = (
            f"clients ask for num_ctx {', '.join(str(c) for c in fig.contexts)}: "
            "Ollama reloads the model between them"
        )
    return ModelRow(
        model=name,
        # llama-server's model is loaded with no size reported: loaded all the same
        loaded="no" if size is None else _gigabytes(size) if size else "yes",
        num_ctx=str(profile.get("num_ctx", "")),
        keep_alive=str(profile.get("keep_alive", "")),
        mode=str(profile.get("mode", "default" if profile else "")),
        generations=str(fig.generations) if fig else "0",
        ttft_p50=format_seconds(fig.ttft_p50) if fig else "-",
        tokens_per_second=(
            f"{fig.tokens_per_second:.1f}" if fig and fig.tokens_per_second is not None else "-"
        ),
        truncations=str(fig.truncations) if fig else "0",
        queue_wait=format_seconds(fig.queue_wait) if fig else "-",
        now=lanes,
        enforce_num_ctx=enforce,
        risk=risk,
    )


def edited_profile(current: Mapping[str, Any], field: str, text: str) -> dict[str, Any]:
    """The profile after editing one cell; raises ValueError with words for the user."""
    profile = dict(current)
    value = text.strip()
    if not value:
        profile.pop(field, None)
        return profile
    if field == "num_ctx":
        if not value.isdigit() or int(value) < 1:
            raise ValueError("num_ctx must be a whole number of tokens, e.g. 8192")
        profile[field] = int(value)
    elif field == "keep_alive":
        profile[field] = int(value) if value.lstrip("-").isdigit() else value
    elif field == "mode":
        if value not in ("default", "enforce"):
            raise ValueError("mode is 'default' (fill in) or 'enforce' (always use)")
        profile[field] = value
    return profile
