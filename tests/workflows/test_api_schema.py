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
