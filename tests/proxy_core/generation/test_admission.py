"""The lane stage on its own (generation/admission.py): which lane a generation takes and
how many slots its model has, and that waiting requests are told apart by client. Written
against the survivors of `make mutate MUTANTS='proxy_core.generation.admission*'`."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from proxy_core.engines.ollama import OllamaEngine
from proxy_core.engines.router import Router
from proxy_core.generation.admission import Lane, lane_for, take, wait
from proxy_core.generation.reply import Facts
from proxy_core.lanes import Lanes, Superseded
from proxy_core.observe.recorder import MetricsRecorder
from proxy_core.profiles import NO_PROFILE, Profile

CHAT = {"model": "llama3.2", "messages": []}


def state(hosts: int = 1, default_num_parallel: int = 4) -> Any:
    engines = [
        OllamaEngine(f"http://h{i}:11434", connect_timeout=1, read_timeout=1, max_connections=1)
        for i in range(hosts)
    ]
    router = Router(engines)
    for backend in router.backends:
        router.polled(backend, True, models=["llama3.2:latest"])
    settings = SimpleNamespace(default_num_parallel=default_num_parallel)
    return SimpleNamespace(
        router=router, settings=settings, lanes=Lanes(), metrics=MetricsRecorder()
    )


@pytest.mark.parametrize(
    ("header", "background"),
    [("background", True), (" Background ", True), ("INTERACTIVE", False), ("interactive", False)],
)
def test_the_clients_mark_wins_in_any_case(header: str, background: bool) -> None:
    """X-Proxy-Priority overrides both the FIM rule and the profile, case-insensitively."""
    fim = {"model": "llama3.2", "prompt": "a", "suffix": "b"}
    profile = Profile(priority="background")
    cases = (  # what the other rules would say: background, background, interactive
        ("generate", fim, NO_PROFILE),
        ("chat", CHAT, profile),
        ("chat", CHAT, NO_PROFILE),
    )
    for kind, body, chosen in cases:
        lane = lane_for(state(), kind, body, {"X-Proxy-Priority": header}, chosen)
        assert lane.background is background


@pytest.mark.parametrize(
    ("kind", "body", "background"),
    [
        ("generate", {"model": "llama3.2", "prompt": "a", "suffix": "b"}, True),  # autocomplete
        ("generate", {"model": "llama3.2", "prompt": "a"}, False),  # no suffix: a question
        ("chat", {**CHAT, "suffix": "b"}, False),  # a suffix means FIM on generate only
        ("generate", {"model": "llama3.2", "prompt": "a", "suffix": ""}, False),
    ],
)
def test_fill_in_the_middle_is_background(
    kind: str, body: dict[str, Any], background: bool
) -> None:
    assert lane_for(state(), kind, body, {}, NO_PROFILE).background is background  # type: ignore[arg-type]


def test_a_profile_sets_the_lane_a_request_does_not_mark() -> None:
    assert lane_for(state(), "chat", CHAT, {}, Profile(priority="background")).background
    assert not lane_for(state(), "chat", CHAT, {}, Profile(priority="interactive")).background
    assert not lane_for(state(), "chat", CHAT, {"X-Other": "background"}, NO_PROFILE).background


def test_slots_are_per_host_that_has_the_model() -> None:
    """num_parallel (else the default) times the usable hosts with that model."""
    assert lane_for(state(1), "chat", CHAT, {}, NO_PROFILE) == Lane("llama3.2:latest", 4, False)
    assert lane_for(state(2), "chat", CHAT, {}, Profile(num_parallel=3)).slots == 6
    other = {"model": "qwen", "messages": []}  # nobody lists it: one host's worth
    assert lane_for(state(2, default_num_parallel=2), "chat", other, {}, NO_PROFILE).slots == 2
    slots = lane_for(state(3, default_num_parallel=2), "chat", CHAT, {}, NO_PROFILE).slots
    assert slots == 6 and isinstance(slots, int)


async def test_waiting_requests_are_told_apart_by_client() -> None:
    """A newer autocomplete supersedes only its own client's waiting ones."""
    s = state(default_num_parallel=1)
    lane = Lane("llama3.2:latest", 1, True)
    assert take(s, lane)  # the one slot
    assert not take(s, lane)  # none left: the others wait
    first = asyncio.ensure_future(wait(s, lane, Facts("continue", "llama3.2", None)))
    other = asyncio.ensure_future(wait(s, lane, Facts("zed", "llama3.2", None)))
    await asyncio.sleep(0)
    newer = asyncio.ensure_future(wait(s, lane, Facts("continue", "llama3.2", None)))
    await asyncio.sleep(0)
    with pytest.raises(Superseded):
        await first
    assert not other.done() and not newer.done()
    s.lanes.release(lane.model)
    await other
    s.lanes.release(lane.model)
    await newer
