"""A contract's attachments: the diagnostic, the council's deliberation, annexes and an action
sheet's supporting documents, each kept with its SHA-256 and stored through Django's default
storage (the file system, or an S3-compatible store in its place)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .contracts import Action, Contract


class AttachmentKind(models.TextChoices):
    DIAGNOSTIC = "diagnostic", _("Diagnostic")
    DELIBERATION = "deliberation", _("Deliberation")
    ANNEX = "annex", _("Annex")
    ACTION_DOCUMENT = "action_document", _("Action sheet document")


def attachment_path(attachment: Attachment, filename: str) -> str:
    """Where the storage keeps the file: one folder per contract."""
    return f"attachments/{attachment.contract_id}/{filename}"


class Attachment(models.Model):
    """A file joined to a contract (or to one of its action sheets), as it was uploaded."""

    contract = models.ForeignKey(
        Contract, verbose_name=_("contract"), on_delete=models.CASCADE, related_name="attachments"
    )
    action = models.ForeignKey(
        Action,
        verbose_name=_("action"),
        on_delete=models.CASCADE,
        related_name="attachments",
        null=True,
        blank=True,
    )
    kind = models.CharField(_("kind"), max_length=20, choices=AttachmentKind.choices)
    name = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(_("content type"), max_length=100)
    size = models.PositiveBigIntegerField(_("size in bytes"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    file = models.FileField(_("file"), upload_to=attachment_path, max_length=500)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("uploaded by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    uploaded_at = models.DateTimeField(_("uploaded at"), default=timezone.now)

    class Meta:
        ordering = ["contract", "uploaded_at", "pk"]
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.name
