"""A signed contract handed to the public archives: one ZIP whose ``manifest.xml`` is a SEDA 2.2
``ArchiveTransfer`` (the French standard for archive transfers, read by Vitam, As@lae and
Pastell's connectors) listing every file beside it with its SHA-512.

The whole mapping from the domain to SEDA is here, and only here: which files make up the
contract's archive, how each is described, and the management rules the archives apply.

What goes in (``content/``): the signed contract PDF (sealed), each signed amendment's PDF, the
completion certificate, every attachment, the history as JSON (``history.json``, as the
verification bundle has it) and the verification bundle itself (a ZIP that a third party
checks offline). Everything is read through the domain (``workflows.documents``): this module
knows nothing of how the PDFs are signed.

The rules (``ManagementMetadata`` for the whole transfer, ``Management`` per unit), each an
identifier of the archival agency's own rule repository, set per installation
(``ACCORD_ARCHIVE_*`` settings, docs/deploy.md):

- **Appraisal** (``AppraisalRule``, the *durée d'utilité administrative*): counted from the
  contract's end date (``period_end``), since a partner may claim its commitments until then
  and for the limitation period after (the default identifier names 10 years); final action
  ``Keep``: a local health contract is a public policy of its territory, which the archives
  keep for history rather than destroy.
- **Access** (``AccessRule``): the contract, its amendments, the certificate and the
  attachments are administrative documents communicable at once (Code du patrimoine,
  L. 213-1), counted from the signature. The history and the verification bundle name people,
  their addresses and browsers when they signed: their own rule (by default the 50 years that
  protect private life, L. 213-2), counted from the day of the transfer, when the history
  was last written to.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from xml.etree import ElementTree

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from workflows.documents import amendment_documents, contract_documents
from workflows.errors import Conflict, NotAllowed
from workflows.models import (
    Amendment,
    AmendmentStatus,
    Contract,
    ContractAuditor,
    ContractStatus,
    Signatory,
    SignatoryKind,
    SignatoryStatus,
    User,
    is_coordinator,
)
from workflows.selectors import contract_attachments

from .selectors import BundleFile, bundle_folder, history_document
from .services import attachment_files, verification_bundle_zip

SEDA = "fr:gouv:culture:archivesdefrance:seda:v2.2"
XML_NS = "http://www.w3.org/XML/1998/namespace"
DCTERMS = "http://purl.org/dc/terms/"
SHA512 = "http://www.w3.org/2001/04/xmlenc#sha512"
MANIFEST = "manifest.xml"
ElementTree.register_namespace("dcterms", DCTERMS)
CONTENT = "content"
ARCHIVED_STATES = (ContractStatus.SIGNED, ContractStatus.CLOSED)

SEAL_PENDING = gettext_noop(
    "Every party has signed and Accord is sealing the document and drawing up the completion "
    "certificate, which the archive holds: download it in a moment."
)
NOT_SIGNED = gettext_noop(
    "Only a signed contract goes to the archives: this one is “%(status)s”. Its archive can "
    "be downloaded once every party has signed."
)
NOT_ALLOWED = gettext_noop(
    "Only the contract's coordinators, its auditors and the staff may download its archive."
)

# PRONOM identifiers (The National Archives' registry, which the French archives' format
# repositories follow) of the formats Accord writes or accepts, where one identifier fits.
PDF_PRONOM = {
    "1.3": "fmt/17",
    "1.4": "fmt/18",
    "1.5": "fmt/19",
    "1.6": "fmt/20",
    "1.7": "fmt/276",
    "2.0": "fmt/1129",
}
PRONOM = {
    "application/json": "fmt/817",
    "application/zip": "x-fmt/263",
    "text/plain": "x-fmt/111",
    "application/vnd.oasis.opendocument.text": "fmt/291",
    "application/vnd.oasis.opendocument.spreadsheet": "fmt/295",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "fmt/412",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "fmt/214",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "fmt/215",
}
FORMAT_NAMES = {
    "application/pdf": "Portable Document Format",
    "application/json": "JSON Data Interchange Format",
    "application/zip": "ZIP Format",
    "text/plain": "Plain Text File",
}


@dataclass(frozen=True)
class ArchiveFile:
    """One file of the archive, with how its unit describes it (in French)."""

    name: str  # under content/, unique in the archive
    content: bytes
    title: str
    description: str
    mime_type: str
    created: datetime.date | None = None
    private: bool = False  # under the private-life access rule (people's traces)

    @property
    def path(self) -> str:
        return f"{CONTENT}/{self.name}"

    @property
    def sha512(self) -> str:
        return hashlib.sha512(self.content).hexdigest()

    @property
    def format_id(self) -> str:
        """The PRONOM identifier, "" when none is known for sure."""
        if self.mime_type == "application/pdf":
            version = re.match(rb"%PDF-(\d\.\d)", self.content[:16])
            return PDF_PRONOM.get(version.group(1).decode(), "") if version else ""
        return PRONOM.get(self.mime_type, "")


@dataclass(frozen=True)
class Agency:
    identifier: str
    name: str


def may_archive(contract: Contract, user: User | AnonymousUser) -> bool:
    """Who may take the contract's archive: its coordinators, its auditors and the staff,
    as for handing the file over to the archives (not every partner who reads it)."""
    if not user.is_authenticated:
        return False
    if user.is_staff or is_coordinator(contract, user):
        return True
    return ContractAuditor.objects.filter(contract=contract, user=user).exists()


def archive_waits_for_seal(contract: Contract) -> bool:
    """The archive holds the sealed document and the completion certificate: none is made
    while the seal is being drawn up, after the last signature."""
    return contract_documents().seal_pending(contract)


def _safe(name: str) -> str:
    """A file name any archive system takes: ASCII letters (accents dropped), digits, dot,
    dash, underscore."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^\w.-]+", "-", ascii_name, flags=re.ASCII).strip("-.") or "fichier"


def signed_date(contract: Contract) -> datetime.date:
    """The day the contract became signed (its last signature, sealed): from its history."""
    entry = (
        contract.history.filter(action__isnull=True, to_state=ContractStatus.SIGNED)
        .order_by("-seq")
        .first()
    )
    return timezone.localdate(entry.at if entry is not None else timezone.now())


def archive_name(contract: Contract) -> str:
    return f"accord-{_safe(contract.reference)}-archive.zip"


def _signed_amendments(contract: Contract) -> list[Amendment]:
    return list(contract.amendments.filter(status=AmendmentStatus.SIGNED).order_by("number"))


def archive_files(contract: Contract) -> list[ArchiveFile]:
    """Every file of the contract's archive, in the order the manifest lists them."""
    signed_on = signed_date(contract)
    evidence = dict(contract_documents().evidence_files(contract))
    files: list[ArchiveFile] = []
    if f"{contract.reference}.pdf" in evidence:
        files.append(
            ArchiveFile(
                name=f"contrat-{_safe(contract.reference)}.pdf",
                content=evidence[f"{contract.reference}.pdf"],
                title=_("Signed contract %(reference)s") % {"reference": contract.reference},
                description=_(
                    "The contract as its parties signed it (PAdES signatures), closed by "
                    "Accord's seal."
                ),
                mime_type="application/pdf",
                created=contract.deliberation_date,
            )
        )
    for amendment in _signed_amendments(contract):
        pdf = amendment_documents().frozen_pdf(amendment)
        if pdf is None:
            continue
        files.append(
            ArchiveFile(
                name=f"avenant-{amendment.number}.pdf",
                content=pdf,
                title=_("Signed amendment no. %(number)d") % {"number": amendment.number},
                description=amendment.summary,
                mime_type="application/pdf",
                created=timezone.localdate(amendment.signed_at) if amendment.signed_at else None,
            )
        )
    if "certificate.pdf" in evidence:
        files.append(
            ArchiveFile(
                name="certificat-d-achevement.pdf",
                content=evidence["certificate.pdf"],
                title=_("Completion certificate"),
                description=_(
                    "Every signature of the contract and the head of its history when it was "
                    "sealed."
                ),
                mime_type="application/pdf",
                created=signed_on,
            )
        )
    attached = attachment_files(contract)
    for attachment, item in zip(contract_attachments(contract), attached, strict=True):
        files.append(
            ArchiveFile(
                name=f"pieces-jointes/{attachment.pk}-{_safe(attachment.name)}",
                content=item.content,
                title=_("Attachment: %(name)s") % {"name": attachment.name},
                description=attachment.get_kind_display(),
                mime_type=attachment.content_type.split(";")[0].strip(),
                created=timezone.localdate(attachment.uploaded_at),
            )
        )
    history = history_document(contract)
    files.append(
        ArchiveFile(
            name="historique.json",
            content=json.dumps(
                history, ensure_ascii=False, indent=1, cls=DjangoJSONEncoder
            ).encode(),
            title=_("Approval history"),
            description=_(
                "Every step of the contract's approval, who took it and when, each entry "
                "chained to the previous one by SHA-256."
            ),
            mime_type="application/json",
            created=timezone.localdate(),
            private=True,
        )
    )
    bundle = [
        *(BundleFile(name, content) for name, content in evidence.items()),
        *attached,
    ]
    files.append(
        ArchiveFile(
            name=f"{bundle_folder(contract)}.zip",
            content=verification_bundle_zip(contract, bundle),
            title=_("Verification bundle of the history"),
            description=_(
                "The history, the signed documents and a program (Python 3) that checks "
                "offline that none of them was modified."
            ),
            mime_type="application/zip",
            created=timezone.localdate(),
            private=True,
        )
    )
    return files


def contract_archive(*, contract: Contract, user: User) -> tuple[list[ArchiveFile], bytes]:
    """The contract's archive (its files and their manifest), for someone who may take it.

    A read: nothing is recorded (as the contract file's export); the archives' own
    acknowledgement is what records the transfer."""
    if not may_archive(contract, user):
        raise NotAllowed(_(NOT_ALLOWED))
    if contract.status not in ARCHIVED_STATES:
        raise Conflict(
            _(NOT_SIGNED) % {"status": contract.get_status_display()},
            {"status": contract.status},
        )
    if archive_waits_for_seal(contract):
        raise Conflict(_(SEAL_PENDING))
    with translation.override("fr"):
        files = archive_files(contract)
        manifest = archive_manifest(contract, files, now=timezone.now())
    return files, manifest


# --- The manifest ---------------------------------------------------------------------------


def _el(
    parent: ElementTree.Element, tag: str, text: str | None = None, **attributes: str
) -> ElementTree.Element:
    element = ElementTree.SubElement(parent, tag, attributes)
    if text is not None:
        element.text = text
    return element


def _french(parent: ElementTree.Element, tag: str, text: str) -> ElementTree.Element:
    return _el(parent, tag, text, **{f"{{{XML_NS}}}lang": "fr"})


def _agency(parent: ElementTree.Element, tag: str, agency: Agency) -> None:
    element = _el(parent, tag)
    _el(element, "Identifier", agency.identifier)
    # SEDA leaves the organisation's description open, to another namespace's elements: its
    # name as Dublin Core's title, which archival systems read.
    description = _el(element, "OrganizationDescriptiveMetadata")
    ElementTree.SubElement(description, f"{{{DCTERMS}}}title").text = agency.name


def _rules(
    parent: ElementTree.Element, *, appraisal_from: datetime.date | None, access: str, access_from
) -> None:
    """A management group: the appraisal rule (when given), then the access rule."""
    if appraisal_from is not None:
        appraisal = _el(parent, "AppraisalRule")
        _el(appraisal, "Rule", settings.ACCORD_ARCHIVE_APPRAISAL_RULE)
        _el(appraisal, "StartDate", appraisal_from.isoformat())
        _el(appraisal, "FinalAction", settings.ACCORD_ARCHIVE_APPRAISAL_FINAL_ACTION)
    rule = _el(parent, "AccessRule")
    _el(rule, "Rule", access)
    _el(rule, "StartDate", access_from.isoformat())


SIGNATORY_ROLES: dict[str, str] = {
    SignatoryKind.MANDATORY: gettext_noop("Mandatory signatory"),
    SignatoryKind.ASSOCIATED: gettext_noop("Associated signatory"),
}


def _partners(contract: Contract) -> list[tuple[str, str, str]]:
    """(code, name, role) of each partner organisation: the signatories first, by order."""
    partners: dict[str, tuple[str, str, str]] = {}
    signatories = Signatory.objects.filter(contract=contract).select_related("organisation")
    for signatory in signatories.order_by("order", "pk"):
        organisation = signatory.organisation
        role = _(SIGNATORY_ROLES.get(signatory.kind, gettext_noop("Signatory")))
        if signatory.status == SignatoryStatus.DECLINED:
            # An associated party may decline: the contract is signed without it.
            role = _("%(role)s, declined to sign") % {"role": role}
        partners.setdefault(organisation.code, (organisation.code, organisation.name, role))
    for organisation in contract.organisations.order_by("name"):
        partners.setdefault(organisation.code, (organisation.code, organisation.name, _("Partner")))
    return list(partners.values())


def _description(contract: Contract) -> str:
    text = _(
        "%(kind)s of the territory “%(territory)s”, from %(start)s to %(end)s, signed by "
        "its parties in Accord."
    ) % {
        "kind": contract.get_kind_display(),
        "territory": contract.territory_name,
        "start": contract.period_start.strftime("%d/%m/%Y"),
        "end": contract.period_end.strftime("%d/%m/%Y"),
    }
    if contract.deliberation_date:
        text += " " + _("Deliberation no. %(number)s of %(date)s.") % {
            "number": contract.deliberation_number or "—",
            "date": contract.deliberation_date.strftime("%d/%m/%Y"),
        }
    return text


def archive_manifest(
    contract: Contract, files: Iterable[ArchiveFile], *, now: datetime.datetime
) -> bytes:
    """The SEDA 2.2 ``ArchiveTransfer`` describing the contract and listing ``files``."""
    files = list(files)
    transferring = Agency(
        settings.ACCORD_TRANSFERRING_AGENCY_ID, settings.ACCORD_TRANSFERRING_AGENCY_NAME
    )
    archival = Agency(settings.ACCORD_ARCHIVAL_AGENCY_ID, settings.ACCORD_ARCHIVAL_AGENCY_NAME)
    signed_on = signed_date(contract)
    today = timezone.localdate(now)

    # The SEDA namespace as the document's default, declared once on the root (every element
    # is SEDA's; only xml:lang is from another namespace), as archival systems expect it.
    root = ElementTree.Element("ArchiveTransfer", xmlns=SEDA)
    _french(
        root,
        "Comment",
        _("Transfer of the signed contract %(reference)s “%(title)s”, exported from Accord.")
        % {"reference": contract.reference, "title": contract.title},
    )
    _el(root, "Date", now.isoformat(timespec="seconds"))
    stamp = now.astimezone(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    _el(root, "MessageIdentifier", f"ACCORD-{_safe(contract.reference)}-{stamp}")
    if settings.ACCORD_ARCHIVAL_AGREEMENT:
        _el(root, "ArchivalAgreement", settings.ACCORD_ARCHIVAL_AGREEMENT)
    code_lists = _el(root, "CodeListVersions")
    _el(code_lists, "ReplyCodeListVersion", "ReplyCodeListVersion0")
    _el(code_lists, "MessageDigestAlgorithmCodeListVersion", "DigestAlgorithmCodeListVersion0")
    _el(code_lists, "MimeTypeCodeListVersion", "MimeTypeCodeListVersion0")
    _el(code_lists, "FileFormatCodeListVersion", "FileFormatCodeListVersion0")

    package = _el(root, "DataObjectPackage")
    for number, item in enumerate(files, start=1):
        data_object = _el(package, "BinaryDataObject", id=f"BDO-{number}")
        _el(data_object, "DataObjectVersion", "BinaryMaster_1")
        _el(data_object, "Uri", item.path)
        _el(data_object, "MessageDigest", item.sha512, algorithm=SHA512)
        _el(data_object, "Size", str(len(item.content)))
        identification = _el(data_object, "FormatIdentification")
        if item.mime_type in FORMAT_NAMES:
            _el(identification, "FormatLitteral", FORMAT_NAMES[item.mime_type])
        _el(identification, "MimeType", item.mime_type)
        if item.format_id:
            _el(identification, "FormatId", item.format_id)
        _el(_el(data_object, "FileInfo"), "Filename", item.name.rsplit("/", 1)[-1])

    descriptive = _el(package, "DescriptiveMetadata")
    unit = _el(descriptive, "ArchiveUnit", id="AU-contract")
    _rules(
        _el(unit, "Management"),
        appraisal_from=contract.period_end,
        access=settings.ACCORD_ARCHIVE_ACCESS_RULE,
        access_from=signed_on,
    )
    content = _el(unit, "Content")
    _el(content, "DescriptionLevel", "File")
    _french(content, "Title", contract.title)
    _el(content, "OriginatingAgencyArchiveUnitIdentifier", contract.reference)
    _french(content, "Description", _description(contract))
    _el(content, "DocumentType", _("Contract"))
    _el(content, "Language", "fra")
    _el(content, "DescriptionLanguage", "fra")
    _el(content, "Version", str(contract.version))
    keyword = _el(content, "Keyword")
    _el(keyword, "KeywordContent", contract.territory_name)
    _el(keyword, "KeywordType", "geogname")
    partners = _partners(contract)
    for _code, name, _role in partners:
        keyword = _el(content, "Keyword")
        _el(keyword, "KeywordContent", name)
        _el(keyword, "KeywordType", "corpname")
    _agency(content, "OriginatingAgency", transferring)
    for code, name, role in partners:
        agent = _el(content, "Agent")
        _el(agent, "Corpname", name)
        _el(agent, "Identifier", code)
        _french(agent, "Role", role)
    _el(content, "StartDate", contract.period_start.isoformat())
    _el(content, "EndDate", contract.period_end.isoformat())

    for number, item in enumerate(files, start=1):
        child = _el(unit, "ArchiveUnit", id=f"AU-{number}")
        if item.private:
            _rules(
                _el(child, "Management"),
                appraisal_from=None,
                access=settings.ACCORD_ARCHIVE_PRIVATE_ACCESS_RULE,
                access_from=today,
            )
        child_content = _el(child, "Content")
        _el(child_content, "DescriptionLevel", "Item")
        _french(child_content, "Title", item.title)
        if item.description:
            _french(child_content, "Description", item.description)
        _el(child_content, "Language", "fra")
        if item.created is not None:
            _el(child_content, "CreatedDate", item.created.isoformat())
        reference = _el(child, "DataObjectReference")
        _el(reference, "DataObjectReferenceId", f"BDO-{number}")

    management = _el(package, "ManagementMetadata")
    _el(management, "OriginatingAgencyIdentifier", transferring.identifier)
    _el(management, "SubmissionAgencyIdentifier", transferring.identifier)
    _rules(
        management,
        appraisal_from=contract.period_end,
        access=settings.ACCORD_ARCHIVE_ACCESS_RULE,
        access_from=signed_on,
    )

    _agency(root, "ArchivalAgency", archival)
    _agency(root, "TransferringAgency", transferring)
    ElementTree.indent(root)
    return ElementTree.tostring(root, encoding="UTF-8", xml_declaration=True)


# --- The ZIP --------------------------------------------------------------------------------


class _Pipe(io.RawIOBase):
    """A write-only stream whose bytes are taken as they come: zipfile writes each entry with
    a data descriptor (it cannot seek back), so the archive streams entry by entry."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.position = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        chunk = bytes(data)
        self.chunks.append(chunk)
        self.position += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self.position

    def take(self) -> bytes:
        chunk, self.chunks = b"".join(self.chunks), []
        return chunk


def archive_zip_chunks(files: list[ArchiveFile], manifest: bytes) -> Iterator[bytes]:
    """The archive as ZIP bytes, the manifest first, then each file, as each is written."""
    pipe = _Pipe()
    with zipfile.ZipFile(pipe, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(MANIFEST, manifest)
        yield pipe.take()
        for item in files:
            # Already compressed: stored as they are (PDF streams, the bundle's ZIP).
            stored = item.mime_type in ("application/pdf", "application/zip")
            archive.writestr(
                item.path,
                item.content,
                compress_type=zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED,
            )
            yield pipe.take()
    yield pipe.take()
