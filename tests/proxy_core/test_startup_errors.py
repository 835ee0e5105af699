"""Issue 11 items 20-22 (and issue 19 item 5): a setting the proxy cannot run with stops
start-up with one clear line naming it, exit status 2, never a traceback; the user's own
token file is never silently replaced."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from proxy_core.access import TOKEN_FILE, load_or_create_token
from proxy_core.errors import StartupError
from proxy_core.settings import ProxySettings, SettingsError, resolve


def run_headless(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OLLAMA_PROXY_MONITOR_INTERVAL": "0", **(env or {})}
    if "--port" not in args and "OLLAMA_PROXY_PORT" not in env:
        args = ("--port", "0", *args)  # if it does start, never on a port in use
    return subprocess.run(
        [sys.executable, "-m", "proxy_core", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
    )


def assert_one_clear_line(result: subprocess.CompletedProcess[str], needle: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert needle in lines[0], lines[0]


@pytest.mark.parametrize(
    ("args", "env", "needle"),
    [
        (("--cache-ttl", "nan"), {}, "cache_ttl"),
        (("--read-timeout", "inf"), {}, "read_timeout"),
        ((), {"OLLAMA_PROXY_BODY_TIMEOUT": "nan"}, "body_timeout"),
        ((), {"OLLAMA_PROXY_CACHE_TTL": "-inf"}, "cache_ttl"),
        (("--port", "-1"), {}, "port"),
        ((), {"OLLAMA_PROXY_PORT": "-5"}, "port"),
        (("--ollama-url", "http://[::1"), {}, "ollama_url"),
        (("--host", "192.0.2.77"), {}, "host"),  # TEST-NET: never an address of this machine
        (("--host", "no-such-host.invalid"), {}, "host"),
    ],
)
def test_bad_settings_stop_start_up_with_one_line(
    tmp_path: Path, args: tuple[str, ...], env: dict[str, str], needle: str
) -> None:
    result = run_headless("--data-dir", str(tmp_path / "d"), *args, env=env)
    assert_one_clear_line(result, needle)


@pytest.mark.parametrize(
    ("stored", "needle"),
    [
        ('{"port": 1e400}', "port"),
        ('{"num_ctx_defaults": {"llama3.2": 1e400}}', "num_ctx_defaults"),
        ('{"cache_ttl": NaN}', "cache_ttl"),
    ],
)
def test_bad_values_in_the_settings_file_name_the_setting(
    tmp_path: Path, stored: str, needle: str
) -> None:
    (tmp_path / "settings.json").write_text(stored)
    assert_one_clear_line(run_headless("--data-dir", str(tmp_path)), needle)


def test_a_data_dir_that_cannot_be_created(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    assert_one_clear_line(run_headless("--data-dir", str(tmp_path / "file" / "d")), "data_dir")


def test_a_token_file_that_is_a_directory(tmp_path: Path) -> None:
    (tmp_path / TOKEN_FILE).mkdir()
    result = run_headless("--data-dir", str(tmp_path), "--require-token")
    assert_one_clear_line(result, "access token file")


def test_a_token_file_that_is_not_utf8(tmp_path: Path) -> None:
    (tmp_path / TOKEN_FILE).write_bytes(b"\xff\xfe" + b"x" * 30)
    result = run_headless("--data-dir", str(tmp_path), "--require-token")
    assert_one_clear_line(result, "not UTF-8")


def test_nan_is_refused_in_every_float_setting() -> None:
    for name in ("cache_ttl", "read_timeout", "connect_timeout", "body_timeout"):
        for bad in ("nan", "inf", "-inf"):
            with pytest.raises(SettingsError, match=name):
                resolve({name: bad, "data_dir": "/tmp/x"}, {})
    with pytest.raises(SettingsError, match="monitor_interval"):
        ProxySettings(monitor_interval=float("nan"))


def test_a_users_token_is_never_replaced(tmp_path: Path) -> None:
    path = tmp_path / TOKEN_FILE
    path.write_text("my-own-token-of-twenty-chars\n")
    path.chmod(0o644)
    assert load_or_create_token(tmp_path) == "my-own-token-of-twenty-chars"
    assert path.read_text() == "my-own-token-of-twenty-chars\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # a looser file is tightened


def test_a_short_token_is_refused_not_replaced(tmp_path: Path) -> None:
    path = tmp_path / TOKEN_FILE
    path.write_text("short\n")
    with pytest.raises(StartupError, match="at least 16"):
        load_or_create_token(tmp_path)
    assert path.read_text() == "short\n"


def test_an_empty_token_file_gets_a_new_private_token(tmp_path: Path) -> None:
    path = tmp_path / TOKEN_FILE
    path.write_text("")
    token = load_or_create_token(tmp_path)
    assert len(token) >= 16 and path.read_text().strip() == token
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.dumps(token)  # printable
