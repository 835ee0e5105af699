"""Custom-painted charts for the dashboard.

Qt Charts lives in the PySide6-Addons wheel (171 MB for 6.10.3); these three widgets
are a few dozen lines each, and a dashboard refresh with its repaint costs about 2 ms
(measured in tests/perf/bench_tray.py). They draw only what the presenter computed.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPainterPath, QPalette, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from proxy_core import Verdict

from .chart_data import (
    Bar,
    LatencyChart,
    TimelinePoint,
    bound_label,
    log_height,
    log_ticks,
    nice_ceiling,
)
from .hardware_view import SpecRow
from .tray_state import plural

VERDICT_COLORS = {
    Verdict.BELOW_MINIMUM: QColor("#e03131"),
    Verdict.MEETS_MINIMUM: QColor("#f08c00"),
    Verdict.OPTIMAL: QColor("#2f9e44"),
    Verdict.UNKNOWN: QColor("#868e96"),
}
# Bars are a muted slate, marks are never blue: a p50 line must not vanish into its bars.
BAR_COLOR = QColor("#8ea0b8")
MARK_COLORS = {"p50": QColor("#2b8a3e"), "p95": QColor("#e8590c"), "p99": QColor("#c92a2a")}
TTFT_COLOR = QColor("#e8590c")


def _text_color(widget: QWidget) -> QColor:
    return widget.palette().color(QPalette.ColorRole.WindowText)


def _accent(widget: QWidget) -> QColor:
    return widget.palette().color(QPalette.ColorRole.Highlight)


def _faint(widget: QWidget, alpha: int = 60) -> QColor:
    color = QColor(_text_color(widget))
    color.setAlpha(alpha)
    return color


def _tick_text(value: float) -> str:
    return f"{value:g}" if value < 10_000 else f"{value / 1000:g}k"


class HistogramWidget(QWidget):
    """One latency distribution: bars per bucket on a log-scaled count axis, edges
    labelled with the bucket bounds (so each bar reads as a range; hovering names it),
    and p50/p95/p99 marks whose labels sit in boxes of their own colour."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.chart = LatencyChart("")
        self._slots: tuple[float, float] = (0.0, 1.0)  # (left, width per bar), for hovering
        self.setMinimumHeight(130)
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(520, 160)

    def set_chart(self, chart: LatencyChart) -> None:
        if chart != self.chart:
            self.chart = chart
            self.update()

    def bar_at(self, x: float) -> Bar | None:
        left, slot = self._slots
        index = int((x - left) // slot) if slot > 0 else -1
        bars = self.chart.bars
        return bars[index] if 0 <= index < len(bars) else None

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        bar = self.bar_at(event.position().x())
        if bar is None:
            QToolTip.hideText()
        else:
            QToolTip.showText(
                event.globalPosition().toPoint(), f"{bar.label}: {plural(bar.count, 'request')}"
            )

    def paintEvent(self, event: object) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        text = _text_color(self)
        metrics = painter.fontMetrics()
        line = metrics.height()
        bars = self.chart.bars
        if not bars:
            painter.setPen(_faint(self, 160))
            painter.drawText(
                QRectF(0, 0, self.width(), self.height()),
                Qt.AlignmentFlag.AlignCenter,
                "nothing in the last minute",
            )
            painter.end()
            return
        top_tick = log_ticks(max(bar.count for bar in bars))[-1]
        axis_w = metrics.horizontalAdvance(_tick_text(top_tick)) + 6
        area = QRectF(
            axis_w + 2, line // 2, self.width() - axis_w - 8, self.height() - 2 * line - 4
        )
        slot = area.width() / len(bars)
        self._slots = (area.left(), slot)
        # the log count axis: a faint grid line and a label per power of ten
        painter.setPen(_faint(self, 40))
        painter.drawLine(QPointF(area.left(), area.bottom()), QPointF(area.right(), area.bottom()))
        for tick in log_ticks(top_tick):  # 0 is the baseline: a label there would crowd 1
            y = area.bottom() - area.height() * log_height(tick, top_tick)
            painter.setPen(_faint(self, 40))
            painter.drawLine(QPointF(area.left(), y), QPointF(area.right(), y))
            painter.setPen(text)
            painter.drawText(
                QRectF(0, y - line / 2, axis_w, line),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                _tick_text(tick),
            )
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(BAR_COLOR)
        for i, bar in enumerate(bars):
            h = area.height() * log_height(bar.count, top_tick)
            painter.drawRect(QRectF(area.left() + i * slot + 1, area.bottom() - h, slot - 2, h))
        # edge labels: the bound between two bars, skipped where they would overlap
        painter.setPen(text)
        right_of_last = -1.0
        edges = [(i, bar.lower) for i, bar in enumerate(bars)]
        if bars[-1].upper is not None:
            edges.append((len(bars), bars[-1].upper))
        for i, bound in edges:
            label = bound_label(bound) if bound > 0 else "0"
            width = metrics.horizontalAdvance(label)
            x = area.left() + i * slot
            left = min(max(x - width / 2, 0.0), self.width() - width)
            if left <= right_of_last + 6:
                continue
            painter.drawLine(QPointF(x, area.bottom()), QPointF(x, area.bottom() + 3))
            painter.drawText(QPointF(left, area.bottom() + 3 + metrics.ascent()), label)
            right_of_last = left + width
        self._draw_marks(painter, area, slot)
        painter.end()

    def _draw_marks(self, painter: QPainter, area: QRectF, slot: float) -> None:
        metrics = painter.fontMetrics()
        box_h = metrics.height() + 2
        base = self.palette().color(QPalette.ColorRole.Base)
        marks = self.chart.marks
        for mark in marks:  # every line first, so no line crosses another mark's label
            x = area.left() + mark.position * slot
            painter.setPen(
                QPen(MARK_COLORS.get(mark.name, _text_color(self)), 2, Qt.PenStyle.DashLine)
            )
            painter.drawLine(QPointF(x, area.top()), QPointF(x, area.bottom()))
        for row, mark in enumerate(marks):
            color = MARK_COLORS.get(mark.name, _text_color(self))
            x = area.left() + mark.position * slot
            # one boxed label per row, flipped left near the right edge: always readable
            width = metrics.horizontalAdvance(mark.text) + 8
            left = x + 3 if x + 3 + width <= area.right() else x - 3 - width
            box = QRectF(left, area.top() + row * (box_h + 2), width, box_h)
            painter.setPen(QPen(color, 1))
            painter.setBrush(base)
            painter.drawRoundedRect(box, 3, 3)
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, mark.text)


class TimelineWidget(QWidget):
    """Requests per second (filled, left axis) and time to first token (line, right axis,
    ms) over the last minute, each point smoothed over a few seconds (chart_data)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._points: Sequence[TimelinePoint] = ()
        self.window_seconds = 60.0
        self.setMinimumHeight(120)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(520, 150)

    def set_points(self, points: Sequence[TimelinePoint]) -> None:
        self._points = points
        self.update()

    def axes(self) -> tuple[float, float]:
        """The tops of the two axes: req/s and milliseconds, rounded to 1, 2 or 5."""
        peak_rps = max((p.requests_per_second for p in self._points), default=0.0)
        peak_ms = max((p.ttft * 1000 for p in self._points if p.ttft is not None), default=0.0)
        return nice_ceiling(peak_rps), nice_ceiling(peak_ms)

    def paintEvent(self, event: object) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        text = _text_color(self)
        metrics = painter.fontMetrics()
        line = metrics.height()
        top_rps, top_ms = self.axes()
        fill = QColor(_accent(self))
        fill.setAlpha(110)
        self._legend(painter, line, fill)
        left_w = max(metrics.horizontalAdvance(_tick_text(top_rps * k)) for k in (0.5, 1)) + 6
        right_w = max(metrics.horizontalAdvance(_tick_text(top_ms * k)) for k in (0.5, 1)) + 6
        area = QRectF(left_w, line + 6 + line / 2, self.width() - left_w - right_w, 0.0)
        area.setBottom(self.height() - line - 6)
        painter.setPen(_faint(self))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(area)
        for share in (0.0, 0.5, 1.0):  # the two y axes: req/s left, ms right
            y = area.bottom() - area.height() * share
            painter.setPen(_faint(self, 40))
            painter.drawLine(QPointF(area.left(), y), QPointF(area.right(), y))
            painter.setPen(text)
            flags = Qt.AlignmentFlag.AlignVCenter
            painter.drawText(
                QRectF(0, y - line / 2, left_w - 4, line),
                flags | Qt.AlignmentFlag.AlignRight,
                _tick_text(top_rps * share),
            )
            painter.drawText(
                QRectF(area.right() + 4, y - line / 2, right_w, line),
                flags | Qt.AlignmentFlag.AlignLeft,
                _tick_text(top_ms * share),
            )
        for ago in (60, 45, 30, 15, 0):  # the time axis, in seconds before now
            x = area.right() - area.width() * ago / self.window_seconds
            label = "now" if ago == 0 else f"−{ago} s"
            width = metrics.horizontalAdvance(label)
            left = min(max(x - width / 2, area.left()), area.right() - width)
            painter.drawText(QPointF(left, area.bottom() + 3 + metrics.ascent()), label)
        if len(self._points) >= 2:
            self._plot(painter, area, top_rps, top_ms, fill)
        painter.end()

    def _legend(self, painter: QPainter, line: int, fill: QColor) -> None:
        metrics = painter.fontMetrics()
        x = 4.0
        for kind, label in (
            ("fill", "requests/s (left axis)"),
            ("line", "time to first token, ms (right axis)"),
        ):
            swatch = QRectF(x, 3, 14, line - 4)
            if kind == "fill":
                painter.setPen(Qt.PenStyle.NoPen)
                painter.setBrush(fill)
                painter.drawRect(swatch)
            else:
                painter.setPen(QPen(TTFT_COLOR, 2))
                mid = swatch.center().y()
                painter.drawLine(QPointF(swatch.left(), mid), QPointF(swatch.right(), mid))
            painter.setPen(_text_color(self))
            painter.drawText(QPointF(x + 18, metrics.ascent() + 1), label)
            x += 18 + metrics.horizontalAdvance(label) + 16

    def _plot(
        self, painter: QPainter, area: QRectF, top_rps: float, top_ms: float, fill: QColor
    ) -> None:
        def x(seconds_ago: float) -> float:
            return area.right() - area.width() * min(seconds_ago / self.window_seconds, 1.0)

        points = self._points
        path = QPainterPath(QPointF(x(points[0].seconds_ago), area.bottom()))
        for p in points:
            path.lineTo(
                x(p.seconds_ago), area.bottom() - area.height() * p.requests_per_second / top_rps
            )
        path.lineTo(x(points[-1].seconds_ago), area.bottom())
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(fill)
        painter.drawPath(path)
        # One polyline per run of points that have a TTFT (a gap breaks the line).
        painter.setPen(QPen(TTFT_COLOR, 2))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        run = QPolygonF()
        for p in points:
            if p.ttft is None:
                if run.size() > 1:
                    painter.drawPolyline(run)
                run = QPolygonF()
                continue
            run.append(
                QPointF(x(p.seconds_ago), area.bottom() - area.height() * p.ttft * 1000 / top_ms)
            )
        if run.size() > 1:
            painter.drawPolyline(run)


class SpecBar(QWidget):
    """The machine's capacity on a scale with the minimum and optimal specs marked, and
    the share in use drawn inside it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._row: SpecRow | None = None
        self.setMinimumSize(220, 34)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_row(self, row: SpecRow) -> None:
        if row != self._row:
            self._row = row
            self.update()

    def paintEvent(self, event: object) -> None:  # noqa: N802
        row = self._row
        if row is None:
            return
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        text = _text_color(self)
        label_h = painter.fontMetrics().height()
        track = QRectF(2, 4, self.width() - 4, self.height() - label_h - 8)
        faint = QColor(text)
        faint.setAlpha(40)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(faint)
        painter.drawRoundedRect(track, 4, 4)

        def x(value: float) -> float:
            return track.left() + track.width() * min(value / row.scale, 1.0)

        color = VERDICT_COLORS[row.verdict] if row.verdict is not None else _accent(self)
        if row.value is not None:
            capacity = QRectF(
                track.left(), track.top(), x(row.value) - track.left(), track.height()
            )
            light = QColor(color)
            light.setAlpha(90)
            painter.setBrush(light)
            painter.drawRoundedRect(capacity, 4, 4)
            if row.used is not None:
                used = QRectF(capacity)
                used.setWidth(capacity.width() * max(0.0, min(row.used, 1.0)))
                painter.setBrush(color)
                painter.drawRoundedRect(used, 4, 4)
        # the spec's ticks, labelled with their values; a label that would overlap the
        # previous one moves right of it rather than onto it
        metrics = painter.fontMetrics()
        right_of_last = -1.0
        for label, value in zip(row.ticks, (row.minimum, row.optimal), strict=True):
            if value is None:
                continue
            painter.setPen(QPen(text, 2))
            painter.drawLine(
                QPointF(x(value), track.top() - 2), QPointF(x(value), track.bottom() + 2)
            )
            width = metrics.horizontalAdvance(label)
            left = min(max(x(value) - width / 2, right_of_last + 8, 0.0), self.width() - width)
            painter.drawText(QPointF(left, self.height() - 2), label)
            right_of_last = left + width
        painter.end()
