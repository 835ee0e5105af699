"""Icons from resources/*.svg, one per tray state."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from PySide6.QtGui import QIcon

from .presenter import TrayState

RESOURCES = Path(__file__).resolve().parent.parent / "resources"


@cache
def state_icon(state: TrayState) -> QIcon:
    return QIcon(str(RESOURCES / f"tray-{state.value}.svg"))


@cache
def app_icon() -> QIcon:
    return QIcon(str(RESOURCES / "app.svg"))
