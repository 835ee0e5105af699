from __future__ import annotations

import plistlib
import sys
from pathlib import Path

from PySide6.QtCore import QSettings

from app import autostart


def test_linux_entry_created_and_removed(tmp_path: Path) -> None:
    path = autostart.set_start_at_login(True, tmp_path, platform="linux")
    assert path is not None
    text = path.read_text()
    assert text.startswith("[Desktop Entry]\n") and "Type=Application" in text
    assert f"Exec={sys.executable} -m app" in text
    autostart.set_start_at_login(False, tmp_path, platform="linux")
    assert not path.exists()
    autostart.set_start_at_login(False, tmp_path, platform="linux")  # removing twice is fine


def test_exec_line_quotes_paths_with_spaces() -> None:
    assert "Exec='/opt/my python/bin/python' -m app" in autostart.desktop_entry(
        ["/opt/my python/bin/python", "-m", "app"]
    )


def test_macos_launch_agent(tmp_path: Path) -> None:
    path = autostart.set_start_at_login(True, tmp_path, platform="darwin")
    assert path is not None and path.suffix == ".plist"
    agent = plistlib.loads(path.read_bytes())
    assert agent["ProgramArguments"] == [sys.executable, "-m", "app"]
    assert agent["RunAtLoad"] is True and agent["Label"] in path.name
    autostart.set_start_at_login(False, tmp_path, platform="darwin")
    assert not path.exists()


def test_windows_run_key_value(tmp_path: Path) -> None:
    registry = QSettings(str(tmp_path / "run.ini"), QSettings.Format.IniFormat)
    checkout = ["C:\\Python311\\python.exe", "-m", "app"]
    autostart.set_start_at_login(True, platform="win32", registry=registry, command=checkout)
    value = str(registry.value(autostart.APP_ID))
    assert value == "C:\\Python311\\pythonw.exe -m app"  # no console window
    autostart.set_start_at_login(False, platform="win32", registry=registry)
    assert not registry.contains(autostart.APP_ID)


def test_supported_platforms() -> None:
    assert all(autostart.supported(p) for p in ("linux", "darwin", "win32"))
    assert not autostart.supported("freebsd14")


def test_the_frozen_app_starts_itself(tmp_path: Path) -> None:
    exe = "/opt/Ollama Tray Proxy/ollama-tray-proxy"
    command = autostart.launch_command(frozen=True, executable=exe)
    assert command == [exe]
    path = autostart.set_start_at_login(True, tmp_path, platform="linux", command=command)
    assert path is not None and f"Exec='{exe}'\n" in path.read_text()
    autostart.set_start_at_login(False, tmp_path, platform="linux", command=command)
    assert not path.exists()


def test_an_installed_app_starts_its_entry_point(tmp_path: Path) -> None:
    venv_bin = tmp_path / "pipx" / "venvs" / "ollama-tray-proxy" / "bin"
    venv_bin.mkdir(parents=True)
    python = venv_bin / "python"
    python.touch()
    (venv_bin / "ollama-tray-proxy").touch()
    command = autostart.launch_command(
        frozen=False, package="ollama_tray_proxy_app", executable=str(python)
    )
    assert command == [str(venv_bin / "ollama-tray-proxy")]
    path = autostart.set_start_at_login(True, tmp_path, platform="linux", command=command)
    assert path is not None and f"Exec={venv_bin}/ollama-tray-proxy\n" in path.read_text()
    autostart.set_start_at_login(False, tmp_path, platform="linux", command=command)
    assert not path.exists()
    # no script beside the interpreter: the one on PATH, else the package as a module
    (venv_bin / "ollama-tray-proxy").unlink()
    on_path = autostart.launch_command(
        frozen=False, package="ollama_tray_proxy_app", executable=str(python),
        which=lambda name: f"/home/u/.local/bin/{name}",
    )  # fmt: skip
    assert on_path == ["/home/u/.local/bin/ollama-tray-proxy"]
    bare = autostart.launch_command(
        frozen=False, package="ollama_tray_proxy_app", executable=str(python),
        which=lambda name: None,
    )  # fmt: skip
    assert bare == [str(python), "-m", "ollama_tray_proxy_app"]


def test_a_checkout_runs_the_module() -> None:
    assert autostart.launch_command(frozen=False, package="app") == [sys.executable, "-m", "app"]


def test_windows_keeps_a_windowless_executable(tmp_path: Path) -> None:
    registry = QSettings(str(tmp_path / "run.ini"), QSettings.Format.IniFormat)
    exe = "C:\\Program Files\\Ollama Tray Proxy\\ollama-tray-proxy.exe"
    autostart.set_start_at_login(True, platform="win32", registry=registry, command=[exe])
    assert str(registry.value(autostart.APP_ID)) == f'"{exe}"'
