"""``agent/<model>`` in the model lists (``/api/tags``, ``/v1/models``): one entry per
installed model whose capabilities include tools, while the tools are on."""

from __future__ import annotations

from typing import Any

from ..capabilities import capabilities_of
from ..state import ProxyState
from .agent import PREFIX


async def with_agent_models(state: ProxyState, models: list[Any]) -> list[Any]:
    if state.tools is None:
        return models
    named = [
        (m, str(m.get("model") or m.get("name")))
        for m in models
        if isinstance(m, dict) and not str(m.get("model") or m.get("name") or "").startswith(PREFIX)
    ]
    capabilities = await capabilities_of(state, [name for _, name in named])
    agents = [
        {**m, "name": PREFIX + str(m.get("name") or name), "model": PREFIX + name}
        for (m, name), caps in zip(named, capabilities, strict=True)
        if "tools" in caps
    ]
    return [*models, *agents]
