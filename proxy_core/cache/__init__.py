"""Response cache: keys, policy, disk store, request coalescing."""

from .keys import RouteKind, cache_key, canonical_request, normalize_model
from .layer import CacheLayer
from .policy import CacheControl, is_cacheable_request, is_complete_answer, parse_cache_control
from .store import CacheEntry, CacheStats, ResponseStore

__all__ = [
    "CacheControl",
    "CacheEntry",
    "CacheLayer",
    "CacheStats",
    "ResponseStore",
    "RouteKind",
    "cache_key",
    "canonical_request",
    "is_cacheable_request",
    "is_complete_answer",
    "normalize_model",
    "parse_cache_control",
]
