"""The auditor's API: the search across contracts, its exports and the verification bundle,
with the same access rules as the pages."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import ActionFactory, ContractFactory, UserFactory
from tests.flows import launch
from workflows.models import ContractAuditor, HistoryExport

pytestmark = pytest.mark.django_db


def api_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


@pytest.fixture
def two_contracts(contract, coordinator):
    """Two contracts, each with its review launched on two actions: 11 entries each (the
    launch, two actions sent to review, four leads' review tasks opened and notified)."""
    other = ContractFactory()
    for item in (contract, other):
        ActionFactory.create_batch(2, contract=item)
        launch(item, item.coordinators.get())
    return contract, other


def test_a_partner_searches_only_its_contracts(two_contracts, coordinator):
    mine, _other = two_contracts
    response = api_for(coordinator).get("/api/v1/history/", {"limit": 2})
    assert response.status_code == 200
    assert [e["contract"] for e in response.json()] == [mine.reference] * 2
    assert [e["seq"] for e in response.json()] == [11, 10]  # newest first
    assert 'rel="next"' in response["Link"]
    last = api_for(coordinator).get("/api/v1/history/", {"limit": 2, "offset": 10})
    assert [e["seq"] for e in last.json()] == [1]
    assert "Link" not in last or 'rel="next"' not in last["Link"]


def test_staff_search_by_event_and_contract(two_contracts):
    mine, other = two_contracts
    staff = api_for(UserFactory(is_staff=True))
    answer = staff.get("/api/v1/history/", {"event": "transition"}).json()
    assert {e["contract"] for e in answer} == {mine.reference, other.reference}
    only = staff.get("/api/v1/history/", {"contract": other.reference}).json()
    assert {e["contract"] for e in only} == {other.reference}


def test_a_bad_criterion_is_a_clear_400(two_contracts, coordinator):
    _mine, other = two_contracts
    client = api_for(coordinator)
    refused = client.get("/api/v1/history/", {"since": "hier"}, HTTP_ACCEPT_LANGUAGE="en")
    assert refused.status_code == 400
    assert refused.json()["detail"].startswith("since: ")
    hidden = client.get("/api/v1/history/", {"contract": other.reference})
    assert hidden.status_code == 400  # not one of the caller's contracts


def test_the_exports_are_recorded_and_scoped(two_contracts, coordinator):
    mine, _other = two_contracts
    client = api_for(coordinator)
    response = client.post("/api/v1/history/export.csv", HTTP_ACCEPT="text/csv")
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    assert {row[0] for row in rows[1:]} == {mine.reference}
    document = json.loads(b"".join(client.post("/api/v1/history/export.json").streaming_content))
    assert len(document["entries"]) == 11
    assert list(HistoryExport.objects.order_by("at").values_list("format", "entries")) == [
        ("csv", 11),
        ("json", 11),
    ]
    assert client.post("/api/v1/history/export.xml").status_code == 404


def test_the_bundle_by_api_for_an_auditor_only_of_their_contract(two_contracts):
    mine, other = two_contracts
    auditor = UserFactory()
    ContractAuditor.objects.create(contract=mine, user=auditor)
    client = api_for(auditor)
    response = client.post(f"/api/v1/contracts/{mine.pk}/history/bundle/")
    assert response.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(response.content)).namelist()
    assert f"accord-{mine.reference}-verification/verify_history.py" in names
    assert mine.history.order_by("seq").last().actor == auditor
    assert client.post(f"/api/v1/contracts/{other.pk}/history/bundle/").status_code == 404
    assert client.get(f"/api/v1/contracts/{mine.pk}/history/").status_code == 200
