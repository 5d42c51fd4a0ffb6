"""Timestamps from an outside authority (ACCORD_TSA_URL, its roots in ACCORD_TSA_ROOTS) are
checked against that authority's roots: the signers' certificates against Accord's own."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from django.test import Client
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers, timestamps

from config.celery_app import app as celery_app
from signatures.document import SEAL_FIELD, signature_field_name
from signatures.models import ContractDocument
from signatures.selectors import ChangeKind, document_verify
from tests.factories import ActionFactory, SignatoryFactory
from tests.flows import walk_to_signed
from tests.signatures.documents import verify_command
from tests.signatures.test_modifications import drawn
from tests.signatures.tsa import Authority, outside_authority

TSA_NAME = "Horodatage Exemple — TSA 1"


@pytest.fixture
def outside(settings, tmp_path) -> Iterator[Authority]:
    """Accord timestamps with an authority whose root its own never issued."""
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True  # the seal's task, as a worker runs it
    authority = outside_authority()
    served = Authority(authority.stamper, watch=False)
    roots = tmp_path / "tsa-roots.pem"
    roots.write_bytes(authority.roots_pem)
    settings.ACCORD_TSA_URL = served.url
    settings.ACCORD_TSA_ROOTS = str(roots)
    settings.ACCORD_TSA_TIMEOUT = 10
    yield served
    served.stop()
    celery_app.conf.task_always_eager = eager


@pytest.fixture
def sealed(contract, coordinator, outside, django_capture_on_commit_callbacks) -> ContractDocument:
    """The contract signed by its party and sealed, every timestamp the outside one's."""
    ActionFactory(contract=contract)
    SignatoryFactory(contract=contract)
    with django_capture_on_commit_callbacks(execute=True):
        walk_to_signed(contract, coordinator)
    document = ContractDocument.objects.get(contract=contract)
    assert document.sealed_at is not None
    assert outside.requests >= 3  # the signature's, the seal's, the document timestamp
    return document


@pytest.mark.django_db
def test_an_auditor_sees_the_outside_authoritys_timestamps_trusted(sealed):
    check = document_verify(bytes(sealed.pdf), frozen=sealed)

    assert check.ok, check
    assert check.sealed
    assert check.changes == []
    party = signature_field_name(sealed.contract.signatories.get())
    assert [
        (s.field_name, s.ok, s.trusted, s.timestamp_trusted, s.timestamp_authority)
        for s in check.signatures
    ] == [(party, True, True, True, TSA_NAME), (SEAL_FIELD, True, True, True, TSA_NAME)]


def renewed(pdf: bytes, url: str) -> bytes:
    """One more document timestamp from the outside authority, as an archive renewing
    PAdES B-LTA asks it for one."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    stamper = signers.PdfTimeStamper(timestamps.HTTPTimeStamper(url), field_name="renouvellement")
    return stamper.timestamp_pdf(writer, "sha256").getvalue()


@pytest.mark.django_db
def test_changes_are_named_after_the_outside_authoritys_document_timestamps(
    sealed, outside, caplog
):
    """The outside authority's archive timestamp and a renewal of it are no change: a drawing
    after them is named alone, each timestamp validated under the authority's roots (no
    warning that pyHanko found no path to a trusted root)."""
    renewal = renewed(bytes(sealed.pdf), outside.url)
    assert document_verify(renewal).changes == []
    copy = drawn(renewal)

    caplog.clear()
    with caplog.at_level("WARNING", logger="pyhanko"):
        check = document_verify(copy)

    assert [(c.kind, c.page) for c in check.changes] == [(ChangeKind.CONTENT, 1)]
    assert [r.getMessage() for r in caplog.records if "build path" in r.getMessage()] == []


@pytest.mark.django_db
def test_the_page_the_api_and_verify_document_show_the_timestamps_trusted(
    sealed, coordinator, api_client, tmp_path
):
    contract = sealed.contract
    browser = Client(HTTP_ACCEPT_LANGUAGE="fr")
    browser.force_login(coordinator)
    page = browser.get(f"/contrats/{contract.pk}/document/verification/")
    assert page.status_code == 200
    text = page.content.decode()
    assert text.count(f"Horodaté par {TSA_NAME}, le ") == 2
    assert "non reconnue" not in text

    api_client.force_authenticate(coordinator)
    found = api_client.get(f"/api/v1/contracts/{contract.pk}/document/verification/").json()
    assert found["status"] == "intact"
    assert [
        (s["timestamp_authority"], s["timestamp_trusted"], bool(s["timestamped_at"]))
        for s in found["signatures"]
    ] == [(TSA_NAME, True, True)] * 2

    output, code = verify_command(contract, bytes(sealed.pdf), tmp_path)
    assert code == 0, output
    assert output.count(f"by {TSA_NAME} (trusted)") == 2
    assert f"{contract.reference}: OK (2 signatures)" in output


def test_a_missing_or_broken_roots_file_stops_the_start(tmp_path, settings):
    """``manage.py check`` (and ``migrate``, at each deployment) refuses an outside
    authority whose roots cannot be read: every signature and every verification reads them."""
    from django.core import checks

    def errors() -> list[str]:
        return [m.id for m in checks.run_checks() if m.id and m.id.startswith("signatures.")]

    settings.ACCORD_TSA_URL = "https://tsa.example.org/"
    settings.ACCORD_TSA_ROOTS = ""
    assert errors() == ["signatures.E002"]

    settings.ACCORD_TSA_ROOTS = str(tmp_path / "gone.pem")
    assert errors() == ["signatures.E003"]

    broken = tmp_path / "broken.pem"
    broken.write_text("-----BEGIN CERTIFICATE-----\nnot one\n-----END CERTIFICATE-----\n")
    settings.ACCORD_TSA_ROOTS = str(broken)
    assert errors() == ["signatures.E003"]

    # Kept after the authority is no longer used: still read by every verification.
    settings.ACCORD_TSA_URL = ""
    assert errors() == ["signatures.E003"]

    good = tmp_path / "roots.pem"
    good.write_bytes(outside_authority().roots_pem)
    settings.ACCORD_TSA_ROOTS = str(good)
    assert errors() == []
