"""Who may audit a contract, the chains found intact, and every export made."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .contracts import (
    Contract,
)
from .history import (
    HistoryEntryQuerySet,
)

# --- Audit --------------------------------------------------------------------------------


class ContractAuditor(models.Model):
    """Someone outside the contract's roles (the chamber of accounts, a partner in dispute)
    granted read access to one contract and its history, by an administrator."""

    contract = models.ForeignKey(
        Contract, verbose_name=_("contract"), on_delete=models.CASCADE, related_name="auditors"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("auditor"),
        on_delete=models.CASCADE,
        related_name="audited_contracts",
    )
    reason = models.CharField(_("reason"), max_length=255, blank=True)
    granted_at = models.DateTimeField(_("granted at"), auto_now_add=True)

    class Meta:
        ordering = ["contract", "user"]
        verbose_name = _("contract auditor")
        verbose_name_plural = _("contract auditors")
        constraints = [
            models.UniqueConstraint(fields=["contract", "user"], name="one_auditor_grant"),
        ]

    def __str__(self) -> str:
        return f"{self.user} — {self.contract.reference}"


class HistoryCheckpoint(models.Model):
    """A chain head the nightly check found intact: the end of a chain cannot later be cut
    off, nor the whole chain recomputed after an edit, without verify_history noticing."""

    contract = models.ForeignKey(
        Contract, verbose_name=_("contract"), on_delete=models.PROTECT, related_name="+"
    )
    seq = models.PositiveIntegerField(_("sequence"))
    hash = models.CharField(_("hash"), max_length=64)
    at = models.DateTimeField(_("checked at"), default=timezone.now)

    objects = HistoryEntryQuerySet.as_manager()

    class Meta:
        ordering = ["contract", "seq"]
        verbose_name = _("history checkpoint")
        verbose_name_plural = _("history checkpoints")
        constraints = [
            models.UniqueConstraint(fields=["contract", "seq"], name="one_checkpoint_per_seq"),
        ]

    def __str__(self) -> str:
        return f"{self.contract_id}#{self.seq}"


class HistoryExport(models.Model):
    """Who read which part of the history as a file: every export is recorded here, and a
    contract's verification bundle in that contract's history as well."""

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        JSON = "json", "JSON"
        BUNDLE = "bundle", _("verification bundle")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("read by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    username = models.CharField(_("read by"), max_length=150)
    at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)
    format = models.CharField(_("format"), max_length=8, choices=Format.choices)
    filters = models.JSONField(_("search"), default=dict, blank=True)
    entries = models.PositiveIntegerField(_("entries"))
    contracts = models.JSONField(
        _("contracts"), default=list, blank=True, help_text=_("References of the contracts read.")
    )

    objects = HistoryEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-at"]
        verbose_name = _("history export")
        verbose_name_plural = _("history exports")

    def __str__(self) -> str:
        return f"{self.username} {self.format} {self.at:%Y-%m-%d %H:%M}"
