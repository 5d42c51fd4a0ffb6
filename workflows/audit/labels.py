"""The history in words: what each event and each recorded detail is called in French, and how
a value is written for a reader (people by name, "pour Y", dates the French way, codes as words).

The chain keeps the database's language (codes, usernames, ISO timestamps) so that it can be
recomputed; this registry is the one place that turns it into sentences, for the pages, the
CSV export and the API's labelled fields alike. A key nobody registered still reads as words
(``user_agent`` → "User agent"), and tests/workflows/test_history_labels.py fails as soon as
the code records an event or a detail that has no label here.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.utils import formats, timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from workflows.models import (
    ACTION_TRANSITION_WORDS,
    CONTRACT_TRANSITION_WORDS,
    AnnualReviewStatus,
    AttachmentKind,
    CommitteeVote,
    HistoryEntry,
    HistoryEvent,
    Organisation,
    SignatoryKind,
    TaskDecision,
    TaskKind,
    User,
)

# --- Events -------------------------------------------------------------------------------

# What each event says, as a sentence whose subject is who did it ("%(who)s"): "Claire Martin
# pour Paul Durand a signé.", or "Accord" for an automatic step.
EVENT_SENTENCES: dict[str, Promise] = {
    HistoryEvent.IMPORTED: gettext_lazy("%(who)s imported the contract."),
    HistoryEvent.TRANSITION: gettext_lazy("%(who)s changed the contract's status."),
    HistoryEvent.ACTION_TRANSITION: gettext_lazy("%(who)s changed the action's status."),
    HistoryEvent.TASK_CREATED: gettext_lazy("%(who)s opened a task."),
    HistoryEvent.TASK_DELEGATED: gettext_lazy("%(who)s handed a task to someone else."),
    HistoryEvent.TASK_COMPLETED: gettext_lazy("%(who)s completed a task."),
    HistoryEvent.TASK_CANCELLED: gettext_lazy("%(who)s cancelled a task."),
    HistoryEvent.TASK_HELD: gettext_lazy("%(who)s put a task on hold."),
    HistoryEvent.TASK_RESUMED: gettext_lazy("%(who)s resumed a task."),
    HistoryEvent.VOTE_DECIDED: gettext_lazy("%(who)s recorded the committee's decision."),
    HistoryEvent.SIGNATURE: gettext_lazy("%(who)s signed."),
    HistoryEvent.DECLINE: gettext_lazy("%(who)s declined to sign."),
    HistoryEvent.SIGNATURE_VOIDED: gettext_lazy("%(who)s voided a signature."),
    HistoryEvent.PEOPLE_CHANGED: gettext_lazy("%(who)s changed the contract's people."),
    HistoryEvent.HISTORY_EXPORTED: gettext_lazy("%(who)s downloaded the verification bundle."),
    HistoryEvent.REMINDER: gettext_lazy("%(who)s sent a reminder."),
    HistoryEvent.NOTIFIED: gettext_lazy("%(who)s sent a notification."),
    HistoryEvent.SIGNATURE_PASSWORD_REFUSED: gettext_lazy(
        "%(who)s tried to sign with a wrong password."
    ),
    HistoryEvent.ACTION_SHEET_SAVED: gettext_lazy("%(who)s saved the action sheet."),
    HistoryEvent.MEETING_SCHEDULED: gettext_lazy("%(who)s convened a committee meeting."),
    HistoryEvent.MEETING_CHANGED: gettext_lazy("%(who)s changed a committee meeting."),
    HistoryEvent.MEETING_CANCELLED: gettext_lazy("%(who)s cancelled a committee meeting."),
    HistoryEvent.ATTACHMENT_ADDED: gettext_lazy("%(who)s added an attachment."),
    HistoryEvent.CREATED: gettext_lazy("%(who)s created the contract."),
    HistoryEvent.EDITED: gettext_lazy("%(who)s edited the contract."),
    HistoryEvent.ACTION_ADDED: gettext_lazy("%(who)s added an action sheet."),
    HistoryEvent.INDICATOR_VALUE: gettext_lazy("%(who)s recorded an indicator value."),
    HistoryEvent.CONVENTION_EDITED: gettext_lazy("%(who)s edited the convention text."),
    HistoryEvent.ANNUAL_REVIEW_LAUNCHED: gettext_lazy("%(who)s launched the annual review."),
    HistoryEvent.REPORT_COLLECTION_CLOSED: gettext_lazy(
        "%(who)s closed the collection of the reports."
    ),
    HistoryEvent.ANNUAL_REPORT_DECIDED: gettext_lazy(
        "%(who)s recorded the committee's decision on the annual report."
    ),
    HistoryEvent.AMENDMENT_OPENED: gettext_lazy("%(who)s opened an amendment."),
    HistoryEvent.AMENDMENT_CHANGED: gettext_lazy("%(who)s changed an amendment."),
    HistoryEvent.AMENDMENT_WITHDRAWN: gettext_lazy("%(who)s withdrew an amendment."),
    HistoryEvent.SIGNATURE_LOCKED: gettext_lazy(
        "%(who)s was locked out of signing after too many wrong passwords."
    ),
    HistoryEvent.AMENDMENT_TRANSITION: gettext_lazy("%(who)s changed the amendment's status."),
    HistoryEvent.AMENDMENT_CONSOLIDATED: gettext_lazy(
        "%(who)s consolidated the amendment into the contract."
    ),
    HistoryEvent.VISA: gettext_lazy("%(who)s gave an internal visa."),
    HistoryEvent.VISA_REFUSED: gettext_lazy("%(who)s refused an internal visa."),
    HistoryEvent.TASK_UNDONE: gettext_lazy("%(who)s undid a decision."),
    HistoryEvent.OPINION_ASKED: gettext_lazy("%(who)s asked for an opinion."),
    HistoryEvent.OBSERVER_ADDED: gettext_lazy("%(who)s added an observer."),
    HistoryEvent.OBSERVER_REMOVED: gettext_lazy("%(who)s removed an observer."),
    HistoryEvent.COMMENT_ADDED: gettext_lazy("%(who)s commented on an action sheet."),
}


def event_label(code: str) -> str:
    """An event's name in words (its code made readable when it is unknown)."""
    try:
        return str(HistoryEvent(code).label)
    except ValueError:
        return humanise(code)


def event_choices() -> list[tuple[str, str]]:
    """Every event a reader may filter by, in alphabetical order of its label."""
    return sorted(((event.value, str(event.label)) for event in HistoryEvent), key=lambda c: c[1])


# --- The "name" of an entry: a transition, a task's kind, a signatory's kind... ----------

SIGNATORY_KIND_WORDS: dict[str, Promise] = {
    SignatoryKind.MANDATORY: gettext_lazy("Mandatory signatory"),
    SignatoryKind.ASSOCIATED: gettext_lazy("Associated signatory"),
}
NAME_WORDS: dict[str, Mapping[str, Any]] = {
    HistoryEvent.TRANSITION: CONTRACT_TRANSITION_WORDS,
    HistoryEvent.ACTION_TRANSITION: ACTION_TRANSITION_WORDS,
    HistoryEvent.SIGNATURE: SIGNATORY_KIND_WORDS,
    HistoryEvent.DECLINE: SIGNATORY_KIND_WORDS,
    HistoryEvent.SIGNATURE_VOIDED: SIGNATORY_KIND_WORDS,
    HistoryEvent.VISA: SIGNATORY_KIND_WORDS,
    HistoryEvent.VISA_REFUSED: SIGNATORY_KIND_WORDS,
    HistoryEvent.VOTE_DECIDED: dict(CommitteeVote.Outcome.choices),
    HistoryEvent.ANNUAL_REPORT_DECIDED: dict(AnnualReviewStatus.choices),
    **{
        event: dict(TaskKind.choices)
        for event in (
            HistoryEvent.TASK_CREATED,
            HistoryEvent.TASK_DELEGATED,
            HistoryEvent.TASK_COMPLETED,
            HistoryEvent.TASK_CANCELLED,
            HistoryEvent.TASK_HELD,
            HistoryEvent.TASK_RESUMED,
            HistoryEvent.TASK_UNDONE,
            HistoryEvent.OPINION_ASKED,
            HistoryEvent.SIGNATURE_PASSWORD_REFUSED,
            HistoryEvent.SIGNATURE_LOCKED,
        )
    },
}


def register_name_words(event: str, words: Mapping[str, Any]) -> None:
    """Let another app name its own codes (notifications: the kind of each notice), without
    the domain importing it."""
    NAME_WORDS[event] = {**NAME_WORDS.get(event, {}), **words}


def name_label(entry: HistoryEntry) -> str:
    """The entry's ``name`` in words: a transition's meaning, a task's or a signatory's kind;
    as recorded when it is free text (a file's name, a year)."""
    if not entry.name:
        return ""
    words = NAME_WORDS.get(entry.event, {}).get(entry.name)
    return str(words) if words is not None else entry.name


# --- People ---------------------------------------------------------------------------------


def person_name(username: str, person: User | None) -> str:
    """A person by name; the username only when the account has no name (or is gone)."""
    if not username:
        return ""
    if person is not None and person.display_name:
        return person.display_name
    return username


def who_did_it(entry: HistoryEntry) -> str:
    """ "Claire Martin", "Claire Martin pour Paul Durand", or Accord itself."""
    actor = person_name(entry.actor_username, entry.actor)
    if not actor:
        return _("Accord (automatic step)")
    principal = person_name(entry.on_behalf_of_username, entry.on_behalf_of)
    if principal and entry.on_behalf_of_username != entry.actor_username:
        return _("%(actor)s for %(principal)s") % {"actor": actor, "principal": principal}
    return actor


def event_sentence(entry: HistoryEntry) -> str:
    sentence = EVENT_SENTENCES.get(entry.event)
    who = who_did_it(entry)
    if sentence is None:
        return f"{who} — {event_label(entry.event)}"
    return str(sentence) % {"who": who}


# --- Values -----------------------------------------------------------------------------------


@dataclass
class Lookups:
    """What the values of a page of entries name, fetched once for the page: people by
    username and by id, organisations by code."""

    people: dict[str, User] = field(default_factory=dict)
    people_by_pk: dict[int, User] = field(default_factory=dict)
    organisations: dict[str, str] = field(default_factory=dict)

    def person(self, username: Any) -> str:
        if not isinstance(username, str):
            return plain(username, self)
        return person_name(username, self.people.get(username))

    def person_by_pk(self, pk: Any) -> str:
        person = self.people_by_pk.get(pk) if isinstance(pk, int) else None
        return person.display_name if person is not None else plain(pk, self)

    def organisation(self, code: Any) -> str:
        if not isinstance(code, str):
            return plain(code, self)
        return self.organisations.get(code, code)


def humanise(key: str) -> str:
    """A code nobody labelled, made readable: ``user_agent`` → "User agent"."""
    words = re.sub(r"[_.\-]+", " ", str(key)).strip()
    return words[:1].upper() + words[1:] if words else str(key)


def french_datetime(moment: datetime.datetime) -> str:
    """« 5 décembre 2026 à 14 h 03 », in the installation's time zone."""
    if timezone.is_aware(moment):
        moment = timezone.localtime(moment)
    return _("%(date)s at %(time)s") % {
        "date": formats.date_format(moment, "j F Y"),
        "time": _("%(hour)s:%(minute)s") % {"hour": moment.hour, "minute": f"{moment.minute:02d}"},
    }


def french_date(day: datetime.date) -> str:
    return formats.date_format(day, "j F Y")


ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def plain(value: Any, lookups: Lookups | None = None) -> str:
    """Any recorded value in words: dates the French way, yes/no, lists joined, a mapping as
    "label : value" pairs."""
    lookups = lookups or Lookups()
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, (int, float)):
        return formats.number_format(value, use_l10n=True, force_grouping=True)
    if isinstance(value, str):
        if ISO_DATETIME.match(value) and (moment := parse_datetime(value)) is not None:
            return french_datetime(moment)
        if ISO_DATE.match(value) and (day := parse_date(value)) is not None:
            return french_date(day)
        return value
    if isinstance(value, list):
        return ", ".join(plain(item, lookups) for item in value) or "—"
    if isinstance(value, dict):
        return "; ".join(
            f"{detail_label(key)}\u00a0: {format_detail(key, item, lookups)}"
            for key, item in value.items()
        )
    return str(value)


def _people(value: Any, lookups: Lookups) -> str:
    names = value if isinstance(value, list) else [value]
    return ", ".join(lookups.person(name) for name in names if name) or "—"


def _people_by_pk(value: Any, lookups: Lookups) -> str:
    pks = value if isinstance(value, list) else [value]
    return ", ".join(lookups.person_by_pk(pk) for pk in pks) or "—"


def _organisations(value: Any, lookups: Lookups) -> str:
    codes = value if isinstance(value, list) else [value]
    return ", ".join(lookups.organisation(code) for code in codes if code) or "—"


def _words(choices: Mapping[str, Any]) -> Callable[[Any, Lookups], str]:
    def format_(value: Any, lookups: Lookups) -> str:
        if isinstance(value, list):
            return ", ".join(format_(item, lookups) for item in value) or "—"
        words = choices.get(value) if isinstance(value, str) else None
        return str(words) if words is not None else plain(value, lookups)

    return format_


def _fingerprint(value: Any, lookups: Lookups) -> str:
    if not isinstance(value, str) or not value:
        return plain(value, lookups)
    return " ".join(value[i : i + 8] for i in range(0, len(value), 8))


def _numbered(value: Any, lookups: Lookups) -> str:
    return _("no. %(number)s") % {"number": value} if isinstance(value, int) else plain(value)


def _bytes(value: Any, lookups: Lookups) -> str:
    if not isinstance(value, int):
        return plain(value, lookups)
    return formats.number_format(value, use_l10n=True, force_grouping=True) + " " + _("bytes")


def _duration(value: Any, lookups: Lookups) -> str:
    """Seconds as days and hours: "3 jours et 4 heures"."""
    if not isinstance(value, int):
        return plain(value, lookups)
    days, rest = divmod(value, 86400)
    hours = rest // 3600
    parts = []
    if days:
        parts.append(ngettext("%(count)d day", "%(count)d days", days) % {"count": days})
    if hours or not days:
        parts.append(ngettext("%(count)d hour", "%(count)d hours", hours) % {"count": hours})
    return _(" and ").join(parts)


def _changed_people(value: Any, lookups: Lookups) -> str:
    """The before/after of an administrative change: each role in words, people by name."""
    if not isinstance(value, dict):
        return plain(value, lookups)
    return "; ".join(
        f"{detail_label(key)}\u00a0: {_role_value(value_of, lookups)}"
        for key, value_of in value.items()
    )


def _role_value(value: Any, lookups: Lookups) -> str:
    if isinstance(value, dict):
        return ", ".join(
            f"{detail_label(key)}\u00a0: {_role_value(item, lookups)}"
            for key, item in value.items()
        )
    if isinstance(value, list):
        return ", ".join(lookups.person(item) for item in value) or "—"
    if isinstance(value, str) and value in lookups.people:
        return lookups.person(value)
    return plain(value, lookups)


AUTHENTICATION_WORDS = {
    "password": gettext_lazy("password"),
    "totp": gettext_lazy("authenticator app code"),
    "static": gettext_lazy("recovery code"),
    "recovery": gettext_lazy("recovery code"),
    "sso": gettext_lazy("single sign-on"),
}
CREDENTIAL_WORDS = {"two_factor_code": gettext_lazy("the two-factor code")}
LOCKOUT_WORDS = {
    "started": gettext_lazy("signing locked"),
    "refused": gettext_lazy("refused while locked"),
}
OUTCOME_WORDS = dict(CommitteeVote.Outcome.choices)

Formatter = Callable[[Any, Lookups], str]


@dataclass(frozen=True)
class Detail:
    label: Promise
    format: Formatter = plain


def _d(label: Promise, formatter: Formatter = plain) -> Detail:
    return Detail(label, formatter)


people, org = _people, _organisations
# Every detail key the code base records (tests/workflows/test_history_labels.py checks it).
DETAILS: dict[str, Detail] = {
    "abstentions": _d(gettext_lazy("Abstentions")),
    "action": _d(gettext_lazy("Action")),
    "actions": _d(gettext_lazy("Actions")),
    "added": _d(gettext_lazy("Sheets added")),
    "after": _d(gettext_lazy("After"), _changed_people),
    "amended_document_sha256": _d(gettext_lazy("Amended document fingerprint"), _fingerprint),
    "amendment": _d(gettext_lazy("Amendment"), _numbered),
    "amendment_version": _d(gettext_lazy("Amendment version")),
    "approvals": _d(gettext_lazy("Approvals")),
    "articles": _d(gettext_lazy("Articles")),
    "attachment": _d(gettext_lazy("Attachment"), _numbered),
    "base_version": _d(gettext_lazy("Version amended")),
    "closed_by_chair": _d(gettext_lazy("Closed by the chair")),
    "credential": _d(gettext_lazy("What was wrong"), _words(CREDENTIAL_WORDS)),
    "minutes_sha256": _d(gettext_lazy("Minutes fingerprint"), _fingerprint),
    "proposal_version": _d(gettext_lazy("Proposal version")),
    "suspended_for_seconds": _d(gettext_lazy("Suspended for"), _duration),
    "authentication": _d(gettext_lazy("Authentication"), _words(AUTHENTICATION_WORDS)),
    "auditors": _d(gettext_lazy("Auditors"), people),
    "before": _d(gettext_lazy("Before"), _changed_people),
    "certificate_sha256": _d(gettext_lazy("Signing certificate fingerprint"), _fingerprint),
    "chair": _d(gettext_lazy("Chair"), people),
    "change": _d(gettext_lazy("Change")),
    "code": _d(gettext_lazy("Sheet")),
    "comment": _d(gettext_lazy("Comment"), _numbered),
    "concerned": _d(gettext_lazy("Signatories concerned"), org),
    "content_type": _d(gettext_lazy("File type")),
    "coordinators": _d(gettext_lazy("Coordinators"), people),
    "date": _d(gettext_lazy("Date")),
    "decision": _d(gettext_lazy("Decision"), _words(dict(TaskDecision.choices))),
    "declined_by": _d(gettext_lazy("Declined by"), org),
    "delegation": _d(gettext_lazy("Absence"), _numbered),
    "document_sha256": _d(gettext_lazy("Document fingerprint"), _fingerprint),
    "due": _d(gettext_lazy("Due")),
    "ends_at": _d(gettext_lazy("Ends")),
    "format": _d(gettext_lazy("File format")),
    "from": _d(gettext_lazy("From"), people),
    "indicator": _d(gettext_lazy("Indicator")),
    "indicators": _d(gettext_lazy("Indicators")),
    "ip_address": _d(gettext_lazy("IP address")),
    "kind": _d(
        gettext_lazy("Kind"),
        _words({**dict(AttachmentKind.choices), **dict(SignatoryKind.choices)}),
    ),
    "leads": _d(gettext_lazy("Leads"), people),
    "lockout": _d(gettext_lazy("Lockout"), _words(LOCKOUT_WORDS)),
    "mandate_date": _d(gettext_lazy("Mandate date")),
    "mandate_reference": _d(gettext_lazy("Mandate reference")),
    "meeting": _d(gettext_lazy("Meeting"), _numbered),
    "members": _d(gettext_lazy("Members"), people),
    "mentioned": _d(gettext_lazy("People mentioned"), _people_by_pk),
    "modified": _d(gettext_lazy("Sheets modified")),
    "name": _d(gettext_lazy("Name")),
    "number": _d(gettext_lazy("Deliberation number")),
    "objections": _d(gettext_lazy("Objections")),
    "observer": _d(gettext_lazy("Observer"), people),
    "on_behalf_of": _d(gettext_lazy("On behalf of"), people),
    "opinion_task": _d(gettext_lazy("Opinion task"), _numbered),
    "order": _d(gettext_lazy("Signing order")),
    "organisation": _d(gettext_lazy("Organisation"), org),
    "organisations": _d(gettext_lazy("Organisations"), org),
    "outcome": _d(gettext_lazy("Outcome"), _words(OUTCOME_WORDS)),
    "owner": _d(gettext_lazy("Held by"), people),
    "participants": _d(gettext_lazy("Participants"), people),
    "parts": _d(gettext_lazy("Parts")),
    "period_end": _d(gettext_lazy("End of the period")),
    "person": _d(gettext_lazy("Person asked"), people),
    "pilots": _d(gettext_lazy("Pilots"), _changed_people),
    "place": _d(gettext_lazy("Place")),
    "previous": _d(gettext_lazy("Previous value")),
    "previous_sha256": _d(gettext_lazy("Previous fingerprint"), _fingerprint),
    "progress": _d(gettext_lazy("Progress")),
    "quorum": _d(gettext_lazy("Quorum")),
    "rank": _d(gettext_lazy("Visa no.")),
    "recipients": _d(gettext_lazy("Recipients"), people),
    "rejections": _d(gettext_lazy("Rejections")),
    "removed": _d(gettext_lazy("Sheets removed")),
    "report": _d(gettext_lazy("Report"), _numbered),
    "report_sha256": _d(gettext_lazy("Report fingerprint"), _fingerprint),
    "report_size": _d(gettext_lazy("Report size"), _bytes),
    "reports_missing": _d(gettext_lazy("Reports missing")),
    "represented_by": _d(gettext_lazy("represented by"), people),
    "reset": _d(gettext_lazy("Back to the model text")),
    "round": _d(gettext_lazy("Round")),
    "sealed_pdf_sha256": _d(gettext_lazy("Sealed document fingerprint"), _fingerprint),
    "second_factor": _d(gettext_lazy("Second factor"), _words(AUTHENTICATION_WORDS)),
    "sequence": _d(gettext_lazy("Sending no.")),
    "sha256": _d(gettext_lazy("Fingerprint"), _fingerprint),
    "sheet_version": _d(gettext_lazy("Sheet version")),
    "signatories": _d(gettext_lazy("Signatories"), org),
    "signed_pdf_sha256": _d(gettext_lazy("Signed document fingerprint"), _fingerprint),
    "signer": _d(gettext_lazy("Signer"), people),
    "size": _d(gettext_lazy("Size"), _bytes),
    "starts_at": _d(gettext_lazy("Starts")),
    "state": _d(gettext_lazy("State")),
    "steering_committee": _d(gettext_lazy("Steering committee"), _changed_people),
    "task": _d(gettext_lazy("Task"), _numbered),
    "title": _d(gettext_lazy("Title")),
    "to": _d(gettext_lazy("To"), people),
    "user_agent": _d(gettext_lazy("Browser")),
    "value": _d(gettext_lazy("Value")),
    "version": _d(gettext_lazy("Version")),
    "video_link": _d(gettext_lazy("Video link")),
    "visas": _d(gettext_lazy("Visas in the circuit")),
    "voided_signatures": _d(gettext_lazy("Signatures voided"), org),
    "working_groups": _d(gettext_lazy("Working groups")),
    "year": _d(gettext_lazy("Year")),
}
# A role of an administrative change is recorded as "working_groups.GT1", "signatories.ARS".
ROLE_PREFIXES = {
    "working_groups": gettext_lazy("Working group %(code)s"),
    "signatories": gettext_lazy("Signatory %(code)s"),
}
# Keys whose values name people by username, or organisations by code: what a page looks up.
PERSON_KEYS = frozenset(
    key for key, detail in DETAILS.items() if detail.format in (_people, _changed_people)
)
ORGANISATION_KEYS = frozenset(key for key, detail in DETAILS.items() if detail.format is org)


def detail_label(key: str) -> str:
    """A detail's name in words; a role of an administrative change by its group or
    organisation; a key nobody labelled made readable."""
    if key in DETAILS:
        return str(DETAILS[key].label)
    prefix, _dot, code = str(key).partition(".")
    if code and prefix in ROLE_PREFIXES:
        return str(ROLE_PREFIXES[prefix]) % {"code": code}
    return humanise(key)


def format_detail(key: str, value: Any, lookups: Lookups) -> str:
    detail = DETAILS.get(key)
    if detail is None:
        prefix = str(key).partition(".")[0]
        if prefix in ROLE_PREFIXES or prefix == "pilots":
            return _role_value(value, lookups)
        return plain(value, lookups)
    return detail.format(value, lookups)


def labelled_details(entry: HistoryEntry, lookups: Lookups) -> list[tuple[str, str, str]]:
    """The entry's details as (key, label, value in words), empty values left out."""
    return [
        (key, detail_label(key), format_detail(key, value, lookups))
        for key, value in entry.data.items()
        if value not in (None, "", [], {})
    ]


# --- One page's look-ups ----------------------------------------------------------------------


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)


def lookups_for(entries: Iterable[HistoryEntry]) -> Lookups:
    """Everyone and every organisation the entries' details name (three queries at most)."""
    usernames: set[str] = set()
    pks: set[int] = set()
    codes: set[str] = set()
    for entry in entries:
        for key, value in entry.data.items():
            base = key.partition(".")[0]
            if key in PERSON_KEYS or base in ROLE_PREFIXES or base == "pilots":
                usernames.update(_strings(value))
            elif key in ORGANISATION_KEYS:
                codes.update(_strings(value))
            elif key == "mentioned" and isinstance(value, list):
                pks.update(pk for pk in value if isinstance(pk, int))
    return Lookups(
        people=User.objects.in_bulk(usernames, field_name="username") if usernames else {},
        people_by_pk=User.objects.in_bulk(pks) if pks else {},
        organisations=(
            dict(Organisation.objects.filter(code__in=codes).values_list("code", "name"))
            if codes
            else {}
        ),
    )
