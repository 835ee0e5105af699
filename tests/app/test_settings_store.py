"""QSettings round trip with explicit types; only changes are written."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

from app.settings_store import SettingsStore
from proxy_core.cli import build_parser, settings_from_args
from proxy_core.settings import ProxySettings


def store(tmp_path: Path) -> SettingsStore:
    return SettingsStore(QSettings(str(tmp_path / "tray.ini"), QSettings.Format.IniFormat))


def test_round_trip_keeps_types(tmp_path: Path) -> None:
    before = ProxySettings(data_dir=tmp_path / "data")
    after = before.replace(
        port=11500,
        cache_enabled=False,
        cache_ttl=42.5,
        cache_policy="all",
        num_ctx_defaults={"llama3.2": 16384},
        data_dir=tmp_path / "elsewhere",
    )
    changed = store(tmp_path).save_changes(before, after)
    assert set(changed) == {
        "port",
        "cache_enabled",
        "cache_ttl",
        "cache_policy",
        "num_ctx_defaults",
        "data_dir",
    }
    loaded = store(tmp_path).load()  # a fresh QSettings reads the INI file back
    assert loaded["port"] == 11500 and type(loaded["port"]) is int
    assert loaded["cache_enabled"] is False
    assert loaded["cache_ttl"] == 42.5 and type(loaded["cache_ttl"]) is float
    assert loaded["num_ctx_defaults"] == {"llama3.2": 16384}
    assert loaded["data_dir"] == tmp_path / "elsewhere"
    assert "host" not in loaded  # never changed, never stored


def test_command_line_beats_stored_and_is_not_persisted(tmp_path: Path) -> None:
    s = store(tmp_path)
    base = ProxySettings(data_dir=tmp_path)
    s.save_changes(base, base.replace(port=11500, cache_policy="all"))
    args = build_parser().parse_args(["--port", "9999", "--data-dir", str(tmp_path)])
    effective = settings_from_args(args, stored=s.load())
    assert effective.port == 9999 and effective.cache_policy == "all"
    # The user toggles caching: only that is written; the one-run port stays unstored.
    s.save_changes(effective, effective.replace(cache_enabled=False))
    assert s.load()["port"] == 11500


def test_start_at_login_flag(tmp_path: Path) -> None:
    s = store(tmp_path)
    assert s.start_at_login is False
    s.start_at_login = True
    assert store(tmp_path).start_at_login is True
