"""Which client sent a request, from its User-Agent and headers: a bounded set of labels
(metrics, the truncation notice, the autocomplete supersede rule)."""

from __future__ import annotations

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


def recognise(headers: Mapping[str, str]) -> str:
    agent = headers.get("User-Agent", "").lower()
    for label, needles in _BY_AGENT:
        if any(needle in agent for needle in needles):
            return label
    if any(name.lower().startswith("x-openwebui-") for name in headers):
        return "open-webui"
    return OTHER
