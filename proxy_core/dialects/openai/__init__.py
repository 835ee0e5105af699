"""The OpenAI API, translated to native Ollama calls (pure mapping + thin handlers)."""

from ..base import Dialect, Route
from ..shapes import openai_error
from . import handlers

DIALECT = Dialect(
    "openai",
    openai_error,
    routes=(
        Route("POST", "/v1/chat/completions", handlers.chat_completions),
        Route("POST", "/v1/completions", handlers.completions),
        Route("POST", "/v1/embeddings", handlers.embeddings),
        Route("GET", "/v1/models", handlers.list_models),
        Route("GET", "/v1/models/{model:.+}", handlers.get_model),
        Route("*", "/v1/{tail:.*}", handlers.not_served, fallback=True),
    ),
)

__all__ = ["DIALECT"]
