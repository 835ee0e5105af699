"""llama-server with Gemma 3 270M on a free loopback port: for tests/real_engine and the
real-engine benchmark. scripts/real-engine.sh installs both (VERSION pins the same)."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

VERSION = "11434.0.0"
MODEL = "gemma3-270m"  # the alias the server lists
CONTEXT = 2048


def engine_dir() -> Path:
    default = Path.home() / ".cache" / "ollama-tray-proxy" / "engine"
    return Path(os.environ.get("OTP_ENGINE_DIR") or default)


def installed() -> tuple[Path, Path] | None:
    server = engine_dir() / f"llama-server-{VERSION}"
    model = engine_dir() / "gemma-3-270m-q4_k_m.gguf"
    return (server, model) if server.is_file() and model.is_file() else None


@dataclass
class Engine:
    url: str
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(slots: int = 1, threads: int = 2) -> Engine:
    """Start the server and wait until it answers /health (the model loaded)."""
    found = installed()
    if found is None:
        raise FileNotFoundError("the real engine is not set up: run scripts/real-engine.sh")
    server, model = found
    port = _free_port()
    process = subprocess.Popen(
        [str(server), "-m", str(model), "--host", "127.0.0.1", "--port", str(port),
         "-c", str(CONTEXT * slots), "-np", str(slots), "-t", str(threads), "--alias", MODEL,
         "--slots", "--no-webui"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    engine = Engine(f"http://127.0.0.1:{port}", process)
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(engine.url + "/health", timeout=2) as resp:
                if resp.status == 200:
                    return engine
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            engine.stop()
            raise RuntimeError("llama-server did not start")
        time.sleep(0.2)
