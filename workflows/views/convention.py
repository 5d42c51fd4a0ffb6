"""The page where a coordinator adjusts the contract's convention text (preamble and
articles) while the contract is a draft, or puts back its kind's default."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from .. import services
from ..conventions import PLACEHOLDERS, Article, ConventionText, convention_of, stored_convention
from ..errors import ApplicationError
from ..forms import ArticleFormSet, ConventionForm
from ..http import AuthenticatedHttpRequest
from ..models import ContractStatus, is_coordinator
from ..selectors import contracts_visible_to
from ..services.convention import ONLY_A_COORDINATOR


def _forms(text: ConventionText, data=None) -> tuple[ConventionForm, Any]:
    form = ConventionForm(data, initial={"base_sha256": text.sha256, "preamble": text.preamble})
    articles = ArticleFormSet(
        data,
        prefix="articles",
        initial=[
            {"title": article.title, "text": article.text, "ORDER": number}
            for number, article in enumerate(text.articles, start=1)
        ],
    )
    return form, articles


def _articles(formset) -> list[Article]:
    """The articles kept, in the order their positions say (ties: as shown)."""
    return [
        Article(form.cleaned_data["title"], form.cleaned_data["text"])
        for form in formset.ordered_forms
        if form.cleaned_data and not form.cleaned_data.get("DELETE")
    ]


@login_required
def convention_edit(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    contract = get_object_or_404(contracts_visible_to(request.user), pk=pk)
    if not is_coordinator(contract, request.user):
        raise PermissionDenied(_(ONLY_A_COORDINATOR))
    editable = contract.status == ContractStatus.DRAFT
    text = convention_of(contract)
    data = request.POST if request.method == "POST" and editable else None
    form, articles = _forms(text, data)
    refusal, status = "", 200 if editable else 409
    if data is not None and "reset" in data:
        try:
            services.convention_update(contract=contract, actor=request.user, reset=True)
        except ApplicationError as exc:
            refusal, status = exc.message, exc.status_code
        else:
            messages.success(request, _("The convention's text is back to its kind's default."))
            return redirect("workflows:convention_edit", pk=contract.pk)
    elif data is not None and form.is_valid() and articles.is_valid():
        try:
            services.convention_update(
                contract=contract,
                actor=request.user,
                preamble=form.cleaned_data["preamble"],
                articles=_articles(articles),
                base_sha256=form.cleaned_data["base_sha256"] or None,
            )
        except ApplicationError as exc:
            refusal, status = exc.message, exc.status_code
        else:
            messages.success(request, _("The convention's text is saved."))
            return redirect("workflows:convention_edit", pk=contract.pk)
    elif data is not None:
        status = 400
    return render(
        request,
        "workflows/convention_edit.html",
        {
            "contract": contract,
            "editable": editable,
            "is_default": stored_convention(contract) is None,
            "form": form,
            "articles": articles,
            "placeholders": PLACEHOLDERS.values(),
            "error_forms": [form, *articles.forms],
            "has_errors": status == 400 or bool(refusal),
            "refusal": refusal,
            "nav_section": "contracts",
        },
        status=status,
    )
