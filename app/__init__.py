"""The PySide6 tray app. Imports proxy_core; proxy_core never imports this package."""

HEADLESS_FLAG = "--headless"  # `python -m app --headless`: the proxy alone, no Qt
