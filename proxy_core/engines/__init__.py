"""The engines the proxy sends generations to, behind one interface (base.py): Ollama
(ollama.py, on the lean pool of pool.py for whole replies) and OpenAI-compatible servers
(openai_compat.py: llama-server, LM Studio, vLLM, translated to and from the native
form). registry.py builds them from the settings; router.py picks one per request (one
host is a router of one); poller.py and listings.py ask all of them.

Nothing is imported here: each module is imported by its own name, so that a module of
the package never drags the rest in (and no circle runs through this file)."""
