"""Priority lanes (proxy_core/lanes.py): the scheduler alone, then through the proxy with
one slot in front of a slow simulator, as an IDE uses it (a chat plus autocomplete)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from proxy_core import ProxyService
from proxy_core.lanes import Lanes, Superseded
from tests.conftest import Sim, make_settings

# -- the scheduler ---------------------------------------------------------------------------


async def until(check: Any) -> None:
    for _ in range(500):
        if check():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition not reached")


async def test_interactive_first_then_background_in_arrival_order() -> None:
    lanes = Lanes()
    order: list[str] = []
    await lanes.acquire("m", 1, background=False, client="a")  # the slot is taken

    async def wait(name: str, background: bool) -> None:
        await lanes.acquire("m", 1, background=background, client=name)
        order.append(name)
        lanes.release("m")

    tasks: list[asyncio.Future[None]] = []
    for name, background in (("bg1", True), ("chat1", False), ("bg2", True), ("chat2", False)):
        tasks.append(asyncio.ensure_future(wait(name, background)))
        queued = len(tasks)
        await until(lambda: lanes.depth()["m"][1] == queued)  # noqa: B023 (awaited here)
    lanes.release("m")
    await asyncio.gather(*tasks)
    assert order == ["chat1", "chat2", "bg1", "bg2"]
    assert lanes.depth()["m"] == (0, 0)


async def test_a_new_autocomplete_supersedes_the_same_clients_waiting_ones() -> None:
    lanes = Lanes()
    await lanes.acquire("m", 1, background=False, client="x")
    first = asyncio.ensure_future(lanes.acquire("m", 1, background=True, client="zed"))
    other = asyncio.ensure_future(lanes.acquire("m", 1, background=True, client="continue"))
    await until(lambda: lanes.depth()["m"][1] == 2)
    second = asyncio.ensure_future(lanes.acquire("m", 1, background=True, client="zed"))
    with pytest.raises(Superseded):
        await first
    assert lanes.superseded == 1 and not other.done()
    lanes.release("m")
    await other  # arrival order among the survivors
    lanes.release("m")
    await second
    lanes.release("m")
    assert lanes.depth()["m"] == (0, 0)


async def test_a_client_that_leaves_while_waiting_gives_its_turn_away() -> None:
    lanes = Lanes()
    await lanes.acquire("m", 1, background=False, client="x")
    gone = asyncio.ensure_future(lanes.acquire("m", 1, background=False, client="y"))
    stays = asyncio.ensure_future(lanes.acquire("m", 1, background=False, client="z"))
    await until(lambda: lanes.depth()["m"][1] == 2)
    gone.cancel()
    await asyncio.gather(gone, return_exceptions=True)
    lanes.release("m")
    await stays
    assert lanes.depth()["m"] == (1, 0)


async def test_the_fast_path_allows_num_parallel_at_once() -> None:
    lanes = Lanes()
    for _ in range(3):
        assert await lanes.acquire("m", 3, background=False, client="c") == 0.0
    blocked = asyncio.ensure_future(lanes.acquire("m", 3, background=False, client="c"))
    await until(lambda: lanes.depth()["m"] == (3, 1))
    lanes.release("m")
    assert await blocked >= 0.0


# -- through the proxy -------------------------------------------------------------------------

CONTINUE = {"User-Agent": "Continue/1.2 (vscode)"}


def fim(n: int) -> dict[str, Any]:
    return {
        "model": "qwen2.5-coder:1.5b",
        "prompt": f"def f{n}(",
        "suffix": "):\n    pass",
        "stream": False,
    }


@pytest.fixture
async def one_slot(sim: Sim, tmp_path: Path) -> Any:
    sim.config.parallel = 1
    sim.config.token_delay = 0.05
    service = ProxyService(
        make_settings(tmp_path, sim.url, models={"*": {"num_parallel": 1}}, cache_enabled=False)
    )
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


async def test_chat_jumps_the_queue_and_superseded_autocompletes_never_reach_ollama(
    one_slot: ProxyService, sim: Sim
) -> None:
    assert one_slot.state is not None
    lanes = one_slot.state.lanes
    async with aiohttp.ClientSession(headers=CONTINUE) as http:

        async def send(path: str, body: dict[str, Any]) -> int:
            async with http.post(one_slot.base_url + path, json=body) as resp:
                await resp.read()
                return resp.status

        # A running generation holds the model's only slot.
        sim.config.reply_words = 30  # about 1.5 s of streamed tokens
        running = asyncio.ensure_future(
            send(
                "/api/generate", {**fim(0), "suffix": "", "prompt": "a long story", "stream": True}
            )
        )
        await until(lambda: lanes.depth().get("qwen2.5-coder:1.5b", (0, 0))[0] == 1)
        autocompletes = []
        for n in range(1, 6):  # the user types on: five autocomplete requests
            autocompletes.append(asyncio.ensure_future(send("/api/generate", fim(n))))
            arrived = n
            await until(
                lambda: lanes.superseded + lanes.depth()["qwen2.5-coder:1.5b"][1] == arrived  # noqa: B023
            )
        chat = asyncio.ensure_future(
            send(
                "/api/chat",
                {
                    "model": "qwen2.5-coder:1.5b",
                    "stream": False,
                    "messages": [{"role": "user", "content": "why?"}],
                },
            )
        )
        await until(lambda: lanes.depth()["qwen2.5-coder:1.5b"][1] == 2)
        statuses = await asyncio.gather(running, *autocompletes, chat)
    assert statuses == [200, 499, 499, 499, 499, 200, 200]
    started = [(r.path, r.json().get("prompt")) for r in sim.recorder.started]
    assert started == [
        ("/api/generate", "a long story"),
        ("/api/chat", None),  # the chat ran before the waiting autocomplete...
        ("/api/generate", "def f5("),  # ...and only the newest autocomplete reached Ollama
    ]
    assert sim.recorder.most_running == 1


async def test_a_cache_hit_is_served_while_the_queue_is_full(sim: Sim, tmp_path: Path) -> None:
    sim.config.parallel = 1
    service = ProxyService(make_settings(tmp_path, sim.url, models={"*": {"num_parallel": 1}}))
    await service.start()
    cached = {
        "model": "llama3.2",
        "messages": [{"role": "user", "content": "c"}],
        "stream": False,
        "options": {"temperature": 0},
    }
    try:
        assert service.state is not None
        async with aiohttp.ClientSession() as http:

            async def send(body: dict[str, Any]) -> aiohttp.ClientResponse:
                async with http.post(service.base_url + "/api/chat", json=body) as resp:
                    await resp.read()
                    return resp

            assert (await send(cached)).headers["X-Cache"] == "MISS"
            await service.state.cache.drain()
            sim.config.token_delay = 0.2
            slow = {"model": "llama3.2", "messages": [{"role": "user", "content": "a b c d"}]}
            busy = [asyncio.ensure_future(send({**slow, "stream": i % 2 == 0})) for i in range(3)]
            lanes = service.state.lanes
            await until(lambda: lanes.depth().get("llama3.2:latest", (0, 0)) == (1, 2))
            hit = await asyncio.wait_for(send(cached), 1.0)  # far less than one slow reply
            assert hit.headers["X-Cache"] == "HIT"
            assert lanes.depth()["llama3.2:latest"] == (1, 2)  # the queue had not moved
            await asyncio.gather(*busy)
    finally:
        await service.stop()
