"""Listing and reading contracts through the API: each caller sees only their own."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import (
    ActionFactory,
    ContractFactory,
    OrganisationFactory,
    SignatoryFactory,
    SteeringCommitteeFactory,
    UserFactory,
)
from workflows.models import SignatoryKind

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


@pytest.fixture
def action(contract):
    return ActionFactory(contract=contract, code="T1-A1", title="Maison de santé")


@pytest.fixture
def lead(action):
    """A working-group lead: takes part in the contract, does not coordinate it."""
    return action.working_group.leads.order_by("pk").first()


@pytest.fixture
def other_contract():
    """Someone else's contract, with its own coordinator."""
    return ContractFactory(reference="CTG-AILLEURS-2024", kind="CTG")


def detail_url(contract) -> str:
    return f"/api/v1/contracts/{contract.pk}/"


def test_the_coordinator_lists_only_the_contracts_they_take_part_in(
    api_client, coordinator, contract, other_contract
):
    api_client.force_authenticate(coordinator)

    response = api_client.get("/api/v1/contracts/")

    assert response.status_code == 200
    assert response.json() == [
        {
            "id": contract.pk,
            "reference": contract.reference,
            "title": contract.title,
            "kind": "CLS",
            "status": "draft",
            "version": 1,
        }
    ]


def test_a_working_group_lead_sees_the_contract_once(api_client, lead, contract, other_contract):
    ActionFactory(contract=contract, working_group=lead.led_working_groups.get())
    api_client.force_authenticate(lead)

    response = api_client.get("/api/v1/contracts/")

    assert response.status_code == 200
    assert [item["reference"] for item in response.json()] == [contract.reference]


def test_a_stranger_lists_no_contract(api_client, stranger, contract):
    api_client.force_authenticate(stranger)

    response = api_client.get("/api/v1/contracts/")

    assert response.status_code == 200
    assert response.json() == []


def test_staff_list_every_contract(api_client, contract, other_contract):
    api_client.force_authenticate(UserFactory(username="admin", is_staff=True))

    response = api_client.get("/api/v1/contracts/")

    assert response.status_code == 200
    assert {item["reference"] for item in response.json()} == {
        contract.reference,
        other_contract.reference,
    }


def test_the_detail_shows_the_contract_its_actions_and_signatories(
    api_client, coordinator, contract, action
):
    SteeringCommitteeFactory(contract=contract)
    ars = OrganisationFactory(code="ARS-OCC")
    director = UserFactory(username="dg.ars", organisation=ars)
    deputy = UserFactory(username="dga.ars", organisation=ars)
    SignatoryFactory(
        contract=contract,
        organisation=OrganisationFactory(code="CCTDC"),
        signer=UserFactory(username="president.cctdc"),
    )
    SignatoryFactory(
        contract=contract,
        organisation=ars,
        signer=director,
        represented_by=deputy,
        kind=SignatoryKind.ASSOCIATED,
        order=2,
    )
    api_client.force_authenticate(coordinator)

    response = api_client.get(detail_url(contract))

    assert response.status_code == 200
    assert response.json() == {
        "id": contract.pk,
        "reference": contract.reference,
        "title": contract.title,
        "kind": "CLS",
        "status": "draft",
        "version": 1,
        "territory": {
            "name": "Communauté de communes de test",
            "communes": 12,
            "population": 18000,
        },
        "period": {"start": "2024-01-01", "end": "2027-12-31"},
        "actions": [
            {
                "code": "T1-A1",
                "title": "Maison de santé",
                "status": "draft",
                "theme": action.theme.code,
                "working_group": action.working_group.code,
                "pilot": action.pilot.username,
            }
        ],
        "signatories": [
            {
                "organisation": "CCTDC",
                "kind": "mandatory",
                "signer": "president.cctdc",
                "represented_by": None,
                "order": 1,
                "status": "pending",
            },
            {
                "organisation": "ARS-OCC",
                "kind": "associated",
                "signer": "dg.ars",
                "represented_by": "dga.ars",
                "order": 2,
                "status": "pending",
            },
        ],
        "deliberation": None,
        "document_sha256": None,
        "suspended_from": None,
        "available_transitions": ["launch_review", "suspend", "withdraw"],
    }


def test_a_coordinator_cannot_launch_the_review_of_a_contract_without_actions(
    api_client, coordinator, contract
):
    api_client.force_authenticate(coordinator)

    response = api_client.get(detail_url(contract))

    assert response.json()["available_transitions"] == ["suspend", "withdraw"]


def test_a_lead_reads_the_contract_but_is_offered_no_transition(api_client, lead, contract):
    api_client.force_authenticate(lead)

    response = api_client.get(detail_url(contract))

    assert response.status_code == 200
    assert response.json()["reference"] == contract.reference
    assert response.json()["available_transitions"] == []


def test_a_stranger_gets_404_for_someone_elses_contract(api_client, stranger, contract):
    api_client.force_authenticate(stranger)

    response = api_client.get(detail_url(contract), **EN)

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "errors": []}


def test_an_unknown_contract_gets_the_same_404(api_client, coordinator, contract):
    api_client.force_authenticate(coordinator)

    response = api_client.get("/api/v1/contracts/999999/", **EN)

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "errors": []}


def test_staff_read_any_contract(api_client, contract):
    api_client.force_authenticate(UserFactory(username="admin", is_staff=True))

    response = api_client.get(detail_url(contract))

    assert response.status_code == 200
    assert response.json()["available_transitions"] == []


def test_the_detail_costs_the_same_queries_whatever_the_number_of_actions_and_signatories(
    api_client, coordinator, contract, action
):
    SignatoryFactory(contract=contract)
    api_client.force_authenticate(coordinator)
    with CaptureQueriesContext(connection) as small:
        assert api_client.get(detail_url(contract)).status_code == 200

    for _ in range(4):
        ActionFactory(contract=contract)
        SignatoryFactory(contract=contract, represented_by=UserFactory())
    with CaptureQueriesContext(connection) as large:
        response = api_client.get(detail_url(contract))

    assert len(response.json()["actions"]) == 5
    assert len(response.json()["signatories"]) == 5
    assert len(large) == len(small)
