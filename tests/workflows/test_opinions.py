"""Asking an opinion: the holder of a task asks someone who sees the contract; that person
gets an `opinion` task, answered with a comment; the task stays with its holder, who reads
the answer on the task page and in the API; the history keeps question and answer
(life.md, "Changing one's mind, asking an opinion, following"; api.md).

Personas: the two leads of the action's working group (the first one asks), the action's
pilot (asked), the coordinator, and a stranger to the contract.
"""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from notifications.models import Notification, NotificationEvent
from tests.factories import ActionFactory, SignatoryFactory, SteeringCommitteeFactory, UserFactory
from tests.flows import decide, launch
from tests.workflows.test_pages import assert_well_formed, text
from workflows import services
from workflows.models import HistoryEntry, HistoryEvent, Task, TaskKind, TaskStatus
from workflows.selectors import contracts_visible_to, people_seeing
from workflows.services.opinions import (
    OPINION_OF_ONESELF,
    OPINION_PERSON_CANNOT_SEE,
    OPINION_QUESTION_MISSING,
)
from workflows.services.tasks import OPINION_ANSWER_MISSING

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
QUESTION = "Le budget de la maison de santé est-il confirmé ?"


@pytest.fixture
def pilot():
    return UserFactory(username="pilote", first_name="Léa", last_name="Martin")


@pytest.fixture
def action(contract, pilot):
    return ActionFactory(contract=contract, code="T1-A1", title="Maison de santé", pilot=pilot)


@pytest.fixture
def lead(contract, coordinator, action):
    SteeringCommitteeFactory(contract=contract)
    SignatoryFactory(contract=contract)
    launch(contract, coordinator)
    return action.working_group.leads.order_by("pk").first()


@pytest.fixture
def review(lead):
    return Task.objects.get(owner=lead, kind=TaskKind.REVIEW, status=TaskStatus.ASSIGNED)


def client_of(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def ask(user, task, person="pilote", question=QUESTION):
    return client_of(user).post(
        f"/api/v1/tasks/{task.pk}/opinions/",
        {"person": person, "question": question},
        format="json",
        **EN,
    )


def test_the_pilot_asked_answers_and_the_lead_reads_it_on_the_task(client, review, lead, pilot):
    response = ask(lead, review)

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["kind"] == "opinion"
    assert body["assignee"] == "pilote"
    assert body["question"] == QUESTION
    assert body["asked_by_task"] == review.pk
    opinion = Task.objects.get(pk=body["id"])
    assert opinion.status == TaskStatus.ASSIGNED
    assert opinion.due is not None
    assert opinion.action_id == review.action_id
    # The pilot finds it in their inbox; the review stays with the lead, open.
    inbox = client_of(pilot).get("/api/v1/inbox/", **EN).json()
    assert [task["id"] for task in inbox] == [opinion.pk]
    review.refresh_from_db()
    assert (review.owner, review.status) == (lead, TaskStatus.ASSIGNED)
    shown = client_of(lead).get(f"/api/v1/tasks/{review.pk}/", **EN).json()
    assert shown["opinions"] == [
        {
            "task": opinion.pk,
            "person": "pilote",
            "person_name": pilot.display_name,
            "question": QUESTION,
            "answer": None,
            "answered_at": None,
        }
    ]

    answered = client_of(pilot).post(
        f"/api/v1/tasks/{opinion.pk}/decision/",
        {"decision": "answer", "comment": "Oui, voté au budget primitif."},
        format="json",
        **EN,
    )

    assert answered.status_code == 200, answered.content
    (given,) = client_of(lead).get(f"/api/v1/tasks/{review.pk}/", **EN).json()["opinions"]
    assert given["answer"] == "Oui, voté au budget primitif."
    assert given["answered_at"] is not None
    review.refresh_from_db()
    assert review.status == TaskStatus.ASSIGNED  # still the lead's to decide
    client.force_login(lead)
    page = client.get(reverse("workflows:task_detail", args=[review.pk]))
    assert QUESTION in text(page)
    assert "Oui, voté au budget primitif." in text(page)


def test_the_history_keeps_the_question_and_the_answer(review, lead, pilot):
    opinion = services.opinion_ask(task=review, actor=lead, person=pilot, question=QUESTION)
    decide(opinion, "answer", comment="Oui.")

    asked = HistoryEntry.objects.get(contract=review.contract, event=HistoryEvent.OPINION_ASKED)
    assert (asked.actor, asked.comment) == (lead, QUESTION)
    assert asked.data == {"task": review.pk, "opinion_task": opinion.pk, "person": "pilote"}
    answer = HistoryEntry.objects.get(
        contract=review.contract, event=HistoryEvent.TASK_COMPLETED, data__task=opinion.pk
    )
    assert (answer.actor, answer.name, answer.comment) == (pilot, "opinion", "Oui.")
    assert answer.data["decision"] == "answer"


def test_the_person_asked_is_notified_and_the_asker_told_of_the_answer(review, lead, pilot):
    opinion = services.opinion_ask(task=review, actor=lead, person=pilot, question=QUESTION)

    told = Notification.objects.get(recipient=pilot, task=opinion)
    assert told.event == NotificationEvent.TASK_ASSIGNED
    assert "avis demandé sur la fiche action T1-A1" in told.title

    decide(opinion, "answer", comment="Oui.")

    answered = Notification.objects.get(recipient=lead, event=NotificationEvent.DECISION_MADE)
    assert answered.url == reverse("workflows:task_detail", args=[review.pk])
    assert not Notification.objects.filter(
        event=NotificationEvent.DECISION_MADE, task=opinion
    ).exclude(recipient=lead)


def test_someone_else_than_the_holder_may_not_ask(review, coordinator):
    response = ask(coordinator, review)

    assert response.status_code == 403
    assert not Task.objects.filter(kind=TaskKind.OPINION).exists()


def test_no_opinion_is_asked_on_a_closed_task(review, lead):
    decide(review, "approve")

    response = ask(lead, review)

    assert response.status_code == 409
    assert not Task.objects.filter(kind=TaskKind.OPINION).exists()


def test_someone_who_does_not_see_the_contract_is_not_asked(review, lead, stranger):
    response = ask(lead, review, person=stranger.username)

    assert response.status_code == 400
    assert response.json()["detail"] == OPINION_PERSON_CANNOT_SEE % {
        "person": stranger.display_name,
        "reference": review.contract.reference,
    }
    assert not HistoryEntry.objects.filter(event=HistoryEvent.OPINION_ASKED).exists()


@pytest.mark.parametrize(
    ("person", "question", "problem"),
    [
        ("pilote", "   ", OPINION_QUESTION_MISSING),
        ("self", QUESTION, OPINION_OF_ONESELF),
    ],
)
def test_a_question_and_someone_else_are_required(review, lead, person, question, problem):
    person = lead.username if person == "self" else person
    response = ask(lead, review, person=person, question=question)

    assert response.status_code == 400
    assert problem in str(response.json())
    assert not Task.objects.filter(kind=TaskKind.OPINION).exists()


def test_an_unknown_person_is_named(review, lead):
    response = ask(lead, review, person="personne")

    assert response.status_code == 400
    assert "personne" in str(response.json())


def test_an_empty_answer_is_refused(review, lead, pilot):
    opinion = services.opinion_ask(task=review, actor=lead, person=pilot, question=QUESTION)

    response = client_of(pilot).post(
        f"/api/v1/tasks/{opinion.pk}/decision/",
        {"decision": "answer", "comment": " "},
        format="json",
        **EN,
    )

    assert response.status_code == 400
    assert response.json()["detail"] == OPINION_ANSWER_MISSING
    opinion.refresh_from_db()
    assert opinion.status == TaskStatus.ASSIGNED


def test_everyone_the_page_offers_sees_the_contract(review, lead):
    offered = list(people_seeing(review.contract))

    assert lead in offered
    for person in offered:
        assert contracts_visible_to(person).filter(pk=review.contract_id).exists()


def test_the_task_page_asks_and_the_opinion_page_answers_in_french(client, review, lead, pilot):
    client.force_login(lead)
    page = client.get(reverse("workflows:task_detail", args=[review.pk]))
    assert_well_formed(page)
    assert "Demander un avis" in text(page)

    asked = client.post(
        reverse("workflows:task_opinion_ask", args=[review.pk]),
        {"opinion-person": pilot.pk, "opinion-question": QUESTION},
    )

    assert asked.status_code == 302
    page = client.get(reverse("workflows:task_detail", args=[review.pk]))
    assert "en attente" in text(page)
    opinion = Task.objects.get(kind=TaskKind.OPINION)
    client.force_login(pilot)
    page = client.get(reverse("workflows:task_detail", args=[opinion.pk]))
    assert_well_formed(page)
    assert QUESTION in text(page)
    refused = client.post(
        reverse("workflows:task_detail", args=[opinion.pk]), {"decision": "answer", "comment": ""}
    )
    assert refused.status_code == 400
    answered = client.post(
        reverse("workflows:task_detail", args=[opinion.pk]),
        {"decision": "answer", "comment": "Oui."},
    )
    assert answered.status_code == 302
    opinion.refresh_from_db()
    assert (opinion.status, opinion.comment) == (TaskStatus.DONE, "Oui.")


def test_the_page_says_why_a_question_was_not_sent(client, review, lead):
    client.force_login(lead)

    response = client.post(
        reverse("workflows:task_opinion_ask", args=[review.pk]),
        {"opinion-person": "", "opinion-question": ""},
    )

    assert response.status_code == 400
    assert "Votre question n\u2019a pas été envoyée" in text(response)
    assert "Choisissez à qui demander." in text(response)
    assert not Task.objects.filter(kind=TaskKind.OPINION).exists()
