"""The annual review through the API and the pages: launched by a coordinator only, on a
signed contract, once a year; the pilots' reports as task decisions; the report as JSON and
as PDF; the contract page's section and the report task page, in French."""

import pytest
from rest_framework.test import APIClient

from tests.factories import ActionFactory, ContractFactory, UserFactory
from tests.flows import open_tasks, vote, walk_to_signed
from tests.shared import making, module_transaction
from tests.workflows.conftest import action_followed, followed_of
from workflows.models import AnnualReview, Contract, Indicator, TaskKind, User

pytestmark = pytest.mark.django_db


def client_for(user: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture(scope="module")
def two_actions_once(django_db_setup, django_db_blocker):
    """A signed contract with A1 (`followed`, the `pilot`'s) and A2, each with an indicator:
    made once for the module's tests (tests/shared.py); the `coordinator` and `pilot`
    fixtures find its people."""
    with module_transaction(django_db_blocker):
        with making(django_db_blocker):
            coordinator = UserFactory(username="coordinatrice")
            contract = ContractFactory(coordinator=coordinator)
            pilot = UserFactory(username="pilote", first_name="Léa", last_name="Martin")
            action_followed(contract, pilot)
            other = ActionFactory(
                contract=contract, code="A2", pilot=UserFactory(username="pilote2")
            )
            Indicator.objects.create(
                action=other, label="Ateliers tenus", baseline="2", target="10"
            )
            walk_to_signed(contract, coordinator)
        yield contract.pk


@pytest.fixture
def two_actions(two_actions_once, db) -> Contract:
    return Contract.objects.get(pk=two_actions_once)


@pytest.fixture
def followed(two_actions):
    return followed_of(two_actions)


def launch_url(contract) -> str:
    return f"/api/v1/contracts/{contract.pk}/transitions/launch_annual_review/"


def test_a_coordinator_launches_a_year(two_actions, coordinator):
    response = client_for(coordinator).post(launch_url(two_actions), {"year": 2025}, format="json")

    assert response.status_code == 201
    assert response.json()["year"] == 2025
    assert response.json()["status"] == "collecting"
    assert response.json()["reports"] == {"expected": 2, "submitted": 0}


def test_launching_refuses_strangers_pilots_a_second_time_and_years_outside(
    contract, coordinator, pilot, stranger
):
    action_followed(contract, pilot)  # a draft of its own, walked here
    assert (
        client_for(coordinator).post(launch_url(contract), {"year": 2025}, format="json")
    ).status_code == 409  # not signed yet
    walk_to_signed(contract, coordinator)
    client = client_for(coordinator)

    assert client_for(stranger).post(launch_url(contract), {"year": 2025}).status_code == 404
    assert client_for(pilot).post(launch_url(contract), {"year": 2025}).status_code == 403
    assert client.post(launch_url(contract), {"year": 2031}, format="json").status_code == 400
    assert client.post(launch_url(contract), {}, format="json").status_code == 400
    assert client.post(launch_url(contract), {"year": 2025}, format="json").status_code == 201
    assert client.post(launch_url(contract), {"year": 2025}, format="json").status_code == 409
    assert AnnualReview.objects.count() == 1


def test_pilots_submit_their_reports_and_the_committee_adopts_the_report(
    two_actions, coordinator, followed, pilot
):
    client_for(coordinator).post(launch_url(two_actions), {"year": 2025}, format="json")
    tasks = open_tasks(two_actions, TaskKind.REPORT)
    mine = next(task for task in tasks if task.owner == pilot)

    refused = client_for(pilot).post(
        f"/api/v1/tasks/{mine.pk}/decision/",
        {"decision": "submit", "progress": "abandoned"},
        format="json",
    )
    not_theirs = client_for(coordinator).post(
        f"/api/v1/tasks/{mine.pk}/decision/", {"decision": "submit", "progress": "done"}
    )
    for task in tasks:
        answer = client_for(task.owner).post(
            f"/api/v1/tasks/{task.pk}/decision/",
            {
                "decision": "submit",
                "progress": "in_progress",
                "indicators": [{"indicator": task.action.indicators.first().label, "value": "2,5"}],
                "comment": "En bonne voie",
            },
            format="json",
        )
        assert answer.status_code == 200, answer.json()
    vote(two_actions)
    report = client_for(pilot).get(f"/api/v1/contracts/{two_actions.pk}/reports/2025/")
    pdf = client_for(pilot).get(f"/api/v1/contracts/{two_actions.pk}/reports/2025.pdf")

    assert refused.status_code == 400  # abandoning needs a reason
    assert not_theirs.status_code == 403
    body = report.json()
    assert body["status"] == "adopted"
    assert body["vote"]["outcome"] == "validated"
    assert len(body["report_sha256"]) == 64
    assert [action["code"] for action in body["actions"]] == ["A1", "A2"]
    assert body["actions"][0]["report"]["progress"] == "in_progress"
    assert body["actions"][0]["indicators"][0]["values"] == [{"year": 2025, "value": "2.5"}]
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")


def test_the_coordinator_closes_the_collection_through_the_api(
    two_actions, coordinator, pilot, stranger
):
    client = client_for(coordinator)
    client.post(launch_url(two_actions), {"year": 2025}, format="json")
    close = f"/api/v1/contracts/{two_actions.pk}/reports/2025/close/"

    assert client.post(close).status_code == 409  # no report in yet
    mine = next(task for task in open_tasks(two_actions, TaskKind.REPORT) if task.owner == pilot)
    client_for(pilot).post(
        f"/api/v1/tasks/{mine.pk}/decision/",
        {"decision": "submit", "progress": "in_progress"},
        format="json",
    )
    assert client_for(pilot).post(close).status_code == 403
    assert client_for(stranger).post(close).status_code == 404
    closed = client.post(close)

    assert closed.status_code == 200
    assert closed.json()["status"] == "voting"
    assert closed.json()["reports"] == {"expected": 2, "submitted": 1}
    assert client.post(close).status_code == 409


def test_reports_of_a_year_never_launched_are_not_found(two_actions, coordinator):
    client = client_for(coordinator)

    assert client.get(f"/api/v1/contracts/{two_actions.pk}/reports/2025/").status_code == 404
    assert client.get(f"/api/v1/contracts/{two_actions.pk}/reports/2025.pdf").status_code == 404


def test_the_draft_pdf_while_collecting(two_actions, coordinator):
    client = client_for(coordinator)
    client.post(launch_url(two_actions), {"year": 2025}, format="json")

    pdf = client.get(f"/api/v1/contracts/{two_actions.pk}/reports/2025.pdf")

    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF")
    assert not AnnualReview.objects.get().report_sha256


# --- Pages ----------------------------------------------------------------------------------


def test_the_contract_page_shows_the_indicators_and_launches_a_review(
    client, two_actions, coordinator
):
    client.force_login(coordinator)

    page = client.get(f"/contrats/{two_actions.pk}/")
    launched = client.post(
        f"/contrats/{two_actions.pk}/revues-annuelles/", {"year": "2025"}, follow=True
    )

    html = page.content.decode()
    assert "Suivi des indicateurs" in html
    assert "Médecins installés" in html
    assert "Lancer la revue annuelle" in html
    assert "La revue annuelle 2025 est lancée" in launched.content.decode()
    assert "Clore la collecte" in launched.content.decode()
    assert AnnualReview.objects.filter(year=2025).exists()


def test_the_report_task_page_in_french(client, two_actions, coordinator, followed, pilot):
    client.force_login(coordinator)
    client.post(f"/contrats/{two_actions.pk}/revues-annuelles/", {"year": "2025"})
    task = next(task for task in open_tasks(two_actions, TaskKind.REPORT) if task.owner == pilot)
    client.force_login(pilot)

    page = client.get(f"/taches/{task.pk}/")
    sent = client.post(
        f"/taches/{task.pk}/",
        {
            "decision": "submit",
            "progress": "in_progress",
            "indicator_0": "1",
            "comment": "Un cabinet ouvert",
        },
        follow=True,
    )

    html = page.content.decode()
    assert "Votre rapport 2025 sur l\u2019action A1" in html
    assert "Médecins installés (médecins)" in html
    assert "Envoyer le rapport" in html
    assert sent.status_code == 200
    task.refresh_from_db()
    assert task.status == "DONE"
    assert followed.indicator_values.get(year=2025).value == 1
