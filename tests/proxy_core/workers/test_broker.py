"""The workers' broker (proxy_core/workers/broker.py, link.py) in one process: the slots
are one set for every worker, a dead worker's slots come back, and a scrape is the sum."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from proxy_core.lanes import Superseded
from proxy_core.workers import slots
from proxy_core.workers.broker import Broker
from proxy_core.workers.link import BrokerLink
from proxy_core.workers.merge import merge


@pytest.fixture
async def broker(tmp_path: Path) -> AsyncIterator[Broker]:
    slots.create(tmp_path / "slots")
    running = Broker(tmp_path / "broker.sock", tmp_path / "slots")
    await running.start()
    try:
        yield running
    finally:
        await running.close()


async def linked(broker: Broker, index: int) -> BrokerLink:
    link = BrokerLink(broker.path, index)
    await link.connect()
    return link


async def test_one_slot_is_one_for_every_worker(broker: Broker) -> None:
    a, b = await linked(broker, 0), await linked(broker, 1)
    assert a.lanes.try_acquire("llama3.2", 1)  # free: taken in the table, no round trip
    assert not b.lanes.try_acquire("llama3.2", 1)
    waiting = asyncio.ensure_future(b.lanes.acquire("llama3.2", 1, background=False, client="y"))
    await asyncio.sleep(0.05)
    assert not waiting.done()  # worker 1 waits for worker 0's slot
    a.lanes.release("llama3.2")
    assert await asyncio.wait_for(waiting, 2) >= 0.0
    assert a.lanes.depth()["llama3.2"] == (1, 0)  # every worker sees the same counts
    b.lanes.release("llama3.2")
    assert a.lanes.try_acquire("llama3.2", 1)
    await a.close()
    await b.close()


async def test_a_dead_workers_slots_come_back(broker: Broker) -> None:
    a, b = await linked(broker, 0), await linked(broker, 1)
    assert a.lanes.try_acquire("llama3.2", 1)
    waiting = asyncio.ensure_future(b.lanes.acquire("llama3.2", 1, background=False, client="y"))
    await asyncio.sleep(0.05)
    await a.close()  # the worker died holding the slot
    assert await asyncio.wait_for(waiting, 2) >= 0.0
    await b.close()


async def test_a_cancelled_wait_leaves_no_slot_behind(broker: Broker) -> None:
    a, b = await linked(broker, 0), await linked(broker, 1)
    await a.lanes.acquire("m", 1, background=False, client="x")
    gone = asyncio.ensure_future(b.lanes.acquire("m", 1, background=False, client="y"))
    await asyncio.sleep(0.05)
    gone.cancel()  # its client hung up while it waited
    await asyncio.sleep(0.05)
    a.lanes.release("m")
    assert a.lanes.try_acquire("m", 1)  # nobody waits any more: free for the taking
    await a.close()
    await b.close()


async def test_autocomplete_is_superseded_across_workers(broker: Broker) -> None:
    a, b = await linked(broker, 0), await linked(broker, 1)
    await a.lanes.acquire("m", 1, background=False, client="chat")
    older = asyncio.ensure_future(b.lanes.acquire("m", 1, background=True, client="continue"))
    await asyncio.sleep(0.05)
    newer = asyncio.ensure_future(a.lanes.acquire("m", 1, background=True, client="continue"))
    with pytest.raises(Superseded):
        await asyncio.wait_for(older, 2)
    a.lanes.release("m")
    await asyncio.wait_for(newer, 2)
    await a.close()
    await b.close()


async def test_a_scrape_sums_every_worker(broker: Broker) -> None:
    links = [await linked(broker, i) for i in range(3)]
    for index, link in enumerate(links):
        text = _exposition(requests=index + 1, in_flight=index, up=1)

        async def collect(text: bytes = text) -> bytes:
            return text

        link.collect = collect
    merged = (await links[1].scrape()).decode()
    assert "proxy_requests_total 6.0" in merged  # 1 + 2 + 3
    assert "proxy_requests_in_flight 3.0" in merged  # each worker's own: summed
    assert "proxy_ollama_up 1.0" in merged  # the same Ollama seen by all: once
    for link in links:
        await link.close()


def test_merge_keeps_histograms_whole() -> None:
    merged = merge([_exposition(2, 0, 1).decode(), _exposition(5, 1, 0).decode()]).decode()
    assert "proxy_requests_total 7.0" in merged
    assert "proxy_ollama_up 1.0" in merged


def _exposition(requests: int, in_flight: int, up: int) -> bytes:
    registry = CollectorRegistry()
    Counter("proxy_requests", "requests", registry=registry).inc(requests)
    Gauge("proxy_requests_in_flight", "in flight", registry=registry).set(in_flight)
    Gauge("proxy_ollama_up", "up", registry=registry).set(up)
    return generate_latest(registry)


def test_worker_count_is_the_setting_or_the_cores() -> None:
    import os

    from proxy_core.workers.supervisor import worker_count

    assert [worker_count(n) for n in ("1", "3", "64")] == [1, 3, 64]
    assert worker_count("auto") == (os.cpu_count() or 1)
