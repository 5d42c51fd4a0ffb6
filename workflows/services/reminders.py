"""Reminders: the holder of a task due soon or overdue is reminded, and the coordinators are
alerted of an overdue one, each once per task and step (the notifications' reaction to the
history entry tells them)."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from ..history import UnitOfWork
from ..models import HistoryEvent, Reminder, ReminderStep, Task, TaskStatus


def _remind(task: Task, step: str, now: datetime.datetime) -> bool:
    """Send one reminder step for one task, once: the Reminder row, the history entry and the
    notifications (the reaction to the entry) commit together; a second scheduler doing the
    same waits on the unique (task, step) index, then finds it taken and sends nothing."""
    try:
        with transaction.atomic(), UnitOfWork.lock(task.contract_id) as unit:
            # Read again under the lock: completed or handed over meanwhile, no reminder (or
            # one to its new holder).
            current = (
                Task.objects.filter(pk=task.pk, status=TaskStatus.ASSIGNED)
                .select_related("owner", "action")
                .first()
            )
            if current is None:
                return False
            assert current.owner is not None  # an open task has its holder
            Reminder.objects.create(task=current, step=step, sent_at=now)
            unit.record(
                event=HistoryEvent.REMINDER,
                name=step,
                action=current.action,
                data={"task": current.pk, "owner": current.owner.username, "due": current.due},
                task=current,
            )
    except IntegrityError:
        return False
    return True


def reminders_send(*, now: datetime.datetime | None = None) -> dict[str, int]:
    """Remind the holders of open tasks due within the next days and of overdue ones, and
    alert the coordinators of overdue ones: each at most once per task and step. Run hourly
    by Celery beat and by ``manage.py send_reminders`` (cron)."""
    now = now or timezone.now()
    soon = now + datetime.timedelta(days=settings.ACCORD_REMINDER_DAYS_BEFORE)
    open_tasks = Task.objects.filter(status=TaskStatus.ASSIGNED, due__isnull=False)
    plan = [
        (ReminderStep.DUE_SOON, open_tasks.filter(due__gt=now, due__lte=soon)),
        (ReminderStep.OVERDUE, open_tasks.filter(due__lte=now)),
        (ReminderStep.COORDINATOR_ALERT, open_tasks.filter(due__lte=now)),
    ]
    sent = {}
    for step, tasks in plan:
        pending = (
            tasks.exclude(reminders__step=step)
            .select_related("owner", "action", "process")
            .order_by("contract_id", "pk")
        )
        sent[step.value] = sum(_remind(task, step, now) for task in pending)
    return sent
