"""Server-rendered SVG charts for the dashboard: no JavaScript, no CDN, nothing to build.

Each chart is a ``Chart``: the SVG (with ``<title>`` and ``<desc>``), a one-sentence text summary
and the data as table rows, so a screen reader, a text browser and a printout all get the figures.
Colors and strokes come from CSS classes (``dashboard.css``); the markup carries no inline styles,
which the Content-Security-Policy would refuse.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise

from markupsafe import Markup, escape

WIDTH, HEIGHT = 560, 240
LEFT, RIGHT, TOP, BOTTOM = 48, 20, 14, 34
BAR_WIDTH = 480


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]
    css: str  # chart-series--1 ... : the color


@dataclass
class Chart:
    id: str
    title: str
    summary: str
    svg: Markup
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)  # (name, css)


def percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f} %"


def _x(index: int, count: int) -> float:
    span = WIDTH - LEFT - RIGHT
    return LEFT + (span * index / (count - 1) if count > 1 else span / 2)


def _y(value: float, top: float) -> float:
    span = HEIGHT - TOP - BOTTOM
    return TOP + span * (1 - (value / top if top else 0))


def _frame(
    chart_id: str, title: str, summary: str, body: list[str], height: int = HEIGHT, width: int = WIDTH
) -> Markup:
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" preserveAspectRatio="xMidYMid meet">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(summary)}</desc>',
        *body,
        "</svg>",
    ]
    return Markup("".join(parts))  # noqa: S704  # every text above went through escape(); the rest is numbers


def _grid(top: float, label: str = "percent") -> list[str]:
    lines = []
    for step in range(5):
        value = top * step / 4
        y = _y(value, top)
        text = f"{value * 100:g}%" if label == "percent" else f"{value:g}"
        lines.append(f'<line class="chart-grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        lines.append(
            f'<text class="chart-axis" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{text}</text>'
        )
    return lines


def _day_labels(days: Sequence[str]) -> list[str]:
    count = len(days)
    every = max(1, round(count / 8))
    labels = []
    for index, day in enumerate(days):
        near_last = count - 1 - index < every * 0.6 and index != count - 1
        if (index % every == 0 and not near_last) or index == count - 1:
            x = _x(index, count)
            anchor = "end" if index == count - 1 and count > 1 else "middle"
            labels.append(
                f'<text class="chart-axis" x="{x:.1f}" y="{HEIGHT - 10}" text-anchor="{anchor}">'
                f"{escape(day[5:])}</text>"
            )
    return labels


def _path(values: Sequence[float | None], top: float) -> str:
    """An SVG path with a gap wherever a value is missing (a day without a denominator)."""
    commands, pen_down = [], False
    for index, value in enumerate(values):
        if value is None:
            pen_down = False
            continue
        x, y = _x(index, len(values)), _y(value, top)
        commands.append(f"{'L' if pen_down else 'M'}{x:.1f},{y:.1f}")
        pen_down = True
    return " ".join(commands)


SCALES = (0.04, 0.08, 0.2, 0.4, 0.6, 0.8, 1.0)  # quarters: 1 %, 2 %, 5 %, 10 %, 15 %, 20 %, 25 %


def scale_for(series: Sequence[Series]) -> float:
    """The smallest round top (a rate) above every value, so small rates are not a flat line."""
    highest = max((v for s in series for v in s.values if v is not None), default=0.0)
    return next((top for top in SCALES if highest <= top * 0.95), 1.0)


def line_chart(
    chart_id: str,
    title: str,
    summary: str,
    days: Sequence[str],
    series: Sequence[Series],
    *,
    shade_between: bool = False,
) -> Chart:
    """Rates (0..1) by day, on a round scale that fits them. ``shade_between`` fills the gap between
    the first two series."""
    top = scale_for(series)
    body = _grid(top) + _day_labels(days)
    if shade_between and len(series) >= 2:
        upper, lower = series[0].values, series[1].values
        for a, b in pairwise(range(len(days))):
            if None in (upper[a], upper[b], lower[a], lower[b]):
                continue
            points = [
                (_x(a, len(days)), _y(upper[a], top)),  # type: ignore[arg-type]
                (_x(b, len(days)), _y(upper[b], top)),  # type: ignore[arg-type]
                (_x(b, len(days)), _y(lower[b], top)),  # type: ignore[arg-type]
                (_x(a, len(days)), _y(lower[a], top)),  # type: ignore[arg-type]
            ]
            body.append(
                '<polygon class="chart-gap" points="'
                + " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
                + '"/>'
            )
    for item in series:
        path = _path(item.values, top)
        if path:
            body.append(f'<path class="chart-line {item.css}" d="{path}"/>')
        for index, value in enumerate(item.values):
            lonely = value is not None and (
                (index == 0 or item.values[index - 1] is None)
                and (index == len(item.values) - 1 or item.values[index + 1] is None)
            )
            if lonely:  # a single day between gaps: a dot, or it would not show
                x, y = _x(index, len(days)), _y(value, top)  # type: ignore[arg-type]
                body.append(f'<circle class="chart-dot {item.css}" cx="{x:.1f}" cy="{y:.1f}" r="3"/>')
    rows = [[day, *(percent(s.values[index]) for s in series)] for index, day in enumerate(days)]
    return Chart(
        id=chart_id,
        title=title,
        summary=summary,
        svg=_frame(chart_id, title, summary, body),
        columns=["Day", *(s.name for s in series)],
        rows=rows,
        legend=[(s.name, s.css) for s in series],
    )


def bar_chart(
    chart_id: str, title: str, summary: str, items: Sequence[tuple[str, int]], unit: str = ""
) -> Chart:
    """Horizontal bars of counts (a funnel, or queue depth by status), each labelled with its value."""
    height = TOP + 34 * max(1, len(items)) + 8
    top = max((value for _, value in items), default=0) or 1
    label_width, span = 150, BAR_WIDTH - 150 - 50
    body = []
    for index, (label, value) in enumerate(items):
        y = TOP + 34 * index
        width = span * value / top
        body.append(
            f'<text class="chart-label" x="{label_width - 10}" y="{y + 19}" text-anchor="end">'
            f"{escape(label)}</text>"
        )
        body.append(
            f'<rect class="chart-bar chart-series--{index % 4 + 1}" x="{label_width}" y="{y + 4}" '
            f'width="{max(width, 1.5):.1f}" height="20" rx="3"/>'
        )
        body.append(
            f'<text class="chart-value" x="{label_width + width + 8:.1f}" y="{y + 19}">'
            f"{value}{escape(unit)}</text>"
        )
    return Chart(
        id=chart_id,
        title=title,
        summary=summary,
        svg=_frame(chart_id, title, summary, body, height, BAR_WIDTH),
        columns=["Stage", "Count"],
        rows=[[label, str(value)] for label, value in items],
    )
