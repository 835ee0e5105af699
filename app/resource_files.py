"""Where the app's files (icons, the .desktop entry) are, however it was installed. Qt-free."""

from __future__ import annotations

import importlib.resources
import sys
from pathlib import Path


def resources_dir() -> Path:
    """Package data of the installed wheel (``ollama_tray_proxy_app/resources``), the
    frozen app's bundle (PyInstaller puts them in ``_internal/resources``, see
    packaging/ollama-tray-proxy.spec), or the checkout's ``resources/`` next to ``app/``."""
    inside = Path(str(importlib.resources.files(__package__ or "app") / "resources"))
    if inside.is_dir():
        return inside
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen is not None and (Path(frozen) / "resources").is_dir():
        return Path(frozen) / "resources"
    return Path(__file__).resolve().parent.parent / "resources"
