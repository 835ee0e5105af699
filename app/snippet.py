"""One client's copy-paste configuration, as the Connect dialog shows it and the README
carries it (rendered with ``README_BASE``)."""

from __future__ import annotations

import dataclasses

README_BASE = "http://127.0.0.1:PORT"
TOKEN_PLACEHOLDER = "any-non-empty-key"  # when the proxy requires no token


@dataclasses.dataclass(frozen=True, slots=True)
class IdeConfig:
    name: str
    where: str  # where the text goes, in the plugin's own words
    text: str
    # what the client speaks: native, openai, anthropic, responses, gemini, mcp
    dialect: str = "native"
    # what it sends that names it (clients.py): the Test button sends the same, so the
    # request inspector shows the agent by name
    headers: tuple[tuple[str, str], ...] = ()
