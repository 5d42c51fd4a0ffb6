"""Reads of the signatures: the current document, its checks, the completion certificate.

``document_verify`` checks a PDF with pyHanko's validation alone (the bytes, the signatures'
certificates and Accord's authority): what an auditor can redo without Accord's database.
"""

from __future__ import annotations

import datetime
import hashlib
import io
from dataclasses import dataclass, field

from asn1crypto import x509 as asn1_x509
from django.utils import timezone
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from workflows.models import CommitteeVote, Contract
from workflows.selectors import annual_report_data, annual_review_of

from .models import ContractDocument, KeyKind, SignatureEvidence, SigningKey
from .reports import render_annual_report


def contract_document(contract: Contract, *, with_pdf: bool = True) -> ContractDocument | None:
    """The document of the contract's current version, None before its deliberation;
    without its PDFs (``with_pdf=False``) for pages that only describe it."""
    documents = ContractDocument.objects.filter(
        contract=contract, contract_version=contract.version, voided_at__isnull=True
    )
    if not with_pdf:
        documents = documents.defer("pdf", "certificate_pdf")
    return documents.order_by("-pk").first()


def contract_document_pdf(contract: Contract) -> bytes | None:
    """The current PDF, with the signatures given so far; None before the deliberation."""
    document = contract_document(contract)
    return bytes(document.pdf) if document is not None else None


def completion_certificate(contract: Contract) -> dict | None:
    """The completion certificate's data (parties, signatures, the history head hash it
    printed), None until the contract is signed and sealed."""
    document = contract_document(contract, with_pdf=False)
    if document is None or document.certificate_data is None:
        return None
    return document.certificate_data


def completion_certificate_pdf(contract: Contract) -> bytes | None:
    document = contract_document(contract)
    if document is None or document.certificate_pdf is None:
        return None
    return bytes(document.certificate_pdf)


def signature_evidence(contract: Contract) -> list[SignatureEvidence]:
    """Every signature ever given on the contract, voided ones included, newest version first."""
    return list(
        SignatureEvidence.objects.filter(contract=contract)
        .select_related("signatory__organisation", "signer", "signed_by")
        .order_by("-contract_version", "signed_at", "pk")
    )


@dataclass
class SignatureCheck:
    """One signature of a PDF, as pyHanko's validation reports it."""

    field_name: str
    signer: str
    name: str
    reason: str
    signed_at: datetime.datetime | None
    intact: bool
    valid: bool
    trusted: bool
    whole_revision: bool
    chain: list[str] = field(default_factory=list)
    error: str = ""
    certificate_sha256: str = ""

    @property
    def ok(self) -> bool:
        return self.intact and self.valid and self.whole_revision and not self.error


@dataclass
class DocumentCheck:
    """All the signatures of a PDF; ``readable`` is False when it is not a PDF at all."""

    sha256: str
    readable: bool = True
    error: str = ""
    signatures: list[SignatureCheck] = field(default_factory=list)
    frozen_prefix_intact: bool | None = None

    @property
    def ok(self) -> bool:
        return (
            self.readable
            and bool(self.signatures)
            and all(s.ok for s in self.signatures)
            and self.frozen_prefix_intact is not False
        )


def _trust_roots() -> list[asn1_x509.Certificate]:
    return [
        asn1_x509.Certificate.load(bytes(der))
        for der in SigningKey.objects.filter(kind=KeyKind.AUTHORITY).values_list(
            "certificate", flat=True
        )
    ]


def _common_name(certificate: asn1_x509.Certificate) -> str:
    return certificate.subject.native.get("common_name") or certificate.subject.human_friendly


def _check(embedded, roots: list[asn1_x509.Certificate]) -> SignatureCheck:
    sig_object = embedded.sig_object
    check = SignatureCheck(
        field_name=embedded.field_name,
        signer="",
        name=str(sig_object.get("/Name", "")),
        reason=str(sig_object.get("/Reason", "")),
        signed_at=embedded.self_reported_timestamp,
        intact=False,
        valid=False,
        trusted=False,
        whole_revision=False,
    )
    try:
        check.signer = _common_name(embedded.signer_cert)
        check.certificate_sha256 = hashlib.sha256(embedded.signer_cert.dump()).hexdigest()
        context = ValidationContext(trust_roots=roots, allow_fetching=False)
        status = validate_pdf_signature(embedded, context)
    except (PdfError, ValueError, KeyError, TypeError) as exc:
        check.error = str(exc)
        return check
    check.intact, check.valid, check.trusted = status.intact, status.valid, status.trusted
    check.whole_revision = status.coverage in (
        SignatureCoverageLevel.ENTIRE_REVISION,
        SignatureCoverageLevel.ENTIRE_FILE,
    )
    if status.validation_path is not None:
        check.chain = [_common_name(cert) for cert in status.validation_path.iter_certs(True)]
    else:
        check.chain = [_common_name(embedded.signer_cert)]
    return check


def document_verify(pdf: bytes, *, frozen: ContractDocument | None = None) -> DocumentCheck:
    """Check every signature of ``pdf``; with the stored document, also that the bytes frozen
    at the deliberation are still its beginning."""
    result = DocumentCheck(sha256=hashlib.sha256(pdf).hexdigest())
    if frozen is not None:
        prefix = pdf[: frozen.frozen_size]
        result.frozen_prefix_intact = hashlib.sha256(prefix).hexdigest() == frozen.sha256
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        # The document timestamp after the seal (PAdES B-LTA) is no one's signature.
        signatures = list(reader.embedded_regular_signatures)
    except (PdfError, ValueError, KeyError, TypeError) as exc:
        result.readable, result.error = False, str(exc)
        return result
    roots = _trust_roots()
    result.signatures = [_check(embedded, roots) for embedded in signatures]
    return result


def contract_document_check(contract: Contract) -> DocumentCheck | None:
    """The checks of the contract's current document, None before the deliberation."""
    document = contract_document(contract)
    if document is None:
        return None
    return document_verify(bytes(document.pdf), frozen=document)


def annual_report_pdf(contract: Contract, year: int) -> bytes | None:
    """The year's annual report: the PDF the committee's decision kept, or, before it, one
    drawn now and marked as a draft (projet); None when the year has no review."""
    review = annual_review_of(contract, year)
    if review is None:
        return None
    if review.report_pdf:
        return bytes(review.report_pdf)
    return render_annual_report(annual_report_data(review), draft=True, when=timezone.now())


def committee_minutes(contract: Contract, round: int | None = None) -> CommitteeVote | None:
    """The decided round ``round`` of the contract's committee votes (the contract's, its
    annual reports' and amendments' rounds are numbered together), the last decided one when
    ``round`` is None; only a round with minutes (every round decided since they are drawn up)."""
    decided = contract.votes.exclude(minutes_sha256="").order_by("-round")
    if round is not None:
        decided = decided.filter(round=round)
    return decided.first()
