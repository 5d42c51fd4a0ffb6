"""The signed documents as the signature tests check them, and a blank one to seal."""

from __future__ import annotations

from io import StringIO

from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from signatures import keys, services
from signatures.document import SEAL_FIELD, FieldBox, _Document, _with_fields
from signatures.models import ContractDocument
from signatures.selectors import document_verify
from workflows.models import Contract, Signatory


def assert_signed_by(contract: Contract, *signatories: Signatory) -> ContractDocument:
    """The contract is signed, and its stored document verifies with exactly these parties'
    signatures and Accord's seal."""
    contract.refresh_from_db()
    assert contract.status == "signed"
    document = ContractDocument.objects.get(contract=contract)
    check = document_verify(bytes(document.pdf), frozen=document)
    assert check.ok, check
    assert sorted(s.field_name for s in check.signatures) == sorted(
        [*(f"signature-{s.organisation.code}" for s in signatories), SEAL_FIELD]
    )
    return document


def blank_with_a_seal_field() -> bytes:
    """A one-page document whose only field is Accord's seal's, empty."""
    blank = _Document("Essai", when=timezone.now())
    blank.add_page()
    return _with_fields(bytes(blank.output()), [FieldBox(SEAL_FIELD, 0, (50, 50, 250, 100))])


def sealed_blank(pdf: bytes, *, archive: bool = False) -> bytes:
    """``pdf`` (``blank_with_a_seal_field``) signed in its seal field with the seal's key,
    timestamped by the configured authority; ``archive``: then the document timestamp."""
    return services.sign_pdf(
        pdf,
        field_name=SEAL_FIELD,
        stored_key=keys.seal_key(),
        name="Accord",
        reason="Essai",
        stamp=["Essai"],
        archive=archive,
    )


def verify_command(contract: Contract, pdf: bytes, tmp_path) -> tuple[str, int]:
    """What ``manage.py verify_document REFERENCE --file COPY`` prints of ``pdf``, and its
    exit code."""
    path = tmp_path / "copie.pdf"
    path.write_bytes(pdf)
    out = StringIO()
    try:
        call_command("verify_document", contract.reference, "--file", str(path), stdout=out)
    except CommandError as exc:
        return out.getvalue() + str(exc), exc.returncode
    return out.getvalue(), 0
