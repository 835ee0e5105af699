"""A team's deployment on one machine, on loopback: Redis, two simulated Ollama hosts and
two headless proxies that both route to both hosts and share one cache.

    python -m scripts.team_demo           # runs until Ctrl-C, printing what to try
    python -m scripts.team_demo --smoke   # starts it, checks it works, stops (a test)

A real deployment puts a TCP load balancer (or a Kubernetes Service:
packaging/kubernetes.yaml) in front of the proxies; here you pick a proxy by its port.
Needs redis-server (apt-get install redis-server).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from tests.fakes.redis_server import RedisServer, free_port, installed

QUESTION = {
    "model": "llama3.2",
    "stream": False,
    "options": {"temperature": 0},
    "messages": [{"role": "user", "content": "what does a team proxy do?"}],
}


def wait_for(url: str, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(url, timeout=1):
                return
        time.sleep(0.1)
    raise SystemExit(f"{url} did not answer")


def chat(base: str) -> tuple[str, str]:
    request = urllib.request.Request(
        base + "/api/chat",
        data=json.dumps(QUESTION).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as resp:
        return resp.headers.get("X-Cache", ""), json.loads(resp.read())["message"]["content"]


@contextlib.contextmanager
def team(work: Path) -> Iterator[dict[str, list[str] | str]]:
    if not installed():
        raise SystemExit("redis-server is not installed (apt-get install redis-server)")
    redis = RedisServer(work)
    started: list[subprocess.Popen[bytes]] = []

    def spawn(*argv: str) -> None:
        started.append(
            subprocess.Popen(
                [sys.executable, "-m", *argv], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
        )

    try:
        redis.start()
        hosts = [f"http://127.0.0.1:{free_port()}" for _ in range(2)]
        for host in hosts:
            port = host.rsplit(":", 1)[1]
            spawn("tests.fakes.ollama_sim", "--port", port, "--token-delay", "0.02",
                  "--reply-words", "12")  # fmt: skip
        for host in hosts:
            wait_for(host + "/api/version")
        proxies = [f"http://127.0.0.1:{free_port()}" for _ in range(2)]
        for n, proxy in enumerate(proxies):
            spawn("proxy_core", "--port", proxy.rsplit(":", 1)[1],
                  "--ollama-url", ", ".join(hosts), "--cache-url", redis.url,
                  "--data-dir", str(work / f"proxy{n}"), "--log-level", "warning")  # fmt: skip
        for proxy in proxies:
            wait_for(proxy + "/healthz")
        yield {"redis": redis.url, "hosts": hosts, "proxies": proxies}
    finally:
        for process in reversed(started):
            process.terminate()
        for process in started:
            process.wait(10)
        redis.stop()


def smoke(setup: dict[str, list[str] | str]) -> None:
    one, two = setup["proxies"]
    first = chat(str(one))
    time.sleep(0.3)  # the answer is written to Redis just after the reply
    second = chat(str(two))
    assert first[0] == "MISS" and second[0] == "HIT" and first[1] == second[1], (first, second)
    with urllib.request.urlopen(str(two) + "/metrics", timeout=5) as resp:
        metrics = resp.read().decode()
    for host in setup["hosts"]:
        assert f'proxy_upstream_up{{upstream="{host}"}} 1.0' in metrics, metrics
    print("ok: proxy 1 asked Ollama, proxy 2 answered from the shared cache; both hosts up")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="check it works, then stop")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="otp-team-") as work, team(Path(work)) as setup:
        if args.smoke:
            smoke(setup)
            return
        print(json.dumps(setup, indent=2))
        one = setup["proxies"][0]
        print(
            f"\ntry:  curl -s {one}/api/chat -d '{json.dumps(QUESTION)}' -i | grep X-Cache\n"
            "      (then the same against the other proxy: X-Cache: HIT)\n"
            "Ctrl-C stops everything."
        )
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(1)


if __name__ == "__main__":
    main()
