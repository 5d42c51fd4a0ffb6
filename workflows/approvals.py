"""What people do to move a contract: coordinator steps, task decisions, absences.

Pages, the API and commands call these; they drive the flows of ``workflows.flows``, which
in turn fire the FSM transitions through ``workflows.services``. Each function runs in one
transaction that first locks the contract's row, so that two people acting on the same
contract at once are served one after the other, and the second sees what the first did.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from notifications import services as notifications
from signatures import services as signature_services

from . import services
from .errors import ApplicationError, Conflict, NotAllowed
from .flows import TASK_KIND_DECISIONS, ContractFlow
from .models import (
    Contract,
    ContractStatus,
    Delegation,
    HistoryEvent,
    Process,
    Signatory,
    SignatoryStatus,
    Task,
    TaskKind,
    TaskStatus,
    User,
)
from .nodes import Assignment

NOT_YOUR_TASK = gettext_noop("This task is not yours: %(person)s holds it.")
TASK_ALREADY_DONE = gettext_noop("This task was already completed on %(date)s by %(person)s.")
TASK_CANCELLED = gettext_noop("This task was cancelled: there is nothing left to decide.")
TASK_ON_HOLD = gettext_noop("The contract is suspended: this task is on hold until it resumes.")
TASK_BEING_COMPLETED = gettext_noop("This task is being completed by someone else.")

OPEN_STATUSES = (TaskStatus.ASSIGNED, TaskStatus.HELD)


# --- Opening and recording tasks (called by the flow nodes) -------------------------------


def _absence_of(user_id: int, day: datetime.date) -> Delegation | None:
    """The user's absence covering ``day`` (asked once per person in a decision or a launch)."""
    return services.held_once(
        ("absence", user_id, day),
        lambda: (
            Delegation.objects.filter(
                user_id=user_id, start__lte=day, end__gte=day, cancelled_at__isnull=True
            )
            .order_by("-created_at")
            .first()
        ),
    )


def _usernames(*user_ids: int | None) -> dict[int, str]:
    memo = services.held_memo()
    known = memo.setdefault("usernames", {}) if memo is not None else {}
    ids = {pk for pk in user_ids if pk}
    if missing := ids - known.keys():
        known.update(User.objects.filter(pk__in=missing).values_list("pk", "username"))
    return {pk: known[pk] for pk in ids if pk in known}


def task_open(task: Task, *, kind: str, assignment: Assignment) -> Task:
    """Give a new task to its assignee, or to the assignee's delegate during an absence."""
    process = task.process
    contract = services.held_instance(process.contract)  # with this decision's changes
    now = timezone.now()
    delegation = _absence_of(assignment.assignee_id, timezone.localdate())
    task.kind = kind
    task.contract_id = process.contract_id
    task.action_id = assignment.action_id or process.action_id
    task.assignee_id = assignment.assignee_id
    task.signatory_id = assignment.signatory_id
    task.committee_vote_id = assignment.committee_vote_id
    task.delegation = delegation
    if delegation is not None:
        task.owner_id = delegation.delegate_id
        task.on_behalf_of_id = assignment.assignee_id
    else:
        task.owner_id = assignment.assignee_id
        task.on_behalf_of_id = assignment.on_behalf_of_id
    task.status = TaskStatus.ASSIGNED
    task.assigned = now
    task.due = now + datetime.timedelta(days=settings.ACCORD_TASK_DUE_DAYS[kind])
    task.save()
    names = _usernames(task.owner_id, task.on_behalf_of_id)
    services.history_append(
        contract=contract,
        event=HistoryEvent.TASK_CREATED,
        name=kind,
        action=process.action if task.action_id == process.action_id else task.action,
        data={
            "task": task.pk,
            "owner": names[task.owner_id],
            "on_behalf_of": names.get(task.on_behalf_of_id, ""),
            "due": task.due,
            **({"delegation": delegation.pk} if delegation else {}),
        },
    )
    notifications.notify_task_assigned(task, contract=contract)
    return task


def task_record_cancelled(task: Task) -> None:
    services.history_append(
        contract=task.contract,
        event=HistoryEvent.TASK_CANCELLED,
        name=task.kind,
        action=task.action,
        data={"task": task.pk, "owner": task.owner.username},
    )


# --- Decisions ----------------------------------------------------------------------------


@dataclass
class Decision:
    """What a person decides on a task, as the task page or the API sends it."""

    decision: str
    comment: str = ""
    actions: list[str] = field(default_factory=list)
    objections: dict[str, str] = field(default_factory=dict)
    number: str = ""
    date: datetime.date | None = None
    password: str = ""
    consent: bool = False


@dataclass(frozen=True)
class ClientInfo:
    """Where a signature came from, for the evidence."""

    ip_address: str = ""
    user_agent: str = ""


def _claim(task: Task, actor: User, contract: Contract) -> Task:
    """Take the open task of ``contract`` (locked) for this decision, or say why not (403,
    then 409)."""
    claimed = Task.objects.filter(pk=task.pk, owner=actor, status=TaskStatus.ASSIGNED).update(
        status=TaskStatus.STARTED, started=timezone.now()
    )
    # Only what every decision uses is joined: PostgreSQL's planning time grows steeply with
    # the number of joined tables (~5 ms for eight), more than the lazy loads it would save.
    current = Task.objects.select_related("process", "action").get(pk=task.pk)
    current.contract = current.process.contract = contract
    if current.action_id and current.action_id == current.process.action_id:
        current.process.action = current.action  # the same row: the flow reads it from here
    if claimed:
        current.owner = actor
        return current
    if current.owner_id != actor.pk:
        raise NotAllowed(_(NOT_YOUR_TASK) % {"person": current.owner})
    if current.status == TaskStatus.DONE:
        raise Conflict(
            _(TASK_ALREADY_DONE)
            % {
                "person": current.completed_by.full_name or current.completed_by.username,
                "date": date_format(timezone.localtime(current.finished), "DATETIME_FORMAT"),
            },
            {"status": current.status},
        )
    if current.status == TaskStatus.HELD:
        raise Conflict(_(TASK_ON_HOLD), {"status": current.status})
    if current.status == TaskStatus.CANCELED:
        raise Conflict(_(TASK_CANCELLED), {"status": current.status})
    raise Conflict(_(TASK_BEING_COMPLETED), {"status": current.status})


def _require_comment(decision: Decision, message: str) -> None:
    if not decision.comment.strip():
        raise ApplicationError(message)


def _check_decision(task: Task, decision: Decision, actor: User) -> dict[str, Any]:
    """Refuse a decision that does not fit the task (400); returns what the task keeps."""
    allowed = TASK_KIND_DECISIONS[task.kind]
    if decision.decision not in allowed:
        raise ApplicationError(
            _('"%(decision)s" is not a decision for this task; choose one of: %(allowed)s.')
            % {"decision": decision.decision, "allowed": ", ".join(allowed)}
        )
    kept: dict[str, Any] = {}
    if decision.decision == "request_changes":
        _require_comment(decision, _("Say in a comment what must change."))
    elif decision.decision == "reject":
        _require_comment(decision, _("A comment is required to reject."))
        codes = sorted({*decision.actions, *decision.objections})
        known = set(task.contract.actions.filter(code__in=codes).values_list("code", flat=True))
        unknown = [code for code in codes if code not in known]
        if unknown:
            raise ApplicationError(
                _("Unknown action(s) in this contract: %(codes)s.") % {"codes": ", ".join(unknown)}
            )
        kept["actions"] = codes
        kept["objections"] = {code: text.strip() for code, text in decision.objections.items()}
    elif decision.decision == "record":
        number = services.check_deliberation(decision.number, decision.date)
        kept.update(number=number, date=decision.date.isoformat())
    elif decision.decision == "sign":
        if not decision.consent:
            raise ApplicationError(_("Tick the consent box to sign."))
        if not actor.check_password(decision.password):
            raise SignaturePasswordRefused(_("The password is incorrect."))
    elif decision.decision == "decline":
        _require_comment(decision, _("A reason is required to decline."))
    return kept


def _record_signatory_answer(task: Task, decision: Decision, client: ClientInfo) -> None:
    signatory = Signatory.objects.select_related("organisation", "signer").get(pk=task.signatory_id)
    signed = decision.decision == "sign"
    signatory.status = SignatoryStatus.SIGNED if signed else SignatoryStatus.DECLINED
    signatory.decided_at = timezone.now()
    signatory.save(update_fields=["status", "decided_at"])
    evidence = (
        signature_services.signature_apply(
            task=task,
            signatory=signatory,
            ip_address=client.ip_address,
            user_agent=client.user_agent,
        )
        if signed
        else None
    )
    services.history_append(
        contract=task.contract,
        event=HistoryEvent.SIGNATURE if signed else HistoryEvent.DECLINE,
        actor=task.owner,
        on_behalf_of=task.on_behalf_of,
        name=signatory.kind,
        comment=decision.comment,
        data={
            "task": task.pk,
            "organisation": signatory.organisation.code,
            "signer": signatory.signer.username,
            "document_sha256": task.contract.document_sha256,
            **(
                {
                    "authentication": "password",
                    "ip_address": client.ip_address,
                    "user_agent": client.user_agent,
                    "certificate_sha256": evidence.certificate_fingerprint,
                    "signed_pdf_sha256": evidence.signed_pdf_sha256,
                }
                if signed
                else {}
            ),
        },
    )


class SignaturePasswordRefused(ApplicationError):
    """A signer's password did not match: the attempt is recorded, the signature is not."""


def task_decide(
    *, task: Task, actor: User, decision: Decision, client: ClientInfo | None = None
) -> Task:
    """Complete a task with a decision: exactly once, by its owner, and let the flow go on."""
    client = client or ClientInfo()
    try:
        return _task_decide(task=task, actor=actor, decision=decision, client=client)
    except SignaturePasswordRefused:
        # After the decision's transaction rolled back: the failed attempt stays on record.
        _record_password_refused(task, actor, client)
        raise


@transaction.atomic
def _record_password_refused(task: Task, actor: User, client: ClientInfo) -> None:
    contract = services.lock_contract(task.contract_id)
    services.history_append(
        contract=contract,
        event=HistoryEvent.SIGNATURE_PASSWORD_REFUSED,
        actor=actor,
        on_behalf_of=task.on_behalf_of,
        name=task.kind,
        data={
            "task": task.pk,
            "ip_address": client.ip_address,
            "user_agent": client.user_agent,
        },
    )


@transaction.atomic
def _task_decide(*, task: Task, actor: User, decision: Decision, client: ClientInfo) -> Task:
    contract = services.lock_contract(task.contract_id)
    # The flows change `contract` itself: the task comes back with the contract's new status.
    with services.holding_contract(contract):
        task = _claim(task, actor, contract)
        kept = _check_decision(task, decision, actor)
        task.decision = decision.decision
        task.comment = decision.comment.strip()
        task.completed_by = actor
        task.data = {**task.data, **kept}
        if task.kind == TaskKind.SIGNATURE:
            _record_signatory_answer(task, decision, client)
        services.history_append(
            contract=contract,
            event=HistoryEvent.TASK_COMPLETED,
            actor=actor,
            on_behalf_of=task.on_behalf_of,
            name=task.kind,
            action=task.action,
            comment=task.comment,
            data={"task": task.pk, "decision": task.decision, **kept},
        )
        notifications.notify_task_decided(task, actor=actor)
        with task.flow_task.flow_class.lock(task.process_id):
            activation = task.flow_task.activation_class(task)
            activation.complete()
            activation.activate_next()
    return task


# --- Coordinator steps --------------------------------------------------------------------


@transaction.atomic
def launch_review(*, contract: Contract, actor: User) -> Contract:
    """Every draft action goes to its working group's leads; the contract's flow starts."""
    contract = services.contract_launch_review(contract=contract, actor=actor)
    with services.holding_contract(contract):
        ContractFlow.start.run(contract=contract)
    return contract


@transaction.atomic
def record_deliberation(
    *,
    contract: Contract,
    actor: User,
    number: str,
    date: datetime.date,
    comment: str = "",
) -> Contract:
    """The coordinator's deliberation task, completed from the contract page or the API."""
    contract = services.lock_contract(contract.pk)
    services.require_coordinator(contract, actor)
    task = contract.tasks.filter(kind=TaskKind.DELIBERATION, status__in=OPEN_STATUSES).first()
    if task is None:
        raise Conflict(
            _(services.CONTRACT_TRANSITION_NOT_ALLOWED)
            % {
                "transition": _("Record the deliberation"),
                "state": contract.get_status_display(),
            },
            {"transition": "record_deliberation", "state": contract.status},
        )
    task = task_decide(
        task=task,
        actor=actor,
        decision=Decision("record", comment=comment, number=number, date=date),
    )
    return task.contract


@transaction.atomic
def suspend(*, contract: Contract, actor: User, reason: str) -> Contract:
    """Pause the contract: its open tasks are put on hold, not cancelled."""
    contract = services.contract_suspend(contract=contract, actor=actor, reason=reason)
    now = timezone.now()
    for task in contract.tasks.filter(status=TaskStatus.ASSIGNED).select_related("action", "owner"):
        task.status = TaskStatus.HELD
        task.held_at = now
        task.save(update_fields=["status", "held_at"])
        services.history_append(
            contract=contract,
            event=HistoryEvent.TASK_HELD,
            actor=actor,
            name=task.kind,
            action=task.action,
            data={"task": task.pk, "owner": task.owner.username},
        )
    return contract


@transaction.atomic
def resume(*, contract: Contract, actor: User, comment: str = "") -> Contract:
    """Back to work: held tasks reopen, their due dates moved by the time spent suspended."""
    contract = services.contract_resume(contract=contract, actor=actor, comment=comment)
    now = timezone.now()
    for task in contract.tasks.filter(status=TaskStatus.HELD).select_related("action", "owner"):
        if task.due is not None and task.held_at is not None:
            task.due += now - task.held_at
        task.status = TaskStatus.ASSIGNED
        task.held_at = None
        task.save(update_fields=["status", "held_at", "due"])
        services.history_append(
            contract=contract,
            event=HistoryEvent.TASK_RESUMED,
            actor=actor,
            name=task.kind,
            action=task.action,
            data={"task": task.pk, "owner": task.owner.username, "due": task.due},
        )
    return contract


def _cancel_flows(contract: Contract) -> None:
    for process in Process.objects.filter(contract=contract, finished__isnull=True):
        process.flow_class.instance.cancel(process)


@transaction.atomic
def withdraw(*, contract: Contract, actor: User, reason: str) -> Contract:
    """End the contract for good: its open tasks are cancelled."""
    contract = services.contract_withdraw(contract=contract, actor=actor, reason=reason)
    with services.holding_contract(contract):
        _cancel_flows(contract)
    return contract


def close(*, contract: Contract, actor: User, comment: str = "") -> Contract:
    return services.contract_close(contract=contract, actor=actor, comment=comment)


def fire_coordinator_transition(
    *, contract: Contract, name: str, actor: User, params: dict[str, Any]
) -> Contract:
    """Dispatch a coordinator step by name, as the API and the contract page ask."""
    comment = params.get("comment", "")
    steps = {
        "launch_review": lambda: launch_review(contract=contract, actor=actor),
        "record_deliberation": lambda: record_deliberation(
            contract=contract,
            actor=actor,
            number=params["number"],
            date=params["date"],
            comment=comment,
        ),
        "suspend": lambda: suspend(contract=contract, actor=actor, reason=params["reason"]),
        "resume": lambda: resume(contract=contract, actor=actor, comment=comment),
        "withdraw": lambda: withdraw(contract=contract, actor=actor, reason=params["reason"]),
        "close": lambda: close(contract=contract, actor=actor, comment=comment),
    }
    return steps[name]()


@transaction.atomic
def close_vote(*, contract: Contract, actor: User) -> Contract:
    """The chair ends the committee vote once the quorum is reached."""
    contract = services.lock_contract(contract.pk)
    # A contract without a steering committee has no chair: nobody may close its vote.
    committee = getattr(contract, "steering_committee", None)
    if committee is None or committee.chair_id != actor.pk:
        raise NotAllowed(_("Only the chair of the steering committee may close the vote."))
    if contract.status != ContractStatus.COMMITTEE:
        raise Conflict(
            _("There is no vote in progress: the contract is “%(state)s”.")
            % {"state": contract.get_status_display()}
        )
    process = Process.objects.get(contract=contract, flow_class=ContractFlow, finished__isnull=True)
    vote = services.committee_vote_current(process)
    approvals, rejections = services.committee_vote_count(vote)
    if approvals + rejections < vote.quorum:
        raise Conflict(
            _("The quorum is not reached: %(cast)d vote(s) cast, %(quorum)d needed.")
            % {"cast": approvals + rejections, "quorum": vote.quorum}
        )
    vote.closed_by = actor
    vote.save(update_fields=["closed_by"])
    join = Task.objects.get(process=process, flow_task=ContractFlow.votes_in, status="STARTED")
    with services.holding_contract(contract), ContractFlow.lock(process.pk):
        activation = join.flow_task.activation_class(join)
        activation.complete()
        activation.activate_next()
    return contract


# --- Absences -----------------------------------------------------------------------------


def _natural_on_behalf_of(task: Task) -> int | None:
    """Whose decision the task carries when nobody is absent."""
    if task.kind == TaskKind.SIGNATURE and task.signatory.represented_by_id:
        return task.signatory.signer_id
    return None


def _hand_over(task: Task, *, owner_id: int, delegation: Delegation | None) -> None:
    previous_owner = task.owner
    task.owner_id = owner_id
    task.delegation = delegation
    task.on_behalf_of_id = task.assignee_id if delegation else _natural_on_behalf_of(task)
    task.save(update_fields=["owner", "delegation", "on_behalf_of"])
    services.history_append(
        contract=task.contract,
        event=HistoryEvent.TASK_DELEGATED,
        name=task.kind,
        action=task.action,
        data={
            "task": task.pk,
            "from": previous_owner.username,
            "to": _usernames(owner_id)[owner_id],
            "delegation": delegation.pk if delegation else None,
        },
    )
    notifications.notify_task_assigned(task, contract=task.contract)


def _lock_contracts(contract_ids: set[int]) -> None:
    for contract_id in sorted(contract_ids):
        services.lock_contract(contract_id)


@transaction.atomic
def delegations_apply(*, today: datetime.date | None = None) -> int:
    """Hand open tasks to the delegates of people absent today, and give back those of people
    who returned. Idempotent: run at each declaration and daily (Celery beat or cron)."""
    today = today or timezone.localdate()
    absences = Delegation.objects.filter(start__lte=today, end__gte=today, cancelled_at=None)
    to_delegate = Task.objects.filter(
        status__in=OPEN_STATUSES,
        delegation__isnull=True,
        assignee__in=absences.values("user"),
    )
    to_return = Task.objects.filter(status__in=OPEN_STATUSES, delegation__isnull=False).exclude(
        delegation__in=absences
    )
    moved = 0
    tasks = list(
        (to_delegate | to_return)
        .select_related("contract", "action", "owner", "signatory")
        .order_by("contract_id", "pk")
    )
    _lock_contracts({task.contract_id for task in tasks})
    for task in tasks:
        if task.delegation_id is None:
            delegation = _absence_of(task.assignee_id, today)
            _hand_over(task, owner_id=delegation.delegate_id, delegation=delegation)
        else:
            _hand_over(task, owner_id=task.assignee_id, delegation=None)
        moved += 1
    return moved


@transaction.atomic
def delegation_declare(
    *, user: User, delegate: User, start: datetime.date, end: datetime.date
) -> Delegation:
    """ "My tasks go to DELEGATE from START to END": open and new tasks in that window."""
    if delegate.pk == user.pk:
        raise ApplicationError(_("You cannot delegate your tasks to yourself."))
    if not delegate.is_active:
        raise ApplicationError(_("This person's account is disabled."))
    if end < start:
        raise ApplicationError(_("The absence ends before it starts."))
    if end < timezone.localdate():
        raise ApplicationError(_("The absence is already over."))
    overlapping = Delegation.objects.filter(
        Q(user=user) & Q(start__lte=end) & Q(end__gte=start) & Q(cancelled_at=None)
    ).first()
    if overlapping:
        raise ApplicationError(
            _("You already declared an absence from %(start)s to %(end)s.")
            % {
                "start": date_format(overlapping.start, "SHORT_DATE_FORMAT"),
                "end": date_format(overlapping.end, "SHORT_DATE_FORMAT"),
            }
        )
    delegation = Delegation.objects.create(user=user, delegate=delegate, start=start, end=end)
    delegations_apply()
    return delegation


@transaction.atomic
def delegation_cancel(*, delegation: Delegation, user: User) -> Delegation:
    if delegation.user_id != user.pk:
        raise NotAllowed(_("This absence is not yours."))
    if delegation.cancelled_at is None:
        delegation.cancelled_at = timezone.now()
        delegation.save(update_fields=["cancelled_at"])
        delegations_apply()
    return delegation
