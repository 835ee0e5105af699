"""The OpenAI API, translated to native Ollama calls (pure mapping + thin handlers)."""
