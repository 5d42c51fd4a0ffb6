"""Attachments: joined by a coordinator (or an action's pilot for its sheet), their type judged
from their content, refused above the size limit, their SHA-256 in the history, listed and
downloaded in pages and API, carried by the verification bundle and the frozen document."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from signatures.document import _contract_context
from tests.factories import ActionFactory
from workflows import services
from workflows.audit.selectors import bundle_folder
from workflows.audit.services import contract_verification_bundle
from workflows.audit.verify_bundle import read_bundle, verify
from workflows.errors import ApplicationError, AttachmentTooLarge, NotAllowed
from workflows.models import Attachment, AttachmentKind, HistoryEvent
from workflows.selectors import history_verify
from workflows.services.attachments import clean_name

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
ELF = b"\x7fELF\x02\x01\x01\x00" + bytes(120)


def zipped(entries: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in entries:
            compression = zipfile.ZIP_STORED if name == "mimetype" else zipfile.ZIP_DEFLATED
            archive.writestr(name, content, compress_type=compression)
    return buffer.getvalue()


ODT = zipped([("mimetype", b"application/vnd.oasis.opendocument.text"), ("content.xml", b"<x/>")])
DOCX = zipped([("[Content_Types].xml", b"<Types/>"), ("word/document.xml", b"<w/>")])
XLSX = zipped([("[Content_Types].xml", b"<Types/>"), ("xl/workbook.xml", b"<w/>")])
PPTX = zipped([("[Content_Types].xml", b"<Types/>"), ("ppt/presentation.xml", b"<p/>")])
ACCEPTED = [
    ("diagnostic.txt", PDF, "application/pdf"),  # a PDF named .txt is a PDF
    ("carte.png", b"\x89PNG\r\n\x1a\n" + bytes(40), "image/png"),
    ("photo.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF" + bytes(40), "image/jpeg"),
    ("logo.gif", b"GIF89a" + bytes(40), "image/gif"),
    ("image.webp", b"RIFF\x24\x00\x00\x00WEBPVP8 " + bytes(40), "image/webp"),
    ("note.odt", ODT, "application/vnd.oasis.opendocument.text"),
    (
        "note.docx",
        DOCX,
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
    ("budget.xlsx", XLSX, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    (
        "slides.pptx",
        PPTX,
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ),
    ("compte-rendu.md", "Réunion du 3 mars : présents…\n".encode(), "text/plain; charset=utf-8"),
]
REFUSED = [
    ("deliberation.pdf", ELF),  # an executable named .pdf
    ("archive.zip", zipped([("a.txt", b"a")])),
    ("odt-sans-type.odt", zipped([("mimetype", b"application/zip"), ("content.xml", b"")])),
    ("latin1.txt", "café".encode("latin-1")),
    ("nul.txt", b"texte\x00binaire"),
]


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    """Files go to a temporary folder, never into the repository."""
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def action(contract):
    return ActionFactory(contract=contract)


def upload(name: str = "deliberation.pdf", content: bytes = PDF) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


def add(contract, actor, name="deliberation.pdf", content=PDF, kind="deliberation", action=None):
    return services.attachment_add(
        contract=contract, actor=actor, kind=kind, upload=upload(name, content), action=action
    )


# --- The verb -----------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "content", "content_type"), ACCEPTED)
def test_each_accepted_type_is_judged_from_its_content(
    contract, coordinator, name, content, content_type
):
    attachment = add(contract, coordinator, name, content, kind="annex")

    assert (attachment.name, attachment.content_type) == (name, content_type)
    assert attachment.size == len(content)
    assert attachment.sha256 == hashlib.sha256(content).hexdigest()
    assert attachment.file.name.startswith(f"attachments/{contract.pk}/")
    with attachment.file.open("rb") as stored:
        assert stored.read() == content


@pytest.mark.parametrize(("name", "content"), REFUSED)
def test_other_contents_are_refused_whatever_their_name(contract, coordinator, name, content):
    with pytest.raises(ApplicationError) as refused:
        add(contract, coordinator, name, content)

    assert refused.value.status_code == 400
    assert "PDF, OpenDocument, Office" in refused.value.message
    assert not Attachment.objects.exists()


def test_an_empty_file_is_refused(contract, coordinator):
    with pytest.raises(ApplicationError, match="empty"):
        add(contract, coordinator, "vide.txt", b"")


def test_above_the_size_limit_413(contract, coordinator, settings):
    settings.ACCORD_ATTACHMENT_MAX_BYTES = 100
    add(contract, coordinator, "juste.txt", b"a" * 100)

    with pytest.raises(AttachmentTooLarge) as refused:
        add(contract, coordinator, "trop.txt", b"a" * 101)

    assert refused.value.status_code == 413
    assert Attachment.objects.count() == 1


def test_the_history_records_the_attachment_and_its_sha256(contract, coordinator):
    attachment = add(contract, coordinator)

    entry = contract.history.get(event=HistoryEvent.ATTACHMENT_ADDED)
    assert entry.actor == coordinator
    assert entry.data == {
        "attachment": attachment.pk,
        "name": "deliberation.pdf",
        "kind": "deliberation",
        "size": len(PDF),
        "sha256": hashlib.sha256(PDF).hexdigest(),
        "content_type": "application/pdf",
        "action": None,
    }
    assert history_verify(contract).valid


def test_a_stranger_or_a_lead_may_not_attach(contract, action, stranger):
    lead = action.working_group.leads.first()
    for person in (stranger, lead):
        with pytest.raises(NotAllowed):
            add(contract, person)
        with pytest.raises(NotAllowed):
            add(contract, person, kind=AttachmentKind.ACTION_DOCUMENT, action=action)
    assert not Attachment.objects.exists()
    assert not contract.history.filter(event=HistoryEvent.ATTACHMENT_ADDED).exists()


def test_the_pilot_documents_their_action_only(contract, action):
    attachment = add(contract, action.pilot, kind=AttachmentKind.ACTION_DOCUMENT, action=action)

    assert attachment.action == action
    assert contract.history.get(event=HistoryEvent.ATTACHMENT_ADDED).data["action"] == action.code
    with pytest.raises(NotAllowed):
        add(contract, action.pilot, kind=AttachmentKind.ANNEX)


def test_a_sheets_document_names_its_action_and_only_it(contract, coordinator, action):
    with pytest.raises(ApplicationError):
        add(contract, coordinator, kind=AttachmentKind.ACTION_DOCUMENT)
    with pytest.raises(ApplicationError):
        add(contract, coordinator, kind=AttachmentKind.ANNEX, action=action)
    with pytest.raises(ApplicationError):
        add(contract, coordinator, kind="contrat")


def test_names_are_cleaned():
    assert clean_name("C:\\Users\\moi\\Délibération 2024.pdf") == "Délibération 2024.pdf"
    assert clean_name("../../etc/passwd") == "passwd"
    assert clean_name("a\x00b\nc.txt") == "abc.txt"
    assert clean_name("") == "fichier"
    long = clean_name("x" * 400 + ".pdf")
    assert len(long) == 255
    assert long.endswith(".pdf")


# --- The page -----------------------------------------------------------------------------


def test_the_page_uploads_lists_and_downloads(client, contract, coordinator):
    client.force_login(coordinator)
    url = reverse("workflows:attachment_add", args=[contract.pk])

    response = client.post(url, {"file": upload("Délibération n°12.pdf"), "kind": "deliberation"})

    assert response.status_code == 302
    attachment = Attachment.objects.get()
    page = client.get(reverse("workflows:contract_detail", args=[contract.pk]))
    html = page.content.decode()
    assert "Délibération n°12.pdf" in html
    assert attachment.sha256[:12] in html
    assert reverse("workflows:attachment_download", args=[attachment.pk]) in html
    assert 'enctype="multipart/form-data"' in html

    download = client.get(reverse("workflows:attachment_download", args=[attachment.pk]))
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == PDF
    assert download["Content-Type"] == "application/pdf"
    assert download["Content-Disposition"].startswith("attachment;")
    assert "filename*=utf-8''D%C3%A9lib%C3%A9ration" in download["Content-Disposition"]


def test_the_page_refuses_with_the_reason(client, contract, coordinator, settings):
    client.force_login(coordinator)
    url = reverse("workflows:attachment_add", args=[contract.pk])

    refused = client.post(url, {"file": upload("x.pdf", ELF), "kind": "annex"})
    assert refused.status_code == 400
    assert "PDF, OpenDocument, Office" in refused.content.decode()

    settings.ACCORD_ATTACHMENT_MAX_BYTES = 10
    too_large = client.post(url, {"file": upload(), "kind": "annex"})
    assert too_large.status_code == 413
    assert not Attachment.objects.exists()


def test_the_page_offers_the_form_to_those_who_may_add(client, contract, action, stranger):
    url = reverse("workflows:contract_detail", args=[contract.pk])
    lead = action.working_group.leads.first()
    client.force_login(lead)
    assert (
        reverse("workflows:attachment_add", args=[contract.pk])
        not in client.get(url).content.decode()
    )
    client.force_login(action.pilot)
    assert (
        reverse("workflows:attachment_add", args=[contract.pk]) in client.get(url).content.decode()
    )

    client.force_login(lead)
    post = client.post(
        reverse("workflows:attachment_add", args=[contract.pk]),
        {"file": upload(), "kind": "annex"},
    )
    assert post.status_code == 400  # no kind offered to someone who may add none


def test_a_stranger_neither_sees_nor_downloads(client, contract, coordinator, stranger):
    attachment = add(contract, coordinator)
    client.force_login(stranger)

    assert (
        client.get(reverse("workflows:attachment_download", args=[attachment.pk])).status_code
        == 404
    )
    post = client.post(
        reverse("workflows:attachment_add", args=[contract.pk]),
        {"file": upload(), "kind": "annex"},
    )
    assert post.status_code == 404


# --- The API ------------------------------------------------------------------------------


def test_the_api_uploads_lists_and_downloads(api_client, contract, coordinator, action):
    api_client.force_authenticate(coordinator)
    url = f"/api/v1/contracts/{contract.pk}/attachments/"

    created = api_client.post(
        url,
        {"file": upload("fiche.docx", DOCX), "kind": "action_document", "action": action.code},
        format="multipart",
    )

    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["name"] == "fiche.docx"
    assert body["action"] == action.code
    assert body["sha256"] == hashlib.sha256(DOCX).hexdigest()
    assert body["uploaded_by"] == coordinator.username
    assert created["Location"] == body["download"] == f"/api/v1/attachments/{body['id']}/"

    listed = api_client.get(url)
    assert listed.status_code == 200
    assert [item["id"] for item in listed.json()] == [body["id"]]

    download = api_client.get(body["download"])
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == DOCX
    assert download["Content-Type"] == body["content_type"]
    assert download["Content-Disposition"] == 'attachment; filename="fiche.docx"'


def test_the_api_refusals(api_client, contract, coordinator, action, stranger, settings):
    url = f"/api/v1/contracts/{contract.pk}/attachments/"
    api_client.force_authenticate(coordinator)
    refused = api_client.post(url, {"file": upload("a.pdf", ELF), "kind": "annex"})
    assert refused.status_code == 400
    assert "PDF" in refused.json()["detail"]
    unknown = api_client.post(url, {"file": upload(), "kind": "action_document", "action": "Z9"})
    assert unknown.status_code == 400

    settings.ACCORD_ATTACHMENT_MAX_BYTES = 10
    assert api_client.post(url, {"file": upload(), "kind": "annex"}).status_code == 413
    # A request declaring more than the limit and its envelope is refused before it is read.
    big = api_client.post(url, {"file": upload("big.txt", b"a" * 70_000), "kind": "annex"})
    assert big.status_code == 413
    settings.ACCORD_ATTACHMENT_MAX_BYTES = 20 * 1024 * 1024

    api_client.force_authenticate(action.working_group.leads.first())
    assert api_client.post(url, {"file": upload(), "kind": "annex"}).status_code == 403
    assert api_client.get(url).status_code == 200

    attachment = add(contract, coordinator)
    api_client.force_authenticate(stranger)
    assert api_client.get(url).status_code == 404
    assert api_client.post(url, {"file": upload(), "kind": "annex"}).status_code == 404
    assert api_client.get(f"/api/v1/attachments/{attachment.pk}/").status_code == 404
    assert Attachment.objects.count() == 1


# --- The bundle and the frozen document ---------------------------------------------------


def test_the_verification_bundle_carries_the_attachments(contract, coordinator, tmp_path):
    attachment = add(contract, coordinator, "délibération.pdf")

    buffer = contract_verification_bundle(contract=contract, user=coordinator)
    archive = zipfile.ZipFile(io.BytesIO(buffer))

    folder = bundle_folder(contract)
    name = f"attachment-{attachment.pk}-délibération.pdf"
    assert archive.read(f"{folder}/{name}") == PDF
    manifest = json.loads(archive.read(f"{folder}/manifest.json"))
    listed = {item["name"]: item["sha256"] for item in manifest["files"]}
    assert listed[name] == attachment.sha256
    bundle = tmp_path / "bundle.zip"
    bundle.write_bytes(buffer)
    said: list[str] = []
    assert verify(read_bundle(str(bundle)), say=said.append, lang="en"), said
    files = read_bundle(str(bundle))
    files[name] = PDF + b"%"
    assert not verify(files, say=said.append, lang="en")


def test_the_contract_document_lists_the_attachments_with_their_sha256(contract, coordinator):
    attachment = add(contract, coordinator)

    # Annex 2 of the document lists the attached files.
    html = render_to_string(
        "signatures/contract_document_annexes.html", _contract_context(contract)
    )

    assert "deliberation.pdf" in html
    assert attachment.sha256 in html
