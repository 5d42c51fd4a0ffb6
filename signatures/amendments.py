"""An amendment's document as PDF (fpdf2), laid out as the contract document is: DejaVu Sans,
the same headings, a footer on every page, "PROJET" while the amendment is not signed.

The domain hands over what the amendment changes (``workflows.amending.amendment_document_data``)
through its port (``workflows.documents.amendment_documents``, which
``settings.ACCORD_AMENDMENT_DOCUMENTS`` names ``PdfAmendmentDocuments``): the amended
contract document named by its SHA-256, the period before and after, every sheet added,
modified (part by part, before → after) or removed, the funding by funder before and after,
and the signatories concerned and not.

The circuit: when the amendment's deliberation is recorded, ``amendment_freeze`` draws the
document with an empty field per concerned party (``AmendmentParty``, which has a
``Signatory``'s attributes, so ``_signature_blocks`` draws it) and one for Accord's seal, and
keeps it as an ``AmendmentDocument`` per amendment version; each party's signature is an
incremental PAdES signature in its field (``services.party_signed``, as a contract's party's,
the first certifying the document: only the other signatures may follow it, see
``services.Modifications``), the seal (``services.seal_pdf``, the contract's own) closes and
locks it once every concerned party answered, and a mandatory decline voids it.
With an outside time-stamping authority both are drawn up before the decision's transaction
(``services.signed_outside``) and stored only over the revision they were drawn up from.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from workflows.errors import Conflict
from workflows.history import Preparations
from workflows.models import Amendment, AmendmentParty, SignatoryKind, Task
from workflows.selectors import visas_given

from .document import (
    LANGUAGE,
    _Document,
    _signature_blocks,
    _with_fields,
    signature_field_name,
)
from .models import AmendmentDocument, AuthenticationMethod
from .services import Modifications, party_signed, party_stamp, seal_pdf, sha256, signed_outside


def _date(value: str | None) -> str:
    return date_format(datetime.date.fromisoformat(value), "DATE_FORMAT") if value else "—"


def render_amendment_document(
    data: dict,
    *,
    draft: bool,
    when: datetime.datetime,
    parties: list[AmendmentParty] | None = None,
) -> bytes:
    """The amendment's document; ``draft``: marked "PROJET" in its title and every footer;
    ``parties``: the concerned parties, each given an empty signature field (and the seal)."""
    with translation.override(LANGUAGE):
        footer = _("Amendment no. %(number)d to the contract %(reference)s") % {
            "number": data["number"],
            "reference": data["reference"],
        }
        if draft:
            footer = _("DRAFT (projet) — %(footer)s") % {"footer": footer}
        pdf = _Document(footer, when=when)
        pdf.set_title(pdf.printable(footer))
        pdf.set_subject(pdf.printable(data["reference"]))
        pdf.add_page()
        kinds = dict(SignatoryKind.choices)
        context = {
            "data": data,
            "draft": draft,
            "period_start": _date(data["period"]["start"]),
            "end_before": _date(data["period"]["end_before"]),
            "end_after": _date(data["period"]["end_after"]),
            "extended": data["period"]["end_before"] != data["period"]["end_after"],
            "concerned": [
                {**s, "kind_label": kinds.get(s["kind"], s["kind"])}
                for s in data["signatories"]
                if s["concerned"]
            ],
            "not_concerned": [
                {**s, "kind_label": kinds.get(s["kind"], s["kind"])}
                for s in data["signatories"]
                if not s["concerned"]
            ],
        }
        pdf.sections(render_to_string("signatures/amendment_document.html", context))
        if parties is None:
            return bytes(pdf.output())
        intro = _(
            "Done in a single electronic original. Each party concerned signs it "
            "electronically in its block below, on the date its signature shows; Accord's "
            "seal closes the document once every signature is in."
        )
        # An AmendmentParty has the attributes of a Signatory that the blocks read.
        boxes = _signature_blocks(pdf, parties, intro=intro)  # type: ignore[arg-type]
        return _with_fields(bytes(pdf.output()), boxes)


NO_AMENDMENT_DOCUMENT = "There is no amendment document to sign: its deliberation is not recorded."


def _current(amendment: Amendment) -> AmendmentDocument:
    document = (
        AmendmentDocument.objects.select_for_update()
        .filter(amendment=amendment, amendment_version=amendment.version, voided_at__isnull=True)
        .first()
    )
    if document is None:
        raise Conflict(_(NO_AMENDMENT_DOCUMENT))
    return document


def amendment_freeze(amendment: Amendment, data: dict, parties: list[AmendmentParty]) -> str:
    """Draw up the amendment's document for its deliberation, with a field per concerned
    party and the seal's, and keep it as it is; returns its SHA-256."""
    pdf = render_amendment_document(data, draft=False, when=timezone.now(), parties=parties)
    return AmendmentDocument.objects.create(
        amendment=amendment,
        amendment_version=amendment.version,
        sha256=sha256(pdf),
        frozen_size=len(pdf),
        pdf=pdf,
    ).sha256


def amendment_sign(
    *,
    task: Task,
    party: AmendmentParty,
    ip_address: str,
    user_agent: str,
    preparations: Preparations,
) -> dict[str, Any]:
    """The party's PAdES signature in its field of the amendment's document, timestamped
    through the decision's ``preparations``; returns the evidence, kept on the document (and
    written in the history by the caller)."""
    amendment, signed_by = party.amendment, task.owner
    assert signed_by is not None  # a task being decided, held by who decides it
    document = _current(amendment)
    now = preparations.now
    stamp = party_stamp(
        signed_by=signed_by,
        signer=party.signer,
        organisation=party.organisation,
        mandate_reference=party.mandate_reference,
        mandate_date=party.mandate_date,
        when=now,
        visas=visas_given(party=party),
    )
    with translation.override(LANGUAGE):
        reason = _(
            "Signature of amendment no. %(number)d to %(reference)s for %(organisation)s"
        ) % {
            "number": amendment.number,
            "reference": amendment.contract.reference,
            "organisation": party.organisation.name,
        }
    field_name = signature_field_name(party)  # type: ignore[arg-type]  # its attributes
    # Stored only over the revision it was drawn up from (another party's signature in
    # between: drawn up again).
    pdf, fingerprint, subject = party_signed(
        "amendment-signature",
        bytes(document.pdf),
        depends_on=[document.pk, task.pk],
        organisation=party.organisation,
        signed_by=signed_by,
        field_name=field_name,
        reason=reason,
        stamp=stamp,
        # Signed like the contract (life.md): the first party's signature certifies the
        # document (P=2), so that nothing but the next signatures may follow it.
        modifications=Modifications.SIGNATURES_ONLY,
        preparations=preparations,
    )
    evidence = {
        "task": task.pk,
        "organisation": party.organisation.code,
        "signer": party.signer.username,
        "signed_by": signed_by.username,
        "field_name": field_name,
        "signed_at": now.isoformat(),
        "authentication": AuthenticationMethod.PASSWORD,
        "ip_address": ip_address,
        "user_agent": user_agent,
        "certificate_fingerprint": fingerprint,
        "certificate_subject": subject,
        "document_sha256": document.sha256,
        "signed_pdf_sha256": sha256(pdf),
    }
    document.pdf = pdf
    document.signatures = [*document.signatures, evidence]
    document.save(update_fields=["pdf", "signatures"])
    return evidence


def amendment_seal(amendment: Amendment, *, preparations: Preparations) -> str:
    """Accord's seal closes the amendment's signed document, timestamped through the
    decision's ``preparations``; returns its SHA-256."""
    document = _current(amendment)
    now = preparations.now
    with translation.override(LANGUAGE):
        reason = _("Accord's seal: every signature of amendment no. %(number)d is in") % {
            "number": amendment.number
        }
        sealed = _("Amendment no. %(number)d to the contract %(reference)s") % {
            "number": amendment.number,
            "reference": amendment.contract.reference,
        }
    base = bytes(document.pdf)
    # With an outside authority, drawn up before the last signature's transaction, over the
    # revision that signature stores (the history's entry names the sealed file). Locked as
    # the contract's seal locks the contract: nothing may change after it.
    document.pdf = signed_outside(
        "amendment-seal",
        [document.pk, base, reason, sealed, now],
        lambda: seal_pdf(base, reason=reason, sealed=sealed, when=now),
        preparations=preparations,
    )
    document.sealed_at = now
    document.save(update_fields=["pdf", "sealed_at"])
    return sha256(bytes(document.pdf))


def amendment_void(amendment: Amendment, *, reason: str) -> int:
    """A mandatory decline: the version's document and its signatures no longer count;
    returns how many signatures were on it. Nothing is deleted."""
    document = (
        AmendmentDocument.objects.filter(
            amendment=amendment, amendment_version=amendment.version, voided_at__isnull=True
        )
        .select_for_update()
        .first()
    )
    if document is None:
        return 0
    document.voided_at, document.void_reason = timezone.now(), reason
    document.save(update_fields=["voided_at", "void_reason"])
    return len(document.signatures)


def amendment_document_pdf(amendment: Amendment) -> bytes | None:
    """The amendment's frozen document as signed so far (sealed once signed), if any."""
    document = (
        AmendmentDocument.objects.filter(amendment=amendment, voided_at__isnull=True)
        .order_by("-amendment_version")
        .first()
    )
    return bytes(document.pdf) if document is not None else None


class PdfAmendmentDocuments:
    """The ``AmendmentDocuments`` of ``workflows.documents``."""

    def render(self, data: dict, *, draft: bool) -> bytes:
        return render_amendment_document(data, draft=draft, when=timezone.now())

    def freeze(self, amendment: Amendment, data: dict, parties: list[AmendmentParty]) -> str:
        return amendment_freeze(amendment, data, parties)

    def sign(
        self,
        *,
        task: Task,
        party: AmendmentParty,
        ip_address: str,
        user_agent: str,
        preparations: Preparations,
    ) -> dict[str, Any]:
        return amendment_sign(
            task=task,
            party=party,
            ip_address=ip_address,
            user_agent=user_agent,
            preparations=preparations,
        )

    def seal(self, amendment: Amendment, *, preparations: Preparations) -> str:
        return amendment_seal(amendment, preparations=preparations)

    def void(self, amendment: Amendment, *, reason: str) -> int:
        return amendment_void(amendment, reason=reason)

    def frozen_pdf(self, amendment: Amendment) -> bytes | None:
        return amendment_document_pdf(amendment)
