"""Model profiles: the serving policy the proxy owns per model (the ``models`` setting).

A profile sets ``num_ctx`` and ``keep_alive`` for generations of a model, in one of two
modes: ``default`` fills in only what a request leaves unset; ``enforce`` always uses the
profile's values, so clients that disagree cannot make Ollama reload the model. It also
sets how many generations of the model go to Ollama at once (``num_parallel``, see
``lanes.py``), the lane its requests take when they do not say (``priority``), and
whether ``/api/show`` reports the profile's context instead of the architecture's
maximum (``honest_show``, on when ``num_ctx`` is set).

Names are normalised like the metric labels (``llama3.2`` = ``llama3.2:latest``); ``*``
applies to every model, and a model's own profile overrides it field by field.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Literal

from .cache.keys import normalize_model

Mode = Literal["default", "enforce"]
Priority = Literal["interactive", "background"]
FIELDS = ("num_ctx", "keep_alive", "mode", "num_parallel", "priority", "honest_show")
ALL = "*"


class ProfileError(ValueError):
    """A profile value the proxy cannot run with; the message names model and field."""


@dataclasses.dataclass(frozen=True, slots=True)
class Profile:
    num_ctx: int | None = None
    keep_alive: str | int | None = None
    mode: Mode = "default"
    num_parallel: int | None = None
    priority: Priority | None = None
    honest_show: bool | None = None

    @property
    def reports_context(self) -> bool:
        return self.num_ctx is not None and self.honest_show is not False

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}


NO_PROFILE = Profile()


def parse_profile(model: str, raw: Any) -> Profile:
    if not isinstance(raw, Mapping):
        raise ProfileError(f"models: {model!r} needs an object of profile fields")
    unknown = set(raw) - set(FIELDS)
    if unknown:
        raise ProfileError(
            f"models: {model!r} has unknown fields {sorted(unknown)}; use {', '.join(FIELDS)}"
        )
    values = dict(raw)

    def whole(name: str) -> None:
        value = values.get(name)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            raise ProfileError(f"models: {model!r} {name} must be a positive whole number")

    whole("num_ctx")
    whole("num_parallel")
    keep = values.get("keep_alive")
    if keep is not None and (isinstance(keep, bool) or not isinstance(keep, str | int)):
        raise ProfileError(f"models: {model!r} keep_alive must be a duration like '30m' or seconds")
    if values.get("mode", "default") not in ("default", "enforce"):
        raise ProfileError(f"models: {model!r} mode must be 'default' or 'enforce'")
    if values.get("priority") not in (None, "interactive", "background"):
        raise ProfileError(f"models: {model!r} priority must be 'interactive' or 'background'")
    if values.get("honest_show") not in (None, True, False):
        raise ProfileError(f"models: {model!r} honest_show must be true or false")
    return Profile(**values)


def parse_profiles(
    models: Mapping[str, Any], num_ctx_defaults: Mapping[str, int] | None = None
) -> dict[str, Profile]:
    """Profiles by normalised name; ``num_ctx_defaults`` (the older setting) is an alias
    for ``{"model": {"num_ctx": n}}`` where ``models`` says nothing of that model."""
    out: dict[str, Profile] = {}
    for name, n in (num_ctx_defaults or {}).items():
        out[_key(name)] = Profile(num_ctx=n)
    for name, raw in models.items():
        out[_key(name)] = parse_profile(name, raw)
    return out


def _key(name: str) -> str:
    return ALL if name.strip() == ALL else normalize_model(name)


def _merge(base: Profile, own: Profile) -> Profile:
    changes = {f: getattr(own, f) for f in FIELDS if getattr(own, f) is not None}
    if own.mode != "default":
        changes["mode"] = own.mode
    return dataclasses.replace(base, **changes)


class ProfileBook:
    """Looks profiles up per request: one dict lookup once a model has been seen."""

    def __init__(self, profiles: Mapping[str, Profile]) -> None:
        self._profiles = dict(profiles)
        self._resolved: dict[str, Profile] = {}

    def __bool__(self) -> bool:
        return bool(self._profiles)

    def profile_for(self, model: str) -> Profile:
        found = self._resolved.get(model)
        if found is None:
            base = self._profiles.get(ALL, NO_PROFILE)
            own = self._profiles.get(normalize_model(model))
            found = _merge(base, own) if own is not None else base
            if len(self._resolved) < 4096:  # model names come from clients: bounded
                self._resolved[model] = found
        return found


def apply_profile(body: dict[str, Any], profile: Profile) -> bool:
    """Put the profile's ``num_ctx`` and ``keep_alive`` into a native chat or generate
    body, as its mode says; True when the body changed."""
    changed = False
    options = body.get("options")
    if profile.num_ctx is not None:
        has = isinstance(options, dict) and options.get("num_ctx") is not None
        if not has or (profile.mode == "enforce" and options.get("num_ctx") != profile.num_ctx):  # type: ignore[union-attr]
            options = dict(options) if isinstance(options, dict) else {}
            options["num_ctx"] = profile.num_ctx
            body["options"] = options
            changed = True
    if profile.keep_alive is not None:
        has = body.get("keep_alive") is not None
        if not has or (profile.mode == "enforce" and body["keep_alive"] != profile.keep_alive):
            body["keep_alive"] = profile.keep_alive
            changed = True
    return changed
