"""Client recognition (proxy_core/clients.py) from the User-Agents the clients send
(reference/clients.md and recorded agents)."""

from __future__ import annotations

import pytest

from proxy_core.clients import LABELS, OTHER, recognise


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
        ({"User-Agent": "litellm/1.77.0"}, "aider"),
        ({"User-Agent": "python-requests/2.32", "X-OpenWebUI-User-Name": "ada"}, "open-webui"),
        ({"User-Agent": "curl/8.5.0"}, OTHER),
        ({}, OTHER),
    ],
)
def test_clients_are_recognised(headers: dict[str, str], label: str) -> None:
    assert recognise(headers) == label
    assert label in LABELS  # bounded: metrics never see a client's raw text
