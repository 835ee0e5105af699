"""Settings precedence, validation, and the headless command line."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from proxy_core.settings import ProxySettings, SettingsError, resolve, save


def test_precedence_cli_env_file_defaults(tmp_path: Path) -> None:
    (tmp_path / "settings.json").write_text(
        json.dumps({"port": 1111, "cache_ttl": 60, "log_level": "debug", "cache_policy": "all"})
    )
    env = {"OLLAMA_PROXY_PORT": "2222", "OLLAMA_PROXY_CACHE_TTL": "90"}
    s = resolve({"data_dir": str(tmp_path), "port": 3333}, env)
    assert s.port == 3333  # CLI beats env and file
    assert s.cache_ttl == 90.0  # env beats file
    assert s.log_level == "debug" and s.cache_policy == "all"  # file beats defaults
    assert s.host == "127.0.0.1" and s.ollama_url == "http://127.0.0.1:11434"


def test_env_chooses_data_dir(tmp_path: Path) -> None:
    s = resolve({}, {"OLLAMA_PROXY_DATA_DIR": str(tmp_path), "OLLAMA_PROXY_CACHE_ENABLED": "no"})
    assert s.data_dir == tmp_path and s.cache_enabled is False


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"port": 70000}, "port"),
        ({"ollama_url": "ftp://x"}, "ollama_url"),
        ({"ollama_url": "http://"}, "ollama_url"),
        ({"cache_policy": "some"}, "cache_policy"),
        ({"read_timeout": 0}, "read_timeout"),
        ({"log_level": "loud"}, "log_level"),
        ({"host": ""}, "host"),
    ],
)
def test_invalid_values_name_the_setting(changes: dict[str, object], needle: str) -> None:
    with pytest.raises(SettingsError, match=needle):
        ProxySettings(**changes)  # type: ignore[arg-type]


def test_bad_env_and_file_values(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="port"):
        resolve({"data_dir": str(tmp_path)}, {"OLLAMA_PROXY_PORT": "eleven"})
    (tmp_path / "settings.json").write_text("{broken")
    with pytest.raises(SettingsError, match="settings file"):
        resolve({"data_dir": str(tmp_path)}, {})


def test_save_round_trip(tmp_path: Path) -> None:
    s = ProxySettings(data_dir=tmp_path, port=4444, num_ctx_defaults={"llama3.2": 8192})
    save(s)
    assert resolve({"data_dir": str(tmp_path)}, {}) == s


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "proxy_core", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, **(env or {})},
    )


def test_help_explains_each_flag() -> None:
    out = _run("--help").stdout
    for flag in ("--host", "--port", "--ollama-url", "--data-dir", "--no-cache", "--log-level"):
        assert flag in out
    assert "OLLAMA_PROXY_" in out


def test_invalid_setting_is_one_line(tmp_path: Path) -> None:
    result = _run("--data-dir", str(tmp_path), "--ollama-url", "nope")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "ollama_url" in result.stderr
    assert "Traceback" not in result.stderr


def test_port_in_use_names_the_port(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = _run("--data-dir", str(tmp_path), "--port", str(port))
    assert result.returncode == 1
    assert f"port {port}" in result.stderr and "Traceback" not in result.stderr


def test_every_setting_is_described_once_and_the_readme_carries_it() -> None:
    """Flags, checks, the README table and the tray's ranges come from one spec each."""
    from proxy_core.settings import FIELDS, SPECS, settings_table

    assert set(SPECS) == set(FIELDS)
    assert all(spec.help for spec in SPECS.values())
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert settings_table() in readme
    help_text = _run("--help").stdout
    for name, spec in SPECS.items():
        if spec.flag:
            assert spec.flag in help_text, name
        if spec.secret:
            assert spec.flag is None, f"{name} is secret: never a flag"
            assert name not in repr(ProxySettings()), f"{name} must stay out of repr()"


@pytest.mark.parametrize(
    ("name", "bad"),
    [
        ("port", 65536),
        ("port", -1),
        ("max_client_connections", 0),
        ("max_line_bytes", 0),
        ("monitor_interval", -1),
        ("cache_ttl", 0),
        ("keepalive_timeout", -5),
    ],
)
def test_spec_limits_are_enforced(name: str, bad: object) -> None:
    with pytest.raises(SettingsError, match=name):
        ProxySettings(**{name: bad})  # type: ignore[arg-type]


def test_agent_tools_are_off_by_default_and_need_a_workspace(tmp_path: Path) -> None:
    defaults = ProxySettings(data_dir=tmp_path)
    assert defaults.agent_tools is False and defaults.workspace == ""
    with pytest.raises(SettingsError, match="workspace: required when agent_tools is on"):
        ProxySettings(data_dir=tmp_path, agent_tools=True)
    env = {"OLLAMA_PROXY_AGENT_TOOLS": "on", "OLLAMA_PROXY_WORKSPACE": str(tmp_path)}
    on = resolve({"data_dir": str(tmp_path)}, env)
    assert on.agent_tools is True and on.workspace == str(tmp_path)


def test_several_ollama_hosts_by_repeating_the_flag_or_commas(tmp_path: Path) -> None:
    from proxy_core.cli import build_parser, settings_from_args

    args = build_parser().parse_args(
        ["--ollama-url", "http://a:11434/", "--ollama-url", "http://b:11434",
         "--data-dir", str(tmp_path)]
    )  # fmt: skip
    settings = settings_from_args(args)
    assert settings.ollama_bases == ("http://a:11434", "http://b:11434")
    assert settings.ollama_base == "http://a:11434"  # the first is the primary
    env = resolve({"data_dir": tmp_path}, {"OLLAMA_PROXY_OLLAMA_URL": "http://a:1,http://b:2"})
    assert env.ollama_bases == ("http://a:1", "http://b:2")
    single = resolve({"data_dir": tmp_path}, {})
    assert single.ollama_bases == ("http://127.0.0.1:11434",)  # one URL works as before
    with pytest.raises(SettingsError, match="listed twice"):
        ProxySettings(ollama_url="http://a:1, http://a:1")
    with pytest.raises(SettingsError, match="'ftp://b' must be an http"):
        ProxySettings(ollama_url="http://a:1, ftp://b")


def test_keepalive_timeout_was_idle_timeout_and_the_old_name_is_still_read(
    tmp_path: Path,
) -> None:
    from proxy_core.settings import resolve

    assert resolve({"data_dir": str(tmp_path)}, environ={}).keepalive_timeout == 65.0
    old_env = {"OLLAMA_PROXY_IDLE_TIMEOUT": "40"}
    assert resolve({"data_dir": str(tmp_path)}, environ=old_env).keepalive_timeout == 40.0
    both = old_env | {"OLLAMA_PROXY_KEEPALIVE_TIMEOUT": "50"}
    assert resolve({"data_dir": str(tmp_path)}, environ=both).keepalive_timeout == 50.0
    (tmp_path / "settings.json").write_text('{"idle_timeout": 12}')
    assert resolve({"data_dir": str(tmp_path)}, environ={}).keepalive_timeout == 12.0


@pytest.mark.parametrize("value", ["0", "65", "two", "-1", ""])
def test_workers_is_auto_or_a_count(tmp_path: Path, value: str) -> None:
    from proxy_core.settings import SettingsError, resolve

    with pytest.raises(SettingsError, match="workers"):
        resolve({"data_dir": str(tmp_path), "workers": value}, environ={})
    assert resolve({"data_dir": str(tmp_path), "workers": "auto"}, environ={}).workers == "auto"
