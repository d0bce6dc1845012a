"""Charts as inline SVG, drawn on the server: no chart library, no script.

Each function returns markup for ``{{ chart|safe }}``: a line chart of
series over time and a grouped bar chart. Colours come from CSS classes
(``s0``..``s5``) so the stylesheet decides them.
"""

from __future__ import annotations

from markupsafe import Markup, escape

WIDTH, HEIGHT, PAD_L, PAD_R, PAD_T, PAD_B = 640, 240, 62, 12, 16, 48
# At 390 px the 640-unit chart is drawn about half size, so the stylesheet doubles the text
# there (console.css, svg.chart) and hides the ``minor`` axis labels (every other one): the
# legend is spaced for that larger text.
LEGEND_CHAR = 13  # width of a character of the legend at its larger size, in chart units


def _legend(entries: list[tuple[str, str]]) -> str:
    """Legend swatches and labels on one row, each placed after the previous label's width."""
    parts, x = [], PAD_L
    for css, label in entries:
        parts.append(
            f'<rect class="{css} fill" x="{x}" y="{HEIGHT - 14}" width="10" height="10"/>'
            f'<text class="legend" x="{x + 14}" y="{HEIGHT - 4}">{escape(label)}</text>'
        )
        x += 14 + LEGEND_CHAR * len(label) + 16
    return "".join(parts)


def _x_label(x: float, label: str, shown: int) -> str:
    """An x-axis label; every other one shown is ``minor`` (hidden on narrow screens)."""
    minor = " minor" if shown % 2 else ""
    return (
        f'<text class="axis{minor}" x="{x:.1f}" y="{HEIGHT - PAD_B + 20}" text-anchor="middle">'
        f"{escape(label)}</text>"
    )


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1
    for step in (
        1,
        2,
        5,
        10,
        20,
        25,
        50,
        100,
        200,
        250,
        500,
        1000,
        2000,
        5000,
        10000,
        20000,
        50000,
        100000,
        200000,
        500000,
        1000000,
    ):
        if value <= step:
            return step
    return value


def _css(n: int, key: str, colours: dict[str, str] | None) -> str:
    """A series' colour class: the caller's for its key (``negative`` is red), else ``s0``..``s5``."""
    return (colours or {}).get(key) or f"s{n % 6}"


def line_chart(
    labels: list[str],
    series: dict[str, list[float]],
    title: str,
    legend: dict[str, str],
    low: float = 0,
    top: float | None = None,
    colours: dict[str, str] | None = None,
) -> Markup:
    """One line per series over ``labels`` (x axis); ``legend`` maps series key to its label.
    The y axis runs from ``low`` to ``top`` (default: a round number above the largest value);
    a day without a value (None) is drawn at 0 when 0 is on the axis."""
    count = len(labels)
    if top is None:
        top = _nice_max(max((v for values in series.values() for v in values if v is not None), default=0))
    plot_w, plot_h = WIDTH - PAD_L - PAD_R, HEIGHT - PAD_T - PAD_B

    def x(i):
        return PAD_L + (plot_w * i / (count - 1) if count > 1 else plot_w / 2)

    def y(v):
        v = min(top, max(low, v or 0))
        return PAD_T + plot_h - plot_h * (v - low) / (top - low)

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for fraction in (0, 0.5, 1):
        value = low + (top - low) * fraction
        yy = y(value)
        parts.append(f'<line class="grid" x1="{PAD_L}" x2="{WIDTH - PAD_R}" y1="{yy:.1f}" y2="{yy:.1f}"/>')
        parts.append(
            f'<text class="axis" x="{PAD_L - 6}" y="{yy + 4:.1f}" text-anchor="end">{_short(value)}</text>'
        )
    every = max(1, count // 6)
    shown = 0
    for i, label in enumerate(labels):
        if i % every == 0 or i == count - 1:
            parts.append(_x_label(x(i), label, shown))
            shown += 1
    for n, (key, values) in enumerate(series.items()):
        css = _css(n, key, colours)
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
        if count == 1:
            parts.append(f'<circle class="{css}" cx="{x(0):.1f}" cy="{y(values[0]):.1f}" r="4"/>')
        else:
            parts.append(f'<polyline class="line {css}" points="{points}"/>')
    parts.append(_legend([(_css(n, key, colours), legend.get(key, key)) for n, key in enumerate(series)]))
    parts.append("</svg>")
    return Markup("".join(parts))


def bar_chart(
    groups: list[str],
    series: dict[str, list[float]],
    title: str,
    legend: dict[str, str],
    stacked: bool = False,
    colours: dict[str, str] | None = None,
) -> Markup:
    """Bars per group (x axis), one bar per series side by side, or stacked."""
    count = max(len(groups), 1)
    totals = (
        [sum((values[i] or 0) for values in series.values()) for i in range(len(groups))]
        if stacked
        else [v or 0 for values in series.values() for v in values]
    )
    top = _nice_max(max(totals, default=0))
    plot_w, plot_h = WIDTH - PAD_L - PAD_R, HEIGHT - PAD_T - PAD_B
    slot = plot_w / count
    bars = 1 if stacked else max(len(series), 1)
    bar_w = max(2.0, slot * 0.8 / bars)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for fraction in (0, 0.5, 1):
        yy = PAD_T + plot_h - plot_h * fraction
        parts.append(f'<line class="grid" x1="{PAD_L}" x2="{WIDTH - PAD_R}" y1="{yy:.1f}" y2="{yy:.1f}"/>')
        parts.append(
            f'<text class="axis" x="{PAD_L - 6}" y="{yy + 4:.1f}" text-anchor="end">'
            f"{_short(top * fraction)}</text>"
        )
    every = max(1, count // 8)
    shown = 0
    for i, group in enumerate(groups):
        base = PAD_T + plot_h
        for n, (key, values) in enumerate(series.items()):
            value = values[i] or 0
            h = plot_h * value / top
            xx = PAD_L + slot * i + slot * 0.1 + (0 if stacked else n * bar_w)
            parts.append(
                f'<rect class="{_css(n, key, colours)} fill" x="{xx:.1f}" y="{base - h:.1f}" '
                f'width="{bar_w:.1f}" '
                f'height="{h:.1f}"><title>{escape(group)} · {escape(legend.get(key, key))}: '
                f"{_short(value)}</title></rect>"
            )
            if stacked:
                base -= h
        if i % every == 0:
            parts.append(_x_label(PAD_L + slot * (i + 0.5), group, shown))
            shown += 1
    parts.append(_legend([(_css(n, key, colours), legend.get(key, key)) for n, key in enumerate(series)]))
    parts.append("</svg>")
    return Markup("".join(parts))


def _short(value: float) -> str:
    if abs(value) >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if abs(value) >= 1000:
        return f"{value / 1000:.1f}k"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.2f}"
