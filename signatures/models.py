"""What a signature is: the frozen contract document, the keys that sign it, the evidence.

The document is stored in the database (a blob works the same on SQLite and PostgreSQL) and
grows only by incremental PDF updates: the bytes frozen at the deliberation stay its prefix.
Evidence records are never deleted; a mandatory decline voids them.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from workflows.models import Contract, Organisation, Signatory, Task


class KeyKind(models.TextChoices):
    AUTHORITY = "authority", _("Accord's certification authority")
    SEAL = "seal", _("Accord's seal")
    TIMESTAMPING = "timestamping", _("Accord's time-stamping service")
    PERSON = "person", _("Signing person")
    ORGANISATION = "organisation", _("Organisation's own certificate (PKCS#12)")


class SigningKey(models.Model):
    """A certificate and its private key, encrypted at rest with ACCORD_SIGNING_KEY."""

    kind = models.CharField(_("kind"), max_length=16, choices=KeyKind.choices)
    person = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("person"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="signing_keys",
    )
    organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("organisation"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="signing_keys",
    )
    subject = models.CharField(_("subject"), max_length=500)
    certificate = models.BinaryField(_("certificate (DER)"))
    chain = models.BinaryField(
        _("issuer certificates (DER, concatenated PEM)"), default=b"", blank=True
    )
    private_key = models.BinaryField(_("encrypted private key"))
    fingerprint = models.CharField(_("certificate SHA-256"), max_length=64, unique=True)
    not_before = models.DateTimeField(_("valid from"))
    not_after = models.DateTimeField(_("valid until"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    revoked_at = models.DateTimeField(_("withdrawn at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("signing certificate")
        verbose_name_plural = _("signing certificates")
        constraints = [
            models.UniqueConstraint(
                fields=["kind"],
                condition=Q(
                    kind__in=["authority", "seal", "timestamping"], revoked_at__isnull=True
                ),
                name="one_installation_key_per_kind",
            ),
            models.UniqueConstraint(
                fields=["person"],
                condition=Q(kind="person", revoked_at__isnull=True),
                name="one_certificate_per_person",
            ),
            models.UniqueConstraint(
                fields=["organisation"],
                condition=Q(kind="organisation", revoked_at__isnull=True),
                name="one_uploaded_certificate_per_organisation",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.subject}"


class ContractDocumentQuerySet(models.QuerySet["ContractDocument"]):
    def awaiting_seal(self) -> ContractDocumentQuerySet:
        """Signed by every party, its seal asked for and not stored yet (and not voided)."""
        return self.filter(
            seal_requested_at__isnull=False, sealed_at__isnull=True, voided_at__isnull=True
        )


class ContractDocument(models.Model):
    """The contract's PDF for one version, frozen at the deliberation, signed so far."""

    contract = models.ForeignKey(
        Contract, verbose_name=_("contract"), on_delete=models.PROTECT, related_name="documents"
    )
    contract_version = models.PositiveIntegerField(_("contract version"))
    sha256 = models.CharField(_("frozen document SHA-256"), max_length=64)
    frozen_size = models.PositiveIntegerField(_("frozen document size (bytes)"))
    pdf = models.BinaryField(_("PDF, with the signatures so far"))
    signature_fields = models.JSONField(_("signature fields"), default=dict)
    frozen_at = models.DateTimeField(_("frozen at"), auto_now_add=True)
    sealed_at = models.DateTimeField(_("sealed at"), null=True, blank=True)
    # The seal follows the last signature's commit (a task); when it was asked for and the
    # history's head it certifies, so that the periodic sweep (``tasks.seal_pending``) seals
    # it if the task was lost.
    seal_requested_at = models.DateTimeField(_("seal requested at"), null=True, blank=True)
    seal_history_head = models.JSONField(_("history head to seal"), null=True, blank=True)
    voided_at = models.DateTimeField(_("voided at"), null=True, blank=True)
    certificate_pdf = models.BinaryField(_("completion certificate (PDF)"), null=True, blank=True)
    certificate_data = models.JSONField(_("completion certificate"), null=True, blank=True)

    objects = ContractDocumentQuerySet.as_manager()

    class Meta:
        ordering = ["contract", "-contract_version"]
        verbose_name = _("contract document")
        verbose_name_plural = _("contract documents")
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "contract_version"], name="one_document_per_version"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contract.reference} v{self.contract_version}"


class AmendmentDocument(models.Model):
    """An amendment's PDF for one of its versions, frozen at its deliberation with a field per
    concerned party and the seal's, signed so far; ``signatures``: what proves each one (the
    evidence a ``SignatureEvidence`` keeps of a contract's), also written in the history."""

    amendment = models.ForeignKey(
        "workflows.Amendment",
        verbose_name=_("amendment"),
        on_delete=models.PROTECT,
        related_name="documents",
    )
    amendment_version = models.PositiveIntegerField(_("amendment version"))
    sha256 = models.CharField(_("frozen document SHA-256"), max_length=64)
    frozen_size = models.PositiveIntegerField(_("frozen document size (bytes)"))
    pdf = models.BinaryField(_("PDF, with the signatures so far"))
    signatures = models.JSONField(_("signatures"), default=list, blank=True)
    frozen_at = models.DateTimeField(_("frozen at"), auto_now_add=True)
    sealed_at = models.DateTimeField(_("sealed at"), null=True, blank=True)
    voided_at = models.DateTimeField(_("voided at"), null=True, blank=True)
    void_reason = models.TextField(_("void reason"), blank=True)

    class Meta:
        ordering = ["amendment", "-amendment_version"]
        verbose_name = _("amendment document")
        verbose_name_plural = _("amendment documents")
        constraints = [
            models.UniqueConstraint(
                fields=["amendment", "amendment_version"],
                name="one_document_per_amendment_version",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amendment} v{self.amendment_version}"


class AuthenticationMethod(models.TextChoices):
    PASSWORD = "password", _("Password entered again")


class SignatureEvidence(models.Model):
    """Who signed which document for whom, when, from where and with which certificate."""

    document = models.ForeignKey(
        ContractDocument,
        verbose_name=_("document"),
        on_delete=models.PROTECT,
        related_name="evidence",
    )
    contract = models.ForeignKey(
        Contract, verbose_name=_("contract"), on_delete=models.PROTECT, related_name="+"
    )
    contract_version = models.PositiveIntegerField(_("contract version"))
    signatory = models.ForeignKey(
        Signatory, verbose_name=_("signatory"), on_delete=models.PROTECT, related_name="evidence"
    )
    task = models.OneToOneField(
        Task,
        verbose_name=_("task"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="signature_evidence",
    )
    organisation = models.CharField(_("organisation"), max_length=255)
    signer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("signer"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("signed by"),
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Who entered the decision: the signer, a representative or a delegate."),
    )
    signer_name = models.CharField(_("signer"), max_length=255)
    signed_by_name = models.CharField(_("signed by"), max_length=255)
    mandate_reference = models.CharField(_("mandate reference"), max_length=120, blank=True)
    mandate_date = models.DateField(_("mandate date"), null=True, blank=True)
    document_sha256 = models.CharField(_("frozen document SHA-256"), max_length=64)
    signed_pdf_sha256 = models.CharField(_("SHA-256 of the PDF once signed"), max_length=64)
    field_name = models.CharField(_("signature field"), max_length=80)
    signed_at = models.DateTimeField(_("signed at"))
    authentication = models.CharField(
        _("authentication"), max_length=20, choices=AuthenticationMethod.choices
    )
    ip_address = models.CharField(_("IP address"), max_length=64, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=500, blank=True)
    certificate_fingerprint = models.CharField(_("certificate SHA-256"), max_length=64)
    certificate_subject = models.CharField(_("certificate subject"), max_length=500)
    voided_at = models.DateTimeField(_("voided at"), null=True, blank=True)
    void_reason = models.TextField(_("why voided"), blank=True)

    class Meta:
        ordering = ["contract", "signed_at", "pk"]
        verbose_name = _("signature evidence")
        verbose_name_plural = _("signature evidence")

    def __str__(self) -> str:
        return f"{self.contract.reference} v{self.contract_version}: {self.organisation}"

    def delete(self, *args, **kwargs):
        raise TypeError("Signature evidence is voided, never deleted.")
