"""Small server-side SVG charts for the operations page: bars and lines, no JavaScript, no CDN.

Hand-written rather than a charting library: the page needs two chart shapes, must
work offline without serving a JS bundle, and every mark must carry its number in
`data-*` attributes and a `<title>` (the tooltip), so a test or a screen reader can read
the value a bar or a point stands for. Python SVG libraries (pygal) draw more but put
their numbers in script-driven tooltips. All text goes through Django's escaping.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

WIDTH, HEIGHT = 720, 180
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 12, 28
"""Margins: room for the y labels on the left and the x labels below."""
PALETTE = ("#417690", "#c96a27", "#5b8c3a", "#8b4f9a", "#b03a48", "#2f8f8f")


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    """What the bar stands for (a minute, a day), shown in its tooltip and under the axis."""
    value: float
    title: str = ""
    """The tooltip; `label: value` when empty."""


@dataclass(frozen=True, slots=True)
class Point:
    x: float
    """Position on the x axis, in the chart's own unit (e.g. seconds)."""
    value: float
    label: str
    """What the point stands for (a time), shown in its tooltip."""


def _number(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))


def _coordinate(value: float) -> str:
    """Formatted before format_html, which escapes its arguments into strings a float format cannot take."""
    return f"{value:.1f}"


def _frame(chart_id: str, kind: str, top: float, body: SafeString, first: str, last: str, caption: str) -> SafeString:
    """The svg element, the y axis scale (0 and the top value), the x axis's two end labels and the marks."""
    bottom = HEIGHT - BOTTOM
    return format_html(
        '<svg class="ops-chart" id="{id}" data-kind="{kind}" data-max="{top}" viewBox="0 0 {w} {h}"'
        ' width="100%" preserveAspectRatio="xMidYMid meet" role="img" aria-label="{caption}"'
        ' xmlns="http://www.w3.org/2000/svg">'
        '<line class="axis" x1="{l}" y1="{b}" x2="{r}" y2="{b}" stroke="#999"/>'
        '<line class="axis" x1="{l}" y1="{t}" x2="{l}" y2="{b}" stroke="#999"/>'
        '<text x="{lt}" y="{ty}" text-anchor="end" font-size="11">{top}</text>'
        '<text x="{lt}" y="{b}" text-anchor="end" font-size="11">0</text>'
        '<text x="{l}" y="{xl}" font-size="11">{first}</text>'
        '<text x="{r}" y="{xl}" text-anchor="end" font-size="11">{last}</text>'
        "{body}</svg>",
        id=chart_id,
        kind=kind,
        top=_number(top),
        w=WIDTH,
        h=HEIGHT,
        caption=caption,
        l=LEFT,
        r=WIDTH - RIGHT,
        t=TOP,
        b=bottom,
        lt=LEFT - 6,
        ty=TOP + 10,
        xl=HEIGHT - 8,
        first=first,
        last=last,
        body=body,
    )


def bar_chart(bars: Sequence[Bar], *, chart_id: str, caption: str) -> SafeString:
    """One bar per entry, left to right, scaled to the largest (an all-zero chart keeps a scale of 1)."""
    top = max((bar.value for bar in bars), default=0) or 1
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(bars), 1)
    marks = format_html_join(
        "",
        '<rect class="bar" data-label="{}" data-value="{}" x="{}" y="{}" width="{}" height="{}"'
        ' fill="#417690"><title>{}</title></rect>',
        (
            (
                bar.label,
                _number(bar.value),
                _coordinate(LEFT + i * step + step * 0.1),
                _coordinate(TOP + plot_h - plot_h * bar.value / top),
                _coordinate(step * 0.8),
                _coordinate(plot_h * bar.value / top),
                bar.title or f"{bar.label}: {_number(bar.value)}",
            )
            for i, bar in enumerate(bars)
        ),
    )
    first = bars[0].label if bars else ""
    last = bars[-1].label if bars else ""
    return _frame(chart_id, "bar", top, marks, first, last, caption)


def line_chart(
    series: dict[str, Sequence[Point]],
    *,
    chart_id: str,
    caption: str,
    x_range: tuple[float, float],
    x_labels: tuple[str, str],
) -> SafeString:
    """One polyline per named series over a fixed x range, each point a circle carrying its value."""
    top = max((p.value for points in series.values() for p in points), default=0) or 1
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    x0, x1 = x_range
    span = (x1 - x0) or 1

    def xy(point: Point) -> tuple[float, float]:
        return LEFT + plot_w * (point.x - x0) / span, TOP + plot_h - plot_h * point.value / top

    parts = []
    for index, (name, points) in enumerate(series.items()):
        colour = PALETTE[index % len(PALETTE)]
        coordinates = " ".join(f"{x:.1f},{y:.1f}" for x, y in map(xy, points))
        circles = format_html_join(
            "",
            '<circle class="point" data-label="{}" data-value="{}" cx="{}" cy="{}" r="2.5" fill="{}">'
            "<title>{}: {} at {}</title></circle>",
            (
                (p.label, _number(p.value), *map(_coordinate, xy(p)), colour, name, _number(p.value), p.label)
                for p in points
            ),
        )
        parts.append(
            format_html(
                '<g class="series" data-series="{}"><polyline points="{}" fill="none" stroke="{}"'
                ' stroke-width="1.5"/>{}</g>',
                name,
                coordinates,
                colour,
                circles,
            )
        )
    body = format_html_join("", "{}", ((part,) for part in parts))  # each part already escaped by format_html
    return _frame(chart_id, "line", top, body, *x_labels, caption)


def legend(names: Sequence[str]) -> SafeString:
    """The colour of each line_chart series, in the same order."""
    return format_html_join(
        "",
        '<span class="legend-item"><span style="display:inline-block;width:10px;height:10px;background:{}"></span>'
        " {}</span> ",
        ((PALETTE[i % len(PALETTE)], name) for i, name in enumerate(names)),
    )
