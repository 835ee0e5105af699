"""Ollama Tray Proxy core: the headless proxy. Never imports Qt."""

__version__ = "0.9.0"  # the one place; before the imports: service.py reads it

from .errors import PortInUse, ProxyError
from .service import ProxyService
from .settings import ProxySettings, SettingsError

__all__ = ["PortInUse", "ProxyError", "ProxyService", "ProxySettings", "SettingsError"]
