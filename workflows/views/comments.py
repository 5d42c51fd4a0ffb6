"""Observers and comments on the pages: a coordinator adds or removes a contract's observers
(its page); whoever sees the contract reads an action sheet's comments and adds one (the
sheet's page, the review's task page)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from .. import services
from ..errors import ApplicationError
from ..forms import CommentForm, ObserverForm
from ..http import AuthenticatedHttpRequest
from ..models import Action, ActionStatus
from ..selectors import actions_visible_to, sheet_comments
from .contracts import _render_detail, _visible_contract


def _visible_action(request: AuthenticatedHttpRequest, pk: int) -> Action:
    return get_object_or_404(
        actions_visible_to(request.user)
        .exclude(status=ActionStatus.REMOVED)
        .select_related("contract", "theme", "pilot"),
        pk=pk,
    )


@login_required
@require_POST
def observer_add(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    return _observers_change(request, pk, services.observer_add, _("%(name)s now observes."))


@login_required
@require_POST
def observer_remove(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    return _observers_change(
        request, pk, services.observer_remove, _("%(name)s no longer observes.")
    )


def _observers_change(request, pk: int, verb, done: str) -> HttpResponse:
    contract = _visible_contract(request, pk)
    form = ObserverForm(request.POST, prefix="observer")
    if not form.is_valid():
        messages.error(request, " ".join(str(error) for error in form.errors.get("person", [])))
        return _render_detail(request, contract, status=400)
    try:
        verb(contract=contract, actor=request.user, person=form.cleaned_data["person"])
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return _render_detail(request, contract, status=exc.status_code)
    messages.success(request, done % {"name": form.cleaned_data["person"]})
    return redirect(f"{reverse('workflows:contract_detail', args=[contract.pk])}#observers")


def _sheet_page(request, action: Action, form: CommentForm, status: int = 200) -> HttpResponse:
    return render(
        request,
        "workflows/sheet_detail.html",
        {
            "action": action,
            "contract": action.contract,
            "comments": sheet_comments(action),
            "comment_form": form,
            "comment_form_list": [form],
            "nav_section": "contracts",
        },
        status=status,
    )


@login_required
def sheet_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """An action sheet as it stands, with its comments and the form to add one."""
    action = _visible_action(request, pk)
    return _sheet_page(request, action, CommentForm())


@login_required
@require_POST
def comment_add(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Add a comment (the sheet's page and the task page post here), then back where it was
    written (``next``, on this site), at the thread."""
    action = _visible_action(request, pk)
    form = CommentForm(request.POST)
    if form.is_valid():
        try:
            services.comment_add(action=action, actor=request.user, text=form.cleaned_data["text"])
        except ApplicationError as exc:
            form.add_error("text", exc.message)
    if form.errors:
        return _sheet_page(request, action, form, status=400)
    messages.success(request, _("Your comment is added."))
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        back = reverse("workflows:sheet_detail", args=[action.pk])
    return redirect(f"{back}#comments")
