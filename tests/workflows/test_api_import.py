"""Importing a contract file through the API: all or nothing, every problem with its place."""

import copy
import json

import pytest
import yaml
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.factories import ActionFactory, UserFactory
from workflows.models import Contract, Organisation, User

pytestmark = pytest.mark.django_db

IMPORT_URL = "/api/v1/contracts/import/"
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


@pytest.fixture
def importer(coordinator):
    """A coordinator granted the right to set contracts up."""
    coordinator.user_permissions.add(Permission.objects.get(codename="add_contract"))
    return User.objects.get(pk=coordinator.pk)  # a fresh instance: no stale permission cache


@pytest.fixture
def as_importer(api_client, importer):
    api_client.force_authenticate(importer)
    return api_client


@pytest.fixture
def broken_scenario(scenario) -> dict:
    document = copy.deepcopy(scenario)
    document["themes"][0]["actions"][0]["working_group"] = "GT99"
    document["steering_committee"]["quorum"] = 99
    return document


def post_json(client, document, **extra):
    return client.post(IMPORT_URL, json.dumps(document), content_type="application/json", **extra)


def test_a_coordinator_imports_the_scenario(as_importer, scenario):
    response = post_json(as_importer, scenario)

    assert response.status_code == 201, response.json()
    contract = Contract.objects.get(reference="CLS-TDC-2019")
    assert response.json() == {"id": contract.pk, "reference": "CLS-TDC-2019", "status": "draft"}
    assert response["Location"] == f"/api/v1/contracts/{contract.pk}/"
    assert contract.actions.count() == sum(len(t["actions"]) for t in scenario["themes"])
    assert contract.signatories.count() == len(scenario["signatories"])


def test_staff_import_and_find_the_contract_where_the_answer_says(api_client, scenario):
    api_client.force_authenticate(UserFactory(username="admin", is_staff=True))

    response = post_json(api_client, scenario)

    assert response.status_code == 201
    detail = api_client.get(response["Location"])
    assert detail.status_code == 200
    assert detail.json()["reference"] == "CLS-TDC-2019"
    assert len(detail.json()["actions"]) == sum(len(t["actions"]) for t in scenario["themes"])


def test_an_importer_not_named_in_the_file_still_finds_the_contract(api_client, scenario):
    importer = UserFactory(username="secretariat.ars")
    importer.user_permissions.add(Permission.objects.get(codename="add_contract"))
    api_client.force_authenticate(User.objects.get(pk=importer.pk))

    response = post_json(api_client, scenario)

    assert response.status_code == 201
    assert api_client.get(response["Location"]).status_code == 200
    assert [c["reference"] for c in api_client.get("/api/v1/contracts/").json()] == ["CLS-TDC-2019"]


def test_a_contract_file_can_be_uploaded_as_json(as_importer, scenario):
    upload = SimpleUploadedFile(
        "terres-des-confluences.json",
        json.dumps(scenario).encode(),
        content_type="application/json",
    )

    response = as_importer.post(IMPORT_URL, {"file": upload}, format="multipart")

    assert response.status_code == 201, response.json()
    assert response.json()["reference"] == "CLS-TDC-2019"


def test_a_contract_file_can_be_uploaded_as_yaml(as_importer, scenario):
    text = yaml.safe_dump(scenario, allow_unicode=True, sort_keys=False)
    upload = SimpleUploadedFile("contrat.yaml", text.encode(), content_type="application/yaml")

    response = as_importer.post(IMPORT_URL, {"file": upload}, format="multipart")

    assert response.status_code == 201, response.json()
    assert Contract.objects.filter(reference="CLS-TDC-2019").exists()


def test_an_upload_without_a_file_says_so(as_importer):
    response = as_importer.post(IMPORT_URL, {}, format="multipart", **EN)

    assert response.status_code == 400
    assert response.json()["errors"] == ["file: No file was submitted."]


def test_a_broken_file_is_answered_with_every_problem_and_creates_nothing(
    as_importer, broken_scenario
):
    organisations, people = Organisation.objects.count(), User.objects.count()

    response = post_json(as_importer, broken_scenario, **EN)

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert 'themes[0].actions[0].working_group: unknown working group "GT99"' in errors
    assert "steering_committee.quorum: the quorum (99) is above the committee's size (5)" in errors
    assert response.json()["detail"]
    assert not Contract.objects.exists()
    assert (Organisation.objects.count(), User.objects.count()) == (organisations, people)


def test_a_body_that_is_not_json_is_answered_with_where_it_goes_wrong(as_importer):
    response = as_importer.post(
        IMPORT_URL, b'{"format": "accord.contract/1",', content_type="application/json", **EN
    )

    assert response.status_code == 400
    assert response.json()["errors"][0].startswith("line 1, column ")
    assert not Contract.objects.exists()


def test_a_reference_that_already_exists_is_refused(as_importer, scenario):
    assert post_json(as_importer, scenario).status_code == 201

    response = post_json(as_importer, scenario, **EN)

    assert response.status_code == 400
    assert 'reference: contract "CLS-TDC-2019" already exists' in response.json()["errors"]
    assert Contract.objects.count() == 1


def test_a_participant_who_is_not_a_coordinator_may_not_import(api_client, scenario):
    lead = ActionFactory().working_group.leads.first()
    api_client.force_authenticate(lead)

    response = post_json(api_client, scenario, **EN)

    assert response.status_code == 403
    assert response.json() == {"detail": "You may not import contracts.", "errors": []}
    assert not Contract.objects.filter(reference="CLS-TDC-2019").exists()


def test_coordinating_a_contract_is_not_enough_to_import_another(
    api_client, coordinator, contract, scenario
):
    api_client.force_authenticate(coordinator)

    response = post_json(api_client, scenario, **EN)

    assert response.status_code == 403


def test_an_unauthenticated_import_gets_401(api_client, scenario):
    response = post_json(api_client, scenario, **EN)

    assert response.status_code == 401
    assert response.json()["detail"] == "Authentication credentials were not provided."


def test_an_oversized_body_gets_413_before_anything_is_read(as_importer, scenario, settings):
    settings.ACCORD_IMPORT_MAX_BYTES = 1000

    response = post_json(as_importer, scenario, **EN)

    assert response.status_code == 413
    assert response.json()["detail"].startswith("The request is too large: ")
    assert response.json()["detail"].endswith("a contract file may have at most 1000 bytes.")
    assert not Contract.objects.exists()


def test_an_oversized_upload_gets_413(as_importer, scenario, settings):
    settings.ACCORD_IMPORT_MAX_BYTES = 1000
    upload = SimpleUploadedFile("contrat.json", json.dumps(scenario).encode())

    response = as_importer.post(IMPORT_URL, {"file": upload}, format="multipart", **EN)

    assert response.status_code == 413
    assert response.json()["errors"] == []
    assert not Contract.objects.exists()


def test_an_upload_just_over_the_limit_is_refused_by_the_file_check(as_importer, settings):
    # The envelope allowance lets the request through; the file itself is still too large.
    settings.ACCORD_IMPORT_MAX_BYTES = 1000
    upload = SimpleUploadedFile("contrat.json", b"{" + b" " * 1000 + b"}")

    response = as_importer.post(IMPORT_URL, {"file": upload}, format="multipart", **EN)

    assert response.status_code == 413
    assert response.json()["detail"].startswith("The contract file is too large")


def test_another_media_type_gets_415(as_importer, scenario):
    response = as_importer.post(IMPORT_URL, json.dumps(scenario), content_type="text/plain", **EN)

    assert response.status_code == 415
    assert response.json() == {
        "detail": 'Unsupported media type "text/plain" in request.',
        "errors": [],
    }
