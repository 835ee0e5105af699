"""The listing of several engines (engines/listings.py): the union of what each answers,
whatever the others do (down, an error, garbage, an open breaker), and names told apart.
Each engine is a real OllamaEngine against a small server answering /api/tags as told."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from proxy_core.engines.listings import client_for_model, fetch_listing
from proxy_core.engines.ollama import OllamaEngine
from proxy_core.engines.router import NoUpstream, Router

DEAD = "http://127.0.0.1:9"  # nothing listens there


class Hosts:
    def __init__(self) -> None:
        self.servers: list[TestServer] = []
        self.engines: list[OllamaEngine] = []

    async def tags(self, answer: Any, status: int = 200, prefix: str = "") -> OllamaEngine:
        """An engine whose /api/tags answers ``answer`` (JSON, or bytes as they are)."""
        raw = answer if isinstance(answer, bytes) else json.dumps(answer).encode()

        async def handler(request: web.Request) -> web.Response:
            return web.Response(body=raw, status=status, content_type="application/json")

        app = web.Application()
        app.router.add_get("/api/tags", handler)
        server = TestServer(app)
        await server.start_server()
        self.servers.append(server)
        return await self.engine(str(server.make_url("")).rstrip("/"), prefix)

    async def engine(self, url: str, prefix: str = "") -> OllamaEngine:
        engine = OllamaEngine(
            url, connect_timeout=1, read_timeout=5, max_connections=4, prefix=prefix
        )
        await engine.start()
        self.engines.append(engine)
        return engine


@pytest.fixture
async def hosts() -> AsyncIterator[Hosts]:
    made = Hosts()
    try:
        yield made
    finally:
        for engine in made.engines:
            await engine.close()
        for server in made.servers:
            await server.close()


def listed(reply: tuple[int, Any, bytes]) -> list[str]:
    status, _, raw = reply
    assert status == 200, raw
    return [m["name"] for m in json.loads(raw)["models"]]


async def test_a_host_that_is_down_leaves_the_others_listing(hosts: Hosts) -> None:
    router = Router([await hosts.engine(DEAD), await hosts.tags({"models": [{"name": "b:1"}]})])
    assert listed(await fetch_listing(router, "/api/tags")) == ["b:1"]


async def test_errors_and_garbage_from_one_host_are_left_out(hosts: Hosts) -> None:
    router = Router(
        [
            await hosts.tags({"models": [{"name": "ghost:1"}]}, status=500),  # an error
            await hosts.tags(b"not json at all"),
            await hosts.tags([{"name": "a list, not an object"}]),
            await hosts.tags({"models": [{"name": "b:1"}]}),
        ]
    )
    assert listed(await fetch_listing(router, "/api/tags")) == ["b:1"]


async def test_when_no_host_answers_the_first_error_is_passed_on(hosts: Hosts) -> None:
    router = Router(
        [
            await hosts.tags({"error": "first"}, status=500),
            await hosts.tags({"error": "second"}, status=503),
        ]
    )
    status, _, raw = await fetch_listing(router, "/api/tags")
    assert (status, json.loads(raw)) == (500, {"error": "first"})


async def test_entries_named_either_way_and_junk_skipped(hosts: Hosts) -> None:
    junk = ["junk", {}, None, {"model": 5}]  # first: junk never ends the listing
    entries = [*junk, {"name": "old:1"}, {"model": "new:1", "name": "new:1"}]
    router = Router([await hosts.tags({"models": entries}), await hosts.tags({"models": []})])
    assert listed(await fetch_listing(router, "/api/tags")) == ["old:1", "new:1"]


async def test_a_name_two_engines_serve_is_told_apart_by_the_prefix(hosts: Hosts) -> None:
    router = Router(
        [
            await hosts.tags({"models": [{"name": "qwen:7b", "model": "qwen:7b"}]}),
            await hosts.tags({"models": [{"name": "qwen:7b", "model": "qwen:7b"}]}, prefix="lms/"),
        ]
    )
    status, _, raw = await fetch_listing(router, "/api/tags")
    models = json.loads(raw)["models"]
    assert [(m["name"], m["model"]) for m in models] == [
        ("qwen:7b", "qwen:7b"),
        ("lms/qwen:7b", "lms/qwen:7b"),  # routes to that engine by name
    ]


async def test_a_host_whose_breaker_is_open_is_not_asked(hosts: Hosts) -> None:
    skipped = await hosts.tags({"models": [{"name": "a:1"}]})
    router = Router([skipped, await hosts.tags({"models": [{"name": "b:1"}]})])
    router.backends[0].failures = router.breaker_failures
    router.backends[0].open_until = router.clock() + 100
    assert listed(await fetch_listing(router, "/api/tags")) == ["b:1"]


async def test_a_request_about_no_model_goes_to_the_primary(hosts: Hosts) -> None:
    primary = await hosts.tags({"models": []})
    router = Router([primary, await hosts.tags({"models": []})])
    router.backends[0].in_flight = 5  # the least busy would be the other one
    assert client_for_model(router, None) is primary


async def test_when_every_engine_fails_unexpectedly_the_listing_says_so(hosts: Hosts) -> None:
    """Not an engine's mapped error (those are passed on): a 502 saying what was asked."""

    class Broken(OllamaEngine):
        async def fetch(self, *args: Any, **kwargs: Any) -> Any:
            raise ValueError("a bug in the engine")

    broken = [Broken(DEAD, connect_timeout=1, read_timeout=5, max_connections=1) for _ in "ab"]
    with pytest.raises(NoUpstream, match=r"^no engine answered /api/tags$") as raised:
        await fetch_listing(Router(broken), "/api/tags")
    assert raised.value.status == 502


async def test_the_same_model_on_two_hosts_is_listed_once(hosts: Hosts) -> None:
    """A model is its ``model`` name (``name`` may be an alias), once in the union."""
    router = Router(
        [
            await hosts.tags({"models": [{"model": "m:1", "name": "first"}]}),
            await hosts.tags({"models": [{"model": "m:1", "name": "second"}]}),
        ]
    )
    assert listed(await fetch_listing(router, "/api/tags")) == ["first"]
