"""Several proxy processes on one port (``--workers``, headless only).

A supervisor (supervisor.py) starts the workers (child.py), each a whole ProxyService
listening on the same port with SO_REUSEPORT, so the kernel spreads connections over
them. What must be one for the whole proxy lives in the supervisor's broker (broker.py),
which each worker reaches over a Unix socket (link.py): the per-model slots (lanes.py,
so ``num_parallel`` holds across workers instead of multiplying by N) and the metrics
(a scrape of any worker is the sum of all). The disk cache, the stored conversations,
the access token and the audit log are shared through the data dir, as they are between
any two processes."""
