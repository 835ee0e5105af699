"""Drive ``wrk`` (a C load generator, so the generator is not the bottleneck) and read its
figures back as numbers: good requests/s, latency percentiles, errors."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import shutil
import tempfile
from pathlib import Path

# wrk's Lua hooks: the request is fixed (method, body, headers); `done` prints one JSON
# line that run() reads back, so no text scraping of wrk's human report.
_SCRIPT = """
wrk.method = "%(method)s"
wrk.body = %(body)s
wrk.headers["Content-Type"] = "application/json"
%(headers)s
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\\nRESULT {"requests":%%d,"duration_us":%%d,"status":%%d,"connect":%%d,' ..
    '"read":%%d,"write":%%d,"timeout":%%d,"p50_us":%%d,"p99_us":%%d}\\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


@dataclasses.dataclass(frozen=True)
class WrkResult:
    good_rps: float  # 2xx/3xx answers per second; errors do not count
    p50_ms: float
    p99_ms: float
    errors: int  # non-2xx/3xx answers and socket errors


def available() -> bool:
    return shutil.which("wrk") is not None


def _lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string is a valid Lua string literal for ASCII text


async def run(
    url: str,
    body: dict[str, object] | None = None,
    *,
    connections: int,
    seconds: float = 3.0,
    threads: int = 2,
    headers: dict[str, str] | None = None,
) -> WrkResult:
    script = _SCRIPT % {
        "method": "POST" if body is not None else "GET",
        "body": _lua_string(json.dumps(body)) if body is not None else "nil",
        "headers": "\n".join(
            f"wrk.headers[{_lua_string(k)}] = {_lua_string(v)}" for k, v in (headers or {}).items()
        ),
    }
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        proc = await asyncio.create_subprocess_exec(
            "wrk",
            f"-t{min(threads, connections)}",
            f"-c{connections}",
            f"-d{round(seconds)}s",
            "--timeout",
            "5s",
            "-s",
            handle.name,
            url,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await proc.communicate()
    finally:
        Path(handle.name).unlink()
    for line in out.decode().splitlines():
        if line.startswith("RESULT "):
            data = json.loads(line[len("RESULT ") :])
            errors = sum(data[k] for k in ("status", "connect", "read", "write", "timeout"))
            good = data["requests"] - data["status"]
            return WrkResult(
                good_rps=good / (data["duration_us"] / 1e6),
                p50_ms=data["p50_us"] / 1000,
                p99_ms=data["p99_us"] / 1000,
                errors=errors,
            )
    raise RuntimeError(f"wrk gave no result: {out.decode()} {err.decode()}")
