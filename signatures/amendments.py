"""An amendment's document as PDF (fpdf2), laid out as the contract document is: DejaVu Sans,
the same headings, a footer on every page, "PROJET" while the amendment is not signed.

The domain hands over what the amendment changes (``workflows.amending.amendment_document_data``)
through its port (``workflows.documents.amendment_documents``, which
``settings.ACCORD_AMENDMENT_DOCUMENTS`` names ``PdfAmendmentDocuments``): the amended
contract document named by its SHA-256, the period before and after, every sheet added,
modified (part by part, before → after) or removed, the funding by funder before and after,
and the signatories concerned and not.

The hook for the circuit (the next step): ``render_amendment_document`` returns the document
without signature fields; freezing it will append, as ``render_contract_document`` does, an
empty field per concerned signatory and one for Accord's seal (``_signature_blocks`` and
``_with_fields`` of ``signatures.document``), which ``PdfContractDocuments``'s signing and the
seal reaction then fill, on the amendment's own ``ContractDocument``-like row.
"""

from __future__ import annotations

import datetime

from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from workflows.models import SignatoryKind

from .document import LANGUAGE, _Document


def _date(value: str | None) -> str:
    return date_format(datetime.date.fromisoformat(value), "DATE_FORMAT") if value else "—"


def render_amendment_document(data: dict, *, draft: bool, when: datetime.datetime) -> bytes:
    """The amendment's document; ``draft``: marked "PROJET" in its title and every footer."""
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
        return bytes(pdf.output())


class PdfAmendmentDocuments:
    """The ``AmendmentDocuments`` of ``workflows.documents``."""

    def render(self, data: dict, *, draft: bool) -> bytes:
        return render_amendment_document(data, draft=draft, when=timezone.now())
