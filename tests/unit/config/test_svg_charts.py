"""The SVG chart builder: every mark carries its value, bars scale to the largest, text is escaped."""

import re

from config.svg_charts import HEIGHT, TOP, Bar, Point, bar_chart, legend, line_chart

PLOT_HEIGHT = HEIGHT - TOP - 28


def _rects(svg: str) -> list[dict[str, str]]:
    return [dict(re.findall(r'([a-z-]+)="([^"]*)"', rect)) for rect in re.findall(r"<rect [^>]*>", svg)]


def test_each_bar_carries_its_label_and_value_and_scales_to_the_largest() -> None:
    svg = str(bar_chart([Bar("a", 2), Bar("b", 8), Bar("c", 0)], chart_id="x", caption="c"))
    rects = _rects(svg)
    assert [(r["data-label"], r["data-value"]) for r in rects] == [("a", "2"), ("b", "8"), ("c", "0")]
    heights = [float(r["height"]) for r in rects]
    assert heights[1] == round(PLOT_HEIGHT, 1) and heights[0] == round(PLOT_HEIGHT / 4, 1) and heights[2] == 0
    assert 'data-max="8"' in svg and "<title>a: 2</title>" in svg


def test_an_empty_or_all_zero_chart_still_draws_a_scale() -> None:
    assert 'data-max="1"' in str(bar_chart([], chart_id="x", caption="c"))
    assert 'data-max="1"' in str(bar_chart([Bar("a", 0)], chart_id="x", caption="c"))


def test_decimal_values_keep_their_cents() -> None:
    svg = str(bar_chart([Bar("d", 28.5), Bar("e", 3.25)], chart_id="x", caption="c"))
    assert [r["data-value"] for r in _rects(svg)] == ["28.5", "3.25"]


def test_labels_and_names_are_escaped() -> None:
    svg = str(bar_chart([Bar("<script>", 1, 'say "hi"')], chart_id="x", caption="<c>"))
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "say &quot;hi&quot;" in svg
    lines = str(line_chart({"<b>": [Point(0, 1, "t")]}, chart_id="y", caption="c", x_range=(0, 1), x_labels=("", "")))
    assert "<b>" not in lines and 'data-series="&lt;b&gt;"' in lines
    assert "<b>" not in str(legend(["<b>"]))


def test_a_line_places_points_along_its_x_range() -> None:
    svg = str(
        line_chart(
            {"p": [Point(0, 5, "start"), Point(50, 10, "middle"), Point(100, 0, "end")]},
            chart_id="y",
            caption="c",
            x_range=(0, 100),
            x_labels=("0", "100"),
        )
    )
    circles = re.findall(r'data-label="([^"]+)" data-value="([^"]+)" cx="([^"]+)" cy="([^"]+)"', svg)
    assert [(label, value) for label, value, _, _ in circles] == [("start", "5"), ("middle", "10"), ("end", "0")]
    xs = [float(cx) for _, _, cx, _ in circles]
    assert xs[1] - xs[0] == xs[2] - xs[1] > 0
    ys = [float(cy) for _, _, _, cy in circles]
    assert ys[1] == TOP and ys[2] == TOP + round(PLOT_HEIGHT, 1)  # the top of the scale, and zero
