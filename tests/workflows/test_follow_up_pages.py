"""The follow-up page of a signed contract's followed, in French, through the real views."""

import pytest
from django.test import Client

from tests.factories import UserFactory
from tests.workflows.conftest import followed_of, signed_contract_of
from workflows.models import ActionStatus, Contract, IndicatorValue

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_contract(signed_once, db) -> Contract:
    """Made once for the module (tests/workflows/conftest.py, signed_once)."""
    return signed_contract_of(signed_once)


@pytest.fixture
def followed(signed_contract):
    return followed_of(signed_contract)


def browser_for(user) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="fr")
    client.force_login(user)
    return client


def test_the_contract_page_leads_to_each_action_follow_up(signed_contract, followed, coordinator):
    page = browser_for(coordinator).get(f"/contrats/{signed_contract.pk}/")

    assert f'href="/fiches/{followed.pk}/suivi/"' in page.content.decode()


def test_the_pilot_records_a_value_and_reads_it_against_the_target(
    signed_contract, followed, pilot
):
    client = browser_for(pilot)

    response = client.post(
        f"/fiches/{followed.pk}/suivi/",
        {"indicator": "Médecins installés", "year": "2025", "value": "2,5", "source": "URPS"},
        follow=True,
    )

    text = response.content.decode()
    assert response.status_code == 200
    assert "La valeur de «\u00a0Médecins installés\u00a0» pour 2025 est enregistrée." in text
    assert "cible" in text
    assert "URPS" in text
    assert IndicatorValue.objects.get().value == 2.5


def test_a_wrong_value_is_shown_beside_the_form_and_nothing_recorded(
    signed_contract, followed, pilot
):
    response = browser_for(pilot).post(
        f"/fiches/{followed.pk}/suivi/",
        {"indicator": "Médecins installés", "year": "1990", "value": "2"},
    )

    assert response.status_code == 400
    beside_the_year = response.content.decode().split('id="id_year_error"')[1].split("</ul>")[0]
    assert "période du contrat" in beside_the_year
    assert not IndicatorValue.objects.exists()


def test_the_pilot_starts_the_action_then_abandons_it_with_a_reason(
    signed_contract, followed, pilot
):
    client = browser_for(pilot)

    client.post(f"/fiches/{followed.pk}/suivi/start/")
    refused = client.post(f"/fiches/{followed.pk}/suivi/abandon/", {"reason": ""})
    client.post(f"/fiches/{followed.pk}/suivi/abandon/", {"reason": "Plus de financement"})

    assert refused.status_code == 400
    followed.refresh_from_db()
    assert followed.status == ActionStatus.ABANDONED


def test_someone_else_reads_but_neither_moves_nor_records(signed_contract, followed):
    member = signed_contract.steering_committee.members.exclude(
        pk=signed_contract.steering_committee.chair_id
    )[0]
    client = browser_for(member)

    page = client.get(f"/fiches/{followed.pk}/suivi/")
    refused = client.post(f"/fiches/{followed.pk}/suivi/start/")

    assert page.status_code == 200
    assert "Enregistrer la valeur" not in page.content.decode()
    assert refused.status_code == 403
    stranger = browser_for(UserFactory())
    assert stranger.get(f"/fiches/{followed.pk}/suivi/").status_code == 404


def test_a_reason_the_form_refuses_is_said_and_nothing_moves(signed_contract, followed, pilot):
    response = browser_for(pilot).post(
        f"/fiches/{followed.pk}/suivi/abandon/", {"reason": "Plus de\x00financement"}
    )

    assert response.status_code == 400
    followed.refresh_from_db()
    assert followed.status == "validated"
