"""Client connections stay within the process's file descriptors.

Each client connection is a file descriptor. Under the common soft limit of 1,024, a
flood of idle sockets (1,100 were enough) left no descriptor for the upstream connection
or the cache, and every other client was dropped without a reply. So:

* at start the soft ``RLIMIT_NOFILE`` is raised toward the hard limit (no privilege
  needed; nothing changes on platforms without ``resource``);
* client connections are capped (``max_client_connections``, and always some descriptors
  below the soft limit for upstream sockets, sqlite and logs); a connection past the cap
  closes the oldest idle connections first, and only if none is idle is the newcomer
  itself refused. Connections with a request in progress are never shed.

``listen`` opens the port (shared with SO_REUSEPORT by several workers) and says in one
line what stopped it.
"""

from __future__ import annotations

import errno
import logging
import socket
from typing import Any

from aiohttp import web

from .errors import PortInUse, StartupError

log = logging.getLogger(__name__)
RESERVED_FDS = 128  # upstream pool, sqlite, logs, the GUI: never given to clients
WANTED_FDS = 65536


def raise_fd_limit(wanted: int = WANTED_FDS) -> int:
    """Raise the soft descriptor limit toward ``wanted`` (and the hard limit); return it."""
    try:
        import resource
    except ImportError:  # Windows: no such limit to raise
        return wanted
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as exc:
            log.warning("cannot raise the open-file limit from %d: %s", soft, exc)
    return wanted if soft == resource.RLIM_INFINITY else int(soft)


def connection_cap(setting: int, fd_limit: int) -> int:
    return max(16, min(setting, fd_limit - RESERVED_FDS))


class ConnectionShedder:
    """Hooks an aiohttp ``web.Server`` so it never holds more than ``limit`` clients."""

    def __init__(self, server: web.Server, limit: int) -> None:
        self.limit = limit
        self.shed = 0  # idle connections closed to make room
        self.refused = 0  # new connections closed because none was idle
        self._server = server
        self._made = server.connection_made
        server.connection_made = self._connection_made  # type: ignore[method-assign]

    def _connection_made(self, handler: Any, transport: Any) -> None:
        self._made(handler, transport)
        connections: dict[Any, Any] = self._server._connections  # oldest first
        excess = len(connections) - self.limit
        if excess <= 0:
            return
        for other in list(connections):
            if excess <= 0:
                return
            if other is handler or other._request_in_progress:
                continue
            other.force_close()  # idle keep-alive or a head still arriving
            connections.pop(other, None)
            self.shed += 1
            excess -= 1
        handler.force_close()
        connections.pop(handler, None)
        self.refused += 1


async def listen(runner: web.AppRunner, host: str, port: int, *, shared: bool) -> web.TCPSite:
    """Listen on host:port (``shared``: with SO_REUSEPORT, as one of several workers: the
    kernel spreads the connections over them); a failure in one line naming the setting."""
    site = web.TCPSite(runner, host, port, reuse_port=shared or None)
    try:
        await site.start()
    except socket.gaierror:
        raise StartupError(f"host: {host!r} does not resolve to an address") from None
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise PortInUse(host, port) from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise StartupError(
                f"host: {host} is not an address of this machine, so the proxy cannot "
                "listen on it (use 127.0.0.1, or one of this machine's addresses)"
            ) from None
        raise StartupError(f"host: cannot listen on {host} port {port} ({exc})") from None
    return site
