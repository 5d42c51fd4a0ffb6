"""What a person's task is given, handed over and cancelled with: the human task nodes of
the flows (``workflows.nodes``) open and cancel tasks here, and absences hand them over."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from .history import UnitOfWork, unit_of
from .models import Delegation, HistoryEvent, Task, TaskStatus


@dataclass(frozen=True)
class Assignment:
    """Whom the rules give a task to, and about what."""

    assignee_id: int
    on_behalf_of_id: int | None = None
    action_id: int | None = None
    signatory_id: int | None = None
    committee_vote_id: int | None = None
    amendment_id: int | None = None
    amendment_change_id: int | None = None
    amendment_party_id: int | None = None
    asked_by_task_id: int | None = None  # an opinion: the task whose holder asked for it


def absence_of(unit: UnitOfWork, user_id: int, day: datetime.date) -> Delegation | None:
    """The user's absence covering ``day`` (asked once per person in a decision or a launch)."""
    return unit.once(
        ("absence", user_id, day),
        lambda: (
            Delegation.objects.filter(
                user_id=user_id, start__lte=day, end__gte=day, cancelled_at__isnull=True
            )
            .order_by("-created_at")
            .first()
        ),
    )


def task_open(task: Task, *, kind: str, assignment: Assignment) -> Task:
    """Give a new task to its assignee, or to the assignee's delegate during an absence."""
    process = task.process
    unit = unit_of(process)
    now = timezone.now()
    delegation = absence_of(unit, assignment.assignee_id, timezone.localdate())
    task.kind = kind
    task.contract = unit.contract
    action_id = assignment.action_id or process.action_id
    if action_id == process.action_id:
        task.action = process.action  # the flow's own instance: no query
    else:
        task.action_id = action_id
    task.assignee_id = assignment.assignee_id
    task.signatory_id = assignment.signatory_id
    task.committee_vote_id = assignment.committee_vote_id
    task.amendment_id = assignment.amendment_id
    task.amendment_change_id = assignment.amendment_change_id
    task.amendment_party_id = assignment.amendment_party_id
    task.asked_by_task_id = assignment.asked_by_task_id
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
    names = unit.usernames(task.owner_id, task.on_behalf_of_id)
    unit.record(
        event=HistoryEvent.TASK_CREATED,
        name=kind,
        action=task.action,
        data={
            "task": task.pk,
            "owner": names[task.owner_id],
            "on_behalf_of": names.get(task.on_behalf_of_id, ""),
            "due": task.due,
            **({"delegation": delegation.pk} if delegation else {}),
        },
        task=task,
    )
    return task


def task_record_cancelled(task: Task) -> None:
    owner = task.owner
    assert owner is not None  # task_open gives every task its holder
    unit_of(task.process).record(
        event=HistoryEvent.TASK_CANCELLED,
        name=task.kind,
        action=task.action,
        data={"task": task.pk, "owner": owner.username},
    )
