"""The coding agents' configuration, each in its own dialect, as its docs configure it.

The suite runs each agent with this very text (tests/proxy_core/dialects/
test_agent_clis.py), so a snippet that stops working fails a test. ``headers`` are what
the agent sends that names it: the Test button sends them too."""

from __future__ import annotations

import json
from typing import Any

from .snippet import IdeConfig

PROVIDER = "ollama-tray-proxy"  # the provider's name in the agents' config files


def agent_configs(root: str, v1: str, key: str, model: str) -> tuple[IdeConfig, ...]:
    return (
        *_vendor_agents(root, v1, key, model),
        *_file_agents(root, v1, key, model),
        *_shell_agents(root, v1, key, model),
    )


def _vendor_agents(root: str, v1: str, key: str, model: str) -> tuple[IdeConfig, ...]:
    """The agents of the model vendors: Anthropic's, OpenAI's, Google's and GitHub's."""
    return (
        IdeConfig(
            "Claude Code",
            "environment of the shell that starts `claude` (Anthropic Messages on the proxy; "
            "the token is sent as Authorization: Bearer)",
            f"export ANTHROPIC_BASE_URL={root}\n"
            f"export ANTHROPIC_AUTH_TOKEN={key}\n"
            f"export ANTHROPIC_MODEL={model}\n"
            f"export ANTHROPIC_DEFAULT_HAIKU_MODEL={model}  # its small/fast model\n"
            f"export ANTHROPIC_SMALL_FAST_MODEL={model}  # the same, for older versions\n"
            "export CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1",
            dialect="anthropic",
            headers=(("User-Agent", "claude-cli/2.1.332 (external, cli)"),),
        ),
        IdeConfig(
            "Codex CLI",
            "~/.codex/config.toml (OpenAI Responses on the proxy). Codex will not start "
            "unless OLLAMA_PROXY_KEY is set: set it to the token (any value when the proxy "
            "requires none)",
            f'model = "{model}"\n'
            f'model_provider = "{PROVIDER}"\n'
            f"\n"
            f"[model_providers.{PROVIDER}]\n"
            f'name = "Ollama Tray Proxy"\n'
            f'base_url = "{v1}"\n'
            f'wire_api = "responses"\n'
            f'env_key = "OLLAMA_PROXY_KEY"  # then: export OLLAMA_PROXY_KEY={key}',
            dialect="responses",
            headers=(("User-Agent", "codex_cli_rs/0.171.0"),),
        ),
        IdeConfig(
            "Gemini CLI",
            "the shell (Google's Gemini API on the proxy; the key is the token, sent as "
            'x-goog-api-key). Once, in ~/.gemini/settings.json: {"security": {"auth": '
            '{"selectedType": "gemini-api-key"}}} (else Gemini CLI 0.61 takes the base '
            "URL for a gateway login it then refuses)",
            f"export GOOGLE_GEMINI_BASE_URL={root}\n"
            f"export GEMINI_API_KEY={key}\n"
            f"export GEMINI_MODEL={model}",
            dialect="gemini",
            headers=(("User-Agent", f"GeminiCLI/0.61.0/{model} (linux; x64)"),),
        ),
        IdeConfig(
            "Copilot CLI",
            "the shell that starts `copilot` (bring your own key: OpenAI chat on the proxy, "
            "no GitHub login offline)",
            f"export COPILOT_PROVIDER_BASE_URL={v1}\n"
            f"export COPILOT_PROVIDER_API_KEY={key}\n"
            f"export COPILOT_MODEL={model}\n"
            "export COPILOT_OFFLINE=true",
            dialect="openai",
            headers=(("User-Agent", "OpenAI/JS 5.20.1"), ("x-initiator", "user")),
        ),
    )


def _file_agents(root: str, v1: str, key: str, model: str) -> tuple[IdeConfig, ...]:
    """The open agents configured by a file (JSON)."""
    opencode = {
        "$schema": "https://opencode.ai/config.json",
        "provider": {
            PROVIDER: {
                "npm": "@ai-sdk/openai-compatible",
                "name": "Ollama Tray Proxy",
                "options": {"baseURL": v1, "apiKey": key},
                "models": {model: {"name": model}},
            }
        },
        "model": f"{PROVIDER}/{model}",
    }
    kilo = {k: v for k, v in opencode.items() if k != "$schema"}
    return (
        IdeConfig(
            "opencode",
            "opencode.json in the project (or ~/.config/opencode/opencode.json)",
            json.dumps(opencode, indent=2),
            dialect="openai",
            headers=(("User-Agent", "opencode/1.18.33 ai-sdk/provider-utils/4.0.23"),),
        ),
        IdeConfig(
            "Kilo Code CLI",
            "kilo.json in the project: the provider's options.baseURL (its docs' "
            "provider.ollama.baseURL is not read)",
            json.dumps(kilo, indent=2),
            dialect="openai",
            headers=(("User-Agent", "Kilo-Code/7.7.7 ai-sdk/provider-utils/4.0.27"),),
        ),
        IdeConfig(
            "pi",
            f"~/.pi/agent/models.json, then `pi --provider {PROVIDER} --model {model}` "
            "(Google's Gemini API on the proxy; X-Title names pi to it)",
            json.dumps(_pi(root, key, model), indent=2),
            dialect="gemini",
            headers=(("User-Agent", "google-genai-sdk/1.52.0 gl-node/v20"), ("X-Title", "pi")),
        ),
        IdeConfig(
            "Crush",
            "crush.json in the project (not tested: its npm package downloads the program "
            "from GitHub when installed, which the test machines cannot reach)",
            json.dumps(_crush(v1, key, model), indent=2),
            dialect="openai",
        ),
    )


def _pi(root: str, key: str, model: str) -> dict[str, Any]:
    """pi's models.json: Google's API on the proxy; X-Title names pi to it."""
    return {
        "providers": {
            PROVIDER: {
                "baseUrl": root + "/v1beta",
                "api": "google-generative-ai",
                "apiKey": key,
                "headers": {"X-Title": "pi"},
                "models": [{"id": model}],
            }
        }
    }


def _crush(v1: str, key: str, model: str) -> dict[str, Any]:
    return {
        "providers": {
            PROVIDER: {
                "type": "openai-compat",
                "base_url": v1,
                "api_key": key,
                "models": [{"id": model, "name": model}],
            }
        }
    }


def _shell_agents(root: str, v1: str, key: str, model: str) -> tuple[IdeConfig, ...]:
    """The open agents configured from a shell (variables, a command, a YAML file)."""
    return (
        IdeConfig(
            "Qwen Code",
            "the shell that starts `qwen` (OpenAI chat on the proxy)",
            f"export OPENAI_BASE_URL={v1}\n"
            f"export OPENAI_API_KEY={key}\n"
            f"export OPENAI_MODEL={model}",
            dialect="openai",
            headers=(("User-Agent", "QwenCode/0.24.4 (linux; x64)"),),
        ),
        IdeConfig(
            "Continue CLI (cn)",
            "a config file, then `cn --config FILE` (provider ollama; cn sends OpenAI chat "
            "to /v1, with apiKey as the token)",
            "name: ollama-tray-proxy\nversion: 0.0.1\nschema: v1\nmodels:\n"
            f"  - name: {model}\n    provider: ollama\n    model: {model}\n"
            f"    apiBase: {root}\n    apiKey: {key}\n    roles: [chat, edit, apply]",
            dialect="openai",
            headers=(("User-Agent", "ls/JS 5.23.2"),),
        ),
        IdeConfig(
            "Cline CLI",
            'a shell, once; then `cline "your task"` (OpenAI-compatible provider)',
            f"cline auth -p openai -k {key} -m {model} -b {v1}",
            dialect="openai",
            headers=(("User-Agent", "ai-sdk/openai-compatible/3.0.37 runtime/bun/1.3.13"),),
        ),
        IdeConfig(
            "aider",
            "a shell (aider talks to Ollama's native API through LiteLLM's ollama_chat; "
            "LiteLLM sends OLLAMA_API_KEY as the token)",
            f"export OLLAMA_API_BASE={root}\n"
            f"export OLLAMA_API_KEY={key}\n"
            f"aider --model ollama_chat/{model}\n"
            "# optional, so the proxy names aider (else LiteLLM): .aider.model.settings.yml\n"
            f"# - name: ollama_chat/{model}\n"
            "#   extra_params: {extra_headers: {X-Title: aider}}",
            headers=(("User-Agent", "litellm/1.81.10"), ("X-Title", "aider")),
        ),
    )
