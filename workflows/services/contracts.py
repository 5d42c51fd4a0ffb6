"""A coordinator's steps on a contract, the chair's closing of the vote, an action's follow-up."""

from __future__ import annotations

import datetime
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .. import transitions
from ..documents import decide_outside
from ..errors import ApplicationError, Conflict, NotAllowed
from ..flows import ContractFlow
from ..history import Preparations, UnitOfWork
from ..models import (
    COORDINATOR_TRANSITIONS,
    FOLLOW_UP_TRANSITIONS,
    Action,
    AnnualReview,
    AnnualReviewStatus,
    Contract,
    ContractStatus,
    HistoryEvent,
    Process,
    Task,
    TaskDecision,
    TaskKind,
    TaskStatus,
    User,
    is_coordinator,
)
from ..rules import may_fire, transition_blockers
from ..selectors import draft_problems
from .follow_up import follow_up_fire
from .tasks import OPEN_STATUSES, ClientInfo, Decision, decide
from .voting import close_committee_vote, require_chair

# --- Coordinator steps --------------------------------------------------------------------


def require_coordinator(contract: Contract, actor: User) -> None:
    """Refuse (403) anyone but a coordinator of ``contract``, for what no transition declares
    (convening the steering committee)."""
    if not is_coordinator(contract, actor):
        raise NotAllowed(_(transitions.NOT_A_COORDINATOR))


def _require(obj: Contract | Action, name: str, actor: User) -> None:
    """Refuse (403) whoever the transition's declared permission does not name."""
    if not may_fire(obj, name, actor):
        raise NotAllowed(
            _(transitions.NOT_A_COORDINATOR)
            if isinstance(obj, Contract)
            else _("Only the action's pilot or a coordinator may do this.")
        )


@transaction.atomic
def launch_review(*, contract: Contract, actor: User) -> Contract:
    """Every draft action goes to its working group's leads; the contract's flow starts."""
    with UnitOfWork.lock(contract.pk) as unit:
        _require(unit.contract, "launch_review", actor)
        # The state machine's own refusals (no action, no committee...) say it best; then the
        # contract file's rules, which a draft written in Accord may not meet yet.
        problems = (
            draft_problems(unit.contract)
            if transition_blockers(unit.contract, "launch_review") == []
            else []
        )
        if problems:
            raise Conflict(
                ngettext(
                    "The contract is not complete yet (%(count)d problem): its review cannot "
                    "start.",
                    "The contract is not complete yet (%(count)d problems): its review cannot "
                    "start.",
                    len(problems),
                )
                % {"count": len(problems)},
                {"errors": [str(problem) for problem in problems]},
            )
        transitions.launch_review(unit, actor=actor)
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
                _(transitions.CONTRACT_TRANSITION_NOT_ALLOWED)
                % {
                    "transition": _("Record the deliberation"),
                    "state": contract.get_status_display(),
                },
                {"transition": "record_deliberation", "state": contract.status},
            )
        decide(
            unit,
            task,
            actor=actor,
            decision=Decision(TaskDecision.RECORD, comment=comment, number=number, date=date),
            client=ClientInfo(),
        )
    return unit.contract


def hold_tasks(unit: UnitOfWork, tasks: QuerySet[Task], *, actor: User) -> None:
    """Put the open ones of ``tasks`` on hold (a suspension), each in the history."""
    for task in tasks.filter(status=TaskStatus.ASSIGNED).select_related(
        "action", "owner", "process"
    ):
        # viewflow's own transition of the task (HumanTaskActivation.hold).
        task.flow_task.activation_class(task).hold()
        assert task.owner is not None  # an open task has its holder
        unit.record(
            event=HistoryEvent.TASK_HELD,
            actor=actor,
            name=task.kind,
            action=task.action,
            data={"task": task.pk, "owner": task.owner.username},
        )


def release_tasks(unit: UnitOfWork, tasks: QuerySet[Task], *, actor: User) -> None:
    """Reopen the held ones of ``tasks`` (a resumption), due later by the time they waited."""
    for task in tasks.filter(status=TaskStatus.HELD).select_related("action", "owner", "process"):
        task.flow_task.activation_class(task).release()
        assert task.owner is not None  # an open task has its holder
        unit.record(
            event=HistoryEvent.TASK_RESUMED,
            actor=actor,
            name=task.kind,
            action=task.action,
            data={"task": task.pk, "owner": task.owner.username, "due": task.due},
        )


@transaction.atomic
def suspend(*, contract: Contract, actor: User, reason: str) -> Contract:
    """Pause the contract: its open tasks are put on hold, not cancelled."""
    with UnitOfWork.lock(contract.pk) as unit:
        _require(unit.contract, "suspend", actor)
        transitions.suspend(unit, actor=actor, reason=reason)
        hold_tasks(unit, unit.contract.tasks.all(), actor=actor)
    return unit.contract


@transaction.atomic
def resume(*, contract: Contract, actor: User, comment: str = "") -> Contract:
    """Back to work: held tasks reopen, their due dates moved by the time spent suspended."""
    with UnitOfWork.lock(contract.pk) as unit:
        _require(unit.contract, "resume", actor)
        transitions.resume(unit, actor=actor, comment=comment)
        release_tasks(unit, unit.contract.tasks.all(), actor=actor)
    return unit.contract


@transaction.atomic
def withdraw(*, contract: Contract, actor: User, reason: str) -> Contract:
    """End the contract for good: its open tasks are cancelled."""
    with UnitOfWork.lock(contract.pk) as unit:
        _require(unit.contract, "withdraw", actor)
        transitions.withdraw(unit, actor=actor, reason=reason)
        for process in Process.objects.filter(contract=unit.contract, finished__isnull=True):
            process.flow_class.instance.cancel(unit.drive(process))
    return unit.contract


@transaction.atomic
def close(
    *, contract: Contract, actor: User, comment: str = "", without_final_review: str = ""
) -> Contract:
    """Close a signed contract once its period is over, its last year reviewed (the annual
    review of the period's last year decided) or its review skipped for a reason given
    (``without_final_review``), which the history keeps."""
    with UnitOfWork.lock(contract.pk) as unit:
        _require(unit.contract, "close", actor)
        data = (
            _final_review(unit.contract, without_final_review)
            if transition_blockers(unit.contract, "close") == []
            else {}
        )
        transitions.close(unit, actor=actor, comment=comment, data=data)
    return unit.contract


def _final_review(contract: Contract, without_final_review: str) -> dict[str, Any]:
    """What the history says of the last year's review at the closing; refuses (409) a
    review still under way, and a closing without the last one and without a reason."""
    reviews = AnnualReview.objects.filter(contract=contract)
    under_way = reviews.filter(
        status__in=[AnnualReviewStatus.COLLECTING, AnnualReviewStatus.VOTING]
    ).first()
    if under_way is not None:
        raise Conflict(
            _("The annual review of %(year)d is under way: bring it to its end first.")
            % {"year": under_way.year}
        )
    year = contract.period_end.year
    if reviews.filter(year=year).exists():
        return {"final_review": year}
    reason = without_final_review.strip()
    if not reason:
        raise Conflict(
            _(
                "The annual review of %(year)d, the contract's last year, has not taken place: "
                "launch it, or give the reason for closing without it."
            )
            % {"year": year},
            {"final_review": year},
        )
    return {"final_review": None, "without_final_review": reason}


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
        "close": lambda: close(
            contract=contract,
            actor=actor,
            comment=comment,
            without_final_review=params.get("without_final_review", ""),
        ),
    }
    return steps[name]()


def close_vote(*, contract: Contract, actor: User) -> Contract:
    """The chair ends the committee vote on the contract once the quorum is reached; the
    minutes' signature is prepared before the vote's transaction (``decide_outside``)."""
    return decide_outside(
        lambda preparations: _close_vote(contract=contract, actor=actor, preparations=preparations)
    )


@transaction.atomic
def _close_vote(*, contract: Contract, actor: User, preparations: Preparations) -> Contract:
    with UnitOfWork.lock(contract.pk, preparations=preparations) as unit:
        require_chair(unit.contract, actor)
        if unit.contract.status != ContractStatus.COMMITTEE:
            raise Conflict(
                _("There is no vote in progress: the contract is “%(state)s”.")
                % {"state": unit.contract.get_status_display()}
            )
        process = Process.objects.get(
            contract=unit.contract, flow_class=ContractFlow, finished__isnull=True
        )
        close_committee_vote(unit, process=process, votes_in=ContractFlow.votes_in, actor=actor)
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
        follow_up_fire(unit, action, name, actor=actor, comment=comment)
    return action
