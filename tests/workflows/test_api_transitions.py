"""Coordinator transitions through the API: who may fire them, when, and with what."""

import datetime

import pytest
from django.utils import timezone

from tests.factories import ActionFactory, ContractFactory
from tests.flows import ensure_committee_and_signatory, walk_to_deliberation, walk_to_signed
from workflows.models import Contract, HistoryEntry

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


@pytest.fixture
def action(contract):
    """An action of a contract that may be launched (committee and mandatory signatory)."""
    ensure_committee_and_signatory(contract)
    return ActionFactory(contract=contract)


@pytest.fixture
def lead(action):
    """A working-group lead: takes part in the contract, does not coordinate it."""
    return action.working_group.leads.order_by("pk").first()


@pytest.fixture
def as_coordinator(api_client, coordinator):
    api_client.force_authenticate(coordinator)
    return api_client


def fire(client, contract, name, body=None):
    return client.post(
        f"/api/v1/contracts/{contract.pk}/transitions/{name}/", body or {}, format="json", **EN
    )


def last_entry(contract) -> HistoryEntry:
    """The last change of status (task entries follow it in the history)."""
    return (
        HistoryEntry.objects.filter(contract=contract, event="transition").order_by("-seq").first()
    )


# --- launch_review ------------------------------------------------------------------------


def test_the_coordinator_launches_the_review(as_coordinator, contract, action):
    response = fire(as_coordinator, contract, "launch_review")

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == contract.pk
    assert body["status"] == "review"
    assert [a["status"] for a in body["actions"]] == ["review"]
    assert body["available_transitions"] == ["suspend", "withdraw"]
    contract.refresh_from_db()
    assert contract.status == "review"
    entry = HistoryEntry.objects.get(contract=contract, name="launch_review")
    assert (entry.actor_username, entry.from_state, entry.to_state) == (
        "coordinatrice",
        "draft",
        "review",
    )


def test_a_working_group_lead_may_not_launch_the_review(api_client, lead, contract):
    api_client.force_authenticate(lead)

    response = fire(api_client, contract, "launch_review")

    assert response.status_code == 403
    assert response.json() == {
        "detail": "Only a coordinator of this contract may do this.",
        "errors": [],
    }
    contract.refresh_from_db()
    assert contract.status == "draft"
    assert not HistoryEntry.objects.filter(contract=contract).exists()


def test_a_stranger_gets_404_for_a_transition_on_someone_elses_contract(
    api_client, stranger, contract, action
):
    api_client.force_authenticate(stranger)

    response = fire(api_client, contract, "launch_review")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "errors": []}
    contract.refresh_from_db()
    assert contract.status == "draft"


def test_launching_the_review_twice_is_a_conflict_that_says_why(as_coordinator, contract, action):
    assert fire(as_coordinator, contract, "launch_review").status_code == 200

    response = fire(as_coordinator, contract, "launch_review")

    assert response.status_code == 409
    assert response.json() == {
        "detail": '"Launch the review" is not possible while the contract is '
        '"Working-group review".',
        "errors": [],
    }


def test_launching_the_review_of_a_contract_without_actions_is_refused_with_the_reason(
    as_coordinator, contract
):
    response = fire(as_coordinator, contract, "launch_review")

    assert response.status_code == 409
    assert response.json() == {"detail": "The contract has no action to review.", "errors": []}
    contract.refresh_from_db()
    assert contract.status == "draft"


def test_launching_the_review_of_a_contract_without_a_steering_committee_says_so(
    as_coordinator, contract
):
    ActionFactory(contract=contract)

    response = fire(as_coordinator, contract, "launch_review")

    assert response.status_code == 409
    assert response.json() == {
        "detail": "The contract has no steering committee to validate it.",
        "errors": [],
    }
    contract.refresh_from_db()
    assert contract.status == "draft"


@pytest.mark.parametrize("name", ["open_committee", "complete_signing", "explode"])
def test_a_transition_that_is_not_a_coordinators_gets_404(as_coordinator, contract, name):
    response = fire(as_coordinator, contract, name)

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "errors": []}


def test_a_transition_cannot_be_read_with_get(as_coordinator, contract, action):
    response = as_coordinator.get(
        f"/api/v1/contracts/{contract.pk}/transitions/launch_review/", **EN
    )

    assert response.status_code == 405
    assert response.json() == {"detail": 'Method "GET" not allowed.', "errors": []}


# --- suspend and resume -------------------------------------------------------------------


def test_suspending_needs_a_reason(as_coordinator, contract):
    response = fire(as_coordinator, contract, "suspend")

    assert response.status_code == 400
    assert response.json() == {
        "detail": "reason: This field is required.",
        "errors": ["reason: This field is required."],
    }


def test_a_blank_reason_is_no_reason(as_coordinator, contract):
    response = fire(as_coordinator, contract, "suspend", {"reason": "   "})

    assert response.status_code == 400
    assert response.json()["errors"] == ["reason: This field may not be blank."]
    contract.refresh_from_db()
    assert contract.status == "draft"


def test_resume_returns_to_the_state_the_contract_was_suspended_in(
    as_coordinator, contract, action
):
    fire(as_coordinator, contract, "launch_review")

    suspended = fire(as_coordinator, contract, "suspend", {"reason": "Élections municipales"})

    assert suspended.status_code == 200
    assert suspended.json()["status"] == "suspended"
    assert suspended.json()["suspended_from"] == "review"
    assert suspended.json()["available_transitions"] == ["resume", "withdraw"]
    assert last_entry(contract).comment == "Élections municipales"

    resumed = fire(as_coordinator, contract, "resume")

    assert resumed.status_code == 200
    assert resumed.json()["status"] == "review"
    assert resumed.json()["suspended_from"] is None
    assert (last_entry(contract).name, last_entry(contract).to_state) == ("resume", "review")


def test_resuming_a_contract_that_is_not_suspended_is_a_conflict(as_coordinator, contract):
    response = fire(as_coordinator, contract, "resume")

    assert response.status_code == 409
    assert (
        response.json()["detail"]
        == '"Resume the work" is not possible while the contract is "Draft".'
    )


# --- withdraw -----------------------------------------------------------------------------


def test_the_coordinator_withdraws_a_contract_with_a_reason(as_coordinator, contract, action):
    response = fire(as_coordinator, contract, "withdraw", {"reason": "Fusion des communautés"})

    assert response.status_code == 200
    assert response.json()["status"] == "withdrawn"
    assert response.json()["available_transitions"] == []
    contract.refresh_from_db()
    assert contract.withdrawal_reason == "Fusion des communautés"
    assert (last_entry(contract).name, last_entry(contract).comment) == (
        "withdraw",
        "Fusion des communautés",
    )


def test_withdrawing_needs_a_reason(as_coordinator, contract):
    response = fire(as_coordinator, contract, "withdraw", {"reason": ""})

    assert response.status_code == 400
    assert response.json()["errors"] == ["reason: This field may not be blank."]


def test_a_withdrawn_contract_cannot_be_withdrawn_again(as_coordinator, contract):
    fire(as_coordinator, contract, "withdraw", {"reason": "Fusion"})

    response = fire(as_coordinator, contract, "withdraw", {"reason": "Encore"})

    assert response.status_code == 409
    assert response.json()["detail"] == (
        '"Withdraw the contract" is not possible while the contract is "Withdrawn".'
    )


# --- record_deliberation ------------------------------------------------------------------


def test_recording_the_deliberation_needs_a_number_and_a_date(as_coordinator, contract):
    response = fire(as_coordinator, contract, "record_deliberation")

    assert response.status_code == 400
    assert response.json()["errors"] == [
        "number: This field is required.",
        "date: This field is required.",
    ]


def test_a_deliberation_date_must_be_a_date(as_coordinator, contract):
    response = fire(
        as_coordinator, contract, "record_deliberation", {"number": "D-1", "date": "14/03/2024"}
    )

    assert response.status_code == 400
    assert response.json()["errors"][0].startswith("date: Date has wrong format.")


def test_recording_the_deliberation_opens_the_signing(
    as_coordinator, coordinator, contract, action, lead
):
    walk_to_deliberation(contract, coordinator)

    response = fire(
        as_coordinator,
        contract,
        "record_deliberation",
        {"number": "DEL-2024-031", "date": "2024-03-14"},
    )

    assert response.status_code == 200
    assert response.json()["status"] == "signing"
    assert response.json()["deliberation"] == {"number": "DEL-2024-031", "date": "2024-03-14"}
    entry = last_entry(contract)
    assert entry.name == "record_deliberation"
    assert entry.data["number"] == "DEL-2024-031"
    assert entry.data["date"] == "2024-03-14"
    assert entry.data["document_sha256"] == response.json()["document_sha256"]
    assert len(entry.data["document_sha256"]) == 64


def test_recording_a_deliberation_before_the_committee_is_a_conflict(
    as_coordinator, contract, action
):
    response = fire(
        as_coordinator,
        contract,
        "record_deliberation",
        {"number": "DEL-2024-031", "date": "2024-03-14"},
    )

    assert response.status_code == 409
    assert response.json()["detail"] == (
        '"Record the deliberation" is not possible while the contract is "Draft".'
    )


# --- close --------------------------------------------------------------------------------


def test_closing_is_refused_before_the_end_of_the_period(
    as_coordinator, coordinator, contract, action, lead
):
    walk_to_signed(contract, coordinator)
    assert contract.period_end > timezone.localdate()

    response = fire(as_coordinator, contract, "close")

    assert response.status_code == 409
    assert response.json() == {
        "detail": "The contract can be closed only at or after the end of its period.",
        "errors": [],
    }
    contract.refresh_from_db()
    assert contract.status == "signed"


def test_the_coordinator_closes_a_signed_contract_once_its_period_is_over(api_client, coordinator):
    contract = ContractFactory(
        coordinator=coordinator,
        period_start=datetime.date(2019, 9, 1),
        period_end=timezone.localdate() - datetime.timedelta(days=1),
    )
    ActionFactory(contract=contract)
    walk_to_signed(contract, coordinator)
    api_client.force_authenticate(coordinator)
    assert api_client.get(f"/api/v1/contracts/{contract.pk}/").json()["available_transitions"] == [
        "close"
    ]

    refused = fire(api_client, contract, "close")
    response = fire(
        api_client, contract, "close", {"without_final_review": "Bilan final fait par l'ARS"}
    )

    assert refused.status_code == 409
    assert "has not taken place" in refused.json()["detail"]
    assert response.status_code == 200
    assert response.json()["status"] == "closed"
    assert response.json()["available_transitions"] == []
    entry = last_entry(contract)
    assert (entry.name, entry.to_state) == ("close", "closed")
    assert entry.data == {
        "final_review": None,
        "without_final_review": "Bilan final fait par l'ARS",
    }


def test_a_lead_sending_a_malformed_body_is_still_told_it_is_not_theirs(api_client, lead, contract):
    api_client.force_authenticate(lead)
    response = fire(api_client, contract, "suspend", {"reason": ""})
    assert response.status_code == 403
    contract.refresh_from_db()
    assert contract.status == "draft"


def test_a_comment_given_with_a_transition_lands_in_the_history(as_coordinator, contract):
    Contract.objects.filter(pk=contract.pk).update(
        status="suspended", suspended_from="draft", suspended_at=timezone.now()
    )
    response = fire(as_coordinator, contract, "resume", {"comment": "Fusion achevée"})
    assert response.status_code == 200
    assert (last_entry(contract).name, last_entry(contract).comment) == ("resume", "Fusion achevée")


def test_a_future_deliberation_date_is_bad_input(
    as_coordinator, coordinator, contract, action, lead
):
    walk_to_deliberation(contract, coordinator)
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    response = fire(
        as_coordinator, contract, "record_deliberation", {"number": "D-1", "date": str(tomorrow)}
    )
    assert response.status_code == 400
    assert "future" in response.json()["detail"]
