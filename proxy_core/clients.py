"""Which client sent a request, from its User-Agent and headers: a bounded set of labels
(metrics, the truncation notice, the autocomplete supersede rule, the inspector and the
Clients box, which show each label's name).

Most agents name themselves in the User-Agent. Where one sends only its library's
(Copilot CLI and pi on OpenAI's JS SDK, Continue's ``cn`` as ``ls/JS``, Cline CLI on the
AI SDK), another header tells: Copilot CLI's ``x-initiator``, or ``X-Title``, the header
by which apps name themselves to OpenAI-compatible gateways (Kilo sends it; the README's
snippets add it for pi and aider)."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping

OTHER = "other"


@dataclasses.dataclass(frozen=True, slots=True)
class Client:
    label: str
    name: str  # as the tray shows it
    agents: tuple[str, ...] = ()  # substrings of the lower-cased User-Agent


# First match wins: the specific clients before the libraries they are built on.
CLIENTS: tuple[Client, ...] = (
    Client("claude-code", "Claude Code", ("claude-cli", "claude-code")),
    Client("codex", "Codex CLI", ("codex_cli", "codex-cli", "codex_exec", "codex/")),
    Client("gemini-cli", "Gemini CLI", ("geminicli",)),  # GeminiCLI-tui/0.61.0/model …
    Client("opencode", "opencode", ("opencode/",)),  # opencode/1.18 ai-sdk/provider-utils …
    Client("qwen-code", "Qwen Code", ("qwencode/",)),  # QwenCode/0.24.4 (linux; x64)
    Client("kilo", "Kilo Code", ("kilo-code/", "kilocode")),  # Kilo-Code/7.7.7 ai-sdk/…
    Client("continue-cli", "Continue CLI", ("ls/js ",)),  # cn: "ls/JS 5.23.2"
    # Cline CLI 3 sends only the AI SDK's User-Agent (opencode and Kilo put their name
    # before theirs): any tool that does the same is counted as Cline CLI too.
    Client("cline-cli", "Cline CLI", ("ai-sdk/openai-compatible/",)),
    Client("copilot-cli", "Copilot CLI"),  # its x-initiator header
    Client("copilot", "Copilot Chat", ("githubcopilotchat", "copilot")),
    Client("continue", "Continue", ("continue",)),
    Client("cline", "Cline", ("cline",)),
    Client("roo", "Roo Code", ("roo-code", "roocode", "roo code")),
    Client("zed", "Zed", ("zed/", "zed-editor")),
    Client("jetbrains", "JetBrains AI", ("jetbrains", "intellij", "pycharm")),
    Client("void", "Void", ("void/", "voideditor")),
    Client("pi", "pi"),  # X-Title: pi
    Client("aider", "aider", ("aider",)),  # or X-Title: aider
    Client("litellm", "LiteLLM (aider, mini-swe-agent…)", ("litellm",)),
    Client("open-webui", "Open WebUI", ("open-webui", "openwebui")),
    Client("ollama-python", "Ollama Python library", ("ollama-python",)),
    Client("ollama-js", "Ollama JS library", ("ollama-js",)),
    Client("openai-python", "OpenAI Python SDK", ("openai/python",)),
    Client("openai-js", "OpenAI JS SDK", ("openai/js",)),
    Client("anthropic-sdk", "Anthropic SDK", ("anthropic/python", "anthropic/js", "anthropic/")),
    Client("google-genai", "Google GenAI SDK", ("google-genai-sdk", "google-api-")),
)
LABELS = tuple(client.label for client in CLIENTS) + (OTHER,)
NAMES = {client.label: client.name for client in CLIENTS} | {OTHER: "Other"}
# Labels that name a library, not an app: another header may say which app uses it.
_LIBRARIES = frozenset(
    {"litellm", "ollama-python", "ollama-js", "openai-python", "openai-js"}
    | {"anthropic-sdk", "google-genai", OTHER}
)
# Open WebUI names its user and chat in these (when forwarding user info is on).
_OPEN_WEBUI_HEADERS = ("X-OpenWebUI-User-Name", "X-OpenWebUI-User-Id", "X-OpenWebUI-Chat-Id")


@functools.lru_cache(maxsize=1024)  # a few distinct agents send every request
def _by_agent(agent: str) -> str:
    lowered = agent.lower()
    for client in CLIENTS:
        if any(needle in lowered for needle in client.agents):
            return client.label
    return OTHER


@functools.lru_cache(maxsize=256)
def _by_title(title: str) -> str | None:
    """An ``X-Title`` that names a known client by its label or its name."""
    wanted = title.strip().lower()
    for client in CLIENTS:
        if wanted in (client.label, client.name.lower()):
            return client.label
    return None


def recognise(headers: Mapping[str, str]) -> str:
    label = _by_agent(headers.get("User-Agent", ""))
    if label not in _LIBRARIES:
        return label
    if "x-initiator" in headers:  # Copilot CLI's, on OpenAI's JS SDK
        return "copilot-cli"
    title = headers.get("X-Title")
    if title is not None:
        return _by_title(title) or label
    if any(name in headers for name in _OPEN_WEBUI_HEADERS):
        return "open-webui"
    return label


def name_of(label: str) -> str:
    """How the tray names a label ("Gemini CLI"); an unknown label as it is."""
    return NAMES.get(label, label)
