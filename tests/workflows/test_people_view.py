"""The people's view (issue 15, item 6): what a represented signatory, a lead among several and
a committee member see of the others' part, on their pages and through the API.

Requests say ``Accept-Language: en`` so that assertions read the English source text.
"""

import pytest
from django.urls import reverse

from tests.factories import (
    ActionFactory,
    SignatoryFactory,
    SteeringCommitteeFactory,
    UserFactory,
)
from tests.flows import (
    approve_reviews,
    decide,
    launch,
    open_tasks,
    record_deliberation,
    walk_to_deliberation,
)
from tests.workflows.test_pages import assert_well_formed, text
from workflows.models import Task, TaskDecision, TaskKind, TaskStatus

pytestmark = pytest.mark.django_db

INBOX = reverse("workflows:inbox")


@pytest.fixture(autouse=True)
def english(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


def task_url(task: Task) -> str:
    return reverse("workflows:task_detail", args=[task.pk])


def open_task_of(user, kind: str) -> Task:
    return Task.objects.get(owner=user, kind=kind, status=TaskStatus.ASSIGNED)


# --- A represented signatory ----------------------------------------------------------------


@pytest.fixture
def president():
    return UserFactory(username="president", first_name="Jean", last_name="Président")


@pytest.fixture
def elected():
    return UserFactory(username="elue", civility="Mme", first_name="Anne", last_name="Élue")


@pytest.fixture
def signing(contract, coordinator, president, elected):
    ActionFactory(contract=contract)
    SteeringCommitteeFactory(contract=contract)
    SignatoryFactory(contract=contract, signer=president, represented_by=elected)
    walk_to_deliberation(contract, coordinator)
    record_deliberation(contract)
    contract.refresh_from_db()
    return contract


def test_a_represented_signatory_sees_the_signature_his_representative_holds(
    client, signing, president, elected
):
    (task,) = open_tasks(signing, TaskKind.SIGNATURE)
    assert task.owner == elected
    client.force_login(president)

    response = client.get(INBOX)
    page = text(response)
    assert response.status_code == 200
    assert "Nothing to do for now" in page  # nothing of his to decide…
    section = page[page.index("Signatures held by your representative") :]
    assert signing.reference in section  # …but his signature is not forgotten
    assert "Anne Élue" in section
    assert "Not signed yet" in section
    assert task_url(task) in section
    assert_well_formed(response)

    # He may open the task, read-only: no password field, no button.
    response = client.get(task_url(task))
    page = text(response)
    assert response.status_code == 200
    assert "You can follow it here." in page
    assert 'type="password"' not in page
    assert 'value="sign"' not in page
    # And may not decide it in his representative's place.
    response = client.post(task_url(task), {"decision": "decline", "comment": "Non."})
    assert response.status_code == 403
    task.refresh_from_db()
    assert task.status == TaskStatus.ASSIGNED


def test_once_signed_the_represented_signatory_sees_who_signed_and_when(
    client, api_client, signing, president, elected
):
    (task,) = open_tasks(signing, TaskKind.SIGNATURE)
    decide(task, "sign")
    client.force_login(president)

    page = text(client.get(INBOX))
    section = page[page.index("Signatures held by your representative") :]
    assert "Signed" in section
    assert "by Anne Élue" in section
    assert "Not signed yet" not in section

    api_client.force_authenticate(president)
    response = api_client.get("/api/v1/inbox/represented/")
    assert response.status_code == 200
    (item,) = response.json()
    assert item["id"] == task.pk
    assert item["contract_reference"] == signing.reference
    assert item["assignee"] == "elue"
    assert item["on_behalf_of"] == "president"
    assert item["decision"] == "sign"
    assert item["completed_by"] == "elue"
    assert item["completed_at"] is not None
    assert item["decisions"] == []


def test_the_represented_list_is_only_the_callers_own(api_client, signing, president, elected):
    api_client.force_authenticate(elected)  # she holds it herself: not "held for" her
    assert api_client.get("/api/v1/inbox/represented/").json() == []
    api_client.force_authenticate(president)
    (item,) = api_client.get("/api/v1/inbox/represented/").json()
    assert item["decision"] is None
    assert item["due"] is not None
    api_client.force_authenticate(None)
    assert api_client.get("/api/v1/inbox/represented/").status_code == 401


# --- A lead among several -------------------------------------------------------------------


@pytest.fixture
def three_leads():
    return [UserFactory(first_name=name, last_name="Animatrice") for name in ("Ada", "Bea", "Cleo")]


@pytest.fixture
def in_review(contract, coordinator, three_leads):
    first = ActionFactory(contract=contract, code="T1-A1")
    first.working_group.leads.set(three_leads)
    ActionFactory(contract=contract, code="T1-A2", working_group=first.working_group)
    launch(contract, coordinator)
    return contract


def test_a_review_page_shows_the_other_leads_decisions_so_far(
    client, api_client, in_review, three_leads
):
    ada, bea, cleo = three_leads
    reviews = Task.objects.filter(action__code="T1-A1", kind=TaskKind.REVIEW)
    decide(reviews.get(owner=bea), "approve")

    client.force_login(cleo)
    task = reviews.get(owner=cleo)
    response = client.get(task_url(task))
    page = text(response)
    assert response.status_code == 200
    section = page[page.index("The other leads") :]
    section = section[: section.index("</section>")]
    assert "Ada Animatrice" in section
    assert "Bea Animatrice" in section
    assert "Cleo Animatrice" not in section  # not herself
    assert section.index("has approved") > section.index("Bea")
    assert section.index("has not decided yet") > section.index("Ada")
    assert_well_formed(response)

    api_client.force_authenticate(cleo)
    body = api_client.get(f"/api/v1/tasks/{task.pk}/").json()
    others = {item["lead"]: item for item in body["other_reviews"]}
    assert set(others) == {ada.username, bea.username}
    assert others[bea.username]["decision"] == TaskDecision.APPROVE
    assert others[bea.username]["decided_by"] == bea.username
    assert others[ada.username]["decision"] is None
    # T1-A2's reviews, by the same leads, are another round: not counted here.
    assert len(body["other_reviews"]) == 2


def test_approve_and_open_the_next_review_then_back_to_the_inbox(client, in_review, three_leads):
    ada = three_leads[0]
    client.force_login(ada)
    first, second = Task.objects.filter(
        owner=ada, kind=TaskKind.REVIEW, status=TaskStatus.ASSIGNED
    ).order_by("due", "pk")
    page = text(client.get(task_url(first)))
    assert "Approve and open the next one" in page

    response = client.post(task_url(first) + "?then=next-review", {"decision": "approve"})
    assert response.status_code == 302
    assert response["Location"] == task_url(second)
    first.refresh_from_db()
    assert first.decision == TaskDecision.APPROVE

    response = client.post(task_url(second) + "?then=next-review", {"decision": "approve"})
    assert response["Location"] == INBOX  # none left


# --- A committee member ---------------------------------------------------------------------


def test_an_open_vote_shows_the_split_so_far(client, api_client, contract, coordinator):
    members = [UserFactory() for _ in range(4)]
    committee = SteeringCommitteeFactory(contract=contract, members=members, quorum=4)
    ActionFactory(contract=contract)
    SignatoryFactory(contract=contract)
    launch(contract, coordinator)
    approve_reviews(contract)
    decide(open_task_of(members[0], TaskKind.VOTE), "approve")
    decide(open_task_of(members[1], TaskKind.VOTE), "reject", comment="Pas assez financé.")
    decide(open_task_of(committee.chair, TaskKind.VOTE), "abstain")

    task = open_task_of(members[2], TaskKind.VOTE)
    client.force_login(members[2])
    response = client.get(task_url(task))
    page = text(response)
    assert "3 votes cast</strong> out of 5 members" in page
    assert "So far: 1 for, 1 against, 1 abstaining." in page
    assert_well_formed(response)

    api_client.force_authenticate(members[2])
    vote = api_client.get(f"/api/v1/tasks/{task.pk}/").json()["vote"]
    assert (vote["approvals"], vote["rejections"], vote["abstentions"]) == (1, 1, 1)
    assert vote["outcome"] is None
