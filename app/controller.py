"""Owns the proxy service and every window; turns menu actions into service calls.

Everything runs on the one qasync loop: Qt slots that need the proxy schedule coroutines
with ``asyncio.ensure_future`` and never block.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QInputDialog, QMessageBox, QSystemTrayIcon, QWidget

from proxy_core import (
    AuditEntry,
    ContextTruncated,
    MetricsSnapshot,
    PortInUse,
    ProxyService,
    RequestRecord,
    StartupError,
    compare,
    default_data_dir,
)

from .ide_configs import choose_models
from .presenter import DashboardPresenter
from .settings_actions import SettingsActions
from .settings_store import SettingsStore
from .tool_prompt import TrayAsker
from .tray import Tray
from .tray_state import (
    ENGINE,
    OLLAMA,
    TrayState,
    instance_label,
    ollama_down,
    ollama_notice,
    raised_context,
    status_line,
    tooltip,
    tray_state,
    truncation_notice,
)

if TYPE_CHECKING:  # imported when first opened (see AppController.dashboard)
    from .connect_dialog import ConnectDialog
    from .dashboard import DashboardWindow
    from .inspector import InspectorWindow
    from .models_panel import ModelsWindow
    from .settings_dialog import SettingsDialog

log = logging.getLogger(__name__)
STATUS_MS = 1000
PortAsker = Callable[[PortInUse], Awaitable[int | None]]


def free_port_near(host: str, port: int, tries: int = 20) -> int:
    """The first port after ``port`` that is free on ``host`` now (checked by binding it),
    or 0 (the system picks one) when none of the next ``tries`` is."""
    for candidate in range(port + 1, min(port + 1 + tries, 65536)):
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            try:
                probe.bind((host, candidate))
            except OSError:
                continue
            return candidate
    return 0


async def ask_port_dialog(error: PortInUse) -> int | None:
    """Ask for another port without a nested event loop (the proxy shares this loop)."""
    dialog = QInputDialog()
    dialog.setWindowTitle("Port in use")
    dialog.setLabelText(f"{error}\n\nChoose another port for the proxy (0 picks a free one):")
    dialog.setInputMode(QInputDialog.InputMode.IntInput)
    dialog.setIntRange(0, 65535)
    dialog.setIntValue(free_port_near(error.host, error.port))
    done: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()

    def finished(result: int) -> None:
        if not done.done():
            done.set_result(dialog.intValue() if result else None)

    dialog.finished.connect(finished)
    dialog.open()
    return await done


class AppController(QObject, SettingsActions):
    def __init__(
        self,
        service: ProxyService,
        store: SettingsStore,
        *,
        tray_available: bool | None = None,
        ask_port: PortAsker = ask_port_dialog,
    ) -> None:
        super().__init__()
        self.service = service
        self.store = store
        self.ask_port = ask_port
        self.error: str | None = None
        self.notices: list[tuple[str, str]] = []  # every notification shown, newest last
        self.quit_requested = asyncio.Event()
        # Set once start() has finished (the proxy listening or its error shown, the tray
        # and the status timer up): what tests and callers wait for, not service.running,
        # which turns true at bind, before the rest of start-up.
        self.started = asyncio.Event()
        self._ollama_up: bool | None = None
        self._status_snapshot: MetricsSnapshot | None = None  # for the tooltip's req/s
        self._tasks: set[asyncio.Task[Any]] = set()
        if tray_available is None:
            tray_available = QSystemTrayIcon.isSystemTrayAvailable()
        self.tray_available = tray_available

        self.presenter = DashboardPresenter(service.settings.ollama_base)
        # Windows are built (and their modules imported) when first opened: an idle tray
        # app never pays for a dashboard nobody looked at (docs/PERFORMANCE.md, RSS).
        self._dashboard: DashboardWindow | None = None
        self.tray = Tray()
        self._connect_menu()
        # A second instance (another data folder) is told apart in its icon and tooltip.
        self.instance_label = instance_label(
            str(service.settings.data_dir), str(default_data_dir())
        )
        self.tray.set_badge(self.instance_label)
        self.inspector: InspectorWindow | None = None
        self.models_window: ModelsWindow | None = None
        self.tray.messageClicked.connect(self._message_clicked)
        # Events that need a person reach the tray through the core's listener interface.
        self.truncation: ContextTruncated | None = None
        self._last_notice = ""
        service.add_listener(self.on_proxy_event)
        # Tool actions that ask are put to the person here (non-modal prompts).
        self.asker = TrayAsker(self.notify)
        service.tool_asker = self.asker
        self.tray.activated.connect(self._tray_clicked)
        self.status_timer = QTimer(self)
        self.status_timer.setInterval(STATUS_MS)
        self.status_timer.timeout.connect(self.update_status)
        self.connect_dialog: ConnectDialog | None = None
        self.settings_dialog: SettingsDialog | None = None
        self.warning_box: QMessageBox | None = None

    def _connect_menu(self) -> None:
        """Each tray menu entry to its action (the dashboard's menu bar reuses them)."""
        menu = self.tray.menu
        menu.open_dashboard.triggered.connect(self.open_dashboard)
        menu.status.triggered.connect(self.open_dashboard)
        menu.caching.toggled.connect(self.set_caching)
        menu.copy_openai_url.triggered.connect(self.copy_openai_url)
        menu.copy_ollama_url.triggered.connect(self.copy_ollama_url)
        menu.connect_ide.triggered.connect(self.open_connect)
        menu.settings.triggered.connect(self.open_settings)
        menu.open_metrics.triggered.connect(self.open_metrics)
        menu.models.triggered.connect(self.open_models)
        menu.requests.triggered.connect(self.open_inspector)
        menu.raise_context.triggered.connect(lambda: self._spawn(self.raise_context()))
        menu.quit.triggered.connect(self.quit)

    @property
    def dashboard(self) -> DashboardWindow:
        if self._dashboard is None:
            from .dashboard import DashboardWindow

            self._dashboard = DashboardWindow(
                self.snapshot, self.presenter, self.tool_actions, self.recent_requests
            )
            self._dashboard.clear_cache_requested.connect(lambda: self._spawn(self.clear_cache()))
            self._dashboard.add_actions(self.tray.menu.commands())
            self._dashboard.ring_size = lambda: self.service.settings.inspector_size
            self._dashboard.ollama_banner.retry_requested.connect(
                lambda: self._spawn(self.retry_ollama())
            )
            self._dashboard.ollama_banner.change_url_requested.connect(self.change_ollama_url)
            self._dashboard.quit_requested.connect(self.quit)
        return self._dashboard

    def tool_actions(self) -> list[AuditEntry] | None:
        """The audit log's recent entries while the tools are on (the dashboard's list)."""
        return self.service.tool_actions()

    # lifecycle -------------------------------------------------------------------------------
    async def start(self) -> bool:
        """Start the proxy; on a taken port ask for another. False: the user gave up."""
        while True:
            try:
                await self.service.start()
                self.error = None
                break
            except PortInUse as exc:
                port = await self.ask_port(exc)
                if port is None:
                    return False
                new = self.service.settings.replace(port=port)
                self.store.save_changes(self.service.settings, new)
                await self.service.apply(new)  # not running: only takes the settings
            except (OSError, StartupError) as exc:
                # e.g. a listen address this machine does not have: stay up, show red,
                # and let Settings fix it (apply_settings starts the proxy then).
                self.error = f"the proxy could not start: {exc}"
                log.error("%s", self.error)
                self.notify("The proxy could not start", self.error)
                break
        self.tray.menu.caching.setChecked(self.service.settings.cache_enabled)
        if self.tray_available:
            self.tray.show()
        else:
            self.dashboard.close_quits = True
            self.dashboard.banner.setText(
                "No system tray was found on this desktop, so this window stands in for it: "
                "closing it quits the app."
            )
            self.dashboard.banner.show()
            self.open_dashboard()
        self.update_status()
        self.status_timer.start()
        self.started.set()
        return True

    async def run(self) -> int:
        if not await self.start():
            return 1
        await self.quit_requested.wait()
        await self.shutdown()
        return 0

    async def shutdown(self) -> None:
        """Stop the proxy (in-flight streams get the grace period), then the windows."""
        self.status_timer.stop()
        self.tray.hide()
        if self._dashboard is not None:
            self._dashboard.timer.stop()
        await self.service.stop()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def quit(self) -> None:
        self.quit_requested.set()

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # status ----------------------------------------------------------------------------------
    def snapshot(self) -> MetricsSnapshot | None:
        return self.service.metrics_snapshot()

    @property
    def state(self) -> TrayState:
        snap = self.snapshot()
        return tray_state(self.service.running, self.error, snap.ollama if snap else None)

    def update_status(self) -> None:
        snap = self.snapshot()
        ollama = snap.ollama if snap is not None else None
        state = tray_state(self.service.running, self.error, ollama)
        figures = None if snap is None else compare(self._status_snapshot, snap)
        self._status_snapshot = snap
        settings = self.service.settings
        who = OLLAMA if settings.ollama_bases else ENGINE  # ollama_url none: not Ollama
        caching = settings.cache_enabled
        self.presenter.caching = caching
        self.tray.show_state(
            state,
            tooltip(state, self.service.base_url, figures, caching, self.instance_label),
            status_line(state, self.service.base_url, settings.ollama_base, self.error, who),
        )
        tools = self.tray.menu.agent_tools
        tools.setVisible(settings.agent_tools)
        tools.setText(f"Agent tools on — {settings.workspace}")
        now = None if ollama is None else ollama.reachable
        notice = ollama_notice(self._ollama_up, now, settings.ollama_base, who)
        if now is not None:
            self._ollama_up = now
        if notice is not None:
            self.notify(*notice)
        if self._dashboard is not None:
            banner = self._dashboard.ollama_banner
            if now is False:
                banner.show_down(*ollama_down(settings.ollama_base, sys.platform, who))
            elif now:
                banner.hide()

    def on_proxy_event(self, event: ContextTruncated) -> None:
        self.truncation = event
        action = self.tray.menu.raise_context
        action.setText(f"Raise num_ctx for {event.model} to {raised_context(event.num_ctx)}")
        action.setVisible(True)
        self.notify(*truncation_notice(event))

    def _message_clicked(self) -> None:
        if self.truncation is not None and self._last_notice.startswith("Prompt cut short"):
            self._spawn(self.raise_context())

    def open_models(self) -> None:
        if self.models_window is None:
            from .models_panel import ModelsWindow

            self.models_window = ModelsWindow(self.snapshot, lambda: self.service.settings.models)
            self.models_window.profile_changed.connect(
                lambda model, profile: self._spawn(self.set_profile(model, profile))
            )
        self.models_window.show()
        self.models_window.raise_()
        self.models_window.activateWindow()

    def open_inspector(self) -> None:
        if self.inspector is None:
            from .inspector import InspectorWindow

            self.inspector = InspectorWindow(self.recent_requests, lambda: self.service.base_url)
        self.inspector.show()
        self.inspector.raise_()
        self.inspector.activateWindow()

    def recent_requests(self) -> list[RequestRecord]:
        return self.service.recent_requests()

    def notify(self, title: str, message: str) -> None:
        self.notices.append((title, message))
        self._last_notice = title
        if self.tray_available and self.tray.isVisible():
            self.tray.showMessage(title, message, QSystemTrayIcon.MessageIcon.Information, 5000)

    # actions ---------------------------------------------------------------------------------
    def _tray_clicked(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason == QSystemTrayIcon.ActivationReason.Trigger:
            self.open_dashboard()

    def open_dashboard(self) -> None:
        self.dashboard.show()
        self.dashboard.raise_()
        self.dashboard.activateWindow()

    def set_caching(self, enabled: bool) -> None:
        before = self.service.settings
        if before.cache_enabled == enabled:
            return
        self.service.set_caching(enabled)
        self.store.save_changes(before, self.service.settings)

    def copy_openai_url(self) -> None:
        QGuiApplication.clipboard().setText(self.service.base_url + "/v1")

    def copy_ollama_url(self) -> None:
        QGuiApplication.clipboard().setText(self.service.base_url)

    def open_metrics(self) -> None:
        """In the browser; where none can start, or a token is required (a browser cannot
        send it), a ready curl line goes to the clipboard and a notice says so."""
        url = self.service.base_url + "/metrics"
        if not self.service.token_required and QDesktopServices.openUrl(QUrl(url)):
            return
        line = f"curl {url}"
        if self.service.token_required:
            line = f'curl -H "Authorization: Bearer {self.service.access_token}" {url}'
        QGuiApplication.clipboard().setText(line)
        self.notify(
            "Metrics: a curl line is on the clipboard",
            line.replace(self.service.access_token, "<token>")
            if self.service.token_required
            else line,
        )

    def open_connect(self) -> None:
        from .connect_dialog import ConnectDialog

        dialog = ConnectDialog(
            self.service.base_url, self.service.token_required, token=self.service.access_token
        )
        self.connect_dialog = dialog
        dialog.show()
        self._spawn(self._fill_models(dialog))

    async def _fill_models(self, dialog: ConnectDialog) -> None:
        """The snippets pick installed models by capability (/api/tags, /api/show)."""
        installed = await self.service.installed_models()
        dialog.set_choice(choose_models(installed) if installed is not None else None)

    async def retry_ollama(self) -> None:
        """Retry now: ask Ollama at once instead of at the monitor's next turn."""
        await self.service.check_engines()
        self.update_status()

    def _warning_parent(self) -> QWidget | None:
        return self._dashboard

    async def clear_cache(self) -> None:
        removed = await self.service.clear_cache()
        if removed is not None:
            self.notify("Cache cleared", f"{removed} entries removed.")
