"""The request inspector: the proxy's last requests, live, filterable, one click to curl.

Pulled from the proxy's ring buffer once a second while visible (never a signal per
request). Selecting a row shows its headers (secrets redacted) and, when body logging is
on, its body; "Copy as curl" puts the request on the clipboard with the token redacted.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QFontDatabase, QGuiApplication, QHideEvent, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from proxy_core import RequestRecord, name_of

from .icons import app_icon

COLUMNS = (
    "Time", "Client", "Dialect", "Path", "Model", "Status", "Cache",
    "TTFT ms", "Duration ms", "Tokens in/out", "Tokens/s",
)  # fmt: skip
REFRESH_MS = 1000
Source = Callable[[], Sequence[RequestRecord]]


def matches(record: RequestRecord, client: str, model: str, status: str) -> bool:
    """The filters: case-insensitive substrings; status also as a class ("4xx")."""
    if client and client.lower() not in f"{record.client} {name_of(record.client)}".lower():
        return False
    if model and model.lower() not in (record.model or "").lower():
        return False
    if status:
        text = str(record.status)
        wanted = status.lower()
        if not (text.startswith(wanted.rstrip("x")) if wanted.endswith("xx") else text == wanted):
            return False
    return True


def is_stream(record: RequestRecord) -> bool:
    """A streamed reply: only there is Ollama's first byte its first token (a whole reply's
    first byte comes after its last token, so its TTFT is shown as "-")."""
    kind = record.response_headers.get("Content-Type", "")
    return kind.startswith(("application/x-ndjson", "text/event-stream"))


def row_text(record: RequestRecord) -> tuple[str, ...]:
    import time

    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value * 1000:.1f}"

    tokens = (
        "-"
        if record.prompt_tokens is None and record.completion_tokens is None
        else f"{record.prompt_tokens or 0}/{record.completion_tokens or 0}"
    )
    rate = "-" if record.tokens_per_second is None else f"{record.tokens_per_second:.0f}"
    return (
        time.strftime("%H:%M:%S", time.localtime(record.time)),
        name_of(record.client),
        record.dialect,
        f"{record.method} {record.path}",
        record.model or "-",
        str(record.status),
        record.cache,
        ms(record.ttfb) if is_stream(record) else "-",
        ms(record.duration),
        tokens,
        rate,
    )


class InspectorWindow(QWidget):
    def __init__(self, source: Source, base_url: Callable[[], str]) -> None:
        super().__init__()
        self.setWindowTitle("Requests")
        self.setWindowIcon(app_icon())
        self._source = source
        self._base_url = base_url
        self.shown: list[RequestRecord] = []
        self._sized = False  # columns fitted to the first rows once, then left to the user
        self.client_filter = QLineEdit()
        self.client_filter.setPlaceholderText("client")
        self.model_filter = QLineEdit()
        self.model_filter.setPlaceholderText("model")
        self.status_filter = QLineEdit()
        self.status_filter.setPlaceholderText("status, e.g. 404 or 5xx")
        for field in (self.client_filter, self.model_filter, self.status_filter):
            field.textChanged.connect(self.refresh)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.setWordWrap(False)  # one line per request, however long the path
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._show_selected)
        self.detail = QPlainTextEdit()
        self.detail.setReadOnly(True)
        self.detail.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.copy_curl = QPushButton("Copy as curl")
        self.copy_curl.setEnabled(False)
        self.copy_curl.clicked.connect(self.copy_selected)
        filters = QHBoxLayout()
        filters.addWidget(QLabel("Filter:"))
        filters.addWidget(self.client_filter)
        filters.addWidget(self.model_filter)
        filters.addWidget(self.status_filter)
        filters.addWidget(self.copy_curl)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(self.detail)
        split.setStretchFactor(0, 3)  # the table gets the room; details when selected
        split.setStretchFactor(1, 1)
        root = QVBoxLayout(self)
        root.addLayout(filters)
        root.addWidget(split, 1)
        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self.refresh)
        self.resize(1000, 560)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self.refresh()
        self.timer.start()

    def hideEvent(self, event: QHideEvent) -> None:  # noqa: N802
        self.timer.stop()
        super().hideEvent(event)

    def refresh(self) -> None:
        selected = self.selected()
        client, model = self.client_filter.text().strip(), self.model_filter.text().strip()
        status = self.status_filter.text().strip()
        self.shown = [r for r in self._source() if matches(r, client, model, status)]
        self.table.setRowCount(len(self.shown))
        for row, record in enumerate(self.shown):
            for column, text in enumerate(row_text(record)):
                item = self.table.item(row, column)
                if item is None:
                    self.table.setItem(row, column, QTableWidgetItem(text))
                elif item.text() != text:
                    item.setText(text)
        if selected is not None and selected in self.shown:
            self.table.selectRow(self.shown.index(selected))
        if self.shown and not self._sized:
            self.table.resizeColumnsToContents()
            self._sized = True

    def selected(self) -> RequestRecord | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows or rows[0].row() >= len(self.shown):
            return None
        return self.shown[rows[0].row()]

    def _show_selected(self) -> None:
        record = self.selected()
        self.copy_curl.setEnabled(record is not None)
        if record is None:
            self.detail.clear()
            return
        data = record.as_json()
        body = data.pop("request_body")
        text = json.dumps(data, indent=2)
        text += "\n\nrequest body: " + (body if body is not None else "(kept only with log_bodies)")
        self.detail.setPlainText(text)

    def copy_selected(self) -> None:
        record = self.selected()
        if record is not None:
            QGuiApplication.clipboard().setText(record.curl(self._base_url()))
            self.copy_curl.setText("Copied")
            QTimer.singleShot(1500, lambda: self.copy_curl.setText("Copy as curl"))
