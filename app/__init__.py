"""The PySide6 tray app. Imports proxy_core; proxy_core never imports this package."""
