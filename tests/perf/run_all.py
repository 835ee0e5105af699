"""Benchmarks, run side by side in one go (``make bench``); not part of ``make test``.

On a shared 2-core machine absolute numbers are noisy, so every figure is paired with a
baseline measured in the same run: upstream clients against each other, the proxy against
its upstream directly (wrk, bench_wrk.py), metrics on against off. The Python load
generator remains only where wrk cannot measure (a stream's first and last byte). Prints
Markdown tables for docs/PERFORMANCE.md. ``python -m tests.perf.run_all metrics`` runs one section.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable

from . import (
    bench_cache,
    bench_ide_session,
    bench_layers,
    bench_litellm,
    bench_metrics,
    bench_profiles,
    bench_real_engine,
    bench_routing,
    bench_tools,
    bench_tray,
    bench_upstream,
    bench_workers,
    bench_wrk,
)
from .harness import print_table

SECTIONS: dict[str, Callable[[], Awaitable[list[tuple[str, str]]]]] = {
    "upstream": bench_upstream.run,
    "wrk": bench_wrk.run,
    "wrk-sim": bench_wrk.run_sim,
    "litellm": bench_litellm.run,
    "cache": bench_cache.run,
    "metrics": bench_metrics.run,
    "tray": bench_tray.run,
    "profiles": bench_profiles.run,
    "tools": bench_tools.run,
    "routing": bench_routing.run,
    "shared-cache": bench_routing.run_cache,
    "real-engine": bench_real_engine.run,
    "ide-session": bench_ide_session.run,
    "workers": bench_workers.run,
    "layers": bench_layers.run,
}


# Run only when named: it installs LiteLLM (make bench-litellm).
OPTIONAL = {"litellm"}


async def main(names: list[str]) -> None:
    for name in names or [name for name in SECTIONS if name not in OPTIONAL]:
        print(f"\n### {name}\n")
        print_table(await SECTIONS[name]())


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
