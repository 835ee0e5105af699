"""The settings dialog validates with the same rules as headless mode."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from app.settings_dialog import SettingsDialog, ask_all, ask_ollama, ollama_url
from proxy_core.settings import ProxySettings
from tests.conftest import Sim
from tests.fakes.ollama_sim import VERSION


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


def test_errors_are_next_to_the_field_in_words(qtbot: QtBot, tmp_path: Path) -> None:
    d = dialog(qtbot, tmp_path)
    d.show()
    d.ollama_url.setText("http://[::1")
    d.accept()
    assert d.isVisible() and d.accepted_settings is None
    shown = d.field_errors["ollama_url"]
    assert shown.isVisible() and shown.text().startswith("The Ollama URL 'http://[::1'")
    assert "http(s) URL" in shown.text() and "ollama_url" not in shown.text()
    d.ollama_url.setText("http://127.0.0.1:11434")
    d.data_dir.setText("  ")
    d.accept()
    assert not d.field_errors["ollama_url"].isVisible()
    assert d.field_errors["data_dir"].text() == (
        "The data folder cannot be empty; choose a folder for the cache"
    )
    d.data_dir.setText(str(tmp_path))
    d.accept()
    assert not d.isVisible() and d.accepted_settings is not None


def test_ranges_match_validation_and_urls_are_forgiven(qtbot: QtBot, tmp_path: Path) -> None:
    d = dialog(qtbot, tmp_path)
    d.cache_ttl.setValue(0)
    d.cache_size.setValue(0)
    assert d.cache_ttl.value() == 1 and d.cache_size.value() == 1  # never "-0 s" or 0 MiB
    for typed, meant in (
        ("localhost:11434", "http://localhost:11434"),
        ("http://gpu-box:11434/api/", "http://gpu-box:11434"),
        ("  https://ollama.example.com/  ", "https://ollama.example.com"),
    ):
        d.ollama_url.setText(typed)
        assert ollama_url(d.ollama_url.text()) == meant
        d.accept()
        assert d.accepted_settings is not None and d.accepted_settings.ollama_url == meant
    assert "docs/" not in "".join(label.text() for label in d.findChildren(QLabel))


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


async def test_test_connection_says_what_answers(sim: Sim) -> None:
    assert await ask_ollama(sim.url) == f"Ollama {VERSION} answers at {sim.url}."
    gone = await ask_ollama("http://127.0.0.1:9")
    assert gone.startswith("Ollama is not answering at http://127.0.0.1:9")


def test_several_ollama_urls_are_each_normalised() -> None:
    from app.settings_dialog import ollama_url

    assert ollama_url("localhost:11434, http://gpu-box:11434/api/") == (
        "http://localhost:11434, http://gpu-box:11434"
    )


def test_openai_servers_and_the_shared_cache_are_settings_too(qtbot: QtBot, tmp_path: Path) -> None:
    d = dialog(qtbot, tmp_path)
    d.show()
    d.cache_url.setText("memcached://x")
    d.accept()
    assert d.field_errors["cache_url"].text().startswith("The shared cache URL 'memcached://x'")
    d.cache_url.setText("redis://127.0.0.1:6379/0")
    d.openai_upstreams.setText("llamacpp=http://127.0.0.1:8080")
    d.accept()
    assert d.accepted_settings is not None
    assert d.accepted_settings.openai_servers == (("llamacpp", "http://127.0.0.1:8080"),)
    assert d.accepted_settings.cache_url == "redis://127.0.0.1:6379/0"


async def test_test_connection_asks_every_host(sim: Sim) -> None:
    lines = (await ask_all([sim.url, "http://127.0.0.1:9"])).splitlines()
    assert lines[0] == f"Ollama {VERSION} answers at {sim.url}."
    assert lines[1].startswith("Ollama is not answering at http://127.0.0.1:9")


def test_every_setting_can_be_changed_in_the_tray(qtbot: QtBot, tmp_path: Path) -> None:
    """The General tab lays out the common ones by hand; every other setting is on the
    More tab, made from its Spec (settings_fields.py): none is left out."""
    from app.settings_dialog import HAND_MADE
    from proxy_core.settings import SPECS

    d = dialog(qtbot, tmp_path)
    assert {f.name for f in d.more} | HAND_MADE == set(SPECS)
    assert set(d.values()) | {"access_token"} == set(SPECS)


def test_a_generated_field_round_trips_with_the_specs_range(qtbot: QtBot, tmp_path: Path) -> None:
    from PySide6.QtWidgets import QLineEdit, QSpinBox

    d = dialog(qtbot, tmp_path)
    fields = {f.name: f for f in d.more}
    parallel = fields["default_num_parallel"].widget
    assert isinstance(parallel, QSpinBox) and parallel.minimum() == 1  # Spec: minimum 1
    parallel.setValue(2)
    models = fields["models"].widget
    assert isinstance(models, QLineEdit)
    models.setText('{"llama3.2": {"num_ctx": 8192}}')
    engines = fields["engines"].widget
    assert isinstance(engines, QLineEdit)
    engines.setText("openai:lm=http://127.0.0.1:1234")
    d.accept()
    assert d.accepted_settings is not None
    assert d.accepted_settings.default_num_parallel == 2
    assert d.accepted_settings.models == {"llama3.2": {"num_ctx": 8192}}
    assert d.accepted_settings.engines == "openai:lm=http://127.0.0.1:1234"


def test_a_bad_generated_value_is_told_next_to_its_field(qtbot: QtBot, tmp_path: Path) -> None:
    from PySide6.QtWidgets import QLineEdit

    d = dialog(qtbot, tmp_path)
    d.show()
    fields = {f.name: f for f in d.more}
    models = fields["models"].widget
    assert isinstance(models, QLineEdit)
    models.setText("{not json")
    d.accept()
    assert d.accepted_settings is None
    assert d.field_errors["models"].isVisible()
    assert "is not valid JSON" in d.field_errors["models"].text()
    engines = fields["engines"].widget
    assert isinstance(engines, QLineEdit)
    models.setText("")
    engines.setText("llamacpp:http://x:1")
    d.accept()
    assert d.accepted_settings is None
    assert "start with the engine's kind" in d.field_errors["engines"].text()
