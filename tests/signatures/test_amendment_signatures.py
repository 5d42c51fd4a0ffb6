"""An amendment is signed and sealed like the contract (life.md): its first party's signature
certifies its document allowing only the signing of its empty fields (DocMDP, P=2), so that
the other parties' signatures and Accord's seal are the only changes a PDF reader accepts
after it; anything else appended once it is signed is reported as a change not allowed."""

from __future__ import annotations

import io
import re

import pytest
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import signers
from pyhanko.sign.fields import MDPPerm, SigFieldSpec

from signatures import keys
from signatures.amendments import amendment_document_pdf
from signatures.selectors import ChangeKind, document_verify
from tests.factories import SignatoryFactory
from tests.flows import amendment_to_signing, decide, open_tasks
from tests.shared import signed_contract_once
from tests.signatures.pdf import run_pdfsig
from tests.signatures.test_modifications import annotated, page_count, with_page
from workflows.models import Amendment, Contract, TaskKind

pytestmark = pytest.mark.django_db


def _second_mandatory_party(contract: Contract, coordinator) -> None:
    SignatoryFactory(contract=contract, organisation__name="Département de la Nièvre")


@pytest.fixture(scope="module")
def signed_once(django_db_setup, django_db_blocker):
    """A signed contract with two mandatory signatories: both sign its amendments."""
    with signed_contract_once(django_db_blocker, before_signing=_second_mandatory_party) as pk:
        yield pk


@pytest.fixture
def amendment_pdfs(signed, coordinator) -> list[bytes]:
    """The amendment's document as each party's signature leaves it: the first party's, then
    the second's, which Accord's seal follows."""
    amendment_to_signing(signed, coordinator)
    amendment = Amendment.objects.get(contract=signed)
    pdfs = []
    while tasks := open_tasks(signed, TaskKind.SIGNATURE):
        decide(tasks[0], "sign")
        pdf = amendment_document_pdf(amendment)
        assert pdf is not None
        pdfs.append(pdf)
    assert len(pdfs) == 2
    return pdfs


def _reader(pdf: bytes) -> PdfFileReader:
    return PdfFileReader(io.BytesIO(pdf))


def test_the_first_party_signature_certifies_the_amendment_allowing_only_signatures(
    amendment_pdfs,
):
    reader = _reader(amendment_pdfs[0])
    (first,) = reader.embedded_regular_signatures

    assert first.field_name.startswith("signature-")
    assert first.docmdp_level == MDPPerm.FILL_FORMS
    assert "/DocMDP" in reader.root["/Perms"]
    assert first.sig_object["/Reference"][0]["/TransformParams"]["/P"] == 2


def test_the_next_signature_and_the_seal_are_allowed_and_change_nothing(amendment_pdfs):
    """The second party signs its empty field, the seal closes the document: each fits the
    certification, and the check finds nothing added."""
    for pdf in amendment_pdfs:
        check = document_verify(pdf)
        assert check.ok, check
        assert check.changes == []
        assert all(s.modifications_allowed is True for s in check.signatures)
    sealed = _reader(amendment_pdfs[-1])
    signatures = list(sealed.embedded_regular_signatures)
    assert [s.docmdp_level for s in signatures] == [
        MDPPerm.FILL_FORMS,  # the certification
        None,  # an approval signature
        MDPPerm.NO_CHANGES,  # the seal's lock
    ]
    assert signatures[-1].field_name == "accord-seal"
    assert document_verify(amendment_pdfs[-1]).sealed


def signed_in_a_block_of_its_own(pdf: bytes) -> bytes:
    """A signature in a visible field "intrus" added on page 1, by someone holding a
    certificate of Accord's authority: a signature block the frozen document did not have."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    return (
        signers.PdfSigner(
            signers.PdfSignatureMetadata(field_name="intrus"),
            signer=keys.signer_for(keys.seal_key()),
            new_field_spec=SigFieldSpec("intrus", on_page=0, box=(50, 50, 250, 100)),
        )
        .sign_pdf(writer)
        .getvalue()
    )


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (annotated, [(ChangeKind.ANNOTATION, 1)]),
        (with_page, [(ChangeKind.PAGE_ADDED, "last")]),
        # Signed itself: the check names what follows the last signature, nothing here.
        (signed_in_a_block_of_its_own, []),
    ],
    ids=["annotation", "page", "new signature block"],
)
def test_an_update_other_than_the_parties_signatures_after_the_first_is_not_allowed(
    amendment_pdfs, change, expected
):
    """Only the empty fields drawn at the freeze may be signed after the certification: a
    page, an annotation or a signature block added later is a change it does not allow (an
    approval signature let a new visible signature through)."""
    copy = change(amendment_pdfs[0])

    check = document_verify(copy)

    pages = page_count(copy)
    assert [(c.kind, c.page) for c in check.changes] == [
        (kind, pages if page == "last" else page) for kind, page in expected
    ]
    assert check.signatures[0].modifications_allowed is False
    assert not check.ok


def test_pdfsig_finds_the_amendments_signatures_and_seal_valid(pdfsig, amendment_pdfs, tmp_path):
    """poppler's pdfsig, a reader independent of Accord, on the signed and sealed amendment."""
    out = run_pdfsig(pdfsig, amendment_pdfs[-1], tmp_path, "avenant-1.pdf")

    fields = re.findall(r"Signature Field Name: (\S+)", out)
    assert len(fields) == 4
    assert fields[-2:] == ["accord-seal", "accord-archive-timestamp"]
    assert out.count("Signature Validation: Signature is Valid.") == 3
    assert out.count("Total document signed") == 1  # the archive timestamp, last
