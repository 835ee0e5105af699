"""Start at login, the way each desktop expects it.

- Linux: an XDG autostart entry in ``~/.config/autostart``.
- macOS: a LaunchAgent property list in ``~/Library/LaunchAgents`` (``RunAtLoad``).
- Windows: a value under ``HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run``,
  written through QSettings' native registry format.

Each is written from the platform's documented format and its content is tested; none
was tried at a real login here.
"""

from __future__ import annotations

import os
import plistlib
import shlex
import shutil
import subprocess
import sys
from pathlib import Path, PureWindowsPath
from typing import Any

APP_ID = "ollama-tray-proxy"
ENTRY_NAME = f"{APP_ID}.desktop"
LAUNCH_AGENT = "io.github.ollama-tray-proxy.plist"
WINDOWS_RUN_KEY = "HKEY_CURRENT_USER\\Software\\Microsoft\\Windows\\CurrentVersion\\Run"


def supported(platform: str = sys.platform) -> bool:
    return platform.startswith(("linux", "darwin", "win32"))


INSTALLED_PACKAGE = "ollama_tray_proxy_app"  # app/ as the wheel installs it (pyproject)
ENTRY_POINT = "ollama-tray-proxy"


def launch_command(
    *,
    frozen: bool | None = None,
    package: str | None = None,
    executable: str = sys.executable,
    which: Any = shutil.which,
) -> list[str]:
    """How to start this app at login, the way it was installed:

    - frozen (PyInstaller): the bundle's own executable;
    - installed from the wheel: its ``ollama-tray-proxy`` entry point (beside the
      interpreter in a venv or pipx, else on PATH), or ``-m ollama_tray_proxy_app``;
    - a checkout: ``python -m app`` from the checkout's interpreter.
    """
    if frozen is None:
        frozen = bool(getattr(sys, "frozen", False))
    if frozen:
        return [executable]
    if (package if package is not None else __package__) == INSTALLED_PACKAGE:
        folder = Path(executable).parent
        for name in (ENTRY_POINT, f"{ENTRY_POINT}.exe"):
            if (folder / name).is_file():
                return [str(folder / name)]
        found = which(ENTRY_POINT)
        return [found] if found else [executable, "-m", INSTALLED_PACKAGE]
    return [executable, "-m", "app"]


def autostart_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "autostart"


def desktop_entry(command: list[str]) -> str:
    return (
        "[Desktop Entry]\n"
        "Type=Application\n"
        "Name=Ollama Tray Proxy\n"
        "Comment=Local proxy in front of Ollama for IDE plugins\n"
        f"Exec={shlex.join(command)}\n"
        "Icon=ollama-tray-proxy\n"
        "Terminal=false\n"
        "X-GNOME-Autostart-enabled=true\n"
    )


def launch_agent(command: list[str]) -> bytes:
    return plistlib.dumps(
        {
            "Label": LAUNCH_AGENT.removesuffix(".plist"),
            "ProgramArguments": command,
            "RunAtLoad": True,
            "ProcessType": "Interactive",
        }
    )


def windows_command(command: list[str]) -> str:
    # pythonw.exe beside python.exe starts without a console window; the frozen app and
    # the gui-script entry point are windowless already.
    exe = PureWindowsPath(command[0])
    if exe.name.lower() == "python.exe":
        exe = exe.with_name("pythonw.exe")
    return subprocess.list2cmdline([str(exe), *command[1:]])


def set_start_at_login(
    enabled: bool,
    directory: Path | None = None,
    *,
    platform: str = sys.platform,
    registry: Any = None,
    command: list[str] | None = None,
) -> Path | None:
    """Create or remove the entry; returns the file written on Linux and macOS.

    ``directory``, ``registry`` (a QSettings-like object) and ``command`` are for tests.
    """
    command = command or launch_command()
    if platform.startswith("win32"):
        if registry is None:
            from PySide6.QtCore import QSettings

            registry = QSettings(WINDOWS_RUN_KEY, QSettings.Format.NativeFormat)
        if enabled:
            registry.setValue(APP_ID, windows_command(command))
        else:
            registry.remove(APP_ID)
        registry.sync()
        return None
    if platform.startswith("darwin"):
        path = (directory or Path.home() / "Library" / "LaunchAgents") / LAUNCH_AGENT
        content = launch_agent(command)
    else:
        path = (directory or autostart_dir()) / ENTRY_NAME
        content = desktop_entry(command).encode()
    if enabled:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    else:
        path.unlink(missing_ok=True)
    return path
