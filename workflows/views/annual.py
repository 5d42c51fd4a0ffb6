"""The contract page's annual reviews: a coordinator launches a year's review or closes its
collection of reports, the committee's chair closes its vote (the report itself is
``signatures``' page, the pilots' reports their task pages)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .. import services
from ..errors import ApplicationError
from ..http import AuthenticatedHttpRequest
from ..models import Contract
from ..selectors import annual_review_rows, contracts_visible_to, indicator_standings


class AnnualReviewLaunchForm(forms.Form):
    year = forms.TypedChoiceField(label=gettext_lazy("Year"), coerce=int, choices=())

    def __init__(self, *args, years: list[int], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        year = self.fields["year"]
        assert isinstance(year, forms.TypedChoiceField)
        year.choices = [(value, str(value)) for value in years]


def annual_context(contract: Contract, coordinates: bool) -> dict:
    """What the contract page's section "Suivi des indicateurs" shows."""
    rows = annual_review_rows(contract)
    launched = {row.review.year for row in rows}
    years = [
        year
        for year in range(contract.period_start.year, contract.period_end.year + 1)
        if year not in launched
    ]
    return {
        "indicator_standings": indicator_standings(contract),
        "annual_reviews": rows,
        "annual_launch_form": (
            AnnualReviewLaunchForm(years=years, initial={"year": years[-1]})
            if coordinates and years and contract.status == "signed"
            else None
        ),
    }


def _back(contract: Contract) -> HttpResponse:
    return redirect(reverse("workflows:contract_detail", args=[contract.pk]) + "#indicators")


@login_required
def annual_review_launch(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    contract = get_object_or_404(contracts_visible_to(request.user), pk=pk)
    if request.method != "POST":
        return _back(contract)
    form = AnnualReviewLaunchForm(request.POST, years=list(range(1900, 2201)))
    if not form.is_valid():
        messages.error(request, _("Choose the year to review."))
        return _back(contract)
    year = form.cleaned_data["year"]
    try:
        services.launch_annual_review(contract=contract, year=year, actor=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return _back(contract)
    messages.success(
        request,
        _("The annual review of %(year)d is launched: each pilot has a report to write.")
        % {"year": year},
    )
    return _back(contract)


@login_required
def annual_review_close(request: AuthenticatedHttpRequest, pk: int, year: int) -> HttpResponse:
    contract = get_object_or_404(contracts_visible_to(request.user), pk=pk)
    if request.method != "POST":
        return _back(contract)
    try:
        services.close_report_collection(contract=contract, year=year, actor=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return _back(contract)
    messages.success(
        request,
        _("The collection of the %(year)d reports is closed: the steering committee votes.")
        % {"year": year},
    )
    return _back(contract)


@login_required
def annual_vote_close(request: AuthenticatedHttpRequest, pk: int, year: int) -> HttpResponse:
    contract = get_object_or_404(contracts_visible_to(request.user), pk=pk)
    if request.method != "POST":
        return _back(contract)
    try:
        review = services.close_report_vote(contract=contract, year=year, actor=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return _back(contract)
    messages.success(
        request,
        _("The vote is closed: the annual report %(year)d is %(status)s.")
        % {"year": year, "status": review.get_status_display().lower()},
    )
    return _back(contract)
