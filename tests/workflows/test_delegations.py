"""Absences: open and new tasks in the window go to the delegate, and come back after."""

import datetime

import pytest
from django.core.management import call_command
from django.utils import timezone, translation

from tests.factories import ActionFactory, UserFactory
from tests.flows import decide, ensure_committee_and_signatory, launch, open_tasks
from workflows import services
from workflows.errors import ApplicationError
from workflows.models import Delegation, HistoryEntry, TaskKind
from workflows.tasks import apply_delegations

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _messages_in_english():
    """The refusals below are matched in English, whatever the default language (French)."""
    with translation.override("en"):
        yield


@pytest.fixture
def lead_and_task(contract, coordinator):
    action = ActionFactory(contract=contract)
    ensure_committee_and_signatory(contract)
    launch(contract, coordinator)
    lead = action.working_group.leads.order_by("pk").first()
    (task,) = [task for task in open_tasks(contract, TaskKind.REVIEW) if task.owner == lead]
    return lead, task


def test_an_open_task_goes_to_the_delegate_during_the_absence(lead_and_task):
    lead, task = lead_and_task
    delegate = UserFactory(username="suppleante")
    today = timezone.localdate()

    services.delegation_declare(user=lead, delegate=delegate, start=today, end=today)

    task.refresh_from_db()
    assert (task.owner, task.assignee, task.on_behalf_of) == (delegate, lead, lead)
    entry = HistoryEntry.objects.filter(event="task_delegated").get()
    assert (entry.data["from"], entry.data["to"]) == (lead.username, "suppleante")

    decide(task, "approve")
    completed = HistoryEntry.objects.filter(event="task_completed").get()
    assert (completed.actor, completed.on_behalf_of) == (delegate, lead)


def test_a_future_absence_hands_over_when_it_starts_and_gives_back_when_it_ends(lead_and_task):
    lead, task = lead_and_task
    delegate = UserFactory()
    today = timezone.localdate()
    start, end = today + datetime.timedelta(days=2), today + datetime.timedelta(days=4)
    services.delegation_declare(user=lead, delegate=delegate, start=start, end=end)
    task.refresh_from_db()
    assert task.owner == lead  # not yet

    assert services.delegations_apply(today=start) == 1
    task.refresh_from_db()
    assert task.owner == delegate
    assert services.delegations_apply(today=start) == 0  # idempotent

    services.delegations_apply(today=end + datetime.timedelta(days=1))
    task.refresh_from_db()
    assert (task.owner, task.on_behalf_of, task.delegation) == (lead, None, None)


def test_tasks_created_during_an_absence_go_straight_to_the_delegate(contract, coordinator):
    action = ActionFactory(contract=contract)
    lead = action.working_group.leads.order_by("pk").first()
    delegate = UserFactory()
    today = timezone.localdate()
    services.delegation_declare(user=lead, delegate=delegate, start=today, end=today)

    launch(contract, coordinator)

    (task,) = [t for t in open_tasks(contract, TaskKind.REVIEW) if t.assignee == lead]
    assert (task.owner, task.on_behalf_of) == (delegate, lead)


def test_cancelling_an_absence_gives_the_tasks_back(lead_and_task):
    lead, task = lead_and_task
    today = timezone.localdate()
    delegation = services.delegation_declare(
        user=lead, delegate=UserFactory(), start=today, end=today
    )
    services.delegation_cancel(delegation=delegation, user=lead)
    task.refresh_from_db()
    assert task.owner == lead


@pytest.mark.parametrize(
    ("days", "message"),
    [
        ((0, -1), "The absence ends before it starts."),
        ((-3, -2), "The absence is already over."),
    ],
)
def test_impossible_absences_are_refused(lead_and_task, days, message):
    lead, _ = lead_and_task
    today = timezone.localdate()
    with pytest.raises(ApplicationError, match=message):
        services.delegation_declare(
            user=lead,
            delegate=UserFactory(),
            start=today + datetime.timedelta(days=days[0]),
            end=today + datetime.timedelta(days=days[1]),
        )


def test_one_cannot_delegate_to_oneself_or_declare_overlapping_absences(lead_and_task):
    lead, _ = lead_and_task
    today = timezone.localdate()
    with pytest.raises(ApplicationError, match="yourself"):
        services.delegation_declare(user=lead, delegate=lead, start=today, end=today)
    services.delegation_declare(user=lead, delegate=UserFactory(), start=today, end=today)
    with pytest.raises(ApplicationError, match="already declared an absence"):
        services.delegation_declare(user=lead, delegate=UserFactory(), start=today, end=today)


def test_the_periodic_job_and_the_command_apply_absences(lead_and_task, capsys):
    lead, task = lead_and_task
    today = timezone.localdate()
    services.delegation_declare(user=lead, delegate=UserFactory(), start=today, end=today)
    Delegation.objects.update(cancelled_at=timezone.now())  # behind the service's back

    assert apply_delegations.apply().get() == 1  # the beat job, run in-process
    call_command("apply_delegations")
    assert "0 task(s) handed over." in capsys.readouterr().out
    task.refresh_from_db()
    assert task.owner == lead
