"""The outbox: notifications written with the change that causes them, delivered after commit."""

import asyncio

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from django.db import transaction

from notifications.delivery import group_name
from notifications.models import EmailMode, Notification, NotificationEvent, NotificationPreference
from tests.factories import ActionFactory, SteeringCommitteeFactory, UserFactory
from tests.flows import approve_reviews, decide, launch, open_tasks, vote
from workflows.models import HistoryEntry, HistoryEvent, TaskKind

pytestmark = pytest.mark.django_db


@pytest.fixture
def action(contract):
    return ActionFactory(contract=contract)


@pytest.fixture
def launched(contract, coordinator, action):
    SteeringCommitteeFactory(contract=contract)
    launch(contract, coordinator)
    return contract


def notifications_of(user, event=None):
    rows = Notification.objects.filter(recipient=user)
    return list(rows.filter(event=event) if event else rows)


def test_each_lead_is_told_of_the_review_task_assigned_to_them(launched, action):
    for lead in action.working_group.leads.all():
        (notification,) = notifications_of(lead, NotificationEvent.TASK_ASSIGNED)
        assert notification.contract == launched
        assert notification.task.owner == lead
        assert notification.title.startswith("Nouvelle tâche\u00a0: revue de la fiche action")
        assert notification.url == f"/taches/{notification.task.pk}/"


def test_the_contracts_history_says_who_was_notified_of_what(launched, action):
    leads = sorted(action.working_group.leads.values_list("username", flat=True))
    told = HistoryEntry.objects.filter(
        contract=launched, event=HistoryEvent.NOTIFIED, name=NotificationEvent.TASK_ASSIGNED
    )
    assert sorted(recipient for entry in told for recipient in entry.data["recipients"]) == leads
    assert all(entry.data["title"].startswith("Nouvelle tâche") for entry in told)


def test_a_rolled_back_change_notifies_nobody(contract, coordinator, action):
    SteeringCommitteeFactory(contract=contract)

    class Abort(Exception):
        pass

    def launch_then_fail():
        with transaction.atomic():
            launch(contract, coordinator)
            assert Notification.objects.exists()
            raise Abort

    with pytest.raises(Abort):
        launch_then_fail()

    assert not Notification.objects.exists()


def test_a_committed_change_is_pushed_to_the_recipients_group_after_commit(
    contract, coordinator, action, django_capture_on_commit_callbacks
):
    SteeringCommitteeFactory(contract=contract)
    lead = action.working_group.leads.first()
    layer = get_channel_layer()

    def launch_review():
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            launch(contract, coordinator)
            assert not Notification.objects.filter(pushed_at__isnull=False).exists()
        assert callbacks

    async def listen_while_launching():
        # One event loop throughout: the Redis layer keeps its subscriptions per loop.
        channel = await layer.new_channel()
        await layer.group_add(group_name(lead.pk), channel)
        await sync_to_async(launch_review)()
        return await asyncio.wait_for(layer.receive(channel), timeout=3)

    message = async_to_sync(listen_while_launching)()
    (notification,) = notifications_of(lead, NotificationEvent.TASK_ASSIGNED)
    assert message["notification"] == {
        "type": "notification",
        "id": notification.pk,
        "event": "task_assigned",
        "contract": contract.pk,
        "task": notification.task_id,
        "title": notification.title,
        "url": notification.url,
        "created_at": notification.created_at.isoformat(),
    }
    assert notification.pushed_at is not None


def test_a_decision_reaches_the_coordinators_and_the_pilot_but_not_its_author(
    launched, coordinator, action
):
    task = open_tasks(launched, TaskKind.REVIEW)[0]
    decide(task, "approve")

    (for_coordinator,) = notifications_of(coordinator, NotificationEvent.DECISION_MADE)
    assert "a approuvé" in for_coordinator.title
    # The author by their name ("Personne person3 a approuvé : ...").
    assert for_coordinator.title.startswith(f"{task.owner.display_name} a approuvé")
    assert notifications_of(action.pilot, NotificationEvent.DECISION_MADE)
    assert not notifications_of(task.owner, NotificationEvent.DECISION_MADE)


def test_a_request_for_changes_reaches_the_leads_who_had_approved(launched, action):
    first, second = open_tasks(launched, TaskKind.REVIEW)
    decide(first, "approve")
    decide(second, "request_changes", comment="Le budget manque.")

    (declined,) = notifications_of(first.owner, NotificationEvent.DECLINED)
    assert "après votre approbation" in declined.title
    assert declined.body == "Le budget manque."
    assert not notifications_of(second.owner, NotificationEvent.DECLINED)


def test_status_changes_and_the_vote_reach_the_coordinators_and_the_committee(
    launched, coordinator
):
    committee = launched.steering_committee
    approve_reviews(launched)
    vote(launched)

    titles = [n.title for n in notifications_of(coordinator, NotificationEvent.CONTRACT_STATUS)]
    change = "Revue des groupes de travail → Comité de pilotage"
    assert f"{launched.reference}\u00a0: {change}" in titles
    for member in committee.members.all():
        (decided,) = notifications_of(member, NotificationEvent.VOTE_DECIDED)
        assert decided.title == f"Vote du comité de pilotage sur {launched.reference}\u00a0: Validé"


def test_the_e_mail_mode_follows_the_preference_and_needs_an_address(contract, coordinator):
    SteeringCommitteeFactory(contract=contract)
    chosen = UserFactory(email="choix@example.org")
    without_email = UserFactory(email="")
    action = ActionFactory(contract=contract, pilot=chosen)
    action.working_group.leads.set([chosen, without_email])
    NotificationPreference.objects.create(
        user=chosen, event=NotificationEvent.TASK_ASSIGNED, email_mode=EmailMode.DIGEST
    )
    launch(contract, coordinator)

    assert notifications_of(chosen, "task_assigned")[0].email_mode == EmailMode.DIGEST
    assert notifications_of(without_email, "task_assigned")[0].email_mode == EmailMode.APP
