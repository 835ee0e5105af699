"""Client recognition (proxy_core/clients.py) from the User-Agents the clients send
(reference/clients.md and recorded agents)."""

from __future__ import annotations

import pytest

from proxy_core.clients import LABELS, NAMES, OTHER, name_of, recognise


@pytest.mark.parametrize(
    ("headers", "label"),
    [
        ({"User-Agent": "claude-cli/2.1.332 (external, cli)"}, "claude-code"),
        ({"User-Agent": "codex_cli_rs/0.171.0 (Debian 12; x86_64) xterm"}, "codex"),
        ({"User-Agent": "GitHubCopilotChat/0.31.0"}, "copilot"),
        ({"User-Agent": "Cline/3.17.0"}, "cline"),
        ({"User-Agent": "Zed/0.201.5 (linux; x86_64)"}, "zed"),
        ({"User-Agent": "ollama-python/0.6.1 (x86_64 linux) Python/3.11.7"}, "ollama-python"),
        ({"User-Agent": "ollama-js/0.5.16 (x64 linux Node.js/v20.20.2)"}, "ollama-js"),
        ({"User-Agent": "OpenAI/Python 1.99.0"}, "openai-python"),
        ({"User-Agent": "Anthropic/Python 2.14.0"}, "anthropic-sdk"),
        # LiteLLM apps (aider, mini-swe-agent) send only LiteLLM's name...
        ({"User-Agent": "litellm/1.81.10"}, "litellm"),
        # ...unless one names itself, as the README's aider snippet does
        ({"User-Agent": "litellm/1.81.10", "X-Title": "aider"}, "aider"),
        ({"User-Agent": "python-requests/2.32", "X-OpenWebUI-User-Name": "ada"}, "open-webui"),
        ({"User-Agent": "curl/8.5.0"}, OTHER),
        ({}, OTHER),
    ],
)
def test_clients_are_recognised(headers: dict[str, str], label: str) -> None:
    assert recognise(headers) == label
    assert label in LABELS  # bounded: metrics never see a client's raw text


# What each agent of issue 27 sent through the proxy (recorded from the real binaries,
# tests/proxy_core/dialects/test_agent_clis.py runs them): the identifying headers.
RECORDED = [
    ({"User-Agent": "GeminiCLI-tui/0.61.0/llama3.2 (linux; x64; terminal)",
      "x-goog-api-client": "google-genai-sdk/1.30.0 gl-node/v20.20.2"}, "gemini-cli"),
    ({"User-Agent": "opencode/1.18.33 ai-sdk/provider-utils/4.0.23 runtime/bun/1.3.14",
      "x-session-affinity": "ses_1"}, "opencode"),
    ({"User-Agent": "QwenCode/0.24.4 (linux; x64)", "x-stainless-lang": "js"}, "qwen-code"),
    ({"User-Agent": "Kilo-Code/7.7.7 ai-sdk/provider-utils/4.0.27 runtime/bun/1.3.14",
      "x-title": "Kilo Code", "http-referer": "https://kilocode.ai"}, "kilo"),
    ({"User-Agent": "ls/JS 5.23.2", "x-stainless-lang": "js"}, "continue-cli"),
    ({"User-Agent": "ai-sdk/openai-compatible/3.0.37 ai-sdk/provider-utils/5.0.30 "
      "runtime/bun/1.3.13"}, "cline-cli"),
    ({"User-Agent": "OpenAI/JS 5.20.1", "x-stainless-helper-method": "stream",
      "x-initiator": "agent", "x-interaction-type": "conversation-user"}, "copilot-cli"),
    ({"User-Agent": "OpenAI/JS 6.26.0", "X-Title": "pi"}, "pi"),
    ({"User-Agent": "google-genai-sdk/1.52.0 gl-node/v20.20.2", "X-Title": "pi"}, "pi"),
    ({"User-Agent": "google-genai-sdk/1.52.0 gl-node/v20.20.2"}, "google-genai"),
    ({"User-Agent": "OpenAI/JS 6.26.0"}, "openai-js"),  # pi without the snippet's header
    ({"User-Agent": "OpenAI/JS 6.26.0", "X-Title": "something else"}, "openai-js"),
]  # fmt: skip


@pytest.mark.parametrize(("headers", "label"), RECORDED)
def test_each_agent_is_recognised_from_what_it_sends(headers: dict[str, str], label: str) -> None:
    assert recognise(headers) == label


def test_every_label_has_a_name_for_the_tray() -> None:
    assert set(NAMES) == set(LABELS)
    assert name_of("gemini-cli") == "Gemini CLI" and name_of("copilot-cli") == "Copilot CLI"
    assert len(set(NAMES.values())) == len(NAMES)  # two clients never look the same
