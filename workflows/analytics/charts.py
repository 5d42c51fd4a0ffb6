"""The analytics' charts, drawn by the server as SVG with matplotlib (already Accord's chart
library, for the annual report): no script, nothing from elsewhere, and a picture that stays
sharp at any width. The page shows each one as an <img> (a ``data:`` URI, which the CSP
allows for images and in which nothing runs) whose text alternative says what it draws; the
figures themselves are in the table under it."""

from __future__ import annotations

import base64
import hashlib
import io
import json
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")  # no display; the SVG canvas is chosen per figure below

from django.core.cache import cache
from django.urls import reverse
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from .selectors import Figures

CHART_LINES = 12  # the slowest lines drawn; the table and the CSV have them all
MEDIAN_COLOUR = "#000091"  # the French State's blue (the pages' own)
P90_COLOUR = "#9a9aff"
LABEL_LENGTH = 28
# Drawing a chart takes matplotlib 100 to 300 ms: a chart drawn once is kept, under the hash of
# everything it shows, until the figures change (a task finished) or a day has passed.
CACHE_SECONDS = 24 * 3600
# The shape of what is kept: bumped when it changes, so that no older entry is read.
FORMAT = 2


def _short(label: str) -> str:
    return label if len(label) <= LABEL_LENGTH else label[: LABEL_LENGTH - 1] + "…"


def figures_chart_svg(
    figures: Sequence[Figures], *, median_label: str, p90_label: str, hours_label: str
) -> bytes:
    """Horizontal bars, the slowest line on top: the median and the 90th percentile of the
    hours spent. Text is drawn as paths, so the picture needs no font on the reader's side."""
    lines = list(figures[:CHART_LINES])
    # Narrow, with large text: on a phone the picture is scaled down to about 360 px wide.
    height = 1.3 + 0.5 * max(len(lines), 1)
    figure = Figure(figsize=(6.4, height))
    FigureCanvasSVG(figure)
    axes = figure.add_subplot()
    positions = range(len(lines))
    labels = [_short(line.label) for line in lines]
    axes.barh(
        [p - 0.2 for p in positions],
        [line.median_hours for line in lines],
        height=0.4,
        color=MEDIAN_COLOUR,
        label=median_label,
    )
    axes.barh(
        [p + 0.2 for p in positions],
        [line.p90_hours for line in lines],
        height=0.4,
        color=P90_COLOUR,
        label=p90_label,
    )
    axes.set_yticks(list(positions), labels, fontsize=11)
    axes.invert_yaxis()  # the slowest first, as in the table
    axes.set_xlabel(hours_label, fontsize=10)
    axes.xaxis.set_major_formatter(
        FuncFormatter(lambda value, _position: f"{value:,.0f}".replace(",", "\u202f"))
    )
    axes.tick_params(axis="x", labelsize=10)
    axes.spines[["top", "right"]].set_visible(False)
    # Above the bars, never over them.
    axes.legend(
        fontsize=10,
        loc="lower left",
        bbox_to_anchor=(0, 1.0),
        ncol=2,
        frameon=False,
        borderaxespad=0.3,
    )
    figure.tight_layout()
    output = io.BytesIO()
    with matplotlib.rc_context({"svg.fonttype": "path", "svg.hashsalt": "accord"}):
        figure.savefig(output, format="svg", metadata={"Date": None})
    return output.getvalue()


def _key(figures: Sequence[Figures], words: tuple[str, str, str]) -> str:
    """The hash of everything a chart shows (and of the library's version that draws it)."""
    drawn = [(line.label, line.median_hours, line.p90_hours) for line in figures[:CHART_LINES]]
    content = json.dumps([drawn, *words, matplotlib.__version__])
    return hashlib.sha256(content.encode()).hexdigest()


def _drawn_key(key: str) -> str:
    return f"analytics-chart:{FORMAT}:{key}"


def _asked_key(key: str) -> str:
    return f"analytics-chart-asked:{FORMAT}:{key}"


def chart_source(
    figures: Sequence[Figures], *, median_label: str, p90_label: str, hours_label: str
) -> str:
    """What the page's <img> shows: the chart as a ``data:`` URI when it was drawn already
    for the same figures and words; else the address where the browser fetches it
    (``drawn_chart``), what it must draw being kept under the chart's hash meanwhile. Drawing
    takes matplotlib 100 to 300 ms a chart: a page whose figures are new (a period nobody
    asked for) is sent without waiting for its four charts, which the browser then asks for
    at once, each drawn by the request that asks."""
    words = (median_label, p90_label, hours_label)
    key = _key(figures, words)
    svg = cache.get(_drawn_key(key))
    if svg is not None:
        return as_data_uri(svg)
    drawn = [(line.label, line.median_hours, line.p90_hours) for line in figures[:CHART_LINES]]
    cache.set(_asked_key(key), (drawn, words), CACHE_SECONDS)
    return reverse("workflows:analytics_chart", args=[key])


def drawn_chart(key: str) -> bytes | None:
    """The chart of hash ``key`` as SVG: kept, or drawn now from what the page kept for it
    (``chart_source``) and kept; None when nothing is known of it (an unknown hash, or the
    cache lost it)."""
    svg = cache.get(_drawn_key(key))
    if svg is not None:
        return svg
    asked = cache.get(_asked_key(key))
    if asked is None:
        return None
    drawn, (median_label, p90_label, hours_label) = asked
    lines = [
        Figures(
            key="",
            label=label,
            detail="",
            tasks=0,
            median_hours=median,
            p90_hours=p90,
            overdue_share=0.0,
        )
        for label, median, p90 in drawn
    ]
    svg = figures_chart_svg(
        lines, median_label=median_label, p90_label=p90_label, hours_label=hours_label
    )
    cache.set(_drawn_key(key), svg, CACHE_SECONDS)
    return svg


def as_data_uri(svg: bytes) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")
