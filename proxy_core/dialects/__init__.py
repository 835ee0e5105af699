"""The API dialects the proxy speaks, one package (or module) each, listed in
registry.py. Each maps its requests to Ollama's native form and back and owns the shape
of its errors (shapes.py), so the error boundary and the guard answer any route in its
caller's dialect without looking at paths:

- ``native``: Ollama's own API, ``{"error": "..."}``;
- ``openai``: chat/completions/embeddings/models, ``{"error": {message, type, param, code}}``;
- ``responses``: OpenAI Responses (Codex CLI), the same error shape as ``openai``;
- ``anthropic``: Messages (Claude Code), ``{"type": "error", "error": {type, message}}``.

What they share is kit.py (body, generation, THE stream loop, whole answers) and
images.py; they never import each other (tests/test_layers.py).
"""
