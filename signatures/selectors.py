"""Reads of the signatures: the current document, its checks, the completion certificate.

``document_verify`` checks a PDF with pyHanko's validation alone (the bytes, the signatures'
certificates, Accord's authority for the signers and the time-stamping authorities' roots for
the timestamps): what an auditor can redo without Accord's database.
Whatever was appended after Accord's seal (or, before it, after the last signature) is named:
a signature that covers an earlier revision says nothing of what follows it. The validation
data and the document timestamp Accord adds after the seal (PAdES B-LTA) are no change: what
follows is named against the last revision Accord wrote.
"""

from __future__ import annotations

import contextlib
import datetime
import enum
import hashlib
import io
from dataclasses import dataclass, field

from asn1crypto import x509 as asn1_x509
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import DiffResult, ModificationLevel
from pyhanko.sign.validation import validate_pdf_signature, validate_pdf_timestamp
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.status import PdfSignatureStatus, SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from workflows.models import CommitteeVote, Contract
from workflows.selectors import annual_report_data, annual_review_of

from . import pki
from .document import SEAL_FIELD
from .models import ContractDocument, SignatureEvidence
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
    # pyHanko's difference analysis of what follows the signature: its ModificationLevel's
    # name ("NONE", "FORM_FILLING"…) and whether that fits the DocMDP permissions in force.
    modification_level: str = ""
    modifications_allowed: bool | None = None
    # The signature's RFC 3161 timestamp (None without one): its time, the authority that
    # signed it, and whether it is valid and chains to a time-stamping root (Accord's
    # authority's or, with ACCORD_TSA_ROOTS, the outside authority's).
    timestamped_at: datetime.datetime | None = None
    timestamp_authority: str = ""
    timestamp_trusted: bool | None = None

    @property
    def ok(self) -> bool:
        return (
            self.intact
            and self.valid
            and self.whole_revision
            and self.modifications_allowed is not False
            and not self.error
        )


class ChangeKind(enum.StrEnum):
    CONTENT = "content"
    ANNOTATION = "annotation"
    FORM_FIELD = "form-field"
    SIGNATURE = "signature"
    PAGE_ADDED = "page-added"
    PAGE_REMOVED = "page-removed"
    TRAILING_BYTES = "trailing-bytes"
    OTHER = "other"


@dataclass(frozen=True)
class Change:
    """One change made to the PDF after Accord's seal (or after its last signature)."""

    kind: ChangeKind
    page: int | None = None  # from 1
    field_name: str = ""

    @property
    def description(self) -> str:
        """What changed, in the active language (« annotation sur la page 1 »)."""
        if self.kind is ChangeKind.CONTENT:
            return _("content drawn on page %(page)d") % {"page": self.page}
        if self.kind is ChangeKind.ANNOTATION:
            return _("annotation on page %(page)d") % {"page": self.page}
        if self.kind is ChangeKind.FORM_FIELD:
            return _("form field “%(name)s” added or filled in") % {"name": self.field_name}
        if self.kind is ChangeKind.SIGNATURE:
            return _("signature added in field “%(name)s”") % {"name": self.field_name}
        if self.kind is ChangeKind.PAGE_ADDED:
            return _("page %(page)d added") % {"page": self.page}
        if self.kind is ChangeKind.PAGE_REMOVED:
            return _("page %(page)d removed") % {"page": self.page}
        if self.kind is ChangeKind.TRAILING_BYTES:
            return _("bytes added after the end of the document")
        return _("other change to the document's structure")


class MissingKind(enum.StrEnum):
    SEAL = "seal"
    SIGNATURE = "signature"
    DOCUMENT_TIMESTAMP = "document-timestamp"
    VALIDATION_DATA = "validation-data"
    REVISIONS = "revisions"


@dataclass(frozen=True)
class Missing:
    """Something the document Accord stored has and a copy lacks: its last revisions cut
    off (the document timestamp, the validation data, the seal, later signatures)."""

    kind: MissingKind
    field_name: str = ""
    count: int = 0

    @property
    def description(self) -> str:
        """What is missing, in the active language."""
        if self.kind is MissingKind.SEAL:
            return _("Accord's seal")
        if self.kind is MissingKind.SIGNATURE:
            return _("the signature in field “%(name)s”") % {"name": self.field_name}
        if self.kind is MissingKind.DOCUMENT_TIMESTAMP:
            return _("the document timestamp “%(name)s” (PAdES B-LTA)") % {"name": self.field_name}
        if self.kind is MissingKind.VALIDATION_DATA:
            return _("the validation data (certificates and revocation lists) of the signatures")
        return ngettext(
            "%(count)d revision of the document Accord issued",
            "%(count)d revisions of the document Accord issued",
            self.count,
        ) % {"count": self.count}


@dataclass
class DocumentCheck:
    """All the signatures of a PDF; ``readable`` is False when it is not a PDF at all."""

    sha256: str
    readable: bool = True
    error: str = ""
    signatures: list[SignatureCheck] = field(default_factory=list)
    frozen_prefix_intact: bool | None = None
    sealed: bool = False
    # What was added after the seal (after the last signature while the document is being
    # signed): empty for an untouched document.
    changes: list[Change] = field(default_factory=list)
    # Checked against the stored document: what Accord issued and this copy lacks (a copy
    # cut before its last revisions). Empty for the stored document itself.
    missing: list[Missing] = field(default_factory=list)

    @property
    def modified(self) -> bool:
        return bool(self.changes)

    @property
    def incomplete(self) -> bool:
        return bool(self.missing)

    @property
    def ok(self) -> bool:
        return (
            self.readable
            and bool(self.signatures)
            and all(s.ok for s in self.signatures)
            and self.frozen_prefix_intact is not False
            and not self.changes
            and not self.missing
        )


WHOLE_REVISION = (SignatureCoverageLevel.ENTIRE_REVISION, SignatureCoverageLevel.ENTIRE_FILE)


def _common_name(certificate: asn1_x509.Certificate) -> str:
    return certificate.subject.native.get("common_name") or certificate.subject.human_friendly


def _check(
    embedded,
    roots: list[asn1_x509.Certificate],
    timestamp_roots: list[asn1_x509.Certificate],
    statuses: dict[str, PdfSignatureStatus],
) -> SignatureCheck:
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
        timestamps = ValidationContext(trust_roots=timestamp_roots, allow_fetching=False)
        status = validate_pdf_signature(embedded, context, ts_validation_context=timestamps)
    except (PdfError, ValueError, KeyError, TypeError) as exc:
        check.error = str(exc)
        return check
    statuses[embedded.field_name] = status
    check.intact, check.valid, check.trusted = status.intact, status.valid, status.trusted
    level = status.modification_level
    check.modification_level = level.name if level is not None else ""
    check.modifications_allowed = status.docmdp_ok
    check.whole_revision = status.coverage in WHOLE_REVISION
    stamp = status.timestamp_validity
    if stamp is not None:
        check.timestamped_at = stamp.timestamp
        check.timestamp_authority = _common_name(stamp.signing_cert)
        check.timestamp_trusted = stamp.trusted
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
    # The signers against Accord's authority; the timestamps against the time-stamping roots.
    roots = pki.authority_roots()
    timestamp_roots = pki.timestamp_trust_roots(authority=roots)
    statuses: dict[str, PdfSignatureStatus] = {}
    result.signatures = [
        _check(embedded, roots, timestamp_roots, statuses) for embedded in signatures
    ]
    result.sealed = any(e.field_name == SEAL_FIELD for e in signatures)
    try:
        result.changes = _changes_after_seal(pdf, reader, signatures, statuses, timestamp_roots)
    except (PdfError, ValueError, KeyError, TypeError, AttributeError) as exc:
        result.changes = [Change(ChangeKind.OTHER)]
        result.error = str(exc)
    if frozen is not None:
        stored = bytes(frozen.pdf)
        if hashlib.sha256(stored).hexdigest() != result.sha256:
            result.missing = _missing_from_copy(reader, stored)
    return result


def _missing_from_copy(copy: PdfFileReader, stored: bytes) -> list[Missing]:
    """What the stored document has and the copy does not: each signature and document
    timestamp by field, the validation data (DSS), and, if nothing else names it, how many
    of its revisions the copy lacks (a copy of the document signed so far, taken before a
    later signature, is not the current document either)."""
    try:
        reader = PdfFileReader(io.BytesIO(stored), strict=False)
        kept = {e.field_name for e in copy.embedded_signatures}
        missing = [
            Missing(
                MissingKind.SEAL
                if e.field_name == SEAL_FIELD
                else MissingKind.DOCUMENT_TIMESTAMP
                if e.sig_object_type == "/DocTimeStamp"
                else MissingKind.SIGNATURE,
                field_name=e.field_name,
            )
            for e in reader.embedded_signatures
            if e.field_name not in kept
        ]
        if "/DSS" in reader.root and "/DSS" not in copy.root:
            missing.append(Missing(MissingKind.VALIDATION_DATA))
        lacking = reader.xrefs.total_revisions - copy.xrefs.total_revisions
    except (PdfError, ValueError, KeyError, TypeError, AttributeError):
        return []
    if not missing and lacking > 0:
        missing.append(Missing(MissingKind.REVISIONS, count=lacking))
    return missing


# The revisions pyHanko's difference analysis lets follow a seal: validation data (DSS) and
# document timestamps (PAdES B-LTA), which change nothing a reader sees.
HARMLESS_AFTER_SEAL = (ModificationLevel.NONE, ModificationLevel.LTA_UPDATES)


def _changes_after_seal(
    pdf: bytes,
    reader: PdfFileReader,
    signatures: list[EmbeddedPdfSignature],
    statuses: dict[str, PdfSignatureStatus],
    timestamp_roots: list[asn1_x509.Certificate],
) -> list[Change]:
    """What was appended after the seal, or after the last signature before the seal: the
    bytes after the file's last revision, and, unless pyHanko's difference analysis finds
    only validation data and timestamps there, each page, annotation, field and signature the
    later revisions add or change, compared with the last revision Accord wrote (the
    document timestamp after the seal, see ``_last_harmless_revision``)."""
    approvals = [e for e in signatures if e.sig_object_type == "/Sig"]
    reference = next((e for e in approvals if e.field_name == SEAL_FIELD), None)
    if reference is None and approvals:
        reference = approvals[-1]
    changes: list[Change] = []
    if reference is None:
        return changes
    if _trailing_bytes(pdf):
        changes.append(Change(ChangeKind.TRAILING_BYTES))
    status = statuses.get(reference.field_name)
    last_revision = reader.xrefs.total_revisions - 1
    if reference.signed_revision == last_revision:
        return changes
    if (
        status is not None
        and status.modification_level in HARMLESS_AFTER_SEAL
        and status.docmdp_ok is not False
    ):
        return changes
    baseline = _last_harmless_revision(pdf, reader, reference, timestamp_roots)
    named = _revision_changes(reader, baseline)
    return changes + (named or [Change(ChangeKind.OTHER)])


def _last_harmless_revision(
    pdf: bytes,
    reader: PdfFileReader,
    reference: EmbeddedPdfSignature,
    timestamp_roots: list[asn1_x509.Certificate],
) -> int:
    """The revision the changes are named against: the reference signature's, or that of the
    last document timestamp after it (Accord's B-LTA archive timestamp, a later renewal) which
    only validation data and timestamps separate from it. Each such timestamp must be intact
    and cover its whole revision, and pyHanko's difference analysis of the file as it ended
    there, cut at the timestamp's last byte, must find nothing but LTA updates after the
    reference signature: a timestamp an intruder adds after his own changes is no baseline.
    The timestamps are validated against the time-stamping roots (``timestamp_roots``: Accord's
    authority's and the outside authority's), not the signers'."""
    baseline = reference.signed_revision
    context = ValidationContext(trust_roots=timestamp_roots, allow_fetching=False)
    for stamp in reader.embedded_timestamp_signatures:
        if stamp.signed_revision <= baseline:
            continue
        status = validate_pdf_timestamp(stamp, context, skip_diff=True)
        if not status.intact or status.coverage not in WHOLE_REVISION:
            break
        _, _, start, length = stamp.byte_range
        then = PdfFileReader(io.BytesIO(pdf[: start + length]), strict=False)
        signed_then = next(
            (e for e in then.embedded_regular_signatures if e.field_name == reference.field_name),
            None,
        )
        if signed_then is None:
            break
        signed_then.compute_integrity_info()
        diff = signed_then.diff_result
        if not isinstance(diff, DiffResult) or diff.modification_level not in HARMLESS_AFTER_SEAL:
            break
        baseline = stamp.signed_revision
    return baseline


def _trailing_bytes(pdf: bytes) -> bool:
    """Bytes after the last ``%%EOF`` beyond one end of line (a PDF ends there)."""
    end = pdf.rfind(b"%%EOF")
    return end < 0 or pdf[end + 5 :] not in (b"", b"\n", b"\r\n", b"\r")


def _reference(value) -> generic.Reference | None:
    return value.reference if isinstance(value, generic.IndirectObject) else None


def _pages(node, seen: set | None = None) -> list[generic.DictionaryObject]:
    """The page dictionaries under a /Pages node, in order."""
    seen = set() if seen is None else seen
    pages = []
    for kid in node.get_object().get("/Kids", []):
        ref = _reference(kid)
        if ref is not None:
            if ref in seen:
                continue
            seen.add(ref)
        child = kid.get_object()
        if "/Kids" in child:
            pages += _pages(child, seen)
        else:
            pages.append(child)
    return pages


def _refs(value) -> set[generic.Reference]:
    """The references a page entry (/Contents, /Annots) points to, one level down."""
    refs = set()
    ref = _reference(value)
    if ref is not None:
        refs.add(ref)
        value = value.get_object()
    if isinstance(value, generic.ArrayObject):
        for item in value:
            item_ref = _reference(item)
            if item_ref is not None:
                refs.add(item_ref)
    return refs


def _fields(root) -> dict[str, tuple]:
    """Each form field's full name: its type, value and reference."""
    found: dict[str, tuple] = {}

    def walk(items, prefix: str) -> None:
        for item in items:
            node = item.get_object()
            name = str(node.get("/T", ""))
            full = f"{prefix}.{name}" if prefix and name else (name or prefix)
            if "/Kids" in node and any("/T" in kid.get_object() for kid in node["/Kids"]):
                walk(node["/Kids"], full)
            else:
                value = node.get("/V")
                found[full] = (
                    str(node.get("/FT", "")),
                    _reference(node.raw_get("/V")) if "/V" in node else None,
                    None
                    if value is None or isinstance(value, generic.DictionaryObject)
                    else str(value),
                )

    with contextlib.suppress(KeyError):
        walk(root["/AcroForm"]["/Fields"], "")
    return found


def _revision_changes(reader: PdfFileReader, revision: int) -> list[Change]:
    """Pages, drawings, annotations and fields of the file as it is now that differ from
    ``revision``'s (an object rewritten in a later revision counts as changed)."""
    rewritten: set[generic.Reference] = set()
    for later in range(revision + 1, reader.xrefs.total_revisions):
        rewritten |= set(reader.xrefs.explicit_refs_in_revision(later))
    before = reader.get_historical_resolver(revision)
    old_pages, new_pages = _pages(before.root["/Pages"]), _pages(reader.root["/Pages"])
    changes = []
    for number, (old, new) in enumerate(zip(old_pages, new_pages, strict=False), start=1):
        old_contents, new_contents = (
            _refs(old.raw_get("/Contents")),
            _refs(new.raw_get("/Contents")),
        )
        if old_contents != new_contents or new_contents & rewritten:
            changes.append(Change(ChangeKind.CONTENT, page=number))
        old_annots = _refs(old.raw_get("/Annots")) if "/Annots" in old else set()
        new_annots = _refs(new.raw_get("/Annots")) if "/Annots" in new else set()
        added = (new_annots - old_annots) | (new_annots & rewritten)
        if any(
            ref.get_object().get("/Subtype") != "/Widget"  # type: ignore[attr-defined]
            for ref in added
            if isinstance(ref, generic.Reference)
        ):
            changes.append(Change(ChangeKind.ANNOTATION, page=number))
    for number in range(len(old_pages) + 1, len(new_pages) + 1):
        changes.append(Change(ChangeKind.PAGE_ADDED, page=number))
    for number in range(len(new_pages) + 1, len(old_pages) + 1):
        changes.append(Change(ChangeKind.PAGE_REMOVED, page=number))
    old_fields, new_fields = _fields(before.root), _fields(reader.root)
    for name, (kind, value_ref, value) in new_fields.items():
        previous = old_fields.get(name)
        unchanged = previous is not None and previous[1:] == (value_ref, value)
        if unchanged and (value_ref is None or value_ref not in rewritten):
            continue
        if previous is None and value_ref is None and value is None:  # a new, empty field
            changes.append(Change(ChangeKind.FORM_FIELD, field_name=name))
            continue
        changes.append(
            Change(
                ChangeKind.SIGNATURE if kind == "/Sig" else ChangeKind.FORM_FIELD, field_name=name
            )
        )
    return changes


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
