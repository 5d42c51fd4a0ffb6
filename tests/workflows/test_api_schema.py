"""The OpenAPI schema: served, complete, and generated without warnings."""

import pytest
from django.core.management import call_command
from drf_spectacular.drainage import GENERATOR_STATS

pytestmark = pytest.mark.django_db

PATHS = {
    "/api/v1/auth/token/",
    "/api/v1/contracts/",
    "/api/v1/contracts/import/",
    "/api/v1/contracts/{id}/",
    "/api/v1/contracts/{id}/transitions/{name}/",
    "/api/v1/contracts/{id}/history/",
    "/api/v1/contracts/{id}/history/verify/",
}


def test_the_schema_is_served_as_an_openapi_document_with_every_path(api_client):
    response = api_client.get("/api/v1/schema/", {"format": "json"})

    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "Accord API"
    assert set(schema["paths"]) >= PATHS


def test_the_schema_documents_bodies_and_error_answers(api_client):
    schema = api_client.get("/api/v1/schema/", {"format": "json"}).json()

    transition = schema["paths"]["/api/v1/contracts/{id}/transitions/{name}/"]["post"]
    name = next(p for p in transition["parameters"] if p["name"] == "name")
    assert set(name["schema"]["enum"]) == {
        "launch_review",
        "record_deliberation",
        "suspend",
        "resume",
        "withdraw",
        "close",
    }
    assert set(transition["responses"]) == {"200", "400", "401", "403", "404", "409"}
    error = schema["components"]["schemas"]["ErrorOutput"]
    assert set(error["properties"]) == {"detail", "errors"}
    detail = schema["components"]["schemas"]["ContractDetailOutput"]
    assert {"actions", "signatories", "available_transitions"} <= set(detail["properties"])
    imported = schema["paths"]["/api/v1/contracts/import/"]["post"]
    assert set(imported["requestBody"]["content"]) == {"application/json", "multipart/form-data"}
    assert "413" in imported["responses"]


def test_the_schema_generates_and_validates_without_any_warning(tmp_path):
    GENERATOR_STATS.reset()

    call_command(
        "spectacular",
        "--validate",
        "--fail-on-warn",
        "--lang",
        "en",
        "--file",
        str(tmp_path / "schema.yaml"),
    )

    assert (tmp_path / "schema.yaml").read_text().startswith("openapi: 3.")


def query_parameters(schema: dict, path: str, method: str = "get") -> list[str]:
    operation = schema["paths"][path][method]
    return [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]


def test_every_optional_query_parameter_takes_an_empty_value(api_client):
    schema = api_client.get("/api/v1/schema/", {"format": "json"}).json()
    optional = [
        (path, parameter["name"], parameter.get("allowEmptyValue"))
        for path, operations in schema["paths"].items()
        for operation in operations.values()
        for parameter in operation.get("parameters", [])
        if parameter["in"] == "query" and not parameter.get("required")
    ]

    assert len(optional) > 20
    assert [entry for entry in optional if not entry[2]] == []


@pytest.mark.parametrize("path", ["/api/v1/inbox/", "/api/v1/history/", "/api/v1/notifications/"])
def test_an_empty_filter_is_no_filter(api_client, contract, coordinator, path):
    """?kind= as an HTML form sends an unset filter: the same answer as without it."""
    api_client.force_authenticate(coordinator)
    names = query_parameters(api_client.get("/api/v1/schema/", {"format": "json"}).json(), path)

    empty = api_client.get(path + "?" + "&".join(f"{name}=" for name in names))
    plain = api_client.get(path)

    assert len(names) >= 4
    assert (empty.status_code, plain.status_code) == (200, 200)
    assert empty.json() == plain.json()


def test_an_empty_export_format_is_the_default_one(api_client, contract, coordinator):
    api_client.force_authenticate(coordinator)

    empty = api_client.get(f"/api/v1/contracts/{contract.pk}/export/?format=")

    assert empty.status_code == 200
    assert empty.json() == api_client.get(f"/api/v1/contracts/{contract.pk}/export/").json()


def test_every_operation_documents_the_400_of_a_nul_character(api_client):
    schema = api_client.get("/api/v1/schema/", {"format": "json"}).json()
    operations = [
        (method, path, operation["responses"])
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
    ]

    assert [(method, path) for method, path, answers in operations if "400" not in answers] == []
    assert "/api/v1/history/export.{file_format}" in schema["paths"]
    document = schema["paths"]["/api/v1/contracts/{id}/document/"]["get"]["responses"]
    assert {"200", "401", "404"} <= set(document)
