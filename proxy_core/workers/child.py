"""One worker: ``python -m proxy_core.workers.child BROKER_SOCKET INDEX``, its settings as
JSON on stdin (a pipe: the secrets never show in argv or the environment). It prints
``ready`` once it listens and stops, draining, on SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import sys
from pathlib import Path

from ..collector import tune_for_serving
from ..errors import PortInUse, StartupError
from ..service import ProxyService
from ..settings import ProxySettings, SettingsError, resolve
from .link import BrokerLink
from .wire import EXIT_STARTUP

log = logging.getLogger(__name__)


async def serve(settings: ProxySettings, link: BrokerLink) -> None:
    await link.connect()
    service = ProxyService(settings, worker=link)
    try:
        await service.start()
    except BaseException:
        await link.close()
        raise
    tune_for_serving()
    print("ready", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    lost = loop.create_task(link.closed.wait())
    try:
        await asyncio.wait([loop.create_task(stop.wait()), lost], return_when="FIRST_COMPLETED")
    finally:
        await service.stop()
        await link.close()


def main(argv: list[str]) -> int:
    broker, index = Path(argv[0]), int(argv[1])
    try:
        settings = resolve(json.loads(sys.stdin.read()))
    except (SettingsError, ValueError) as exc:
        print(f"worker {index}: invalid settings: {exc}", file=sys.stderr)
        return EXIT_STARTUP
    logging.basicConfig(
        level=settings.log_level.upper(),
        format=f"%(asctime)s %(levelname)s worker {index} %(name)s: %(message)s",
    )
    run = asyncio.run
    with contextlib.suppress(ImportError):
        import uvloop

        run = uvloop.run
    try:
        run(serve(settings, BrokerLink(broker, index)))
    except (PortInUse, StartupError) as exc:
        print(f"worker {index}: cannot start: {exc}", file=sys.stderr)
        return EXIT_STARTUP
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
