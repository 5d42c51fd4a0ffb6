"""The minutes (procès-verbal) of the committee's votes: drawn up when a round is decided,
named in the history by their SHA-256, signed by the chair (pdfsig agrees), downloadable
from the contract page and the API by whoever may see the contract.

Personas: the coordinator, the chair (who does not vote in these rounds), four members, a
stranger who takes no part in the contract.
"""

import hashlib
import re

import pytest
from django.test import Client

from tests.factories import ActionFactory, OrganisationFactory, SteeringCommitteeFactory
from tests.factories import UserFactory as Person
from tests.flows import approve_reviews, decide, launch, open_tasks
from tests.signatures.pdf import pdf_text, run_pdfsig
from workflows.models import CommitteeVote, ContractStatus, HistoryEntry, HistoryEvent, TaskKind

pytestmark = pytest.mark.django_db


@pytest.fixture
def action(contract):
    return ActionFactory(contract=contract, code="A1", title="Maison de santé")


@pytest.fixture
def chair():
    return Person(
        username="presidente",
        first_name="Hélène",
        last_name="Présidente",
        organisation=OrganisationFactory(name="Conseil départemental"),
    )


@pytest.fixture
def members(chair):
    cpam = OrganisationFactory(name="CPAM du Tarn-et-Garonne")
    return {
        name: Person(username=name.lower(), first_name="Membre", last_name=name, organisation=cpam)
        for name in ("Aubert", "Blanc", "Colin", "Durand")
    }


@pytest.fixture
def committee(contract, chair, members):
    """Five members (the chair among them), quorum 3."""
    return SteeringCommitteeFactory(
        contract=contract, chair=chair, members=list(members.values()), quorum=3
    )


def vote_of(contract, member):
    (task,) = [t for t in open_tasks(contract, TaskKind.VOTE) if t.owner == member]
    return task


@pytest.fixture
def two_rounds(contract, coordinator, action, committee, members):
    """Round 1 rejects the contract (three against, objecting to A1); round 2, after the
    revision, validates it: two for, one abstaining, then a third for decides it early."""
    launch(contract, coordinator)
    approve_reviews(contract)
    for name in ("Aubert", "Blanc", "Colin"):
        decide(
            vote_of(contract, members[name]),
            "reject",
            comment="Le financement n\u2019est pas assuré.",
            objections={"A1": "Budget ARS manquant."},
        )
    (revision,) = open_tasks(contract, TaskKind.REVISION)
    decide(revision, "resubmit")
    approve_reviews(contract)
    decide(vote_of(contract, members["Aubert"]), "approve", comment="Budget chiffré.")
    decide(vote_of(contract, members["Blanc"]), "abstain", comment="Conflit d\u2019intérêts.")
    decide(vote_of(contract, members["Colin"]), "approve")
    decide(vote_of(contract, members["Durand"]), "approve")
    contract.refresh_from_db()
    assert contract.status == ContractStatus.DELIBERATION
    return contract


def minutes_url(contract, **params) -> str:
    query = "".join(f"?{key}={value}" for key, value in params.items())
    return f"/api/v1/contracts/{contract.pk}/committee/minutes/{query}"


def test_the_minutes_of_a_decided_round_say_who_voted_what_and_the_outcome(two_rounds):
    second = CommitteeVote.objects.get(contract=two_rounds, round=2)
    text = pdf_text(bytes(second.minutes_pdf))

    for words in (
        "Procès-verbal du comité de pilotage, tour n° 2",
        "Vote sur le contrat, version 1",
        "Présidence : Hélène Présidente",
        "Membres appelés à voter : 5 ; membres ayant voté : 4 ; quorum : 3.",
        "Membre Aubert (CPAM du Tarn-et-Garonne) : vote pour, le",
        "Commentaire : Budget chiffré.",
        "Membre Blanc (CPAM du Tarn-et-Garonne) : s\u2019abstient, le",
        "Commentaire : Conflit d\u2019intérêts.",
        "Membre Colin (CPAM du Tarn-et-Garonne) : vote pour",
        "Membre Durand (CPAM du Tarn-et-Garonne) : vote pour",
        "Hélène Présidente (Conseil départemental) : n\u2019a pas voté",
        "Résultat Validé : 3 pour, 0 contre.",
        "3 approbation(s), 0 rejet(s), 1 abstention(s) : 4 vote(s) exprimé(s) pour un quorum de 3.",
    ):
        assert words in text, words
    first = pdf_text(bytes(CommitteeVote.objects.get(contract=two_rounds, round=1).minutes_pdf))
    assert "Membre Aubert (CPAM du Tarn-et-Garonne) : vote contre" in first
    assert "Objection à l\u2019action A1 : Budget ARS manquant." in first
    assert "Résultat Rejeté : 0 pour, 3 contre." in first
    assert "Membre Durand (CPAM du Tarn-et-Garonne) : n\u2019a pas voté" in first


def test_the_history_names_each_round_s_minutes_by_their_sha256(two_rounds):
    decided = HistoryEntry.objects.filter(
        contract=two_rounds, event=HistoryEvent.VOTE_DECIDED
    ).order_by("seq")

    assert [entry.data["round"] for entry in decided] == [1, 2]
    for entry in decided:
        vote = CommitteeVote.objects.get(contract=two_rounds, round=entry.data["round"])
        assert entry.data["minutes_sha256"] == hashlib.sha256(vote.minutes_pdf).hexdigest()
        assert entry.data["minutes_sha256"] == vote.minutes_sha256
    assert decided[1].data["abstentions"] == 1


def test_pdfsig_finds_the_chair_s_signature_on_the_minutes_valid(pdfsig, two_rounds, tmp_path):
    vote = CommitteeVote.objects.get(contract=two_rounds, round=2)

    out = run_pdfsig(pdfsig, bytes(vote.minutes_pdf), tmp_path, "minutes.pdf")

    assert re.findall(r"Signature Field Name: (\S+)", out) == ["accord-chair"]
    assert "Signature Validation: Signature is Valid." in out
    assert "Signer Certificate Common Name: Hélène Présidente" in out
    assert "Total document signed" in out


def test_the_api_returns_the_last_round_s_minutes_or_an_earlier_one(
    api_client, coordinator, two_rounds
):
    api_client.force_authenticate(coordinator)
    rounds = {
        vote.round: bytes(vote.minutes_pdf)
        for vote in CommitteeVote.objects.filter(contract=two_rounds)
    }

    last = api_client.get(minutes_url(two_rounds), HTTP_ACCEPT="application/pdf")
    first = api_client.get(minutes_url(two_rounds, round=1), HTTP_ACCEPT="application/pdf")

    assert last.status_code == first.status_code == 200
    assert last["Content-Type"] == "application/pdf"
    assert last.content == rounds[2]
    assert first.content == rounds[1]
    assert "proces-verbal-tour-1.pdf" in first["Content-Disposition"]


def test_the_api_refuses_an_unknown_round_and_a_round_that_is_no_number(
    api_client, coordinator, two_rounds
):
    api_client.force_authenticate(coordinator)

    unknown = api_client.get(minutes_url(two_rounds, round=9), HTTP_ACCEPT_LANGUAGE="en")
    wrong = api_client.get(minutes_url(two_rounds, round="deux"), HTTP_ACCEPT_LANGUAGE="en")

    assert unknown.status_code == 404
    assert unknown.json()["detail"] == "This contract has no minutes of that round."
    assert wrong.status_code == 400
    assert "The round must be a whole number." in str(wrong.json())


def test_there_are_no_minutes_before_a_vote_is_decided(
    api_client, coordinator, contract, action, committee
):
    launch(contract, coordinator)
    api_client.force_authenticate(coordinator)

    response = api_client.get(minutes_url(contract), HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 404
    assert response.json()["detail"] == "No vote of the committee is decided yet."


def test_the_minutes_are_hidden_from_a_stranger(api_client, stranger, two_rounds):
    api_client.force_authenticate(stranger)
    assert api_client.get(minutes_url(two_rounds)).status_code == 404

    browser = Client()
    browser.force_login(stranger)
    assert browser.get(f"/contrats/{two_rounds.pk}/comite/proces-verbal-1.pdf").status_code == 404


def test_the_contract_page_links_each_round_s_minutes(coordinator, two_rounds):
    browser = Client(HTTP_ACCEPT_LANGUAGE="fr")
    browser.force_login(coordinator)

    page = browser.get(f"/contrats/{two_rounds.pk}/").content.decode()

    for round_number in (1, 2):
        url = f"/contrats/{two_rounds.pk}/comite/proces-verbal-{round_number}.pdf"
        assert f'href="{url}"' in page
        assert f"Procès-verbal du tour n°\xa0{round_number} (PDF)" in page
        download = browser.get(url)
        assert download.status_code == 200
        assert download.content == bytes(
            CommitteeVote.objects.get(contract=two_rounds, round=round_number).minutes_pdf
        )
