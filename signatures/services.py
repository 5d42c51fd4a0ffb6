"""Writes of the signatures: freezing the document, signing it, sealing it, voiding it.

Called from inside the workflow's transactions (workflows.services / workflows.approvals),
which hold the contract's row lock: a failure here rolls the whole decision back. With an
outside time-stamping authority, a contract's signature is drawn up and timestamped before
that transaction, through the decision's ``Preparations`` (``signed_outside``, as an
amendment's signatures and seal and the committee's minutes), and the seal after it
(``document_seal_prepared``): no remote call while a transaction is open. Each stores its
revision only over the stored document it was drawn up from, never over a stale one.
"""

from __future__ import annotations

import datetime
import enum
import functools
import hashlib
import io
import json
import logging
import os
import tempfile
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from fontTools import subset
from fontTools.ttLib import TTFont
from fontTools.ttLib.scaleUpem import scale_upem
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.font.opentype import GlyphAccumulatorFactory
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.sign import fields, signers
from pyhanko.sign.signers.pdf_signer import (
    DSSContentSettings,
    SigDSSPlacementPreference,
    TimestampDSSContentSettings,
)
from pyhanko.sign.timestamps.common_utils import TimestampRequestError
from pyhanko.stamp import TextStampStyle

from workflows.documents import preparation_key
from workflows.errors import Conflict, DocumentChanged, ServiceUnavailable
from workflows.history import Preparations
from workflows.models import Contract, Organisation, Signatory, Task, User
from workflows.selectors import VisaGiven, visas_given

from . import keys, pki, selectors
from .anchors import head_in_reason
from .document import (
    LANGUAGE,
    SEAL_FIELD,
    mandate_text,
    render_completion_certificate,
    render_contract_document,
    signature_field_name,
    unicode_font_files,
)
from .models import (
    AuthenticationMethod,
    ContractDocument,
    KeyKind,
    SignatureEvidence,
    SigningKey,
)

# The evidence keeps the names as the signature says them (SignatureEvidence.signer_name).
NAME_MAX_LENGTH = 255
NO_DOCUMENT = gettext_noop(
    "There is no contract document to sign: the deliberation is not recorded."
)
TSA_UNAVAILABLE = gettext_noop(
    "The time-stamping authority did not answer: nothing was signed, try again in a few minutes."
)
DOCUMENT_CHANGED = gettext_noop(
    "The document changed while your signature was being prepared: nothing was signed."
)
# How many times the seal, prepared after the commit, is prepared again over a document
# that changed in the meantime.
SEAL_ATTEMPTS = 3

logger = logging.getLogger(__name__)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


T = TypeVar("T")


def signed_outside(
    purpose: str,
    depends_on: Sequence[object],
    sign: Callable[[], T],
    *,
    preparations: Preparations,
) -> T:
    """``sign()`` (which asks the time-stamping authority) for a decision: with an outside
    authority, drawn up through the decision's ``preparations`` (before its transaction, when
    ``workflows.documents.decide_outside`` runs it) and used only while everything in
    ``depends_on`` (the stored revision's bytes, the texts) is the same; with the embedded
    one, now. ``sign`` must read nothing the decision's transaction writes: it may run with
    none open."""
    if not settings.ACCORD_TSA_URL:
        return sign()
    return preparations.prepared(preparation_key(purpose, *depends_on), sign)


def document_freeze(contract: Contract) -> ContractDocument:
    """Generate the contract document for the deliberation being recorded and keep it as
    it is: its SHA-256 is what every signer consents to."""
    now = timezone.now()
    pdf = render_contract_document(contract, when=now)
    return ContractDocument.objects.create(
        contract=contract,
        contract_version=contract.version,
        sha256=sha256(pdf),
        frozen_size=len(pdf),
        pdf=pdf,
    )


def _current_document(contract: Contract, *, lock: bool = True) -> ContractDocument:
    documents = ContractDocument.objects.select_for_update() if lock else ContractDocument.objects
    document = documents.filter(
        contract=contract, contract_version=contract.version, voided_at__isnull=True
    ).first()
    if document is None:
        raise Conflict(_(NO_DOCUMENT))
    return document


# pyHanko lays a stamp's glyphs out with their widths taken as thousandths of an em, as in a
# CFF font; DejaVu Sans counts 2,048 units to the em, which drew every letter twice as far from
# the next (looked at with pdftoppm). The stamp uses a copy scaled to 1,000 units (fontTools),
# made once per font file and kept beside the other temporary files.
STAMP_UNITS_PER_EM = 1000


# The Latin scripts' letters, their punctuation and symbols: about 1,100 of DejaVu Sans's 6,000
# glyphs, and every name, title and date a French contract's stamp prints in practice.
LATIN_STAMP_RANGES = (
    (0x0020, 0x007E),  # Basic Latin
    (0x00A0, 0x024F),  # Latin-1 Supplement, Latin Extended-A and -B
    (0x02C0, 0x02FF),  # spacing modifier letters (the ring above, the apostrophe letter)
    (0x1E00, 0x1EFF),  # Latin Extended Additional (Vietnamese)
    (0x2000, 0x206F),  # general punctuation (narrow no-break space, dashes, ellipsis)
    (0x20A0, 0x20BF),  # currency symbols (€)
    (0x2100, 0x214F),  # letterlike symbols (№)
)


def _is_latin(code_point: int) -> bool:
    return any(first <= code_point <= last for first, last in LATIN_STAMP_RANGES)


@functools.cache
def stamp_font_file(source: Path, *, latin_only: bool = False) -> Path:
    """``source`` scaled to 1,000 units per em, written once (named by its content's digest);
    ``latin_only``: with the glyphs of ``LATIN_STAMP_RANGES`` alone.

    The copy keeps every glyph (or every Latin one) but neither the hinting instructions nor
    the OpenType layout features (kerning, ligatures): pyHanko parses and subsets the whole
    font at each signature and seal, and those tables made up most of that work (77 to about
    30 ms of CPU per stamp here, docs/benchmarks.md); the Latin copy, a fifth of the glyphs,
    takes about 9 ms. A 7-point stamp in a PDF needs neither: PDF viewers rasterise it
    themselves, and its text is names and a date."""
    data = source.read_bytes()
    target = (
        Path(tempfile.gettempdir())
        / "accord-fonts"
        / f"{source.stem}-{hashlib.sha256(data).hexdigest()[:16]}-1000-plain"
        f"{'-latin' if latin_only else ''}.ttf"
    )
    if not target.exists():
        font = TTFont(io.BytesIO(data))
        if font["head"].unitsPerEm != STAMP_UNITS_PER_EM:
            scale_upem(font, STAMP_UNITS_PER_EM)
        if "FFTM" in font:  # FontForge's timestamps, which pyHanko's subsetting cannot carry
            del font["FFTM"]
        every_glyph = subset.Options(
            hinting=False,
            layout_features=[],
            notdef_outline=True,
            name_IDs=["*"],
            name_languages=["*"],
            glyph_names=True,
        )
        plain = subset.Subsetter(every_glyph)
        characters = font.getBestCmap().keys()
        plain.populate(unicodes=[c for c in characters if not latin_only or _is_latin(c)])
        plain.subset(font)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(f".{os.getpid()}.tmp")
        font.save(partial)
        partial.replace(target)  # atomic: another process may be writing the same file
    return target


@functools.cache
def _characters_of(font_file: Path) -> frozenset[int]:
    return frozenset(TTFont(font_file).getBestCmap())


def _stamp_font(text: str) -> GlyphAccumulatorFactory | None:
    """The stamp's font: the Latin copy of DejaVu Sans when it has every character of
    ``text``, the whole one otherwise (a name in Greek or Cyrillic); None without DejaVu."""
    fonts = unicode_font_files()
    if not fonts:
        return None
    latin = stamp_font_file(fonts[""], latin_only=True)
    printed = {ord(character) for character in text if character != "\n"}
    chosen = latin if printed <= _characters_of(latin) else stamp_font_file(fonts[""])
    return GlyphAccumulatorFactory(str(chosen), font_size=7)


def stamp_style(lines: list[str]) -> TextStampStyle:
    """A signature's visible stamp, in the document's DejaVu Sans when it is installed (the
    PDF's standard font otherwise, where a name outside Latin-1 prints "?")."""
    text = "\n".join(lines)
    font = _stamp_font(text)
    return TextStampStyle(
        stamp_text=text,
        text_box_style=TextBoxStyle(font_size=7, leading=9, font=font)
        if font
        else TextBoxStyle(font_size=7, leading=9),
        border_width=1,
    )


class Modifications(enum.Enum):
    """What a signature lets a PDF reader accept after it (ISO 32000 DocMDP permissions).

    A certification signature (DocMDP) must be the document's first signature, so Accord's
    seal, the last one, cannot be one. Instead the first party's signature (a contract's or an
    amendment's: signed and sealed like the contract, life.md) certifies the document allowing
    form filling and signing only (P=2: the next parties sign their empty fields, nothing else
    may change), and the seal is an approval signature whose field carries a lock dictionary
    locking every field with P=1 (ISO 32000-2, 12.7.5.5, drawn at the freeze, see
    ``_modification_policy``): once the seal is in, no change at all is allowed (PAdES still
    lets validation data and document timestamps be added).
    Readers (Acrobat, pdfsig, pyHanko) then report any later change against those signatures.
    """

    UNRESTRICTED = "unrestricted"  # an approval signature (the committee's minutes)
    SIGNATURES_ONLY = "signatures-only"  # certifies when first: later, only signing
    NONE_AFTER = "none-after"  # the seal (``seal_pdf``): its field locks everything after it


def _modification_policy(writer: IncrementalPdfFileWriter, modifications: Modifications) -> dict:
    """The signature metadata for ``modifications``. The seal's lock dictionary is drawn
    with its field when the document is frozen (``document._with_fields``): added at the
    seal, it would itself be a change to a certified document. A document frozen before the
    lock existed is sealed as before, without it."""
    if modifications is Modifications.SIGNATURES_ONLY:
        if _signed_already(writer.prev.root):
            return {}  # certification belongs to the first signature only
        return {"certify": True, "docmdp_permissions": fields.MDPPerm.FILL_FORMS}
    if modifications is Modifications.NONE_AFTER:
        return {"docmdp_permissions": fields.MDPPerm.NO_CHANGES}
    return {}


def _signed_already(root: generic.DictionaryObject) -> bool:
    """Whether one of the document's signature fields is filled. Asked of the fields' own
    dictionaries, whose value (``/V``) is not read: pyHanko's ``embedded_signatures`` parses
    every signature already there, its certificates and revocation data as hexadecimal text
    (about 50 ms of a signature's CPU here, docs/benchmarks.md)."""

    def filled(fields: generic.ArrayObject, inherited_type: Any = None) -> bool:
        for reference in fields:
            field = reference.get_object()
            # pyHanko's ``get`` leaves an indirect value unresolved; ``[]`` resolves it.
            field_type = field["/FT"] if "/FT" in field else inherited_type  # noqa: SIM401
            if field_type == "/Sig" and "/V" in field:
                return True
            if "/Kids" in field and filled(field["/Kids"], field_type):
                return True
        return False

    if "/AcroForm" not in root or "/Fields" not in root["/AcroForm"]:
        return False
    return filled(root["/AcroForm"]["/Fields"])


def sign_pdf(
    pdf: bytes,
    *,
    field_name: str,
    stored_key: SigningKey,
    name: str,
    reason: str,
    stamp: list[str],
    modifications: Modifications = Modifications.UNRESTRICTED,
    archive: bool = False,
) -> bytes:
    """Append one incremental PAdES signature in ``pdf``'s named (empty) field, restricting
    what may change after it as ``modifications`` says (see ``Modifications``), timestamped
    (B-T); with a certificate from Accord's authority, followed by the certificates and the
    revocation list that prove it (B-LT); ``archive`` (the seal): then by a document
    timestamp over all of it (B-LTA)."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    metadata = signers.PdfSignatureMetadata(
        field_name=field_name,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        name=name,
        reason=reason,
        location="Accord",
        **_modification_policy(writer, modifications),
        **_long_term(stored_key, archive=archive),
    )
    pdf_signer = signers.PdfSigner(
        metadata,
        signer=keys.signer_for(stored_key),
        stamp_style=stamp_style(stamp),
        timestamper=pki.timestamper(),
    )
    try:
        return pdf_signer.sign_pdf(writer, existing_fields_only=True).getvalue()
    except TimestampRequestError as exc:  # refused, timed out or unreachable
        logger.warning("Time-stamping authority: %s", exc)
        raise ServiceUnavailable(_(TSA_UNAVAILABLE)) from exc


LONG_TERM_DSS = DSSContentSettings(
    include_vri=False,
    placement=SigDSSPlacementPreference.TOGETHER_WITH_SIGNATURE,
    next_ts_settings=TimestampDSSContentSettings(include_vri=False, update_before_ts=True),
)
# The document timestamp after the seal, as PDF readers list it.
ARCHIVE_TIMESTAMP_FIELD = "accord-archive-timestamp"


def _long_term(stored_key: SigningKey, *, archive: bool) -> dict[str, Any]:
    """PdfSignatureMetadata's long-term validation part. An organisation's own certificate
    comes from an authority Accord knows nothing of: its signature is timestamped only."""
    if stored_key.kind == KeyKind.ORGANISATION:
        return {}
    return {
        "embed_validation_info": True,
        "use_pades_lta": archive,
        "timestamp_field_name": ARCHIVE_TIMESTAMP_FIELD if archive else None,
        # The revocation data in the signature's own revision, and no revision after the
        # document timestamp: it covers the whole file, as readers expect of the last one.
        "dss_settings": LONG_TERM_DSS,
        "validation_context": pki.validation_context(),
    }


def signature_text(
    *,
    signed_by: str,
    signer: str,
    organisation: str,
    when: datetime.datetime,
    mandate: str,
    visas: Sequence[VisaGiven] = (),
) -> list[str]:
    """The visible signature: "Signé par X pour Y, ORG, le DATE", its mandate, and the
    internal visas given before it."""
    date = date_format(timezone.localtime(when), "DATETIME_FORMAT")
    if signed_by == signer:
        lines = [
            _("Signed by %(signer)s, %(organisation)s, on %(date)s")
            % {"signer": signer, "organisation": organisation, "date": date}
        ]
    else:
        lines = [
            _("Signed by %(representative)s for %(signer)s, %(organisation)s, on %(date)s")
            % {
                "representative": signed_by,
                "signer": signer,
                "organisation": organisation,
                "date": date,
            }
        ]
    if mandate:
        lines.append(mandate)
    lines += [visa_text(visa) for visa in visas]
    return lines


def visa_text(visa: VisaGiven) -> str:
    """ "Visa de Mme Léa Juriste le 5 décembre 2026 10:12" (for whom, during an absence)."""
    values = {
        "person": visa.person.formal_name,
        "date": date_format(timezone.localtime(visa.at), "DATETIME_FORMAT"),
    }
    if visa.on_behalf_of is not None:
        return _("Visa of %(person)s for %(principal)s on %(date)s") % {
            **values,
            "principal": visa.on_behalf_of.formal_name,
        }
    return _("Visa of %(person)s on %(date)s") % values


# The stamp's standard font reads WinAnsi codes, pyHanko writes PDFDocEncoding: the two
# agree on ASCII and on Latin-1's letters, so the rest is spelled with them.
STAMP_CHARACTERS = str.maketrans(
    {
        "\xa0": " ",
        "\u202f": " ",
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2013": "-",
        "\u2014": "-",
    }
)


def _wrapped(lines: list[str], width: int = 60) -> list[str]:
    """The stamp's lines, wrapped, in characters its font shows as they are (all of them in
    DejaVu Sans; Latin-1 in the standard font it falls back to)."""
    lines = [line.translate(STAMP_CHARACTERS) for line in lines]  # plain spaces wrap
    if unicode_font_files() is None:
        lines = [line.encode("latin-1", errors="replace").decode("latin-1") for line in lines]
    return [part for line in lines for part in textwrap.wrap(line, width) or [""]]


def party_signed(
    purpose: str,
    pdf: bytes,
    *,
    depends_on: Sequence[object],
    organisation: Organisation,
    signed_by: User,
    field_name: str,
    reason: str,
    stamp: list[str],
    modifications: Modifications,
    preparations: Preparations,
) -> tuple[bytes, str, str]:
    """A party's signature in its field of ``pdf`` (a contract's or an amendment's document),
    with its organisation's certificate, else the signing person's, drawn up through the
    decision's ``preparations`` (``signed_outside``) and used only while ``pdf``, the texts
    and ``depends_on`` (the document's row, the task) are the same. Returns the signed file,
    the certificate's fingerprint and its subject."""

    def sign() -> tuple[bytes, str, str]:
        # Its key read (or issued) here: with an outside authority, no transaction is open.
        # Outside the document's language: a refusal is in the request's.
        stored_key = keys.signing_key(organisation, signed_by)
        signed = sign_pdf(
            pdf,
            field_name=field_name,
            stored_key=stored_key,
            name=signed_by.display_name,
            reason=reason,
            stamp=stamp,
            modifications=modifications,
        )
        return signed, stored_key.fingerprint, stored_key.subject

    return signed_outside(
        purpose,
        [*depends_on, pdf, field_name, reason, stamp, signed_by.display_name],
        sign,
        preparations=preparations,
    )


def party_stamp(
    *,
    signed_by: User,
    signer: User,
    organisation: Organisation,
    mandate_reference: str,
    mandate_date: datetime.date | None,
    when: datetime.datetime,
    visas: Sequence[VisaGiven],
) -> list[str]:
    """A party's visible signature (``signature_text``), in the document's language, wrapped."""
    with translation.override(LANGUAGE):
        mandate = mandate_text(mandate_reference, mandate_date) if mandate_reference else ""
        return _wrapped(
            signature_text(
                signed_by=signed_by.formal_name,
                signer=signer.formal_name,
                organisation=organisation.name,
                when=when,
                mandate=mandate,
                visas=visas,
            )
        )


def signature_apply(
    *,
    task: Task,
    signatory: Signatory,
    ip_address: str,
    user_agent: str,
    preparations: Preparations,
) -> SignatureEvidence:
    """The signing party's PDF signature in its block, with its evidence record.

    The certificate is the organisation's own when it uploaded one, else the signing
    person's, issued by Accord's authority. The caller holds the contract's lock; the
    document's row is locked here. The signature is drawn up and timestamped through the
    decision's ``preparations`` (``signed_outside``): with an outside authority, before the
    decision's transaction, and stored only over the revision it was drawn up from (another
    signature stored in between: drawn up again); with the embedded one, now.
    """
    contract, signed_by = task.contract, task.owner
    # A signature task, opened by the contract's flow: its contract, held by the signing person.
    assert contract is not None
    assert signed_by is not None
    document = _current_document(contract)
    signer: User = signatory.signer
    organisation = signatory.organisation
    now = preparations.now
    stamp = party_stamp(
        signed_by=signed_by,
        signer=signer,
        organisation=organisation,
        mandate_reference=signatory.mandate_reference,
        mandate_date=signatory.mandate_date,
        when=now,
        visas=visas_given(signatory=signatory, version=contract.version),
    )
    with translation.override(LANGUAGE):
        reason = _("Signature of contract %(reference)s for %(organisation)s") % {
            "reference": contract.reference,
            "organisation": organisation.name,
        }
    field_name = signature_field_name(signatory)
    pdf, fingerprint, subject = party_signed(
        "contract-signature",
        bytes(document.pdf),
        depends_on=[document.pk, task.pk],
        organisation=organisation,
        signed_by=signed_by,
        field_name=field_name,
        reason=reason,
        stamp=stamp,
        modifications=Modifications.SIGNATURES_ONLY,
        preparations=preparations,
    )
    document.pdf = pdf
    document.save(update_fields=["pdf"])
    return SignatureEvidence.objects.create(
        document=document,
        contract=contract,
        contract_version=contract.version,
        signatory=signatory,
        task=task,
        organisation=organisation.name,
        signer=signer,
        signed_by=signed_by,
        # A name longer than the column (two names of 150 characters) is cut, not refused.
        signer_name=signer.formal_name[:NAME_MAX_LENGTH],
        signed_by_name=signed_by.formal_name[:NAME_MAX_LENGTH],
        mandate_reference=signatory.mandate_reference,
        mandate_date=signatory.mandate_date,
        document_sha256=document.sha256,
        signed_pdf_sha256=sha256(pdf),
        field_name=field_name,
        signed_at=now,
        authentication=AuthenticationMethod.PASSWORD,
        ip_address=ip_address,
        user_agent=user_agent,
        certificate_fingerprint=fingerprint,
        certificate_subject=subject,
    )


def seal_request(contract: Contract, *, history_head: tuple[int, str]) -> None:
    """Note on the document, in the last signature's transaction, that its seal is due and
    the head it certifies: the periodic sweep seals it if the after-commit task is lost."""
    seq, digest = history_head
    ContractDocument.objects.filter(
        contract=contract, contract_version=contract.version, voided_at__isnull=True
    ).update(seal_requested_at=timezone.now(), seal_history_head={"seq": seq, "hash": digest})


def document_seal_prepared(
    contract_id: int, *, history_head: tuple[int, str] | None
) -> ContractDocument | None:
    """The seal drawn up and timestamped outside any transaction (by the worker, after the
    last signature's commit: the time-stamping authority may be remote), then stored under the
    document's row lock if the document is still the one it covers; prepared again
    (``SEAL_ATTEMPTS`` times at most) if it changed, nothing stored if it was voided or
    sealed in between. ``history_head``: the head as the last signature's unit left it."""
    for _attempt in range(SEAL_ATTEMPTS):
        contract = Contract.objects.get(pk=contract_id)
        try:
            document = _current_document(contract, lock=False)
        except Conflict:
            return None
        if document.sealed_at is not None:
            return document
        base = bytes(document.pdf)
        now = timezone.now()
        pdf = _seal_pdf(contract, base, history_head, now)
        with transaction.atomic():
            locked = (
                ContractDocument.objects.select_for_update()
                .filter(pk=document.pk, voided_at__isnull=True, sealed_at__isnull=True)
                .first()
            )
            if locked is None:  # voided, or sealed by another process, meanwhile
                return None
            if sha256(bytes(locked.pdf)) == sha256(base):
                return _seal_store(contract, locked, pdf, history_head, now)
    raise DocumentChanged(_(DOCUMENT_CHANGED))


def _seal_pdf(
    contract: Contract, pdf: bytes, history_head: tuple[int, str] | None, now: datetime.datetime
) -> bytes:
    with translation.override(LANGUAGE):
        # The history's head at signature, inside what the seal signs: anchored where the
        # database cannot rewrite it (signatures.anchors reads it back).
        reason = (
            _(
                "Accord's seal: every signature of contract %(reference)s is in; history"
                " head %(head)s"
            )
            % {"reference": contract.reference, "head": head_in_reason(*history_head)}
            if history_head
            else _("Accord's seal: every signature of contract %(reference)s is in")
            % {"reference": contract.reference}
        )
        sealed = _("Contract %(reference)s, version %(version)d") % {
            "reference": contract.reference,
            "version": contract.version,
        }
    return seal_pdf(pdf, reason=reason, sealed=sealed, when=now)


def seal_pdf(pdf: bytes, *, reason: str, sealed: str, when: datetime.datetime) -> bytes:
    """Accord's seal in ``pdf``'s seal field, a contract's or an amendment's: the seal's key,
    its stamp ("Sealed by Accord on DATE", then ``sealed``, what it seals), the document
    timestamp after it (PAdES B-LTA), and no change allowed after it (``Modifications``:
    ``NONE_AFTER``, the P=1 lock its field was drawn with at the freeze). ``reason`` and
    ``sealed`` are in the document's language."""
    with translation.override(LANGUAGE):
        stamp = _wrapped(
            [
                _("Sealed by Accord on %(date)s")
                % {"date": date_format(timezone.localtime(when), "DATETIME_FORMAT")},
                sealed,
            ]
        )
    return sign_pdf(
        pdf,
        field_name=SEAL_FIELD,
        stored_key=keys.seal_key(),
        archive=True,  # the document timestamp over everything (PAdES B-LTA)
        name="Accord",
        reason=reason,
        stamp=stamp,
        modifications=Modifications.NONE_AFTER,
    )


def _seal_store(
    contract: Contract,
    document: ContractDocument,
    pdf: bytes,
    history_head: tuple[int, str] | None,
    now: datetime.datetime,
) -> ContractDocument:
    document.pdf = pdf
    document.sealed_at = now
    with translation.override(LANGUAGE):
        data = _certificate_data(contract, document, history_head)
    document.certificate_data = data
    document.certificate_pdf = render_completion_certificate(data, when=now)
    document.save(update_fields=["pdf", "sealed_at", "certificate_data", "certificate_pdf"])
    return document


def _certificate_data(
    contract: Contract, document: ContractDocument, head: tuple[int, str] | None
) -> dict:
    assert document.sealed_at is not None  # the data of a sealed document only
    evidence = document.evidence.filter(voided_at__isnull=True).select_related(
        "signatory__organisation"
    )
    signatories = contract.signatories.select_related(
        "organisation", "signer", "represented_by"
    ).order_by("order", "pk")
    return {
        "reference": contract.reference,
        "title": contract.title,
        "version": contract.version,
        "deliberation": {
            "number": contract.deliberation_number,
            "date": contract.deliberation_date.isoformat() if contract.deliberation_date else None,
        },
        "document_sha256": document.sha256,
        "signed_pdf_sha256": sha256(bytes(document.pdf)),
        "sealed_at": document.sealed_at.isoformat(),
        "history_head": {"seq": head[0], "hash": head[1]} if head else None,
        "parties": [
            {
                "organisation": s.organisation.name,
                "kind": s.kind,
                "signer": s.signer.name_with_position,
                "represented_by": s.represented_by.formal_name if s.represented_by else "",
                "status": s.status,
                "visas": [
                    {
                        "person": visa.person.name_with_position,
                        "on_behalf_of": visa.on_behalf_of.formal_name if visa.on_behalf_of else "",
                        "at": visa.at.isoformat(),
                    }
                    for visa in visas_given(signatory=s, version=contract.version)
                ],
            }
            for s in signatories
        ],
        "signatures": [
            {
                "organisation": e.organisation,
                "signer": e.signer_name,
                "signed_by": e.signed_by_name,
                "mandate": (
                    mandate_text(e.mandate_reference, e.mandate_date) if e.mandate_reference else ""
                ),
                "signed_at": e.signed_at.isoformat(),
                "authentication": e.authentication,
                "certificate_sha256": e.certificate_fingerprint,
            }
            for e in evidence
        ],
    }


def signatures_void(contract: Contract, *, reason: str) -> int:
    """A mandatory decline: the version's document and its signatures no longer count.
    Nothing is deleted; returns how many signatures were voided."""
    now = timezone.now()
    documents = ContractDocument.objects.filter(
        contract=contract, contract_version=contract.version, voided_at__isnull=True
    )
    voided = SignatureEvidence.objects.filter(
        document__in=documents, voided_at__isnull=True
    ).update(voided_at=now, void_reason=reason)
    documents.update(voided_at=now)
    return voided


class PdfContractDocuments:
    """The domain's ``workflows.documents.ContractDocuments``: fpdf2 draws the document,
    pyHanko signs it (``settings.ACCORD_CONTRACT_DOCUMENTS`` names this class)."""

    def freeze(self, contract: Contract) -> str:
        return document_freeze(contract).sha256

    def sign(
        self,
        *,
        task: Task,
        signatory: Signatory,
        ip_address: str,
        user_agent: str,
        preparations: Preparations,
    ) -> SignatureEvidence:
        return signature_apply(
            task=task,
            signatory=signatory,
            ip_address=ip_address,
            user_agent=user_agent,
            preparations=preparations,
        )

    def void(self, contract: Contract, *, reason: str) -> int:
        return signatures_void(contract, reason=reason)

    def seal_pending(self, contract: Contract) -> bool:
        return (
            ContractDocument.objects.awaiting_seal()
            .filter(contract=contract, contract_version=contract.version)
            .exists()
        )

    def evidence_files(self, contract: Contract) -> list[tuple[str, bytes]]:
        """The contract document (signed so far) and, once signed, the completion
        certificate: its ``history_head_sha256`` is the head the bundle's script looks for in
        the chain."""
        files = []
        pdf = selectors.contract_document_pdf(contract)
        if pdf is not None:
            files.append((f"{contract.reference}.pdf", pdf))
        certificate = selectors.completion_certificate(contract)
        if certificate is not None:
            head = certificate.get("history_head") or {}
            content = {**certificate, "history_head_sha256": head.get("hash", "")}
            files.append(
                (
                    "certificate.json",
                    json.dumps(content, ensure_ascii=False, indent=2, default=str).encode(),
                )
            )
            certificate_pdf = selectors.completion_certificate_pdf(contract)
            if certificate_pdf is not None:
                files.append(("certificate.pdf", certificate_pdf))
        return files
