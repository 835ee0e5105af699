"""One settings model for headless mode and the tray app (schema.py), described once per
setting (spec.py), read from the command line, the environment, ``settings.json`` and
the defaults (sources.py). The names the rest of the proxy uses are here."""

from .checks import validate
from .schema import (
    FIELDS,
    SCOPES,
    SECRET_SETTINGS,
    SPECS,
    URL_SETTINGS,
    ProxySettings,
    changed_scopes,
    kind_of,
)
from .sources import coerce, default_text, from_env, from_file, resolve, save, settings_table
from .spec import (
    ENV_PREFIX,
    LOG_LEVELS,
    NO_OLLAMA,
    SETTINGS_FILE,
    CachePolicy,
    SettingsError,
    Spec,
    default_data_dir,
    setting,
    split_urls,
)

__all__ = [
    "ENV_PREFIX",
    "FIELDS",
    "LOG_LEVELS",
    "NO_OLLAMA",
    "SCOPES",
    "SECRET_SETTINGS",
    "SETTINGS_FILE",
    "SPECS",
    "URL_SETTINGS",
    "CachePolicy",
    "ProxySettings",
    "SettingsError",
    "Spec",
    "changed_scopes",
    "coerce",
    "default_data_dir",
    "default_text",
    "kind_of",
    "from_env",
    "from_file",
    "resolve",
    "save",
    "setting",
    "settings_table",
    "split_urls",
    "validate",
]
