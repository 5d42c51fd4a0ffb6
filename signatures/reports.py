"""The annual report as PDF: the year's follow-up of a signed contract, one chart per
indicator (baseline, target, values by year), drawn by matplotlib and laid out by fpdf2.

The domain hands over the report's data (``workflows.reports.annual_report_data``) through its
port (``workflows.documents.annual_reports``, ``settings.ACCORD_ANNUAL_REPORTS`` names
``PdfAnnualReports``) and keeps the bytes: the committee's decision names them by SHA-256.
"""

from __future__ import annotations

import datetime
import io
from decimal import Decimal, InvalidOperation

import matplotlib

matplotlib.use("Agg")  # no display: charts are drawn into PNG bytes only

from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from workflows.models import ActionStatus
from workflows.reports import parse_number

from .document import LANGUAGE, _Document

CHART_WIDTH_MM, CHART_HEIGHT_MM = 170.0, 62.0
CHART_DPI = 200  # sharp at print size
TEXT_BLUE, BASELINE_GREY, TARGET_GREEN, VALUE_BLUE = "#1d3557", "#6c757d", "#2a7f3f", "#1f5fa8"


def _french_number(value: float) -> str:
    text = f"{value:,.2f}".rstrip("0").rstrip(".")
    return text.replace(",", "\u202f").replace(".", ",")


def _value_text(text: str) -> str:
    """A value as the report prints it: "12,5", "1 250"."""
    try:
        return _french_number(float(Decimal(text)))
    except (InvalidOperation, ValueError):
        return text


def indicator_chart(indicator: dict, *, year: int, first_year: int | None = None) -> bytes:
    """One indicator's chart as PNG: its values by year as a line with markers, its baseline
    and target as horizontal lines when they are numbers."""
    figure = Figure(figsize=(CHART_WIDTH_MM / 25.4, CHART_HEIGHT_MM / 25.4), dpi=CHART_DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    values = [(point["year"], float(Decimal(point["value"]))) for point in indicator["values"]]
    baseline, target = parse_number(indicator["baseline"]), parse_number(indicator["target"])
    years = [point_year for point_year, _value in values] + [year, first_year or year]
    if baseline is not None:
        axes.axhline(
            baseline,
            color=BASELINE_GREY,
            linestyle="--",
            linewidth=1.4,
            label=_("Baseline: %(value)s") % {"value": _french_number(baseline)},
        )
    if target is not None:
        axes.axhline(
            target,
            color=TARGET_GREEN,
            linestyle="-.",
            linewidth=1.6,
            label=_("Target: %(value)s") % {"value": _french_number(target)},
        )
    if values:
        axes.plot(
            [point_year for point_year, _value in values],
            [value for _year, value in values],
            color=VALUE_BLUE,
            marker="o",
            markersize=6,
            linewidth=2,
            label=_("Values by year"),
        )
        for point_year, value in values:
            axes.annotate(
                _french_number(value),
                (point_year, value),
                textcoords="offset points",
                xytext=(0, 7),
                ha="center",
                fontsize=8,
                color=VALUE_BLUE,
            )
    else:
        axes.text(
            0.5,
            0.5,
            _("No value recorded yet"),
            transform=axes.transAxes,
            ha="center",
            va="center",
            fontsize=10,
            color=BASELINE_GREY,
        )
    # One tick per year, from the contract's first year to the report's.
    axes.set_xlim(min(years) - 0.5, max(years) + 0.5)
    axes.set_xticks(range(min(years), max(years) + 1))
    axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _pos: f"{value:.0f}"))
    axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _pos: _french_number(value)))
    axes.set_xlabel(_("Year"), fontsize=9)
    axes.set_ylabel(indicator["unit"] or _("Value"), fontsize=9)
    axes.tick_params(labelsize=8)
    axes.grid(axis="y", color="#dddddd", linewidth=0.6)
    axes.spines[["top", "right"]].set_visible(False)
    if axes.get_legend_handles_labels()[0]:
        axes.legend(fontsize=8, loc="best", frameon=False)
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=CHART_DPI)
    return out.getvalue()


def _moment(value: str | None) -> str:
    if not value:
        return ""
    return date_format(
        timezone.localtime(datetime.datetime.fromisoformat(value)), "DATETIME_FORMAT"
    )


class _Report(_Document):
    def say(self, text: str, *, size: float = 10, style: str = "", color: int | str = 0) -> None:
        self.set_font(self.text_font, style=style, size=size)
        self.set_text_color(color)
        self.multi_cell(
            0, size * 0.5, self.printable(text), align="L", new_x="LMARGIN", new_y="NEXT"
        )
        self.set_text_color(0)


def _status_words(report: dict) -> str:
    if report["draft"]:
        return _("Draft (projet): not yet decided by the steering committee")
    vote = report["vote"] or {}
    words = (
        _("Adopted by the steering committee on %(date)s")
        if report["status"] == "adopted"
        else _("Rejected by the steering committee on %(date)s")
    ) % {"date": _moment(report["decided_at"])}
    if vote:
        words += " — " + _(
            "%(approvals)d approval(s), %(rejections)d rejection(s), quorum %(quorum)d"
        ) % {
            "approvals": vote["approvals"],
            "rejections": vote["rejections"],
            "quorum": vote["quorum"],
        }
    return words


def render_annual_report(report: dict, *, draft: bool, when: datetime.datetime) -> bytes:
    """The annual report as PDF; ``draft``: marked as a draft (projet) on every page."""
    with translation.override(LANGUAGE):
        contract, year = report["contract"], report["year"]
        footer = _("Annual report %(year)d of %(reference)s") % {
            "year": year,
            "reference": contract["reference"],
        }
        if draft:
            footer = _("DRAFT (projet) — %(footer)s") % {"footer": footer}
        pdf = _Report(footer, when=when)
        title = _("Annual report %(year)d") % {"year": year}
        pdf.set_title(pdf.printable(f"{title} — {contract['reference']}"))
        pdf.set_subject(pdf.printable(contract["title"]))
        pdf.add_page()
        if draft:
            pdf.say(_("DRAFT (projet)"), size=11, style="B", color="#b02a37")
        pdf.say(title, size=20, style="B", color=TEXT_BLUE)
        pdf.say(f"{contract['reference']} — {contract['title']}", size=12, style="B")
        pdf.ln(1)
        pdf.say(
            _("Contract period: %(start)s to %(end)s")
            % {
                "start": date_format(
                    datetime.date.fromisoformat(contract["period_start"]), "DATE_FORMAT"
                ),
                "end": date_format(
                    datetime.date.fromisoformat(contract["period_end"]), "DATE_FORMAT"
                ),
            }
        )
        pdf.say(_("Reports received: %(submitted)d of %(expected)d") % report["reports"])
        pdf.say(_status_words({**report, "draft": draft}))
        first_year = datetime.date.fromisoformat(contract["period_start"]).year
        for action in report["actions"]:
            _action_part(pdf, action, year=year, first_year=first_year)
        return bytes(pdf.output())


PROGRESS_WORDS = {
    "in_progress": ActionStatus.IN_PROGRESS.label,
    "done": ActionStatus.DONE.label,
    "abandoned": ActionStatus.ABANDONED.label,
}


def _action_part(pdf: _Report, action: dict, *, year: int, first_year: int) -> None:
    if pdf.get_y() > pdf.h - pdf.b_margin - 60:
        pdf.add_page()
    pdf.ln(4)
    pdf.say(f"{action['code']} — {action['title']}", size=14, style="B", color=TEXT_BLUE)
    pdf.say(
        _("Pilot: %(pilot)s · Status: %(status)s")
        % {"pilot": action["pilot"], "status": action["status_label"]},
        size=9.5,
    )
    report = action["report"]
    if report is None:
        pdf.say(_("No report asked (the action was done or abandoned)."), size=9.5, color=90)
    elif report["status"] != "submitted":
        pdf.say(_("Report not received."), size=9.5, style="I", color="#b02a37")
    else:
        pdf.say(
            _("Progress reported: %(progress)s")
            % {"progress": PROGRESS_WORDS.get(report["progress"], report["progress"])},
            size=9.5,
        )
        if report["comment"]:
            pdf.say(_("Pilot's comment: %(comment)s") % report, size=9.5, style="I")
    for indicator in action["indicators"]:
        if pdf.get_y() > pdf.h - pdf.b_margin - CHART_HEIGHT_MM - 14:
            pdf.add_page()
        pdf.ln(2)
        pdf.say(indicator["name"], size=10.5, style="B")
        values = ", ".join(
            f"{point['year']}\u00a0: {_value_text(point['value'])}" for point in indicator["values"]
        )
        pdf.say(
            _("Unit: %(unit)s · Baseline: %(baseline)s · Target: %(target)s · Values: %(values)s")
            % {
                "unit": indicator["unit"] or "—",
                "baseline": indicator["baseline"] or "—",
                "target": indicator["target"] or "—",
                "values": values or "—",
            },
            size=8.5,
            color=60,
        )
        pdf.image(
            io.BytesIO(indicator_chart(indicator, year=year, first_year=first_year)),
            x=pdf.l_margin,
            w=CHART_WIDTH_MM,
            h=CHART_HEIGHT_MM,
        )


class PdfAnnualReports:
    """The domain's ``workflows.documents.AnnualReports``."""

    def render(self, report: dict, *, draft: bool) -> bytes:
        return render_annual_report(report, draft=draft, when=timezone.now())
