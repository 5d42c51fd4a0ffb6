"""Issue 18, input and disclosure: what an attacker probing the inputs gets is a clear 4xx in
the API's error shape (never a 500, never a write), and nothing they may not know."""

import json
from io import StringIO
from pathlib import Path

import pytest
import yaml
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from tests.factories import (
    ActionFactory,
    ContractFactory,
    OrganisationFactory,
    SteeringCommitteeFactory,
    UserFactory,
)
from tests.flows import launch
from workflows.models import Contract, HistoryEntry, HistoryExport, Meeting, User

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
IMPORT_URL = "/api/v1/contracts/import/"


def assert_error(response, status: int) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"detail", "errors"}
    assert isinstance(body["detail"], str)
    assert body["detail"]
    assert isinstance(body["errors"], list)
    return body


@pytest.fixture
def importer(coordinator):
    coordinator.user_permissions.add(Permission.objects.get(codename="add_contract"))
    return User.objects.get(pk=coordinator.pk)


@pytest.fixture
def as_importer(api_client, importer):
    api_client.force_authenticate(importer)
    return api_client


def nothing_imported(scenario) -> bool:
    return not Contract.objects.filter(reference=scenario["reference"]).exists() and (
        not HistoryEntry.objects.exists()
    )


# --- A NUL character: PostgreSQL stores none in a text -----------------------------------


def test_a_nul_in_an_imported_json_file_is_a_400_naming_its_place(as_importer, scenario):
    scenario["title"] = "CLS\u0000 des Confluences"
    scenario["themes"][0]["actions"][0]["title"] = "\u0000"

    response = as_importer.post(
        IMPORT_URL, json.dumps(scenario), content_type="application/json", **EN
    )

    body = assert_error(response, 400)
    assert "NUL" in body["detail"]
    assert [error.split(":")[0] for error in body["errors"]] == [
        "title",
        "themes[0].actions[0].title",
    ]
    assert nothing_imported(scenario)


def test_a_nul_in_an_imported_yaml_file_is_a_400(as_importer, scenario):
    scenario["title"] = "TITLE-MARK"
    raw = yaml.safe_dump(scenario, allow_unicode=True).replace("TITLE-MARK", '"CLS\\0"', 1)
    upload = SimpleUploadedFile("contrat.yaml", raw.encode())

    response = as_importer.post(IMPORT_URL, {"file": upload}, format="multipart", **EN)

    body = assert_error(response, 400)
    assert body["errors"][0].startswith("title: ")
    assert nothing_imported(scenario)


def test_a_raw_nul_byte_in_an_imported_file_is_a_400(as_importer, scenario):
    raw = json.dumps(scenario).encode().replace(b'"CLS', b'"\x00CLS', 1)

    response = as_importer.post(IMPORT_URL, raw, content_type="application/json", **EN)

    assert_error(response, 400)
    assert nothing_imported(scenario)


def test_the_import_page_refuses_a_nul_with_a_message(client, importer, scenario):
    scenario["title"] = "CLS\u0000"
    client.force_login(importer)
    upload = SimpleUploadedFile("contrat.json", json.dumps(scenario).encode())

    response = client.post(reverse("workflows:contract_import"), {"file": upload}, **EN)

    assert response.status_code == 400
    assert "NUL character" in response.content.decode()
    assert nothing_imported(scenario)


def test_the_import_command_refuses_a_nul_without_a_traceback(tmp_path: Path, scenario):
    scenario["title"] = "CLS\u0000"
    path = tmp_path / "contrat.json"
    path.write_text(json.dumps(scenario), encoding="utf-8")
    stderr = StringIO()

    with pytest.raises(CommandError) as refused:
        call_command("import_contract", str(path), stdout=StringIO(), stderr=stderr)

    assert refused.value.returncode == 1
    assert "NUL" in str(refused.value)
    # The place first, then the problem, in the language the command speaks (French by default).
    assert stderr.getvalue().startswith(("title: ", "title\u00a0: "))
    assert nothing_imported(scenario)


@pytest.mark.parametrize(
    ("method", "path", "data"),
    [
        ("post", "/api/v1/contracts/", {"title": "a\u0000b"}),
        ("patch", "/api/v1/contracts/{pk}/", {"title": "a\u0000b"}),
        ("patch", "/api/v1/contracts/{pk}/", {"themes\u0000": []}),
        ("post", "/api/v1/contracts/{pk}/transitions/suspend/", {"reason": "\u0000"}),
        ("post", "/api/v1/delegations/", {"delegate": "x\u0000"}),
    ],
)
def test_a_nul_in_any_json_body_is_a_400(api_client, contract, coordinator, method, path, data):
    api_client.force_authenticate(coordinator)
    before = Contract.objects.values().get(pk=contract.pk)

    response = getattr(api_client, method)(path.format(pk=contract.pk), data, format="json", **EN)

    body = assert_error(response, 400)
    assert "NUL character" in body["detail"]
    assert Contract.objects.values().get(pk=contract.pk) == before
    assert Contract.objects.count() == 1
    assert not HistoryEntry.objects.exists()


def test_a_nul_in_a_sheet_patch_is_a_400(api_client, contract, coordinator):
    action = ActionFactory(contract=contract)
    api_client.force_authenticate(coordinator)

    response = api_client.patch(
        f"/api/v1/contracts/{contract.pk}/actions/{action.code}/",
        {"title": "fiche\u0000", "partners": ["\u0000"]},
        format="json",
        **EN,
    )

    body = assert_error(response, 400)
    assert [error.split(":")[0] for error in body["errors"]] == ["title", "partners[0]"]
    action.refresh_from_db()
    assert "\x00" not in action.title


def test_a_nul_in_a_form_encoded_api_body_is_a_400(api_client, contract, coordinator):
    api_client.force_authenticate(coordinator)

    response = api_client.post(
        f"/api/v1/contracts/{contract.pk}/transitions/suspend/", {"reason": "a\x00"}, **EN
    )

    assert_error(response, 400)
    assert not HistoryEntry.objects.exists()


def test_a_nul_in_a_query_parameter_is_a_400(api_client, client, coordinator):
    api_client.force_authenticate(coordinator)
    client.force_login(coordinator)

    api = api_client.get("/api/v1/history/", {"person": "a\x00"}, **EN)
    page = client.get(reverse("workflows:history_search"), {"organisation": "\x00"}, **EN)

    assert "NUL character" in assert_error(api, 400)["detail"]
    assert page.status_code == 400
    assert "NUL character" in page.content.decode()


def test_a_nul_in_a_page_form_is_a_400_and_writes_nothing(client, contract, coordinator):
    client.force_login(coordinator)
    SteeringCommitteeFactory(contract=contract, chair=coordinator, members=[coordinator])

    response = client.post(
        reverse("notifications:meetings", args=[contract.pk]),
        {"starts_at": "2030-01-01T10:00", "ends_at": "2030-01-01T12:00", "place": "\x00"},
        **EN,
    )

    assert response.status_code == 400
    assert not Meeting.objects.exists()


# --- Pages of the inbox -------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "offset=9223372036854775808",
        "offset=99999999999999999999999",
        "offset=-1",
        "limit=9223372036854775808",
        "limit=-5",
        "limit=0",
    ],
)
def test_an_out_of_range_page_of_the_inbox_is_a_400(api_client, coordinator, query):
    api_client.force_authenticate(coordinator)

    response = api_client.get(f"/api/v1/inbox/?{query}", **EN)

    body = assert_error(response, 400)
    assert body["detail"].startswith(query.split("=")[0] + ": ")


def test_an_out_of_range_offset_of_the_history_search_is_a_400(api_client, coordinator):
    api_client.force_authenticate(coordinator)

    response = api_client.get("/api/v1/history/?offset=9223372036854775808", **EN)

    assert_error(response, 400)


# --- An unknown path under the API answers in JSON ----------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/contracts/abc/",
        "/api/v1/tasks/abc/decision/",
        "/api/v1/no-such-thing/",
        "/api/v1/contracts/1/history/verify/nope",
        "/api/v2/contracts/",
    ],
)
def test_an_unknown_api_path_is_a_json_404(api_client, coordinator, path):
    api_client.force_authenticate(coordinator)

    response = api_client.get(path, **EN)

    assert response["Content-Type"] == "application/json"
    assert_error(response, 404)


def test_an_unknown_page_is_still_the_html_404(client, coordinator):
    client.force_login(coordinator)

    response = client.get("/contrats/abc/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


# --- An import does not tell which organisation an account belongs to ----------------------


def test_an_import_does_not_name_the_organisation_of_an_existing_account(as_importer, scenario):
    UserFactory(username="dg.ars", organisation=OrganisationFactory(code="SECRET", name="Secret"))

    response = as_importer.post(
        IMPORT_URL, json.dumps(scenario), content_type="application/json", **EN
    )

    body = assert_error(response, 400)
    assert "SECRET" not in response.content.decode()
    assert "Secret" not in response.content.decode()
    assert any('"dg.ars" is already taken' in error for error in body["errors"])
    assert not Contract.objects.exists()


# --- The audit search does not enumerate accounts or organisations --------------------------


@pytest.fixture
def history_contract(contract, coordinator):
    ActionFactory.create_batch(2, contract=contract)
    launch(contract, coordinator)
    return contract


def test_an_unknown_username_is_answered_as_a_person_without_entries(
    client, api_client, history_contract, coordinator
):
    nobody_here = UserFactory(username="existe.ailleurs")
    client.force_login(coordinator)
    api_client.force_authenticate(coordinator)
    search = reverse("workflows:history_search")

    unknown = client.get(search, {"person": "personne.inconnue"}, **EN)
    existing = client.get(search, {"person": nobody_here.username}, **EN)

    assert (unknown.status_code, existing.status_code) == (200, 200)
    assert unknown.context["page"].entries == existing.context["page"].entries == []
    assert "personne.inconnue" not in " ".join(unknown.context["form"].errors)
    api_unknown = api_client.get("/api/v1/history/", {"person": "personne.inconnue"}, **EN)
    api_existing = api_client.get("/api/v1/history/", {"person": nobody_here.username}, **EN)
    assert (api_unknown.status_code, api_unknown.json()) == (200, [])
    assert (api_existing.status_code, api_existing.json()) == (200, [])


def test_the_organisations_listed_are_only_those_the_auditor_may_audit(
    client, api_client, history_contract, coordinator
):
    mine = OrganisationFactory(code="MIENNE", name="Organisme du contrat")
    history_contract.organisations.add(mine)
    elsewhere = OrganisationFactory(code="AILLEURS", name="Organisme d\u2019ailleurs")
    ContractFactory().organisations.add(elsewhere)
    client.force_login(coordinator)
    api_client.force_authenticate(coordinator)

    page = client.get(reverse("workflows:history_search"), **EN)

    assert "Organisme du contrat" in page.content.decode()
    assert "Organisme d\u2019ailleurs" not in page.content.decode()
    # A code of an organisation elsewhere is refused like a code that does not exist.
    other = api_client.get("/api/v1/history/", {"organisation": "AILLEURS"}, **EN)
    unknown = api_client.get("/api/v1/history/", {"organisation": "N-EXISTE-PAS"}, **EN)
    assert (
        assert_error(other, 400)["errors"]
        == assert_error(unknown, 400)["errors"]
        == [e.replace("N-EXISTE-PAS", "AILLEURS") for e in unknown.json()["errors"]]
    )


def test_staff_still_see_every_organisation(client, history_contract):
    OrganisationFactory(name="Organisme d\u2019ailleurs")
    client.force_login(UserFactory(is_staff=True))

    page = client.get(reverse("workflows:history_search"), **EN)

    assert "Organisme d\u2019ailleurs" in page.content.decode()


# --- An export writes a record: POST with CSRF, never a GET --------------------------------


@pytest.mark.parametrize("format", ["csv", "json"])
def test_a_get_of_an_export_is_a_405_and_records_nothing(
    client, api_client, history_contract, coordinator, format
):
    client.force_login(coordinator)
    api_client.force_authenticate(coordinator)

    page = client.get(reverse("workflows:history_export", args=[format]), **EN)
    api = api_client.get(f"/api/v1/history/export.{format}", **EN)

    assert page.status_code == 405
    assert "POST" in page.content.decode()
    assert "POST" in assert_error(api, 405)["detail"]
    assert not HistoryExport.objects.exists()


def test_an_export_needs_the_csrf_token(history_contract, coordinator):
    client = Client(enforce_csrf_checks=True)
    client.force_login(coordinator)
    api = APIClient(enforce_csrf_checks=True)
    api.force_login(coordinator)  # a session, as a browser on another site would use

    page = client.post(reverse("workflows:history_export", args=["csv"]))
    refused = api.post("/api/v1/history/export.csv", **EN)

    assert page.status_code == 403
    assert_error(refused, 403)
    assert not HistoryExport.objects.exists()


def test_the_pages_export_by_post_with_the_token(client, history_contract, coordinator):
    client.force_login(coordinator)
    history = client.get(reverse("workflows:contract_history", args=[history_contract.pk]))
    search = client.get(reverse("workflows:history_search"), {"event": "transition"})

    for page in (history, search):
        html = page.content.decode()
        assert 'method="post"' in html
        assert "/audit/export.csv" in html
        assert 'href="/audit/export.' not in html

    response = client.post(reverse("workflows:history_export", args=["json"]) + "?event=transition")
    assert response.status_code == 200
    assert HistoryExport.objects.get().filters == {"event": "transition"}


# --- Meetings: the committee's, the coordinators' and staff's -----------------------------


@pytest.fixture
def committee(contract):
    return SteeringCommitteeFactory(
        contract=contract, chair=UserFactory(), members=[UserFactory(), UserFactory()]
    )


def test_meetings_are_refused_to_someone_who_only_sees_the_contract(client, contract, committee):
    pilot = ActionFactory(contract=contract).pilot
    client.force_login(pilot)
    assert client.get(reverse("workflows:contract_detail", args=[contract.pk])).status_code == 200

    assert client.get(reverse("notifications:meetings", args=[contract.pk])).status_code == 403
    scheduled = client.post(
        reverse("notifications:meetings", args=[contract.pk]),
        {"starts_at": "2030-01-01T10:00", "ends_at": "2030-01-01T12:00", "place": "Mairie"},
    )
    assert scheduled.status_code == 403
    assert not Meeting.objects.exists()


def test_meetings_are_a_404_for_a_contract_not_visible(client, contract, committee, stranger):
    client.force_login(stranger)

    assert client.get(reverse("notifications:meetings", args=[contract.pk])).status_code == 404


def test_meetings_are_open_to_members_chair_coordinators_and_staff(
    client, contract, committee, coordinator
):
    people = [committee.chair, committee.members.first(), coordinator, UserFactory(is_staff=True)]
    for person in people:
        client.force_login(person)
        response = client.get(reverse("notifications:meetings", args=[contract.pk]))
        assert response.status_code == 200, person
