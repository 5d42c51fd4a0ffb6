"""A signed contract's follow-up through the API: the pilot moves an action on and records
what its indicators measure, year after year; nobody else, and not before the signature."""

import pytest
from rest_framework.test import APIClient

from tests.factories import UserFactory
from tests.workflows.conftest import action_followed, followed_of, signed_contract_of
from workflows.models import Contract, HistoryEvent, IndicatorValue, User

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_contract(signed_once, db) -> Contract:
    """Made once for the module (tests/workflows/conftest.py, signed_once)."""
    return signed_contract_of(signed_once)


@pytest.fixture
def followed(signed_contract):
    return followed_of(signed_contract)


EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


def client_for(user: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def url(followed, path: str) -> str:
    return f"/api/v1/contracts/{followed.contract_id}/actions/{followed.code}/{path}"


def test_the_pilot_starts_then_completes_the_action(signed_contract, followed, pilot):
    client = client_for(pilot)

    started = client.post(url(followed, "transitions/start/"), {}, format="json")
    done = client.post(url(followed, "transitions/complete/"), {}, format="json")

    assert started.json() == {"code": "A1", "status": "in_progress"}
    assert done.json() == {"code": "A1", "status": "done"}
    steps = signed_contract.history.filter(event=HistoryEvent.ACTION_TRANSITION, action=followed)
    assert list(steps.values_list("name", flat=True))[-2:] == ["start", "complete"]


def test_abandoning_needs_a_reason(signed_contract, followed, pilot):
    client = client_for(pilot)

    refused = client.post(url(followed, "transitions/abandon/"), {}, format="json", **EN)
    abandoned = client.post(
        url(followed, "transitions/abandon/"), {"reason": "Plus de financement"}, format="json"
    )

    assert refused.status_code == 400
    assert abandoned.json()["status"] == "abandoned"
    entry = signed_contract.history.filter(action=followed).latest("seq")
    assert entry.comment == "Plus de financement"


def test_no_follow_up_before_the_signature(contract, pilot):
    followed = action_followed(contract, pilot)  # on a draft, not the module's signed contract
    client = client_for(pilot)

    assert client.post(url(followed, "transitions/start/"), {}, format="json").status_code == 409
    value = {"indicator": "Médecins installés", "year": 2025, "value": "1"}
    assert client.post(url(followed, "indicators/values/"), value, format="json").status_code == 409
    assert not IndicatorValue.objects.exists()


def test_only_the_pilot_or_a_coordinator_follows_up(signed_contract, followed):
    member = signed_contract.steering_committee.members.exclude(
        pk=signed_contract.steering_committee.chair_id
    )[0]
    client = client_for(member)  # sees the contract, decides nothing of the action

    assert client.post(url(followed, "transitions/start/"), {}, format="json").status_code == 403
    value = {"indicator": "Médecins installés", "year": 2025, "value": "1"}
    assert client.post(url(followed, "indicators/values/"), value, format="json").status_code == 403
    stranger = client_for(UserFactory())
    assert stranger.post(url(followed, "transitions/start/"), {}, format="json").status_code == 404
    assert stranger.get(url(followed, "indicators/")).status_code == 404


def test_values_by_year_are_read_back_with_their_target(signed_contract, followed, pilot):
    client = client_for(pilot)
    for year, value in ((2025, "1"), (2026, "2,5")):
        response = client.post(
            url(followed, "indicators/values/"),
            {"indicator": "Médecins installés", "year": year, "value": value, "source": "URPS"},
            format="json",
        )
        assert response.status_code == 201, response.json()

    indicators = client.get(url(followed, "indicators/")).json()

    assert indicators[0]["target"] == "3"
    assert [(v["year"], v["value"]) for v in indicators[0]["values"]] == [
        (2025, "1"),
        (2026, "2.5"),
    ]
    assert signed_contract.history.filter(event=HistoryEvent.INDICATOR_VALUE).count() == 2


def test_a_second_value_for_a_year_corrects_it_and_the_history_keeps_both(
    signed_contract, followed, pilot
):
    client = client_for(pilot)
    body = {"indicator": "Médecins installés", "year": 2025, "value": "1"}
    client.post(url(followed, "indicators/values/"), body, format="json")

    client.post(url(followed, "indicators/values/"), {**body, "value": "2"}, format="json")

    assert IndicatorValue.objects.get().value == 2
    entry = signed_contract.history.filter(event=HistoryEvent.INDICATOR_VALUE).latest("seq")
    assert entry.data == {
        "indicator": "Médecins installés",
        "year": 2025,
        "value": "2",
        "previous": "1",
    }


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"indicator": "Inconnu", "year": 2025, "value": "1"}, "is not an indicator"),
        ({"indicator": "Médecins installés", "year": 1990, "value": "1"}, "within the contract"),
        ({"indicator": "Médecins installés", "year": 2025, "value": "beaucoup"}, "not a number"),
        ({"indicator": "Médecins installés", "year": 2025, "value": "1e400"}, "not a number"),
    ],
)
def test_a_wrong_value_is_refused_with_the_reason(signed_contract, followed, pilot, body, problem):
    response = client_for(pilot).post(
        url(followed, "indicators/values/"), body, format="json", **EN
    )

    assert response.status_code == 400
    assert problem in response.json()["detail"]
    assert not IndicatorValue.objects.exists()
