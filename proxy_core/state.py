"""Everything a request handler needs, hung off the aiohttp app by typed keys."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import web

from .access import Policy, add_cors
from .cache import CacheLayer
from .engines.base import Engine
from .engines.router import Router
from .events import EventHub
from .lanes import Lanes
from .observe.recorder import MetricsRecorder
from .observe.requests_log import RequestLog
from .profiles import ProfileBook
from .settings import ProxySettings

if TYPE_CHECKING:  # guard.py and the dialects import this module
    from .dialects.response_store import ConversationStore
    from .tools.engine import ToolEngine
    from .tools.mcp_endpoint import McpEndpoint


class Cluster(Protocol):
    """What a worker knows of the others (workers/link.py): its index, a scrape of every
    worker's metrics summed, and telling them all that the cache was cleared."""

    index: int

    async def scrape(self) -> bytes: ...

    async def cleared(self) -> None: ...


@dataclasses.dataclass
class ProxyState:
    """Mutable on purpose: ``ProxyService.apply`` swaps settings and parts in place, so
    handlers always see the current ones without restarting the server."""

    settings: ProxySettings
    upstream: Engine
    cache: CacheLayer
    metrics: MetricsRecorder
    policy: Policy  # who may call (access.py, applied by guard.py); rebuilt on change
    # Conversations for OpenAI Responses' previous_response_id (dialects/response_store.py)
    responses: ConversationStore | None = None
    # model -> (monotonic time, capabilities from /api/show): dialects/kit.py
    capabilities: dict[str, tuple[float, frozenset[str]]] = dataclasses.field(default_factory=dict)
    # The serving policy per model (profiles.py), rebuilt when settings change.
    profiles: ProfileBook = dataclasses.field(default_factory=lambda: ProfileBook({}))
    lanes: Lanes = dataclasses.field(default_factory=Lanes)  # per-model slots (lanes.py)
    events: EventHub = dataclasses.field(default_factory=EventHub)  # for a person (tray)
    # The last requests, for the inspector (observe/requests_log.py).
    requests: RequestLog = dataclasses.field(default_factory=lambda: RequestLog(200))
    # Agent mode (tools/): None unless agent_tools is on.
    tools: ToolEngine | None = None
    mcp: McpEndpoint | None = None
    # Stages before the generation pipeline's own (generation.FrontStage: the agent
    # loop), set by the service; typed loosely here since the pipeline imports this.
    front_stages: tuple[Any, ...] = ()
    # One of several workers (proxy_core/workers/): the whole proxy's metrics come from it.
    cluster: Cluster | None = None
    # Which Ollama host serves a request (engines/router.py); ``upstream`` is its primary.
    router: Router = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        self.router = Router([self.upstream])


STATE = web.AppKey("proxy_state", ProxyState)

# Per-request facts the metrics middleware reads after the handler ran.
REQUEST_MODEL = web.RequestKey("proxy_model", str)
REQUEST_CACHE = web.RequestKey("proxy_cache", str)
CLIENT_GONE = web.RequestKey("proxy_client_gone", bool)  # left mid-stream: 499
REQUEST_BODY = web.RequestKey("proxy_body", bytes)  # only when log_bodies is on
REQUEST_TTFB = web.RequestKey("proxy_ttfb", float)  # seconds to Ollama's first byte
REQUEST_REFUSED_BY = web.RequestKey("proxy_refused_by", str)  # the guard rule that refused
# (prompt tokens, completion tokens, tokens/s) from Ollama's final chunk, for the inspector
REQUEST_TOKENS = web.RequestKey("proxy_tokens", tuple)


def note_tokens(request: web.Request, final: Mapping[str, Any]) -> None:
    prompt, completion = final.get("prompt_eval_count"), final.get("eval_count")
    duration = final.get("eval_duration")
    rate = (
        completion / (duration / 1e9)
        if isinstance(completion, int) and isinstance(duration, int) and duration > 0
        else None
    )
    request[REQUEST_TOKENS] = (
        prompt if isinstance(prompt, int) else None,
        completion if isinstance(completion, int) else None,
        rate,
    )


def learn_tags(state: ProxyState, models: Any) -> None:
    """An ``/api/tags`` model list seen anywhere: metric labels and the cache's digests."""
    state.metrics.learn_models(models)
    state.cache.learn_digests(models)


async def prepare_stream(request: web.Request, response: web.StreamResponse) -> None:
    """Send a stream's head. HTTP/1.1 clients get chunked encoding; HTTP/1.0 clients (nginx
    talks HTTP/1.0 to backends by default) cannot, so their stream ends when the
    connection closes, as HTTP/1.0 defines."""
    if request.version >= (1, 1):
        response.enable_chunked_encoding()
    else:
        response.force_close()
    add_cors(request.app[STATE].policy, request.headers.get("Origin"), response.headers)
    await response.prepare(request)


def client_gone(request: web.Request) -> None:
    """The client left mid-stream (an IDE cancelling a completion does it all the time):
    normal, so no error log; the metrics record it as 499. Leaving the handler closes
    the upstream response, which stops Ollama generating."""
    request[CLIENT_GONE] = True
