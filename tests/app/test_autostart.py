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
    autostart.set_start_at_login(True, platform="win32", registry=registry)
    value = str(registry.value(autostart.APP_ID))
    assert "pythonw.exe" in value and value.endswith(" -m app")
    autostart.set_start_at_login(False, platform="win32", registry=registry)
    assert not registry.contains(autostart.APP_ID)


def test_supported_platforms() -> None:
    assert all(autostart.supported(p) for p in ("linux", "darwin", "win32"))
    assert not autostart.supported("freebsd14")
