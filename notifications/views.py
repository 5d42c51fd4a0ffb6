"""The notification centre and the preferences page."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from workflows import services as workflows
from workflows.errors import ApplicationError
from workflows.http import AuthenticatedHttpRequest
from workflows.models import Contract, Meeting, is_coordinator
from workflows.selectors import contracts_visible_to, inbox_of
from workflows.services import NOT_A_COORDINATOR

from . import selectors, services
from .calendar import meeting_ics
from .forms import MeetingForm, NotificationFilterForm, PreferencesForm

PAGE_SIZE = 30


@login_required
def notification_centre(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Unread first, then the newest, similar ones told as one line ("12 fiches approuvées
    sur CLS-TDC-2019", the detail folded under it); filters by kind, contract and read state."""
    contracts = Contract.objects.filter(notifications__recipient=request.user).distinct()
    form = NotificationFilterForm(
        request.GET if ({"unread", "event", "contract"} & set(request.GET)) else None,
        contracts=contracts.order_by("reference"),
    )
    filters = form.filters()
    lines = selectors.GroupedNotifications(selectors.notifications_of(request.user, **filters))
    page = Paginator(lines, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "notifications/centre.html",
        {
            "form": form,
            "page": page,
            "groups": page.object_list,
            "filtered": any(filters.values()),
            "nav_section": "notifications",
        },
    )


@login_required
def counters(request: AuthenticatedHttpRequest) -> JsonResponse:
    """The header's two counters as the server knows them now: open pages ask after each
    live notification and each reconnection, so that a task arriving, leaving or a
    notification read in another tab never leaves a count wrong."""
    tasks = inbox_of(request.user).count()
    unread = selectors.standing_of(request.user).unread
    response = JsonResponse(
        {
            "tasks": tasks,
            "tasks_label": "({})".format(
                ngettext("%(counter)s open task", "%(counter)s open tasks", tasks)
                % {"counter": tasks}
            ),
            "unread": unread,
            "unread_label": "({})".format(
                ngettext("%(counter)s unread", "%(counter)s unread", unread) % {"counter": unread}
            ),
        }
    )
    response["Cache-Control"] = "no-store"
    return response


def _is_id(value: str) -> bool:
    """A database id as a form sends it: ASCII digits, within a 64-bit integer."""
    return value.isascii() and value.isdigit() and len(value) < 19


@login_required
@require_POST
def mark_read(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Mark one notification (``id``) or all of them read, then go back or follow its link."""
    ids = [int(pk) for pk in request.POST.getlist("id") if _is_id(pk)] or None
    services.notifications_mark_read(user=request.user, ids=ids)
    next_url = request.POST.get("next", "")
    if next_url and url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(next_url)
    return redirect("notifications:centre")


@login_required
def preferences(request: AuthenticatedHttpRequest) -> HttpResponse:
    """How the person wants to hear of each kind of event."""
    form = PreferencesForm(
        request.POST or None, initial_modes=selectors.email_modes_of(request.user)
    )
    if request.method == "POST":
        if form.is_valid():
            services.preferences_save(user=request.user, modes=form.cleaned_data)
            messages.success(request, _("Your notification preferences are saved."))
            return redirect("notifications:preferences")
        return render(
            request,
            "notifications/preferences.html",
            {"form": form, "nav_section": "notifications"},
            status=400,
        )
    return render(
        request, "notifications/preferences.html", {"form": form, "nav_section": "notifications"}
    )


# --- Steering committee meetings ----------------------------------------------------------


def _may_see_meetings(contract: Contract, user) -> bool:
    """The meetings (dates, places, links, agendas) are for the committee's members and chair,
    the contract's coordinators and staff, not everyone who sees the contract."""
    if user.is_staff or is_coordinator(contract, user):
        return True
    committee = getattr(contract, "steering_committee", None)
    if committee is None:
        return False
    return committee.chair_id == user.pk or committee.members.filter(pk=user.pk).exists()


def _meetings_of(request: AuthenticatedHttpRequest, contract: Contract) -> Contract:
    """The contract, once the person may see its meetings: 403 otherwise (the contract itself
    is visible to them, or they would have had a 404)."""
    if not _may_see_meetings(contract, request.user):
        raise PermissionDenied(_("The meetings are for the steering committee and coordinators."))
    return contract


def _meeting_page(
    request: AuthenticatedHttpRequest,
    contract: Contract,
    form: MeetingForm,
    *,
    meeting: Meeting | None = None,
    status: int = 200,
    error: str = "",
) -> HttpResponse:
    return render(
        request,
        "notifications/meetings.html",
        {
            "contract": contract,
            "meetings": contract.meetings.all(),
            "form": form,
            "editing": meeting,
            "error": error,
            "is_coordinator": is_coordinator(contract, request.user),
            "has_committee": hasattr(contract, "steering_committee"),
        },
        status=status,
    )


@login_required
def meetings(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The contract's committee meetings; the coordinator convenes one here."""
    contract = _meetings_of(request, get_object_or_404(contracts_visible_to(request.user), pk=pk))
    if request.method != "POST":
        return _meeting_page(request, contract, MeetingForm())
    if not is_coordinator(contract, request.user):
        return _meeting_page(
            request, contract, MeetingForm(), status=403, error=_(NOT_A_COORDINATOR)
        )
    form = MeetingForm(request.POST)
    if not form.is_valid():
        return _meeting_page(request, contract, form, status=400)
    try:
        workflows.meeting_schedule(contract=contract, actor=request.user, **form.cleaned_data)
    except ApplicationError as error:
        return _meeting_page(request, contract, form, status=error.status_code, error=error.message)
    messages.success(request, _("The meeting is scheduled; every member is invited."))
    return redirect("notifications:meetings", pk=contract.pk)


def _visible_meeting(request: AuthenticatedHttpRequest, pk: int) -> Meeting:
    meeting = get_object_or_404(
        Meeting.objects.select_related("contract").filter(
            contract__in=contracts_visible_to(request.user)
        ),
        pk=pk,
    )
    _meetings_of(request, meeting.contract)
    return meeting


@login_required
def meeting_change(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Change the date, place or agenda: members get the updated invitation."""
    meeting = _visible_meeting(request, pk)
    contract = meeting.contract
    if request.method != "POST":
        initial = {
            "starts_at": meeting.starts_at,
            "ends_at": meeting.ends_at,
            "place": meeting.place,
            "video_link": meeting.video_link,
            "agenda": meeting.agenda,
        }
        return _meeting_page(request, contract, MeetingForm(initial=initial), meeting=meeting)
    form = MeetingForm(request.POST)
    if not form.is_valid():
        return _meeting_page(request, contract, form, meeting=meeting, status=400)
    try:
        workflows.meeting_update(meeting=meeting, actor=request.user, **form.cleaned_data)
    except ApplicationError as error:
        return _meeting_page(
            request, contract, form, meeting=meeting, status=error.status_code, error=error.message
        )
    messages.success(request, _("The meeting is changed; every member gets the new invitation."))
    return redirect("notifications:meetings", pk=contract.pk)


@login_required
@require_POST
def meeting_cancel(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    meeting = _visible_meeting(request, pk)
    try:
        workflows.meeting_cancel(meeting=meeting, actor=request.user)
    except ApplicationError as error:
        return _meeting_page(
            request, meeting.contract, MeetingForm(), status=error.status_code, error=error.message
        )
    messages.success(request, _("The meeting is cancelled; every member is told."))
    return redirect("notifications:meetings", pk=meeting.contract_id)


@login_required
def meeting_invitation(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The meeting's .ics, for its members, the coordinators and staff: it lists the members'
    addresses."""
    meeting = _visible_meeting(request, pk)
    try:
        committee = workflows.committee_of(meeting.contract)
    except ApplicationError as error:  # the committee was removed since
        raise Http404(error.message) from error
    people = [*committee.members.all(), committee.chair]
    if not (
        request.user.is_staff
        or request.user in people
        or is_coordinator(meeting.contract, request.user)
    ):
        raise Http404

    response = HttpResponse(meeting_ics(meeting, people), content_type="text/calendar")
    response["Content-Disposition"] = f'attachment; filename="comite-{meeting.pk}.ics"'
    return response
