"""The annual review of a signed contract: one a year, from the pilots' reports to the
steering committee's vote on the annual report."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .contracts import Contract


class AnnualReviewStatus(models.TextChoices):
    COLLECTING = "collecting", _("Collecting the reports")
    VOTING = "voting", _("Committee vote")
    ADOPTED = "adopted", _("Adopted")
    REJECTED = "rejected", _("Rejected")


class AnnualReview(models.Model):
    """The review of one year of a signed contract.

    Its steps are driven by ``workflows.flows.AnnualReviewFlow`` (one process per review): this
    row is what the pages, the API and the report find it by, and what the report keeps once
    the committee decided (the PDF, which the history names by its SHA-256).
    """

    contract = models.ForeignKey(
        Contract,
        verbose_name=_("contract"),
        on_delete=models.CASCADE,
        related_name="annual_reviews",
    )
    year = models.PositiveSmallIntegerField(_("year"))
    status = models.CharField(
        _("status"),
        max_length=12,
        choices=AnnualReviewStatus.choices,
        default=AnnualReviewStatus.COLLECTING,
    )
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("launched by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    opened_at = models.DateTimeField(_("launched at"), default=timezone.now)
    collection_closed_at = models.DateTimeField(_("collection closed at"), null=True, blank=True)
    collection_closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("collection closed by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("The coordinator, when a coordinator closed the collection early."),
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    report_pdf = models.BinaryField(_("report (PDF)"), null=True, blank=True, editable=False)
    report_sha256 = models.CharField(_("report SHA-256"), max_length=64, blank=True)

    class Meta:
        ordering = ["contract", "-year"]
        verbose_name = _("annual review")
        verbose_name_plural = _("annual reviews")
        constraints = [
            models.UniqueConstraint(fields=["contract", "year"], name="one_annual_review_per_year"),
        ]

    def __str__(self) -> str:
        return f"{self.contract.reference} {self.year}"

    @property
    def is_decided(self) -> bool:
        return self.status in (AnnualReviewStatus.ADOPTED, AnnualReviewStatus.REJECTED)
