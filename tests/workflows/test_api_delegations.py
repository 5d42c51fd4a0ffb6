"""Absences through the API: declaring, listing and cancelling them, and the delegate at work."""

import datetime

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from tests.factories import ActionFactory, UserFactory
from tests.flows import ensure_committee_and_signatory, launch
from workflows.models import Delegation, HistoryEntry, HistoryEvent, Task, TaskStatus

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
DELEGATIONS = "/api/v1/delegations/"


def client_of(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def declare(user, body):
    return client_of(user).post(DELEGATIONS, body, format="json", **EN)


def cancel(user, delegation_id):
    return client_of(user).post(f"{DELEGATIONS}{delegation_id}/cancel/", **EN)


def days(n: int) -> str:
    return (timezone.localdate() + datetime.timedelta(days=n)).isoformat()


def error(detail: str, errors: list[str] | None = None) -> dict:
    return {"detail": detail, "errors": errors or []}


@pytest.fixture
def lead(contract, coordinator):
    """A working-group lead with one review open."""
    action = ActionFactory(contract=contract)
    ensure_committee_and_signatory(contract)
    launch(contract, coordinator)
    return action.working_group.leads.order_by("pk").first()


@pytest.fixture
def delegate():
    return UserFactory(username="suppleante", first_name="Sophie", last_name="Suppléante")


def review_of(lead) -> Task:
    return Task.objects.get(assignee=lead, status=TaskStatus.ASSIGNED)


def test_a_lead_declares_an_absence_and_the_delegate_takes_their_review(lead, delegate):
    response = declare(lead, {"delegate": "suppleante", "start": days(0), "end": days(7)})

    assert response.status_code == 201
    body = response.json()
    delegation = Delegation.objects.get()
    assert body == {
        "id": delegation.pk,
        "user": lead.username,
        "delegate": "suppleante",
        "delegate_name": "Sophie Suppléante",
        "start": days(0),
        "end": days(7),
        "state": "current",
        "tasks_with_delegate": 1,
        "created_at": body["created_at"],
        "cancelled_at": None,
    }
    task = review_of(lead)
    assert (task.owner, task.on_behalf_of) == (delegate, lead)
    (item,) = client_of(delegate).get("/api/v1/inbox/").json()
    assert (item["assignee"], item["on_behalf_of"]) == ("suppleante", lead.username)


def test_the_delegate_decides_and_the_history_says_for_whom(lead, delegate):
    declare(lead, {"delegate": "suppleante", "start": days(0), "end": days(0)})
    task = review_of(lead)

    response = client_of(delegate).post(
        f"/api/v1/tasks/{task.pk}/decision/", {"decision": "approve"}, format="json", **EN
    )

    assert response.status_code == 200
    assert response.json()["task"]["acting_for"] == f"Sophie Suppléante for {lead.display_name}"
    entry = HistoryEntry.objects.get(event=HistoryEvent.TASK_COMPLETED)
    assert (entry.actor_username, entry.on_behalf_of_username) == ("suppleante", lead.username)
    # The absent lead no longer holds the task: deciding it is someone else's to do.
    refused = client_of(lead).post(
        f"/api/v1/tasks/{task.pk}/decision/", {"decision": "approve"}, format="json", **EN
    )
    assert refused.status_code == 403
    assert refused.json()["detail"].startswith("This task is not yours")


def test_a_future_absence_is_upcoming_and_leaves_the_tasks_for_now(lead, delegate):
    body = declare(lead, {"delegate": "suppleante", "start": days(3), "end": days(5)}).json()

    assert body["state"] == "upcoming"
    assert body["tasks_with_delegate"] == 0
    assert review_of(lead).owner == lead


def test_the_caller_lists_their_own_absences_only(lead, delegate):
    declare(lead, {"delegate": "suppleante", "start": days(10), "end": days(12)})
    declare(lead, {"delegate": "suppleante", "start": days(0), "end": days(2)})
    someone_else = UserFactory()
    declare(someone_else, {"delegate": "suppleante", "start": days(0), "end": days(2)})

    response = client_of(lead).get(DELEGATIONS)

    assert response.status_code == 200
    assert [(d["start"], d["state"]) for d in response.json()] == [
        (days(10), "upcoming"),
        (days(0), "current"),
    ]
    assert client_of(delegate).get(DELEGATIONS).json() == []


def test_cancelling_an_absence_gives_the_tasks_back(lead, delegate):
    delegation_id = declare(
        lead, {"delegate": "suppleante", "start": days(0), "end": days(7)}
    ).json()["id"]

    response = cancel(lead, delegation_id)

    assert response.status_code == 200
    assert response.json()["state"] == "cancelled"
    assert response.json()["cancelled_at"] is not None
    assert response.json()["tasks_with_delegate"] == 0
    assert review_of(lead).owner == lead
    assert client_of(delegate).get("/api/v1/inbox/").json() == []
    # Cancelling again changes nothing.
    assert cancel(lead, delegation_id).json()["state"] == "cancelled"


def test_someone_elses_absence_cannot_be_cancelled_nor_seen(lead, delegate):
    delegation_id = declare(
        lead, {"delegate": "suppleante", "start": days(0), "end": days(7)}
    ).json()["id"]

    for someone in (delegate, UserFactory()):
        response = cancel(someone, delegation_id)
        assert response.status_code == 404
        assert response.json() == error("Not found.")
    assert Delegation.objects.get().cancelled_at is None
    assert cancel(lead, 999999).status_code == 404


@pytest.mark.parametrize(
    ("body", "message", "errors"),
    [
        (
            {"delegate": "personne", "start": days(0), "end": days(1)},
            "delegate: Nobody has the username \u201cpersonne\u201d.",
            ["delegate: Nobody has the username \u201cpersonne\u201d."],
        ),
        (
            {"delegate": "suppleante", "start": days(3), "end": days(1)},
            "The absence ends before it starts.",
            [],
        ),
        (
            {"delegate": "suppleante", "start": days(-9), "end": days(-2)},
            "The absence is already over.",
            [],
        ),
        (
            {"delegate": "suppleante", "start": "demain", "end": days(1)},
            "start: Date has wrong format. Use one of these formats instead: YYYY-MM-DD.",
            ["start: Date has wrong format. Use one of these formats instead: YYYY-MM-DD."],
        ),
        (
            {"delegate": "suppleante"},
            "start: This field is required.",
            ["start: This field is required.", "end: This field is required."],
        ),
    ],
)
def test_impossible_absences_are_refused(lead, delegate, body, message, errors):
    response = declare(lead, body)

    assert response.status_code == 400
    assert response.json() == error(message, errors)
    assert not Delegation.objects.exists()


def test_one_cannot_delegate_to_oneself_to_a_disabled_account_or_twice_at_once(lead, delegate):
    assert declare(lead, {"delegate": lead.username, "start": days(0), "end": days(1)}).json() == (
        error("You cannot delegate your tasks to yourself.")
    )
    UserFactory(username="partie", is_active=False)
    assert declare(lead, {"delegate": "partie", "start": days(0), "end": days(1)}).json() == (
        error("This person's account is disabled.")
    )
    first = declare(lead, {"delegate": "suppleante", "start": days(0), "end": days(5)})
    assert first.status_code == 201
    overlapping = declare(lead, {"delegate": "suppleante", "start": days(4), "end": days(9)})
    assert overlapping.status_code == 400
    assert overlapping.json()["detail"].startswith("You already declared an absence from ")


def test_absences_need_authentication(api_client):
    assert api_client.get(DELEGATIONS).status_code == 401
    assert api_client.post(DELEGATIONS, {}, format="json").status_code == 401
