"""The task pages: the inbox, one page per kind of task, absences, and what the contract page
shows of the flows. Every decision goes through the real flows (``tests/flows.py``).

As in test_pages.py, requests say ``Accept-Language: en`` so that assertions read the English
source text, except where the French formatting of dates and amounts is the point.
"""

import datetime
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from tests.factories import (
    PASSWORD,
    ActionFactory,
    ContractFactory,
    FundingLineFactory,
    SignatoryFactory,
    SteeringCommitteeFactory,
    UserFactory,
    WorkingGroupFactory,
)
from tests.flows import (
    approve_reviews,
    decide,
    launch,
    open_tasks,
    record_deliberation,
    walk_to_deliberation,
    walk_to_signed,
)
from tests.workflows.test_pages import assert_well_formed, text
from workflows import services
from workflows.models import (
    ActionStatus,
    AmendmentParty,
    CommitteeVote,
    ContractStatus,
    Delegation,
    SignatoryKind,
    SignatoryStatus,
    Task,
    TaskKind,
    TaskStatus,
)

pytestmark = pytest.mark.django_db

INBOX = reverse("workflows:inbox")
ABSENCES = reverse("workflows:absences")


@pytest.fixture(autouse=True)
def english(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture
def action(contract):
    action = ActionFactory(
        contract=contract,
        code="T1-A1",
        title="Accompagner les installations",
        objective="Attirer de jeunes médecins sur le territoire.",
    )
    FundingLineFactory(action=action, amount=Decimal("22500.00"))
    FundingLineFactory(action=action, amount=Decimal("2500.50"))
    action.indicators.create(label="Nombre d'installations", position=1)
    return action


@pytest.fixture
def leads(action):
    return list(action.working_group.leads.order_by("pk"))


@pytest.fixture
def committee(contract):
    members = [
        UserFactory(first_name="Élue", last_name="un"),
        UserFactory(first_name="Élu", last_name="deux"),
    ]
    return SteeringCommitteeFactory(contract=contract, members=members, quorum=2)


@pytest.fixture
def in_review(contract, action, committee, coordinator):
    """The contract under working-group review: one review task per lead."""
    SignatoryFactory(contract=contract)
    launch(contract, coordinator)
    return contract


def task_url(task: Task) -> str:
    return reverse("workflows:task_detail", args=[task.pk])


def detail_url(contract) -> str:
    return reverse("workflows:contract_detail", args=[contract.pk])


def review_task_of(user) -> Task:
    return Task.objects.get(owner=user, kind=TaskKind.REVIEW, status=TaskStatus.ASSIGNED)


def make_overdue(task: Task) -> None:
    Task.objects.filter(pk=task.pk).update(due=timezone.now() - datetime.timedelta(days=2))


# --- Inbox ----------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_the_log_in_page(client, in_review, leads):
    task = review_task_of(leads[0])
    for url in (INBOX, task_url(task), ABSENCES):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_the_inbox_lists_exactly_my_open_tasks_with_the_overdue_ones_marked(
    client, in_review, leads, coordinator
):
    mine = review_task_of(leads[0])
    make_overdue(mine)
    other_contract = ContractFactory(coordinator=coordinator)
    other_action = ActionFactory(contract=other_contract, code="T9-A9")
    other_action.working_group.leads.set([leads[0]])
    launch(other_contract, coordinator)
    decide(review_task_of(leads[1]))  # the other lead's task: done, and not mine anyway

    client.force_login(leads[0])
    response = client.get(INBOX)

    page = text(response)
    assert response.status_code == 200
    assert "2 tasks wait for you." in page
    assert task_url(mine) in page
    mine_on_other = Task.objects.get(owner=leads[0], contract=other_contract)
    assert task_url(mine_on_other) in page
    assert "Review of an action sheet T1-A1" in page
    assert in_review.reference in page
    assert "Accompagner les installations" in page
    # Overdue is said in words, on the overdue task's row only.
    assert page.count("Overdue</strong>") == 1
    row = page[page.index(task_url(mine)) :]
    row = row[: row.index("</tr>")]
    assert "Overdue" in row
    assert_well_formed(response)


def test_the_inbox_shows_due_dates_the_french_way(client, in_review, leads):
    task = review_task_of(leads[0])
    Task.objects.filter(pk=task.pk).update(
        due=datetime.datetime(2031, 7, 4, 12, tzinfo=datetime.UTC)
    )
    client.force_login(leads[0])
    page = text(client.get(INBOX, HTTP_ACCEPT_LANGUAGE="fr"))
    assert "4 juillet 2031" in page


def test_the_inbox_filters_by_kind_contract_and_overdue(client, in_review, leads, coordinator):
    other_contract = ContractFactory(coordinator=coordinator)
    other_action = ActionFactory(contract=other_contract)
    other_action.working_group.leads.set([leads[0]])
    launch(other_contract, coordinator)
    here = Task.objects.get(owner=leads[0], contract=in_review)
    there = Task.objects.get(owner=leads[0], contract=other_contract)
    make_overdue(there)
    client.force_login(leads[0])

    by_contract = text(client.get(INBOX, {"contract": in_review.pk}))
    assert task_url(here) in by_contract
    assert task_url(there) not in by_contract
    assert "1 task matches your filters, out of 2 open." in by_contract

    overdue = text(client.get(INBOX, {"overdue": "on"}))
    assert task_url(there) in overdue
    assert task_url(here) not in overdue

    votes = client.get(INBOX, {"kind": TaskKind.VOTE})
    assert "No task matches these filters" in text(votes)
    assert "Show all my tasks" in text(votes)
    assert_well_formed(votes)

    reviews = text(client.get(INBOX, {"kind": TaskKind.REVIEW}))
    assert task_url(here) in reviews
    assert task_url(there) in reviews

    # A filter value that is not offered (an old link) is ignored, never an error page.
    stale = client.get(INBOX, {"contract": "999999", "kind": "rockets", "page": "x"})
    assert stale.status_code == 200
    assert task_url(here) in text(stale)


def test_an_empty_inbox_says_what_will_appear_there(client, stranger):
    client.force_login(stranger)
    response = client.get(INBOX)
    assert "Nothing to do for now" in text(response)
    assert "0 tasks wait for you." in text(response)
    assert_well_formed(response)


def test_the_header_links_to_the_inbox_with_the_count_of_open_tasks(client, in_review, leads):
    client.force_login(leads[0])
    page = text(client.get(reverse("workflows:contract_list")))
    assert f'href="{INBOX}"' in page
    assert "(1 open task)" in page
    assert "1 task waits for you." in page


def test_the_header_names_the_persons_organisation_read_with_them(client, in_review, leads):
    """The person a session names is read with their organisation, which every page's header
    shows (workflows.backends): no statement of its own."""
    lead = leads[0]
    assert lead.organisation is not None
    client.force_login(lead)
    with CaptureQueriesContext(connection) as queries:
        page = text(client.get(INBOX))
    assert lead.organisation.name in page
    assert not [q for q in queries if q["sql"].startswith('SELECT "workflows_organisation"')]
    assert len(queries) <= 9


def test_the_inbox_is_paginated_with_a_fixed_number_of_queries(client, in_review, leads):
    client.force_login(leads[0])
    with CaptureQueriesContext(connection) as few:
        assert client.get(INBOX).status_code == 200

    # Copies of the task, to fill more than one page.
    model = review_task_of(leads[0])
    copies = []
    for _ in range(59):
        model.pk = None
        copies.append(
            Task(**{f.attname: getattr(model, f.attname) for f in Task._meta.concrete_fields})
        )
    Task.objects.bulk_create(copies)

    with CaptureQueriesContext(connection) as many:
        response = client.get(INBOX)
    assert len(many) == len(few) <= 10  # the bound for an inbox page
    page = text(response)
    assert "60 tasks wait for you." in page
    assert page.count("<tr class") + page.count("<tr>") == 51  # the header row and 50 tasks
    assert "Page 1 of 2" in page
    assert "?page=2" in page
    second = text(client.get(INBOX, {"page": 2}))
    assert "Page 2 of 2" in second


def _amendment_reviewing(contract, coordinator, code: str) -> None:
    """Amendment no. 1 of the signed ``contract`` proposes a new title for sheet ``code``, and
    its review is launched: the sheet's working-group leads each get a review task."""
    api = APIClient()
    api.force_authenticate(coordinator)
    base = f"/api/v1/contracts/{contract.pk}/"
    assert api.post(f"{base}amendments/", {}, format="json").status_code == 201
    sheet = f"{base}actions/{code}/?amendment=1"
    version = api.get(sheet).json()["version"]
    changed = api.patch(sheet, {"version": version, "title": "Installer"}, format="json")
    assert changed.status_code == 200, changed.json()
    launched = api.post(f"{base}amendments/1/transitions/launch_review/", {}, format="json")
    assert launched.status_code == 200, launched.json()


def test_amendment_tasks_are_read_with_the_inbox_whatever_their_number(
    client, contract, action, leads, coordinator
):
    """An amendment's task says what it is about (its headline: the sheet, the amendment's
    number) on the inbox page and in the API, read with the page: one narrow query for each
    thing named (the amendments, the sheets proposed, the parties), whatever the number of
    lines, and none on a page without such tasks."""
    walk_to_signed(contract, coordinator)
    _amendment_reviewing(contract, coordinator, action.code)
    lead = leads[0]
    client.force_login(lead)
    api = APIClient()
    api.force_authenticate(lead)
    about = f"Review of sheet {action.code} proposed by amendment no. 1 to {contract.reference}"

    def statements() -> tuple[int, int, str, list]:
        with CaptureQueriesContext(connection) as page_queries:
            page = client.get(INBOX)
        with CaptureQueriesContext(connection) as api_queries:
            lines = api.get("/api/v1/inbox/", HTTP_ACCEPT_LANGUAGE="en")
        assert page.status_code == lines.status_code == 200
        return len(page_queries), len(api_queries), text(page), lines.json()

    # Reviews of another contract's sheets, and for a moment no amendment task.
    other = ContractFactory(coordinator=coordinator)
    group = WorkingGroupFactory(contract=other, leads=[lead])
    for _ in range(3):
        ActionFactory(contract=other, working_group=group)
    launch(other, coordinator)
    held = Task.objects.filter(owner=lead, amendment__isnull=False)
    (model,) = held
    held.update(owner=coordinator)
    page_none, api_none, _page, lines = statements()
    assert len(lines) == 3
    Task.objects.filter(pk=model.pk).update(owner=lead)

    page_one, api_one, page, lines = statements()
    assert [line["title"] for line in lines if line["contract"] == contract.pk] == [about]
    assert about in page
    # Its amendment and the sheet it proposes, read apart; the parties' read not sent.
    assert (page_one, api_one) == (page_none + 2, api_none + 2)

    # More of the amendment's tasks (its review's copies, its committee's vote, a party's
    # signature).
    model.refresh_from_db()
    signatory = contract.signatories.get()
    party = AmendmentParty.objects.create(
        amendment_id=model.amendment_id,
        amendment_version=1,
        signatory=signatory,
        organisation=signatory.organisation,
        kind=signatory.kind,
        signer=signatory.signer,
    )
    values = {f.attname: getattr(model, f.attname) for f in Task._meta.concrete_fields}
    copies = [Task(**{**values, "id": None}) for _ in range(4)]
    copies += [Task(**{**values, "id": None, "kind": TaskKind.VOTE}) for _ in range(2)]
    copies += [
        Task(
            **{
                **values,
                "id": None,
                "kind": TaskKind.SIGNATURE,
                "amendment_change_id": None,
                "amendment_party_id": party.pk,
            }
        )
        for _ in range(2)
    ]
    Task.objects.bulk_create(copies)

    page_many, api_many, page, lines = statements()
    vote = f"Committee vote on amendment no. 1 to {contract.reference}"
    signature = (
        f"Signature of amendment no. 1 to {contract.reference} for {signatory.organisation.name}"
    )
    assert len(lines) == 12
    assert sorted(line["title"] for line in lines if line["contract"] == contract.pk) == sorted(
        [about] * 5 + [vote] * 2 + [signature] * 2
    )
    assert page.count(about) == 5
    assert page.count(vote) == 2
    assert page.count(signature) == 2
    # The parties too now, once for both signatures: nothing more per line.
    assert (page_many, api_many) == (page_one + 1, api_one + 1)


# --- Review ---------------------------------------------------------------------------------


def test_the_review_page_shows_the_action_sheet_the_french_way(client, in_review, leads, action):
    client.force_login(leads[0])
    response = client.get(task_url(review_task_of(leads[0])), HTTP_ACCEPT_LANGUAGE="fr")
    page = text(response)
    assert response.status_code == 200
    assert "Attirer de jeunes médecins sur le territoire." in page
    assert action.pilot.display_name in page
    assert action.working_group.code in page
    assert "22\xa0500,00\xa0€" in page
    assert "2\xa0500,50\xa0€" in page
    assert "25\xa0000,50\xa0€" in page  # the total
    assert "Nombre d&#x27;installations" in page
    assert 'name="decision" value="approve"' in page
    assert 'name="decision" value="request_changes"' in page
    assert_well_formed(response)


def test_the_review_page_names_people_by_their_names(client, in_review, leads, action):
    lead = leads[0]
    lead.username, lead.civility, lead.first_name, lead.last_name = (
        "tech1.ars",
        "Mme",
        "Claire",
        "Martin",
    )
    lead.position = "cheffe de projet ARS"
    lead.save()
    pilot = action.pilot
    pilot.civility, pilot.first_name, pilot.last_name = "M.", "Jean", "Dupont"
    pilot.position = "coordinateur CLS"
    pilot.save()
    client.force_login(lead)

    page = text(client.get(task_url(review_task_of(lead)), HTTP_ACCEPT_LANGUAGE="fr"))

    # Who holds the task, and the leads of the sheet's working group: by name.
    assert "<dt>Attribuée à</dt>\n      <dd>Claire Martin</dd>" in page
    (leads_line,) = re.findall(r"Animateurs\u00a0: ([^<]*)<", page)
    assert "Claire Martin" in leads_line.split(", ")
    # The pilot with their position and organisation.
    assert f'Jean Dupont <span class="muted">(coordinateur CLS, {pilot.organisation.name})' in page
    # Nowhere by username, nor as their position alone.
    assert "tech1.ars" not in page
    assert pilot.username not in page


def test_approving_a_review_from_its_page_leads_back_to_the_inbox(client, in_review, leads, action):
    client.force_login(leads[0])
    page = text(client.get(task_url(review_task_of(leads[0]))))
    assert "Required to request changes" in page

    task = review_task_of(leads[0])
    response = client.post(task_url(task), {"decision": "approve"}, follow=True)

    assert response.redirect_chain == [(INBOX, 302)]
    assert "You approved the action sheet T1-A1." in text(response)
    assert 'role="status"' in text(response)
    assert task_url(task) not in text(response)
    task.refresh_from_db()
    assert task.status == TaskStatus.DONE
    assert task.decision == "approve"
    action.refresh_from_db()
    assert action.status == ActionStatus.REVIEW  # the other lead has not approved yet

    client.force_login(leads[1])
    response = client.post(task_url(review_task_of(leads[1])), {"decision": "approve"}, follow=True)
    action.refresh_from_db()
    assert action.status == ActionStatus.APPROVED


def test_asking_for_changes_needs_a_comment(client, in_review, leads, action):
    client.force_login(leads[0])
    task = review_task_of(leads[0])

    response = client.post(task_url(task), {"decision": "request_changes", "comment": "  "})

    assert response.status_code == 400
    page = text(response)
    assert 'class="error-summary" role="alert"' in page
    assert "Say in a comment what must change." in page
    assert 'href="#id_comment"' in page
    assert 'id="id_comment_error"' in page
    task.refresh_from_db()
    assert task.status == TaskStatus.ASSIGNED
    assert_well_formed(response)

    client.post(
        task_url(task), {"decision": "request_changes", "comment": "Chiffrer le budget 2021."}
    )
    action.refresh_from_db()
    assert action.status == ActionStatus.CHANGES_REQUESTED
    (revision,) = open_tasks(in_review, TaskKind.REVISION)
    assert revision.owner == action.pilot
    assert not open_tasks(in_review, TaskKind.REVIEW)  # the other lead's review is cancelled


def test_a_decision_without_a_button_is_refused_with_a_message(client, in_review, leads):
    client.force_login(leads[0])
    task = review_task_of(leads[0])
    response = client.post(task_url(task), {"decision": "sign"})
    assert response.status_code == 400
    assert "Choose a decision with one of the buttons." in text(response)
    task.refresh_from_db()
    assert task.status == TaskStatus.ASSIGNED


# --- Revision -------------------------------------------------------------------------------


def test_the_pilot_reads_the_comments_and_sends_the_sheet_back(client, in_review, leads, action):
    decide(review_task_of(leads[0]), "request_changes", comment="Chiffrer le budget 2021.")
    (revision,) = open_tasks(in_review, TaskKind.REVISION)
    client.force_login(action.pilot)

    response = client.get(task_url(revision))
    page = text(response)
    assert "Revision of action T1-A1" in page
    assert "Chiffrer le budget 2021." in page
    assert leads[0].display_name in page
    assert "Send back for review" in page
    assert_well_formed(response)

    response = client.post(
        task_url(revision), {"decision": "resubmit", "comment": "Budget chiffré."}, follow=True
    )
    assert "The action sheet T1-A1 is sent back for review." in text(response)
    action.refresh_from_db()
    assert action.status == ActionStatus.REVIEW
    assert {task.owner for task in open_tasks(in_review, TaskKind.REVIEW)} == set(leads)


# --- Vote -----------------------------------------------------------------------------------


@pytest.fixture
def in_committee(in_review):
    approve_reviews(in_review)
    in_review.refresh_from_db()
    assert in_review.status == ContractStatus.COMMITTEE
    return in_review


def vote_task_of(user) -> Task:
    return Task.objects.get(owner=user, kind=TaskKind.VOTE, status=TaskStatus.ASSIGNED)


def test_the_vote_page_shows_the_contract_its_actions_and_the_votes_cast(
    client, in_committee, committee, action
):
    member = committee.members.exclude(pk=committee.chair_id).first()
    client.force_login(member)
    response = client.get(task_url(vote_task_of(member)))
    page = text(response)
    assert response.status_code == 200
    assert in_committee.title in page
    assert "T1-A1" in page
    assert "Accompagner les installations" in page
    assert "0 votes cast</strong> out of 3 members; the quorum is 2." in page
    assert "Objection to action T1-A1, “Accompagner les installations”" in page
    assert "Close the vote" not in page  # not the chair
    assert_well_formed(response)


def test_rejecting_needs_a_comment_and_names_the_actions_objected_to(
    client, in_committee, committee, contract, action
):
    second = ActionFactory(contract=contract, code="T2-A1")  # not objected to
    members = list(committee.members.order_by("pk"))
    client.force_login(members[0])
    task = vote_task_of(members[0])
    objection = f"objection_{action.pk}"

    response = client.post(task_url(task), {"decision": "reject", objection: "Trop cher."})
    assert response.status_code == 400
    assert "A comment is required to reject." in text(response)
    assert "Trop cher." in text(response)  # what was typed is kept

    client.post(
        task_url(task),
        {
            "decision": "reject",
            "comment": "À revoir.",
            objection: "Trop cher.",
            f"objection_{second.pk}": " ",
        },
    )
    task.refresh_from_db()
    assert task.decision == "reject"
    assert task.data["actions"] == ["T1-A1"]
    assert task.data["objections"] == {"T1-A1": "Trop cher."}

    client.force_login(members[1])
    client.post(
        task_url(vote_task_of(members[1])),
        {"decision": "reject", "comment": "Idem.", objection: "Budget."},
    )
    in_committee.refresh_from_db()
    action.refresh_from_db()
    assert in_committee.status == ContractStatus.REVIEW
    assert action.status == ActionStatus.CHANGES_REQUESTED
    (revision,) = open_tasks(in_committee, TaskKind.REVISION)
    client.force_login(action.pilot)
    page = text(client.get(task_url(revision)))
    assert "Trop cher." in page
    assert "À revoir." in page


def test_a_member_abstains_with_the_page_s_button_and_the_tally_shows_it(
    client, in_committee, committee
):
    chair, first, second = committee.members.order_by("pk")
    client.force_login(first)
    task = vote_task_of(first)
    page = client.get(task_url(task), HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert '<button type="submit" name="decision" value="abstain"' in page
    assert "S\u2019abstenir</button>" in page

    response = client.post(task_url(task), {"decision": "abstain"}, follow=True)

    assert "Your vote is recorded: you abstained on the contract" in text(response)
    task.refresh_from_db()
    assert (task.decision, task.status) == ("abstain", TaskStatus.DONE)
    in_committee.refresh_from_db()
    assert in_committee.status == ContractStatus.COMMITTEE  # one abstention decides nothing
    decide(vote_task_of(second))
    decide(vote_task_of(chair))
    in_committee.refresh_from_db()
    assert in_committee.status == ContractStatus.DELIBERATION

    page = text(client.get(task_url(task)))
    assert "The committee validated the contract." in page
    assert "2 for, 0 against, 1 abstaining." in page


def test_the_chair_closes_the_vote_once_the_quorum_is_reached(
    client, contract, action, coordinator
):
    others = [UserFactory() for _ in range(4)]
    committee = SteeringCommitteeFactory(contract=contract, members=others, quorum=2)
    SignatoryFactory(contract=contract)
    launch(contract, coordinator)
    approve_reviews(contract)
    chair = committee.chair

    client.force_login(chair)
    chair_task = vote_task_of(chair)
    page = text(client.get(task_url(chair_task)))
    assert "Close the vote" not in page
    assert "once the quorum is reached" in page
    client.post(task_url(chair_task), {"decision": "approve"})
    decide(vote_task_of(others[0]))

    page = text(client.get(detail_url(contract)))
    assert "2 votes cast</strong> out of 5 members; the quorum is 2." in page
    assert "Close the vote" in page

    response = client.post(
        reverse("workflows:contract_close_vote", args=[contract.pk]), follow=True
    )
    assert "The vote is closed: the steering committee validated the contract." in text(response)
    contract.refresh_from_db()
    assert contract.status == ContractStatus.DELIBERATION
    vote = contract.votes.get()
    assert vote.closed_by == chair
    assert vote.outcome == CommitteeVote.Outcome.VALIDATED
    # The past round is on the contract page.
    page = text(response)
    assert "Past vote rounds" in page
    assert "Round 1 (version 1)" in page


def test_someone_else_than_the_chair_cannot_close_the_vote(client, in_committee, committee):
    member = committee.members.exclude(pk=committee.chair_id).first()
    client.force_login(member)
    response = client.post(
        reverse("workflows:contract_close_vote", args=[in_committee.pk]), follow=True
    )
    assert "Only the chair of the steering committee may close the vote." in text(response)
    in_committee.refresh_from_db()
    assert in_committee.status == ContractStatus.COMMITTEE


# --- Deliberation ---------------------------------------------------------------------------


def test_the_coordinator_records_the_deliberation_from_the_task_page(
    client, contract, action, coordinator
):
    walk_to_deliberation(contract, coordinator)
    (task,) = open_tasks(contract, TaskKind.DELIBERATION)
    client.force_login(coordinator)
    response = client.get(task_url(task))
    assert response.status_code == 200
    assert 'type="date"' in text(response)
    assert_well_formed(response)

    future = (timezone.localdate() + datetime.timedelta(days=3)).isoformat()
    response = client.post(
        task_url(task), {"decision": "record", "number": "DCC-2019-42", "date": future}
    )
    assert response.status_code == 400
    assert "The deliberation date cannot be in the future." in text(response)

    response = client.post(
        task_url(task),
        {"decision": "record", "number": "DCC-2019-42", "date": "2019-07-04", "comment": "Unanime"},
        follow=True,
    )
    assert "The deliberation is recorded" in text(response)
    contract.refresh_from_db()
    assert contract.status == ContractStatus.SIGNING
    assert contract.deliberation_number == "DCC-2019-42"
    assert contract.deliberation_date == datetime.date(2019, 7, 4)


# --- Signature ------------------------------------------------------------------------------


@pytest.fixture
def signing(contract, action, coordinator):
    SteeringCommitteeFactory(contract=contract)
    representative = UserFactory(civility="Mme", first_name="Anne", last_name="Représentante")
    signatory = SignatoryFactory(
        contract=contract, represented_by=representative, mandate_reference="Arrêté 2019-12"
    )
    walk_to_deliberation(contract, coordinator)
    record_deliberation(contract)
    contract.refresh_from_db()
    return signatory


def test_the_signature_page_shows_the_fingerprint_and_who_signs_for_whom(client, contract, signing):
    (task,) = open_tasks(contract, TaskKind.SIGNATURE)
    assert task.owner == signing.represented_by
    client.force_login(task.owner)
    response = client.get(task_url(task))
    page = text(response)
    assert response.status_code == 200
    assert contract.document_sha256[:8] in page
    assert f"Ms Anne Représentante for {signing.signer.display_name}, Chargé de mission" in page
    assert "Arrêté 2019-12" in page
    assert 'type="password"' in page
    assert 'autocomplete="current-password"' in page
    # The consent names the contract and its fingerprint.
    consent = page[page.index('for="id_consent"') :]
    consent = consent[: consent.index("</label>")]
    assert contract.reference in consent
    assert contract.document_sha256 in consent
    assert_well_formed(response)


def test_signing_needs_the_consent_and_the_right_password(client, contract, signing):
    (task,) = open_tasks(contract, TaskKind.SIGNATURE)
    client.force_login(task.owner)

    response = client.post(task_url(task), {"decision": "sign", "password": PASSWORD})
    assert response.status_code == 400
    assert "Tick the consent box to sign." in text(response)

    response = client.post(
        task_url(task), {"decision": "sign", "password": "not-it", "consent": "on"}
    )
    assert response.status_code == 400
    page = text(response)
    assert "The password is incorrect." in page
    assert 'href="#id_password"' in page
    assert "not-it" not in page  # a password is never sent back
    signing.refresh_from_db()
    assert signing.status == SignatoryStatus.PENDING
    task.refresh_from_db()
    assert task.status == TaskStatus.ASSIGNED
    assert_well_formed(response)

    response = client.post(
        task_url(task),
        {"decision": "sign", "password": PASSWORD, "consent": "on"},
        HTTP_USER_AGENT="Navigateur de test",
        follow=True,
    )
    assert f"You signed the contract {contract.reference}." in text(response)
    assert "is now “Signed”" in text(response)
    signing.refresh_from_db()
    contract.refresh_from_db()
    assert signing.status == SignatoryStatus.SIGNED
    assert contract.status == ContractStatus.SIGNED
    signature = contract.history.get(event="signature")
    assert signature.on_behalf_of == signing.signer
    assert signature.data["user_agent"] == "Navigateur de test"
    assert signature.data["ip_address"] == "127.0.0.1"


def test_declining_needs_a_reason(client, contract, signing):
    (task,) = open_tasks(contract, TaskKind.SIGNATURE)
    client.force_login(task.owner)
    page = text(client.get(task_url(task)))
    assert "the contract goes back to draft as a new version" in page  # a mandatory signatory

    response = client.post(task_url(task), {"decision": "decline", "comment": ""})
    assert response.status_code == 400
    assert "A reason is required to decline." in text(response)

    client.post(task_url(task), {"decision": "decline", "comment": "Désaccord sur l'axe 2."})
    contract.refresh_from_db()
    assert contract.status == ContractStatus.DRAFT
    assert contract.version == 2
    assert signing.kind == SignatoryKind.MANDATORY


# --- Someone else's task, or a task no longer open -----------------------------------------


def test_a_stranger_and_the_other_lead_get_a_404(client, in_review, leads, stranger):
    task = review_task_of(leads[0])
    for person in (stranger, leads[1]):
        client.force_login(person)
        assert client.get(task_url(task)).status_code == 404
        assert client.post(task_url(task), {"decision": "approve"}).status_code == 404
    assert client.get(reverse("workflows:task_detail", args=[999999])).status_code == 404
    task.refresh_from_db()
    assert task.status == TaskStatus.ASSIGNED


def test_the_coordinator_reads_a_leads_task_but_cannot_decide_it(
    client, in_review, leads, coordinator
):
    task = review_task_of(leads[0])
    client.force_login(coordinator)
    response = client.get(task_url(task))
    page = text(response)
    assert response.status_code == 200
    # The refusal a decision would meet (the API's too), and where to follow the task.
    assert f"This task is not yours: {leads[0].display_name} holds it." in page
    assert "You can follow it here." in page
    assert 'name="decision"' not in page
    assert "Accompagner les installations" in page  # the sheet, read-only
    assert_well_formed(response)

    response = client.post(task_url(task), {"decision": "approve"})
    assert response.status_code == 403
    assert 'role="alert"' in text(response)
    task.refresh_from_db()
    assert task.status == TaskStatus.ASSIGNED


def test_a_done_task_is_read_only_and_says_who_decided(client, in_review, leads):
    task = review_task_of(leads[0])
    decide(task, "approve", comment="Très clair.")
    client.force_login(leads[0])
    response = client.get(task_url(task))
    page = text(response)
    assert "This task was already completed on" in page
    assert "Decision taken" in page
    assert "Très clair." in page
    assert 'name="decision"' not in page
    assert_well_formed(response)

    response = client.post(task_url(task), {"decision": "approve"})
    assert response.status_code == 409
    assert 'role="alert"' in text(response)
    assert "This task was already completed" in text(response)
    assert Task.objects.filter(pk=task.pk, status=TaskStatus.DONE).count() == 1


def test_a_task_on_hold_says_why(client, in_review, leads, coordinator):
    services.suspend(contract=in_review, actor=coordinator, reason="Fusion des communes")
    task = Task.objects.get(owner=leads[0], kind=TaskKind.REVIEW)
    client.force_login(leads[0])
    page = text(client.get(task_url(task)))
    assert "this task is on hold until it resumes" in page
    assert "On hold" in page
    assert 'name="decision"' not in page
    assert client.post(task_url(task), {"decision": "approve"}).status_code == 409


# --- Absences -------------------------------------------------------------------------------


def test_declaring_an_absence_hands_my_tasks_over_and_cancelling_takes_them_back(
    client, in_review, leads, coordinator
):
    absent, colleague = leads
    task = review_task_of(absent)
    client.force_login(absent)
    response = client.get(ABSENCES)
    assert response.status_code == 200
    assert f'<option value="{colleague.pk}">' in text(response)
    assert f'<option value="{coordinator.pk}">' in text(response)
    assert_well_formed(response)

    today = timezone.localdate()
    response = client.post(
        ABSENCES,
        {
            "delegate": colleague.pk,
            "start": today.isoformat(),
            "end": (today + datetime.timedelta(days=7)).isoformat(),
        },
        follow=True,
    )
    assert f"Your absence is recorded: your tasks go to {colleague.display_name}" in text(response)
    task.refresh_from_db()
    assert task.owner == colleague
    assert task.on_behalf_of == absent
    assert "1 open task is with them" in text(response)

    # The delegate sees the task "for" the absent person, and may decide it.
    client.force_login(colleague)
    inbox = text(client.get(INBOX))
    assert f"{colleague.display_name} for {absent.display_name}" in inbox
    assert "during their absence" in inbox
    page = text(client.get(task_url(task)))
    assert 'name="decision" value="approve"' in page

    # The absent person reads it, and is told who handles it.
    client.force_login(absent)
    page = text(client.get(task_url(task)))
    assert f"While you are away, {colleague.display_name} handles this task for you." in page

    delegation = Delegation.objects.get(user=absent)
    response = client.post(reverse("workflows:absence_cancel", args=[delegation.pk]), follow=True)
    assert "your tasks are back with you" in text(response)
    task.refresh_from_db()
    assert task.owner == absent
    assert task.on_behalf_of is None


def test_an_absence_form_with_problems_says_so(client, in_review, leads, stranger):
    client.force_login(leads[0])
    today = timezone.localdate()
    response = client.post(
        ABSENCES,
        {
            "delegate": stranger.pk,  # not a colleague
            "start": today.isoformat(),
            "end": (today - datetime.timedelta(days=1)).isoformat(),
        },
    )
    assert response.status_code == 400
    page = text(response)
    assert "Choose the person in the list." in page
    assert "The absence ends before it starts." in page
    assert 'class="error-summary" role="alert"' in page
    assert not Delegation.objects.exists()
    assert_well_formed(response)


def test_an_overlapping_absence_is_refused_with_the_services_message(client, in_review, leads):
    today = timezone.localdate()
    services.delegation_declare(
        user=leads[0], delegate=leads[1], start=today, end=today + datetime.timedelta(days=3)
    )
    client.force_login(leads[0])
    response = client.post(
        ABSENCES,
        {
            "delegate": leads[1].pk,
            "start": (today + datetime.timedelta(days=1)).isoformat(),
            "end": (today + datetime.timedelta(days=5)).isoformat(),
        },
    )
    assert response.status_code == 400
    assert "You already declared an absence" in text(response)


def test_nobody_cancels_someone_elses_absence(client, in_review, leads):
    today = timezone.localdate()
    delegation = services.delegation_declare(
        user=leads[0], delegate=leads[1], start=today, end=today
    )
    client.force_login(leads[1])
    response = client.post(reverse("workflows:absence_cancel", args=[delegation.pk]))
    assert response.status_code == 404
    delegation.refresh_from_db()
    assert delegation.cancelled_at is None
    page = text(client.get(ABSENCES))
    assert "Colleagues whose tasks I handle" in page
    assert leads[0].display_name in page


# --- Contract page --------------------------------------------------------------------------


def test_the_contract_page_shows_progress_open_tasks_and_the_flow_diagram(
    client, in_review, leads, coordinator
):
    decide(review_task_of(leads[0]))
    make_overdue(review_task_of(leads[1]))
    client.force_login(coordinator)

    response = client.get(detail_url(in_review))

    page = text(response)
    assert response.status_code == 200
    assert "Waiting on whom" in page
    assert task_url(review_task_of(leads[1])) in page
    assert leads[1].display_name in page
    assert "Overdue" in page
    assert "0 approved or further out of 1" in page
    assert 'aria-current="step"' in page
    chart_url = reverse("workflows:contract_flow_chart", args=[in_review.pk])
    assert f'src="{chart_url}"' in page
    assert 'alt="Diagram of the approval flow' in page
    assert "History intact" in page  # the history and controls are still there
    assert "Coordinator actions" in page
    assert_well_formed(response)

    chart = client.get(chart_url)
    assert chart.status_code == 200
    assert chart["Content-Type"].startswith("image/svg+xml")
    assert chart.content.startswith(b"<svg")


def test_a_participant_sees_the_open_tasks_without_links_to_others_tasks(
    client, in_review, leads, action
):
    client.force_login(action.pilot)
    page = text(client.get(detail_url(in_review)))
    assert leads[0].display_name in page
    assert task_url(review_task_of(leads[0])) not in page


def test_a_stranger_gets_no_flow_diagram(client, in_review, stranger):
    client.force_login(stranger)
    chart_url = reverse("workflows:contract_flow_chart", args=[in_review.pk])
    assert client.get(chart_url).status_code == 404
    close_url = reverse("workflows:contract_close_vote", args=[in_review.pk])
    assert client.post(close_url).status_code == 404


def test_the_signature_progress_is_on_the_contract_page(client, contract, signing, coordinator):
    client.force_login(coordinator)
    page = text(client.get(detail_url(contract)))
    assert "0 collected out of 1 expected" in page
    assert "1 mandatory signature still expected" in page
    assert "Signature" in page
