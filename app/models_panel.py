"""The Models panel: each model, loaded or not, its profile (edited in place), and its
last minute of traffic; a model clients ask for with different context sizes is flagged
with a one-click "enforce one context size"."""

from __future__ import annotations

import collections
from collections.abc import Callable, Mapping
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QHideEvent, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from proxy_core import MetricsSnapshot

from .icons import app_icon
from .models_view import EDITABLE, ModelRow, edited_profile, model_rows, profile_for

COLUMNS = (
    ("model", "Model"),
    ("loaded", "Loaded"),
    ("num_ctx", "num_ctx"),
    ("keep_alive", "keep_alive"),
    ("mode", "Mode"),
    ("generations", "Requests (1 min)"),
    ("ttft_p50", "First token p50"),
    ("tokens_per_second", "Tokens/s"),
    ("truncations", "Truncations"),
    ("queue_wait", "Queue wait"),
    ("now", "Running / waiting"),
    ("risk", "Reload risk"),
)
WINDOW_SECONDS = 60.0
REFRESH_MS = 1000


class ModelsWindow(QWidget):
    # (model, its new profile): the controller applies and saves it.
    profile_changed = Signal(str, dict)

    def __init__(
        self,
        snapshot: Callable[[], MetricsSnapshot | None],
        models: Callable[[], Mapping[str, Any]],
    ) -> None:
        super().__init__()
        self.setWindowTitle("Models — Ollama Tray Proxy")
        self.setWindowIcon(app_icon())
        self._snapshot = snapshot
        self._models = models
        self._history: collections.deque[MetricsSnapshot] = collections.deque()
        self.rows: list[ModelRow] = []
        self._filling = False
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels([title for _, title in COLUMNS])
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
        )
        self.table.cellChanged.connect(self._cell_changed)
        self.error = QLabel()
        self.error.setStyleSheet("color: #b00020")
        self.error.setWordWrap(True)
        hint = QLabel(
            "Double-click num_ctx, keep_alive or mode to change a model's profile: "
            "'default' fills in what a request leaves unset, 'enforce' always applies it."
        )
        hint.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(hint)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.error)
        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self.refresh)
        self.resize(1100, 360)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt's name)
        self.refresh()
        self.timer.start()
        super().showEvent(event)

    def hideEvent(self, event: QHideEvent) -> None:  # noqa: N802
        self.timer.stop()
        super().hideEvent(event)

    def refresh(self) -> None:
        now = self._snapshot()
        if now is None:
            return
        self._history.append(now)
        while len(self._history) > 1 and now.taken - self._history[0].taken > WINDOW_SECONDS:
            self._history.popleft()
        before = self._history[0] if len(self._history) > 1 else None
        self.rows = model_rows(before, now, self._models())
        self._fill()

    def _fill(self) -> None:
        self._filling = True
        try:
            self.table.setRowCount(len(self.rows))
            for r, row in enumerate(self.rows):
                for c, (field, _) in enumerate(COLUMNS):
                    item = QTableWidgetItem(str(getattr(row, field)))
                    if field not in EDITABLE:
                        item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
                    self.table.setItem(r, c, item)
                if row.enforce_num_ctx is not None:
                    button = QPushButton(f"Enforce num_ctx {row.enforce_num_ctx}")
                    button.setToolTip(row.risk)
                    button.clicked.connect(lambda _=False, row=row: self.enforce(row))
                    self.table.setCellWidget(r, len(COLUMNS) - 1, button)
                else:
                    self.table.removeCellWidget(r, len(COLUMNS) - 1)
        finally:
            self._filling = False

    def _profile(self, model: str) -> dict[str, Any]:
        return dict(profile_for(self._models(), model))

    def _cell_changed(self, r: int, c: int) -> None:
        if self._filling or r >= len(self.rows):
            return
        field = COLUMNS[c][0]
        if field not in EDITABLE:
            return
        model = self.rows[r].model
        item = self.table.item(r, c)
        try:
            profile = edited_profile(self._profile(model), field, item.text() if item else "")
        except ValueError as exc:
            self.error.setText(f"{model}: {exc}")
            self._fill()  # back to the value in force
            return
        self.error.clear()
        self.profile_changed.emit(model, profile)

    def enforce(self, row: ModelRow) -> None:
        """The one click for a reload risk: one context size, always used."""
        profile = self._profile(row.model)
        profile.update(num_ctx=row.enforce_num_ctx, mode="enforce")
        self.profile_changed.emit(row.model, profile)
