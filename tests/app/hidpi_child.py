"""Run by test_dashboard in a child process: QT_SCALE_FACTOR must be set before Qt starts.

Prints the dashboard's size in physical pixels on the screen the environment describes.
"""

from __future__ import annotations

import sys

from PySide6.QtWidgets import QApplication

from app.dashboard import DashboardWindow
from app.presenter import DashboardPresenter
from tests.app.samples import Source


def main() -> None:
    app = QApplication(sys.argv[:1])
    window = DashboardWindow(Source(), DashboardPresenter("http://127.0.0.1:11434"))
    window.show()
    window.refresh()
    app.processEvents()
    image = window.grab()
    if len(sys.argv) > 1:
        image.save(sys.argv[1])
    print(image.width(), image.height(), window.devicePixelRatio())


if __name__ == "__main__":
    main()
