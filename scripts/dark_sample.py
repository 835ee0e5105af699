"""The dashboard with sample data under a dark palette, rendered offscreen (for the README;
run by scripts/screenshots.sh). ``python -m scripts.dark_sample OUT.png``."""

from __future__ import annotations

import os
import sys

os.environ["QT_QPA_PLATFORM"] = "offscreen"

from PySide6.QtGui import QColor, QPalette  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from app.dashboard import DashboardWindow  # noqa: E402
from app.presenter import DashboardPresenter  # noqa: E402
from tests.app.samples import Source  # noqa: E402

DARK = {
    QPalette.ColorRole.Window: "#202124",
    QPalette.ColorRole.WindowText: "#e8eaed",
    QPalette.ColorRole.Base: "#17181a",
    QPalette.ColorRole.AlternateBase: "#26272b",
    QPalette.ColorRole.Text: "#e8eaed",
    QPalette.ColorRole.Button: "#2d2e31",
    QPalette.ColorRole.ButtonText: "#e8eaed",
    QPalette.ColorRole.Highlight: "#4dabf7",
}


def main() -> None:
    app = QApplication(sys.argv[:1])
    palette = QPalette()
    for role, colour in DARK.items():
        palette.setColor(role, QColor(colour))
    app.setPalette(palette)
    window = DashboardWindow(Source(), DashboardPresenter("http://127.0.0.1:11434"))
    window.fit_to_screen(window.size())  # the preferred size: the offscreen screen is small
    window._fitted = True
    window.show()
    for _ in range(12):
        window.refresh()
    app.processEvents()
    window.grab().save(sys.argv[1])


if __name__ == "__main__":
    main()
