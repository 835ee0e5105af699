"""A field for any setting, made from its one description (proxy_core's Spec and the
field's type): the settings dialog builds its "More" tab from these, so every setting can
be changed in the tray, with the ranges, choices and units the proxy itself checks.

Each field is a widget and a reader; a reader returns the value to hand to
``ProxySettings`` or raises SettingsError naming the setting (a JSON field that is not
JSON, say), which the dialog shows next to the field."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QLineEdit, QSpinBox, QWidget

from proxy_core import SPECS, SettingsError, Spec, kind_of

# What a scope is called in the dialog (Spec.scope), in the order the groups appear.
GROUPS = {
    "engines": "Engines",
    "listen": "Listening",
    "access": "Access",
    "cache": "Cache",
    "cache_store": "Cache",
    "profiles": "Model profiles",
    "tools": "Agent tools",
    "inspector": "Inspector",
    "live": "Requests",
    "restart": "At the next start",
}
_INT_LIMIT = 2**31 - 1  # QSpinBox's range


@dataclasses.dataclass(frozen=True)
class Field:
    name: str
    label: str
    widget: QWidget
    read: Callable[[], Any]


_WORDS = {"openai": "OpenAI", "api": "API", "url": "URL", "ctx": "context"}


def label_of(name: str) -> str:
    """``max_line_bytes`` as "Max line bytes", ``openai_api_key`` as "OpenAI API key"."""
    words = [_WORDS.get(word, word) for word in name.split("_")]
    return " ".join([words[0][:1].upper() + words[0][1:], *words[1:]])


def field_for(name: str, value: Any) -> Field:
    """The widget for setting ``name`` showing ``value``, by its declared type."""
    spec = SPECS[name]
    kind = kind_of(name)
    label = label_of(name)
    if kind == "bool":
        box = QCheckBox()
        box.setChecked(bool(value))
        return Field(name, label, box, box.isChecked)
    if spec.choices:
        combo = QComboBox()
        combo.addItems(list(spec.choices))
        combo.setCurrentText(str(value))
        return Field(name, label, combo, combo.currentText)
    if kind == "int":
        return Field(name, label, *_int_box(spec, int(value)))
    if kind == "float":
        return Field(name, label, *_float_box(spec, float(value)))
    if kind == "mapping":
        return Field(name, label, *_json_line(name, value))
    return Field(name, label, *_text_line(spec, kind, value))


def _int_box(spec: Spec, value: int) -> tuple[QWidget, Callable[[], Any]]:
    box = QSpinBox()
    low = 1 if spec.positive else spec.minimum if spec.minimum is not None else 0
    high = spec.maximum if spec.maximum is not None else _INT_LIMIT
    box.setRange(int(low), int(min(high, _INT_LIMIT)))
    box.setValue(min(value, _INT_LIMIT))
    if spec.unit:
        box.setSuffix(f" {spec.unit}")
    return box, box.value


def _float_box(spec: Spec, value: float) -> tuple[QWidget, Callable[[], Any]]:
    box = QDoubleSpinBox()
    box.setDecimals(3)
    low = 0.001 if spec.positive else spec.minimum if spec.minimum is not None else 0.0
    box.setRange(float(low), float(spec.maximum if spec.maximum is not None else 1e9))
    box.setValue(value)
    if spec.unit:
        box.setSuffix(f" {spec.unit}")
    return box, box.value


def _json_line(name: str, value: Any) -> tuple[QWidget, Callable[[], Any]]:
    line = QLineEdit(json.dumps(dict(value)) if value else "")
    line.setPlaceholderText("{} (JSON)")

    def read() -> Any:
        text = line.text().strip()
        try:
            parsed = json.loads(text) if text else {}
        except json.JSONDecodeError as exc:
            raise SettingsError(f"{name}: is not valid JSON ({exc.msg})") from None
        if not isinstance(parsed, dict):
            raise SettingsError(f"{name}: must be a JSON object")
        return parsed

    return line, read


def _text_line(spec: Spec, kind: str, value: Any) -> tuple[QWidget, Callable[[], Any]]:
    line = QLineEdit("" if value is None else str(value))
    if spec.secret:
        line.setEchoMode(QLineEdit.EchoMode.Password)
    if spec.default_text and not spec.secret:
        line.setPlaceholderText(spec.default_text)
    if kind == "path":
        return line, lambda: Path(line.text().strip()).expanduser()
    return line, lambda: line.text().strip()
