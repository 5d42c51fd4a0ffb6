"""Steering committee meetings: every member notified and invited with an .ics that calendar
programs accept; a change or a cancellation updates the same event."""

import datetime

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from notifications.models import Notification, NotificationEvent
from tests.factories import ActionFactory, SteeringCommitteeFactory, UserFactory
from workflows.models import Meeting
from workflows.selectors import history_verify

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture
def committee(contract):
    chair = UserFactory(email="presidente@example.org", first_name="Anne", last_name="Présidente")
    members = [UserFactory(email=f"membre{n}@example.org") for n in range(2)]
    return SteeringCommitteeFactory(contract=contract, chair=chair, members=members)


@pytest.fixture
def as_coordinator(client, coordinator):
    client.force_login(coordinator)
    return client


def moment(days, hour):
    day = timezone.localdate() + datetime.timedelta(days=days)
    return f"{day.isoformat()}T{hour:02d}:00"


def schedule(client, contract, **fields):
    data = {
        "starts_at": moment(10, 14),
        "ends_at": moment(10, 16),
        "place": "Mairie, salle du conseil",
        "video_link": "",
        "agenda": "",
        **fields,
    }
    return client.post(reverse("notifications:meetings", args=[contract.pk]), data)


def invitations(captured):
    """The .ics attached to each e-mail, parsed back with icalendar, by recipient."""
    found = {}
    for message in captured:
        for part in message.attachments:
            if part.get_content_type() == "text/calendar":
                found[message.to[0]] = (
                    part.get_param("method"),
                    Calendar.from_ical(part.get_payload(decode=True)),
                )
    return found


def event_of(calendar):
    (event,) = calendar.walk("VEVENT")
    return event


def test_every_member_is_notified_and_invited(
    as_coordinator, contract, committee, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = schedule(as_coordinator, contract)
    assert response.status_code == 302

    meeting = Meeting.objects.get()
    people = {committee.chair, *committee.members.all()}
    notified = Notification.objects.filter(event=NotificationEvent.MEETING)
    assert {n.recipient for n in notified} == people
    assert meeting.agenda.startswith(f"Validation du contrat {contract.reference}")
    sent = invitations(mail.outbox)
    assert set(sent) == {person.email for person in people}
    method, calendar = sent["presidente@example.org"]
    assert method == "REQUEST"
    assert str(calendar["METHOD"]) == "REQUEST"
    event = event_of(calendar)
    assert str(event["UID"]) == f"meeting-{meeting.uid}@accord"
    assert int(event["SEQUENCE"]) == 0
    assert event.decoded("DTSTART") == meeting.starts_at
    assert str(event["LOCATION"]) == "Mairie, salle du conseil"
    attendees = {str(a) for a in event["ATTENDEE"]}
    assert attendees == {f"mailto:{person.email}" for person in people}


def test_a_change_then_a_cancellation_update_the_same_event(
    as_coordinator, contract, committee, django_capture_on_commit_callbacks
):
    schedule(as_coordinator, contract)
    meeting = Meeting.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        response = as_coordinator.post(
            reverse("notifications:meeting_change", args=[meeting.pk]),
            {
                "starts_at": moment(12, 9),
                "ends_at": moment(12, 11),
                "place": "",
                "video_link": "https://visio.example.org/comite",
                "agenda": "Validation du contrat",
            },
        )
    assert response.status_code == 302
    _method, changed = invitations(mail.outbox)["presidente@example.org"]
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        as_coordinator.post(reverse("notifications:meeting_cancel", args=[meeting.pk]))
    method, cancelled = invitations(mail.outbox)["presidente@example.org"]

    assert event_of(changed)["UID"] == event_of(cancelled)["UID"]
    assert int(event_of(changed)["SEQUENCE"]) == 1
    assert str(event_of(changed)["URL"]) == "https://visio.example.org/comite"
    assert method == "CANCEL"
    assert str(cancelled["METHOD"]) == "CANCEL"
    assert int(event_of(cancelled)["SEQUENCE"]) == 2
    assert str(event_of(cancelled)["STATUS"]) == "CANCELLED"


def test_only_a_coordinator_convenes_the_committee(client, contract, committee):
    client.force_login(committee.chair)
    response = schedule(client, contract)
    assert response.status_code == 403
    assert not Meeting.objects.exists()


def test_a_meeting_needs_a_place_or_a_link_and_a_future_date(as_coordinator, contract, committee):
    response = schedule(as_coordinator, contract, place="")
    assert response.status_code == 400
    assert "Give a place or a video link for the meeting." in response.content.decode()
    response = schedule(as_coordinator, contract, starts_at=moment(-1, 14), ends_at=moment(-1, 15))
    assert response.status_code == 400
    assert not Meeting.objects.exists()


def test_members_download_the_invitation_and_strangers_cannot(
    client, as_coordinator, contract, committee, stranger
):
    schedule(as_coordinator, contract)
    meeting = Meeting.objects.get()
    client.logout()
    client.force_login(committee.chair)
    url = reverse("notifications:meeting_invitation", args=[meeting.pk])

    response = client.get(url)
    assert response["Content-Type"] == "text/calendar"
    assert str(Calendar.from_ical(response.content)["METHOD"]) == "REQUEST"

    client.logout()
    client.force_login(stranger)
    assert client.get(url).status_code == 404

    # A pilot sees the contract, but not the members' addresses the invitation lists.
    pilot = ActionFactory(contract=contract).pilot
    client.force_login(pilot)
    assert client.get(reverse("workflows:contract_detail", args=[contract.pk])).status_code == 200
    assert client.get(url).status_code == 403


def test_the_meetings_life_is_in_the_contracts_history(as_coordinator, contract, committee):
    """Convening the committee is a domain step: recorded, then told (the outbox)."""
    schedule(as_coordinator, contract)
    meeting = Meeting.objects.get(contract=contract)
    as_coordinator.post(reverse("notifications:meeting_cancel", args=[meeting.pk]))

    entries = list(contract.history.order_by("seq").values_list("event", "actor_username"))
    coordinator = contract.coordinators.get().username
    assert entries == [
        ("meeting_scheduled", coordinator),
        ("notified", ""),
        ("meeting_cancelled", coordinator),
        ("notified", ""),
    ]
    scheduled = contract.history.get(event="meeting_scheduled")
    assert scheduled.data["meeting"] == meeting.pk
    assert scheduled.data["place"] == "Mairie, salle du conseil"
    assert history_verify(contract).valid
