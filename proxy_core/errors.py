"""The proxy's error tree. Library errors are translated once, at the upstream boundary.

ProxyError
├── UpstreamError            Ollama could not give an answer
│   ├── UpstreamUnavailable  connection refused / reset / DNS  -> 502
│   ├── UpstreamTimeout      no byte within the read timeout   -> 504
│   └── UpstreamMalformed    a reply that is not the JSON expected -> 502
├── BadRequest               the client's request cannot be served -> 400
├── Unauthorized             the access token is missing or wrong -> 401
├── ReplyError               Ollama's own error status, told in the caller's dialect
├── ClientTooSlow            the body did not arrive within body_timeout -> 408
├── PortInUse                the listen port is taken (start-up)
└── StartupError             a setting the machine cannot honour (start-up): one clear line
"""

from __future__ import annotations

import contextlib
import logging
import struct
from collections.abc import Iterator

log = logging.getLogger(__name__)


class ProxyError(Exception):
    status = 500
    param: str | None = None  # the request field at fault, where the dialect names one
    code: str | None = None  # a machine-readable code, where the dialect has one


class UpstreamError(ProxyError):
    status = 502


class UpstreamUnavailable(UpstreamError):
    status = 502


class UpstreamTimeout(UpstreamError):
    status = 504


class UpstreamMalformed(UpstreamError):
    """Ollama answered, but not with the JSON the proxy needs to translate."""

    status = 502


# What reading a reply of another shape raises (a list where an object belongs, text
# where a float is packed, a number past a float32...).
_SHAPE_ERRORS = (
    *(AttributeError, TypeError, KeyError, IndexError, ValueError, RecursionError),
    *(ArithmeticError, struct.error),
)


@contextlib.contextmanager
def reading_reply(who: str) -> Iterator[None]:
    """A reply the translation cannot read is its sender's fault (502, in the caller's
    dialect, in-band in a stream), never the proxy's 500. Logged with its traceback: a
    fault of the translation itself would show up here too."""
    try:
        yield
    except _SHAPE_ERRORS as exc:
        log.warning("%s sent a reply of an unexpected shape", who, exc_info=True)
        raise UpstreamMalformed(f"{who} sent a reply of an unexpected shape ({exc})") from exc


class BadRequest(ProxyError):
    status = 400

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


class Unauthorized(ProxyError):
    """A route that needs the access token (the agent tools, always) got none or a wrong
    one; told in the caller's dialect."""

    status = 401


class ReplyError(ProxyError):
    """An error status Ollama answered (404 unknown model, 400 ...), passed on with its
    message in the dialect of the caller's route."""

    def __init__(self, status: int, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.param = param


class ClientTooSlow(ProxyError):
    status = 408


class PortInUse(ProxyError):
    def __init__(self, host: str, port: int) -> None:
        super().__init__(
            f"port {port} on {host} is already in use; stop the other program or pick "
            f"another port with --port"
        )
        self.host = host
        self.port = port


class StartupError(ProxyError):
    """The proxy cannot start with these settings on this machine (a listen address it
    does not have, a data dir it cannot create, an unreadable token file). The message
    names the setting and is meant to be printed as it is."""
