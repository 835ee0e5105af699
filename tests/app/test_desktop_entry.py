"""The Linux menu entry and icons, installed per XDG and removed again."""

from __future__ import annotations

import configparser
from pathlib import Path

import pytest

from app import desktop_entry
from app.launch import main


@pytest.mark.parametrize(
    "command",
    [
        ["/opt/Ollama Tray Proxy/ollama-tray-proxy"],  # frozen
        ["/home/u/.local/bin/ollama-tray-proxy"],  # pipx / pip
    ],
)
def test_installed_and_removed(tmp_path: Path, command: list[str]) -> None:
    written = desktop_entry.install(tmp_path, command)
    entry = tmp_path / "applications" / "ollama-tray-proxy.desktop"
    assert entry in written and all(path.is_file() for path in written)
    parsed = configparser.ConfigParser(interpolation=None)
    parsed.read_string(entry.read_text())
    section = parsed["Desktop Entry"]
    assert section["Type"] == "Application" and section["Icon"] == "ollama-tray-proxy"
    assert section["Exec"] == desktop_entry.shlex.join(command)
    svg = tmp_path / "icons" / "hicolor" / "scalable" / "apps" / "ollama-tray-proxy.svg"
    assert svg.read_text().startswith("<svg")
    png = tmp_path / "icons" / "hicolor" / "256x256" / "apps" / "ollama-tray-proxy.png"
    assert png.read_bytes().startswith(b"\x89PNG")
    assert set(desktop_entry.uninstall(tmp_path)) == set(written)
    assert not any(path.exists() for path in written)


def test_the_launcher_flag_uses_xdg_data_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert main(["--install-desktop-entry"]) == 0
    assert (tmp_path / "applications" / "ollama-tray-proxy.desktop").is_file()
    assert "installed" in capsys.readouterr().out
    assert main(["--uninstall-desktop-entry"]) == 0
    assert not (tmp_path / "applications" / "ollama-tray-proxy.desktop").exists()
