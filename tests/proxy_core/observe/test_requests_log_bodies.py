"""Issue 16 item 8: with log_bodies on the inspector keeps (the start of) bodies; the ring
is bounded; a row copies as a curl line with its token redacted."""

from __future__ import annotations

import shlex

import aiohttp
import pytest

from proxy_core import ProxyService
from tests.conftest import Sim


@pytest.fixture
def proxy_changes() -> dict[str, object]:
    return {"log_bodies": True, "inspector_size": 3}


async def test_bodies_with_log_bodies_a_bounded_ring_and_copy_as_curl(
    proxy: ProxyService, sim: Sim, http: aiohttp.ClientSession
) -> None:
    for n in range(5):
        async with http.post(
            proxy.base_url + "/api/chat",
            json={
                "model": "llama3.2",
                "stream": False,
                "messages": [{"role": "user", "content": f"n{n}"}],
            },
            headers={"x-api-key": "k3y-value"},
        ) as resp:
            assert resp.status == 200
    assert proxy.state is not None
    records = proxy.state.requests.latest(10)
    assert len(records) == 3  # the ring holds inspector_size entries
    assert records[0].request_body is not None and b"n4" in records[0].request_body
    line = records[0].curl(proxy.base_url)
    argv = shlex.split(line)
    assert argv[:4] == ["curl", "-X", "POST", proxy.base_url + "/api/chat"]
    assert "x-api-key: <redacted>" in argv and "k3y-value" not in line
    assert '"n4"' in argv[argv.index("--data-binary") + 1]
