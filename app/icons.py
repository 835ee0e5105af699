"""Icons from the SVG resources, one per tray state; a second instance's get a badge."""

from __future__ import annotations

from functools import cache

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QPainter

from .resource_files import resources_dir
from .tray_state import TrayState

RESOURCES = resources_dir()
BADGE_COLOR = QColor("#7048e8")  # violet: unlike any state colour


@cache
def state_icon(state: TrayState, badge: str | None = None) -> QIcon:
    """The state's icon; with ``badge`` (a second instance's label) its first letter sits
    in a violet square in the top-left corner, so two tray icons are told apart."""
    icon = QIcon(str(RESOURCES / f"tray-{state.value}.svg"))
    if not badge:
        return icon
    pixmap = icon.pixmap(64, 64)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(BADGE_COLOR)
    box = QRectF(0, 0, 30, 30)
    painter.drawRoundedRect(box, 7, 7)
    font = QFont()
    font.setBold(True)
    font.setPixelSize(22)
    painter.setFont(font)
    painter.setPen(QColor("#ffffff"))
    painter.drawText(box, Qt.AlignmentFlag.AlignCenter, badge[:1].upper())
    painter.end()
    return QIcon(pixmap)


@cache
def app_icon() -> QIcon:
    return QIcon(str(RESOURCES / "app.svg"))
