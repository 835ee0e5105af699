"""Engine specs (``kind:name=url;options``): what they accept, what they refuse in the
user's words, and a proxy whose only engine comes from one (engines/registry.py)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import ollama
import pytest
from aiohttp.test_utils import TestServer

from proxy_core import ProxyService
from proxy_core.engines.registry import EngineSpec, SpecError, build, parse_spec
from proxy_core.settings import ProxySettings, SettingsError
from tests.conftest import make_settings, wait_polled
from tests.fakes.openai_server import FakeState, create_app


def test_a_spec_names_kind_name_url_and_options() -> None:
    assert parse_spec("ollama:http://gpu:11434/") == EngineSpec(
        "ollama", "gpu:11434", "http://gpu:11434"
    )
    spec = parse_spec("openai:vllm=http://gpu:8000;key_env=VLLM_KEY;read_timeout=900")
    assert spec == EngineSpec("openai", "vllm", "http://gpu:8000", "VLLM_KEY", None, 900.0)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("http://gpu:11434", "start with the engine's kind"),
        ("llamacpp:http://gpu:8080", "start with the engine's kind"),
        ("openai:ftp://gpu:8080", "is not an http(s) URL"),
        ("openai:x=http://user:secret@gpu:8080", "no password"),
        ("openai:http://gpu:8080;key=sk-123", "unknown option"),
        ("openai:http://gpu:8080;read_timeout=-1", "positive number"),
        ("openai:http://gpu:8080;read_timeout=nan", "positive number"),
    ],
)
def test_a_bad_spec_is_refused_in_plain_words(text: str, says: str) -> None:
    with pytest.raises(SpecError, match=re.escape(says)):
        parse_spec(text)
    with pytest.raises(SettingsError, match="engines: .*" + re.escape(says)):
        ProxySettings(engines=text, data_dir=Path("/tmp/unused"))


def test_the_old_settings_are_aliases_in_order(tmp_path: Path) -> None:
    settings = ProxySettings(
        ollama_url="http://a:11434",
        openai_upstreams="lm=http://b:1234",
        engines="openai:vllm=http://c:8000",
        data_dir=tmp_path,
    )
    assert [(s.kind, s.name, s.url) for s in settings.engine_specs] == [
        ("ollama", "", "http://a:11434"),
        ("openai", "lm", "http://b:1234"),
        ("openai", "vllm", "http://c:8000"),
    ]
    with pytest.raises(SettingsError, match="listed twice"):
        ProxySettings(
            ollama_url="http://a:11434", engines="ollama:http://a:11434", data_dir=tmp_path
        )


def test_a_specs_own_key_and_timeouts_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_ENGINE_KEY", "sk-from-env")
    spec = parse_spec("openai:x=http://h:1;key_env=TEST_ENGINE_KEY;connect_timeout=2")
    engine = build(spec, connect_timeout=5, read_timeout=7, authorization="Bearer other")
    assert engine._headers == {"Authorization": "Bearer sk-from-env"}
    assert engine._connect_timeout == 2 and engine._read_timeout == 7
    assert build(parse_spec("openai:x=http://h:1"), authorization="Bearer a")._headers == {
        "Authorization": "Bearer a"
    }


async def test_a_proxy_whose_only_engine_is_a_spec(tmp_path: Path) -> None:
    server = TestServer(create_app(FakeState(api_key="sk-spec")))
    await server.start_server()
    url = str(server.make_url("")).rstrip("/")
    os.environ["TEST_SPEC_KEY"] = "sk-spec"
    settings = make_settings(tmp_path, "none", engines=f"openai:local={url};key_env=TEST_SPEC_KEY")
    service = ProxyService(settings)
    await service.start()
    try:
        await wait_polled(service)
        client = ollama.AsyncClient(host=service.base_url)
        reply = await client.chat("qwen2.5-coder-7b-instruct", [{"role": "user", "content": "hi"}])
        assert reply.message.content == "echo: hi"
    finally:
        await service.stop()
        await server.close()
        del os.environ["TEST_SPEC_KEY"]


def test_what_a_spec_accepts_exactly() -> None:
    """Pinned against the survivors of `make mutate MUTANTS='proxy_core.engines.registry*'`."""
    assert parse_spec("openai:https://h:1").url == "https://h:1"
    assert parse_spec("ollama:http://BOX/").url == "http://BOX"
    # "=" in the URL's query: the name is what comes before the first "="
    spec = parse_spec("openai:vllm=http://h:1/v1?a=b")
    assert (spec.name, spec.url) == ("vllm", "http://h:1/v1?a=b")
    spec = parse_spec("openai:http://h:1/v1?a=b")  # no name, "=" only in the query
    assert (spec.name, spec.url) == ("h:1", "http://h:1/v1?a=b")
    assert parse_spec("openai:http://h:1;read_timeout=1").read_timeout == 1.0
    assert parse_spec("openai:http://h:1;connect_timeout=0.5").connect_timeout == 0.5


def test_what_a_spec_refuses_says_exactly_why() -> None:
    def refusal(text: str) -> str:
        with pytest.raises(SpecError) as caught:
            parse_spec(text)
        return str(caught.value)

    assert "start with the engine's kind (ollama, openai)" in refusal("ollama://gpu:11434")
    assert refusal("openai:x=http://u:p@h:1").startswith("no password in an engine's URL")
    assert "(key_env, connect_timeout, read_timeout)" in refusal("openai:http://h:1;x=1")
    zero = refusal("openai:http://h:1;read_timeout=0")
    assert "'openai:http://h:1;read_timeout=0': read_timeout must be a positive" in zero


def test_build_defaults_and_a_missing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = build(parse_spec("ollama:http://h:1"))
    assert (engine._connect_timeout, engine._read_timeout, engine._max_connections) == (5, 600, 64)
    assert engine._headers is None and engine.prefix == ""
    monkeypatch.delenv("TEST_ENGINE_MISSING", raising=False)
    missing = build(parse_spec("openai:http://h:1;key_env=TEST_ENGINE_MISSING"))
    assert missing._headers is None  # no variable, no key: never "Bearer " alone
