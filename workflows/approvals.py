"""The verbs: what people do to move a contract, one public function each.

Launch the review, suspend, resume, withdraw, close, record the deliberation, decide a task,
close the committee's vote, follow an action up, declare or cancel an absence. Pages, the API
and commands call these and nothing else to change a contract. Each one does all its verb
means: it opens a ``UnitOfWork`` (one transaction that first locks the contract's row, so
that two people acting on the same contract at once are served one after the other, and the
second sees what the first did), checks who acts (the permission declared on the FSM
transition, or the task's owner), fires the transitions through ``workflows.services``,
drives the flows of ``workflows.flows`` (tasks opened, held, cancelled) and records the
history, to which notifications and signatures react when the unit finishes.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any, ClassVar

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from . import services
from .assignments import absence_of
from .documents import contract_documents
from .errors import ApplicationError, Conflict, NotAllowed
from .flows import ContractFlow
from .history import UnitOfWork
from .models import (
    COORDINATOR_TRANSITIONS,
    FOLLOW_UP_TRANSITIONS,
    TASK_KIND_DECISIONS,
    Action,
    CommitteeVote,
    Contract,
    ContractStatus,
    Delegation,
    HistoryEvent,
    Process,
    Signatory,
    SignatoryStatus,
    Task,
    TaskDecision,
    TaskKind,
    TaskStatus,
    User,
    is_coordinator,
)
from .rules import may_fire

NOT_YOUR_TASK = gettext_noop("This task is not yours: %(person)s holds it.")
TASK_ALREADY_DONE = gettext_noop("This task was already completed on %(date)s by %(person)s.")
TASK_CANCELLED = gettext_noop("This task was cancelled: there is nothing left to decide.")
TASK_ON_HOLD = gettext_noop("The contract is suspended: this task is on hold until it resumes.")
TASK_BEING_COMPLETED = gettext_noop("This task is being completed by someone else.")
TASK_WITH_YOUR_DELEGATE = gettext_noop(
    "While you are away, %(delegate)s handles this task for you. Cancel your absence if you "
    "want to decide it yourself."
)

OPEN_STATUSES = (TaskStatus.ASSIGNED, TaskStatus.HELD)


# --- Opening and recording tasks (called by the flow nodes) -------------------------------


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

    # As long as the evidence keeps it (signatures.SignatureEvidence.user_agent).
    USER_AGENT_MAX_LENGTH: ClassVar[int] = 500

    ip_address: str = ""
    user_agent: str = ""


def _claim(unit: UnitOfWork, task: Task, actor: User) -> Task:
    """Take the open task of the unit's contract for this decision, or say why not (403,
    then 409)."""
    claimed = Task.objects.filter(pk=task.pk, owner=actor, status=TaskStatus.ASSIGNED).update(
        status=TaskStatus.STARTED, started=timezone.now()
    )
    # Only what every decision uses is joined: PostgreSQL's planning time grows steeply with
    # the number of joined tables (~5 ms for eight), more than the lazy loads it would save.
    current = Task.objects.select_related("process", "action").get(pk=task.pk)
    current.contract = unit.contract
    unit.drive(current.process)
    if current.action_id and current.action_id == current.process.action_id:
        current.process.action = current.action  # the same row: the flow reads it from here
    if claimed:
        current.owner = actor
        return current
    # Who holds it first, then its state: a stranger learns nothing of the task's progress.
    raise (
        holder_refusal(current, actor)
        or state_refusal(current)
        or Conflict(_(TASK_BEING_COMPLETED), {"status": current.status})
    )


def holder_refusal(task: Task, user: User) -> NotAllowed | None:
    """Why ``user`` may not decide ``task`` because someone else holds it (403); None when
    they hold it."""
    if task.owner_id == user.pk:
        return None
    owner = task.owner
    assert owner is not None  # task_open gives every task its holder
    if task.assignee_id == user.pk and task.delegation_id and task.status == TaskStatus.ASSIGNED:
        return NotAllowed(_(TASK_WITH_YOUR_DELEGATE) % {"delegate": owner.display_name})
    return NotAllowed(_(NOT_YOUR_TASK) % {"person": owner.display_name})


def state_refusal(task: Task) -> Conflict | None:
    """Why ``task`` cannot be decided in its state (409); None while it is open."""
    status = {"status": task.status}
    if task.status == TaskStatus.DONE:
        who = task.completed_by.display_name if task.completed_by else _("someone")
        when = (
            date_format(timezone.localtime(task.finished), "DATETIME_FORMAT")
            if task.finished
            else ""
        )
        return Conflict(_(TASK_ALREADY_DONE) % {"person": who, "date": when}, status)
    if task.status == TaskStatus.CANCELED:
        return Conflict(_(TASK_CANCELLED), status)
    if task.status == TaskStatus.HELD:
        return Conflict(_(TASK_ON_HOLD), status)
    if task.status != TaskStatus.ASSIGNED:
        return Conflict(_(TASK_BEING_COMPLETED), status)
    return None


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
    if decision.decision == TaskDecision.REQUEST_CHANGES:
        _require_comment(decision, _("Say in a comment what must change."))
    elif decision.decision == TaskDecision.REJECT:
        _require_comment(decision, _("A comment is required to reject."))
        codes = sorted({*decision.actions, *decision.objections})
        assert task.contract is not None  # the unit's contract (_claim)
        known = set(task.contract.actions.filter(code__in=codes).values_list("code", flat=True))
        unknown = [code for code in codes if code not in known]
        if unknown:
            raise ApplicationError(
                _("Unknown action(s) in this contract: %(codes)s.") % {"codes": ", ".join(unknown)}
            )
        kept["actions"] = codes
        kept["objections"] = {code: text.strip() for code, text in decision.objections.items()}
    elif decision.decision == TaskDecision.RECORD:
        number = services.check_deliberation(decision.number, decision.date)
        assert decision.date is not None  # check_deliberation refuses a missing date
        kept.update(number=number, date=decision.date.isoformat())
    elif decision.decision == TaskDecision.SIGN:
        if not decision.consent:
            raise ApplicationError(_("Tick the consent box to sign."))
        if not actor.check_password(decision.password):
            raise SignaturePasswordRefused(_("The password is incorrect."))
    elif decision.decision == TaskDecision.DECLINE:
        _require_comment(decision, _("A reason is required to decline."))
    return kept


def _record_signatory_answer(
    unit: UnitOfWork, task: Task, decision: Decision, client: ClientInfo
) -> None:
    signatory = Signatory.objects.select_related("organisation", "signer").get(pk=task.signatory_id)
    signed = decision.decision == TaskDecision.SIGN
    signatory.status = SignatoryStatus.SIGNED if signed else SignatoryStatus.DECLINED
    signatory.decided_at = timezone.now()
    signatory.save(update_fields=["status", "decided_at"])
    proof = (
        contract_documents().sign(
            task=task,
            signatory=signatory,
            ip_address=client.ip_address,
            user_agent=client.user_agent,
        )
        if signed
        else None
    )
    unit.record(
        event=HistoryEvent.SIGNATURE if signed else HistoryEvent.DECLINE,
        actor=task.owner,
        on_behalf_of=task.on_behalf_of,
        name=signatory.kind,
        comment=decision.comment,
        data={
            "task": task.pk,
            "organisation": signatory.organisation.code,
            "signer": signatory.signer.username,
            "document_sha256": unit.contract.document_sha256,
            **(
                {
                    "authentication": "password",
                    "ip_address": client.ip_address,
                    "user_agent": client.user_agent,
                    "certificate_sha256": proof.certificate_fingerprint,
                    "signed_pdf_sha256": proof.signed_pdf_sha256,
                }
                if proof is not None
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
    with UnitOfWork.lock(task.contract_id) as unit:
        unit.record(
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
    with UnitOfWork.lock(task.contract_id) as unit:
        return _decide(unit, task, actor=actor, decision=decision, client=client)


def _decide(
    unit: UnitOfWork, task: Task, *, actor: User, decision: Decision, client: ClientInfo
) -> Task:
    """The decision inside the unit: the flows change ``unit.contract`` itself, so the task
    comes back with the contract's new status."""
    task = _claim(unit, task, actor)
    kept = _check_decision(task, decision, actor)
    task.decision = decision.decision
    task.comment = decision.comment.strip()
    task.completed_by = actor
    task.data = {**task.data, **kept}
    if task.kind == TaskKind.SIGNATURE:
        _record_signatory_answer(unit, task, decision, client)
    unit.record(
        event=HistoryEvent.TASK_COMPLETED,
        actor=actor,
        on_behalf_of=task.on_behalf_of,
        name=task.kind,
        action=task.action,
        comment=task.comment,
        data={"task": task.pk, "decision": task.decision, **kept},
        task=task,
    )
    with task.flow_task.flow_class.lock(task.process_id):
        activation = task.flow_task.activation_class(task)
        activation.complete()
        activation.activate_next()
    return task


# --- Coordinator steps --------------------------------------------------------------------


def require_coordinator(contract: Contract, actor: User) -> None:
    """Refuse (403) anyone but a coordinator of ``contract``, for what no transition declares
    (convening the steering committee)."""
    if not is_coordinator(contract, actor):
        raise NotAllowed(_(services.NOT_A_COORDINATOR))


def _require(obj: Contract | Action, name: str, actor: User) -> None:
    """Refuse (403) whoever the transition's declared permission does not name."""
    if not may_fire(obj, name, actor):
        raise NotAllowed(
            _(services.NOT_A_COORDINATOR)
            if isinstance(obj, Contract)
            else _("Only the action's pilot or a coordinator may do this.")
        )


@transaction.atomic
def launch_review(*, contract: Contract, actor: User) -> Contract:
    """Every draft action goes to its working group's leads; the contract's flow starts."""
    with UnitOfWork.lock(contract.pk) as unit:
        _require(unit.contract, "launch_review", actor)
        services.launch_review(unit, actor=actor)
        ContractFlow.start.run(contract=unit.contract, unit=unit)
    return unit.contract


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
    with UnitOfWork.lock(contract.pk) as unit:
        contract = unit.contract
        _require(contract, "record_deliberation", actor)
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
        _decide(
            unit,
            task,
            actor=actor,
            decision=Decision(TaskDecision.RECORD, comment=comment, number=number, date=date),
            client=ClientInfo(),
        )
    return unit.contract


@transaction.atomic
def suspend(*, contract: Contract, actor: User, reason: str) -> Contract:
    """Pause the contract: its open tasks are put on hold, not cancelled."""
    with UnitOfWork.lock(contract.pk) as unit:
        _require(unit.contract, "suspend", actor)
        services.suspend(unit, actor=actor, reason=reason)
        now = timezone.now()
        for task in unit.contract.tasks.filter(status=TaskStatus.ASSIGNED).select_related(
            "action", "owner"
        ):
            task.status = TaskStatus.HELD
            task.held_at = now
            task.save(update_fields=["status", "held_at"])
            assert task.owner is not None  # an open task has its holder
            unit.record(
                event=HistoryEvent.TASK_HELD,
                actor=actor,
                name=task.kind,
                action=task.action,
                data={"task": task.pk, "owner": task.owner.username},
            )
    return unit.contract


@transaction.atomic
def resume(*, contract: Contract, actor: User, comment: str = "") -> Contract:
    """Back to work: held tasks reopen, their due dates moved by the time spent suspended."""
    with UnitOfWork.lock(contract.pk) as unit:
        _require(unit.contract, "resume", actor)
        services.resume(unit, actor=actor, comment=comment)
        now = timezone.now()
        for task in unit.contract.tasks.filter(status=TaskStatus.HELD).select_related(
            "action", "owner"
        ):
            if task.due is not None and task.held_at is not None:
                task.due += now - task.held_at
            task.status = TaskStatus.ASSIGNED
            task.held_at = None
            task.save(update_fields=["status", "held_at", "due"])
            assert task.owner is not None  # an open task has its holder
            unit.record(
                event=HistoryEvent.TASK_RESUMED,
                actor=actor,
                name=task.kind,
                action=task.action,
                data={"task": task.pk, "owner": task.owner.username, "due": task.due},
            )
    return unit.contract


@transaction.atomic
def withdraw(*, contract: Contract, actor: User, reason: str) -> Contract:
    """End the contract for good: its open tasks are cancelled."""
    with UnitOfWork.lock(contract.pk) as unit:
        _require(unit.contract, "withdraw", actor)
        services.withdraw(unit, actor=actor, reason=reason)
        for process in Process.objects.filter(contract=unit.contract, finished__isnull=True):
            process.flow_class.instance.cancel(unit.drive(process))
    return unit.contract


@transaction.atomic
def close(*, contract: Contract, actor: User, comment: str = "") -> Contract:
    """Close a signed contract once its period is over."""
    with UnitOfWork.lock(contract.pk) as unit:
        _require(unit.contract, "close", actor)
        services.close(unit, actor=actor, comment=comment)
    return unit.contract


def fire_coordinator_transition(
    *, contract: Contract, name: str, actor: User, params: dict[str, Any]
) -> Contract:
    """Dispatch a coordinator step by name, as the API and the contract page ask."""
    if name not in COORDINATOR_TRANSITIONS:
        raise ApplicationError(_('Unknown step "%(name)s".') % {"name": name})
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
    with UnitOfWork.lock(contract.pk) as unit:
        contract = unit.contract
        # A contract without a steering committee has no chair: nobody may close its vote.
        committee = getattr(contract, "steering_committee", None)
        if committee is None or committee.chair_id != actor.pk:
            raise NotAllowed(_("Only the chair of the steering committee may close the vote."))
        if contract.status != ContractStatus.COMMITTEE:
            raise Conflict(
                _("There is no vote in progress: the contract is “%(state)s”.")
                % {"state": contract.get_status_display()}
            )
        process = unit.drive(
            Process.objects.get(contract=contract, flow_class=ContractFlow, finished__isnull=True)
        )
        vote = CommitteeVote.objects.get(pk=process.data["vote"])
        approvals, rejections = vote.tally()
        if approvals + rejections < vote.quorum:
            raise Conflict(
                _("The quorum is not reached: %(cast)d vote(s) cast, %(quorum)d needed.")
                % {"cast": approvals + rejections, "quorum": vote.quorum}
            )
        vote.closed_by = actor
        vote.save(update_fields=["closed_by"])
        join = Task.objects.get(process=process, flow_task=ContractFlow.votes_in, status="STARTED")
        join.process = process
        with ContractFlow.lock(process.pk):
            activation = join.flow_task.activation_class(join)
            activation.complete()
            activation.activate_next()
    return unit.contract


@transaction.atomic
def action_follow_up(*, action: Action, name: str, actor: User, comment: str = "") -> Action:
    """Follow-up of a signed contract's action, by its pilot or a coordinator."""
    if name not in FOLLOW_UP_TRANSITIONS:
        raise Conflict(_('Unknown follow-up step "%(name)s".') % {"name": name})
    with UnitOfWork.lock(action.contract_id) as unit:
        action = unit.contract.actions.select_for_update().get(pk=action.pk)
        action.contract = unit.contract
        _require(action, name, actor)
        if name == "abandon" and not (comment or "").strip():
            raise ApplicationError(_("A reason is required to abandon an action."))
        services.fire(unit, action, name, actor=actor, comment=comment)
    return action


# --- Absences -----------------------------------------------------------------------------


def _natural_on_behalf_of(task: Task) -> int | None:
    """Whose decision the task carries when nobody is absent."""
    if (
        task.kind == TaskKind.SIGNATURE
        and task.signatory is not None
        and task.signatory.represented_by_id
    ):
        return task.signatory.signer_id
    return None


def _hand_over(
    unit: UnitOfWork, task: Task, *, owner_id: int, delegation: Delegation | None
) -> None:
    previous_owner = task.owner
    assert previous_owner is not None  # an open task has its holder
    task.owner_id = owner_id
    task.delegation = delegation
    task.on_behalf_of_id = task.assignee_id if delegation else _natural_on_behalf_of(task)
    task.save(update_fields=["owner", "delegation", "on_behalf_of"])
    unit.record(
        event=HistoryEvent.TASK_DELEGATED,
        name=task.kind,
        action=task.action,
        data={
            "task": task.pk,
            "from": previous_owner.username,
            "to": unit.usernames(owner_id)[owner_id],
            "delegation": delegation.pk if delegation else None,
        },
        task=task,
    )


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
    tasks = list(
        (to_delegate | to_return)
        .select_related("action", "owner", "signatory")
        .order_by("contract_id", "pk")
    )
    # Every contract concerned is locked first, in one order, then worked on one by one.
    units = {pk: UnitOfWork.lock(pk) for pk in sorted({task.contract_id for task in tasks})}
    for task in tasks:
        unit = units[task.contract_id]
        task.contract = unit.contract
        if task.delegation_id is None:
            delegation = absence_of(unit, task.assignee_id, today)
            assert delegation is not None  # to_delegate: its assignee is absent today
            _hand_over(unit, task, owner_id=delegation.delegate_id, delegation=delegation)
        else:
            _hand_over(unit, task, owner_id=task.assignee_id, delegation=None)
    for unit in units.values():
        unit.finish()
    return len(tasks)


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
