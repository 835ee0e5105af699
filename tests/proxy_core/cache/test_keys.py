"""Cache keys: what changes the answer changes the key, nothing else does (hypothesis)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proxy_core.cache import cache_key
from proxy_core.cache.policy import is_cacheable_request, parse_cache_control

text = st.text(min_size=0, max_size=20)
messages = st.lists(
    st.fixed_dictionaries(
        {"role": st.sampled_from(["user", "assistant", "system"]), "content": text}
    ),
    min_size=1,
    max_size=4,
)
options = st.fixed_dictionaries(
    {},
    optional={
        "temperature": st.floats(0, 2, allow_nan=False),
        "seed": st.integers(-1, 1000),
        "num_ctx": st.integers(1, 65536),
        "top_p": st.floats(0, 1, allow_nan=False),
        "stop": st.lists(text, max_size=3),
    },
)
chat = st.fixed_dictionaries(
    {
        "model": st.sampled_from(["llama3.2", "qwen2.5-coder:1.5b", "m:tag"]),
        "messages": messages,
        "options": options,
    }
)


def _shuffled(body: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(dict(reversed(list(body.items())))))


@given(chat, st.sampled_from([None, 0, "5m", -1]), st.booleans())
def test_irrelevant_fields_do_not_change_the_key(
    body: dict[str, Any], keep_alive: Any, stream: bool
) -> None:
    variant = _shuffled(body)
    variant["stream"] = stream
    if keep_alive is not None:
        variant["keep_alive"] = keep_alive
    assert cache_key("chat", variant) == cache_key("chat", body)


@given(chat, text)
def test_message_content_changes_the_key(body: dict[str, Any], extra: str) -> None:
    changed = json.loads(json.dumps(body))
    changed["messages"][-1]["content"] += extra + "!"
    assert cache_key("chat", changed) != cache_key("chat", body)


@given(chat, st.sampled_from(["temperature", "seed", "num_ctx", "top_p", "num_predict"]))
def test_every_option_changes_the_key(body: dict[str, Any], name: str) -> None:
    changed = json.loads(json.dumps(body))
    current = changed["options"].get(name)
    changed["options"][name] = (current or 0) + 3
    assert cache_key("chat", changed) != cache_key("chat", body)


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ({"model": "llama3"}, {"model": "llama3:latest"}, True),
        ({"model": "llama3"}, {"model": "LLAMA3"}, True),
        ({"model": "llama3"}, {"model": "llama3:8b"}, False),
        ({"options": {}}, {"options": {"temperature": 0}}, False),  # missing is 0.8, not 0
        (
            {"options": {}},
            {"options": {"temperature": 0.8}},
            True,
        ),  # Ollama's default made explicit
        ({"options": {"temperature": 0}}, {"options": {"temperature": 0.0}}, True),
        ({"options": {"stop": "x"}}, {"options": {"stop": ["x"]}}, True),
        ({}, {"tools": [{"type": "function", "function": {"name": "f"}}]}, False),
        ({}, {"format": "json"}, False),
        ({}, {"think": True}, False),
        ({}, {"tools": []}, True),
    ],
)
def test_key_table(a: dict[str, Any], b: dict[str, Any], same: bool) -> None:
    base = {"model": "llama3", "messages": [{"role": "user", "content": "hi"}]}
    assert (cache_key("chat", {**base, **a}) == cache_key("chat", {**base, **b})) is same


def test_route_kind_and_generate_fields_change_the_key() -> None:
    body = {"model": "m", "prompt": "p"}
    assert cache_key("generate", body) != cache_key("chat", body)
    for name, value in [
        ("suffix", "s"),
        ("system", "s"),
        ("template", "t"),
        ("raw", True),
        ("images", ["aGk="]),
    ]:
        assert cache_key("generate", {**body, name: value}) != cache_key("generate", body)


@pytest.mark.parametrize(
    ("body", "policy", "expected"),
    [
        (
            {"model": "m", "messages": [{"role": "user"}], "options": {"temperature": 0}},
            "deterministic",
            True,
        ),
        (
            {"model": "m", "messages": [{"role": "user"}], "options": {"seed": 3}},
            "deterministic",
            True,
        ),
        (
            {"model": "m", "messages": [{"role": "user"}], "options": {"seed": -1}},
            "deterministic",
            False,
        ),
        ({"model": "m", "messages": [{"role": "user"}]}, "deterministic", False),
        ({"model": "m", "messages": [{"role": "user"}]}, "all", True),
        ({"model": "m", "messages": []}, "all", False),  # load request
        ({"messages": [{"role": "user"}]}, "all", False),
    ],
)
def test_cacheable_policy(body: dict[str, Any], policy: str, expected: bool) -> None:
    assert is_cacheable_request("chat", body, policy) is expected


def test_cache_control_parsing() -> None:
    assert parse_cache_control({}).lookup
    cc = parse_cache_control({"Cache-Control": "no-cache, no-store, max-age=30"})
    assert (cc.lookup, cc.store, cc.max_age) == (False, False, 30.0)
