"""Convening the steering committee: a meeting scheduled, changed or cancelled by a
coordinator, recorded in the contract's history (the notifications' reaction invites every
member, with the calendar invitation)."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from ..errors import ApplicationError, Conflict
from ..history import UnitOfWork
from ..models import Contract, HistoryEvent, Meeting, SteeringCommittee, User
from .contracts import require_coordinator


def committee_of(contract: Contract) -> SteeringCommittee:
    """The contract's steering committee; refused (400) when it has none to convene."""
    committee = SteeringCommittee.objects.filter(contract=contract).first()
    if committee is None:
        raise ApplicationError(_("This contract has no steering committee to convene."))
    return committee


def _check_meeting(
    starts_at: datetime.datetime, ends_at: datetime.datetime, place: str, video_link: str
) -> None:
    if ends_at <= starts_at:
        raise ApplicationError(_("The meeting must end after it starts."))
    if starts_at <= timezone.now():
        raise ApplicationError(_("The meeting must start in the future."))
    if not (place.strip() or video_link.strip()):
        raise ApplicationError(_("Give a place or a video link for the meeting."))


def _record(unit: UnitOfWork, meeting: Meeting, event: str, actor: User) -> None:
    unit.record(
        event=event,
        actor=actor,
        data={
            "meeting": meeting.pk,
            "starts_at": meeting.starts_at,
            "ends_at": meeting.ends_at,
            "place": meeting.place,
            "video_link": meeting.video_link,
            "sequence": meeting.sequence,
        },
    )


@transaction.atomic
def meeting_schedule(
    *,
    contract: Contract,
    actor: User,
    starts_at: datetime.datetime,
    ends_at: datetime.datetime,
    place: str = "",
    video_link: str = "",
    agenda: str = "",
) -> Meeting:
    """The coordinator convenes the steering committee; every member is invited."""
    with UnitOfWork.lock(contract.pk) as unit:
        contract = unit.contract
        require_coordinator(contract, actor)
        committee_of(contract)
        _check_meeting(starts_at, ends_at, place, video_link)
        if not agenda.strip():
            # Written once, in the installation's language: it is the meeting's own text.
            with translation.override(settings.LANGUAGE_CODE):
                agenda = _("Validation of the contract %(reference)s: %(title)s") % {
                    "reference": contract.reference,
                    "title": contract.title,
                }
        meeting = Meeting.objects.create(
            contract=contract,
            starts_at=starts_at,
            ends_at=ends_at,
            place=place.strip(),
            video_link=video_link.strip(),
            agenda=agenda.strip(),
            created_by=actor,
        )
        _record(unit, meeting, HistoryEvent.MEETING_SCHEDULED, actor)
    return meeting


def _lock_meeting(unit: UnitOfWork, meeting: Meeting, actor: User) -> Meeting:
    meeting = Meeting.objects.get(pk=meeting.pk)
    meeting.contract = unit.contract
    require_coordinator(unit.contract, actor)
    if meeting.status == Meeting.Status.CANCELLED:
        raise Conflict(_("This meeting was cancelled: it can no longer change."))
    return meeting


@transaction.atomic
def meeting_update(
    *,
    meeting: Meeting,
    actor: User,
    starts_at: datetime.datetime,
    ends_at: datetime.datetime,
    place: str = "",
    video_link: str = "",
    agenda: str = "",
) -> Meeting:
    """A new date, place or agenda: the same calendar event, one revision further."""
    with UnitOfWork.lock(meeting.contract_id) as unit:
        meeting = _lock_meeting(unit, meeting, actor)
        _check_meeting(starts_at, ends_at, place, video_link)
        meeting.starts_at, meeting.ends_at = starts_at, ends_at
        meeting.place, meeting.video_link = place.strip(), video_link.strip()
        meeting.agenda = agenda.strip() or meeting.agenda
        meeting.sequence += 1
        meeting.save()
        _record(unit, meeting, HistoryEvent.MEETING_CHANGED, actor)
    return meeting


@transaction.atomic
def meeting_cancel(*, meeting: Meeting, actor: User) -> Meeting:
    """The meeting will not take place: calendars remove the event (METHOD:CANCEL)."""
    with UnitOfWork.lock(meeting.contract_id) as unit:
        meeting = _lock_meeting(unit, meeting, actor)
        meeting.status = Meeting.Status.CANCELLED
        meeting.sequence += 1
        meeting.save(update_fields=["status", "sequence", "updated_at"])
        _record(unit, meeting, HistoryEvent.MEETING_CANCELLED, actor)
    return meeting
