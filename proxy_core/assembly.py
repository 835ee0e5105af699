"""The parts a running proxy is assembled from, each built from the settings: the
engines in their router, the cache, the model profiles, the stored conversations.
ProxyService builds them at start and again when a setting of their scope changes."""

from __future__ import annotations

import asyncio
from pathlib import Path

from .cache import CacheLayer
from .dialects.response_store import ConversationStore, ResponseStore, SharedResponseStore
from .engines.registry import build
from .engines.router import Router
from .profiles import ProfileBook, parse_profiles
from .settings import ProxySettings


async def close_all(router: Router) -> None:
    await asyncio.gather(*(b.client.close() for b in router.backends), return_exceptions=True)


async def build_router(settings: ProxySettings) -> Router:
    """An engine per spec (started), in a router; the first is the primary."""
    clients = [
        build(
            spec,
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
            max_connections=settings.max_connections,
            # Ollama hosts get upstream_authorization (a gateway's header), the others
            # the OpenAI-compatible servers' key; a spec's key_env wins over both.
            authorization=(
                settings.upstream_authorization
                if spec.kind == "ollama"
                else f"Bearer {settings.openai_api_key}"
                if settings.openai_api_key
                else ""
            ),
            prefix=f"{spec.name}/" if spec.kind != "ollama" else "",
        )
        for spec in settings.engine_specs
    ]
    for client in clients:
        await client.start()
    return Router(
        clients,
        breaker_failures=settings.breaker_failures,
        breaker_backoff=settings.breaker_backoff,
    )


def build_profiles(settings: ProxySettings) -> ProfileBook:
    return ProfileBook(parse_profiles(settings.models, settings.num_ctx_defaults))


def build_cache(settings: ProxySettings) -> CacheLayer:
    return CacheLayer(
        settings.data_dir / "cache",
        enabled=settings.cache_enabled,
        policy=settings.cache_policy,
        ttl=settings.cache_ttl,
        size_limit=settings.cache_size_limit,
        shared_url=settings.cache_url,
    )


def conversations(cache: CacheLayer, data_dir: Path) -> ConversationStore:
    """Where Responses conversations live: with a shared Redis there (stateless proxies:
    any of them continues a conversation), else on this proxy's disk."""
    if cache.shared is not None:
        return SharedResponseStore(cache.shared)
    return ResponseStore(data_dir / "responses")
