"""Ollama Tray Proxy core: the headless proxy. Never imports Qt."""

from .errors import PortInUse, ProxyError
from .service import ProxyService
from .settings import ProxySettings, SettingsError
from .version import __version__

__all__ = [
    "__version__",
    "PortInUse",
    "ProxyError",
    "ProxyService",
    "ProxySettings",
    "SettingsError",
]
