"""Which client sent a request, from its User-Agent and headers: a bounded set of labels
(metrics, the truncation notice, the autocomplete supersede rule)."""

from __future__ import annotations

import functools
from collections.abc import Mapping

OTHER = "other"
# (label, substrings of the lower-cased User-Agent), first match wins: the specific
# clients before the libraries they are built on.
_BY_AGENT: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("claude-code", ("claude-cli", "claude-code")),
    ("codex", ("codex_cli", "codex-cli", "codex_exec", "codex/")),
    ("copilot", ("githubcopilotchat", "copilot")),
    ("continue", ("continue",)),
    ("cline", ("cline",)),
    ("roo", ("roo-code", "roocode", "roo code")),
    ("zed", ("zed/", "zed-editor")),
    ("jetbrains", ("jetbrains", "intellij", "pycharm")),
    ("void", ("void/", "voideditor")),
    ("aider", ("aider", "litellm")),
    ("open-webui", ("open-webui", "openwebui")),
    ("ollama-python", ("ollama-python",)),
    ("ollama-js", ("ollama-js",)),
    ("openai-python", ("openai/python",)),
    ("openai-js", ("openai/js",)),
    ("anthropic-sdk", ("anthropic/python", "anthropic/js", "anthropic/")),
)
LABELS = tuple(label for label, _ in _BY_AGENT) + (OTHER,)


# Open WebUI names its user and chat in these (when forwarding user info is on).
_OPEN_WEBUI_HEADERS = ("X-OpenWebUI-User-Name", "X-OpenWebUI-User-Id", "X-OpenWebUI-Chat-Id")


@functools.lru_cache(maxsize=1024)  # a few distinct agents send every request
def _by_agent(agent: str) -> str:
    lowered = agent.lower()
    for label, needles in _BY_AGENT:
        if any(needle in lowered for needle in needles):
            return label
    return OTHER


def recognise(headers: Mapping[str, str]) -> str:
    label = _by_agent(headers.get("User-Agent", ""))
    if label == OTHER and any(name in headers for name in _OPEN_WEBUI_HEADERS):
        return "open-webui"
    return label
