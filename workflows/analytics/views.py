"""The analytics page (``/analyse/``) and its CSV files: thin, the figures come from
``selectors``, the filters from ``forms``, the charts from ``charts``."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from workflows.http import AuthenticatedHttpRequest

from .charts import chart_source, drawn_chart
from .forms import AnalyticsFilterForm
from .selectors import (
    DIMENSION_HEADINGS,
    DIMENSION_TITLES,
    Dimension,
    Figures,
    figures_csv,
    may_see_analytics,
)
from .snapshots import served_figures

TABLES = Dimension.ALL
# The CSV files' names, in French as the page's address.
CSV_NAMES = {
    Dimension.STEPS: "etapes",
    Dimension.WORKING_GROUPS: "groupes-de-travail",
    Dimension.ORGANISATIONS: "organismes",
    Dimension.PEOPLE: "personnes",
}
PAGE_LINES = 50  # the slowest lines of a table on the page; its CSV has them all


@dataclass
class Table:
    dimension: str
    title: str
    heading: str
    lines: list[Figures]
    total: int
    chart: str  # a data: URI, the chart's address (charts.chart_source), or "" for an empty table

    @property
    def csv_name(self) -> str:
        return CSV_NAMES[self.dimension]


def _form(request: AuthenticatedHttpRequest) -> AnalyticsFilterForm:
    if not may_see_analytics(request.user):
        raise PermissionDenied
    return AnalyticsFilterForm(request.GET, user=request.user)


def _table(dimension: str, lines: list[Figures]) -> Table:
    chart = ""
    if lines:
        chart = chart_source(
            lines,
            median_label=_("Median"),
            p90_label=_("90th percentile"),
            hours_label=_("Hours from the task's creation to its completion"),
        )
    return Table(
        dimension=dimension,
        title=str(DIMENSION_TITLES[dimension]),
        heading=str(DIMENSION_HEADINGS[dimension]),
        lines=lines[:PAGE_LINES],
        total=len(lines),
        chart=chart,
    )


@login_required
def analytics_page(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Time spent per kind of task, working group, organisation and person, on the
    contracts the person may audit: a chart and a table each, and their CSV."""
    form = _form(request)
    valid = form.is_valid()
    tables = []
    computed_at = None
    if valid:
        # The four tables from one read of the tasks (selectors.tables_figures), or as
        # computed ahead for staff's wide views (snapshots).
        served = served_figures(request.user, form.filters(), TABLES)
        tables = [_table(dimension, served.tables[dimension]) for dimension in TABLES]
        computed_at = served.computed_at
    return render(
        request,
        "workflows/analytics.html",
        {
            "form": form,
            "error_forms": [form],
            "filters": form.filters() if valid else None,
            "tables": tables,
            "computed_at": computed_at,
            "page_lines": PAGE_LINES,
            "nav_section": "analytics",
        },
        status=200 if valid else 400,
    )


@login_required
def analytics_csv(request: AuthenticatedHttpRequest, name: str) -> HttpResponse:
    """One table, every line of it, as a CSV for a French spreadsheet."""
    dimension = next((key for key, value in CSV_NAMES.items() if value == name), None)
    if dimension is None:
        raise Http404
    form = _form(request)
    if not form.is_valid():
        return render(
            request,
            "workflows/analytics.html",
            {"form": form, "error_forms": [form], "tables": [], "nav_section": "analytics"},
            status=400,
        )
    lines = served_figures(request.user, form.filters(), [dimension]).tables[dimension]
    response = HttpResponse(
        "".join(figures_csv(dimension, lines)), content_type="text/csv; charset=utf-8"
    )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="accord-analyse-{name}-{stamp}.csv"'
    return response


@login_required
def analytics_chart(request: HttpRequest, key: str) -> HttpResponse:
    """A chart of the page, drawn when the browser asks for it (``charts.chart_source``): to
    whoever may see the analytics, by the hash of what it shows."""
    if not may_see_analytics(request.user):
        raise PermissionDenied
    svg = drawn_chart(key)
    if svg is None:
        raise Http404
    response = HttpResponse(svg, content_type="image/svg+xml")
    # The same address always shows the same picture: the browser may keep it.
    response["Cache-Control"] = "private, max-age=86400, immutable"
    return response
