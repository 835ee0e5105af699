"""Copy-paste configuration for each IDE plugin, filled with the live proxy URL.

Pure text: the Connect dialog shows it and the README carries the same text rendered with
``http://127.0.0.1:PORT`` (a test keeps the two identical).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from .agent_configs import agent_configs
from .snippet import README_BASE, TOKEN_PLACEHOLDER, IdeConfig

__all__ = ["IdeConfig", "ModelChoice", "README_CHOICE", "choose_models", "ide_configs"]


@dataclasses.dataclass(frozen=True, slots=True)
class ModelChoice:
    """Which installed model each job goes to; None when no installed model can do it."""

    chat: str | None
    autocomplete: str | None  # needs Ollama's "insert" capability (fill-in-the-middle)
    embed: str | None


README_CHOICE = ModelChoice("llama3.2", "qwen2.5-coder:1.5b", "nomic-embed-text")


def choose_models(installed: Sequence[tuple[str, frozenset[str]]]) -> ModelChoice:
    """From (name, capabilities) pairs, as /api/tags and /api/show report them: a chat
    model (tools preferred, as agents need them), a fill-in-the-middle model for
    autocomplete, an embedding model."""

    def first(*needs: str) -> str | None:
        return next((name for name, caps in installed if set(needs) <= caps), None)

    return ModelChoice(
        chat=first("completion", "tools") or first("completion"),
        autocomplete=first("insert"),
        embed=first("embedding"),
    )


def _continue(root: str, key: str, choice: ModelChoice) -> str:
    lines = ["models:"]
    if choice.chat:
        lines += [
            f"  - name: {choice.chat} (proxy)",
            "    provider: ollama",
            f"    model: {choice.chat}",
            f"    apiBase: {root}",
            f"    apiKey: {key}",
            "    roles: [chat, edit, apply]",
        ]
    else:
        lines.append("  # no installed model can chat: e.g. ollama pull llama3.2")
    if choice.autocomplete:
        lines += [
            f"  - name: {choice.autocomplete} (autocomplete)",
            "    provider: ollama",
            f"    model: {choice.autocomplete}",
            f"    apiBase: {root}",
            f"    apiKey: {key}",
            "    roles: [autocomplete]",
        ]
    else:
        lines.append(
            "  # no installed model can fill in the middle (Ollama capability insert), so no "
            "autocomplete: e.g. ollama pull qwen2.5-coder:1.5b"
        )
    if choice.embed:
        lines += [
            f"  - name: {choice.embed} (embeddings)",
            "    provider: ollama",
            f"    model: {choice.embed}",
            f"    apiBase: {root}",
            f"    apiKey: {key}",
            "    roles: [embed]",
        ]
    return "\n".join(lines)


def ide_configs(
    base_url: str,
    model: str | None = None,
    token: str = "",
    choice: ModelChoice = README_CHOICE,
) -> tuple[IdeConfig, ...]:
    """``base_url`` is the proxy root, e.g. ``http://127.0.0.1:11435`` (no ``/v1``);
    ``token`` the access token when the proxy requires one (else a placeholder key);
    ``choice`` the installed models for each job (``model`` overrides the chat one)."""
    model = model or choice.chat or README_CHOICE.chat or "llama3.2"
    root = base_url.rstrip("/")
    v1 = root + "/v1"
    key = token or TOKEN_PLACEHOLDER
    return (
        *_plugins(root, v1, key, model, choice),
        *agent_configs(root, v1, key, model),
        *_openai_clients(v1, key, model, bool(token)),
    )


def _plugins(
    root: str, v1: str, key: str, model: str, choice: ModelChoice
) -> tuple[IdeConfig, ...]:
    """The IDE plugins, most of them on Ollama's native API."""
    return (
        IdeConfig(
            "Continue",
            "~/.continue/config.yaml, under models: (native Ollama provider; "
            "autocomplete uses fill-in-the-middle through /api/generate, so it goes to a "
            "model that can; apiKey is the token)",
            _continue(root, key, dataclasses.replace(choice, chat=model)),
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
            "Cline (OpenAI Compatible)",
            "Settings > API Provider: OpenAI Compatible",
            f"Base URL: {v1}\nAPI Key: {key}\nModel ID: {model}",
            dialect="openai",
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
    )


def _openai_clients(v1: str, key: str, model: str, token: bool) -> tuple[IdeConfig, ...]:
    """What speaks OpenAI's API: VS Code's custom endpoint, any SDK."""
    return (
        IdeConfig(
            "VS Code custom endpoint",
            "VS Code settings.json (Copilot Chat's OpenAI-compatible models; then pick the "
            "model in Chat > Manage Models)",
            f'"github.copilot.chat.customOAIModels": {{\n'
            f'  "{model}": {{\n'
            f'    "name": "{model} (Ollama Tray Proxy)",\n'
            f'    "url": "{v1}",\n'
            f'    "toolCalling": true,\n'
            f'    "vision": false,\n'
            f'    "maxInputTokens": 8192,\n'
            f'    "maxOutputTokens": 4096,\n'
            f'    "requiresAPIKey": {"true" if token else "false"}\n'
            f"  }}\n"
            f"}}",
            dialect="openai",
        ),
        IdeConfig(
            "Any OpenAI-compatible client",
            "base URL and any API key; Ollama options go in the body",
            f"from openai import OpenAI\n\n"
            f'client = OpenAI(base_url="{v1}", api_key="{key}")\n'
            f"reply = client.chat.completions.create(\n"
            f'    model="{model}",\n'
            f'    messages=[{{"role": "user", "content": "Hello"}}],\n'
            f'    extra_body={{"options": {{"num_ctx": 16384}}, "keep_alive": "30m"}},\n'
            f")",
            dialect="openai",
        ),
    )


MCP_NAME = "ollama-tools"
README_TOKEN = "<access token from Settings>"


def mcp_configs(base_url: str, token: str) -> tuple[IdeConfig, ...]:
    """The built-in tools over MCP (``/mcp``, when agent tools are on) for the agents
    that run their own loop. The token is always required there, even on loopback."""
    url = base_url.rstrip("/") + "/mcp"
    bearer = f"Bearer {token}"
    return (
        IdeConfig(
            "MCP: Claude Code",
            "a shell (adds the server to your user configuration)",
            f"claude mcp add --scope user --transport http {MCP_NAME} {url} \\\n"
            f'  --header "Authorization: {bearer}"',
            dialect="mcp",
        ),
        IdeConfig(
            "MCP: VS Code / Copilot",
            "MCP: Open User Configuration (mcp.json; not the workspace's .vscode/, which "
            "would put the token in the repository)",
            f'{{\n  "servers": {{\n    "{MCP_NAME}": {{\n      "type": "http",\n'
            f'      "url": "{url}",\n      "headers": {{ "Authorization": "{bearer}" }}\n'
            f"    }}\n  }}\n}}",
            dialect="mcp",
        ),
        IdeConfig(
            "MCP: Cline",
            "MCP Servers > Configure > cline_mcp_settings.json",
            f'{{\n  "mcpServers": {{\n    "{MCP_NAME}": {{\n      "type": "streamableHttp",\n'
            f'      "url": "{url}",\n      "headers": {{ "Authorization": "{bearer}" }}\n'
            f"    }}\n  }}\n}}",
            dialect="mcp",
        ),
        IdeConfig(
            "MCP: Continue",
            "~/.continue/config.yaml",
            f"mcpServers:\n  - name: {MCP_NAME}\n    type: streamable-http\n    url: {url}\n"
            f"    requestOptions:\n      headers:\n        Authorization: {bearer}",
            dialect="mcp",
        ),
        IdeConfig(
            "MCP: Zed",
            "~/.config/zed/settings.json",
            f'"context_servers": {{\n  "{MCP_NAME}": {{\n    "url": "{url}",\n'
            f'    "headers": {{ "Authorization": "{bearer}" }}\n  }}\n}}',
            dialect="mcp",
        ),
    )


def readme_section() -> str:
    """The README's "Connecting an IDE plugin" body, generated from the same table."""
    parts = []
    for config in ide_configs(README_BASE):
        parts.append(f"**{config.name}** — {config.where}:\n\n```\n{config.text}\n```\n")
    parts.append(
        '**The built-in tools over MCP** (when agent tools are on, see "Agent tools"; '
        "the access token is required on `/mcp` even on loopback):\n"
    )
    for config in mcp_configs(README_BASE, README_TOKEN):
        parts.append(f"**{config.name}** — {config.where}:\n\n```\n{config.text}\n```\n")
    return "\n".join(parts)
