"""Writing notifications: what each kind of change tells whom.

The domain never calls this module: ``notifications.reactions`` reads the history entries a
unit of work recorded and turns them into notices, written here with one INSERT in the same
transaction (the outbox: a rolled-back change notifies nobody); their delivery is queued with
``transaction.on_commit`` (browser push, e-mail, webhooks), and one that fails then is picked
up by ``tasks.deliver_overdue``. The texts are written in French, whatever the actor's
language. Committee meetings, which no flow records yet, write their notices themselves.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypedDict

from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery, Value
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from workflows.history import UnitOfWork
from workflows.models import (
    AnnualReviewStatus,
    CommitteeVote,
    Contract,
    ContractObserver,
    ContractStatus,
    HistoryEntry,
    HistoryEvent,
    Meeting,
    ReminderStep,
    SheetComment,
    Signatory,
    SteeringCommittee,
    Task,
    TaskDecision,
    TaskKind,
    TaskStatus,
    User,
)
from workflows.services.meetings import committee_of

from . import delivery, grouping, tasks
from .models import (
    DEFAULT_EMAIL_MODES,
    EmailMode,
    Notification,
    NotificationEvent,
    NotificationPreference,
    WebhookDelivery,
    WebhookEndpoint,
)

NOTIFICATION_LANGUAGE = "fr"

DECISION_WORDS: dict[str, str] = {
    TaskDecision.APPROVE: gettext_noop("approved"),
    TaskDecision.REQUEST_CHANGES: gettext_noop("requested changes to"),
    TaskDecision.RESUBMIT: gettext_noop("sent back for review"),
    TaskDecision.REJECT: gettext_noop("rejected"),
    TaskDecision.RECORD: gettext_noop("recorded the deliberation of"),
    TaskDecision.SIGN: gettext_noop("signed"),
    TaskDecision.DECLINE: gettext_noop("declined to sign"),
    TaskDecision.SUBMIT: gettext_noop("submitted"),
    TaskDecision.REFUSE: gettext_noop("refused the visa"),
    TaskDecision.ABSTAIN: gettext_noop("abstained on"),
    TaskDecision.ANSWER: gettext_noop("answered"),
}
# Decisions that undo an approval others gave: those others are told (DECLINED).
REFUSALS: dict[str, str] = {
    TaskDecision.REQUEST_CHANGES: TaskDecision.APPROVE,
    TaskDecision.REJECT: TaskDecision.APPROVE,
    TaskDecision.DECLINE: TaskDecision.SIGN,
    TaskDecision.REFUSE: TaskDecision.APPROVE,
}


def task_label(task: Task) -> str:
    """ "Revue de la fiche action A1", "Vote du comité de pilotage"... in the active language."""
    if task.amendment_id:
        return _amendment_task_label(task)
    # The tasks of an action's review are about that action.
    if task.kind == TaskKind.REVIEW:
        assert task.action is not None
        return _("review of the action sheet %(code)s") % {"code": task.action.code}
    if task.kind == TaskKind.REVISION:
        assert task.action is not None
        return _("revision of the action sheet %(code)s") % {"code": task.action.code}
    if task.kind == TaskKind.VOTE and task.data.get("year"):
        return _("steering committee vote on the %(year)s annual report") % {
            "year": task.data["year"]
        }
    if task.kind == TaskKind.VOTE:
        return _("steering committee vote")
    if task.kind == TaskKind.REPORT:
        assert task.action is not None
        return _("%(year)s annual report of the action %(code)s") % {
            "year": task.data.get("year", ""),
            "code": task.action.code,
        }
    if task.kind == TaskKind.OPINION and task.action_id:
        assert task.action is not None
        return _("opinion asked on the action sheet %(code)s") % {"code": task.action.code}
    if task.kind == TaskKind.OPINION:
        return _("opinion asked")
    if task.kind == TaskKind.DELIBERATION:
        return _("council deliberation")
    if task.kind == TaskKind.VISA and task.signatory is not None:
        return _("internal visa before the signature of %(organisation)s") % {
            "organisation": task.signatory.organisation.name
        }
    if task.kind == TaskKind.SIGNATURE and task.signatory is not None:
        return _("signature for %(organisation)s") % {
            "organisation": task.signatory.organisation.name
        }
    return _("signature")


def _amendment_task_label(task: Task) -> str:
    """An amendment's task: about its proposal (a review, a revision) or the amendment."""
    assert task.amendment is not None
    number = task.amendment.number
    change = task.amendment_change
    if task.kind == TaskKind.REVIEW and change is not None:
        return _("review of the sheet %(code)s proposed by amendment no. %(number)d") % {
            "code": change.code,
            "number": number,
        }
    if task.kind == TaskKind.REVISION and change is not None:
        return _("revision of the sheet %(code)s proposed by amendment no. %(number)d") % {
            "code": change.code,
            "number": number,
        }
    if task.kind == TaskKind.VOTE:
        return _("steering committee vote on amendment no. %(number)d") % {"number": number}
    if task.kind == TaskKind.VISA and task.amendment_party is not None:
        return _(
            "internal visa before the signature of amendment no. %(number)d by %(organisation)s"
        ) % {"number": number, "organisation": task.amendment_party.organisation.name}
    if task.kind == TaskKind.SIGNATURE and task.amendment_party is not None:
        return _("signature of amendment no. %(number)d for %(organisation)s") % {
            "number": number,
            "organisation": task.amendment_party.organisation.name,
        }
    return _("signature of amendment no. %(number)d") % {"number": number}


def _person(user: User) -> str:
    return user.display_name


@dataclass
class Notice:
    """What one event tells its recipients, waiting to be written with the other notices of
    the same unit of work (``notices_write``)."""

    event: str
    recipient_ids: set[int]
    title: str
    contract: Contract | None
    # As they were when the change was made: the webhooks' payload and the history say so.
    contract_status: str
    contract_version: int | None
    task: Task | None
    meeting: Meeting | None
    url: str
    body: str
    # Shown with the other notices of its group about the same contract ("12 fiches
    # approuvées"): ``grouping.group_key``; empty: on its own.
    group: str = ""


class _Told(TypedDict):
    """Arguments of ``notice`` that the notices of one reminder share."""

    contract: Contract
    contract_status: str
    contract_version: int
    task: Task


class _ToldOfDecision(_Told):
    """Arguments of ``notice`` that the notices of one decision share."""

    url: str
    body: str
    exclude: list[int]


def notice(
    *,
    event: str,
    recipients: Iterable[int],
    title: str,
    contract: Contract | None = None,
    contract_status: str | None = None,
    contract_version: int | None = None,
    task: Task | None = None,
    meeting: Meeting | None = None,
    url: str = "",
    body: str = "",
    group: str = "",
    exclude: Iterable[int | None] = (),
) -> Notice:
    """One notice to the active ``recipients`` (user ids: a list, a set or a flat
    ``values_list``) but the ``exclude``d; the contract's status and version are its current
    ones unless given (as they were when the change being told of was made)."""
    excluded = {pk for pk in exclude if pk}
    return Notice(
        event=event,
        recipient_ids={pk for pk in recipients if pk and pk not in excluded},
        title=title[:300],
        contract=contract,
        contract_status=(
            contract_status if contract_status is not None else contract.status if contract else ""
        ),
        contract_version=(
            contract_version
            if contract_version is not None
            else contract.version
            if contract
            else None
        ),
        task=task,
        meeting=meeting,
        url=url,
        body=body,
        group=group,
    )


def notices_write(notices: Iterable[Notice], *, unit: UnitOfWork | None) -> list[Notification]:
    """Write the notices' notifications and the partners' webhook deliveries (one query for
    the recipients, one INSERT each), record who was told in ``unit`` (the contract's unit of
    work, required when a notice is about a contract), and queue their delivery after commit.
    """
    # Nobody to tell may still leave a partner's webhook to call.
    unwritten = [item for item in notices if item.recipient_ids or item.contract]
    if not unwritten:
        return []
    events = sorted({item.event for item in unwritten})
    contracts = {item.contract.pk: item.contract for item in unwritten if item.contract}
    if contracts and (unit is None or set(contracts) != {unit.contract.pk}):
        raise ValueError("Notices about a contract are written in that contract's unit of work.")
    # The recipients' address and username, their preference for each event, and whether each
    # contract's partners have webhooks, in a single query.
    annotations = {
        f"mode_{n}": Subquery(
            NotificationPreference.objects.filter(user=OuterRef("pk"), event=event).values(
                "email_mode"
            )[:1]
        )
        for n, event in enumerate(events)
    } | {f"hooks_{pk}": Exists(_endpoints(contract)) for pk, contract in contracts.items()}
    recipient_ids = set().union(*(item.recipient_ids for item in unwritten))
    people = (
        {
            row["pk"]: row
            for row in User.objects.filter(pk__in=recipient_ids, is_active=True)
            .annotate(**annotations)
            .values("pk", "email", "username", *annotations)
        }
        if recipient_ids
        else {}
    )
    if people:
        anyone = next(iter(people.values()))
        hooked = {pk for pk in contracts if anyone[f"hooks_{pk}"]}
    else:
        hooked = {pk for pk, contract in contracts.items() if _endpoints(contract).exists()}
    now = timezone.now()
    rows, webhooks, told = [], [], []
    for item in unwritten:
        mode = f"mode_{events.index(item.event)}"
        default = DEFAULT_EMAIL_MODES[item.event]
        recipients = [people[pk] for pk in sorted(item.recipient_ids) if pk in people]
        rows += [
            Notification(
                recipient_id=person["pk"],
                event=item.event,
                contract=item.contract,
                task=item.task,
                meeting=item.meeting,
                title=item.title,
                group_key=item.group,
                body=item.body,
                url=item.url,
                created_at=now,
                email_mode=(person[mode] or default) if person["email"] else EmailMode.APP,
            )
            for person in recipients
        ]
        if recipients and item.contract is not None:
            told.append((item, [person["username"] for person in recipients]))
        if item.contract is not None and item.contract.pk in hooked:
            webhooks += _webhook_deliveries(item, now, head=unit.head if unit else None)
    created = Notification.objects.bulk_create(rows) if rows else []
    if unit is not None:
        # Who was told what, in the contract's history, about the version the change was
        # made to.
        unit.record_many(
            {
                "event": HistoryEvent.NOTIFIED,
                "name": item.event,
                "data": {"title": item.title, "recipients": usernames},
                "contract_version": item.contract_version,
            }
            for item, usernames in told
        )
    if not created and not webhooks:
        return []
    # What the push needs, taken now from the rows just written: no re-read after commit.
    pushes = [{name: getattr(row, name) for name in delivery.PUSH_FIELDS} for row in created]
    emails = [row.pk for row in created if row.email_mode == EmailMode.IMMEDIATE]
    webhook_ids = [row.pk for row in webhooks]
    transaction.on_commit(lambda: tasks.deliver(pushes, emails, webhook_ids), robust=True)
    return created


def _endpoints(contract: Contract) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(active=True, organisation__contracts=contract)


def _webhook_deliveries(
    item: Notice, now: datetime.datetime, *, head: tuple[int, str] | None
) -> list[WebhookDelivery]:
    """One delivery per endpoint of the contract's partner organisations that picked this
    kind of event. The payload carries the head of the contract's history once the change is
    recorded (``head``): the partner holds it, out of the database's reach, and can look for
    it in a verification bundle (``verify_history.py --expected-head``)."""
    event, title, contract, task, meeting = (
        item.event,
        item.title,
        item.contract,
        item.task,
        item.meeting,
    )
    assert contract is not None
    endpoints = [
        pk for pk, events in _endpoints(contract).values_list("pk", "events") if event in events
    ]
    if not endpoints:
        return []
    payload = {
        "event": event,
        "created_at": now.isoformat(),
        "title": title,
        "contract": {
            "id": contract.pk,
            "reference": contract.reference,
            "status": item.contract_status,
            "history_head": {"seq": head[0], "hash": head[1]} if head else None,
        },
        "task": {"id": task.pk, "kind": task.kind} if task else None,
        "meeting": (
            {
                "id": meeting.pk,
                "starts_at": meeting.starts_at.isoformat(),
                "status": meeting.status,
            }
            if meeting
            else None
        ),
    }
    deliveries = [
        WebhookDelivery(endpoint_id=pk, event=event, payload=payload, created_at=now)
        for pk in endpoints
    ]
    for row in deliveries:
        row.payload = {"id": str(row.uid), **payload}
    return WebhookDelivery.objects.bulk_create(deliveries)


def coordinators_of(contract: Contract, unit: UnitOfWork) -> set[int]:
    """The contract's coordinators (asked once per unit of work)."""
    return unit.once(
        ("coordinators", contract.pk),
        lambda: set(
            Contract.coordinators.through.objects.filter(contract=contract).values_list(
                "user_id", flat=True
            )
        ),
    )


def followers_of(contract: Contract, unit: UnitOfWork) -> set[int]:
    """Who follows everything decided in the contract: its coordinators and its observers
    (asked once per unit of work, both in one statement unless the coordinators were asked
    already)."""
    key = ("observers", contract.pk)
    if not unit.asked(key) and not unit.asked(("coordinators", contract.pk)):
        coordinators = (
            Contract.coordinators.through.objects.filter(contract=contract)
            .order_by()
            .values_list("user_id", Value(False))
        )
        observers = (
            ContractObserver.objects.filter(contract=contract)
            .order_by()
            .values_list("user_id", Value(True))
        )
        rows = list(coordinators.union(observers, all=True))
        unit.once(
            ("coordinators", contract.pk),
            lambda: {pk for pk, observer in rows if not observer},
        )
        unit.once(key, lambda: {pk for pk, observer in rows if observer})
    observers = unit.once(
        key,
        lambda: set(
            ContractObserver.objects.filter(contract=contract).values_list("user_id", flat=True)
        ),
    )
    return coordinators_of(contract, unit) | observers


def _task_url(task: Task) -> str:
    return reverse("workflows:task_detail", args=[task.pk])


def _contract_url(contract: Contract) -> str:
    return reverse("workflows:contract_detail", args=[contract.pk])


def task_assigned(task: Task, *, contract: Contract, status: str, version: int) -> Notice:
    """The task's holder learns that it waits for them (a new task, or one handed over)."""
    with translation.override(NOTIFICATION_LANGUAGE):
        title = _("New task: %(task)s, %(reference)s") % {
            "task": task_label(task),
            "reference": contract.reference,
        }
    return notice(
        event=NotificationEvent.TASK_ASSIGNED,
        recipients=[task.owner_id],
        title=title,
        contract=contract,
        contract_status=status,
        contract_version=version,
        task=task,
        url=_task_url(task),
        group=grouping.group_key(NotificationEvent.TASK_ASSIGNED, task.kind),
    )


def task_decided(
    task: Task, *, actor: User, unit: UnitOfWork, status: str, version: int
) -> list[Notice]:
    """A decision reaches those who follow it: the contract's coordinators and observers, and
    the action's pilot; a signature reaches the other signatories too; a refusal (changes
    requested, a rejecting vote, a declined signature) reaches everyone who had already
    approved or signed in the same round."""
    contract = unit.contract
    # Whose decision it is, when not the actor's own: the signer a representative signs for,
    # the absent person a delegate decides for.
    principal = task.on_behalf_of if task.on_behalf_of_id not in (None, actor.pk) else None
    with translation.override(NOTIFICATION_LANGUAGE):
        values = {
            "person": _person(actor),
            "decision": _(DECISION_WORDS[task.decision]),
            "task": task_label(task),
            "reference": contract.reference,
            "principal": _person(principal) if principal else "",
        }
        if principal:
            title = _("%(person)s %(decision)s for %(principal)s: %(task)s, %(reference)s")
            refusal_title = _(
                "%(person)s %(decision)s for %(principal)s after your approval: "
                "%(task)s, %(reference)s"
            )
        else:
            title = _("%(person)s %(decision)s: %(task)s, %(reference)s")
            refusal_title = _(
                "%(person)s %(decision)s after your approval: %(task)s, %(reference)s"
            )
        title, refusal_title = title % values, refusal_title % values
    followers = followers_of(contract, unit)
    event = NotificationEvent.DECISION_MADE
    if task.kind == TaskKind.SIGNATURE and task.decision == TaskDecision.SIGN:
        event = NotificationEvent.DOCUMENT_SIGNED
        signers = Signatory.objects.filter(contract=contract).values_list(
            "signer_id", "represented_by_id"
        )
        followers = {pk for pair in signers for pk in pair if pk} | followers
    elif task.kind == TaskKind.OPINION:
        # An opinion is for whoever asked it: the asking task's holder (on the task page).
        asker = Task.objects.filter(pk=task.asked_by_task_id).values_list("owner_id", flat=True)
        followers = {pk for pk in asker if pk}
    elif task.action:
        followers = {task.action.pilot_id} | followers
    told: _ToldOfDecision = {
        "contract": contract,
        "contract_status": status,
        "contract_version": version,
        "task": task,
        # An answered opinion: where the asker reads it, the asking task's page.
        "url": (
            reverse("workflows:task_detail", args=[task.asked_by_task_id])
            if task.asked_by_task_id
            else _contract_url(contract)
        ),
        "body": task.comment,
        "exclude": [actor.pk],
    }
    notices = [
        notice(
            event=event,
            recipients=followers,
            title=title,
            group=grouping.group_key(event, task.kind, task.decision),
            **told,
        )
    ]
    if task.decision in REFUSALS:
        approved = Task.objects.filter(
            contract=contract,
            kind=task.kind,
            status=TaskStatus.DONE,
            decision=REFUSALS[task.decision],
        )
        if task.kind == TaskKind.VOTE:
            approved = approved.filter(committee_vote_id=task.committee_vote_id)
        elif task.kind == TaskKind.VISA:  # the visas given before it, for the same party
            approved = approved.filter(
                process_id=task.process_id,
                signatory_id=task.signatory_id,
                amendment_party_id=task.amendment_party_id,
            )
        elif task.kind == TaskKind.REVIEW:
            approved = approved.filter(process_id=task.process_id)
        else:
            approved = approved.filter(process__contract_version=version)
        notices.append(
            notice(
                event=NotificationEvent.DECLINED,
                recipients=approved.values_list("completed_by_id", flat=True),
                title=refusal_title,
                **told,
            )
        )
    return notices


def contract_status_changed(
    contract: Contract, *, source: str, target: str, actor: User | None, version: int
) -> Notice:
    """The contract's coordinators, observers and the people it names learn of each status
    change."""
    with translation.override(NOTIFICATION_LANGUAGE):
        title = _("%(reference)s: %(source)s → %(target)s") % {
            "reference": contract.reference,
            "source": ContractStatus(source).label,
            "target": ContractStatus(target).label,
        }
    recipients = User.objects.filter(
        Q(coordinated_contracts=contract)
        | Q(contracts=contract)
        | Q(observed_contracts__contract=contract)
    ).values_list("pk", flat=True)
    return notice(
        event=NotificationEvent.CONTRACT_STATUS,
        recipients=recipients,
        title=title,
        contract=contract,
        contract_status=target,
        contract_version=version,
        url=_contract_url(contract),
        exclude=[actor.pk if actor else None],
    )


def vote_decided(outcome: str, *, unit: UnitOfWork, status: str, version: int) -> Notice:
    """The committee's members, the coordinators and the observers learn the vote's outcome."""
    contract = unit.contract
    with translation.override(NOTIFICATION_LANGUAGE):
        title = _("Steering committee vote on %(reference)s: %(outcome)s") % {
            "reference": contract.reference,
            "outcome": CommitteeVote.Outcome(outcome).label,
        }
    members = SteeringCommittee.members.through.objects.filter(
        steeringcommittee__contract=contract
    ).values_list("user_id", flat=True)
    return notice(
        event=NotificationEvent.VOTE_DECIDED,
        recipients=set(members) | followers_of(contract, unit),
        title=title,
        contract=contract,
        contract_status=status,
        contract_version=version,
        url=_contract_url(contract),
    )


def annual_report_decided(
    entry_name: str, year: int, *, unit: UnitOfWork, status: str, version: int
) -> Notice:
    """The committee's members, the coordinators and the observers learn whether the year's
    annual report
    was adopted."""
    contract = unit.contract
    with translation.override(NOTIFICATION_LANGUAGE):
        title = (
            _("Annual report %(year)d of %(reference)s adopted by the steering committee")
            if entry_name == AnnualReviewStatus.ADOPTED
            else _("Annual report %(year)d of %(reference)s rejected by the steering committee")
        ) % {"year": year, "reference": contract.reference}
    members = SteeringCommittee.members.through.objects.filter(
        steeringcommittee__contract=contract
    ).values_list("user_id", flat=True)
    return notice(
        event=NotificationEvent.VOTE_DECIDED,
        recipients=set(members) | followers_of(contract, unit),
        title=title,
        contract=contract,
        contract_status=status,
        contract_version=version,
        url=_contract_url(contract),
    )


def mentioned(entry: HistoryEntry, *, unit: UnitOfWork) -> Notice:
    """The people a comment names (``@username``), who see the contract, learn it names them
    (the domain resolved and recorded who they are)."""
    contract = unit.contract
    action = entry.action
    with translation.override(NOTIFICATION_LANGUAGE):
        title = _("%(person)s mentioned you on the action sheet %(code)s, %(reference)s") % {
            "person": _person(entry.actor) if entry.actor else "",
            "code": action.code if action else entry.name,
            "reference": contract.reference,
        }
    comment = SheetComment.objects.filter(pk=entry.data.get("comment")).first()
    return notice(
        event=NotificationEvent.MENTIONED,
        recipients=entry.data.get("mentioned", []),
        title=title,
        contract=contract,
        contract_version=entry.contract_version,
        url=reverse("workflows:sheet_detail", args=[action.pk]) if action else "",
        body=comment.text if comment else "",
        exclude=[entry.actor_id],
    )


def reminded(task: Task, step: str, *, unit: UnitOfWork, status: str, version: int) -> Notice:
    """A reminder step of ``task``: its holder is reminded, or the coordinators alerted."""
    contract = unit.contract
    assert task.owner is not None  # an open task has its holder
    values = {
        "task": task_label(task),
        "reference": contract.reference,
        "person": _person(task.owner),
        "due": date_format(timezone.localtime(task.due), "SHORT_DATE_FORMAT"),
    }
    with translation.override(NOTIFICATION_LANGUAGE):
        titles = {
            ReminderStep.DUE_SOON: _("Reminder: %(task)s, %(reference)s, due %(due)s"),
            ReminderStep.OVERDUE: _("Overdue since %(due)s: %(task)s, %(reference)s"),
            ReminderStep.COORDINATOR_ALERT: _(
                "Overdue since %(due)s: %(task)s held by %(person)s, %(reference)s"
            ),
        }
        title = titles[ReminderStep(step)] % values
    told: _Told = {
        "contract": contract,
        "contract_status": status,
        "contract_version": version,
        "task": task,
    }
    if step == ReminderStep.COORDINATOR_ALERT:
        return notice(
            event=NotificationEvent.OVERDUE_ALERT,
            recipients=coordinators_of(contract, unit),
            title=title,
            url=_contract_url(contract),
            group=grouping.group_key(NotificationEvent.OVERDUE_ALERT, task.kind),
            **told,
        )
    event = (
        NotificationEvent.TASK_DUE_SOON
        if step == ReminderStep.DUE_SOON
        else NotificationEvent.TASK_OVERDUE
    )
    return notice(
        event=event,
        recipients=[task.owner_id],
        title=title,
        url=_task_url(task),
        group=grouping.group_key(event, task.kind),
        **told,
    )


# --- Committee meetings -------------------------------------------------------------------

MEETING_TITLES: dict[str, str] = {
    HistoryEvent.MEETING_SCHEDULED: gettext_noop(
        "Steering committee meeting on %(date)s: %(reference)s"
    ),
    HistoryEvent.MEETING_CHANGED: gettext_noop(
        "Steering committee meeting changed, now on %(date)s: %(reference)s"
    ),
    HistoryEvent.MEETING_CANCELLED: gettext_noop(
        "Steering committee meeting of %(date)s cancelled: %(reference)s"
    ),
}


def meeting_announced(meeting: Meeting, event: str, *, unit: UnitOfWork) -> Notice:
    """Every committee member learns of it; their e-mail carries the .ics invitation."""
    contract = unit.contract
    with translation.override(NOTIFICATION_LANGUAGE):
        title = _(MEETING_TITLES[event]) % {
            "date": date_format(timezone.localtime(meeting.starts_at), "DATETIME_FORMAT"),
            "reference": contract.reference,
        }
    committee = committee_of(contract)
    return notice(
        event=NotificationEvent.MEETING,
        recipients=set(committee.members.values_list("pk", flat=True)) | {committee.chair_id},
        title=title,
        contract=contract,
        meeting=meeting,
        url=reverse("notifications:meetings", args=[contract.pk]),
        body=meeting.agenda,
    )


# --- Reading ------------------------------------------------------------------------------


def notifications_mark_read(*, user: User, ids: Iterable[int] | None = None) -> int:
    """Mark the user's notifications read (all unread ones when no ids are given)."""
    unread = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if ids is not None:
        unread = unread.filter(pk__in=list(ids))
    return unread.update(read_at=timezone.now())


@transaction.atomic
def preferences_save(*, user: User, modes: dict[str, str]) -> None:
    """Keep the user's choice per event (only those differing from the default are stored)."""
    # One save at a time per person (a double submit would insert the same rows twice).
    User.objects.select_for_update().filter(pk=user.pk).exists()
    NotificationPreference.objects.filter(user=user).delete()
    NotificationPreference.objects.bulk_create(
        NotificationPreference(user=user, event=event, email_mode=mode)
        for event, mode in modes.items()
        if mode != DEFAULT_EMAIL_MODES[event]
    )


# --- Open WebSockets ----------------------------------------------------------------------


def sockets_close_for_session(*, session_key: str) -> None:
    """Close the WebSockets opened with this session, which is being logged out: after
    commit (a log-out rolled back closes nothing), through the channel layer with a timeout;
    Redis away never fails the log-out (``delivery.sockets_close`` logs it)."""
    groups = [delivery.session_group_name(session_key)]
    transaction.on_commit(lambda: delivery.sockets_close(groups), robust=True)


def sockets_close_for_person(*, user_id: int) -> None:
    """Close every WebSocket of this person, whose password changed (sessions, API token):
    after commit, as ``sockets_close_for_session``."""
    groups = [delivery.group_name(user_id)]
    transaction.on_commit(lambda: delivery.sockets_close(groups), robust=True)
