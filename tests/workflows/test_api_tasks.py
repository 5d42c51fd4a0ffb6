"""Tasks through the API: the inbox, one task, and deciding it; the chair closing the vote.

Personas: the coordinator (sees every task of the contract, decides none of them), the two
leads of the action's working group, its pilot, the committee, a signer and the
representative who signs for them, and a stranger who takes no part in the contract.
"""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import (
    PASSWORD,
    ActionFactory,
    ContractFactory,
    FundingLineFactory,
    OrganisationFactory,
    SignatoryFactory,
    SteeringCommitteeFactory,
    UserFactory,
    WorkingGroupFactory,
)
from tests.flows import approve_reviews, decide, launch, open_tasks, record_deliberation, vote
from workflows import services
from workflows.models import (
    Contract,
    HistoryEntry,
    HistoryEvent,
    Indicator,
    SignatoryKind,
    Task,
    TaskKind,
    TaskStatus,
    User,
)
from workflows.selectors import history_verify

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
INBOX = "/api/v1/inbox/"


def client_of(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def get_inbox(user, **params):
    return client_of(user).get(INBOX, params, **EN)


def post_decision(user, task, body, **extra):
    return client_of(user).post(
        f"/api/v1/tasks/{task.pk}/decision/", body, format="json", **EN, **extra
    )


def get_task(user, task):
    return client_of(user).get(f"/api/v1/tasks/{task.pk}/", **EN)


def error(detail: str, errors: list[str] | None = None) -> dict:
    return {"detail": detail, "errors": errors or []}


@pytest.fixture
def action(contract):
    return ActionFactory(contract=contract, code="T1-A1", title="Maison de santé")


@pytest.fixture
def leads(action):
    return list(action.working_group.leads.order_by("pk"))


@pytest.fixture
def lead(leads):
    return leads[0]


@pytest.fixture
def committee(contract):
    """Five members (the chair and four others), quorum 2: two votes settle nothing alone."""
    members = [UserFactory(username=f"membre{n}") for n in range(1, 5)]
    return SteeringCommitteeFactory(
        contract=contract, chair=UserFactory(username="presidente"), members=members, quorum=2
    )


@pytest.fixture
def signer():
    return UserFactory(username="maire", first_name="Marie", last_name="Maire")


@pytest.fixture
def representative():
    return UserFactory(username="adjoint", first_name="Paul", last_name="Adjoint")


@pytest.fixture
def signatory(contract, signer, representative):
    return SignatoryFactory(contract=contract, signer=signer, represented_by=representative)


@pytest.fixture
def in_review(contract, coordinator, action, committee, signatory):
    launch(contract, coordinator)
    return contract


@pytest.fixture
def in_committee(in_review):
    approve_reviews(in_review)
    in_review.refresh_from_db()
    assert in_review.status == "committee"
    return in_review


@pytest.fixture
def in_deliberation(in_committee):
    vote(in_committee)
    in_committee.refresh_from_db()
    assert in_committee.status == "deliberation"
    return in_committee


@pytest.fixture
def in_signing(in_deliberation):
    record_deliberation(in_deliberation)
    in_deliberation.refresh_from_db()
    assert in_deliberation.status == "signing"
    return in_deliberation


def task_of(user, kind: str | None = None) -> Task:
    tasks = Task.objects.filter(owner=user, status=TaskStatus.ASSIGNED)
    if kind:
        tasks = tasks.filter(kind=kind)
    return tasks.get()


# --- The inbox ----------------------------------------------------------------------------


def test_a_lead_finds_the_review_of_the_action_in_their_inbox(in_review, lead):
    response = get_inbox(lead)

    assert response.status_code == 200
    assert response["X-Total-Count"] == "1"
    (item,) = response.json()
    task = task_of(lead)
    assert item == {
        "id": task.pk,
        "kind": "review",
        "kind_label": "Review of an action sheet",
        "status": "open",
        "status_label": "Open",
        "contract": in_review.pk,
        "contract_reference": in_review.reference,
        "contract_title": in_review.title,
        "action": "T1-A1",
        "action_title": "Maison de santé",
        "title": "Review of action T1-A1: Maison de santé",
        "due": item["due"],
        "overdue": False,
        "assignee": lead.username,
        "assignee_name": lead.display_name,
        "on_behalf_of": None,
        "on_behalf_of_name": None,
        "acting_for": None,
        "delegated": False,
        "decisions": ["approve", "request_changes"],
    }
    due = datetime.datetime.fromisoformat(item["due"])
    assert due - timezone.now() > datetime.timedelta(days=14)


def test_the_inbox_holds_only_the_callers_open_tasks(in_review, lead, coordinator, stranger):
    decide(task_of(lead))

    assert get_inbox(lead).json() == []
    assert get_inbox(coordinator).json() == []
    assert get_inbox(stranger).json() == []


def test_the_inbox_filters_by_kind_contract_and_overdue(in_review, lead, coordinator):
    # The same lead also reviews an action of another contract, whose review is late.
    other = ContractFactory(coordinator=coordinator)
    ActionFactory(contract=other, working_group=WorkingGroupFactory(contract=other, leads=[lead]))
    launch(other, coordinator)
    late = Task.objects.get(contract=other, owner=lead)
    Task.objects.filter(pk=late.pk).update(due=timezone.now() - datetime.timedelta(days=1))

    def ids(**params):
        response = get_inbox(lead, **params)
        assert response.status_code == 200, response.json()
        return [item["id"] for item in response.json()]

    own = Task.objects.get(contract=in_review, owner=lead)
    assert ids() == [late.pk, own.pk]  # the most urgent first
    assert ids(contract=in_review.pk) == [own.pk]
    assert ids(overdue="true") == [late.pk]
    assert get_inbox(lead, overdue="true").json()[0]["overdue"] is True
    assert ids(kind="review") == [late.pk, own.pk]
    assert ids(kind="signature") == []


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"kind": "lunch"}, 'kind: "lunch" is not a valid choice.'),
        ({"contract": "abc"}, "contract: A valid integer is required."),
        ({"limit": "0"}, "limit: Ensure this value is greater than or equal to 1."),
        ({"limit": "1000"}, "limit: Ensure this value is less than or equal to 200."),
    ],
)
def test_a_malformed_filter_is_refused(in_review, lead, params, message):
    response = get_inbox(lead, **params)

    assert response.status_code == 400
    assert response.json() == error(message, [message])


def test_the_inbox_needs_authentication(api_client):
    response = api_client.get(INBOX, **EN)

    assert response.status_code == 401


def _lead_with_reviews(count: int, coordinator):
    """A lead of one working group whose `count` actions are all in review."""
    lead = UserFactory()
    contract = ContractFactory(coordinator=coordinator)
    group = WorkingGroupFactory(contract=contract, leads=[lead])
    for _ in range(count):
        ActionFactory(contract=contract, working_group=group)
    launch(contract, coordinator)
    # Some tasks carry someone's decision: held for an absent colleague.
    colleague = UserFactory()
    Task.objects.filter(owner=lead).filter(pk__in=Task.objects.filter(owner=lead)[:2]).update(
        on_behalf_of=colleague
    )
    return lead


def test_the_inbox_takes_the_same_few_queries_for_one_task_and_for_thirty(
    coordinator, django_assert_max_num_queries
):
    counts = {}
    for count in (1, 30):
        lead = _lead_with_reviews(count, coordinator)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=lead).key}")
        # Token look-up, then the page of tasks with everything it shows joined.
        with django_assert_max_num_queries(2), CaptureQueriesContext(connection) as queries:
            response = client.get(INBOX)
        assert response.status_code == 200
        assert len(response.json()) == count
        counts[count] = len(queries)
    assert counts[1] == counts[30]


def test_the_inbox_is_paginated_with_the_total_and_the_next_page_in_headers(coordinator):
    lead = _lead_with_reviews(5, coordinator)
    all_ids = [item["id"] for item in get_inbox(lead).json()]

    first = get_inbox(lead, limit=2)
    second = get_inbox(lead, limit=2, offset=2)
    last = get_inbox(lead, limit=2, offset=4)

    assert [item["id"] for item in first.json()] == all_ids[:2]
    assert [item["id"] for item in second.json()] == all_ids[2:4]
    assert [item["id"] for item in last.json()] == all_ids[4:]
    assert first["X-Total-Count"] == second["X-Total-Count"] == last["X-Total-Count"] == "5"
    assert first["Link"] == '<http://testserver/api/v1/inbox/?limit=2&offset=2>; rel="next"'
    assert 'rel="prev"' in second["Link"]
    assert 'rel="next"' in second["Link"]
    assert last["Link"] == '<http://testserver/api/v1/inbox/?limit=2&offset=2>; rel="prev"'


def _inbox_lines_as_drf_walks_them(owners) -> int:
    """Each owner's inbox through ``TaskOutput`` and through DRF's generic walk over the same
    declared fields: the same keys, in the same order, with the same values."""
    from rest_framework import serializers

    from workflows.api.serializers import TaskOutput
    from workflows.selectors import inbox_of

    class Request:
        def __init__(self, user):
            self.user = user

    compared = 0
    for owner in owners:
        output = TaskOutput(context={"request": Request(owner)})
        for task in inbox_of(owner):
            fast = output.to_representation(task)
            walked = serializers.Serializer.to_representation(output, task)
            assert list(fast) == list(walked)
            assert fast == walked
            compared += 1
    return compared


@pytest.mark.parametrize("stage", ["in_review", "in_committee", "in_signing"])
def test_the_inbox_lines_are_what_the_declared_fields_give(request, stage, coordinator):
    request.getfixturevalue(stage)
    lead = _lead_with_reviews(3, coordinator)  # two of them held for an absent colleague
    owners = User.objects.filter(tasks__status=TaskStatus.ASSIGNED).distinct()
    assert lead in owners
    assert _inbox_lines_as_drf_walks_them(owners) >= 4


def test_a_signature_held_by_a_representative_is_read_with_the_page(
    in_signing, representative, django_assert_max_num_queries
):
    # The page alone: the signatory's organisation, whom the holder signs for, the contract
    # and the title's words all come with it (no query per line).
    with django_assert_max_num_queries(1):
        response = get_inbox(representative)
    (item,) = response.json()
    assert item["acting_for"] == "Paul Adjoint for Marie Maire"
    assert item["title"].startswith(f"Signature of {in_signing.reference} for Organisation")


def test_a_representative_finds_the_signature_they_give_for_the_signer(
    in_signing, representative, signer
):
    (item,) = get_inbox(representative).json()

    assert item["kind"] == "signature"
    assert item["assignee"] == "adjoint"
    assert item["on_behalf_of"] == "maire"
    assert item["acting_for"] == "Paul Adjoint for Marie Maire"
    assert item["delegated"] is False
    assert item["decisions"] == ["sign", "decline"]
    assert item["title"].startswith(f"Signature of {in_signing.reference} for Organisation")
    # The signer sees nothing to do: their representative signs.
    assert get_inbox(signer).json() == []


def test_a_delegate_finds_the_absent_leads_review_marked_for_them(in_review, lead):
    colleague = UserFactory(username="collegue", first_name="Claire", last_name="Collègue")
    lead.first_name, lead.last_name = "Luc", "Lead"
    lead.save()
    services.delegation_declare(
        user=lead,
        delegate=colleague,
        start=timezone.localdate(),
        end=timezone.localdate() + datetime.timedelta(days=7),
    )

    (item,) = get_inbox(colleague).json()

    assert item["assignee"] == "collegue"
    assert item["on_behalf_of"] == lead.username
    assert item["acting_for"] == "Claire Collègue for Luc Lead"
    assert item["delegated"] is True
    assert item["decisions"] == ["approve", "request_changes"]
    assert get_inbox(lead).json() == []


# --- One task -----------------------------------------------------------------------------


def test_a_review_task_shows_the_action_sheet_to_decide_on(in_review, lead, action):
    task = task_of(lead)

    response = get_task(lead, task)

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == task.pk
    assert body["may_decide"] is True
    assert body["decision_choices"] == [
        {"code": "approve", "label": "Approve"},
        {"code": "request_changes", "label": "Request changes"},
    ]
    assert body["designated"] == lead.username
    assert body["contract_summary"]["reference"] == in_review.reference
    assert body["contract_summary"]["status"] == "review"
    sheet = body["action_sheet"]
    assert sheet["code"] == "T1-A1"
    assert sheet["objective"] == action.objective
    assert sheet["working_group"] == {
        "code": action.working_group.code,
        "title": action.working_group.title,
    }
    assert sheet["pilot"] == action.pilot.username
    assert body["signatory"] is None
    assert body["document_sha256"] is None
    assert body["decision"] is None


def test_the_coordinator_sees_a_leads_task_but_has_nothing_to_decide_on_it(
    in_review, lead, coordinator
):
    body = get_task(coordinator, task_of(lead)).json()

    assert body["may_decide"] is False
    assert body["decisions"] == []
    assert body["decision_choices"] == []


def test_a_stranger_is_told_the_task_does_not_exist(in_review, lead, stranger):
    task = task_of(lead)

    assert get_task(stranger, task).status_code == 404
    response = post_decision(stranger, task, {"decision": "approve"})
    assert response.status_code == 404
    assert response.json() == error("Not found.")
    assert Task.objects.get(pk=task.pk).status == TaskStatus.ASSIGNED


def test_an_unknown_task_is_not_found(lead):
    assert get_task(lead, Task(pk=999999)).status_code == 404


def test_a_signature_task_shows_the_fingerprint_of_the_document_to_sign(in_signing, representative):
    task = task_of(representative)

    body = get_task(representative, task).json()

    assert len(body["document_sha256"]) == 64
    assert body["document_sha256"] == in_signing.document_sha256
    assert body["contract_summary"]["document_sha256"] == in_signing.document_sha256
    assert body["contract_summary"]["deliberation"]["number"] == "DEL-2024-031"
    assert body["signatory"]["signer"] == "maire"
    assert body["signatory"]["represented_by"] == "adjoint"
    assert body["signatory"]["kind"] == SignatoryKind.MANDATORY
    assert body["acting_for"] == "Paul Adjoint for Marie Maire"
    assert body["action_sheet"] is None


def test_a_vote_task_lists_the_actions_a_rejection_may_name(in_committee, committee):
    task = task_of(committee.chair)

    body = get_task(committee.chair, task).json()

    assert [action["code"] for action in body["actions"]] == ["T1-A1"]
    assert body["vote"]["round"] == 1
    assert body["vote"]["quorum"] == 2
    assert body["vote"]["members"] == 5
    assert body["vote"]["cast"] == 0
    assert body["title"] == f"Committee vote on {in_committee.reference}"


def test_a_revision_task_shows_what_the_lead_asked_to_change(in_review, lead, action):
    decide(task_of(lead), "request_changes", comment="Chiffrer le budget.")

    body = get_task(action.pilot, task_of(action.pilot)).json()

    assert body["kind"] == "revision"
    assert body["decisions"] == ["resubmit"]
    (request,) = body["changes_requested"]
    assert request["by"] == lead.username
    assert request["comment"] == "Chiffrer le budget."
    assert request["kind"] == "review"


# --- Deciding: reviews and revisions ------------------------------------------------------


def test_both_leads_approving_send_the_contract_to_its_committee(in_review, leads):
    first = post_decision(leads[0], task_of(leads[0]), {"decision": "approve", "comment": "OK"})
    assert first.status_code == 200
    assert first.json()["contract"] == {"id": in_review.pk, "status": "review", "version": 1}
    task = first.json()["task"]
    assert task["status"] == "done"
    assert task["decision"] == "approve"
    assert task["comment"] == "OK"
    assert task["completed_by"] == leads[0].username
    assert task["decisions"] == []

    second = post_decision(leads[1], task_of(leads[1]), {"decision": "approve"})

    assert second.status_code == 200
    assert second.json()["contract"]["status"] == "committee"
    assert Task.objects.filter(contract=in_review, kind="vote").count() == 5


def test_asking_for_changes_needs_a_comment(in_review, lead):
    task = task_of(lead)

    response = post_decision(lead, task, {"decision": "request_changes", "comment": "  "})

    assert response.status_code == 400
    assert response.json() == error("Say in a comment what must change.")
    assert Task.objects.get(pk=task.pk).status == TaskStatus.ASSIGNED


def test_asking_for_changes_gives_the_pilot_a_revision_which_reopens_the_review(
    in_review, leads, action
):
    response = post_decision(
        leads[0], task_of(leads[0]), {"decision": "request_changes", "comment": "Budget ?"}
    )

    assert response.status_code == 200
    action.refresh_from_db()
    assert action.status == "changes_requested"
    assert get_inbox(leads[1]).json() == []  # the other lead's review is cancelled
    (revision,) = get_inbox(action.pilot).json()
    assert revision["kind"] == "revision"

    resubmitted = post_decision(
        action.pilot,
        Task.objects.get(pk=revision["id"]),
        {
            "decision": "resubmit",
            "comment": "Budget chiffré.",
        },
    )

    assert resubmitted.status_code == 200
    action.refresh_from_db()
    assert action.status == "review"
    assert [item["kind"] for item in get_inbox(leads[0]).json()] == ["review"]
    assert [item["kind"] for item in get_inbox(leads[1]).json()] == ["review"]


def test_a_decision_that_does_not_fit_the_task_is_refused_with_the_choices(in_review, lead):
    response = post_decision(lead, task_of(lead), {"decision": "sign"})

    assert response.status_code == 400
    assert response.json() == error(
        '"sign" is not a decision for this task; choose one of: approve, request_changes.'
    )


def test_a_decision_is_required(in_review, lead):
    response = post_decision(lead, task_of(lead), {"comment": "?"})

    assert response.status_code == 400
    assert response.json() == error(
        "decision: This field is required.", ["decision: This field is required."]
    )


# --- Deciding: who, and how many times ----------------------------------------------------


def test_the_coordinator_may_not_decide_a_leads_review(in_review, lead, coordinator):
    task = task_of(lead)

    response = post_decision(coordinator, task, {"decision": "approve"})

    assert response.status_code == 403
    assert response.json()["detail"].startswith("This task is not yours")
    assert Task.objects.get(pk=task.pk).status == TaskStatus.ASSIGNED


def test_the_signer_may_not_sign_in_place_of_their_representative(
    in_signing, signer, representative
):
    task = task_of(representative)

    response = post_decision(
        signer, task, {"decision": "sign", "password": PASSWORD, "consent": True}
    )

    assert response.status_code == 403
    assert Task.objects.get(pk=task.pk).status == TaskStatus.ASSIGNED


def test_a_second_completion_is_refused_as_a_conflict(in_review, lead):
    task = task_of(lead)
    assert post_decision(lead, task, {"decision": "approve"}).status_code == 200

    again = post_decision(lead, task, {"decision": "approve"})

    assert again.status_code == 409
    assert again.json()["detail"].startswith("This task was already completed on")
    completed = HistoryEntry.objects.filter(
        contract=in_review, event=HistoryEvent.TASK_COMPLETED, data__task=task.pk
    )
    assert completed.count() == 1


def test_a_task_of_a_suspended_contract_is_on_hold(in_review, lead, coordinator):
    task = task_of(lead)
    services.suspend(contract=in_review, actor=coordinator, reason="Élections")

    response = post_decision(lead, task, {"decision": "approve"})

    assert response.status_code == 409
    assert response.json() == error(
        "The contract is suspended: this task is on hold until it resumes."
    )
    assert get_task(lead, task).json()["status"] == "on_hold"


# --- Deciding: votes ----------------------------------------------------------------------


def test_a_member_votes_to_approve(in_committee, committee):
    member = committee.members.exclude(pk=committee.chair_id).order_by("pk").first()

    response = post_decision(member, task_of(member), {"decision": "approve"})

    assert response.status_code == 200
    assert response.json()["task"]["decision"] == "approve"
    assert response.json()["contract"]["status"] == "committee"


def test_a_member_abstains_which_counts_toward_the_quorum_not_in_the_majority(
    in_committee, committee
):
    members = list(committee.members.exclude(pk=committee.chair_id).order_by("pk"))
    assert "abstain" in get_task(members[0], task_of(members[0])).json()["decisions"]

    response = post_decision(
        members[0], task_of(members[0]), {"decision": "abstain", "comment": "Partie prenante."}
    )

    assert response.status_code == 200
    assert response.json()["task"]["decision"] == "abstain"
    assert response.json()["contract"]["status"] == "committee"
    abstained = HistoryEntry.objects.get(
        contract=in_committee, event=HistoryEvent.TASK_COMPLETED, name="vote"
    )
    assert (abstained.actor, abstained.data["decision"], abstained.comment) == (
        members[0],
        "abstain",
        "Partie prenante.",
    )
    decide(task_of(members[1]), "approve")
    standing = get_task(committee.chair, task_of(committee.chair)).json()["vote"]
    assert {k: standing[k] for k in ("cast", "approvals", "rejections", "abstentions")} == {
        "cast": 2,
        "approvals": 1,
        "rejections": 0,
        "abstentions": 1,
    }

    closed = close_vote(committee.chair, in_committee)  # quorum 2: one for, one abstaining

    assert closed.status_code == 200
    assert closed.json()["status"] == "deliberation"
    decided = HistoryEntry.objects.get(contract=in_committee, event=HistoryEvent.VOTE_DECIDED)
    assert decided.name == "validated"
    assert (decided.data["approvals"], decided.data["abstentions"]) == (1, 1)


def test_a_rejecting_vote_names_the_actions_objected_to(in_committee, committee):
    member = committee.chair
    body = {
        "decision": "reject",
        "comment": "Le budget n'est pas assuré.",
        "actions": ["T1-A1"],
        "objections": {"T1-A1": "Financement ARS manquant."},
    }

    response = post_decision(member, task_of(member), body)

    assert response.status_code == 200
    assert response.json()["task"]["details"] == {
        "actions": ["T1-A1"],
        "objections": {"T1-A1": "Financement ARS manquant."},
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"decision": "reject"}, "A comment is required to reject."),
        (
            {"decision": "reject", "comment": "Non.", "actions": ["ZZ-9"]},
            "Unknown action(s) in this contract: ZZ-9.",
        ),
        (
            {"decision": "reject", "comment": "Non.", "objections": {"ZZ-9": "?"}},
            "Unknown action(s) in this contract: ZZ-9.",
        ),
        ({"decision": "reject", "comment": "Non.", "actions": "T1-A1"}, None),
    ],
)
def test_a_rejecting_vote_is_refused_without_a_comment_or_with_unknown_actions(
    in_committee, committee, body, message
):
    task = task_of(committee.chair)

    response = post_decision(committee.chair, task, body)

    assert response.status_code == 400
    if message:
        assert response.json() == error(message)
    else:
        assert response.json()["detail"] == 'actions: Expected a list of items but got type "str".'
    assert Task.objects.get(pk=task.pk).status == TaskStatus.ASSIGNED


def test_the_committee_rejection_sends_the_action_back_to_its_pilot(in_committee, action):
    vote(in_committee, "reject", comment="Non.", actions=["T1-A1"])

    in_committee.refresh_from_db()
    assert in_committee.status == "review"
    body = get_task(action.pilot, task_of(action.pilot)).json()
    assert body["kind"] == "revision"
    assert {request["kind"] for request in body["changes_requested"]} == {"vote"}


# --- Deciding: the deliberation -----------------------------------------------------------


def test_the_coordinator_records_the_deliberation_and_signatures_open(
    in_deliberation, coordinator, representative
):
    task = task_of(coordinator, TaskKind.DELIBERATION)
    yesterday = (timezone.localdate() - datetime.timedelta(days=1)).isoformat()

    response = post_decision(
        coordinator, task, {"decision": "record", "number": "DEL-2024-031", "date": yesterday}
    )

    assert response.status_code == 200
    assert response.json()["contract"]["status"] == "signing"
    assert response.json()["task"]["details"] == {"number": "DEL-2024-031", "date": yesterday}
    assert [item["kind"] for item in get_inbox(representative).json()] == ["signature"]


@pytest.mark.parametrize(
    ("body", "message", "errors"),
    [
        ({"decision": "record", "date": "2024-03-14"}, "The deliberation number is required.", []),
        ({"decision": "record", "number": "DEL-1"}, "The deliberation date is required.", []),
        (
            {"decision": "record", "number": "DEL-1", "date": "2999-01-01"},
            "The deliberation date cannot be in the future.",
            [],
        ),
        (
            {"decision": "record", "number": "DEL-1", "date": "14/03/2024"},
            "date: Date has wrong format. Use one of these formats instead: YYYY-MM-DD.",
            ["date: Date has wrong format. Use one of these formats instead: YYYY-MM-DD."],
        ),
    ],
)
def test_a_deliberation_needs_a_number_and_a_past_date(
    in_deliberation, coordinator, body, message, errors
):
    task = task_of(coordinator, TaskKind.DELIBERATION)

    response = post_decision(coordinator, task, body)

    assert response.status_code == 400
    assert response.json() == error(message, errors)
    in_deliberation.refresh_from_db()
    assert in_deliberation.status == "deliberation"


# --- Deciding: signatures -----------------------------------------------------------------


def test_the_representative_signs_for_the_signer_and_the_contract_is_signed(
    in_signing, representative
):
    task = task_of(representative)

    response = post_decision(
        representative,
        task,
        {"decision": "sign", "password": PASSWORD, "consent": True},
        REMOTE_ADDR="192.0.2.10",
        HTTP_USER_AGENT="Firefox/128.0",
    )

    assert response.status_code == 200
    assert response.json()["contract"]["status"] == "signed"
    assert response.json()["task"]["acting_for"] == "Paul Adjoint for Marie Maire"
    signature = HistoryEntry.objects.get(contract=in_signing, event=HistoryEvent.SIGNATURE)
    assert (signature.actor_username, signature.on_behalf_of_username) == ("adjoint", "maire")
    assert signature.data["document_sha256"] == in_signing.document_sha256
    assert signature.data["ip_address"] == "192.0.2.10"
    assert signature.data["user_agent"] == "Firefox/128.0"
    assert signature.data["authentication"] == "password"


def test_the_client_address_is_read_behind_the_trusted_proxies(
    in_signing, representative, settings
):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}

    response = post_decision(
        representative,
        task_of(representative),
        {"decision": "sign", "password": PASSWORD, "consent": True},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="198.51.100.7, 203.0.113.5",
    )

    assert response.status_code == 200
    signature = HistoryEntry.objects.get(contract=in_signing, event=HistoryEvent.SIGNATURE)
    assert signature.data["ip_address"] == "203.0.113.5"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"decision": "sign", "password": PASSWORD}, "Tick the consent box to sign."),
        (
            {"decision": "sign", "password": "wrong", "consent": True},
            "The password is incorrect.",
        ),
        ({"decision": "sign", "consent": True}, "The password is incorrect."),
        ({"decision": "decline"}, "A reason is required to decline."),
    ],
)
def test_a_signature_needs_consent_and_the_password_and_a_decline_a_reason(
    in_signing, representative, body, message
):
    task = task_of(representative)

    response = post_decision(representative, task, body)

    assert response.status_code == 400
    assert response.json() == error(message)
    assert Task.objects.get(pk=task.pk).status == TaskStatus.ASSIGNED
    assert not HistoryEntry.objects.filter(
        contract=in_signing, event=HistoryEvent.SIGNATURE
    ).exists()


def test_a_wrong_password_at_signing_is_recorded_in_the_history(in_signing, representative):
    task = task_of(representative)

    response = post_decision(
        representative,
        task,
        {"decision": "sign", "password": "wrong", "consent": True},
        REMOTE_ADDR="192.0.2.9",
        HTTP_USER_AGENT="Navigateur de test",
    )

    assert response.status_code == 400
    refused = HistoryEntry.objects.get(
        contract=in_signing, event=HistoryEvent.SIGNATURE_PASSWORD_REFUSED
    )
    assert refused.actor == representative
    assert refused.data == {
        "task": task.pk,
        "ip_address": "192.0.2.9",
        "user_agent": "Navigateur de test",
    }
    assert Task.objects.get(pk=task.pk).status == TaskStatus.ASSIGNED
    assert history_verify(in_signing).valid


def test_a_mandatory_decline_sends_the_contract_back_to_draft(in_signing, representative):
    response = post_decision(
        representative,
        task_of(representative),
        {"decision": "decline", "comment": "Le conseil n'a pas voté ce texte."},
    )

    assert response.status_code == 200
    assert response.json()["contract"] == {"id": in_signing.pk, "status": "draft", "version": 2}


# --- The chair closes the vote ------------------------------------------------------------


def close_vote(user, contract):
    return client_of(user).post(f"/api/v1/contracts/{contract.pk}/vote/close/", **EN)


def test_the_chair_closes_the_vote_once_the_quorum_is_reached(in_committee, committee):
    members = list(committee.members.exclude(pk=committee.chair_id).order_by("pk"))
    decide(task_of(members[0]), "approve")
    decide(task_of(members[1]), "approve")
    decide(task_of(members[2]), "reject", comment="Trop tôt.")
    # 2 approvals, 1 rejection, 2 votes open: the outcome could still change.
    assert Contract.objects.get(pk=in_committee.pk).status == "committee"

    response = close_vote(committee.chair, in_committee)

    assert response.status_code == 200
    assert response.json()["status"] == "deliberation"
    assert open_tasks(in_committee, TaskKind.VOTE) == []
    assert Task.objects.get(owner=members[3], kind="vote").status == TaskStatus.CANCELED
    assert get_inbox(committee.chair).json() == []


def test_only_the_chair_closes_the_vote(in_committee, committee, coordinator):
    members = list(committee.members.exclude(pk=committee.chair_id).order_by("pk"))
    decide(task_of(members[0]), "approve")
    decide(task_of(members[1]), "reject", comment="Non.")

    for someone in (members[0], coordinator):
        response = close_vote(someone, in_committee)
        assert response.status_code == 403
        assert response.json() == error(
            "Only the chair of the steering committee may close the vote."
        )
    assert Contract.objects.get(pk=in_committee.pk).status == "committee"


def test_the_vote_cannot_close_before_the_quorum(in_committee, committee):
    members = list(committee.members.exclude(pk=committee.chair_id).order_by("pk"))
    decide(task_of(members[0]), "approve")

    response = close_vote(committee.chair, in_committee)

    assert response.status_code == 409
    assert response.json() == error("The quorum is not reached: 1 vote(s) cast, 2 needed.")


def test_there_is_no_vote_to_close_outside_the_committee_stage(in_review, committee):
    response = close_vote(committee.chair, in_review)

    assert response.status_code == 409
    assert response.json() == error(
        "There is no vote in progress: the contract is \u201cWorking-group review\u201d."
    )


def test_a_stranger_cannot_close_a_vote_they_cannot_see(in_committee, stranger):
    assert close_vote(stranger, in_committee).status_code == 404


def test_closing_the_vote_of_a_contract_without_committee_is_refused(contract, coordinator):
    response = close_vote(coordinator, contract)

    assert response.status_code == 403


# --- Bounded work, and the schema ---------------------------------------------------------


def test_a_review_task_is_read_in_a_few_queries_whatever_the_size_of_the_sheet(
    in_review, lead, action, django_assert_max_num_queries
):
    for n in range(6):
        FundingLineFactory(action=action)
        Indicator.objects.create(action=action, label=f"Indicateur {n}", position=n)
        action.partners.add(OrganisationFactory())
    client, task = client_of(lead), task_of(lead)

    # The task with everything it names joined, then the sheet's partners, indicators and
    # funding lines, the other leads' reviews of the round, and the opinions asked on it.
    with django_assert_max_num_queries(6):
        response = client.get(f"/api/v1/tasks/{task.pk}/")

    sheet = response.json()["action_sheet"]
    assert len(sheet["partners"]) == len(sheet["funding"]) == 6
    assert sheet["indicators"] == [f"Indicateur {n}" for n in range(6)]
    assert sheet["total_funding"] == "60000.00"


def test_the_schema_describes_the_task_and_absence_endpoints(api_client):
    schema = api_client.get("/api/v1/schema/", {"format": "json"}).json()

    assert {
        "/api/v1/inbox/",
        "/api/v1/tasks/{id}/",
        "/api/v1/tasks/{id}/decision/",
        "/api/v1/delegations/",
        "/api/v1/delegations/{id}/cancel/",
        "/api/v1/contracts/{id}/vote/close/",
    } <= set(schema["paths"])
    decision = schema["paths"]["/api/v1/tasks/{id}/decision/"]["post"]
    assert set(decision["responses"]) == {"200", "400", "401", "403", "404", "409", "429"}
    inbox = schema["paths"]["/api/v1/inbox/"]["get"]
    assert {p["name"] for p in inbox["parameters"]} == {
        "kind",
        "contract",
        "overdue",
        "limit",
        "offset",
    }
    item = schema["components"]["schemas"]["TaskOutput"]["properties"]
    assert {
        "id",
        "kind",
        "contract",
        "action",
        "title",
        "due",
        "assignee",
        "on_behalf_of",
        "decisions",
    } <= set(item)
