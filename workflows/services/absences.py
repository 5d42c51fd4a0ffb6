"""Absences: a person's tasks handed to a delegate for a while, and given back."""

from __future__ import annotations

import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from ..assignments import absence_of
from ..errors import ApplicationError, NotAllowed
from ..history import UnitOfWork
from ..models import (
    Delegation,
    HistoryEvent,
    Task,
    TaskKind,
    User,
)
from .tasks import OPEN_STATUSES

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
    to_move = to_delegate | to_return
    # Every contract concerned is locked first, in one order, then its tasks are read again
    # under the lock (one decided meanwhile is no longer handed over) and moved one by one.
    contract_ids = sorted({pk for pk in to_move.values_list("contract_id", flat=True) if pk})
    units = {pk: UnitOfWork.lock(pk) for pk in contract_ids}
    tasks = list(
        to_move.filter(contract_id__in=contract_ids)
        .select_related("action", "owner", "signatory")
        .order_by("contract_id", "pk")
    )
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
