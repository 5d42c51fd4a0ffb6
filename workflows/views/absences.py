"""Absences: "my tasks go to Y from A to B", declared, listed and cancelled."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from .. import services
from ..errors import ApplicationError
from ..forms import (
    AbsenceForm,
)
from ..http import AuthenticatedHttpRequest
from ..models import (
    Action,
    Contract,
    Delegation,
    Signatory,
    SteeringCommittee,
    User,
    WorkingGroup,
)
from ..selectors import (
    contracts_visible_to,
)

# --- Absences -----------------------------------------------------------------------------


def _possible_delegates(user: User):
    """Whom a person may hand their tasks to: the people of their contracts and of their
    organisation (a short list of colleagues, never every account)."""
    contract_ids = list(contracts_visible_to(user).values_list("pk", flat=True))
    people: set[int] = set()
    through_tables = [
        (Contract.participants.through, "contract_id__in"),
        (Contract.coordinators.through, "contract_id__in"),
        (WorkingGroup.leads.through, "workinggroup__contract_id__in"),
        (WorkingGroup.members.through, "workinggroup__contract_id__in"),
        (SteeringCommittee.members.through, "steeringcommittee__contract_id__in"),
    ]
    for through, lookup in through_tables:
        people.update(
            through.objects.filter(**{lookup: contract_ids}).values_list("user_id", flat=True)
        )
    for signer, representative in Signatory.objects.filter(
        contract_id__in=contract_ids
    ).values_list("signer_id", "represented_by_id"):
        people.update(pk for pk in (signer, representative) if pk)
    people.update(
        Action.objects.filter(contract_id__in=contract_ids).values_list("pilot_id", flat=True)
    )
    if user.organisation_id:
        people.update(
            User.objects.filter(organisation_id=user.organisation_id).values_list("pk", flat=True)
        )
    people.discard(user.pk)
    return (
        User.objects.filter(pk__in=people, is_active=True)
        .select_related("organisation")
        .order_by("last_name", "first_name", "username")
    )


@login_required
def absences(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Declare an absence ("my tasks go to Y from A to B"), list and cancel one's absences."""
    user = request.user
    today = timezone.localdate()
    delegates = _possible_delegates(user)
    status = 200
    if request.method == "POST":
        form = AbsenceForm(request.POST, delegates=delegates)
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.delegation_declare(
                    user=user, delegate=data["delegate"], start=data["start"], end=data["end"]
                )
            except ApplicationError as exc:
                form.add_error(None, exc.message)
                status = exc.status_code
            else:
                messages.success(
                    request,
                    _(
                        "Your absence is recorded: your tasks go to %(delegate)s from %(start)s to "
                        "%(end)s."
                    )
                    % {
                        "delegate": data["delegate"].display_name,
                        "start": date_format(data["start"], "j F Y"),
                        "end": date_format(data["end"], "j F Y"),
                    },
                )
                return redirect("workflows:absences")
        else:
            status = 400
    else:
        form = AbsenceForm(delegates=delegates, initial={"start": today})
    mine = list(
        Delegation.objects.filter(user=user)
        .select_related("delegate__organisation")
        .annotate(
            open_tasks=Count("tasks", filter=Q(tasks__status__in=services.OPEN_STATUSES)),
        )
        .order_by("-start", "-pk")
    )
    for_others = list(
        Delegation.objects.filter(delegate=user, cancelled_at=None, end__gte=today)
        .select_related("user__organisation")
        .order_by("start", "pk")
    )
    return render(
        request,
        "workflows/absences.html",
        {
            "form": form,
            "error_forms": [form],
            "absences": mine,
            "for_others": for_others,
            "has_delegates": delegates.exists(),
            "nav_section": "absences",
        },
        status=status,
    )


@login_required
def absence_cancel(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    delegation = get_object_or_404(Delegation, pk=pk, user=request.user)
    if request.method != "POST":
        return redirect("workflows:absences")
    try:
        services.delegation_cancel(delegation=delegation, user=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("Your absence from %(start)s to %(end)s is cancelled: your tasks are back with you.")
            % {
                "start": date_format(delegation.start, "j F Y"),
                "end": date_format(delegation.end, "j F Y"),
            },
        )
    return redirect("workflows:absences")
