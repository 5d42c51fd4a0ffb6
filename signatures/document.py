"""Laying out the contract document and the completion certificate as PDF (fpdf2).

The text comes from Django templates in templates/signatures/, rendered in French and
written with fpdf2's HTML support. The contract document reads as a convention: its title
block and parties, the preamble and numbered articles the coordinators wrote
(``workflows.conventions``, with the contract's data filled in), then each party's signature
block, drawn here with an empty PDF signature field (pyHanko) that its signature fills in
later, then the annexes: every action sheet in full with its version and fingerprint, and the
attached files with theirs.
"""

from __future__ import annotations

import datetime
import io
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.db.models import Prefetch, Q, Sum
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from fpdf import FPDF
from fpdf.fonts import TextStyle
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign.fields import (
    FieldMDPAction,
    FieldMDPSpec,
    MDPPerm,
    SigFieldSpec,
    append_signature_field,
)

from workflows.conventions import printed_convention
from workflows.models import (
    Action,
    ActionVersion,
    Contract,
    FundingLine,
    FundingStatus,
    Organisation,
    Signatory,
    SignatoryStatus,
    sheet_content,
)

LANGUAGE = "fr"
MM = 72 / 25.4  # PDF points per millimetre
BLOCK_WIDTH, BLOCK_LABEL, BLOCK_FIELD = 88.0, 22.0, 24.0
SEAL_FIELD = "accord-seal"
# Headings in dark blue rather than fpdf2's default red: a contract, not a poster.
HEADING_STYLES = {
    "h1": TextStyle(color="#1d3557", font_size_pt=20, t_margin=4, b_margin=2),
    "h2": TextStyle(color="#1d3557", font_size_pt=15, t_margin=5, b_margin=1),
    "h3": TextStyle(color="#1d3557", font_size_pt=12, t_margin=4, b_margin=1),
    "h4": TextStyle(color="#1d3557", font_size_pt=11, t_margin=4, b_margin=1),
}
# The templates mark where a part (an article, an action sheet, a sheet's indicators) begins;
# a part that would start this close to the bottom of a page starts on the next one, so that no
# heading is left alone at the foot of a page (fpdf2's HTML has no "keep with next"). Each part
# is written on its own, which also keeps a table's header style from reaching the next table.
SECTION_MARK = "<!-- section -->"
SECTION_MIN_SPACE = 40.0  # mm


@dataclass(frozen=True)
class FieldBox:
    """Where a signature field sits: page index and box in PDF points."""

    name: str
    page: int
    box: tuple[int, int, int, int]


@dataclass(frozen=True)
class DocumentPartner:
    """A partner as the document lists it, with its total funding (None: it funds nothing)."""

    name: str
    funding: Decimal | None


# The documents' font: DejaVu Sans, in which every name prints, from the system's fonts
# (Debian's fonts-dejavu-core, which .ci/run installs; ACCORD_PDF_FONT_DIR elsewhere). Without
# it the PDF's standard Helvetica serves, so that a bare machine still draws documents, and a
# character outside Windows-1252 prints as "?".
UNICODE_FONT = "DejaVu"
UNICODE_FONT_FILES = {
    "": "DejaVuSans.ttf",
    "B": "DejaVuSans-Bold.ttf",
    "I": "DejaVuSans-Oblique.ttf",
    "BI": "DejaVuSans-BoldOblique.ttf",
}


def unicode_font_files() -> dict[str, Path] | None:
    """The DejaVu Sans files by style, or None when one is missing."""
    folder = Path(settings.ACCORD_PDF_FONT_DIR)
    files = {style: folder / name for style, name in UNICODE_FONT_FILES.items()}
    return files if all(path.is_file() for path in files.values()) else None


def _printable(text: str) -> str:
    """Only what the PDF's standard fonts can show (Windows-1252); narrow spaces as spaces."""
    text = text.replace("\u202f", "\xa0").replace("\u2009", " ")
    return text.encode("cp1252", errors="replace").decode("cp1252")


class _Document(FPDF):
    def __init__(self, footer_text: str, *, when: datetime.datetime) -> None:
        super().__init__(format="A4", unit="mm")
        self.core_fonts_encoding = "cp1252"
        files = unicode_font_files()
        for style, path in (files or {}).items():
            self.add_font(UNICODE_FONT, style, str(path))
        self.text_font = UNICODE_FONT if files else "Helvetica"
        self.footer_text = self.printable(footer_text)
        self.set_creation_date(when)
        self.set_creator("Accord")
        self.set_auto_page_break(auto=True, margin=18)
        self.set_margins(18, 18, 18)
        self.set_font(self.text_font, size=10)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(self.text_font, size=8)
        self.set_text_color(90)
        self.cell(0, 5, self.footer_text, align="L")
        self.cell(0, 5, f"{self.page_no()}/{{nb}}", align="R")
        self.set_text_color(0)

    def printable(self, text: str) -> str:
        """``text`` as this document's font prints it."""
        return text if self.text_font == UNICODE_FONT else _printable(text)

    def html(self, html: str) -> None:
        self.write_html(
            self.printable(html),
            ul_bullet_char="-",
            tag_styles=HEADING_STYLES,
            table_line_separators=True,
        )

    def sections(self, html: str) -> None:
        """``html`` part by part (``SECTION_MARK``), each starting on a new page when too
        little of the current one is left."""
        for index, part in enumerate(html.split(SECTION_MARK)):
            if not part.strip():
                continue
            if index and self.get_y() > self.h - self.b_margin - SECTION_MIN_SPACE:
                self.add_page()
            # Each part starts in the document's text font, whatever the part before left.
            self.set_font(self.text_font, style="", size=10)
            self.html(part)

    def heading(self, text: str) -> None:
        self.set_font(self.text_font, style="B", size=14)
        self.multi_cell(0, 7, self.printable(text), new_x="LMARGIN", new_y="NEXT")
        self.ln(2)
        self.set_font(self.text_font, size=10)

    def box(self, name: str, x: float, y: float, w: float, h: float) -> FieldBox:
        """The page's box in PDF points (origin bottom left) for a field at (x, y) in mm."""
        top = self.h - y
        return FieldBox(
            name,
            self.page_no() - 1,
            (round(x * MM), round((top - h) * MM), round((x + w) * MM), round(top * MM)),
        )


def _with_fields(pdf: bytes, boxes: list[FieldBox]) -> bytes:
    """The empty signature fields; the seal's locks every field and, once signed, the whole
    document (its /Lock dictionary with P=1: see ``services.Modifications``)."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    for box in boxes:
        seal = box.name == SEAL_FIELD
        append_signature_field(
            writer,
            SigFieldSpec(
                sig_field_name=box.name,
                on_page=box.page,
                box=box.box,
                field_mdp_spec=FieldMDPSpec(action=FieldMDPAction.ALL) if seal else None,
                doc_mdp_update_value=MDPPerm.NO_CHANGES if seal else None,
            ),
        )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def signatory_label(signatory: Signatory) -> list[str]:
    """The lines above a party's signature field."""
    signer = signatory.signer
    lines = [
        _("For %(organisation)s (%(kind)s)")
        % {"organisation": signatory.organisation.name, "kind": signatory.get_kind_display()},
        signer.name_with_position,
    ]
    representative = signatory.represented_by
    if representative is not None:
        lines.append(
            _("represented by %(representative)s") % {"representative": representative.formal_name}
        )
        if signatory.mandate_reference:
            lines.append(mandate_text(signatory.mandate_reference, signatory.mandate_date))
    return lines


def mandate_text(reference: str, date: datetime.date | None) -> str:
    if date is None:
        return _("mandate: %(reference)s") % {"reference": reference}
    return _("mandate: %(reference)s of %(date)s") % {
        "reference": reference,
        "date": date_format(date, "DATE_FORMAT"),
    }


def signature_field_name(signatory: Signatory) -> str:
    return f"signature-{signatory.organisation.code}"


@dataclass(frozen=True)
class AnnexFunding:
    funder: str
    year: int | None
    amount: Decimal
    status: str


@dataclass(frozen=True)
class AnnexSheet:
    """An action sheet as Annex 1 prints it: the version the document names, in full."""

    action: Action
    version: int | None
    sha256: str
    content: dict
    partners: list[str]
    funding: list[AnnexFunding]
    funding_total: Decimal
    starts_on: datetime.date | None
    ends_on: datetime.date | None
    milestones: list[tuple[datetime.date, str]]


def _date(value: str | None) -> datetime.date | None:
    return datetime.date.fromisoformat(value) if value else None


def _annex_sheet(action: Action, names: dict[str, str]) -> AnnexSheet:
    """The sheet as its latest version keeps it (what its fingerprint covers); a sheet older
    than versions, as it stands."""
    versions = getattr(action, "sheet_versions", [])
    version = versions[0] if versions else None
    content = version.content if version else sheet_content(action)
    schedule = content.get("schedule") or {}
    statuses = dict(FundingStatus.choices)
    funding = sorted(
        (
            AnnexFunding(
                names.get(line["funder"], line["funder"]),
                line.get("year"),
                Decimal(line["amount"]),
                str(statuses.get(line.get("status") or "", "")),
            )
            for line in content.get("funding") or []
        ),
        key=lambda line: (line.year or 0, line.funder),
    )
    return AnnexSheet(
        action=action,
        version=version.number if version else None,
        sha256=version.sha256 if version else "",
        content=content,
        partners=[names.get(code, code) for code in content.get("partners") or []],
        funding=funding,
        funding_total=sum((line.amount for line in funding), Decimal("0.00")),
        starts_on=_date(schedule.get("start")),
        ends_on=_date(schedule.get("end")),
        milestones=[
            (datetime.date.fromisoformat(step["date"]), step["label"])
            for step in schedule.get("milestones") or []
        ],
    )


def _contract_context(contract: Contract) -> dict:
    actions = (
        Action.objects.in_contract()
        .select_related("pilot__organisation")
        .prefetch_related(
            "partners",
            Prefetch("funding_lines", FundingLine.objects.select_related("funder")),
            # The sheet's latest version first: the document names the version it carries.
            Prefetch(
                "versions", ActionVersion.objects.order_by("-number"), to_attr="sheet_versions"
            ),
        )
    )
    themes = contract.themes.prefetch_related(
        Prefetch("actions", queryset=actions.order_by("position"))
    ).order_by("position")
    funding = dict(
        FundingLine.objects.filter(action__contract=contract)
        .values_list("funder_id")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    # The partners named anywhere in the contract: its organisations, signatories, action
    # partners and funders.
    organisations = (
        Organisation.objects.filter(
            Q(contracts=contract)
            | Q(pk__in=contract.signatories.values("organisation_id"))
            | Q(partner_actions__contract=contract)
            | Q(pk__in=FundingLine.objects.filter(action__contract=contract).values("funder_id"))
        )
        .distinct()
        .order_by("name")
    )
    partners = [DocumentPartner(o.name, funding.get(o.pk)) for o in organisations]
    names = dict(Organisation.objects.values_list("code", "name"))
    annex = [
        (theme, [_annex_sheet(action, names) for action in theme.actions.all()]) for theme in themes
    ]
    return {
        "contract": contract,
        "convention": printed_convention(contract),
        "annex": annex,
        "themes": themes,
        "partners": partners,
        "total_funding": sum(funding.values(), Decimal("0.00")),
        "signatories": list(
            contract.signatories.select_related("organisation", "signer", "represented_by")
        ),
        # The files joined to the contract, each with its SHA-256: part of what is frozen.
        "attachments": list(
            contract.attachments.select_related("action").order_by("uploaded_at", "pk")
        ),
    }


def render_contract_document(
    contract: Contract, *, when: datetime.datetime, preview: bool = False
) -> bytes:
    """The contract document as the council approved it, with an empty field per party and
    one for Accord's seal; ``preview``: the same, marked as a draft in every page's footer,
    for the coordinators writing it."""
    with translation.override(LANGUAGE):
        context = _contract_context(contract)
        footer = _("Contract %(reference)s, version %(version)d") % {
            "reference": contract.reference,
            "version": contract.version,
        }
        if preview:
            footer = _("DRAFT, not frozen — %(footer)s") % {"footer": footer}
        pdf = _Document(footer, when=when)
        pdf.set_title(pdf.printable(contract.title))
        pdf.set_subject(pdf.printable(contract.reference))
        pdf.add_page()
        pdf.sections(render_to_string("signatures/contract_document.html", context))
        boxes = _signature_blocks(pdf, context["signatories"])
        pdf.add_page()
        pdf.sections(render_to_string("signatures/contract_document_annexes.html", context))
        return _with_fields(bytes(pdf.output()), boxes)


def _signature_blocks(
    pdf: _Document, signatories: list[Signatory], *, intro: str | None = None
) -> list[FieldBox]:
    pdf.add_page()
    pdf.heading(_("Signatures"))
    pdf.set_font(pdf.text_font, size=9)
    pdf.multi_cell(
        0,
        5,
        pdf.printable(
            intro
            or _(
                "Done in a single electronic original. Each party signs it electronically in "
                "its block below, on the date its signature shows; Accord's seal closes the "
                "document once every signature is in. The annexes follow the signatures."
            )
        ),
        align="L",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.ln(4)
    boxes = []
    height = BLOCK_LABEL + BLOCK_FIELD + 6
    entries = [(signature_field_name(s), signatory_label(s)) for s in signatories]
    entries.append((SEAL_FIELD, [_("Accord's seal"), _("Closes the signed document")]))
    for index, (name, lines) in enumerate(entries):
        column = index % 2
        if column == 0 and pdf.get_y() + height > pdf.h - 20:
            pdf.add_page()
        y = pdf.get_y()
        x = pdf.l_margin + column * (BLOCK_WIDTH + 4)
        pdf.set_xy(x, y)
        pdf.set_font(pdf.text_font, style="B", size=9)
        pdf.multi_cell(
            BLOCK_WIDTH, 4.5, pdf.printable(lines[0]), align="L", new_x="LEFT", new_y="NEXT"
        )
        pdf.set_font(pdf.text_font, size=8.5)
        for line in lines[1:]:
            pdf.multi_cell(
                BLOCK_WIDTH, 4, pdf.printable(line), align="L", new_x="LEFT", new_y="NEXT"
            )
        field_y = y + BLOCK_LABEL
        pdf.set_draw_color(150)
        pdf.rect(x, field_y, BLOCK_WIDTH, BLOCK_FIELD)
        boxes.append(pdf.box(name, x, field_y, BLOCK_WIDTH, BLOCK_FIELD))
        pdf.set_xy(pdf.l_margin, y if column == 0 else y + height)
        if column == 1 or index == len(entries) - 1:
            pdf.set_y(y + height)
    return boxes


def render_completion_certificate(data: dict, *, when: datetime.datetime) -> bytes:
    """The one-page summary of a signed contract."""
    with translation.override(LANGUAGE):
        pdf = _Document(
            _("Completion certificate of %(reference)s") % {"reference": data["reference"]},
            when=when,
        )
        pdf.set_title(pdf.printable(_("Completion certificate")))
        pdf.add_page()
        pdf.set_font(pdf.text_font, size=9)
        pdf.html(
            render_to_string(
                "signatures/completion_certificate.html", {"data": certificate_display(data)}
            )
        )
        return bytes(pdf.output())


def _datetime_label(value: str) -> str:
    moment = datetime.datetime.fromisoformat(value)
    return date_format(timezone.localtime(moment), "DATETIME_FORMAT")


def certificate_display(data: dict) -> dict:
    """The completion certificate's data with its dates and statuses in words."""
    deliberation = data["deliberation"]
    return {
        **data,
        "sealed_at": _datetime_label(data["sealed_at"]),
        "deliberation": {
            **deliberation,
            "date": (
                date_format(datetime.date.fromisoformat(deliberation["date"]), "DATE_FORMAT")
                if deliberation["date"]
                else ""
            ),
        },
        "parties": [
            {
                **party,
                "status_label": SignatoryStatus(party["status"]).label,
                # Certificates drawn up before the internal visas have none.
                "visas": [
                    {**visa, "at_label": _datetime_label(visa["at"])}
                    for visa in party.get("visas", [])
                ],
            }
            for party in data["parties"]
        ],
        "signatures": [
            {**signature, "signed_at_label": _datetime_label(signature["signed_at"])}
            for signature in data["signatures"]
        ],
    }
