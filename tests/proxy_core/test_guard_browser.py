"""A real headless Chromium attacks the proxy from web pages (docs/SECURITY.md).

Three pages, each reporting what its fetch() saw back to the page server:
- an allowed origin (http://localhost:Q) reads /api/tags: must work;
- a foreign origin (http://attacker.test:Q, mapped to 127.0.0.1) calls the proxy
  cross-origin, readable and no-cors: must fail, and Ollama must see nothing;
- DNS rebinding: a page from http://evil.test:P (the proxy's own port; evil.test maps to
  127.0.0.2 where the page server listens) calls its "own" origin, which after rebinding
  is the proxy (the page server forwards those requests with the browser's own Host
  header, as the rebound DNS would): must get 403, and Ollama must see nothing.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from proxy_core import ProxyService
from tests.conftest import Sim, make_settings, serving

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None and not os.environ.get("OTP_REQUIRE_BROWSER"):
    pytest.skip(
        "Chromium is not installed (make test installs it as root)", allow_module_level=True
    )

PAGE = """<!doctype html><title>attack</title><script>
async function attempt(name, url, init) {
  let outcome;
  try {
    const r = await fetch(url, init);
    outcome = r.type === "opaque" ? "opaque" : "status " + r.status + " " + (await r.text());
  } catch (e) { outcome = "blocked: " + e.name; }
  await fetch("/report", {method: "POST", body: JSON.stringify({name, outcome})});
}
(async () => {
  for (const [name, url, init] of TARGETS) await attempt(name, url, init);
  await fetch("/report", {method: "POST", body: JSON.stringify({name: "done"})});
})();
</script>"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PageServer:
    """Serves one attack page, collects reports, and forwards anything else to the proxy
    byte for byte with the browser's headers (the "rebound DNS")."""

    def __init__(self, targets: list[tuple[str, str, dict[str, object]]], proxy_port: int) -> None:
        self.targets = targets
        self.proxy_port = proxy_port
        self.reports: dict[str, str] = {}
        self.done = asyncio.Event()
        self.app = web.Application()
        self.app.router.add_get("/", self.page)
        self.app.router.add_post("/report", self.report)
        self.app.router.add_route("*", "/{tail:.+}", self.forward)

    async def page(self, request: web.Request) -> web.Response:
        script = "const TARGETS = " + json.dumps(self.targets) + ";\n"
        return web.Response(
            text=PAGE.replace("<script>", "<script>" + script), content_type="text/html"
        )

    async def report(self, request: web.Request) -> web.Response:
        data = json.loads(await request.read())
        if data["name"] == "done":
            self.done.set()
        else:
            self.reports[data["name"]] = data["outcome"]
        return web.Response(status=204)

    async def forward(self, request: web.Request) -> web.StreamResponse:
        headers = {k: v for k, v in request.headers.items() if k.lower() != "content-length"}
        async with aiohttp.ClientSession(auto_decompress=False) as http:
            async with http.request(
                request.method,
                f"http://127.0.0.1:{self.proxy_port}{request.path_qs}",
                headers=headers,  # Host: evil.test:P, Origin as the browser sent them
                data=await request.read(),
            ) as resp:
                body = await resp.read()
                return web.Response(
                    status=resp.status,
                    body=body,
                    headers={
                        k: v
                        for k, v in resp.headers.items()
                        if k.lower() in ("content-type", "access-control-allow-origin")
                    },
                )


async def run_page(
    tmp_path: Path, server: PageServer, bind: str, port: int, url: str
) -> dict[str, str]:
    runner = web.AppRunner(server.app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, bind, port)
    await site.start()
    assert CHROMIUM is not None
    browser = await asyncio.create_subprocess_exec(
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'chromium'}",
        "--host-resolver-rules=MAP attacker.test 127.0.0.1, MAP evil.test 127.0.0.2",
        url,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        await asyncio.wait_for(server.done.wait(), 60)
    finally:
        browser.kill()
        await browser.wait()
        await runner.cleanup()
    return server.reports


@pytest.fixture
async def proxy_on_free_port(sim: Sim, tmp_path: Path) -> AsyncIterator[ProxyService]:
    async with serving(make_settings(tmp_path, sim.url, port=free_port())) as service:
        yield service


def calls(sim: Sim, path: str) -> int:
    return len(sim.recorder.by_path(path))


async def test_allowed_origin_page_reads_the_proxy(
    proxy_on_free_port: ProxyService, sim: Sim, tmp_path: Path
) -> None:
    proxy_port = proxy_on_free_port.address[1]
    page_port = free_port()
    server = PageServer([("tags", f"http://127.0.0.1:{proxy_port}/api/tags", {})], proxy_port)
    reports = await run_page(
        tmp_path, server, "127.0.0.1", page_port, f"http://localhost:{page_port}/"
    )
    assert reports["tags"].startswith("status 200") and "llama3.2" in reports["tags"]
    assert calls(sim, "/api/tags") == 1


async def test_foreign_origin_page_is_refused(
    proxy_on_free_port: ProxyService, sim: Sim, tmp_path: Path
) -> None:
    proxy_port = proxy_on_free_port.address[1]
    page_port = free_port()
    chat = json.dumps({"model": "llama3.2", "messages": [{"role": "user", "content": "pwn"}]})
    server = PageServer(
        [
            ("read tags", f"http://127.0.0.1:{proxy_port}/api/tags", {}),
            ("read via localhost", f"http://localhost:{proxy_port}/v1/models", {}),
            (
                "simple POST, no-cors",
                f"http://127.0.0.1:{proxy_port}/api/chat",
                {
                    "method": "POST",
                    "mode": "no-cors",
                    "body": chat,
                    "headers": {"Content-Type": "text/plain"},
                },
            ),
            (
                "JSON POST, preflighted",
                f"http://127.0.0.1:{proxy_port}/v1/chat/completions",
                {"method": "POST", "body": chat, "headers": {"Content-Type": "application/json"}},
            ),
        ],
        proxy_port,
    )
    reports = await run_page(
        tmp_path, server, "127.0.0.1", page_port, f"http://attacker.test:{page_port}/"
    )
    assert reports["read tags"].startswith("blocked")
    assert reports["read via localhost"].startswith("blocked")
    assert reports["simple POST, no-cors"] == "opaque"  # the browser sent it...
    assert reports["JSON POST, preflighted"].startswith("blocked")
    # ...and the proxy refused it: Ollama saw none of the four.
    assert sim.recorder.requests == []


async def test_dns_rebinding_page_is_refused(
    proxy_on_free_port: ProxyService, sim: Sim, tmp_path: Path
) -> None:
    proxy_port = proxy_on_free_port.address[1]
    chat = json.dumps({"model": "llama3.2", "messages": [{"role": "user", "content": "pwn"}]})
    server = PageServer(
        [
            ("same-origin tags", "/api/tags", {}),
            ("same-origin chat", "/api/chat", {"method": "POST", "body": chat}),
        ],
        proxy_port,
    )
    # The page server listens on 127.0.0.2 at the proxy's own port: evil.test:P.
    reports = await run_page(
        tmp_path, server, "127.0.0.2", proxy_port, f"http://evil.test:{proxy_port}/"
    )
    assert reports["same-origin tags"].startswith("status 403")
    assert "Host" in reports["same-origin tags"]
    assert reports["same-origin chat"].startswith("status 403")
    assert sim.recorder.requests == []
