"""The dashboard window: pulls a snapshot on a timer while visible, never per request."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QHideEvent, QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMenuBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from proxy_core import AuditEntry, MetricsSnapshot, RequestRecord, name_of

from .charts import VERDICT_COLORS, HistogramWidget, SpecBar, TimelineWidget
from .hardware_view import SPECS_PURPOSE, SpecRow
from .icons import app_icon
from .presenter import DashboardPresenter, DashboardView, client_rows, tool_rows

REFRESH_MS = 500  # about twice a second, as the brief asks
BLANK = "\u00a0"  # a row kept for its height
PREFERRED_SIZE = QSize(1000, 720)
HARDWARE_ROWS = 8  # CPU, RAM, network, storage and up to four GPUs, above the memory rows
_SWATCH = '<span style="background:{};">&nbsp;&nbsp;&nbsp;&nbsp;</span>'
BAR_LEGEND = (
    f"{_SWATCH.format('#b2dfbc')} capacity &nbsp; {_SWATCH.format('#2f9e44')} in use now"
    " &nbsp; <b>|</b> the minimum and optimal specs (colour: the verdict)"
)
SnapshotSource = Callable[[], MetricsSnapshot | None]
ToolActions = Callable[[], Sequence[AuditEntry] | None]  # None: the tools are off


class _Form(QWidget):
    """A label/value form whose rows are replaced in place (no widget churn per refresh)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layout = QFormLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._values: list[tuple[QLabel, QLabel]] = []

    def set_rows(self, rows: Sequence[tuple[str, str]]) -> None:
        while len(self._values) < len(rows):
            name, value = QLabel(), QLabel()
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            value.setWordWrap(True)
            self._layout.addRow(name, value)
            self._values.append((name, value))
        # Rows a form no longer needs are blanked, not hidden: they keep their space while
        # the window is open, so the boxes below do not jump when Ollama goes down or a
        # model unloads (they are dropped when the window is shown again: clear()).
        for index, (name_label, value_label) in enumerate(self._values):
            name_label.setText(rows[index][0] if index < len(rows) else "")
            value_label.setText(rows[index][1] if index < len(rows) else BLANK)

    def clear(self) -> None:
        while self._values:
            self._values.pop()
            self._layout.removeRow(self._layout.rowCount() - 1)

    def text(self) -> dict[str, str]:
        return {n.text(): v.text() for n, v in self._values if v.text() != BLANK}


class _HardwareRow:
    def __init__(self, grid: QGridLayout, row: int) -> None:
        self.name = QLabel()
        self.capacity = QLabel()
        self.bar = SpecBar()
        self.verdict = QLabel()
        self.detail = QLabel()
        self.detail.setWordWrap(True)
        grid.addWidget(self.name, row, 0)
        grid.addWidget(self.capacity, row, 1)
        grid.addWidget(self.bar, row, 2)
        grid.addWidget(self.verdict, row, 3)
        grid.addWidget(self.detail, row, 4)

    def show(self, data: SpecRow | None) -> None:
        for widget in (self.name, self.capacity, self.bar, self.verdict, self.detail):
            widget.setVisible(data is not None)
        if data is None:
            return
        self.name.setText(f"<b>{data.name}</b>")
        self.capacity.setText(data.capacity)
        self.bar.set_row(data)
        if data.verdict is None:
            self.verdict.setText("")
        else:
            color = VERDICT_COLORS[data.verdict].name()
            self.verdict.setText(f'<span style="color:{color}">{data.verdict.label}</span>')
        self.detail.setText(data.detail)


class OllamaBanner(QFrame):
    """Ollama down is a state with actions, not a line of text."""

    retry_requested = Signal()
    change_url_requested = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.setStyleSheet(
            "OllamaBanner { background: #fff4e6; border: 1px solid #f08c00; border-radius: 4px }"
        )
        self.headline = QLabel()
        self.headline.setStyleSheet("font-weight: bold; color: #862e00")
        self.how = QLabel()
        self.how.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.how.setWordWrap(True)
        self.retry = QPushButton("Retry now")
        self.retry.clicked.connect(self.retry_requested)
        self.change_url = QPushButton("Change URL…")
        self.change_url.clicked.connect(self.change_url_requested)
        text = QVBoxLayout()
        text.addWidget(self.headline)
        text.addWidget(self.how)
        row = QHBoxLayout(self)
        row.addLayout(text, 1)
        row.addWidget(self.retry)
        row.addWidget(self.change_url)
        self.hide()

    def show_down(self, headline: str, how: str) -> None:
        self.headline.setText(headline)
        self.how.setText(how)
        self.show()


class DashboardWindow(QWidget):
    clear_cache_requested = Signal()
    quit_requested = Signal()  # closing the window when it stands in for a missing tray

    def __init__(
        self,
        source: SnapshotSource,
        presenter: DashboardPresenter,
        tool_actions: ToolActions | None = None,
        requests: Callable[[], Sequence[RequestRecord]] | None = None,
    ) -> None:
        super().__init__()
        self._requests = requests or (lambda: ())
        self.ring_size: Callable[[], int] = lambda: 1 << 30  # the inspector's capacity
        self._tool_actions = tool_actions or (lambda: None)
        self.setWindowTitle("Dashboard")  # Qt appends the app's display name
        self.setWindowIcon(app_icon())
        self._source = source
        self.presenter = presenter
        self.view: DashboardView | None = None
        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self.refresh)

        self.close_quits = False
        self.banner = QLabel()
        self.banner.setWordWrap(True)
        self.banner.hide()
        self.ollama_banner = OllamaBanner()
        self.summary = QLabel("Waiting for the first snapshot…")

        left, right = self._columns(self._latency_box())
        hardware = self._hardware_box()
        scroll = self._scrolling(left, right, hardware)
        root = QVBoxLayout(self)
        # Every tray action, always: on a desktop without a tray (stock GNOME) this window
        # is the only way to them (the controller fills it with the tray menu's actions).
        self.menu_bar = QMenuBar()
        self.actions_menu = self.menu_bar.addMenu("&Proxy")
        root.setMenuBar(self.menu_bar)
        root.addWidget(self.banner)
        root.addWidget(self.ollama_banner)
        root.addWidget(self.summary)
        root.addWidget(scroll, 1)
        self.setMinimumSize(640, 480)
        self.resize(PREFERRED_SIZE)
        self._fitted = False

    def _scrolling(self, left: QVBoxLayout, right: QVBoxLayout, hardware: QGroupBox) -> QScrollArea:
        """The two columns above the hardware box, in a scroll area."""
        content = QWidget()
        body = QVBoxLayout(content)
        body.setContentsMargins(0, 0, 0, 0)
        columns = QHBoxLayout()
        columns.addLayout(left, 3)
        columns.addLayout(right, 2)
        body.addLayout(columns, 1)
        body.addWidget(hardware)
        # Small screens (down to 640x480) scroll instead of clipping.
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(content)
        return scroll

    def _latency_box(self) -> QGroupBox:
        """The two generation histograms (time to first token, total), by model."""
        # Generations only: hits and the rest get a line each (chart_data.py says why).
        self.ttft_title = QLabel()
        self.ttft_chart = HistogramWidget()
        self.duration_title = QLabel()
        self.duration_chart = HistogramWidget()
        self.latency_lines = QLabel()
        self.latency_lines.setWordWrap(True)
        self.model_choice = QComboBox()
        self.model_choice.addItem("All models", None)
        self.model_choice.currentIndexChanged.connect(self._choose_model)
        latency = QGroupBox("Latency of generations (last minute)")
        lay = QVBoxLayout(latency)
        choice = QHBoxLayout()
        choice.addWidget(QLabel("Model:"))
        choice.addWidget(self.model_choice)
        choice.addStretch(1)
        lay.addLayout(choice)
        lay.addWidget(self.ttft_title)
        lay.addWidget(self.ttft_chart, 1)
        lay.addWidget(self.duration_title)
        lay.addWidget(self.duration_chart, 1)
        lay.addWidget(self.latency_lines)
        return latency

    def _hardware_box(self) -> QGroupBox:
        """The machine against the recommended specs; its rows are filled per view."""
        hardware = QGroupBox("Hardware against the recommended specs")
        grid = QGridLayout(hardware)
        purpose = QLabel(SPECS_PURPOSE)
        purpose.setWordWrap(True)
        grid.addWidget(purpose, 0, 0, 1, 5)
        grid.addWidget(self.verdict, 1, 0, 1, 3)
        grid.addWidget(QLabel(BAR_LEGEND), 1, 3, 1, 2)
        self.memory = _Form()
        grid.addWidget(self.memory, HARDWARE_ROWS + 2, 0, 1, 5)
        grid.setColumnStretch(2, 2)
        grid.setColumnStretch(4, 3)
        self._hardware_grid = grid
        self._hardware_rows: list[_HardwareRow] = []

        return hardware

    def _columns(self, latency: QGroupBox) -> tuple[QVBoxLayout, QVBoxLayout]:
        """Latency and traffic on the left; the cache, Ollama, this app, the hosts, the
        clients and the tool actions on the right."""
        self.timeline = TimelineWidget()
        self.cache = _Form()
        self.ollama = _Form()
        self.models = _Form()
        self.verdict = QLabel()
        self.clients = _Form()
        self.this_app = _Form()
        self.tools = _Form()
        self.tools_box = QGroupBox("Tool actions (agent tools on; newest first)")
        QVBoxLayout(self.tools_box).addWidget(self.tools)
        self.tools_box.hide()
        clear = QPushButton("Clear cache")
        clear.clicked.connect(self.clear_cache_requested)
        traffic = QGroupBox("Traffic")
        QVBoxLayout(traffic).addWidget(self.timeline)
        cache = QGroupBox("Cache")
        lay = QVBoxLayout(cache)
        lay.addWidget(self.cache)
        lay.addWidget(clear, alignment=Qt.AlignmentFlag.AlignRight)
        ollama = QGroupBox("Ollama")
        lay = QVBoxLayout(ollama)
        lay.addWidget(self.ollama)
        lay.addWidget(QLabel("<b>Loaded models</b>"))
        lay.addWidget(self.models)
        left = QVBoxLayout()
        left.addWidget(latency, 5)
        left.addWidget(traffic, 2)
        right = QVBoxLayout()
        right.addWidget(cache)
        right.addWidget(ollama)
        this_app = QGroupBox("This app")
        QVBoxLayout(this_app).addWidget(self.this_app)
        right.addWidget(this_app)
        self.upstreams = _Form()
        self.upstreams_box = QGroupBox("Ollama hosts")
        QVBoxLayout(self.upstreams_box).addWidget(self.upstreams)
        self.upstreams_box.hide()  # shown with several hosts (ollama_url lists them)
        right.addWidget(self.upstreams_box)
        self.clients_box = QGroupBox("Clients (last minute)")
        QVBoxLayout(self.clients_box).addWidget(self.clients)
        right.addWidget(self.clients_box)
        right.addWidget(self.tools_box)
        right.addStretch(1)
        return left, right

    def _show_choices(self, models: Sequence[str]) -> None:
        """Add models as they appear; never remove one while shown (no jumping combo)."""
        known = {self.model_choice.itemData(i) for i in range(self.model_choice.count())}
        for model in models:
            if model not in known:
                self.model_choice.addItem(model, model)

    def _choose_model(self, index: int) -> None:
        self.presenter.model = self.model_choice.itemData(index)
        if self.isVisible():
            self.refresh()

    def add_actions(self, actions: Sequence[QAction]) -> None:
        """The tray menu's actions (the same QActions: one state, two places)."""
        for action in actions:
            self.actions_menu.addAction(action)

    # visibility drives the timer: no refresh work while hidden ------------------------------
    def fit_to_screen(self, available: QSize) -> None:
        """Never taller or wider than the screen's free area (a 1440-pixel screen at 2x
        scale is 720 logical pixels); what does not fit scrolls."""
        size = self.size().boundedTo(available).expandedTo(self.minimumSize())
        if size != self.size():
            self.resize(size)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        if not self._fitted:
            self._fitted = True
            self.fit_to_screen(self.screen().availableGeometry().size())
        super().showEvent(event)
        self.presenter.reset()
        for form in (self.cache, self.ollama, self.models, self.memory, self.clients, self.tools):
            form.clear()
        self.refresh()
        self.timer.start()

    def hideEvent(self, event: QHideEvent) -> None:  # noqa: N802
        self.timer.stop()
        super().hideEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        event.ignore()  # closing hides; only Quit ends the app
        self.hide()
        if self.close_quits:
            self.quit_requested.emit()

    def refresh(self) -> None:
        records = self._requests()
        now = time.time()
        rows = client_rows(records, now)
        # The inspector's ring may hold less than a minute when traffic is heavy: say so.
        if records and now - records[-1].time < 60 and len(records) >= self.ring_size():
            self.clients_box.setTitle(f"Clients (the last {len(records)} requests)")
        else:
            self.clients_box.setTitle("Clients (last minute)")
        self.clients.set_rows(
            [
                (name_of(r.client), f"{r.requests} requests, {r.errors} errors · {r.models}")
                for r in rows
            ]
            or (("", "no client in the last minute"),)
        )
        entries = self._tool_actions()
        self.tools_box.setVisible(entries is not None)
        if entries is not None:
            self.tools.set_rows(tool_rows(entries) or (("", "none yet"),))
        snapshot = self._source()
        if snapshot is None:
            self.summary.setText("The proxy is not running.")
            return
        self.show_view(self.presenter.update(snapshot))

    def show_view(self, view: DashboardView) -> None:
        self.view = view
        self.summary.setText(view.summary)
        self._show_choices(view.model_choices)
        for title, chart, data in (
            (self.ttft_title, self.ttft_chart, view.ttft),
            (self.duration_title, self.duration_chart, view.duration),
        ):
            title.setText(f"<b>{data.headline}</b>")
            chart.set_chart(data)
        self.latency_lines.setText("<br>".join(view.latency_lines))
        self.timeline.set_points(view.timeline)
        self.cache.set_rows(view.cache)
        self.ollama.set_rows(view.ollama)
        self.models.set_rows(view.models or (("", "none loaded"),))
        self.this_app.set_rows(view.this_app or (("", "measuring…"),))
        self.verdict.setText(f"This machine overall: <b>{view.verdict}</b>")
        while len(self._hardware_rows) < len(view.hardware):
            self._hardware_rows.append(
                _HardwareRow(self._hardware_grid, len(self._hardware_rows) + 2)
            )
        for index, row in enumerate(self._hardware_rows):
            row.show(view.hardware[index] if index < len(view.hardware) else None)
        self.memory.set_rows(view.memory)
        self.upstreams_box.setVisible(bool(view.upstreams))
        self.upstreams.set_rows(view.upstreams)
