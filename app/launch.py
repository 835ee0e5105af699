"""The tray app's entry point (``ollama-tray-proxy``), Qt-free until it needs Qt.

``--version``, ``--headless`` (the proxy alone: what the frozen app runs on a server) and
``--install-desktop-entry`` / ``--uninstall-desktop-entry`` (Linux menus, desktop_entry.py)
work without the ``gui`` extra, and a missing Qt is a sentence saying what to install,
not a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from proxy_core import PROG, __version__

from . import HEADLESS_FLAG

SELF_CHECK_FLAG = "--self-check"  # is this install whole? (packaging tests, troubleshooting)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if "--version" in args:
        print(f"{PROG} {__version__}")
        return 0
    if "--install-desktop-entry" in args or "--uninstall-desktop-entry" in args:
        from . import desktop_entry

        if "--install-desktop-entry" in args:
            done, verb = desktop_entry.install(), "installed"
        else:
            done, verb = desktop_entry.uninstall(), "removed"
        for path in done:
            print(f"{verb} {path}")
        return 0
    if HEADLESS_FLAG in args:
        from proxy_core import run_headless as headless

        args.remove(HEADLESS_FLAG)
        return headless(args)
    try:
        import PySide6  # noqa: F401
        import qasync  # noqa: F401
    except ImportError as exc:
        print(
            f"{PROG}: the tray app needs Qt, which is not installed ({exc.name}).\n"
            "  install it:              pip install 'ollama-tray-proxy[gui]'\n"
            f"  or run the proxy alone:  ollama-tray-proxy-headless (or {PROG} --headless)",
            file=sys.stderr,
        )
        return 3
    if SELF_CHECK_FLAG in args:
        return self_check()
    from .main import main as tray

    return tray(args)


def self_check() -> int:
    """Print what this install has (version, frozen or not, where the icons are, whether
    each one loads) as JSON; exit 1 if an icon is missing. Runs offscreen without a display."""
    import json
    import os

    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6 import __version__ as qt_version
    from PySide6.QtGui import QGuiApplication

    from .icons import RESOURCES, app_icon, state_icon
    from .tray_state import TrayState

    application = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    icons = {"app": not app_icon().pixmap(32, 32).isNull()}
    for state in TrayState:
        icons[state.value] = not state_icon(state).pixmap(32, 32).isNull()
    report = {
        "version": __version__,
        "frozen": bool(getattr(sys, "frozen", False)),
        "package": __package__,
        "qt": qt_version,
        "resources": str(RESOURCES),
        "icons": icons,
    }
    print(json.dumps(report, indent=2))
    del application
    return 0 if all(icons.values()) else 1
