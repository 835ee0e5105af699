"""Install the app into the Linux desktop's menu, per the XDG specs: a ``.desktop`` file in
``$XDG_DATA_HOME/applications`` and its icon in the ``hicolor`` theme (scalable SVG and
a 256-pixel PNG). ``ollama-tray-proxy --install-desktop-entry`` (and ``--uninstall-…``);
``Exec`` is the command this install starts with (autostart.launch_command). Qt-free."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

from .autostart import APP_ID, ENTRY_NAME, launch_command
from .resource_files import resources_dir


def data_home() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")


def targets(base: Path) -> dict[str, Path]:
    icons = base / "icons" / "hicolor"
    return {
        "entry": base / "applications" / ENTRY_NAME,
        "svg": icons / "scalable" / "apps" / f"{APP_ID}.svg",
        "png": icons / "256x256" / "apps" / f"{APP_ID}.png",
    }


def entry_text(command: list[str]) -> str:
    """The shipped .desktop file with ``Exec`` set to this install's command."""
    template = (resources_dir() / ENTRY_NAME).read_text(encoding="utf-8")
    return "".join(
        f"Exec={shlex.join(command)}\n" if line.startswith("Exec=") else line
        for line in template.splitlines(keepends=True)
    )


def install(base: Path | None = None, command: list[str] | None = None) -> list[Path]:
    paths = targets(base or data_home())
    resources = resources_dir()
    for path in paths.values():
        path.parent.mkdir(parents=True, exist_ok=True)
    paths["entry"].write_text(entry_text(command or launch_command()), encoding="utf-8")
    paths["svg"].write_bytes((resources / "app.svg").read_bytes())
    paths["png"].write_bytes((resources / "app-256.png").read_bytes())
    return list(paths.values())


def uninstall(base: Path | None = None) -> list[Path]:
    removed = []
    for path in targets(base or data_home()).values():
        if path.exists():
            path.unlink()
            removed.append(path)
    return removed
