"""A contract's history through the API: the chained entries, and checking the chain."""

import itertools

import pytest
from django.core.management import call_command

from tests.factories import ActionFactory
from tests.flows import approve_reviews, launch, tamper_with_history
from workflows.models import GENESIS_HASH, HistoryEntry

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


@pytest.fixture
def actions(contract):
    return [ActionFactory(contract=contract, code=code, position=n) for n, code in enumerate("AB")]


@pytest.fixture
def reviewed_contract(contract, coordinator, actions):
    """Review launched: one contract entry, one entry per action sent to review, then the
    review task of each of the actions' two leads, opened and notified: 11 entries."""
    launch(contract, coordinator)
    return contract


def history_url(contract) -> str:
    return f"/api/v1/contracts/{contract.pk}/history/"


def tamper(entry: HistoryEntry, comment: str) -> None:
    # The ORM refuses to update history entries, and PostgreSQL's trigger too: an intruder
    # would go around both.
    tamper_with_history(
        "UPDATE workflows_historyentry SET comment=%s WHERE id=%s", [comment, entry.pk]
    )


def test_the_history_lists_entries_oldest_first(api_client, coordinator, reviewed_contract):
    api_client.force_authenticate(coordinator)

    response = api_client.get(history_url(reviewed_contract))

    assert response.status_code == 200
    entries = response.json()
    assert [e["seq"] for e in entries] == list(range(1, 12))
    first = entries[0]
    assert set(first) == {
        "seq",
        "at",
        "actor",
        "on_behalf_of",
        "event",
        "name",
        "action",
        "from_state",
        "to_state",
        "comment",
        "data",
        "hash",
        "prev_hash",
        # The same entry in words, alongside (workflows/audit/labels.py).
        "event_label",
        "name_label",
        "summary",
        "actor_name",
        "on_behalf_of_name",
        "at_label",
        "details",
    }
    assert {k: first[k] for k in ("actor", "on_behalf_of", "event", "name", "action")} == {
        "actor": "coordinatrice",
        "on_behalf_of": None,
        "event": "transition",
        "name": "launch_review",
        "action": None,
    }
    assert (first["from_state"], first["to_state"], first["comment"], first["data"]) == (
        "draft",
        "review",
        "",
        {},
    )
    assert [(e["event"], e["name"], e["action"]) for e in entries[1:]] == [
        ("action_transition", "submit_for_review", "A"),
        ("action_transition", "submit_for_review", "B"),
        *[("task_created", "review", "A")] * 2,
        *[("task_created", "review", "B")] * 2,
        *[("notified", "task_assigned", None)] * 4,
    ]


def test_each_entry_links_to_the_previous_ones_hash(api_client, coordinator, reviewed_contract):
    api_client.force_authenticate(coordinator)

    entries = api_client.get(history_url(reviewed_contract)).json()

    assert entries[0]["prev_hash"] == GENESIS_HASH
    for previous, following in itertools.pairwise(entries):
        assert following["prev_hash"] == previous["hash"]
    assert len({e["hash"] for e in entries}) == 11


def test_automatic_transitions_have_no_actor(api_client, coordinator, reviewed_contract):
    approve_reviews(reviewed_contract)  # the last approval opens the committee's vote
    api_client.force_authenticate(coordinator)

    entries = api_client.get(history_url(reviewed_contract)).json()

    (opened,) = [entry for entry in entries if entry["name"] == "open_committee"]
    assert opened["actor"] is None
    approved = [entry for entry in entries if entry["name"] == "approve"]
    assert [entry["actor"] for entry in approved] == [None, None]


def test_a_participant_who_is_not_coordinator_reads_the_history(
    api_client, reviewed_contract, actions
):
    api_client.force_authenticate(actions[0].working_group.leads.first())

    response = api_client.get(history_url(reviewed_contract))

    assert response.status_code == 200
    assert len(response.json()) == 11


def test_a_stranger_gets_404_for_the_history_of_someone_elses_contract(
    api_client, stranger, reviewed_contract
):
    api_client.force_authenticate(stranger)

    history = api_client.get(history_url(reviewed_contract), **EN)
    verify = api_client.get(f"{history_url(reviewed_contract)}verify/", **EN)

    assert (history.status_code, history.json()) == (404, {"detail": "Not found.", "errors": []})
    assert (verify.status_code, verify.json()) == (404, {"detail": "Not found.", "errors": []})


def test_an_intact_history_verifies(api_client, coordinator, reviewed_contract):
    api_client.force_authenticate(coordinator)

    response = api_client.get(f"{history_url(reviewed_contract)}verify/")

    assert response.status_code == 200
    assert response.json() == {
        "valid": True,
        "entries": 11,
        "first_bad_seq": None,
        "problem": "",
    }


def test_an_empty_history_verifies(api_client, coordinator, contract):
    api_client.force_authenticate(coordinator)

    response = api_client.get(f"{history_url(contract)}verify/")

    assert response.json() == {"valid": True, "entries": 0, "first_bad_seq": None, "problem": ""}


def test_an_entry_edited_behind_the_orms_back_breaks_the_chain_at_that_entry(
    api_client, coordinator, reviewed_contract
):
    tamper(HistoryEntry.objects.get(contract=reviewed_contract, seq=2), "rien à signaler")
    api_client.force_authenticate(coordinator)

    response = api_client.get(f"{history_url(reviewed_contract)}verify/")

    assert response.status_code == 200
    assert response.json() == {
        "valid": False,
        "entries": 11,
        "first_bad_seq": 2,
        "problem": "entry #2 was altered",
    }


def test_entries_cut_after_the_last_check_are_named_with_the_anchor(
    api_client, coordinator, reviewed_contract
):
    call_command("verify_history")  # a checkpoint and today's signed head file
    tamper_with_history(
        "DELETE FROM workflows_historyentry WHERE contract_id = %s AND seq >= 10",
        [reviewed_contract.pk],
    )
    api_client.force_authenticate(coordinator)

    response = api_client.get(f"{history_url(reviewed_contract)}verify/")

    body = response.json()
    assert (body["valid"], body["entries"], body["first_bad_seq"]) == (False, 9, 10)
    assert body["problem"].startswith("entries #10 to #11 are missing since the checkpoint of ")
