"""The real coding agents, unmodified, against the proxy in front of the simulator:
Claude Code (Anthropic Messages) and Codex CLI (OpenAI Responses), run headless and
offline, each in a temporary HOME with telemetry and updates off (tests/agent_clis.py
installs them; test_agent_clis.py has the other agents)."""

from __future__ import annotations

import json
from pathlib import Path

from proxy_core import ProxyService
from tests.agent_clis import base_env, run
from tests.conftest import Sim


async def test_claude_code_prints_the_simulators_answer(
    agents: Path, proxy: ProxyService, sim: Sim, tmp_path: Path
) -> None:
    env = base_env(tmp_path) | {
        "ANTHROPIC_BASE_URL": proxy.base_url,
        "ANTHROPIC_AUTH_TOKEN": "not-checked-by-a-loopback-proxy",
        "ANTHROPIC_MODEL": "llama3.2",
        "ANTHROPIC_DEFAULT_HAIKU_MODEL": "llama3.2",
        "ANTHROPIC_SMALL_FAST_MODEL": "llama3.2",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
    }
    code, out, err = await run(
        [str(agents / "claude"), "-p", "say hello", "--output-format", "json"], env, tmp_path
    )
    assert code == 0, err[-2000:]
    result = json.loads(out.strip().splitlines()[-1])
    assert result["is_error"] is False
    assert result["result"].startswith("Simulated reply to:")
    messages = sim.recorder.by_path("/api/chat")
    assert messages and all(r.completed for r in messages)
    # Claude Code's own requests reached Ollama as native chats, nothing else left loopback.
    assert {r.path for r in sim.recorder.requests} <= {"/api/chat", "/api/show", "/api/tags"}


async def test_codex_cli_prints_the_simulators_answer(
    agents: Path, proxy: ProxyService, sim: Sim, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    codex_home = home / ".codex"
    codex_home.mkdir(parents=True)
    (codex_home / "config.toml").write_text(
        'model = "llama3.2"\n'
        'model_provider = "proxy"\n'
        "check_for_update_on_startup = false\n\n"
        "[analytics]\nenabled = false\n\n"
        "[model_providers.proxy]\n"
        'name = "Ollama Tray Proxy"\n'
        f'base_url = "{proxy.base_url}/v1"\n'
        'wire_api = "responses"\n'
        'env_key = "OLLAMA_PROXY_KEY"\n'
    )
    work = tmp_path / "work"
    work.mkdir()
    env = base_env(home) | {"CODEX_HOME": str(codex_home), "OLLAMA_PROXY_KEY": "x"}
    code, out, err = await run(
        [str(agents / "codex"), "exec", "--skip-git-repo-check", "say hello"], env, work
    )
    assert code == 0, err[-2000:]
    assert "Simulated reply to:" in out
    assert sim.recorder.by_path("/api/chat")
