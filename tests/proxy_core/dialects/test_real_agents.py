"""The real coding agents, unmodified, against the proxy in front of the simulator:
Claude Code (Anthropic Messages) and Codex CLI (OpenAI Responses), run headless and
offline, each in a temporary HOME with telemetry and updates off.

They are installed from npm once per machine into ``.venv/agents`` (about 660 MB; npm
is on the machine). Without npm the tests skip, unless ``OTP_REQUIRE_AGENTS=1`` (set by
``.ci/run``) makes that a failure.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from proxy_core import ProxyService
from tests.conftest import Sim

ROOT = Path(__file__).resolve().parents[3]
AGENTS = ROOT / ".venv" / "agents"
PACKAGES = {"@anthropic-ai/claude-code": "2.1.332", "@openai/codex": "0.171.0"}


def _installed(name: str) -> str | None:
    manifest = AGENTS / "node_modules" / name / "package.json"
    if not manifest.exists():
        return None
    return str(json.loads(manifest.read_text())["version"])


@pytest.fixture(scope="module")
def agents() -> Path:
    npm = shutil.which("npm")
    if npm is None:
        if os.environ.get("OTP_REQUIRE_AGENTS") == "1":
            pytest.fail("npm is needed to install the coding agents")
        pytest.skip("npm is not installed")
    if any(_installed(name) != version for name, version in PACKAGES.items()):
        AGENTS.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                npm,
                "install",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
                "--prefix",
                str(AGENTS),
                *(f"{n}@{v}" for n, v in PACKAGES.items()),
            ],
            check=True,
            timeout=900,
        )
    return AGENTS / "node_modules" / ".bin"


async def run(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), 180)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    return int(process.returncode or 0), out.decode(), err.decode()


def base_env(home: Path) -> dict[str, str]:
    keep = ("PATH", "LANG", "TERM", "SYSTEMROOT")
    return {k: v for k, v in os.environ.items() if k in keep} | {"HOME": str(home)}


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
