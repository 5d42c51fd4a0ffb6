"""Joining a file to a contract: a coordinator adds the diagnostic, the council's deliberation
or an annex; an action's pilot (or a coordinator) adds a document to its sheet. The file's type
is judged from its content, never from its name; its SHA-256 is recorded in the history."""

from __future__ import annotations

import codecs
import hashlib
import re
import unicodedata
import zipfile
from typing import IO, Protocol

from django.conf import settings
from django.core.files.base import File
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from ..errors import ApplicationError, AttachmentTooLarge, NotAllowed
from ..history import UnitOfWork
from ..models import Action, Attachment, AttachmentKind, Contract, HistoryEvent, User
from ..models import is_coordinator as coordinates
from ..rules import may_edit_sheet

ATTACHMENT_TOO_LARGE = gettext_noop(
    "The file is too large: %(size)d bytes; an attachment may have at most %(limit)d bytes."
)
TYPES_ACCEPTED = gettext_noop(
    "Accepted: PDF, OpenDocument, Office (Word, Excel, PowerPoint), PNG, JPEG, GIF or WebP "
    "images, and plain text (UTF-8)."
)
NAME_MAX_LENGTH = Attachment._meta.get_field("name").max_length or 255
SIGNATURES = [
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
]
OPEN_DOCUMENT = "application/vnd.oasis.opendocument."
OFFICE_OPEN_XML = {
    "word/": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xl/": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ppt/": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}
TEXT = "text/plain; charset=utf-8"


class Upload(Protocol):
    """A file as Django hands it to a view (``UploadedFile``), or any ``File`` with a name."""

    name: str | None
    size: int

    def seek(self, offset: int, whence: int = 0) -> int: ...

    def read(self, size: int = -1) -> bytes: ...


def clean_name(name: str) -> str:
    """The original file name as shown and stored: no folder, no control character, not too
    long (the extension kept)."""
    base = re.split(r"[/\\]", name or "")[-1]
    base = "".join(c for c in base if unicodedata.category(c)[0] != "C").strip().strip(".")
    base = base or "fichier"
    if len(base) > NAME_MAX_LENGTH:
        stem, dot, extension = base.rpartition(".")
        keep = extension[:20] if dot else ""
        base = (stem if dot else base)[: NAME_MAX_LENGTH - len(keep) - 1] + (
            f".{keep}" if keep else ""
        )
    return base


def _zip_type(file: IO[bytes]) -> str | None:
    """An OpenDocument (first entry ``mimetype``) or an Office Open XML file; None otherwise."""
    try:
        with zipfile.ZipFile(file) as archive:
            entries = archive.infolist()
            if entries and entries[0].filename == "mimetype":
                mimetype = archive.read(entries[0]).decode("ascii", "replace").strip()
                if mimetype.startswith(OPEN_DOCUMENT) and len(mimetype) <= 100:
                    return mimetype
                return None
            names = {entry.filename for entry in entries}
            if "[Content_Types].xml" in names:
                for folder, content_type in OFFICE_OPEN_XML.items():
                    if any(name.startswith(folder) for name in names):
                        return content_type
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError):
        return None
    return None


def judge(upload: Upload, *, chunk_size: int = 64 * 1024) -> tuple[str | None, str]:
    """(the content type judged from the content or None when refused, its SHA-256), the
    file read once in chunks, then its ZIP directory when it is one."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    text, head = True, b""
    upload.seek(0)
    while chunk := upload.read(chunk_size):
        digest.update(chunk)
        if len(head) < 16:
            head += chunk[:16]
        if text:
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError:
                text = False
            text = text and b"\0" not in chunk
    if text:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            text = False
    judged = next((kind for magic, kind in SIGNATURES if head.startswith(magic)), None)
    if judged is None and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        judged = "image/webp"
    if judged is None and head.startswith(b"PK\x03\x04"):
        upload.seek(0)
        judged = _zip_type(upload)  # type: ignore[arg-type]  # a file object: seek, tell, read
    if judged is None and text and head:
        judged = TEXT
    upload.seek(0)
    return judged, digest.hexdigest()


def _checked_kind(kind: str, action: Action | None, contract: Contract) -> None:
    if kind not in AttachmentKind.values:
        raise ApplicationError(
            _("“%(kind)s” is not a kind of attachment: %(kinds)s.")
            % {"kind": kind, "kinds": ", ".join(AttachmentKind.values)}
        )
    if action is not None and action.contract_id != contract.pk:
        raise ApplicationError(_("This action is not one of the contract's."))
    if (kind == AttachmentKind.ACTION_DOCUMENT) != (action is not None):
        raise ApplicationError(
            _("An action sheet's document names its action; the other kinds name none.")
        )


@transaction.atomic
def attachment_add(
    *,
    contract: Contract,
    actor: User,
    kind: str,
    upload: Upload,
    action: Action | None = None,
) -> Attachment:
    """Join ``upload`` to the contract (to ``action``'s sheet for a sheet's document): a
    coordinator, or the action's pilot; refused above ``ACCORD_ATTACHMENT_MAX_BYTES`` (413)
    and when its content is none of the accepted types (400)."""
    stored: list[Attachment] = []
    try:
        with UnitOfWork.lock(contract.pk) as unit:
            attachment = _added(unit, actor=actor, kind=kind, upload=upload, action=action)
            stored.append(attachment)
            unit.record(
                event=HistoryEvent.ATTACHMENT_ADDED,
                actor=actor,
                action=action,
                name=attachment.name,
                data={
                    "attachment": attachment.pk,
                    "name": attachment.name,
                    "kind": kind,
                    "size": attachment.size,
                    "sha256": attachment.sha256,
                    "content_type": attachment.content_type,
                    "action": action.code if action else None,
                },
            )
    except BaseException:
        # The row rolls back with the transaction; the stored file is not in it.
        for attachment in stored:
            attachment.file.delete(save=False)
        raise
    return attachment


def _added(
    unit: UnitOfWork, *, actor: User, kind: str, upload: Upload, action: Action | None
) -> Attachment:
    """The attachment checked, its file stored and its row written."""
    contract = unit.contract
    _checked_kind(kind, action, contract)
    if action is not None:
        action.contract = contract
        if not may_edit_sheet(action, actor):
            raise NotAllowed(
                _("Only the action's pilot or a coordinator may add a document to its sheet.")
            )
    elif not coordinates(contract, actor):
        raise NotAllowed(_("Only a coordinator of the contract may add attachments to it."))
    limit = settings.ACCORD_ATTACHMENT_MAX_BYTES
    if upload.size > limit:
        raise AttachmentTooLarge(
            _(ATTACHMENT_TOO_LARGE) % {"size": upload.size, "limit": limit}, {"limit": limit}
        )
    if not upload.size:
        raise ApplicationError(_("The file is empty."))
    content_type, sha256 = judge(upload)
    if content_type is None:
        raise ApplicationError(
            _("This type of file is not accepted.") + " " + _(TYPES_ACCEPTED),
            {"errors": [_(TYPES_ACCEPTED)]},
        )
    name = clean_name(upload.name or "")
    attachment = Attachment(
        contract=contract,
        action=action,
        kind=kind,
        name=name,
        content_type=content_type,
        size=upload.size,
        sha256=sha256,
        uploaded_by=actor,
    )
    attachment.file.save(name, File(upload, name=name), save=False)  # type: ignore[arg-type]
    try:
        attachment.save()
    except BaseException:
        attachment.file.delete(save=False)
        raise
    return attachment
