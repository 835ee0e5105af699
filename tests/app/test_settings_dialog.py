"""The settings dialog validates with the same rules as headless mode."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot

from app.settings_dialog import SettingsDialog
from proxy_core.settings import ProxySettings


def dialog(qtbot: QtBot, tmp_path: Path) -> SettingsDialog:
    d = SettingsDialog(ProxySettings(data_dir=tmp_path), start_at_login=False)
    qtbot.addWidget(d)
    return d


def test_fields_show_current_values_and_round_trip(qtbot: QtBot, tmp_path: Path) -> None:
    d = dialog(qtbot, tmp_path)
    assert d.port.value() == 11435 and d.cache_enabled.isChecked()
    assert d.cache_size.value() == 1024  # MiB
    d.cache_ttl.setValue(60)
    d.log_level.setCurrentText("debug")
    d.accept()
    assert d.result() == d.DialogCode.Accepted
    assert d.accepted_settings == ProxySettings(
        data_dir=tmp_path, cache_ttl=60.0, log_level="debug"
    )


def test_invalid_values_keep_the_dialog_open_with_a_clear_message(
    qtbot: QtBot, tmp_path: Path
) -> None:
    d = dialog(qtbot, tmp_path)
    d.show()
    d.ollama_url.setText("localhost:11434")
    d.accept()
    assert d.isVisible() and d.accepted_settings is None
    assert "ollama_url" in d.error.text() and "http(s) URL" in d.error.text()
    d.ollama_url.setText("http://127.0.0.1:11434")
    d.cache_ttl.setValue(0)
    d.accept()
    assert "cache_ttl" in d.error.text()
    d.cache_ttl.setValue(300)
    d.data_dir.setText("  ")
    d.accept()
    assert "data_dir" in d.error.text()
    d.data_dir.setText(str(tmp_path))
    d.accept()
    assert not d.isVisible() and d.accepted_settings is not None


def test_security_fields(qtbot: QtBot, tmp_path: Path) -> None:
    d = SettingsDialog(ProxySettings(data_dir=tmp_path), False, access_token="tok-0123456789abcdef")
    qtbot.addWidget(d)
    assert d.token.text() == "tok-0123456789abcdef" and d.token.isReadOnly()
    assert d.token.echoMode() == d.token.EchoMode.Password  # not shown until asked
    d.require_token.setChecked(True)
    d.allowed_origins.setText("chrome-extension://abc*")
    d.allow_model_management.setChecked(True)
    d.accept()
    new = d.accepted_settings
    assert new is not None and new.require_token and new.allow_model_management
    assert new.allowed_origins == "chrome-extension://abc*"
