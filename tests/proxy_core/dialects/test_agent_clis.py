"""The other coding agents of 2026, unmodified, against the proxy in front of the simulator,
each configured only as its docs say (a base URL, and the token where it takes one):

- a plain prompt: exit 0, the simulator's answer printed, the agent named (client label);
- a tool round trip with one of the agent's own tools: the simulator calls it (its
  ``script``), the agent runs it and sends the result back, the answer quotes the result;
- streaming: the agent's generations reached Ollama as streams (where the agent streams);
- the access token required (``require_token``) and sent the way the agent sends keys:
  with a wrong one the agent is refused and nothing reaches Ollama.

Installed from npm by tests/agent_clis.py; headless, offline, in a temporary HOME."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from app.agent_configs import PROVIDER, agent_configs
from proxy_core import ProxyService
from tests.agent_clis import base_env, left_behind, reap, run
from tests.conftest import Sim

MARKER = "the-file-says-42"
Setup = Callable[[Path, Path, ProxyService, str], dict[str, str]]  # home, work, proxy, key


@dataclasses.dataclass(frozen=True)
class Agent:
    name: str  # the client label the proxy gives it
    argv: Callable[[Path, str], list[str]]  # (the agents' bin folder, prompt) -> command
    setup: Setup  # writes its config files; the environment to run it in
    tool: tuple[str, str]  # one of its own tools that reads a file, and its path argument
    streams: bool = True
    # a command to run first, as its docs say (Cline CLI's `cline auth …`)
    before: Callable[[Path, ProxyService, str], list[str]] | None = None


# -- each agent configured with the README's snippet (app/agent_configs.py) -------------------


def snippet(name: str, proxy: ProxyService, key: str) -> str:
    root = proxy.base_url
    return {c.name: c.text for c in agent_configs(root, root + "/v1", key, "llama3.2")}[name]


def exports(text: str) -> dict[str, str]:
    """The ``export NAME=value`` lines of a snippet, as a shell would set them."""
    pairs = (
        line.removeprefix("export ").split("  #")[0].split("=", 1)
        for line in text.splitlines()
        if line.startswith("export ")
    )
    return dict(pairs)


def gemini_setup(home: Path, work: Path, proxy: ProxyService, key: str) -> dict[str, str]:
    """The snippet's exports, and the settings.json its text names (telemetry and
    updates off besides, for the test)."""
    settings = {
        "security": {"auth": {"selectedType": "gemini-api-key"}},
        "privacy": {"usageStatisticsEnabled": False},
        "general": {"disableAutoUpdate": True},
    }
    (home / ".gemini").mkdir(parents=True)
    (home / ".gemini" / "settings.json").write_text(json.dumps(settings))
    env = exports(snippet("Gemini CLI", proxy, key))
    return env | {"GEMINI_CLI_TRUST_WORKSPACE": "true"}


def file_setup(name: str, file: str, extra: dict[str, str] | None = None) -> Setup:
    """An agent configured by a file in the project: the snippet's text, as it is."""

    def setup(home: Path, work: Path, proxy: ProxyService, key: str) -> dict[str, str]:
        (work / file).write_text(snippet(name, proxy, key))
        return extra or {}

    return setup


def env_setup(name: str) -> Setup:
    def setup(home: Path, work: Path, proxy: ProxyService, key: str) -> dict[str, str]:
        return exports(snippet(name, proxy, key))

    return setup


def pi_setup(home: Path, work: Path, proxy: ProxyService, key: str) -> dict[str, str]:
    (home / ".pi" / "agent").mkdir(parents=True)
    (home / ".pi" / "agent" / "models.json").write_text(snippet("pi", proxy, key))
    return {"PI_OFFLINE": "1"}


def cline_auth(bin: Path, proxy: ProxyService, key: str) -> list[str]:
    """The snippet's `cline auth …` line."""
    argv = shlex.split(snippet("Cline CLI", proxy, key))
    return [str(bin / argv[0]), *argv[1:]]


AGENTS = [
    Agent(
        "gemini-cli",
        lambda bin, prompt: [str(bin / "gemini"), "-p", prompt],
        gemini_setup,
        ("read_file", "file_path"),
    ),
    Agent(
        "opencode",
        lambda bin, prompt: [str(bin / "opencode"), "run", prompt],
        file_setup("opencode", "opencode.json", {"OPENCODE_DISABLE_AUTOUPDATE": "1"}),
        ("read", "filePath"),
    ),
    Agent(
        "qwen-code",
        lambda bin, prompt: [str(bin / "qwen"), "-p", prompt],
        env_setup("Qwen Code"),
        ("read_file", "file_path"),
    ),
    Agent(
        "kilo",
        lambda bin, prompt: [str(bin / "kilo"), "run", prompt],
        file_setup("Kilo Code CLI", "kilo.json"),
        ("read", "filePath"),
    ),
    Agent(
        "continue-cli",
        lambda bin, prompt: [str(bin / "cn"), "-p", prompt, "--config", "config.yaml"],
        file_setup("Continue CLI (cn)", "config.yaml"),
        ("Read", "filepath"),
    ),
    Agent(
        "cline-cli",
        lambda bin, prompt: [str(bin / "cline"), prompt],
        lambda home, work, proxy, key: {},
        ("read_files", "files"),
        before=cline_auth,
    ),
    Agent(
        "pi",
        lambda bin, prompt: [
            *(str(bin / "pi"), "-p", "--provider", PROVIDER, "--model", "llama3.2"),
            *("--no-session", prompt),
        ],
        pi_setup,
        ("read", "path"),
    ),
    Agent(
        "copilot-cli",
        lambda bin, prompt: [str(bin / "copilot"), "-p", prompt, "--allow-all-tools"],
        env_setup("Copilot CLI"),
        ("view", "path"),
    ),
]


# -- the tests --------------------------------------------------------------------------------


@pytest.fixture
def proxy_changes() -> dict[str, object]:
    return {"require_token": True}


def generations(sim: Sim) -> list[dict[str, Any]]:
    return [r.json() for r in sim.recorder.by_path("/api/chat")]


async def run_agent(
    agent: Agent, agents: Path, proxy: ProxyService, tmp_path: Path, prompt: str, key: str
) -> tuple[int, str, str]:
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    (work / "notes.txt").write_text(MARKER + "\n")
    env = base_env(home) | agent.setup(home, work, proxy, key)
    try:
        if agent.before is not None:
            code, out, err = await run(agent.before(agents, proxy, key), env, work)
            assert code == 0, (out + err)[-2000:]
        return await run(agent.argv(agents, prompt), env, work)
    finally:
        await asyncio.get_running_loop().run_in_executor(None, reap, home)
        assert not left_behind(home)  # nothing of the agent outlives its test


@pytest.mark.parametrize("agent", AGENTS, ids=lambda a: a.name)
async def test_plain_prompt(
    agent: Agent, agents: Path, proxy: ProxyService, sim: Sim, tmp_path: Path
) -> None:
    sim.config.script = []  # tools offered, none called
    code, out, err = await run_agent(
        agent, agents, proxy, tmp_path, "say hello", proxy.access_token
    )
    assert code == 0, (out + err)[-3000:]
    assert "Simulated reply to:" in out
    sent = generations(sim)
    assert sent and sent[-1]["model"].startswith("llama3.2")
    if agent.streams:
        assert all(g["stream"] is True for g in sent)
    assert any(g.get("tools") for g in sent), "the agent offered its tools"
    clients = {r.client for r in proxy.recent_requests() if r.path != "/_proxy/requests"}
    assert clients == {agent.name}


@pytest.mark.parametrize("agent", AGENTS, ids=lambda a: a.name)
async def test_tool_round_trip(
    agent: Agent, agents: Path, proxy: ProxyService, sim: Sim, tmp_path: Path
) -> None:
    tool, argument = agent.tool
    path = str(tmp_path / "work" / "notes.txt")
    sim.config.script = [[{"name": tool, "arguments": {argument: path}}]]
    code, out, err = await run_agent(
        agent, agents, proxy, tmp_path, "what do my notes say?", proxy.access_token
    )
    assert code == 0, (out + err)[-3000:]
    offered = {t["function"]["name"] for g in generations(sim) for t in g.get("tools") or []}
    assert tool in offered, sorted(offered)
    results = [m for g in generations(sim) for m in g["messages"] if m["role"] == "tool"]
    assert results and MARKER in results[-1]["content"], (out + err)[-3000:]
    assert MARKER in out  # the answer quotes the tool's result


@pytest.mark.parametrize("agent", AGENTS, ids=lambda a: a.name)
async def test_a_wrong_key_is_refused(
    agent: Agent, agents: Path, proxy: ProxyService, sim: Sim, tmp_path: Path
) -> None:
    code, out, _ = await run_agent(agent, agents, proxy, tmp_path, "say hello", "not-the-token")
    assert "Simulated reply" not in out
    assert not sim.recorder.by_path("/api/chat")
    refused = [r for r in proxy.recent_requests() if r.status == 401]
    assert refused, "the agent reached the proxy and was refused"


# -- aider (PyPI): LiteLLM's ollama_chat provider on the native API --------------------------


async def test_aider_through_the_native_api(
    aider: Path, proxy: ProxyService, sim: Sim, tmp_path: Path
) -> None:
    """OLLAMA_API_BASE and OLLAMA_API_KEY (LiteLLM sends it as a Bearer token), as the
    README says; X-Title from .aider.model.settings.yml names aider. aider edits files
    through text formats, not function tools: there is no tool round trip to run."""
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    text = snippet("aider", proxy, proxy.access_token)
    settings = [line.removeprefix("# ") for line in text.splitlines() if line.startswith("# ")]
    (work / ".aider.model.settings.yml").write_text("\n".join(settings[1:]) + "\n")
    argv = [
        *(str(aider), "--model", "ollama_chat/llama3.2", "--message", "say hello"),
        *("--yes-always", "--no-git", "--no-check-update", "--no-show-model-warnings"),
        *("--no-analytics", "--no-show-release-notes"),
    ]
    env = base_env(home) | exports(text)
    code, out, err = await run(argv, env | {"OLLAMA_API_KEY": "not-the-token"}, work)
    assert "Simulated reply" not in out and not sim.recorder.by_path("/api/chat")
    code, out, err = await run(argv, env, work)
    assert code == 0, (out + err)[-3000:]
    assert "Simulated reply to: say hello" in out
    sent = generations(sim)
    assert sent and all(g["stream"] is True for g in sent)
    # the generations carry the settings' extra headers (LiteLLM's /api/show does not)
    chats = {r.client for r in proxy.recent_requests() if r.path == "/api/chat" and r.status == 200}
    assert chats == {"aider"}
