"""Where settings come from, highest first: command line > environment
(``OLLAMA_PROXY_*``) > ``settings.json`` in the data dir > defaults; values coerced by
their declared type, and saved back; the README's settings table."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .schema import FIELDS, SPECS, ProxySettings, kind_of
from .spec import ENV_PREFIX, SETTINGS_FILE, SettingsError, default_data_dir


def default_text(name: str) -> str:
    spec = SPECS[name]
    if spec.default_text:
        return spec.default_text
    default = FIELDS[name].default
    if isinstance(default, bool):
        return "on" if default else "off"
    if default == "":
        return "—"
    return f"{default:g}" if isinstance(default, float) else str(default)


def settings_table() -> str:
    """The README's settings table, made from the same specs as the flags and checks."""
    rows = ["| flag | environment | default | meaning |", "|---|---|---|---|"]
    for name, spec in SPECS.items():
        env = ENV_PREFIX + name.upper()
        if spec.flag_value is False:
            env += "=false"
        rows.append(
            f"| {f'`{spec.flag}`' if spec.flag else '—'} | `{env}` | "
            f"`{default_text(name)}` | {spec.help} |"
        )
    return "\n".join(rows) + "\n"


def coerce(name: str, value: Any) -> Any:
    """Turn a raw value (a string from env/CLI, or JSON) into the field's type."""
    if name not in FIELDS:
        raise SettingsError(f"{name}: unknown setting")
    kind = kind_of(name)
    try:
        if kind == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if kind == "int":
            if isinstance(value, bool):
                raise ValueError
            return int(value)
        if kind == "float":
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if kind == "path":
            return Path(str(value)).expanduser()
        if kind == "mapping":  # JSON objects: num_ctx_defaults, models
            parsed = json.loads(value) if isinstance(value, str) else value
            if not isinstance(parsed, dict):
                raise ValueError
            if name == "num_ctx_defaults":
                return {str(k): int(v) for k, v in parsed.items()}
            return {str(k): v for k, v in parsed.items()}  # checked as profiles by validate()
        return str(value).lower() if SPECS[name].choices else str(value)
    except (TypeError, ValueError, OverflowError, json.JSONDecodeError):
        shown = {"path": "Path", "mapping": "Mapping"}.get(kind, kind)
        raise SettingsError(f"{name}: {value!r} is not a valid {shown}") from None


# Settings renamed since a release: their old names are still read (environment, the
# settings file, the tray's store); the new name wins where both are given.
RENAMED = {"idle_timeout": "keepalive_timeout"}


def renamed(values: Mapping[str, Any]) -> dict[str, Any]:
    out = {name: value for name, value in values.items() if name not in RENAMED}
    for old, new in RENAMED.items():
        if old in values and new not in out:
            out[new] = values[old]
    return out


def from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in (*FIELDS, *RENAMED):
        key = ENV_PREFIX + name.upper()
        if key in environ:
            out[name] = environ[key]
    return {name: coerce(name, value) for name, value in renamed(out).items()}


def from_file(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SettingsError(f"settings file {path}: cannot be read ({exc})") from None
    if not isinstance(raw, dict):
        raise SettingsError(f"settings file {path}: must hold a JSON object")
    return {name: coerce(name, value) for name, value in renamed(raw).items()}


def resolve(
    cli: Mapping[str, Any],
    environ: Mapping[str, str] | None = None,
    stored: Mapping[str, Any] | None = None,
) -> ProxySettings:
    """Merge the sources with precedence CLI > env > ``stored`` > file > defaults.

    ``stored`` is the tray app's QSettings (already typed); headless mode has none.
    """
    env = from_env(os.environ if environ is None else environ)
    saved = {k: coerce(k, v) for k, v in renamed(stored or {}).items()}
    data_dir = cli.get("data_dir") or env.get("data_dir") or saved.get("data_dir")
    data_dir = data_dir or default_data_dir()
    merged: dict[str, Any] = {}
    merged.update(from_file(Path(data_dir) / SETTINGS_FILE))
    merged.update(saved)
    merged.update(env)
    merged.update({k: coerce(k, v) for k, v in cli.items() if v is not None})
    merged["data_dir"] = Path(data_dir).expanduser()
    return ProxySettings(**merged)


def save(settings: ProxySettings) -> Path:
    """Write the settings file (the tray app's QSettings mirror it)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = settings.data_dir / SETTINGS_FILE
    data = settings.to_json()
    data.pop("data_dir")
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return path
