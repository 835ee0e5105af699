"""The dialects the proxy speaks: a new one is a package exporting ``DIALECT`` (dialects/
base.py) plus one line here. ``create_app`` registers every route of each with it."""

from __future__ import annotations

from . import anthropic, gemini, native, openai, responses
from .base import Dialect

DIALECTS: tuple[Dialect, ...] = (
    openai.DIALECT,
    anthropic.DIALECT,
    responses.DIALECT,
    gemini.DIALECT,
    native.DIALECT,  # its catch-all passes everything else to Ollama
)
