"""The garbage collector tuned for a serving process (the headless proxy, each worker, the
tray app); called by the entry points, never by the library, since it is process-wide.

CPython collects its youngest generation every 700 allocations of container objects. A
request through the proxy makes a few hundred (the request, its headers, coroutines,
replies), so the collector ran about every other request and walked what the requests in
flight held. Collecting every 10,000 and freezing what start-up made (modules, the
application, Qt), which lives as long as the process, cut the CPU of a pass-through by
5-12% on this machine (docs/PERFORMANCE.md); memory did not move (RSS within 1 MB after
load). Cycles are still collected, later.
"""

from __future__ import annotations

import gc

YOUNG_COLLECTION_EVERY = 10_000


def tune_for_serving() -> None:
    gc.collect()
    gc.freeze()  # start-up's objects: out of every later collection's walk
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_EVERY, middle, old)
