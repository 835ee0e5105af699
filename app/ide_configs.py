"""Copy-paste configuration for each IDE plugin, filled with the live proxy URL.

Pure text: the Connect dialog shows it and the README carries the same text rendered with
``http://127.0.0.1:PORT`` (a test keeps the two identical).
"""

from __future__ import annotations

import dataclasses

README_BASE = "http://127.0.0.1:PORT"


@dataclasses.dataclass(frozen=True, slots=True)
class IdeConfig:
    name: str
    where: str  # where the text goes, in the plugin's own words
    text: str


def ide_configs(base_url: str, model: str = "llama3.2") -> tuple[IdeConfig, ...]:
    """``base_url`` is the proxy root, e.g. ``http://127.0.0.1:11435`` (no ``/v1``)."""
    root = base_url.rstrip("/")
    v1 = root + "/v1"
    return (
        IdeConfig(
            "Continue",
            "~/.continue/config.yaml, under models: (native Ollama provider; "
            "autocomplete uses fill-in-the-middle through /api/generate)",
            f"models:\n"
            f"  - name: {model} (proxy)\n"
            f"    provider: ollama\n"
            f"    model: {model}\n"
            f"    apiBase: {root}\n"
            f"    roles: [chat, edit, apply, autocomplete]",
        ),
        IdeConfig(
            "GitHub Copilot Chat",
            "VS Code settings.json; then Chat > Manage Models > Ollama",
            f'"github.copilot.chat.byok.ollamaEndpoint": "{root}"',
        ),
        IdeConfig(
            "Cline / Roo Code",
            "Settings > API Provider: Ollama > Base URL (or OpenAI Compatible with "
            f"base URL {v1} and any non-empty API key)",
            root,
        ),
        IdeConfig(
            "Zed",
            "~/.config/zed/settings.json",
            f'"language_models": {{\n  "ollama": {{\n    "api_url": "{root}"\n  }}\n}}',
        ),
        IdeConfig(
            "JetBrains AI Assistant",
            "Settings > Tools > AI Assistant > Models > Third-party AI providers > Ollama > URL",
            root,
        ),
        IdeConfig(
            "Void",
            "Void Settings > Local providers > Ollama > Endpoint",
            root,
        ),
        IdeConfig(
            "Any OpenAI-compatible client",
            "base URL and any API key; Ollama options go in the body",
            f"from openai import OpenAI\n\n"
            f'client = OpenAI(base_url="{v1}", api_key="unused")\n'
            f"reply = client.chat.completions.create(\n"
            f'    model="{model}",\n'
            f'    messages=[{{"role": "user", "content": "Hello"}}],\n'
            f'    extra_body={{"options": {{"num_ctx": 16384}}, "keep_alive": "30m"}},\n'
            f")",
        ),
    )


def readme_section() -> str:
    """The README's "Connecting an IDE plugin" body, generated from the same table."""
    parts = []
    for config in ide_configs(README_BASE):
        parts.append(f"**{config.name}** — {config.where}:\n\n```\n{config.text}\n```\n")
    return "\n".join(parts)
