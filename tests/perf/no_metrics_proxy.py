"""The headless proxy with request recording switched to no-ops: the "metrics off" side
of the metrics-overhead benchmark. Not a product mode; only the benchmark runs it."""

from __future__ import annotations

import sys
from typing import Any

from proxy_core.cli import main
from proxy_core.observe.recorder import MetricsRecorder


def _nothing(self: MetricsRecorder, *args: Any, **kwargs: Any) -> None:
    return None


for name in (
    "request_started",
    "request_finished",
    "upstream_first_byte",
    "generation_requested",
    "first_token",
    "queued",
    "generation_done",
):
    setattr(MetricsRecorder, name, _nothing)

if __name__ == "__main__":
    sys.exit(main())
