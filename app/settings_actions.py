"""The settings side of the tray: the Settings dialog, model profiles (the Models panel
and the one-click "raise num_ctx"), and applying a change to the running proxy and the
settings file. A part of AppController (app/controller.py), kept apart by window."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

from proxy_core import (
    ContextTruncated,
    PortInUse,
    ProxyService,
    ProxySettings,
    SettingsError,
    StartupError,
    normalize_model,
)

from . import autostart
from .models_view import profile_for
from .presenter import DashboardPresenter
from .settings_store import SettingsStore
from .tray import Tray
from .tray_state import raised_context

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from .settings_dialog import SettingsDialog


class SettingsActions:
    """Mixed into AppController, which provides these attributes and the hooks."""

    service: ProxyService
    store: SettingsStore
    tray: Tray
    presenter: DashboardPresenter
    error: str | None
    truncation: ContextTruncated | None
    settings_dialog: SettingsDialog | None
    warning_box: QMessageBox | None

    def notify(self, title: str, message: str) -> None: ...
    def update_status(self) -> None: ...
    def _spawn(self, coro: Awaitable[Any]) -> None: ...
    def _warning_parent(self) -> QWidget | None: ...

    async def set_profile(self, model: str, profile: dict[str, Any]) -> None:
        """A profile edited in the Models panel: applied at once and saved."""
        current = self.service.settings
        models = {
            name: dict(p)
            for name, p in current.models.items()
            if normalize_model(name) != normalize_model(model)
        }
        if profile:
            models[model] = profile
        try:
            new = current.replace(models=models)
        except SettingsError as exc:
            self.show_warning("Model profile", str(exc))
            return
        await self.apply_settings(new)

    async def raise_context(self) -> None:
        """The one click: the truncated model's profile gets twice the context."""
        event, self.truncation = self.truncation, None
        self.tray.menu.raise_context.setVisible(False)
        if event is None:
            return
        profile = dict(profile_for(self.service.settings.models, normalize_model(event.model)))
        profile["num_ctx"] = raised_context(event.num_ctx)
        await self.set_profile(event.model, profile)

    def change_ollama_url(self) -> None:
        self.open_settings()
        if self.settings_dialog is not None:
            self.settings_dialog.ollama_url.setFocus()
            self.settings_dialog.ollama_url.selectAll()

    def open_settings(self) -> None:
        from .settings_dialog import SettingsDialog

        dialog = SettingsDialog(
            self.service.settings, self.store.start_at_login, self.service.access_token
        )
        dialog.accepted.connect(lambda: self._spawn(self.apply_dialog(dialog)))
        self.settings_dialog = dialog
        dialog.show()

    async def apply_dialog(self, dialog: SettingsDialog) -> None:
        new = dialog.accepted_settings
        if new is not None:
            await self.apply_settings(new)
        wanted = dialog.start_at_login.isChecked()
        if wanted != self.store.start_at_login and autostart.supported():
            autostart.set_start_at_login(wanted)
            self.store.start_at_login = wanted

    async def apply_settings(self, new: ProxySettings) -> None:
        before = self.service.settings
        try:
            await self.service.apply(new)
            if not self.service.running:  # it had failed to start: try with the new settings
                await self.service.start()
            self.error = None
        except (OSError, StartupError) as exc:
            if self.service.running:  # it serves on; only the new part failed (the tools)
                self.show_warning("Settings not applied", str(exc))
            else:
                self.error = f"the proxy could not start: {exc}"
                self.notify("The proxy could not start", self.error)
        except PortInUse as exc:
            if self.service.running:
                self.show_warning(
                    "Port in use", f"{exc}\n\nThe proxy keeps listening on {self.service.base_url}."
                )
            else:
                self.error = str(exc)
                self.notify("The proxy could not start", self.error)
        applied = self.service.settings
        self.store.save_changes(before, applied)
        logging.getLogger().setLevel(applied.log_level.upper())
        self.presenter.ollama_url = applied.ollama_base
        self.tray.menu.caching.setChecked(applied.cache_enabled)
        self.update_status()

    def show_warning(self, title: str, text: str) -> None:
        """A warning box opened with open(), never exec(): no nested event loop."""
        box = QMessageBox(QMessageBox.Icon.Warning, title, text, parent=self._warning_parent())
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self.warning_box = box
