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


def chart_data_uri(
    figures: Sequence[Figures], *, median_label: str, p90_label: str, hours_label: str
) -> str:
    """The chart as a ``data:`` URI for an <img>, drawn once for the same figures and words."""
    drawn = [(line.label, line.median_hours, line.p90_hours) for line in figures[:CHART_LINES]]
    content = json.dumps([drawn, median_label, p90_label, hours_label, matplotlib.__version__])
    key = "analytics-chart:" + hashlib.sha256(content.encode()).hexdigest()
    uri = cache.get(key)
    if uri is None:
        uri = as_data_uri(
            figures_chart_svg(
                figures, median_label=median_label, p90_label=p90_label, hours_label=hours_label
            )
        )
        cache.set(key, uri, CACHE_SECONDS)
    return uri


def as_data_uri(svg: bytes) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")
