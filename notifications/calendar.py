"""iCalendar invitations (RFC 5545/5546) for committee meetings, with the icalendar library."""

from __future__ import annotations

from email.utils import parseaddr

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from icalendar import Calendar, Event, vCalAddress, vText

from workflows.models import Meeting, User


def meeting_uid(meeting: Meeting) -> str:
    return f"meeting-{meeting.uid}@accord"


def meeting_method(meeting: Meeting) -> str:
    return "CANCEL" if meeting.status == Meeting.Status.CANCELLED else "REQUEST"


def meeting_ics(meeting: Meeting, attendees: list[User]) -> bytes:
    """The invitation as it stands: METHOD:REQUEST while scheduled, METHOD:CANCEL once
    cancelled; the same UID throughout and the meeting's SEQUENCE, so a calendar program
    replaces the event it already has instead of adding another."""
    contract = meeting.contract
    with translation.override("fr"):
        summary = _("Steering committee: %(reference)s") % {"reference": contract.reference}
    calendar = Calendar()
    calendar.add("prodid", "-//Accord//Steering committee meetings//FR")
    calendar.add("version", "2.0")
    calendar.add("method", meeting_method(meeting))
    event = Event()
    event.add("uid", meeting_uid(meeting))
    event.add("sequence", meeting.sequence)
    event.add("dtstamp", timezone.now())
    event.add("dtstart", meeting.starts_at)
    event.add("dtend", meeting.ends_at)
    event.add("summary", summary)
    event.add("description", meeting.agenda)
    event.add("location", meeting.place or meeting.video_link)
    if meeting.video_link:
        event.add("url", meeting.video_link)
    event.add("status", "CANCELLED" if meeting.status == Meeting.Status.CANCELLED else "CONFIRMED")
    _name, sender = parseaddr(settings.DEFAULT_FROM_EMAIL)
    organizer = vCalAddress(f"mailto:{sender}")
    organizer.params["cn"] = vText("Accord")
    event.add("organizer", organizer)
    for person in attendees:
        if not person.email:
            continue
        attendee = vCalAddress(f"mailto:{person.email}")
        attendee.params["cn"] = vText(person.display_name)
        attendee.params["role"] = vText("REQ-PARTICIPANT")
        attendee.params["partstat"] = vText("NEEDS-ACTION")
        attendee.params["rsvp"] = vText("TRUE")
        event.add("attendee", attendee, encode=False)
    calendar.add_component(event)
    return calendar.to_ical()
