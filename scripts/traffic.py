"""Mixed traffic against the proxy for screenshots and demos: cache hits and misses,
native and OpenAI, streams and single answers. ``python -m scripts.traffic URL SECONDS``."""

from __future__ import annotations

import asyncio
import itertools
import random
import sys
import time

import aiohttp


async def worker(http: aiohttp.ClientSession, base: str, deadline: float, seed: int) -> None:
    rng = random.Random(seed)
    for n in itertools.count():
        if time.monotonic() > deadline:
            return
        deterministic = rng.random() < 0.6
        options = {"temperature": 0} if deterministic else {}
        question = f"question {rng.randrange(8) if deterministic else n}"
        if rng.random() < 0.5:
            url, body = (
                base + "/api/chat",
                {
                    "model": "llama3.2",
                    "stream": rng.random() < 0.5,
                    "options": options,
                    "messages": [{"role": "user", "content": question}],
                },
            )
        else:
            url, body = (
                base + "/v1/chat/completions",
                {
                    "model": "llama3.2",
                    "stream": rng.random() < 0.5,
                    "temperature": 0 if deterministic else 0.7,
                    "messages": [{"role": "user", "content": question}],
                },
            )
        try:
            async with http.post(url, json=body) as resp:
                await resp.read()
        except aiohttp.ClientError:
            await asyncio.sleep(0.5)
        await asyncio.sleep(rng.random() * 0.2)


async def main(base: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession() as http:
        await asyncio.gather(*(worker(http, base, deadline, i) for i in range(6)))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1].rstrip("/"), float(sys.argv[2])))
