"""Connect an IDE's Test button (app/client_probe.py): each client's probe goes the way
that client goes (its dialect, its route, its key header) and names the client as the
client names itself, so the request inspector shows the agent."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from app.client_probe import probe_client
from app.ide_configs import ide_configs
from proxy_core import ProxyService, RequestRecord
from tests.conftest import Sim, make_settings, serving

# The label the proxy gives each snippet's client (proxy_core/clients.py).
LABELS = {
    "Claude Code": "claude-code",
    "Codex CLI": "codex",
    "Gemini CLI": "gemini-cli",
    "Copilot CLI": "copilot-cli",
    "opencode": "opencode",
    "Kilo Code CLI": "kilo",
    "Qwen Code": "qwen-code",
    "Continue CLI (cn)": "continue-cli",
    "Cline CLI": "cline-cli",
    "pi": "pi",
    "aider": "aider",
}


@pytest.fixture
async def guarded(sim: Sim, tmp_path: Path):  # type: ignore[no-untyped-def]
    async with serving(make_settings(tmp_path, sim.url, require_token=True)) as service:
        yield service


async def test_each_agents_test_goes_its_way_and_names_it(guarded: ProxyService) -> None:
    configs = {c.name: c for c in ide_configs(guarded.base_url, token=guarded.access_token)}
    seen = len(guarded.recent_requests())
    for name, label in LABELS.items():
        config = configs[name]
        line = await probe_client(
            guarded.base_url, config.dialect, "llama3.2", guarded.access_token, config.headers
        )
        assert line.startswith("OK: 200"), (name, line)
        last = await _recorded(guarded, seen)
        seen += 1
        assert (last.client, last.dialect) == (label, _dialect(config.dialect)), name


async def test_a_wrong_token_says_so_in_the_clients_dialect(guarded: ProxyService) -> None:
    gemini = {c.name: c for c in ide_configs(guarded.base_url)}["Gemini CLI"]
    line = await probe_client(guarded.base_url, gemini.dialect, "llama3.2", "wrong", gemini.headers)
    assert line.startswith("Failed: 401") and "access token" in line


async def _recorded(service: ProxyService, before: int) -> RequestRecord:
    """The next request the inspector recorded (it records once the reply is written)."""
    for _ in range(200):
        records = service.recent_requests()
        if len(records) > before:
            return records[0]  # newest first
        await asyncio.sleep(0.01)
    raise AssertionError("the probe was not recorded")


def _dialect(dialect: str) -> str:
    return {"anthropic": "anthropic", "responses": "responses"}.get(dialect, dialect)
