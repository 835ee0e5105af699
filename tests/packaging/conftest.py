"""Helpers for the packaging tests: they build what users install (the wheel, the sdist,
the frozen app), install it away from the checkout and run it against the simulator."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get_json(url: str, timeout: float = 2.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return json.loads(resp.read())


def wait_for(url: str, process: subprocess.Popen[str] | None = None, seconds: float = 60) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            out = process.stdout.read() if process.stdout else ""
            raise AssertionError(f"exited with {process.returncode} before answering:\n{out}")
        with contextlib.suppress(OSError, ValueError):
            return get_json(url)
        time.sleep(0.2)
    raise AssertionError(f"{url} did not answer in {seconds} s")


def outside_checkout_env(**extra: str) -> dict[str, str]:
    """No PYTHONPATH and a working directory away from the checkout: an installed
    package must not import the source tree by accident."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(extra)
    return env


@pytest.fixture(scope="session")
def simulator() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.ollama_sim", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(url + "/api/version", process)
        yield url
    finally:
        process.terminate()
        process.wait(10)


@contextlib.contextmanager
def running(command: list[str], cwd: Path, env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


def chat_through(base_url: str) -> str:
    """One chat with the official ollama client, as a user's IDE would send it."""
    import ollama

    reply = ollama.Client(host=base_url).chat(
        model="llama3.2", messages=[{"role": "user", "content": "hello from the package test"}]
    )
    return reply.message.content or ""
