"""One running app per user and data folder: a second launch asks the first to show
its dashboard and exits, instead of starting another proxy."""

from __future__ import annotations

import getpass
import hashlib
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

CONNECT_MS = 300


def instance_key(data_dir: Path) -> str:
    digest = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:12]
    return f"ollama-tray-proxy-{getpass.getuser()}-{digest}"


class SingleInstance(QObject):
    activated = Signal()  # another launch asked us to come forward

    def __init__(self, key: str) -> None:
        super().__init__()
        self.key = key
        self._server: QLocalServer | None = None

    def notify_running(self) -> bool:
        """True when another instance answered (and was asked to show itself)."""
        socket = QLocalSocket()
        socket.connectToServer(self.key)
        if not socket.waitForConnected(CONNECT_MS):
            return False
        socket.write(b"show\n")
        socket.waitForBytesWritten(CONNECT_MS)
        socket.disconnectFromServer()
        return True

    def claim(self) -> bool:
        """Become the instance; False when one is already running."""
        if self.notify_running():
            return False
        QLocalServer.removeServer(self.key)  # a stale socket left by a crash
        server = QLocalServer(self)
        server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        if not server.listen(self.key):
            return True  # cannot guard; running unguarded beats not running
        server.newConnection.connect(self._on_connection)
        self._server = server
        return True

    def _on_connection(self) -> None:
        assert self._server is not None
        while (socket := self._server.nextPendingConnection()) is not None:
            socket.readyRead.connect(self.activated)
            socket.disconnected.connect(socket.deleteLater)

    def release(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
