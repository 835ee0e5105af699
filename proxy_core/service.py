"""ProxyService: start, stop and re-apply settings on whatever asyncio loop is running.

The headless runner uses a plain asyncio (or uvloop) loop; the tray app uses qasync's.
Nothing here knows which.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client import generate_latest

from .access import Policy, load_or_create_token, token_required
from .app_factory import create_app
from .assembly import build_cache, build_profiles, build_router, close_all, conversations
from .cache import CacheLayer
from .capabilities import installed_capabilities
from .connections import ConnectionShedder, connection_cap, listen, raise_fd_limit
from .credentials import redact_url
from .engines import poller
from .engines.base import Engine
from .engines.router import Router
from .errors import StartupError, UpstreamError
from .events import EventHub, Listener
from .front import FrontRunner, FrontServer
from .observe.hardware import HardwareMonitor
from .observe.monitor import BackgroundMonitor
from .observe.ollama_status import OllamaStatus
from .observe.recorder import MetricsRecorder, MetricsSnapshot
from .observe.requests_log import RequestRecord
from .settings import ProxySettings, changed_scopes
from .state import ProxyState
from .tools.agent import agent_stage
from .tools.audit import AuditEntry
from .tools.engine import Asker
from .version import __version__

if TYPE_CHECKING:
    from .workers.link import BrokerLink

log = logging.getLogger(__name__)


class ProxyService:
    def __init__(
        self,
        settings: ProxySettings,
        *,
        cache: CacheLayer | None = None,
        worker: BrokerLink | None = None,
    ) -> None:
        self.settings = settings
        # One of several workers (proxy_core/workers/): the port is shared (SO_REUSEPORT),
        # the model slots and the metrics are the supervisor's broker's.
        self._worker = worker
        self._cache_override = cache
        self.state: ProxyState | None = None
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._retired: set[asyncio.Task[Any]] = set()
        self._monitor: asyncio.Task[None] | None = None
        self._poller: asyncio.Task[None] | None = None  # several Ollama hosts only
        self._install_token = ""
        self.connections: ConnectionShedder | None = None
        # Events that need a person (events.py); the tray app listens here, headless no one.
        self.events = EventHub()
        # Who approves a tool action that asks (the tray's prompt); headless: no one, so
        # "ask" is a denial unless tool-policy.json allows it.
        self.tool_asker: Asker | None = None

    def add_listener(self, listener: Listener) -> None:
        """Be told about events that need a person (e.g. a prompt cut by num_ctx)."""
        self.events.listeners.append(listener)

    @property
    def running(self) -> bool:
        return self._site is not None

    @property
    def address(self) -> tuple[str, int]:
        """The bound (host, port); the real port when settings asked for port 0."""
        if self._runner is None or not self._runner.addresses:
            return self.settings.host, self.settings.port
        host, port = self._runner.addresses[0][:2]
        return str(host), int(port)

    @property
    def front_served(self) -> int:
        """Requests answered on the short path (front.py) since start."""
        server = self._runner.server if self._runner is not None else None
        return server.front_served if isinstance(server, FrontServer) else 0

    @property
    def base_url(self) -> str:
        host, port = self.address
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}"

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("ProxyService is already running")
        settings = self.settings
        try:
            settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            settings.data_dir.chmod(0o700)
        except OSError as exc:
            raise StartupError(
                f"data_dir: cannot create or use {settings.data_dir} ({exc.strerror})"
            ) from None
        loop = asyncio.get_running_loop()
        # Before anything that needs closing: a bad token file stops start-up cleanly.
        self._install_token = await loop.run_in_executor(
            None, load_or_create_token, settings.data_dir
        )
        router = await build_router(settings)
        cache = self._cache_override or build_cache(settings)
        await cache.open()
        self.state = self._assemble(settings, router, cache)
        if settings.agent_tools:
            await self._start_tools(self.state, settings)
        runner = FrontRunner(
            create_app(self.state),
            keepalive_timeout=settings.keepalive_timeout,  # also a slow head (slow_clients)
            handler_cancellation=True,  # a client disconnect closes the upstream request
            shutdown_timeout=settings.shutdown_grace,
            access_log=None,
        )
        await runner.setup()
        fd_limit = raise_fd_limit()
        assert runner.server is not None
        self.connections = ConnectionShedder(
            runner.server, connection_cap(settings.max_client_connections, fd_limit)
        )
        self._runner = runner
        if settings.monitor_interval > 0:
            # Learn the models' digests before the first request, or an answer cached in
            # the first seconds would be keyed without its digest and lost once it is
            # known. Bounded by the check's timeout; Ollama down only delays this.
            await self.check_engines()
        try:
            await self._bind(settings.host, settings.port)
        except BaseException:
            await self.stop()
            raise
        if settings.monitor_interval > 0:
            await self._start_monitor(self.state, settings)
        self._start_poller(router, settings)
        shown = redact_url(settings.ollama_base)
        log.info("proxy listening on %s, forwarding to %s", self.base_url, shown)

    def _assemble(self, settings: ProxySettings, router: Router, cache: CacheLayer) -> ProxyState:
        """The request path's state from its parts; the metrics read the current parts (a
        settings change may swap them) through ``self.state``."""
        metrics = MetricsRecorder()
        metrics.attach_cache(
            lambda: self.state.cache.stats if self.state else cache.stats,
            lambda: self.state.cache.volume_now() if self.state else (0, 0),
        )
        state = ProxyState(settings, router.primary.client, cache, metrics, self._policy(settings))
        state.router = router
        state.front_stages = (agent_stage,)  # it steps aside while the tools are off
        metrics.attach_router(lambda: self.state.router.rows() if self.state else [])
        state.responses = conversations(cache, settings.data_dir)
        state.profiles = build_profiles(settings)
        state.events = self.events
        state.requests.resize(settings.inspector_size)
        if self._worker is not None:
            state.lanes = self._worker.lanes  # type: ignore[assignment]  # the same interface
            state.cluster = self._worker
            self._worker.collect = lambda: asyncio.get_running_loop().run_in_executor(
                None, generate_latest, metrics.registry
            )
            self._worker.drop_memory = self._drop_cache_memory
        lanes = state.lanes
        metrics.attach_lanes(lanes.depth, lambda: lanes.superseded)
        return state

    def _drop_cache_memory(self) -> None:
        """Another worker cleared the shared cache: what this one holds in memory goes."""
        if self.state is not None:
            self.state.cache.drop_memory()

    async def _start_tools(self, state: ProxyState, settings: ProxySettings) -> None:
        """The tool engine and /mcp (tools/); a bad workspace or policy file stops start-up
        with one line, before anything listens."""
        from .tools.mcp_endpoint import McpEndpoint
        from .tools.setup import build_engine

        loop = asyncio.get_running_loop()
        try:
            engine = await loop.run_in_executor(None, build_engine, settings, state.metrics)
        except (ValueError, OSError) as exc:
            if self._runner is None:  # at start-up: nothing listens yet, undo and say why
                await close_all(state.router)
                await state.cache.close()
                self.state = None
            raise StartupError(str(exc)) from None
        engine.asker = self.tool_asker
        state.tools = engine
        state.mcp = McpEndpoint(engine, __version__)
        await state.mcp.start()

    async def _start_monitor(self, state: ProxyState, settings: ProxySettings) -> None:
        loop = asyncio.get_running_loop()
        hardware = await loop.run_in_executor(None, HardwareMonitor, settings.data_dir)
        interval = settings.monitor_interval
        # nvidia-smi costs tens of ms of CPU: every fifth tick (5 s by default).
        monitor = BackgroundMonitor(state, hardware, interval=interval, gpu_every=5 * interval)
        self._monitor = loop.create_task(monitor.run(), name="proxy-monitor")

    def _policy(self, settings: ProxySettings) -> Policy:
        return Policy(settings, settings.access_token or self._install_token)

    @property
    def access_token(self) -> str:
        """The token clients send when one is required (never logged)."""
        return self.settings.access_token or self._install_token

    @property
    def token_required(self) -> bool:
        return token_required(self.settings)

    async def _bind(self, host: str, port: int) -> None:
        assert self._runner is not None
        self._site = await listen(self._runner, host, port, shared=self._worker is not None)

    async def stop(self) -> None:
        """Stop listening; in-flight streams get ``shutdown_grace`` seconds to finish."""
        for task in (self._monitor, self._poller):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        self._monitor = self._poller = None
        runner, self._runner, self._site = self._runner, None, None
        if runner is not None:
            await runner.cleanup()
        if self._retired:
            await asyncio.gather(*self._retired, return_exceptions=True)
        state, self.state = self.state, None
        if state is not None:
            await self._stop_tools(state)
            await close_all(state.router)
            await state.cache.close()
            if state.responses is not None:
                await state.responses.close()

    def set_caching(self, enabled: bool) -> None:
        """Switch the cache on or off at once (the tray toggle); no restart."""
        self.settings = self.settings.replace(cache_enabled=enabled)
        if self.state is not None:
            self.state.settings = self.settings
            self.state.cache.enabled = enabled

    async def apply(self, new: ProxySettings) -> None:
        """Re-apply settings while running: each part reacts to the scopes of the settings
        that changed (Spec.scope); ``live`` ones are read per request, ``restart`` ones at
        the next start."""
        old, state = self.settings, self.state
        self.settings = new
        if state is None:
            return
        scopes = changed_scopes(old, new)
        if "engines" in scopes:
            await self._swap_engines(state, new)
        if "cache_store" in scopes:  # the disk or a shared Redis: a new store
            await self._swap_cache_store(state, new)
        state.cache.configure(enabled=new.cache_enabled, policy=new.cache_policy, ttl=new.cache_ttl)
        if "profiles" in scopes:
            state.profiles = build_profiles(new)
            state.cache.forget_keys()  # remembered request bytes -> keys had the old profiles
        state.policy = self._policy(new)
        if new.cache_size_limit != old.cache_size_limit:
            await state.cache.resize(new.cache_size_limit)
        state.settings = new
        if "inspector" in scopes:
            state.requests.resize(new.inspector_size)
        if "tools" in scopes:
            await self._stop_tools(state)
            if new.agent_tools:
                try:
                    await self._start_tools(state, new)
                except StartupError:  # e.g. the workspace is gone: the tools stay off
                    self.settings = state.settings = new.replace(agent_tools=False)
                    raise
        if "listen" in scopes:
            await self._rebind(new, old)

    async def _swap_engines(self, state: ProxyState, new: ProxySettings) -> None:
        fresh = await build_router(new)
        retired = state.router
        state.router, state.upstream = fresh, fresh.primary.client
        for backend in retired.backends:
            self._retire(backend.client, new.shutdown_grace)
        if self._poller is not None:
            self._poller.cancel()
            self._poller = None
        self._start_poller(fresh, new)

    async def _swap_cache_store(self, state: ProxyState, new: ProxySettings) -> None:
        fresh = build_cache(new)
        await fresh.open()
        retired, state.cache = state.cache, fresh
        await retired.close()
        if state.responses is not None:
            await state.responses.close()
        state.responses = conversations(fresh, new.data_dir)

    async def _stop_tools(self, state: ProxyState) -> None:
        mcp, tools = state.mcp, state.tools
        state.mcp = state.tools = None  # new calls see the tools off at once
        if mcp is not None:
            await mcp.stop()
        if tools is not None:
            await tools.audit.drain()

    async def _rebind(self, new: ProxySettings, old: ProxySettings) -> None:
        site = self._site
        if site is not None:
            await site.stop()
            self._site = None
        try:
            await self._bind(new.host, new.port)
        except BaseException:
            await self._bind(old.host, old.port)  # keep serving where we were
            self.settings = old.replace(
                **{k: v for k, v in new.to_json().items() if k not in ("host", "port", "data_dir")}
            )
            if self.state is not None:
                self.state.settings = self.settings
                self.state.policy = self._policy(self.settings)
            raise

    def _start_poller(self, router: Router, settings: ProxySettings) -> None:
        """The one health poller: always with several engines (routing needs it); with one,
        while the monitor runs (the tray's status, the models' digests)."""
        if router.single and settings.monitor_interval <= 0:
            return
        self._poller = poller.start(router, settings.upstream_poll_interval, self._learn)

    def _learn(self, status: OllamaStatus) -> None:
        """The primary engine's status: the tray's, and the models' labels and digests
        (cache keys include a model's digest: cache/keys.py)."""
        state = self.state
        if state is None:
            return
        state.metrics.ollama = status
        if status.reachable:
            state.metrics.set_known_models(status.models)
            state.cache.learn_digests(
                [{"model": name, "digest": digest} for name, digest in status.digests]
            )

    def _retire(self, client: Engine, grace: float) -> None:
        """Close a replaced upstream client once requests still using it had time to end."""

        async def later() -> None:
            await asyncio.sleep(grace)
            await client.close()

        task = asyncio.get_running_loop().create_task(later())
        self._retired.add(task)
        task.add_done_callback(self._retired.discard)

    def metrics_snapshot(self) -> MetricsSnapshot | None:
        return self.state.metrics.snapshot() if self.state is not None else None

    # what the tray asks: app/ talks to the service, never to its state ----------------------
    def tool_actions(self) -> list[AuditEntry] | None:
        """The audit log's recent entries while the tools are on (None: they are off)."""
        state = self.state
        if state is None or state.tools is None:
            return None
        return list(state.tools.audit.recent)

    def recent_requests(self) -> list[RequestRecord]:
        """The inspector's requests, newest first."""
        state = self.state
        return state.requests.latest(len(state.requests.records)) if state is not None else []

    async def installed_models(self) -> list[tuple[str, frozenset[str]]] | None:
        """Each installed model with its capabilities; None when the engines cannot say."""
        if self.state is None:
            return None
        try:
            return await installed_capabilities(self.state)
        except UpstreamError:
            return None

    async def check_engines(self) -> None:
        """Ask the engines now (version, models, health) instead of at the poller's next
        turn."""
        if self.state is not None:
            self._learn(await poller.poll_all(self.state.router))

    async def clear_cache(self) -> int | None:
        """Empty the cache; the entries removed, None when the proxy is not running."""
        return await self.state.cache.clear() if self.state is not None else None
