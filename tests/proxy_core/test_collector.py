"""The collector's tuning for serving processes (proxy_core/collector.py), in a child
process: it is process-wide, and the test process must keep its own."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import gc
from proxy_core.collector import YOUNG_COLLECTION_EVERY, tune_for_serving
before = gc.get_threshold()
tune_for_serving()
after = gc.get_threshold()
assert after == (YOUNG_COLLECTION_EVERY, *before[1:]), (before, after)
assert gc.get_freeze_count() > 1000, gc.get_freeze_count()
assert gc.isenabled()

class Cycle:
    pass

made = Cycle()
made.me = made
del made
assert gc.collect() >= 1  # cycles made after start-up are still collected
print("ok")
"""


def test_serving_processes_collect_less_often_and_skip_start_up_objects() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
