"""The Containerfile cannot be built here (no container engine): its promises are read
from the file, and its health check is run against a proxy set up as the image sets it
(listening beyond loopback, so the token is required)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from .conftest import ROOT, free_port, running

CONTAINERFILE = (ROOT / "packaging" / "Containerfile").read_text()


def _final_stage() -> str:
    return CONTAINERFILE.rsplit("\nFROM ", 1)[1]


def test_the_image_is_headless_non_root_with_a_data_volume() -> None:
    final = _final_stage()
    install = [line for line in final.splitlines() if "pip install" in line]
    assert install and not any("[gui]" in line or "PySide6" in line for line in install)
    (user,) = re.findall(r"^USER (\S+)", final, re.M)
    assert user not in ("root", "0")
    assert 'VOLUME ["/data"]' in final and "OLLAMA_PROXY_DATA_DIR=/data" in final
    assert "OLLAMA_PROXY_HOST=0.0.0.0" in final  # beyond loopback: the token is enforced
    assert 'ENTRYPOINT ["ollama-tray-proxy-headless"]' in final


def _health_command(port: int, data_dir: Path) -> list[str]:
    (cmd,) = re.findall(r"^\s*CMD (\[.*\])$", _final_stage(), re.M)
    argv = json.loads(cmd)
    assert argv[:2] == ["python", "-c"]
    code = argv[2].replace("127.0.0.1:11435", f"127.0.0.1:{port}").replace("/data", str(data_dir))
    return [sys.executable, "-c", code]


def test_the_health_check_passes_with_the_token_and_fails_without(tmp_path: Path) -> None:
    port = free_port()
    data_dir = tmp_path / "data"
    env = {
        **os.environ,
        "OLLAMA_PROXY_HOST": "0.0.0.0",
        "OLLAMA_PROXY_PORT": str(port),
        "OLLAMA_PROXY_DATA_DIR": str(data_dir),
        "OLLAMA_PROXY_OLLAMA_URL": "http://127.0.0.1:9",  # Ollama absent: still healthy
    }
    env.pop("OLLAMA_PROXY_ACCESS_TOKEN", None)
    with running([sys.executable, "-m", "proxy_core"], ROOT, env) as process:
        token_file = data_dir / "access-token"
        for _ in range(200):
            if token_file.exists() or process.poll() is not None:
                break
            time.sleep(0.1)
        check = _health_command(port, data_dir)
        clean = {k: v for k, v in os.environ.items() if k != "OLLAMA_PROXY_ACCESS_TOKEN"}
        for _ in range(100):  # the generated token, read from the volume
            if subprocess.run(check, env=clean, capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the health check never passed")
        wrong = {**clean, "OLLAMA_PROXY_ACCESS_TOKEN": "not-the-token-at-all"}
        assert subprocess.run(check, env=wrong, capture_output=True).returncode != 0
        assert process.poll() is None


def test_the_kubernetes_example_is_stateless_replicas_and_a_redis() -> None:
    import yaml  # PyYAML, installed with the MCP SDK's dependencies

    documents = list(yaml.safe_load_all((ROOT / "packaging" / "kubernetes.yaml").read_text()))
    kinds = [(d["kind"], d["metadata"]["name"]) for d in documents]
    assert ("Deployment", "ollama-proxy") in kinds and ("Service", "ollama-proxy") in kinds
    assert ("Deployment", "ollama-proxy-redis") in kinds
    proxy = next(d for d in documents if d["metadata"]["name"] == "ollama-proxy")
    assert proxy["spec"]["replicas"] >= 2
    (container,) = proxy["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["OLLAMA_PROXY_CACHE_URL"].startswith("redis://ollama-proxy-redis:")
    assert len(env["OLLAMA_PROXY_OLLAMA_URL"].split(",")) == 2
    from proxy_core.settings import ProxySettings

    ProxySettings(
        ollama_url=env["OLLAMA_PROXY_OLLAMA_URL"], cache_url=env["OLLAMA_PROXY_CACHE_URL"]
    )
    assert "OLLAMA_PROXY_ACCESS_TOKEN" in env  # beyond loopback: the token, from a Secret
    probe = container["readinessProbe"]["exec"]["command"]
    assert "Authorization" in probe[-1] and "/healthz" in probe[-1]
