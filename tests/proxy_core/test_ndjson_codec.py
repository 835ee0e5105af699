"""Issue 14 item 5: orjson parses and writes bodies, with Python's json as the fallback
for what orjson refuses, so no input that parsed before fails now."""

from __future__ import annotations

import json

import pytest

from proxy_core.ids import unique_id
from proxy_core.ndjson import NestedTooDeep, dumps, loads


@pytest.mark.parametrize(
    "text",
    [
        '{"model":"m","messages":[{"role":"user","content":"é😀\\u2028"}]}',
        '{"a":"\\ud800"}',  # a lone surrogate: json takes it, orjson does not
        "[" * 600 + "]" * 600,  # deep nesting
    ],
)
def test_loads_accepts_what_json_accepts(text: str) -> None:
    assert repr(loads(text.encode())) == repr(json.loads(text))


@pytest.mark.parametrize("raw", [b"{", b"\xff\xfe", b"", b"[1,]"])
def test_loads_raises_what_json_raises(raw: bytes) -> None:
    with pytest.raises(ValueError):
        loads(raw)


@pytest.mark.parametrize(
    "raw", [b'{"a":NaN}', b'{"a":-Infinity}', b'{"a":Infinity}', b'{"a":1e400}', b"[-1e999]"]
)
def test_loads_refuses_what_is_not_json_though_python_reads_it(raw: bytes) -> None:
    """NaN, Infinity and a number past a double are not JSON (RFC 8259); Python's json
    reads them, Go (Ollama) and the OpenAI and Anthropic APIs refuse them. Read here they
    would reach Ollama as null after a translation."""
    with pytest.raises(ValueError, match="not valid JSON"):
        loads(raw)


def test_dumps_is_compact_utf8_and_writes_what_orjson_cannot() -> None:
    assert dumps({"a": [1, "é"], "b": None}) == '{"a":[1,"é"],"b":null}'.encode()
    assert dumps({"n": 10**30}) == b'{"n":1000000000000000000000000000000}'
    assert dumps({"s": "\ud800"}) == b'{"s":"\\ud800"}'  # Go reads it as U+FFFD


def test_unique_ids_differ() -> None:
    ids = {unique_id("chatcmpl") for _ in range(10_000)}
    assert len(ids) == 10_000 and all(i.startswith("chatcmpl-") for i in ids)


def test_nesting_past_pythons_depth_is_a_value_error_like_other_bad_json() -> None:
    """Python's parser raises RecursionError there; every caller that handles JSON it
    cannot read catches ValueError, so loads says it as one (NestedTooDeep)."""
    with pytest.raises(NestedTooDeep, match="nested too deeply"):
        loads(b"[" * 100_000 + b"]" * 100_000)
    assert issubclass(NestedTooDeep, ValueError)
