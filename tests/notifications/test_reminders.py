"""Reminders 3 days before the due date and on the overdue day, the coordinator's alert for an
overdue task: each once per task and step, even with two schedulers at once."""

import datetime
import io
import threading

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from notifications.models import Notification, NotificationEvent
from tests.factories import ActionFactory, SteeringCommitteeFactory
from tests.flows import launch, open_tasks
from workflows import services
from workflows.models import HistoryEntry, HistoryEvent, Reminder, Task, TaskKind, TaskStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def review(contract, coordinator):
    """One open review task (the action's working group has one lead here)."""
    SteeringCommitteeFactory(contract=contract)
    action = ActionFactory(contract=contract)
    action.working_group.leads.set(action.working_group.leads.all()[:1])
    launch(contract, coordinator)
    (task,) = open_tasks(contract, TaskKind.REVIEW)
    return task


def due_in(task: Task, delta: datetime.timedelta) -> Task:
    Task.objects.filter(pk=task.pk).update(due=timezone.now() + delta)
    task.refresh_from_db()
    return task


def sent(event, **filters):
    return list(Notification.objects.filter(event=event, **filters))


def test_a_task_due_in_two_days_reminds_its_holder_once(review):
    due_in(review, datetime.timedelta(days=2))

    assert services.reminders_send()["due_soon"] == 1
    assert services.reminders_send()["due_soon"] == 0

    (reminder,) = sent(NotificationEvent.TASK_DUE_SOON)
    assert reminder.recipient == review.owner
    assert reminder.task == review
    assert reminder.title.startswith("Rappel\u00a0: revue de la fiche action")
    assert not sent(NotificationEvent.TASK_OVERDUE)


def test_a_task_due_later_or_on_hold_is_left_alone(review):
    due_in(review, datetime.timedelta(days=10))
    assert services.reminders_send() == {"due_soon": 0, "overdue": 0, "coordinator_alert": 0}

    due_in(review, -datetime.timedelta(days=1))
    Task.objects.filter(pk=review.pk).update(status=TaskStatus.HELD)
    assert services.reminders_send() == {"due_soon": 0, "overdue": 0, "coordinator_alert": 0}


def test_an_overdue_task_notifies_its_holder_and_alerts_the_coordinator_once(review, coordinator):
    due_in(review, -datetime.timedelta(hours=1))

    out = io.StringIO()
    call_command("send_reminders", stdout=out)
    call_command("send_reminders", stdout=io.StringIO())

    assert "1 overdue notice(s), 1 coordinator alert(s) sent" in out.getvalue()
    (notice,) = sent(NotificationEvent.TASK_OVERDUE)
    assert notice.recipient == review.owner
    (alert,) = sent(NotificationEvent.OVERDUE_ALERT)
    assert alert.recipient == coordinator
    assert review.owner.display_name in alert.title
    history = HistoryEntry.objects.filter(contract=review.contract, event=HistoryEvent.REMINDER)
    assert sorted(history.values_list("name", flat=True)) == ["coordinator_alert", "overdue"]
    out = io.StringIO()
    call_command("verify_history", stdout=out)


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="two schedulers in two threads: PostgreSQL"
)
def test_two_schedulers_at_once_send_each_reminder_once(review):
    due_in(review, -datetime.timedelta(hours=1))
    barrier = threading.Barrier(2)
    results = []

    def scheduler():
        barrier.wait()
        results.append(services.reminders_send())
        connection.close()

    threads = [threading.Thread(target=scheduler) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(result["overdue"] for result in results) == 1
    assert sum(result["coordinator_alert"] for result in results) == 1
    assert len(sent(NotificationEvent.TASK_OVERDUE)) == 1
    assert len(sent(NotificationEvent.OVERDUE_ALERT)) == 1
    assert Reminder.objects.count() == 2
