"""Writing a contract through the API (api.md, "The contract's whole life"): a draft created
from a few fields, completed part by part by the contract file's rules, its sheets added,
written by code, versioned and compared; who may, and when."""

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from tests.factories import OrganisationFactory, UserFactory, contract_author
from workflows.models import Contract, HistoryEntry, HistoryEvent, User

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
HEADER = {
    "reference": "CLS-VAL-2027",
    "title": "Contrat local de santé du Val d'Ouche",
    "kind": "CLS",
    "territory": {
        "name": "Communauté de communes du Val d'Ouche",
        "communes": 9,
        "population": 11200,
    },
    "period": {"start": "2027-01-01", "end": "2031-12-31"},
}


@pytest.fixture
def author() -> User:
    return contract_author()


def client_for(user: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def as_author(author):
    return client_for(author)


@pytest.fixture
def ars():
    return OrganisationFactory(code="ARS", name="ARS Bourgogne-Franche-Comté", category="ARS")


@pytest.fixture
def lead(ars):
    return UserFactory(
        username="tech.ars", first_name="Claire", last_name="Martin", organisation=ars
    )


@pytest.fixture
def director(ars):
    return UserFactory(username="dg.ars", first_name="Paul", last_name="Roche", organisation=ars)


def person(user: User) -> dict:
    return {
        "username": user.username,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "organisation": user.organisation.code,
        "title": user.position,
    }


def complete_parts(author, lead, director) -> dict:
    """Every part a draft needs before its review, as a coordinator fills them in."""
    return {
        "organisations": [
            {"code": "CCVO", "name": "CC du Val d'Ouche", "category": "EPCI"},
            {"code": "ARS", "name": "ARS Bourgogne-Franche-Comté", "category": "ARS"},
        ],
        "people": [person(author), person(lead), person(director)],
        "themes": [{"code": "T1", "title": "Accès aux soins"}],
        "working_groups": [
            {"code": "GT1", "title": "Accès aux soins", "leads": [lead.username], "members": []}
        ],
        "steering_committee": {
            "chair": director.username,
            "members": [director.username, author.username],
            "quorum": 2,
        },
        "signatories": [
            {"organisation": "ARS", "kind": "mandatory", "signer": director.username, "order": 1}
        ],
    }


SHEET = {
    "theme": "T1",
    "code": "A1",
    "title": "Maison de santé pluriprofessionnelle",
    "objective": "Attirer des médecins.",
    "pilot": "tech.ars",
    "working_group": "GT1",
    "partners": ["CCVO"],
    "funding": [{"funder": "ARS", "amount": "12000", "year": 2027, "status": "requested"}],
    "indicators": [{"name": "Médecins installés", "unit": "médecins", "target": "3"}],
}


@pytest.fixture
def draft(as_author, author, lead, director):
    response = as_author.post("/api/v1/contracts/", HEADER, format="json")
    assert response.status_code == 201, response.json()
    contract = Contract.objects.get(pk=response.json()["id"])
    response = as_author.patch(
        f"/api/v1/contracts/{contract.pk}/", complete_parts(author, lead, director), format="json"
    )
    assert response.status_code == 200, response.json()
    return contract


@pytest.fixture
def sheet(as_author, draft):
    response = as_author.post(f"/api/v1/contracts/{draft.pk}/actions/", SHEET, format="json")
    assert response.status_code == 201, response.json()
    return draft.actions.get(code="A1")


# --- Creating -----------------------------------------------------------------------------


def test_a_coordinator_creates_a_draft_from_a_few_fields_and_coordinates_it(as_author, author):
    response = as_author.post("/api/v1/contracts/", HEADER, format="json")

    assert response.status_code == 201, response.json()
    contract = Contract.objects.get(reference="CLS-VAL-2027")
    assert response.json() == {"id": contract.pk, "reference": "CLS-VAL-2027", "status": "draft"}
    assert response["Location"] == f"/api/v1/contracts/{contract.pk}/"
    assert list(contract.coordinators.all()) == [author]
    assert list(contract.organisations.values_list("code", flat=True)) == ["CCVO"]
    entry = contract.history.get()
    assert entry.event == HistoryEvent.CREATED
    assert entry.actor == author
    assert as_author.get(f"/api/v1/contracts/{contract.pk}/").json()["status"] == "draft"


def test_a_creation_missing_fields_names_each_and_writes_nothing(as_author):
    body = {"reference": "CLS-X", "kind": "CLS", "period": {"start": "2027-01-01"}}

    response = as_author.post("/api/v1/contracts/", body, format="json", **EN)

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert "title: this field is required" in errors
    assert "territory: this field is required" in errors
    assert not Contract.objects.exists()


def test_a_creation_is_checked_by_the_contract_file_rules(as_author):
    body = {**HEADER, "kind": "CLM", "period": {"start": "2031-01-01", "end": "2027-01-01"}}

    response = as_author.post("/api/v1/contracts/", body, format="json", **EN)

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert any(error.startswith("kind:") for error in errors)
    assert "period.end: the period ends before it starts" in errors
    assert not Contract.objects.exists()


def test_a_taken_reference_is_refused(as_author, draft):
    response = as_author.post("/api/v1/contracts/", HEADER, format="json", **EN)

    assert response.status_code == 400
    assert response.json()["errors"] == ['reference: contract "CLS-VAL-2027" already exists']


def test_someone_without_the_right_cannot_create_a_contract(api_client):
    api_client.force_authenticate(UserFactory())

    response = api_client.post("/api/v1/contracts/", HEADER, format="json")

    assert response.status_code == 403
    assert not Contract.objects.exists()


def test_a_body_that_is_not_an_object_is_refused(as_author):
    response = as_author.post("/api/v1/contracts/", ["CLS"], format="json")

    assert response.status_code == 400


# --- Editing ------------------------------------------------------------------------------


def test_the_parts_written_are_the_contract_file_of_the_draft(as_author, draft, author, lead):
    export = as_author.get(f"/api/v1/contracts/{draft.pk}/export/").json()

    assert export["working_groups"][0]["leads"] == [lead.username]
    assert export["steering_committee"]["quorum"] == 2
    assert export["signatories"][0]["signer"] == "dg.ars"
    assert draft.history.filter(event=HistoryEvent.EDITED).count() == 1


def test_removing_a_person_still_named_is_refused_beside_what_names_them(as_author, draft, author):
    people = [person(author), person(User.objects.get(username="dg.ars"))]

    response = as_author.patch(
        f"/api/v1/contracts/{draft.pk}/", {"people": people}, format="json", **EN
    )

    assert response.status_code == 400
    assert 'working_groups[0].leads[0]: unknown person "tech.ars"' in response.json()["errors"]
    assert draft.participants.filter(username="tech.ars").exists()


def test_a_wrong_part_is_refused_with_its_place(as_author, draft):
    committee = {"chair": "dg.ars", "members": ["dg.ars"], "quorum": 3}

    response = as_author.patch(
        f"/api/v1/contracts/{draft.pk}/", {"steering_committee": committee}, format="json", **EN
    )

    assert response.status_code == 400
    assert response.json()["errors"] == [
        "steering_committee.quorum: the quorum (3) is above the committee's size (1)"
    ]


def test_the_reference_does_not_change(as_author, draft):
    response = as_author.patch(
        f"/api/v1/contracts/{draft.pk}/", {"reference": "CLS-AUTRE"}, format="json", **EN
    )

    assert response.status_code == 400
    assert response.json()["errors"] == [
        "reference: a contract's reference cannot change once created"
    ]


def test_a_theme_with_sheets_cannot_go(as_author, sheet):
    response = as_author.patch(
        f"/api/v1/contracts/{sheet.contract_id}/",
        {"themes": [{"code": "T2", "title": "Prévention"}]},
        format="json",
        **EN,
    )

    assert response.status_code == 400
    assert "move them first" in response.json()["errors"][0]
    assert sheet.contract.themes.get().code == "T1"


def test_only_a_coordinator_edits_and_only_a_draft(as_author, draft, lead):
    assert client_for(lead).patch(
        f"/api/v1/contracts/{draft.pk}/", {"title": "Autre"}, format="json"
    ).status_code in (403, 404)

    as_author.post(f"/api/v1/contracts/{draft.pk}/actions/", SHEET, format="json")
    launched = as_author.post(f"/api/v1/contracts/{draft.pk}/transitions/launch_review/", {})
    assert launched.status_code == 200, launched.json()

    response = as_author.patch(f"/api/v1/contracts/{draft.pk}/", {"title": "Autre"}, format="json")
    assert response.status_code == 409


def test_an_incomplete_draft_cannot_go_to_review(as_author, author):
    contract_id = as_author.post("/api/v1/contracts/", HEADER, format="json").json()["id"]

    response = as_author.post(f"/api/v1/contracts/{contract_id}/transitions/launch_review/", {})

    assert response.status_code == 409


# --- Sheets -------------------------------------------------------------------------------


def test_a_sheet_added_is_its_version_1(as_author, draft, author):
    response = as_author.post(f"/api/v1/contracts/{draft.pk}/actions/", SHEET, format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["version"] == 1
    assert len(body["sha256"]) == 64
    assert body["theme"] == "T1"
    assert body["title"] == SHEET["title"]
    action = draft.actions.get(code="A1")
    assert action.versions.get().author == author
    assert draft.history.filter(event=HistoryEvent.ACTION_ADDED, action=action).exists()


def test_a_sheet_with_problems_names_them_in_its_own_places(as_author, draft):
    body = {**SHEET, "pilot": "inconnu", "working_group": "GT9"}

    response = as_author.post(f"/api/v1/contracts/{draft.pk}/actions/", body, format="json", **EN)

    assert response.status_code == 400
    assert response.json()["errors"] == [
        'pilot: unknown person "inconnu"',
        'working_group: unknown working group "GT9"',
    ]
    assert not draft.actions.exists()


def test_a_sheet_in_an_unknown_theme_or_twice_the_same_code_is_refused(as_author, sheet):
    url = f"/api/v1/contracts/{sheet.contract_id}/actions/"
    assert as_author.post(url, {**SHEET, "theme": "T9"}, format="json").status_code == 400
    assert as_author.post(url, SHEET, format="json").status_code == 400
    assert sheet.contract.actions.count() == 1


def test_the_pilot_writes_the_sheet_by_its_code_and_the_rest_stays(sheet, lead):
    api_client = client_for(lead)
    url = f"/api/v1/contracts/{sheet.contract_id}/actions/A1/"

    response = api_client.patch(url, {"version": 1, "place": "Pouilly"}, format="json")

    assert response.status_code == 200, response.json()
    assert response.json()["version"] == 2
    body = api_client.get(url).json()
    assert body["place"] == "Pouilly"
    assert body["funding"][0]["amount"] == "12000.00"
    versions = api_client.get(url + "versions/").json()
    assert [(v["number"], v["author"]) for v in versions] == [
        (1, "coordination.valouche"),
        (2, "tech.ars"),
    ]
    diff = api_client.get(url + "versions/2/diff/?against=1").json()
    assert [(c["field"], c.get("after")) for c in diff["changes"]] == [("place", "Pouilly")]


def test_the_second_save_of_the_same_version_gets_a_conflict(as_author, sheet, lead):
    api_client = client_for(lead)
    url = f"/api/v1/contracts/{sheet.contract_id}/actions/A1/"

    first = api_client.patch(url, {"version": 1, "place": "Pouilly"}, format="json")
    second = as_author.patch(url, {"version": 1, "place": "Arnay"}, format="json")

    assert (first.status_code, second.status_code) == (200, 409)
    assert as_author.get(url).json()["place"] == "Pouilly"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need a server database")
@pytest.mark.django_db(transaction=True)
def test_two_saves_at_once_one_wins_the_other_gets_a_conflict(author, lead, director):
    """Two processes' requests at the same moment: the row lock serves them one by one."""
    setup = client_for(author)
    contract_id = setup.post("/api/v1/contracts/", HEADER, format="json").json()["id"]
    setup.patch(
        f"/api/v1/contracts/{contract_id}/", complete_parts(author, lead, director), format="json"
    )
    setup.post(f"/api/v1/contracts/{contract_id}/actions/", SHEET, format="json")
    url = f"/api/v1/contracts/{contract_id}/actions/A1/"
    barrier, answers = threading.Barrier(2), []

    def save(who: User, place: str) -> None:
        client = client_for(who)
        barrier.wait()
        try:
            answers.append(
                client.patch(url, {"version": 1, "place": place}, format="json").status_code
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=save, args=args) for args in ((author, "A"), (lead, "B"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(answers) == [200, 409]
    assert HistoryEntry.objects.filter(event=HistoryEvent.ACTION_SHEET_SAVED).count() == 1


def test_who_may_read_and_write_a_sheet(api_client, sheet, director):
    url = f"/api/v1/contracts/{sheet.contract_id}/actions/A1/"
    api_client.force_authenticate(UserFactory())
    assert api_client.get(url).status_code == 404
    assert api_client.patch(url, {"version": 1}, format="json").status_code == 404

    api_client.force_authenticate(director)  # on the committee: sees the sheet, writes nothing
    assert api_client.get(url).status_code == 200
    assert api_client.patch(url, {"version": 1, "place": "X"}, format="json").status_code == 403


def test_a_sheet_in_review_cannot_change(as_author, sheet):
    as_author.post(f"/api/v1/contracts/{sheet.contract_id}/transitions/launch_review/", {})
    url = f"/api/v1/contracts/{sheet.contract_id}/actions/A1/"

    response = as_author.patch(url, {"version": 1, "place": "X"}, format="json")

    assert response.status_code == 409
    assert (
        as_author.post(
            f"/api/v1/contracts/{sheet.contract_id}/actions/",
            {**SHEET, "code": "A2"},
            format="json",
        ).status_code
        == 409
    )


def test_a_version_the_sheet_never_had_is_not_found(as_author, sheet):
    url = f"/api/v1/contracts/{sheet.contract_id}/actions/A1/versions/"
    assert as_author.get(url + "7/diff/").status_code == 404
    assert as_author.get(url + "1/diff/?against=x").status_code == 400


def test_a_draft_created_in_accord_has_its_own_copy_of_the_kind_convention(as_author):
    contract_id = as_author.post("/api/v1/contracts/", HEADER, format="json").json()["id"]

    convention = as_author.get(f"/api/v1/contracts/{contract_id}/convention/").json()

    assert convention["articles"]
    assert Contract.objects.get(pk=contract_id).convention_articles == convention["articles"]


# --- Removing a sheet ---------------------------------------------------------------------


def test_a_sheet_removed_from_the_draft_leaves_the_contract_and_stays_in_the_history(
    as_author, sheet
):
    url = f"/api/v1/contracts/{sheet.contract_id}/actions/A1/"

    response = as_author.delete(url)

    assert response.status_code == 204
    sheet.refresh_from_db()
    assert sheet.status == "removed"
    assert as_author.get(url).json()["status"] == "removed"
    export = as_author.get(f"/api/v1/contracts/{sheet.contract_id}/export/").json()
    assert export["themes"][0]["actions"] == []
    entry = sheet.contract.history.filter(action=sheet).latest("seq")
    assert (entry.name, entry.to_state) == ("remove", "removed")
    assert as_author.delete(url).status_code == 409
    detail = as_author.get(f"/api/v1/contracts/{sheet.contract_id}/").json()
    assert detail["actions"] == []


def test_a_draft_whose_only_sheet_was_removed_cannot_go_to_review(as_author, sheet):
    as_author.delete(f"/api/v1/contracts/{sheet.contract_id}/actions/A1/")

    response = as_author.post(
        f"/api/v1/contracts/{sheet.contract_id}/transitions/launch_review/", {}
    )

    assert response.status_code == 409


def test_a_removed_sheet_code_is_not_given_again(as_author, sheet):
    as_author.delete(f"/api/v1/contracts/{sheet.contract_id}/actions/A1/")

    response = as_author.post(
        f"/api/v1/contracts/{sheet.contract_id}/actions/", SHEET, format="json", **EN
    )

    assert response.status_code == 400
    assert response.json()["errors"] == [
        'code: the code "A1" belonged to a sheet removed from this contract: give this one '
        "another code"
    ]
    added = as_author.post(
        f"/api/v1/contracts/{sheet.contract_id}/actions/", {**SHEET, "code": "A2"}, format="json"
    )
    assert added.status_code == 201


def test_who_may_remove_a_sheet_and_when(as_author, sheet, director, lead):
    url = f"/api/v1/contracts/{sheet.contract_id}/actions/A1/"
    assert client_for(director).delete(url).status_code == 403
    assert client_for(UserFactory()).delete(url).status_code == 404
    as_author.post(f"/api/v1/contracts/{sheet.contract_id}/transitions/launch_review/", {})

    assert client_for(lead).delete(url).status_code == 409  # the pilot, once in review
    sheet.refresh_from_db()
    assert sheet.status == "review"
