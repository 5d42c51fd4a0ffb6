"""A copy of the sealed contract changed after the seal, each way an intruder might (a drawing,
an annotation, a filled-in field, a page, bytes at the end), is reported as modified, naming
what changed, by `verify_document`, the verification page and the API; the untouched document
still verifies. The seal locks the document (DocMDP) so that readers flag those changes too."""

from __future__ import annotations

import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import signers, timestamps
from pyhanko.sign.fields import MDPPerm

from signatures import keys
from signatures.amendments import amendment_document_pdf
from signatures.selectors import ChangeKind, contract_document_pdf, document_verify
from tests.flows import amendment_to_signing, decide, open_tasks
from tests.signatures.documents import verify_command
from workflows.models import Amendment, TaskKind

pytestmark = pytest.mark.django_db


def _writer(pdf: bytes) -> IncrementalPdfFileWriter:
    return IncrementalPdfFileWriter(io.BytesIO(pdf))


def _first_page(writer: IncrementalPdfFileWriter):
    page_ref = writer.root["/Pages"]["/Kids"][0]
    return page_ref, page_ref.get_object()


def drawn(pdf: bytes) -> bytes:
    """ "MONTANT : 9 999 999 EUR" drawn on page 1, as pyHanko's writer appends it."""
    writer = _writer(pdf)
    font = writer.add_object(
        generic.DictionaryObject(
            {
                pdf_name("/Type"): pdf_name("/Font"),
                pdf_name("/Subtype"): pdf_name("/Type1"),
                pdf_name("/BaseFont"): pdf_name("/Helvetica-Bold"),
            }
        )
    )
    stream = writer.add_object(
        generic.StreamObject(stream_data=b"BT /FX 20 Tf 60 400 Td (MONTANT : 9 999 999 EUR) Tj ET")
    )
    resources = generic.DictionaryObject(
        {pdf_name("/Font"): generic.DictionaryObject({pdf_name("/FX"): font})}
    )
    writer.add_stream_to_page(0, stream, resources=resources)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def annotated(pdf: bytes) -> bytes:
    """A free-text annotation on page 1."""
    writer = _writer(pdf)
    _page_ref, page = _first_page(writer)
    annotation = writer.add_object(
        generic.DictionaryObject(
            {
                pdf_name("/Type"): pdf_name("/Annot"),
                pdf_name("/Subtype"): pdf_name("/FreeText"),
                pdf_name("/Rect"): generic.ArrayObject(
                    map(generic.NumberObject, (50, 50, 300, 90))
                ),
                pdf_name("/Contents"): generic.TextStringObject("MONTANT : 9 999 999 EUR"),
                pdf_name("/DA"): generic.TextStringObject("/Helv 12 Tf 0 g"),
            }
        )
    )
    annots = page.get("/Annots")
    if annots is None:
        page[pdf_name("/Annots")] = generic.ArrayObject([annotation])
    else:
        annots.get_object().append(annotation)
        if isinstance(page.raw_get("/Annots"), generic.IndirectObject):
            writer.update_container(annots)
    writer.update_container(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def with_empty_field(pdf: bytes) -> bytes:
    """A text field "montant" on page 1, empty."""
    writer = _writer(pdf)
    page_ref, page = _first_page(writer)
    field = writer.add_object(
        generic.DictionaryObject(
            {
                pdf_name("/Type"): pdf_name("/Annot"),
                pdf_name("/Subtype"): pdf_name("/Widget"),
                pdf_name("/FT"): pdf_name("/Tx"),
                pdf_name("/T"): generic.TextStringObject("montant"),
                pdf_name("/Rect"): generic.ArrayObject(
                    map(generic.NumberObject, (50, 50, 300, 90))
                ),
                pdf_name("/P"): page_ref,
            }
        )
    )
    page.get("/Annots").get_object().append(field) if "/Annots" in page else page.__setitem__(
        pdf_name("/Annots"), generic.ArrayObject([field])
    )
    if isinstance(page.raw_get("/Annots"), generic.IndirectObject):
        writer.update_container(page["/Annots"])
    writer.update_container(page)
    form = writer.root["/AcroForm"]
    form["/Fields"].append(field)
    if isinstance(form.raw_get("/Fields"), generic.IndirectObject):
        writer.update_container(form["/Fields"])
    writer.update_container(form)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def filled(pdf: bytes) -> bytes:
    """The empty field "montant" added after the seal, then filled in a later update."""
    pdf = with_empty_field(pdf)
    writer = _writer(pdf)
    form = writer.root["/AcroForm"]
    for item in form["/Fields"]:
        field = item.get_object()
        if field.get("/T") == "montant":
            field[pdf_name("/V")] = generic.TextStringObject("9 999 999 EUR")
            writer.update_container(field)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def with_page(pdf: bytes) -> bytes:
    """A blank page added at the end."""
    writer = _writer(pdf)
    writer.insert_page(
        generic.DictionaryObject(
            {
                pdf_name("/Type"): pdf_name("/Page"),
                pdf_name("/MediaBox"): generic.ArrayObject(
                    map(generic.NumberObject, (0, 0, 595, 842))
                ),
                pdf_name("/Resources"): generic.DictionaryObject(),
            }
        )
    )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def signed_again(pdf: bytes) -> bytes:
    """A signature in a new field "intrus", by someone holding a certificate of Accord's
    authority: readers would list it as valid."""
    writer = _writer(pdf)
    metadata = signers.PdfSignatureMetadata(field_name="intrus")
    signer = keys.signer_for(keys.seal_key())
    return signers.PdfSigner(metadata, signer=signer).sign_pdf(writer).getvalue()


def with_trailing_bytes(pdf: bytes) -> bytes:
    return pdf + b"\n% MONTANT : 9 999 999 EUR\n"


def page_count(pdf: bytes) -> int:
    return int(PdfFileReader(io.BytesIO(pdf)).root["/Pages"]["/Count"])


# (kind of change, how it is made, what the check names, in English then in French)
CHANGES = [
    ("drawing", drawn, [(ChangeKind.CONTENT, 1)], "contenu ajouté sur la page 1"),
    ("annotation", annotated, [(ChangeKind.ANNOTATION, 1)], "annotation sur la page 1"),
    (
        "form fill",
        filled,
        [(ChangeKind.FORM_FIELD, None)],
        "champ de formulaire «\u00a0montant\u00a0» ajouté ou rempli",
    ),
    ("page", with_page, [(ChangeKind.PAGE_ADDED, "last")], "ajoutée"),  # page N ajoutée
    (
        "signature",
        signed_again,
        [(ChangeKind.SIGNATURE, None)],
        "signature ajoutée dans le champ «\u00a0intrus\u00a0»",
    ),
    (
        "trailing bytes",
        with_trailing_bytes,
        [(ChangeKind.TRAILING_BYTES, None)],
        "octets ajoutés après la fin du document",
    ),
]
IDS = [case[0] for case in CHANGES]


@pytest.mark.parametrize(("name", "change", "expected", "french"), CHANGES, ids=IDS)
def test_each_change_after_the_seal_is_named(signed, name, change, expected, french):
    pdf = contract_document_pdf(signed)
    copy = change(pdf)

    check = document_verify(copy)

    assert check.sealed
    assert check.modified
    assert not check.ok
    pages = page_count(copy)
    assert [(c.kind, c.page) for c in check.changes] == [
        (kind, pages if page == "last" else page) for kind, page in expected
    ]
    # pyHanko's own difference analysis finds each incremental update against the DocMDP
    # permissions: the first signature's certification (P=2) and the seal's lock (P=1).
    # Bytes after the end are no revision: only Accord's check of the file's end sees them.
    # A new signature is what the certification allows, not the seal; the intruder's own
    # signature covers the whole file.
    allowed = [s.modifications_allowed for s in check.signatures]
    assert allowed == {
        "trailing bytes": [True, True],
        "signature": [True, False, True],
    }.get(name, [False, False])


def test_the_untouched_sealed_document_still_verifies(signed):
    check = document_verify(contract_document_pdf(signed))

    assert check.sealed
    assert check.ok
    assert check.changes == []
    assert len(check.signatures) == 2  # the party's, then the seal
    assert all(s.modifications_allowed is not False for s in check.signatures)


def test_the_first_signature_certifies_and_the_seal_locks_the_document(signed):
    """Readers see the policy: the first party's certification allows only signing (P=2),
    the seal's field lock allows no change (P=1)."""
    reader = PdfFileReader(io.BytesIO(contract_document_pdf(signed)))
    signatures = list(reader.embedded_regular_signatures)

    assert [s.docmdp_level for s in signatures] == [MDPPerm.FILL_FORMS, MDPPerm.NO_CHANGES]
    assert "/DocMDP" in reader.root["/Perms"]
    assert signatures[-1].field_name == "accord-seal"
    assert signatures[-1].sig_field["/Lock"]["/P"] == 1
    # Then only the document timestamp (PAdES B-LTA), the file's last revision: it sets no
    # permission of its own.
    (archive,) = reader.embedded_timestamp_signatures
    assert archive.field_name == "accord-archive-timestamp"
    assert archive.signed_revision == reader.xrefs.total_revisions - 1
    assert archive.docmdp_level is None


@pytest.mark.parametrize(("name", "change", "expected", "french"), CHANGES, ids=IDS)
def test_verify_document_reports_the_copy_modified_and_fails(
    signed, tmp_path, name, change, expected, french
):
    out, code = verify_command(signed, change(contract_document_pdf(signed)), tmp_path)

    assert code == 1
    assert "MODIFIED after Accord's seal:" in out
    assert f"{signed.reference}: the document was modified after its seal." in out
    assert "OK (" not in out


def test_an_amendments_seal_locks_it_as_the_contracts_seal_locks_the_contract(signed, coordinator):
    """An amendment is its own document, signed then sealed like the contract (life.md):
    nothing may be added to it after its seal. pyHanko's validation reads the seal's lock
    (P=1) and refuses even a signature after it, which a party's signature would allow."""
    amendment_to_signing(signed, coordinator)
    (task,) = open_tasks(signed, TaskKind.SIGNATURE)
    decide(task, "sign")
    pdf = amendment_document_pdf(Amendment.objects.get(contract=signed))
    assert pdf is not None

    reader = PdfFileReader(io.BytesIO(pdf))
    party, seal = reader.embedded_regular_signatures
    assert (seal.field_name, seal.docmdp_level) == ("accord-seal", MDPPerm.NO_CHANGES)
    assert seal.sig_field["/Lock"]["/P"] == 1
    assert document_verify(pdf).ok
    check = document_verify(signed_again(pdf))
    assert [(s.field_name, s.modifications_allowed) for s in check.signatures] == [
        (party.field_name, True),
        ("accord-seal", False),
        ("intrus", True),
    ]
    assert not check.ok


def test_verify_document_passes_the_untouched_copy(signed, tmp_path):
    out, code = verify_command(signed, contract_document_pdf(signed), tmp_path)

    assert code == 0
    assert f"{signed.reference}: OK (2 signatures)" in out
    assert "MODIFIED" not in out


@pytest.fixture
def browser(signed) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="fr")
    client.force_login(signed.coordinators.first())
    return client


def check_page(browser, contract, content: bytes):
    return browser.post(
        f"/contrats/{contract.pk}/document/verification/",
        {"copy": SimpleUploadedFile("copie.pdf", content, content_type="application/pdf")},
    )


@pytest.mark.parametrize(("name", "change", "expected", "french"), CHANGES, ids=IDS)
def test_the_verification_page_names_what_changed_after_the_seal(
    browser, signed, name, change, expected, french
):
    response = check_page(browser, signed, change(contract_document_pdf(signed)))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Le document a été modifié après le sceau d’Accord." in page  # noqa: RUF001
    assert "Contenu ajouté après le sceau\u00a0:" in page
    assert french in page
    assert "toutes intactes" not in page


def test_the_verification_page_passes_the_untouched_copy(browser, signed):
    response = check_page(browser, signed, contract_document_pdf(signed))

    page = response.content.decode()
    assert response.status_code == 200
    assert "2 signatures, toutes intactes." in page
    assert "modifiée" not in page


def api_check(api_client, signed, content: bytes):
    api_client.force_authenticate(signed.coordinators.first())
    return api_client.post(
        f"/api/v1/contracts/{signed.pk}/document/verification/",
        {"copy": SimpleUploadedFile("copie.pdf", content, content_type="application/pdf")},
        format="multipart",
        HTTP_ACCEPT_LANGUAGE="en",
    )


@pytest.mark.parametrize(("name", "change", "expected", "french"), CHANGES, ids=IDS)
def test_the_api_reports_the_copy_modified_naming_the_changes(
    api_client, signed, name, change, expected, french
):
    copy = change(contract_document_pdf(signed))
    response = api_client_check = api_check(api_client, signed, copy)

    assert api_client_check.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "modified"
    assert body["sealed"] is True
    pages = page_count(copy)
    assert [(c["kind"], c["page"]) for c in body["changes"]] == [
        (kind.value, pages if page == "last" else page) for kind, page in expected
    ]
    assert all(c["description"] for c in body["changes"])


def test_the_api_reports_the_untouched_copy_intact(api_client, signed):
    response = api_check(api_client, signed, contract_document_pdf(signed))

    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "intact"
    assert body["changes"] == []
    assert len(body["signatures"]) == 2
    assert all(s["intact"] for s in body["signatures"])
    json.dumps(body)


def test_the_api_checks_the_stored_document_and_refuses_a_missing_file(api_client, signed):
    api_client.force_authenticate(signed.coordinators.first())
    url = f"/api/v1/contracts/{signed.pk}/document/verification/"

    assert api_client.get(url).json()["status"] == "intact"
    refused = api_client.post(url, {}, format="multipart")
    assert refused.status_code == 400


def timestamped(pdf: bytes, field_name: str = "horodatage") -> bytes:
    """One more document timestamp, as an archive renewing PAdES B-LTA adds one."""
    signer = keys.signer_for(keys.seal_key())
    stamper = timestamps.DummyTimeStamper(tsa_cert=signer.signing_cert, tsa_key=signer.signing_key)
    return (
        signers.PdfTimeStamper(stamper, field_name=field_name)
        .timestamp_pdf(_writer(pdf), "sha256")
        .getvalue()
    )


def test_a_document_timestamp_after_the_seal_is_no_change(signed):
    """Accord's document timestamp follows the seal (PAdES B-LTA), and an archive may add
    more: pyHanko's difference analysis calls them LTA updates, which the seal's lock allows
    and the check does not report."""
    stamped = timestamped(contract_document_pdf(signed))

    check = document_verify(stamped)

    assert check.changes == []
    assert check.signatures[1].field_name == "accord-seal"
    assert check.signatures[1].modification_level == "LTA_UPDATES"
    assert check.signatures[1].ok


def test_changes_are_named_against_the_last_timestamp_that_only_timestamps_follow(signed):
    """A drawing after an archive's renewal timestamp is named alone: the renewal, like
    Accord's own timestamp, is no change."""
    copy = drawn(timestamped(contract_document_pdf(signed)))

    check = document_verify(copy)

    assert [(c.kind, c.page) for c in check.changes] == [(ChangeKind.CONTENT, 1)]
    assert not check.ok


def test_a_timestamp_after_a_change_does_not_hide_it(signed):
    """A document timestamp an intruder adds after his drawing covers the drawing: it is no
    baseline, and is itself named as a new signature field."""
    copy = timestamped(drawn(contract_document_pdf(signed)), field_name="cachet-intrus")

    check = document_verify(copy)

    assert [(c.kind, c.page, c.field_name) for c in check.changes] == [
        (ChangeKind.CONTENT, 1, ""),
        (ChangeKind.SIGNATURE, None, "cachet-intrus"),
    ]
    assert not check.ok
