"""Observers and comments: a coordinator adds observers, who see the contract, its history
and its documents, are told what happens in it and comment on its sheets, but decide
nothing; comments on a sheet are read by everyone who sees the contract, and ``@username``
tells that person (when they see it too). Pages, API and notifications, the real stack."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from notifications.models import Notification, NotificationEvent
from tests.factories import ActionFactory, UserFactory
from tests.flows import decide, launch, open_tasks
from tests.workflows.test_pages import assert_well_formed, text
from workflows import services
from workflows.models import (
    COMMENT_MAX_LENGTH,
    ContractObserver,
    HistoryEvent,
    SheetComment,
    Task,
    TaskKind,
    User,
)

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


@pytest.fixture
def action(contract):
    return ActionFactory(contract=contract, code="A1", title="Maison de santé")


@pytest.fixture
def observer(contract, coordinator):
    person = UserFactory(username="observatrice", first_name="Inès", last_name="Durand")
    services.observer_add(contract=contract, actor=coordinator, person=person.username)
    return person


def api_for(user: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def comments_url(action) -> str:
    return f"/api/v1/contracts/{action.contract_id}/actions/{action.code}/comments/"


def told(user: User, event: str) -> list[Notification]:
    return list(Notification.objects.filter(recipient=user, event=event))


# --- Observers --------------------------------------------------------------------------


def test_a_coordinator_adds_an_observer_from_the_contract_page(client, contract, coordinator):
    person = UserFactory(username="elu.valouche", first_name="Paul", last_name="Roux")
    client.force_login(coordinator)
    page = reverse("workflows:contract_detail", args=[contract.pk])

    added = client.post(
        reverse("workflows:observer_add", args=[contract.pk]),
        {"observer-person": "elu.valouche"},
        **EN,
    )
    shown = client.get(page, **EN)

    assert added.status_code == 302
    assert_well_formed(shown)
    assert "Paul Roux" in text(shown)
    assert "Add the observer" in text(shown)
    entry = contract.history.latest("seq")
    assert (entry.event, entry.actor, entry.data) == (
        HistoryEvent.OBSERVER_ADDED,
        coordinator,
        {"observer": "elu.valouche"},
    )

    removed = client.post(
        reverse("workflows:observer_remove", args=[contract.pk]),
        {"observer-person": "elu.valouche"},
        **EN,
    )
    assert removed.status_code == 302
    assert not ContractObserver.objects.filter(contract=contract).exists()
    assert contract.history.latest("seq").event == HistoryEvent.OBSERVER_REMOVED
    client.force_login(person)
    assert client.get(page).status_code == 404


def test_only_a_coordinator_adds_observers_and_only_people_who_exist(
    contract, coordinator, observer, stranger
):
    url = f"/api/v1/contracts/{contract.pk}/observers/"

    by_observer = api_for(observer).post(url, {"person": stranger.username}, format="json")
    by_stranger = api_for(stranger).post(url, {"person": stranger.username}, format="json")
    unknown = api_for(coordinator).post(url, {"person": "personne"}, format="json", **EN)
    again = api_for(coordinator).post(url, {"person": observer.username}, format="json")
    added = api_for(coordinator).post(url, {"person": stranger.username}, format="json")

    assert by_observer.status_code == 403
    assert by_stranger.status_code == 404
    assert unknown.status_code == 400
    assert "personne" in unknown.json()["detail"]
    assert again.status_code == 409
    assert added.status_code == 201
    assert added.json()["person"] == stranger.username
    listed = api_for(observer).get(url).json()
    assert [row["person"] for row in listed] == [observer.username, stranger.username]
    refused = api_for(observer).delete(f"{url}{stranger.username}/")
    gone = api_for(coordinator).delete(f"{url}{stranger.username}/")
    assert (refused.status_code, gone.status_code) == (403, 204)
    assert api_for(coordinator).delete(f"{url}per%00sonne/").status_code == 400
    assert api_for(stranger).get(f"/api/v1/contracts/{contract.pk}/").status_code == 404


def test_an_observer_sees_the_contract_and_its_history(client, contract, observer, action):
    client.force_login(observer)

    page = client.get(reverse("workflows:contract_detail", args=[contract.pk]), **EN)
    history = client.get(reverse("workflows:contract_history", args=[contract.pk]), **EN)
    sheet = client.get(reverse("workflows:sheet_detail", args=[action.pk]), **EN)
    api_history = api_for(observer).get(f"/api/v1/contracts/{contract.pk}/history/")

    assert page.status_code == history.status_code == sheet.status_code == 200
    assert "Maison de santé" in text(sheet)
    assert "Observer added" in text(history)
    assert api_history.status_code == 200
    # The page offers an observer no control: no transition, no observer form.
    assert "Add the observer" not in text(page)
    assert "Launch" not in text(page)


def test_an_observer_decides_and_edits_nothing(client, contract, coordinator, observer, action):
    launch(contract, coordinator)
    review = open_tasks(contract, TaskKind.REVIEW)[0]
    client.force_login(observer)
    api = api_for(observer)

    assert not Task.objects.filter(owner=observer).exists()
    assert client.get(reverse("workflows:inbox"), **EN).status_code == 200
    assert client.get(reverse("workflows:task_detail", args=[review.pk])).status_code == 404
    assert api.get(f"/api/v1/tasks/{review.pk}/").status_code == 404
    assert (
        api.post(
            f"/api/v1/tasks/{review.pk}/decisions/", {"decision": "approve"}, format="json"
        ).status_code
        == 404
    )
    suspended = client.post(
        reverse("workflows:contract_transition", args=[contract.pk, "suspend"]),
        {"suspend-reason": "Non"},
    )
    assert suspended.status_code == 403
    assert (
        api.post(
            f"/api/v1/contracts/{contract.pk}/transitions/suspend/",
            {"reason": "Non"},
            format="json",
        ).status_code
        == 403
    )
    assert client.get(reverse("workflows:sheet_edit", args=[action.pk])).status_code == 403
    contract.refresh_from_db()
    assert contract.status == "review"


def test_observers_are_told_what_happens_in_the_contract(contract, coordinator, observer, action):
    launch(contract, coordinator)
    review = open_tasks(contract, TaskKind.REVIEW)[0]
    decide(review, "approve")

    assert told(observer, NotificationEvent.CONTRACT_STATUS)
    (decision,) = told(observer, NotificationEvent.DECISION_MADE)
    assert "A1" in decision.title
    assert not told(observer, NotificationEvent.TASK_ASSIGNED)


# --- Comments ---------------------------------------------------------------------------


def test_a_comment_is_read_by_everyone_who_sees_the_contract_and_by_nobody_else(
    client, contract, coordinator, observer, action, stranger
):
    first = api_for(observer).post(
        comments_url(action), {"text": "Quel calendrier ?"}, format="json"
    )
    second = api_for(action.pilot).post(
        comments_url(action), {"text": "Rentrée 2025."}, format="json"
    )

    assert first.status_code == second.status_code == 201
    assert set(first.json()) == {"id", "author", "at", "text"}
    assert first.json()["author"] == "observatrice"
    read = api_for(coordinator).get(comments_url(action)).json()
    assert [row["text"] for row in read] == ["Quel calendrier ?", "Rentrée 2025."]
    assert api_for(stranger).get(comments_url(action)).status_code == 404
    assert (
        api_for(stranger).post(comments_url(action), {"text": "Moi"}, format="json").status_code
        == 404
    )
    client.force_login(action.pilot)
    sheet = client.get(reverse("workflows:sheet_detail", args=[action.pk]), **EN)
    assert_well_formed(sheet)
    assert "Quel calendrier ?" in text(sheet)
    assert "Inès Durand" in text(sheet)
    client.force_login(stranger)
    assert client.get(reverse("workflows:sheet_detail", args=[action.pk])).status_code == 404
    entry = contract.history.latest("seq")
    assert (entry.event, entry.action, entry.actor) == (
        HistoryEvent.COMMENT_ADDED,
        action,
        action.pilot,
    )


def test_a_comment_needs_text_and_no_more_than_the_limit(contract, observer, action):
    api = api_for(observer)

    empty = api.post(comments_url(action), {"text": "   "}, format="json", **EN)
    too_long = api.post(
        comments_url(action), {"text": "x" * (COMMENT_MAX_LENGTH + 1)}, format="json", **EN
    )

    assert empty.status_code == too_long.status_code == 400
    assert empty.json()["detail"] == "Write the comment's text."
    assert str(COMMENT_MAX_LENGTH) in too_long.json()["detail"]
    assert not SheetComment.objects.exists()
    assert not contract.history.filter(event=HistoryEvent.COMMENT_ADDED).exists()


def test_a_mention_tells_exactly_the_people_named_who_see_the_contract(
    contract, coordinator, observer, action, stranger
):
    lead = action.working_group.leads.first()
    text_ = (
        f"@{lead.username}, @{coordinator.username} : pouvez-vous relire ? "
        f"(cc @{stranger.username}, @personne, @{observer.username}, ecrire@{lead.username})"
    )

    api_for(observer).post(comments_url(action), {"text": text_}, format="json")

    mentions = Notification.objects.filter(event=NotificationEvent.MENTIONED)
    assert sorted(mentions.values_list("recipient__username", flat=True)) == sorted(
        [lead.username, coordinator.username]
    )
    notice = mentions.get(recipient=lead)
    assert "A1" in notice.title
    assert contract.reference in notice.title
    assert notice.url == reverse("workflows:sheet_detail", args=[action.pk])
    assert notice.body == text_


def test_the_review_page_shows_the_comments_and_takes_one(client, contract, coordinator, action):
    launch(contract, coordinator)
    review = open_tasks(contract, TaskKind.REVIEW)[0]
    services.comment_add(action=action, actor=coordinator, text="Voir le budget.")
    client.force_login(review.owner)
    task_page = reverse("workflows:task_detail", args=[review.pk])

    page = client.get(task_page, **EN)
    posted = client.post(
        reverse("workflows:comment_add", args=[action.pk]),
        {"text": "Budget vu.", "next": task_page},
        **EN,
    )
    refused = client.post(reverse("workflows:comment_add", args=[action.pk]), {"text": ""}, **EN)

    assert_well_formed(page)
    assert "Voir le budget." in text(page)
    assert "Add the comment" in text(page)
    assert posted.status_code == 302
    assert posted["Location"] == f"{task_page}#comments"
    assert refused.status_code == 400
    assert "Budget vu." in text(client.get(task_page, **EN))
