"""Which Ollama host a request goes to (engines/router.py): pure, with a clock moved by hand."""

from __future__ import annotations

import pytest

from proxy_core.engines.ollama import OllamaEngine
from proxy_core.engines.router import CLOSED, HALF_OPEN, OPEN, NoUpstream, Router, conversation_key
from tests.fakes.clock import Clock


def router(n: int = 2, clock: Clock | None = None) -> Router:
    clients = [
        OllamaEngine(f"http://host{i}:11434", connect_timeout=1, read_timeout=1, max_connections=4)
        for i in range(n)
    ]
    return Router(clients, breaker_failures=2, breaker_backoff=10.0, clock=clock or Clock())


def test_one_host_is_always_the_answer() -> None:
    single = router(1)
    assert single.single and single.pick("anything") is single.primary


def test_a_model_goes_to_a_host_that_has_it() -> None:
    r = router()
    a, b = r.backends
    r.polled(a, True, ["llama3.2:latest"], [])
    r.polled(b, True, ["llama3.2:latest", "qwen2.5-coder:1.5b"], [])
    assert r.pick("qwen2.5-coder:1.5b") is b
    assert r.pick("llama3.2") in (a, b)  # "llama3.2" is "llama3.2:latest"


def test_a_loaded_model_is_preferred_then_the_least_busy() -> None:
    r = router()
    a, b = r.backends
    r.polled(a, True, ["llama3.2:latest"], [])
    r.polled(b, True, ["llama3.2:latest"], ["llama3.2:latest"])
    assert r.pick("llama3.2") is b  # loaded there: no load time
    r.polled(b, True, ["llama3.2:latest"], [])
    r.started(a)
    assert r.pick("llama3.2") is b  # fewer in flight
    r.started(b)
    r.started(b)
    assert r.pick("llama3.2") is a


def test_a_conversation_sticks_to_its_host_while_it_is_healthy() -> None:
    r = router()
    a, b = r.backends
    for backend in (a, b):
        r.polled(backend, True, ["llama3.2:latest"], [])
    body = {
        "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]
    }
    later = {
        "messages": [
            *body["messages"],
            {"role": "assistant", "content": "hello"},
            {"role": "user", "content": "more"},
        ]
    }
    key = conversation_key("llama3.2", body)
    assert key is not None and key == conversation_key("llama3.2", later)  # same start
    first = r.pick("llama3.2", key)
    for _ in range(5):
        r.started(first)  # busier than the other host, yet the conversation stays
    assert r.pick("llama3.2", key) is first
    r.polled(first, False, error="connection refused")
    assert r.pick("llama3.2", key) is not first  # down: it moves
    assert conversation_key("llama3.2", {"prompt": "x"}) is None


def test_the_breaker_opens_half_opens_and_closes() -> None:
    clock = Clock()
    r = router(clock=clock)
    a, b = r.backends
    for _ in range(2):
        r.started(a)
        r.finished(a, False, "refused")
    assert a.breaker(clock()) == OPEN
    assert all(r.pick() is b for _ in range(3))  # skipped while open
    clock.now += 10.0
    assert a.breaker(clock()) == HALF_OPEN
    r.started(b)  # b busier: the half-open host gets the one trial
    trial = r.pick()
    assert trial is a and a.trial
    assert r.pick() is b  # one trial at a time
    r.started(a)
    r.finished(a, True)
    assert a.breaker(clock()) == CLOSED and not a.trial


def test_a_failed_trial_opens_the_breaker_again() -> None:
    clock = Clock()
    r = router(clock=clock)
    a, _ = r.backends
    for _ in range(2):
        r.started(a)
        r.finished(a, False, "refused")
    clock.now += 10.0
    r.started(a)
    r.finished(a, False, "refused")  # the trial failed
    assert a.breaker(clock()) == OPEN


def test_no_host_left_is_an_upstream_error_naming_each() -> None:
    r = router()
    for backend in r.backends:
        r.polled(backend, False, error="connection refused")
    with pytest.raises(NoUpstream, match="host0.*connection refused.*host1"):
        r.pick("llama3.2")


def test_exclude_moves_a_retry_elsewhere() -> None:
    r = router()
    a, b = r.backends
    assert r.pick(exclude=a) is b and r.pick(exclude=b) is a


def test_rows_for_metrics() -> None:
    r = router()
    a, _ = r.backends
    r.started(a)
    rows = r.rows()
    assert rows[0] == ("http://host0:11434", True, CLOSED, 1, 1)
    assert rows[1][3:] == (0, 0)


def test_a_host_with_other_weights_under_the_same_name_is_not_used_for_it() -> None:
    """The cache keys an answer by the model's digest: one name must mean one set of
    weights, so a host with another copy (another quantisation) is left out for it."""
    r = router(3)
    a, b, c = r.backends
    r.polled(a, True, ["llama3.2:latest"], [], digests=[("llama3.2:latest", "sha-q4")])
    r.polled(b, True, ["llama3.2:latest"], [], digests=[("llama3.2:latest", "sha-q8")])
    r.polled(c, True, ["llama3.2:latest"], [], digests=[("llama3.2:latest", "sha-q4")])
    r.started(a)
    r.started(a)
    chosen = {r.pick("llama3.2") for _ in range(4)}
    assert b not in chosen and chosen == {c}  # a busier, b other weights: c
