"""The real coding agents the tests run, unmodified, against the proxy: installed from npm
once per machine into ``.venv/agents`` (npm is on the machine), run headless and offline
in a temporary HOME. Without npm the tests skip, unless ``OTP_REQUIRE_AGENTS=1`` (set by
``.ci/run``) makes that a failure.

The versions are pinned: the README's client table names the ones tested."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[1]
AGENTS = ROOT / ".venv" / "agents"
PACKAGES = {
    "@anthropic-ai/claude-code": "2.1.332",
    "@openai/codex": "0.171.0",
    "@google/gemini-cli": "0.61.0",
    "opencode-ai": "1.18.33",
    "@qwen-code/qwen-code": "0.24.4",
    "@kilocode/cli": "7.7.7",  # 7.8.1's platform binary is not on npm
    "@continuedev/cli": "1.5.47",
    "cline": "3.0.65",
    "@mariozechner/pi-coding-agent": "0.73.1",
    "@github/copilot": "1.0.102",
}


def _installed(name: str) -> str | None:
    manifest = AGENTS / "node_modules" / name / "package.json"
    if not manifest.exists():
        return None
    return str(json.loads(manifest.read_text())["version"])


def install_agents() -> Path:
    """The folder of the agents' commands, installing them first where needed."""
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


def left_behind(home: Path) -> list[psutil.Process]:
    """Processes still running with ``home`` as their HOME: what an agent left behind when
    its command returned (Cline's CLI starts a hub daemon in a session of its own, which
    no process group reaches). Each test's HOME is its own temporary folder."""
    found = []
    for process in psutil.process_iter():
        try:
            if process.environ().get("HOME") == str(home):
                found.append(process)
        except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
    return found


def reap(home: Path) -> None:
    """Stop what an agent left behind (``left_behind``)."""
    processes = left_behind(home)
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.terminate()
    _, alive = psutil.wait_procs(processes, timeout=5)
    for process in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()


def base_env(home: Path) -> dict[str, str]:
    keep = ("PATH", "LANG", "TERM", "SYSTEMROOT")
    return {k: v for k, v in os.environ.items() if k in keep} | {"HOME": str(home)}


AIDER = "aider-chat==0.86.2"  # from PyPI, into its own venv (its dependencies are many)


def install_aider() -> Path:
    """aider's command, installing it into ``.venv/aider`` first where needed."""
    venv = ROOT / ".venv" / "aider"
    stamp = venv / "installed.txt"
    if not stamp.exists() or stamp.read_text() != AIDER:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        pip = [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
        ]
        subprocess.run([*pip, AIDER], check=True, timeout=900)
        stamp.write_text(AIDER)
    return venv / "bin" / "aider"
