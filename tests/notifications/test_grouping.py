"""Calm notifications: the approvals of a morning of reviews told as one line, in the centre,
the badge and the digest; titles saying who did what for whom; the header's counters right."""

import datetime

import pytest
from django.core import mail
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from notifications.models import EmailMode, Notification, NotificationEvent, NotificationPreference
from tests.factories import ActionFactory, SteeringCommitteeFactory, UserFactory
from tests.flows import decide, launch, open_tasks
from workflows import services
from workflows.models import TaskKind
from workflows.services import Decision

pytestmark = pytest.mark.django_db


@pytest.fixture
def lead():
    return UserFactory(username="lea", first_name="Léa", last_name="Martin")


@pytest.fixture
def reviewed(contract, coordinator, lead, django_capture_on_commit_callbacks):
    """Five sheets under review, each led by Léa, who approves four and asks changes on one."""
    coordinator.email = "coordination@example.org"
    coordinator.first_name, coordinator.last_name = "Claire", "Durand"
    coordinator.save()
    SteeringCommitteeFactory(contract=contract)
    for _ in range(5):
        ActionFactory(contract=contract).working_group.leads.set([lead])
    with django_capture_on_commit_callbacks(execute=True):
        launch(contract, coordinator)
        reviews = open_tasks(contract, TaskKind.REVIEW)
        for task in reviews[:4]:
            decide(task)
        decide(reviews[4], "request_changes", comment="Le budget manque.")
    return contract


def test_the_coordinator_sees_one_line_for_four_approvals(client, coordinator, reviewed):
    client.force_login(coordinator)

    page = client.get(reverse("notifications:centre")).content.decode()

    reference = reviewed.reference
    assert f"4 fiches approuvées sur {reference}" in page
    assert page.count("Léa Martin a approuvé") == 4  # the detail, under the line
    # The request for changes is a line of its own, not folded with the approvals.
    assert f"1 demande de modification sur {reference}" not in page
    assert "Léa Martin a demandé des modifications sur" in page


def test_the_badge_counts_lines_and_marking_a_line_read_marks_its_members(
    client, coordinator, reviewed
):
    client.force_login(coordinator)
    unread = Notification.objects.filter(recipient=coordinator, read_at=None)
    # Five decisions were notified to her (she launched the review herself): two lines.
    assert unread.count() == 5

    page = client.get(reverse("workflows:inbox")).content.decode()
    assert "data-unread-badge>2</span>" in page
    counters = client.get(reverse("notifications:counters")).json()
    assert counters["unread"] == 2
    assert counters["unread_label"] == "(2 non lues)"

    approvals = unread.filter(group_key="decided:review:approve")
    response = client.post(
        reverse("notifications:mark_read"), {"id": list(approvals.values_list("pk", flat=True))}
    )
    assert response.status_code == 302
    assert unread.count() == 1
    assert client.get(reverse("notifications:counters")).json()["unread"] == 1


def test_the_daily_digest_tells_the_approvals_as_one_line(coordinator, reviewed):
    NotificationPreference.objects.create(
        user=coordinator, event=NotificationEvent.DECISION_MADE, email_mode=EmailMode.DIGEST
    )
    Notification.objects.filter(recipient=coordinator, event="decision_made").update(
        email_mode=EmailMode.DIGEST
    )
    mail.outbox.clear()

    call_command("deliver_notifications", "--digests", stdout=open("/dev/null", "w"))  # noqa: SIM115

    (digest,) = [m for m in mail.outbox if m.to == ["coordination@example.org"]]
    assert digest.body.startswith("Bonjour Claire Durand,\n")
    assert f"- 4 fiches approuvées sur {reviewed.reference}" in digest.body
    assert digest.body.count("· Léa Martin a approuvé") == 4
    assert digest.subject == "[Accord] 2 nouvelles aujourd\u2019hui"


def test_the_counters_follow_a_task_arriving(client, lead, contract, coordinator):
    SteeringCommitteeFactory(contract=contract)
    ActionFactory(contract=contract).working_group.leads.set([lead])
    client.force_login(lead)
    assert client.get(reverse("notifications:counters")).json()["tasks"] == 0

    launch(contract, coordinator)

    counters = client.get(reverse("notifications:counters")).json()
    assert counters["tasks"] == 1
    assert counters["tasks_label"] == "(1 tâche ouverte)"
    assert client.get(reverse("notifications:counters"), HTTP_ACCEPT="application/json")[
        "Cache-Control"
    ] == ("no-store")


def test_the_counters_need_a_log_in(client):
    response = client.get(reverse("notifications:counters"))
    assert response.status_code == 302


def test_a_delegates_decision_says_for_whom(contract, coordinator, lead):
    """A delegate approving during Léa's absence: the coordinator reads « pour le compte de
    Léa Martin »."""
    SteeringCommitteeFactory(contract=contract)
    ActionFactory(contract=contract).working_group.leads.set([lead])
    delegate = UserFactory(username="paul", first_name="Paul", last_name="Roux")
    services.delegation_declare(
        user=lead,
        delegate=delegate,
        start=timezone.localdate(),
        end=timezone.localdate() + datetime.timedelta(days=7),
    )
    launch(contract, coordinator)
    (task,) = open_tasks(contract, TaskKind.REVIEW)
    assert (task.owner, task.on_behalf_of) == (delegate, lead)

    services.task_decide(task=task, actor=delegate, decision=Decision("approve"))

    title = Notification.objects.get(recipient=coordinator, event="decision_made").title
    assert title.startswith(
        "Paul Roux a approuvé pour le compte de Léa Martin\u00a0: revue de la fiche"
    )
