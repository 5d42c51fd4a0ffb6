"""Changing one's mind: whoever completed a review, a revision or a vote undoes it while
nothing has acted on it; the task opens again, the history keeps both.

Personas: the two leads of the action's working group, the committee (five members, quorum
2: one vote settles nothing), the coordinator, and a stranger to the contract.
"""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.urls import reverse
from rest_framework.test import APIClient

from tests.factories import (
    ActionFactory,
    ContractFactory,
    SignatoryFactory,
    SteeringCommitteeFactory,
    UserFactory,
    WorkingGroupFactory,
)
from tests.flows import approve_reviews, decide, launch, open_tasks, record_deliberation, vote
from tests.workflows.test_pages import assert_well_formed, text
from workflows import services
from workflows.models import (
    Action,
    HistoryEntry,
    HistoryEvent,
    OrganisationVisa,
    Task,
    TaskKind,
    TaskStatus,
)
from workflows.selectors import (
    UNDO_ACTED_ON,
    UNDO_NOT_THIS_KIND,
    UNDO_NOT_YOURS,
    UNDO_ON_HOLD,
    history_verify,
)

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


def post_undo(user, task):
    client = APIClient()
    client.force_authenticate(user)
    return client.post(f"/api/v1/tasks/{task.pk}/undo/", **EN)


def entries(task: Task, event: str) -> list[HistoryEntry]:
    return list(
        HistoryEntry.objects.filter(contract_id=task.contract_id, event=event, data__task=task.pk)
    )


@pytest.fixture
def action(contract):
    return ActionFactory(contract=contract, code="T1-A1", title="Maison de santé")


@pytest.fixture
def leads(action):
    return list(action.working_group.leads.order_by("pk"))


@pytest.fixture
def committee(contract):
    members = [UserFactory(username=f"membre{n}") for n in range(1, 5)]
    return SteeringCommitteeFactory(
        contract=contract, chair=UserFactory(username="presidente"), members=members, quorum=2
    )


@pytest.fixture
def in_review(contract, coordinator, action, committee):
    SignatoryFactory(contract=contract)
    launch(contract, coordinator)
    return contract


def review_of(user) -> Task:
    return Task.objects.get(owner=user, kind=TaskKind.REVIEW, status=TaskStatus.ASSIGNED)


def test_a_lead_undoes_their_review_and_decides_again(in_review, leads, action):
    first = decide(review_of(leads[0]), "approve")
    client = APIClient()
    client.force_authenticate(leads[0])
    assert client.get(f"/api/v1/tasks/{first.pk}/", **EN).data["may_undo"] is True

    response = post_undo(leads[0], first)

    assert response.status_code == 200, response.data
    assert response.data["may_undo"] is False
    assert response.data["status"] == "open"
    assert response.data["decision"] is None
    assert response.data["decisions"] == ["approve", "request_changes"]
    first.refresh_from_db()
    assert (first.status, first.decision, first.completed_by) == ("ASSIGNED", "", None)
    # The history keeps the decision and its undoing, chained as ever.
    (completed,) = entries(first, HistoryEvent.TASK_COMPLETED)
    (undone,) = entries(first, HistoryEvent.TASK_UNDONE)
    assert completed.data["decision"] == undone.data["decision"] == "approve"
    assert undone.actor == leads[0]
    assert undone.seq > completed.seq
    assert history_verify(in_review).valid

    # The other lead's approval no longer completes the round: it waits for the first lead.
    decide(review_of(leads[1]), "approve")
    action.refresh_from_db()
    assert action.status == "review"
    decide(review_of(leads[0]), "request_changes", comment="Le budget manque.")
    action.refresh_from_db()
    assert action.status == "changes_requested"
    assert len(entries(first, HistoryEvent.TASK_COMPLETED)) == 2


def test_undo_is_refused_once_the_other_leads_approval_moved_the_action_on(
    in_review, leads, action
):
    first = decide(review_of(leads[0]), "approve")
    decide(review_of(leads[1]), "approve")
    action.refresh_from_db()
    assert action.status == "approved"

    response = post_undo(leads[0], first)

    assert response.status_code == 409
    assert response.data["detail"] == UNDO_ACTED_ON
    first.refresh_from_db()
    assert first.status == "DONE"
    assert entries(first, HistoryEvent.TASK_UNDONE) == []
    client = APIClient()
    client.force_authenticate(leads[0])
    assert client.get(f"/api/v1/tasks/{first.pk}/", **EN).data["may_undo"] is False


def test_a_request_for_changes_has_acted_at_once_and_a_revision_always_has(in_review, leads):
    asked = decide(review_of(leads[0]), "request_changes", comment="Le budget manque.")
    assert post_undo(leads[0], asked).status_code == 409
    (revision,) = open_tasks(in_review, TaskKind.REVISION)
    revised = decide(revision, "resubmit")
    # Resubmitting reopened every lead's review: the revision has acted.
    response = post_undo(revised.owner, revised)
    assert response.status_code == 409
    assert response.data["detail"] == UNDO_ACTED_ON


def test_a_member_undoes_their_vote_while_the_vote_is_open(in_review, committee):
    approve_reviews(in_review)
    (mine, *others) = open_tasks(in_review, TaskKind.VOTE)
    voted = decide(mine, "reject", comment="Non.")
    vote_round = voted.committee_vote
    assert vote_round.tally().rejections == 1

    response = post_undo(voted.owner, voted)

    assert response.status_code == 200, response.data
    assert vote_round.tally().cast == 0
    assert len(open_tasks(in_review, TaskKind.VOTE)) == len(others) + 1
    # The vote goes on and counts the member's new vote only.
    decide(Task.objects.get(pk=voted.pk), "approve")
    decide(others[0], "approve")
    vote_round.refresh_from_db()
    assert vote_round.tally().approvals == 2
    assert vote_round.tally().rejections == 0


def test_signatures_visas_and_deliberations_are_never_undone(in_review):
    signatory = in_review.signatories.get()
    OrganisationVisa.objects.create(
        organisation=signatory.organisation,
        person=UserFactory(organisation=signatory.organisation),
        order=1,
    )
    approve_reviews(in_review)
    vote(in_review)
    record_deliberation(in_review)
    deliberation = Task.objects.get(contract=in_review, kind=TaskKind.DELIBERATION)
    (visa,) = open_tasks(in_review, TaskKind.VISA)
    visa = decide(visa, "approve")
    (signature,) = open_tasks(in_review, TaskKind.SIGNATURE)
    signature = decide(signature, "decline", comment="Pas en l'état.")
    for task in (deliberation, visa, signature):
        response = post_undo(task.completed_by, task)
        assert response.status_code == 409
        assert response.data["detail"] == UNDO_NOT_THIS_KIND
        task.refresh_from_db()
        assert task.status == "DONE"


def test_no_undo_while_the_contract_is_suspended(in_review, leads, coordinator):
    first = decide(review_of(leads[0]), "approve")
    services.suspend(contract=in_review, actor=coordinator, reason="Pause")

    response = post_undo(leads[0], first)

    assert response.status_code == 409
    assert response.data["detail"] == UNDO_ON_HOLD
    services.resume(contract=in_review, actor=coordinator)
    assert post_undo(leads[0], first).status_code == 200


def test_only_whoever_decided_may_undo(in_review, leads, coordinator, stranger):
    first = decide(review_of(leads[0]), "approve")

    assert post_undo(leads[1], first).status_code == 404  # not a task they may see
    response = post_undo(coordinator, first)
    assert response.status_code == 403
    assert response.data["detail"] == UNDO_NOT_YOURS
    assert post_undo(stranger, first).status_code == 404
    # And an open task is not undone: there is nothing to undo.
    assert post_undo(leads[1], review_of(leads[1])).status_code == 409
    first.refresh_from_db()
    assert first.status == "DONE"


def test_the_task_page_offers_to_undo_while_possible(client, in_review, leads, action):
    first = decide(review_of(leads[0]), "approve")
    url = reverse("workflows:task_detail", args=[first.pk])
    client.force_login(leads[0])

    page = client.get(url, **EN)
    assert "Undo my decision" in text(page)
    assert_well_formed(page)
    response = client.post(reverse("workflows:task_undo", args=[first.pk]), **EN)
    assert response.status_code == 302
    page = client.get(response["Location"], **EN)
    assert "Your decision is undone: the task is open again." in text(page)
    assert "Undo my decision" not in text(page)

    decide(review_of(leads[0]), "approve")
    decide(review_of(leads[1]), "approve")  # the action is approved: too late now
    page = client.get(url, **EN)
    assert "Undo my decision" not in text(page)
    refused = client.post(reverse("workflows:task_undo", args=[first.pk]), **EN)
    assert refused.status_code == 409
    assert "Your decision was not undone" in text(refused)
    assert Action.objects.get(pk=action.pk).status == "approved"


# --- Races --------------------------------------------------------------------------------


def race(*calls) -> list[int]:
    """Each call in its own thread and connection, released together."""
    barrier = threading.Barrier(len(calls))
    statuses: list[int] = []
    failures: list[BaseException] = []

    def run(call) -> None:
        try:
            barrier.wait(timeout=30)
            statuses.append(call().status_code)
        except BaseException as exc:  # reported to the test, never lost in the thread
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    if failures:
        raise failures[0]
    return sorted(statuses)


def two_leads_one_approved():
    """Committed before the race: the threads' connections must see it."""
    coordinator, first, second = UserFactory(), UserFactory(), UserFactory()
    contract = ContractFactory(coordinator=coordinator)
    group = WorkingGroupFactory(contract=contract, leads=[first, second])
    action = ActionFactory(contract=contract, working_group=group)
    SteeringCommitteeFactory(contract=contract)
    SignatoryFactory(contract=contract)
    launch(contract, coordinator)
    done = decide(review_of(first), "approve")
    return action, done, review_of(second)


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="the PostgreSQL race needs it")
def test_an_undo_and_the_approval_that_would_act_on_it_are_serialised():
    action, done, other = two_leads_one_approved()

    def approve():
        client = APIClient()
        client.force_authenticate(other.owner)
        return client.post(f"/api/v1/tasks/{other.pk}/decision/", {"decision": "approve"})

    statuses = race(lambda: post_undo(done.owner, done), approve)

    action.refresh_from_db()
    done.refresh_from_db()
    undone = len(entries(done, HistoryEvent.TASK_UNDONE))
    if statuses == [200, 200]:  # the undo first: the approval waits for the reopened review
        assert (undone, done.status, action.status) == (1, "ASSIGNED", "review")
    else:  # the approval first: it approved the action, and the undo came too late
        assert statuses == [200, 409]
        assert (undone, done.status, action.status) == (0, "DONE", "approved")


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="the PostgreSQL race needs it")
def test_a_double_click_on_undo_undoes_once():
    _action, done, _other = two_leads_one_approved()

    statuses = race(lambda: post_undo(done.owner, done), lambda: post_undo(done.owner, done))

    assert statuses == [200, 409]
    assert len(entries(done, HistoryEvent.TASK_UNDONE)) == 1
