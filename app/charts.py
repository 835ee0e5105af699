"""Custom-painted charts for the dashboard.

Qt Charts lives in the PySide6-Addons wheel (171 MB for 6.10.3); these three widgets
are a few dozen lines each, and a dashboard refresh with its repaint costs about 2 ms
(measured in tests/perf/bench_tray.py). They draw only what the presenter computed.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPalette, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QWidget

from proxy_core.observe.specs import Verdict

from .presenter import SpecRow, TimelinePoint

VERDICT_COLORS = {
    Verdict.BELOW_MINIMUM: QColor("#e03131"),
    Verdict.MEETS_MINIMUM: QColor("#f08c00"),
    Verdict.OPTIMAL: QColor("#2f9e44"),
    Verdict.UNKNOWN: QColor("#868e96"),
}
MARK_COLORS = {"p50": QColor("#1c7ed6"), "p95": QColor("#f08c00"), "p99": QColor("#e03131")}


def _text_color(widget: QWidget) -> QColor:
    return widget.palette().color(QPalette.ColorRole.WindowText)


def _accent(widget: QWidget) -> QColor:
    return widget.palette().color(QPalette.ColorRole.Highlight)


class HistogramWidget(QWidget):
    """Recent requests per latency bucket, with p50/p95/p99 marks."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._bars: Sequence[tuple[str, int]] = ()
        self._marks: Sequence[tuple[str, float]] = ()
        self.setMinimumHeight(150)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(520, 180)

    def set_data(self, bars: Sequence[tuple[str, int]], marks: Sequence[tuple[str, float]]) -> None:
        if (bars, marks) != (self._bars, self._marks):
            self._bars, self._marks = bars, marks
            self.update()

    def paintEvent(self, event: object) -> None:  # noqa: N802 - Qt's name
        if not self._bars:
            return
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        text = _text_color(self)
        metrics = painter.fontMetrics()
        label_h = metrics.height() + 4
        area = QRectF(4, label_h, self.width() - 8, self.height() - 2 * label_h - 4)
        n = len(self._bars)
        slot = area.width() / n
        top = max(count for _, count in self._bars) or 1
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(_accent(self))
        for i, (_, count) in enumerate(self._bars):
            h = area.height() * count / top
            painter.drawRect(QRectF(area.left() + i * slot + 1, area.bottom() - h, slot - 2, h))
        painter.setPen(text)
        step = max(1, n // 8)  # label every few buckets so the text never overlaps
        for i in range(0, n, step):
            left = max(0.0, area.left() + i * slot - slot)  # the first label stays whole
            painter.drawText(
                QRectF(left, area.bottom() + 2, slot * 3, label_h),
                Qt.AlignmentFlag.AlignHCenter if left > 0 else Qt.AlignmentFlag.AlignLeft,
                self._bars[i][0],
            )
        for row, (name, position) in enumerate(self._marks):
            x = area.left() + position * slot
            painter.setPen(QPen(MARK_COLORS.get(name, text), 2, Qt.PenStyle.DashLine))
            painter.drawLine(QPointF(x, area.top()), QPointF(x, area.bottom()))
            # one text line per mark, so p95 and p99 stay readable when they are close
            painter.drawText(QPointF(x + 3, area.top() + (row + 1) * metrics.height()), name)
        painter.end()


class TimelineWidget(QWidget):
    """Requests per second (filled) and time to first token (line) over the last minute."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._points: Sequence[TimelinePoint] = ()
        self.window_seconds = 60.0
        self.setMinimumHeight(110)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(520, 130)

    def set_points(self, points: Sequence[TimelinePoint]) -> None:
        self._points = points
        self.update()

    def paintEvent(self, event: object) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        text = _text_color(self)
        label_h = painter.fontMetrics().height()
        area = QRectF(4, label_h + 4, self.width() - 8, self.height() - label_h - 8)
        faint = QColor(text)
        faint.setAlpha(60)
        painter.setPen(faint)
        painter.drawRect(area)
        peak_rps = max((p.requests_per_second for p in self._points), default=0.0)
        ttfts = [p.ttft for p in self._points if p.ttft is not None]
        peak_ttft = max(ttfts, default=0.0)
        painter.setPen(text)
        painter.drawText(
            QPointF(4, label_h),
            f"req/s (peak {peak_rps:.1f})   time to first token (peak {peak_ttft * 1000:.0f} ms)",
        )
        if len(self._points) < 2:
            painter.end()
            return

        def x(seconds_ago: float) -> float:
            return area.right() - area.width() * min(seconds_ago / self.window_seconds, 1.0)

        fill = QColor(_accent(self))
        fill.setAlpha(110)
        path = QPainterPath(QPointF(x(self._points[0].seconds_ago), area.bottom()))
        for p in self._points:
            y = area.bottom() - area.height() * (p.requests_per_second / (peak_rps or 1.0))
            path.lineTo(x(p.seconds_ago), y)
        path.lineTo(x(self._points[-1].seconds_ago), area.bottom())
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(fill)
        painter.drawPath(path)
        if peak_ttft > 0:
            # One polyline per run of points that have a TTFT (a gap breaks the line).
            painter.setPen(QPen(MARK_COLORS["p95"], 2))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            run = QPolygonF()
            for p in self._points:
                if p.ttft is None:
                    if run.size() > 1:
                        painter.drawPolyline(run)
                    run = QPolygonF()
                    continue
                y = area.bottom() - area.height() * (p.ttft / peak_ttft)
                run.append(QPointF(x(p.seconds_ago), y))
            if run.size() > 1:
                painter.drawPolyline(run)
        painter.end()


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
        for name, value in (("min", row.minimum), ("optimal", row.optimal)):
            if value is None:
                continue
            painter.setPen(QPen(text, 2))
            painter.drawLine(
                QPointF(x(value), track.top() - 2), QPointF(x(value), track.bottom() + 2)
            )
            painter.drawText(QPointF(x(value) - 10, self.height() - 2), name)
        painter.end()
