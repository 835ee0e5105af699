"""Ollama Tray Proxy core: the headless proxy. Never imports Qt."""

from .errors import PortInUse, ProxyError
from .service import ProxyService
from .settings import ProxySettings, SettingsError

__all__ = ["PortInUse", "ProxyError", "ProxyService", "ProxySettings", "SettingsError"]
__version__ = "0.1.0"
