"""The Connect dialog's text: correct URLs, parseable snippets, same text as the README."""

from __future__ import annotations

import ast
import json
from pathlib import Path

from app.ide_configs import ide_configs, mcp_configs, readme_section

ROOT = Path(__file__).resolve().parents[2]


def test_every_plugin_is_covered_with_the_live_url() -> None:
    configs = {c.name: c for c in ide_configs("http://127.0.0.1:12345")}
    assert set(configs) == {
        "Continue",
        "GitHub Copilot Chat",
        "Cline / Roo Code",
        "Cline (OpenAI Compatible)",
        "aider",
        "Zed",
        "JetBrains AI Assistant",
        "Void",
        "Claude Code",
        "Codex CLI",
        "Gemini CLI",
        "Copilot CLI",
        "opencode",
        "Kilo Code CLI",
        "Qwen Code",
        "Continue CLI (cn)",
        "Cline CLI",
        "pi",
        "Crush",
        "VS Code custom endpoint",
        "Any OpenAI-compatible client",
    }
    for config in configs.values():
        assert "http://127.0.0.1:12345" in config.text + config.where
        assert "11434" not in config.text  # never Ollama's own port
    assert "apiBase: http://127.0.0.1:12345\n" in configs["Continue"].text
    # The OpenAI client gets /v1; the native plugins get the root.
    assert 'base_url="http://127.0.0.1:12345/v1"' in configs["Any OpenAI-compatible client"].text
    assert configs["Void"].text == "http://127.0.0.1:12345"


def test_json_snippets_are_valid_json_fragments() -> None:
    configs = {c.name: c for c in ide_configs("http://127.0.0.1:1")}
    zed = json.loads("{" + configs["Zed"].text + "}")
    assert zed["language_models"]["ollama"]["api_url"] == "http://127.0.0.1:1"
    copilot = json.loads("{" + configs["GitHub Copilot Chat"].text + "}")
    assert copilot["github.copilot.chat.byok.ollamaEndpoint"] == "http://127.0.0.1:1"
    ast.parse(configs["Any OpenAI-compatible client"].text)  # the Python snippet compiles


def test_readme_carries_the_same_text() -> None:
    assert readme_section() in (ROOT / "README.md").read_text(encoding="utf-8")


def test_agent_snippets_point_at_their_dialects_with_the_token() -> None:
    import tomllib

    configs = {c.name: c for c in ide_configs("http://127.0.0.1:7", "qwen3", token="tok-123")}
    claude = configs["Claude Code"].text
    env = dict(
        line.removeprefix("export ").split("  #")[0].split("=", 1) for line in claude.splitlines()
    )
    assert env["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:7"  # the SDK adds /v1/messages
    assert env["ANTHROPIC_AUTH_TOKEN"] == "tok-123" and env["ANTHROPIC_MODEL"] == "qwen3"
    codex = tomllib.loads(configs["Codex CLI"].text)
    provider = codex["model_providers"][codex["model_provider"]]
    assert provider["base_url"] == "http://127.0.0.1:7/v1"
    assert provider["wire_api"] == "responses" and codex["model"] == "qwen3"
    vscode = json.loads("{" + configs["VS Code custom endpoint"].text + "}")
    model = vscode["github.copilot.chat.customOAIModels"]["qwen3"]
    assert model["url"] == "http://127.0.0.1:7/v1" and model["requiresAPIKey"] is True
    assert 'api_key="tok-123"' in configs["Any OpenAI-compatible client"].text
    # Codex will not start without its env_key's variable: the snippet says to set it
    assert "export OLLAMA_PROXY_KEY=tok-123" in configs["Codex CLI"].text
    assert "any value" in configs["Codex CLI"].where
    # the token reaches every agent, the way each sends keys
    for name in ("Gemini CLI", "Copilot CLI", "Qwen Code", "Cline CLI", "aider", "Continue"):
        assert "tok-123" in configs[name].text, name
    for name in ("opencode", "Kilo Code CLI", "pi", "Crush"):
        assert "tok-123" in json.dumps(json.loads(configs[name].text)), name


def test_mcp_snippets_carry_the_url_and_token_and_parse() -> None:
    import json as _json

    configs = {c.name: c for c in mcp_configs("http://127.0.0.1:7", "tok-123")}
    assert set(configs) == {
        "MCP: Claude Code",
        "MCP: VS Code / Copilot",
        "MCP: Cline",
        "MCP: Continue",
        "MCP: Zed",
    }
    for config in configs.values():
        assert "http://127.0.0.1:7/mcp" in config.text and "Bearer tok-123" in config.text
    vscode = _json.loads(configs["MCP: VS Code / Copilot"].text)["servers"]["ollama-tools"]
    assert vscode == {
        "type": "http",
        "url": "http://127.0.0.1:7/mcp",
        "headers": {"Authorization": "Bearer tok-123"},
    }
    cline = _json.loads(configs["MCP: Cline"].text)["mcpServers"]["ollama-tools"]
    assert cline["type"] == "streamableHttp"
    zed = _json.loads("{" + configs["MCP: Zed"].text + "}")["context_servers"]["ollama-tools"]
    assert zed["url"] == "http://127.0.0.1:7/mcp"


def test_models_are_chosen_by_capability() -> None:
    from app.ide_configs import ModelChoice, choose_models

    installed = [
        ("deepseek-r1:7b", frozenset({"completion", "thinking"})),
        ("llama3.2:latest", frozenset({"completion", "tools"})),
        ("qwen2.5-coder:1.5b", frozenset({"completion", "tools", "insert"})),
        ("nomic-embed-text:latest", frozenset({"embedding"})),
    ]
    assert choose_models(installed) == ModelChoice(
        "llama3.2:latest", "qwen2.5-coder:1.5b", "nomic-embed-text:latest"
    )
    only_chat = choose_models([("deepseek-r1:7b", frozenset({"completion", "thinking"}))])
    assert only_chat == ModelChoice("deepseek-r1:7b", None, None)
    continue_text = {c.name: c for c in ide_configs("http://h:1", choice=only_chat)}[
        "Continue"
    ].text
    assert "roles: [chat, edit, apply]" in continue_text and "autocomplete]" not in continue_text
    assert "no installed model can fill in the middle" in continue_text
    assert choose_models([]) == ModelChoice(None, None, None)
