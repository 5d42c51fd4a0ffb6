"""A contract exported as a contract file, and imported again under a new reference: the
same contract (life.md, "Writing and revising the content"; api.md, ``contracts/{id}/export/``).
"""

import copy
import datetime
import json

import pytest
import yaml
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import UserFactory
from workflows import services
from workflows.contract_file import contract_file_of, parse_contract_file, validate_contract_file
from workflows.models import Action, HistoryEntry
from workflows.services import contract_import
from workflows.services.sheets import FundingEntry, IndicatorEntry, Milestone, SheetEdit

pytestmark = pytest.mark.django_db

NEW_REFERENCE = "CLS-TDC-2019-BIS"


def export_url(contract) -> str:
    return f"/api/v1/contracts/{contract.pk}/export/"


def renamed(document: dict, reference: str) -> dict:
    """The document under another reference: what must differ for it to import again."""
    return {**copy.deepcopy(document), "reference": reference}


def but_the_reference(document: dict) -> dict:
    return renamed(document, "—")


@pytest.fixture
def imported(scenario):
    return contract_import(document=scenario, actor=None)


def test_the_export_is_a_valid_contract_file(imported):
    document = contract_file_of(imported)

    assert document["format"] == "accord.contract/1"
    assert document["reference"] == imported.reference
    # Valid as it is but for its reference, which the contract itself holds.
    assert [problem.split(":")[0] for problem in validate_contract_file(document)] == ["reference"]
    assert validate_contract_file(renamed(document, NEW_REFERENCE)) == []


def test_the_export_says_what_the_demo_file_says(imported, scenario):
    document = contract_file_of(imported)

    for key in ("format", "reference", "title", "kind", "territory", "period", "diagnosis"):
        assert document[key] == scenario[key], key
    assert document["coordinators"] == sorted(scenario["coordinators"])
    assert {o["code"]: o for o in document["organisations"]} == {
        o["code"]: o for o in scenario["organisations"]
    }
    people = {p["username"]: p for p in document["people"]}
    assert people.keys() == {p["username"] for p in scenario["people"]}
    for person in scenario["people"]:
        assert people[person["username"]] == {"first_name": "", "last_name": "", **person}
    assert [theme["code"] for theme in document["themes"]] == [
        theme["code"] for theme in scenario["themes"]
    ]
    for theme, original in zip(document["themes"], scenario["themes"], strict=True):
        assert theme["title"] == original["title"]
        assert [a["code"] for a in theme["actions"]] == [a["code"] for a in original["actions"]]
    first = scenario["themes"][0]["actions"][0]
    assert document["themes"][0]["actions"][0] == {**first, "partners": sorted(first["partners"])}
    committee = scenario["steering_committee"]
    assert document["steering_committee"] == {**committee, "members": sorted(committee["members"])}
    signatories = {s["organisation"]: s for s in document["signatories"]}
    for signatory in scenario["signatories"]:
        assert signatories[signatory["organisation"]] == {"order": 1, **signatory}


def test_importing_the_export_under_a_new_reference_gives_the_same_contract(imported):
    document = contract_file_of(imported)

    again = contract_import(document=renamed(document, NEW_REFERENCE), actor=None)

    assert again.pk != imported.pk
    assert again.reference == NEW_REFERENCE
    assert but_the_reference(contract_file_of(again)) == but_the_reference(document)
    # Field by field, beyond what the file says: the same rows under the new contract.
    assert list(again.actions.values_list("code", "title", "theme__code", "position")) == list(
        imported.actions.values_list("code", "title", "theme__code", "position")
    )
    assert again.actions.count() == 38


def test_the_yaml_export_reads_back_as_the_same_document(imported, api_client):
    api_client.force_authenticate(imported.coordinators.first())

    as_json = api_client.get(export_url(imported))
    as_yaml = api_client.get(export_url(imported), {"format": "yaml"})

    assert parse_contract_file(as_yaml.content, filename="x.yaml") == json.loads(as_json.content)


def test_an_edited_sheet_is_exported_as_edited(imported):
    action = imported.actions.get(code="T1-A1")
    services.action_sheet_save(
        action=action,
        actor=action.pilot,
        base_version=1,
        edit=SheetEdit(
            title="Accompagner l'installation des médecins",
            objective="Trois installations d'ici 2021.",
            partners=["CPAM82", "ARS-OCC", "CCTDC"],
            funding=[FundingEntry("ARS-OCC", "12 500,50"), FundingEntry("CCTDC", "4000")],
            indicators=[
                IndicatorEntry("Nombre d'installations"),
                IndicatorEntry("Délai moyen d'installation"),
            ],
        ),
    )

    document = contract_file_of(imported)

    sheet = document["themes"][0]["actions"][0]
    assert sheet == {
        "code": "T1-A1",
        "title": "Accompagner l'installation des médecins",
        "objective": "Trois installations d'ici 2021.",
        "pilot": action.pilot.username,
        "working_group": action.working_group.code,
        "partners": ["ARS-OCC", "CCTDC", "CPAM82"],
        "funding": [
            {"funder": "ARS-OCC", "amount": "12500.50"},
            {"funder": "CCTDC", "amount": "4000.00"},
        ],
        "indicators": ["Nombre d'installations", "Délai moyen d'installation"],
    }
    again = contract_import(document=renamed(document, NEW_REFERENCE), actor=None)
    copy_of_sheet = again.actions.get(code="T1-A1")
    assert copy_of_sheet.title == "Accompagner l'installation des médecins"
    assert but_the_reference(contract_file_of(again)) == but_the_reference(document)


def test_the_export_reads_in_a_fixed_number_of_queries(imported, scenario):
    with CaptureQueriesContext(connection) as whole:
        contract_file_of(imported)
    small = copy.deepcopy(scenario)
    small["reference"] = "PETIT"
    small["themes"] = [{**small["themes"][0], "actions": small["themes"][0]["actions"][:1]}]
    smaller = contract_import(document=small, actor=None)
    with CaptureQueriesContext(connection) as one_action:
        contract_file_of(smaller)
    assert len(whole) == len(one_action) < 25


# --- The API and the page ------------------------------------------------------------------


def test_whoever_sees_the_contract_gets_its_file_as_json(imported, api_client):
    pilot = Action.objects.filter(contract=imported).first().pilot
    api_client.force_authenticate(pilot)
    entries = HistoryEntry.objects.count()

    response = api_client.get(export_url(imported))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response["Content-Disposition"] == f'attachment; filename="{imported.reference}.json"'
    document = json.loads(response.content)
    assert document == contract_file_of(imported)
    assert validate_contract_file(renamed(document, NEW_REFERENCE)) == []
    assert HistoryEntry.objects.count() == entries  # a read: nothing recorded


def test_yaml_on_request(imported, api_client):
    api_client.force_authenticate(imported.coordinators.first())

    response = api_client.get(export_url(imported), {"format": "yaml"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/yaml")
    assert response["Content-Disposition"] == f'attachment; filename="{imported.reference}.yaml"'
    assert yaml.safe_load(response.content)["reference"] == imported.reference


def test_an_unknown_format_is_refused(imported, api_client):
    api_client.force_authenticate(imported.coordinators.first())

    response = api_client.get(export_url(imported), {"format": "xml"})

    assert response.status_code == 400
    assert response.json()["errors"]


def test_a_contract_one_does_not_see_is_not_found(imported, api_client, stranger):
    api_client.force_authenticate(stranger)
    assert api_client.get(export_url(imported)).status_code == 404
    assert api_client.get("/api/v1/contracts/999999/export/").status_code == 404


def test_the_export_needs_authentication(imported, api_client):
    assert api_client.get(export_url(imported)).status_code == 401


def test_the_contract_page_offers_the_export_to_its_coordinators(imported, client):
    coordinator = imported.coordinators.first()
    client.force_login(coordinator)
    page = client.get(f"/contrats/{imported.pk}/")
    link = f"/contrats/{imported.pk}/export/"
    assert "Exporter le fichier du contrat" in page.content.decode()
    assert link in page.content.decode()

    response = client.get(link)

    assert response.status_code == 200
    assert json.loads(response.content) == contract_file_of(imported)


def test_the_page_export_follows_the_contract_visibility(imported, client):
    pilot = UserFactory(username="personne")
    client.force_login(pilot)
    assert client.get(f"/contrats/{imported.pk}/export/").status_code == 404


def test_the_whole_sheet_of_life_md_goes_out_and_comes_back(imported):
    """Every part of a sheet (life.md) makes the round trip, written as the file writes it."""
    action = imported.actions.get(code="T1-A1")
    services.action_sheet_save(
        action=action,
        actor=action.pilot,
        base_version=1,
        edit=SheetEdit(
            title="Guichet installation",
            objective="Trois installations par an.",
            operational_objectives=["Accueillir les internes", "Accompagner les projets"],
            description="Un guichet unique.",
            target_public="Médecins et internes",
            place="Les 22 communes",
            starts_on=datetime.date(2019, 9, 1),
            ends_on=datetime.date(2022, 12, 31),
            milestones=[Milestone(datetime.date(2020, 6, 30), "Guichet ouvert")],
            partners=["ARS-OCC"],
            funding=[FundingEntry("ARS-OCC", "12500", 2020, "secured")],
            indicators=[IndicatorEntry("Médecins installés", "médecins", "0", "6", "ARS")],
        ),
    )

    document = contract_file_of(imported)
    sheet = document["themes"][0]["actions"][0]

    assert sheet["schedule"] == {
        "start": "2019-09-01",
        "end": "2022-12-31",
        "milestones": [{"date": "2020-06-30", "label": "Guichet ouvert"}],
    }
    assert sheet["funding"] == [
        {"funder": "ARS-OCC", "amount": "12500.00", "year": 2020, "status": "secured"}
    ]
    assert sheet["indicators"] == [
        {
            "name": "Médecins installés",
            "unit": "médecins",
            "baseline": "0",
            "target": "6",
            "source": "ARS",
        }
    ]
    again = contract_import(document=renamed(document, NEW_REFERENCE), actor=None)
    assert but_the_reference(contract_file_of(again)) == but_the_reference(document)
    copy = again.actions.get(code="T1-A1")
    assert (copy.place, copy.starts_on, copy.milestones) == (
        "Les 22 communes",
        datetime.date(2019, 9, 1),
        [{"date": "2020-06-30", "label": "Guichet ouvert"}],
    )
