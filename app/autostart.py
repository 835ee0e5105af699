"""Start at login: an XDG autostart entry on Linux (the desktop this app targets first).

Other platforms report ``supported() == False`` and the settings dialog greys the box out.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

ENTRY_NAME = "ollama-tray-proxy.desktop"


def supported() -> bool:
    return sys.platform.startswith("linux")


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


def set_start_at_login(enabled: bool, directory: Path | None = None) -> Path:
    """Create or remove the autostart entry; returns its path."""
    path = (directory or autostart_dir()) / ENTRY_NAME
    if enabled:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(desktop_entry([sys.executable, "-m", "app"]), encoding="utf-8")
    else:
        path.unlink(missing_ok=True)
    return path
