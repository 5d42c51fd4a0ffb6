"""An action's follow-up page, once its contract is signed: its pilot (or a coordinator)
moves it on and records its indicators' values year by year; everyone who sees the
contract reads them against their targets."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from .. import services
from ..errors import ApplicationError
from ..forms import FollowUpStepForm, IndicatorValueForm
from ..http import AuthenticatedHttpRequest
from ..models import FOLLOW_UP_TRANSITIONS, Action, ContractStatus, is_pilot_or_coordinator
from ..rules import transitions_for
from ..selectors import actions_visible_to, indicators_followed


def _visible_action(request: AuthenticatedHttpRequest, pk: int) -> Action:
    return get_object_or_404(
        actions_visible_to(request.user).select_related("contract", "theme", "pilot"), pk=pk
    )


def _page(request, action: Action, *, value_form=None, refusal: str = "", status: int = 200):
    followed = indicators_followed(action)
    may_follow = is_pilot_or_coordinator(action, request.user)
    signed = action.contract.status == ContractStatus.SIGNED
    if value_form is None:
        value_form = IndicatorValueForm(
            indicators=[indicator.name for indicator in followed],
            initial={"year": action.contract.period_start.year},
        )
    return render(
        request,
        "workflows/follow_up.html",
        {
            "action": action,
            "indicators": followed,
            "steps": [choice for choice in transitions_for(action, request.user) if choice.possible]
            if may_follow and signed
            else [],
            "step_form": FollowUpStepForm(),
            "value_form": value_form,
            "error_forms": [value_form],
            "may_record": may_follow and signed and bool(followed),
            "signed": signed,
            "refusal": refusal,
            "nav_section": "contracts",
        },
        status=status,
    )


@login_required
def follow_up(request: AuthenticatedHttpRequest, pk: int):
    """The page, and the recording of a value (POST)."""
    action = _visible_action(request, pk)
    if request.method != "POST":
        return _page(request, action)
    form = IndicatorValueForm(
        request.POST, indicators=[indicator.name for indicator in indicators_followed(action)]
    )
    if not form.is_valid():
        return _page(request, action, value_form=form, status=400)
    data = form.cleaned_data
    try:
        recorded = services.indicator_value_record(
            action=action,
            actor=request.user,
            measure=services.Measure(
                indicator=data["indicator"],
                year=data["year"],
                value=data["value"],
                measured_on=data["measured_on"],
                source=data["source"],
                comment=data["comment"],
            ),
        )
    except ApplicationError as exc:
        fields = exc.extra.get("fields") or {}
        for field, message in fields.items():
            form.add_error(field, message)  # beside its field; the summary lists them
        refusal = "" if fields else exc.message
        return _page(request, action, value_form=form, refusal=refusal, status=exc.status_code)
    messages.success(
        request,
        _("The value of “%(indicator)s” for %(year)d is recorded.")
        % {"indicator": recorded.indicator, "year": recorded.year},
    )
    return redirect("workflows:follow_up", pk=action.pk)


@login_required
@require_POST
def follow_up_step(request: AuthenticatedHttpRequest, pk: int, name: str):
    """Start, complete or abandon the action."""
    action = _visible_action(request, pk)
    if name not in FOLLOW_UP_TRANSITIONS:
        return _page(request, action, refusal=_("Unknown follow-up step."), status=404)
    form = FollowUpStepForm(request.POST)
    if not form.is_valid():
        refusal = " ".join(str(error) for errors in form.errors.values() for error in errors)
        return _page(request, action, refusal=refusal, status=400)
    try:
        services.action_follow_up(
            action=action, name=name, actor=request.user, comment=form.cleaned_data["reason"]
        )
    except ApplicationError as exc:
        return _page(request, action, refusal=exc.message, status=exc.status_code)
    action.refresh_from_db()
    messages.success(
        request,
        _("The action %(code)s is now “%(state)s”.")
        % {"code": action.code, "state": action.get_status_display()},
    )
    return redirect("workflows:follow_up", pk=action.pk)
