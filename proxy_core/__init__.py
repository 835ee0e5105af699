"""Ollama Tray Proxy core: the headless proxy. Never imports Qt.

This top level is the whole surface the tray app (``app/``) may use: the service and its
settings, the events and records it hands out, and the pure helpers that turn them into
figures. A test (tests/test_layers.py) holds ``app/`` to these names.
"""

from .cache.keys import normalize_model
from .cli import PROG, build_parser, settings_from_args
from .cli import main as run_headless
from .clients import name_of
from .collector import tune_for_serving
from .errors import PortInUse, ProxyError, StartupError
from .events import ContextTruncated
from .observe.hardware import HardwareSample
from .observe.histogram import percentile
from .observe.model_stats import ModelFigures, model_figures
from .observe.ollama_status import OllamaStatus
from .observe.rates import DashboardFigures, compare, format_seconds
from .observe.recorder import MetricsSnapshot
from .observe.requests_log import RequestRecord
from .observe.specs import (
    CPU,
    GB,
    NETWORK,
    RAM,
    STORAGE,
    Assessment,
    ItemVerdict,
    Requirement,
    Verdict,
)
from .service import ProxyService
from .settings import (
    FIELDS,
    LOG_LEVELS,
    SPECS,
    ProxySettings,
    SettingsError,
    Spec,
    default_data_dir,
    kind_of,
)
from .tools import Action
from .tools.audit import AuditEntry
from .tools.engine import Answer
from .version import __version__

__all__ = [
    # the service and its settings
    "ProxyService",
    "ProxySettings",
    "tune_for_serving",
    "SettingsError",
    "Spec",
    "SPECS",
    "FIELDS",
    "LOG_LEVELS",
    "kind_of",
    "default_data_dir",
    "__version__",
    # the command line (the tray app reads the same flags)
    "PROG",
    "build_parser",
    "settings_from_args",
    "run_headless",
    # errors at start-up
    "PortInUse",
    "ProxyError",
    "StartupError",
    # what the service hands out
    "ContextTruncated",
    "MetricsSnapshot",
    "RequestRecord",
    "OllamaStatus",
    "HardwareSample",
    "AuditEntry",
    "Action",
    "Answer",
    # pure helpers that turn those into figures
    "normalize_model",
    "name_of",
    "percentile",
    "DashboardFigures",
    "compare",
    "format_seconds",
    "ModelFigures",
    "model_figures",
    "Assessment",
    "ItemVerdict",
    "Requirement",
    "Verdict",
    "CPU",
    "GB",
    "NETWORK",
    "RAM",
    "STORAGE",
]
