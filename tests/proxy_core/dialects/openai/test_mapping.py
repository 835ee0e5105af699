"""Pure translation functions, table-driven."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from proxy_core.dialects.openai import request_map, response_map
from proxy_core.errors import BadRequest


@pytest.mark.parametrize(
    ("extra", "options"),
    [
        ({}, None),
        ({"temperature": 0.2}, {"temperature": 0.2}),
        ({"max_tokens": 5}, {"num_predict": 5}),
        ({"max_completion_tokens": 7, "max_tokens": 5}, {"num_predict": 7}),
        ({"stop": "x"}, {"stop": ["x"]}),
        ({"stop": ["a", "b", "c", "d", "e"]}, {"stop": ["a", "b", "c", "d", "e"]}),
        ({"seed": 1, "options": {"num_ctx": 8192}}, {"seed": 1, "num_ctx": 8192}),
    ],
)
def test_chat_options(extra: dict[str, Any], options: dict[str, Any] | None) -> None:
    native = request_map.chat_request(
        {"model": "m", "messages": [{"role": "user", "content": "x"}], **extra}
    )
    assert native.get("options") == options


@pytest.mark.parametrize(
    ("choice", "names"),
    [
        ("none", None),
        ("auto", ["a", "b"]),
        ("required", ["a", "b"]),
        ({"type": "function", "function": {"name": "b"}}, ["b"]),
    ],
)
def test_tool_choice(choice: Any, names: list[str] | None) -> None:
    tools = [{"type": "function", "function": {"name": n}} for n in ("a", "b")]
    native = request_map.chat_request(
        {
            "model": "m",
            "tools": tools,
            "tool_choice": choice,
            "messages": [{"role": "user", "content": "x"}],
        },
    )
    got = [t["function"]["name"] for t in native["tools"]] if "tools" in native else None
    assert got == names


@pytest.mark.parametrize(
    ("effort", "think"),
    [("none", False), ("minimal", "low"), ("low", "low"), ("high", "high"), ("xhigh", "max")],
)
def test_reasoning_effort(effort: str, think: Any) -> None:
    native = request_map.chat_request(
        {"model": "m", "reasoning_effort": effort, "messages": [{"role": "user", "content": "x"}]},
    )
    assert native["think"] == think


@pytest.mark.parametrize(
    "body",
    [
        {
            "model": "m",
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "image_url", "image_url": {"url": "https://example.com/x.png"}}
                    ],
                }
            ],
        },
        {
            "model": "m",
            "messages": [
                {
                    "role": "assistant",
                    "tool_calls": [{"function": {"name": "f", "arguments": "{bad"}}],
                }
            ],
        },
        {
            "model": "m",
            "messages": [{"role": "user", "content": "x"}],
            "reasoning_effort": "extreme",
        },
        {"model": "m", "messages": [{"role": "user", "content": "x"}], "reasoning_effort": {}},
        {"model": "m", "messages": [{"role": "user", "content": "x"}], "reasoning": {"effort": []}},
        {
            "model": "m",
            "messages": [{"role": "user", "content": "x"}],
            "response_format": {"type": "xml"},
        },
        {"model": "m", "messages": [{"role": "user", "content": 5}]},
        {"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": 1.5},
        {"model": "", "messages": [{"role": "user", "content": "x"}]},
    ],
)
def test_chat_rejects(body: dict[str, Any]) -> None:
    with pytest.raises(BadRequest):
        request_map.chat_request(body)


def test_response_format_schema() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    native = request_map.chat_request(
        {
            "model": "m",
            "messages": [{"role": "user", "content": "x"}],
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "n", "schema": schema},
            },
        },
    )
    assert native["format"] == schema


def _native(content: str = "", done: bool = False, **extra: Any) -> dict[str, Any]:
    message = {"role": "assistant", "content": content, **extra}
    chunk: dict[str, Any] = {"model": "m", "message": message, "done": done}
    if done:
        chunk.update(done_reason="stop", prompt_eval_count=3, eval_count=4)
    return chunk


def test_chat_stream_mapping() -> None:
    stream = response_map.ChatStream("m", include_usage=True)
    out = []
    for native in [
        _native(thinking="hmm"),
        _native("Hi"),
        _native(tool_calls=[{"function": {"name": "f", "arguments": {"a": 1}}}]),
        _native(done=True, tool_calls=[{"function": {"name": "g", "arguments": {}}}]),
    ]:
        out.extend(stream.feed(native))
    deltas = [c["choices"][0]["delta"] if c["choices"] else None for c in out]
    assert deltas[0] == {"role": "assistant", "content": "", "reasoning_content": "hmm"}
    assert deltas[1] == {"content": "Hi"}
    assert deltas[2]["tool_calls"][0]["index"] == 0
    assert deltas[2]["tool_calls"][0]["function"] == {"name": "f", "arguments": '{"a": 1}'}
    assert deltas[3]["tool_calls"][0]["index"] == 1  # calls on the final chunk count too
    assert out[-2]["choices"][0]["finish_reason"] == "tool_calls"
    assert out[-1]["choices"] == [] and out[-1]["usage"] == {
        "prompt_tokens": 3,
        "completion_tokens": 4,
        "total_tokens": 7,
    }


def test_empty_completion_still_starts_with_role() -> None:
    out = response_map.ChatStream("m", include_usage=False).feed(_native(done=True))
    assert out[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert out[-1]["choices"][0]["finish_reason"] == "stop"


@pytest.mark.parametrize(
    ("reason", "calls", "expected"),
    [
        ("stop", False, "stop"),
        ("length", False, "length"),
        ("stop", True, "tool_calls"),
        (None, False, "stop"),
    ],
)
def test_finish_reason(reason: Any, calls: bool, expected: str) -> None:
    assert response_map.finish_reason(reason, calls) == expected


@pytest.mark.parametrize(
    ("final", "usage"),
    [
        ({}, {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}),
        (
            {"prompt_eval_count": 2, "eval_count": 3},
            {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5},
        ),
    ],
)
def test_usage(final: dict[str, Any], usage: dict[str, int]) -> None:
    assert response_map.usage(final) == usage


def test_content_parts_become_one_message_each_as_ollama_maps_them() -> None:
    png = base64.b64encode(b"\x89PNG fake").decode()
    messages = request_map.chat_messages(
        [
            {"role": "system", "content": [{"type": "text", "text": "be brief"}]},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "prompt"},
                    {"type": "text", "text": "second"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}},
                ],
            },
            {
                "role": "assistant",
                "content": [{"type": "text", "text": "calling"}],
                "tool_calls": [{"id": "c1", "function": {"name": "f", "arguments": "{}"}}],
            },
        ]
    )
    assert messages[0] == {"role": "system", "content": "be brief"}
    assert messages[1] == {"role": "user", "content": "prompt"}
    assert messages[2] == {"role": "user", "content": "second"}
    assert messages[3] == {"role": "user", "content": "", "images": [png]}
    assert messages[4]["content"] == "calling" and messages[4]["tool_calls"][0]["id"] == "c1"
    assert len(messages) == 5
