"""Server-rendered SVG charts of a signal: the series, the baseline and its normal band, the
anomalous minutes and the alerts marked. No JavaScript: the page works as plain HTML, and the
chart carries a text description for screen readers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from tideover.detect.models import Alert, Signal, SignalPoint

WIDTH, HEIGHT = 640, 160
LEFT, RIGHT, TOP, BOTTOM = 48, 8, 10, 22


@dataclass(frozen=True)
class Span:
    start: datetime
    end: datetime
    label: str


def _fmt(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def render(
    points: list[SignalPoint],
    *,
    title: str,
    unit: str = "",
    spans: list[Span] = (),
    start: datetime | None = None,
    end: datetime | None = None,
) -> SafeString:
    """An SVG of ``points`` (ordered by minute) with the baseline band and ``spans`` shaded."""
    if not points:
        return mark_safe(f'<p class="muted">No points for {escape(title)} in this window.</p>')
    start = start or points[0].minute
    end = end or points[-1].minute
    seconds = max((end - start).total_seconds(), 60.0)
    values = [p.value for p in points]
    for p in points:
        if p.low is not None:
            values.extend((p.low, p.high))
    low, high = min(values), max(values)
    if high - low < 1e-9:
        low, high = low - 1, high + 1
    pad = (high - low) * 0.05
    low, high = low - pad, high + pad
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(at: datetime) -> float:
        return LEFT + plot_w * (at - start).total_seconds() / seconds

    def y(value: float) -> float:
        return TOP + plot_h * (1 - (value - low) / (high - low))

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'class="signal-chart" width="100%" preserveAspectRatio="xMinYMin meet" role="img" aria-labelledby="chart-{id(points)}">',
        f'<title id="chart-{id(points)}">{escape(_describe(points, title, unit, spans))}</title>',
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="#fafafa" '
        'stroke="#ddd"/>',
    ]
    for span in spans:
        a, b = max(x(span.start), LEFT), min(x(span.end), WIDTH - RIGHT)
        if b >= a:
            parts.append(
                f'<rect x="{a:.1f}" y="{TOP}" width="{max(b - a, 2):.1f}" height="{plot_h}" '
                f'fill="#f6c9c9" opacity="0.6"><title>{escape(span.label)}</title></rect>'
            )
    banded = [p for p in points if p.low is not None and p.high is not None]
    if banded:
        upper = " ".join(f"{x(p.minute):.1f},{y(p.high):.1f}" for p in banded)
        lower = " ".join(f"{x(p.minute):.1f},{y(p.low):.1f}" for p in reversed(banded))
        parts.append(f'<polygon points="{upper} {lower}" fill="#cfe3f7" opacity="0.8"/>')
        base = " ".join(f"{x(p.minute):.1f},{y(p.baseline):.1f}" for p in banded)
        parts.append(
            f'<polyline points="{base}" fill="none" stroke="#5b8cc4" stroke-dasharray="4 3"/>'
        )
    line = " ".join(f"{x(p.minute):.1f},{y(p.value):.1f}" for p in points)
    parts.append(f'<polyline points="{line}" fill="none" stroke="#222" stroke-width="1.5"/>')
    for p in points:
        if p.anomalous:
            parts.append(
                f'<circle cx="{x(p.minute):.1f}" cy="{y(p.value):.1f}" r="3" fill="#c62828"/>'
            )
    text = 'font-size="11" fill="#555" font-family="sans-serif"'
    parts += [
        f'<text x="{LEFT - 4}" y="{TOP + 10}" text-anchor="end" {text}>{_fmt(high)}</text>',
        f'<text x="{LEFT - 4}" y="{TOP + plot_h}" text-anchor="end" {text}>{_fmt(low)}</text>',
        f'<text x="{LEFT}" y="{HEIGHT - 6}" {text}>{start:%a %H:%M}</text>',
        f'<text x="{WIDTH - RIGHT}" y="{HEIGHT - 6}" text-anchor="end" {text}>'
        f"{end:%a %H:%M} UTC</text>",
        "</svg>",
    ]
    return mark_safe("".join(parts))


def _describe(points, title, unit, spans) -> str:
    last = points[-1]
    text = f"{title}: latest {_fmt(last.value)}{unit} at {last.minute:%H:%M} UTC"
    if last.baseline is not None:
        text += f", expected about {_fmt(last.baseline)}{unit}"
    flagged = sum(1 for p in points if p.anomalous)
    if flagged:
        text += f"; {flagged} unusual minute(s)"
    if spans:
        text += f"; {len(spans)} alert(s) marked"
    return text


def signal_chart(signal: Signal, start: datetime, end: datetime, alerts=None) -> SafeString:
    """The chart of one signal between ``start`` and ``end``, its alerts shaded."""
    points = list(
        SignalPoint.objects.filter(signal=signal, minute__gte=start, minute__lte=end).order_by(
            "minute"
        )
    )
    if alerts is None:
        alerts = Alert.objects.filter(signals=signal, last_seen_at__gte=start, started_at__lte=end)
    spans = [
        Span(a.started_at, a.closed_at or a.last_seen_at or end, f"Alert: {a.title}")
        for a in alerts
    ]
    return render(points, title=signal.name, unit=signal.unit, spans=spans, start=start, end=end)


def window_around(alert: Alert, before=timedelta(minutes=60), after=timedelta(minutes=30)):
    end = (alert.closed_at or alert.last_seen_at) + after
    return alert.started_at - before, end
