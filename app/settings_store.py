"""The tray app's settings in ``QSettings``, read back with explicit types.

The values are :class:`proxy_core.ProxySettings` fields (the same model as headless mode)
plus a few that only the desktop app has (start at login). Only what the user changed is
written, so a command-line override used for one run is never persisted by accident.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings

from proxy_core import FIELDS, ProxySettings, kind_of

ORGANIZATION = "OllamaTrayProxy"
APPLICATION = "ollama-tray-proxy"
PROXY_GROUP = "proxy"
START_AT_LOGIN = "app/start_at_login"

# QSettings hands back strings from INI files unless asked for a type; ask explicitly.
_QT_TYPES: dict[str, type] = {"bool": bool, "int": int, "float": float, "str": str}


class SettingsStore:
    def __init__(self, qsettings: QSettings | None = None) -> None:
        self.q = qsettings if qsettings is not None else QSettings(ORGANIZATION, APPLICATION)

    def load(self) -> dict[str, Any]:
        """Stored proxy settings, typed; fields never stored are absent."""
        out: dict[str, Any] = {}
        self.q.beginGroup(PROXY_GROUP)
        try:
            for name in FIELDS:
                if not self.q.contains(name):
                    continue
                kind = kind_of(name)
                if kind == "mapping":  # stored as JSON text
                    out[name] = json.loads(str(self.q.value(name, "{}", type=str)))
                elif kind == "path":
                    out[name] = Path(str(self.q.value(name, "", type=str)))
                else:
                    out[name] = self.q.value(name, type=_QT_TYPES.get(kind, str))
        finally:
            self.q.endGroup()
        return out

    def save_changes(self, before: ProxySettings, after: ProxySettings) -> list[str]:
        """Write the fields that differ; returns their names."""
        old, new = before.to_json(), after.to_json()
        changed = [name for name in FIELDS if old[name] != new[name]]
        self.q.beginGroup(PROXY_GROUP)
        try:
            for name in changed:
                value = new[name]
                if kind_of(name) == "mapping":
                    value = json.dumps(value, sort_keys=True)
                self.q.setValue(name, value)
        finally:
            self.q.endGroup()
        self.q.sync()
        return changed

    @property
    def start_at_login(self) -> bool:
        return bool(self.q.value(START_AT_LOGIN, False, type=bool))

    @start_at_login.setter
    def start_at_login(self, value: bool) -> None:
        self.q.setValue(START_AT_LOGIN, value)
        self.q.sync()
