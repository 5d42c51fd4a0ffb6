"""A copy cut before the last revisions of the document Accord issued.

Cutting off the document timestamp (PAdES B-LTA), or the seal's revisions with it, leaves a
file whose remaining signatures all verify: only the stored document says what is missing.
The command, the verification page and the API compare the copy with it.
"""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from signatures.document import SEAL_FIELD
from signatures.selectors import (
    MissingKind,
    contract_document,
    contract_document_pdf,
    document_verify,
)
from signatures.services import ARCHIVE_TIMESTAMP_FIELD
from tests.signatures.documents import verify_command

pytestmark = pytest.mark.django_db


def cut(pdf: bytes, revisions: int = 1) -> bytes:
    """``pdf`` without its last ``revisions`` incremental updates: a byte-exact earlier
    version of the file, every signature in it as it was signed."""
    end = len(pdf.rstrip())
    for _revision in range(revisions):
        end = pdf.rfind(b"%%EOF", 0, end - len(b"%%EOF"))
        assert end > 0
    return pdf[: end + len(b"%%EOF")] + b"\n"


def without_timestamp(pdf: bytes) -> bytes:
    return cut(pdf)


def before_seal(pdf: bytes) -> bytes:
    """Every revision from the seal's on removed (seal, validation data, timestamp)."""
    revisions = 1
    while True:
        copy = cut(pdf, revisions)
        check = document_verify(copy)
        if not check.sealed:
            return copy
        revisions += 1


def test_the_stored_document_carries_its_document_timestamp(signed):
    """The premise: the stripped copy verifies by itself; only the stored document shows
    the document timestamp is gone."""
    pdf = contract_document_pdf(signed)
    copy = without_timestamp(pdf)
    alone = document_verify(copy)
    assert alone.ok
    assert alone.sealed

    check = document_verify(copy, frozen=contract_document(signed))
    assert not check.ok
    assert not check.changes
    assert [(m.kind, m.field_name) for m in check.missing] == [
        (MissingKind.DOCUMENT_TIMESTAMP, ARCHIVE_TIMESTAMP_FIELD)
    ]
    assert document_verify(pdf, frozen=contract_document(signed)).missing == []


def test_a_copy_cut_before_the_seal_lacks_the_seal_and_the_timestamp(signed):
    copy = before_seal(contract_document_pdf(signed))
    check = document_verify(copy, frozen=contract_document(signed))

    assert not check.ok
    kinds = {m.kind for m in check.missing}
    assert {MissingKind.SEAL, MissingKind.DOCUMENT_TIMESTAMP} <= kinds
    assert SEAL_FIELD in {m.field_name for m in check.missing}


@pytest.mark.parametrize("strip", [without_timestamp, before_seal])
def test_verify_document_reports_the_cut_copy_and_fails(signed, tmp_path, strip):
    out, code = verify_command(signed, strip(contract_document_pdf(signed)), tmp_path)

    assert code == 1
    assert "INCOMPLETE: this copy lacks" in out
    assert "the document timestamp “accord-archive-timestamp”" in out
    assert f"{signed.reference}: not the document Accord issued" in out
    assert "OK (" not in out


def test_the_verification_page_says_what_the_copy_lacks(signed):
    browser = Client(HTTP_ACCEPT_LANGUAGE="fr")
    browser.force_login(signed.coordinators.first())
    copy = without_timestamp(contract_document_pdf(signed))
    response = browser.post(
        f"/contrats/{signed.pk}/document/verification/",
        {"copy": SimpleUploadedFile("copie.pdf", copy, content_type="application/pdf")},
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "Cette copie n’est pas le document délivré par Accord" in page  # noqa: RUF001
    assert "l’horodatage du document" in page  # noqa: RUF001
    assert "toutes intactes" not in page


def test_the_api_reports_the_cut_copy_incomplete(api_client, signed):
    api_client.force_authenticate(signed.coordinators.first())
    url = f"/api/v1/contracts/{signed.pk}/document/verification/"
    copy = without_timestamp(contract_document_pdf(signed))
    response = api_client.post(
        url,
        {"copy": SimpleUploadedFile("copie.pdf", copy, content_type="application/pdf")},
        format="multipart",
        HTTP_ACCEPT_LANGUAGE="en",
    )

    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "incomplete"
    assert [(m["kind"], m["field"]) for m in body["missing"]] == [
        ("document-timestamp", ARCHIVE_TIMESTAMP_FIELD)
    ]
    assert "document timestamp" in body["missing"][0]["description"]
    stored = api_client.get(url).json()
    assert stored["status"] == "intact"
    assert stored["missing"] == []
