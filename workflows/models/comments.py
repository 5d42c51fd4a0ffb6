"""Following a contract without deciding anything in it: its observers, and the comments
anyone who sees it writes on its action sheets."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .contracts import Action, Contract

# A comment is a remark on a sheet, not a document: long enough for a paragraph or two.
COMMENT_MAX_LENGTH = 4000


class ContractObserver(models.Model):
    """Someone a coordinator asked to follow the contract: they see it, its history and its
    documents, are told what happens in it and may comment, but hold no task and decide
    nothing."""

    contract = models.ForeignKey(
        Contract, verbose_name=_("contract"), on_delete=models.CASCADE, related_name="observers"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("observer"),
        on_delete=models.CASCADE,
        related_name="observed_contracts",
    )
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("added by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    added_at = models.DateTimeField(_("added at"), default=timezone.now)

    class Meta:
        ordering = ["contract", "added_at", "pk"]
        verbose_name = _("contract observer")
        verbose_name_plural = _("contract observers")
        constraints = [
            models.UniqueConstraint(fields=["contract", "user"], name="one_observer_per_person"),
        ]

    def __str__(self) -> str:
        return f"{self.user} — {self.contract.reference}"


class SheetComment(models.Model):
    """A remark on an action sheet, read by everyone who sees its contract."""

    action = models.ForeignKey(
        Action, verbose_name=_("action"), on_delete=models.CASCADE, related_name="comments"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        on_delete=models.PROTECT,
        related_name="sheet_comments",
    )
    text = models.TextField(_("text"), max_length=COMMENT_MAX_LENGTH)
    created_at = models.DateTimeField(_("written at"), default=timezone.now)

    class Meta:
        ordering = ["action", "created_at", "pk"]
        verbose_name = _("comment")
        verbose_name_plural = _("comments")

    def __str__(self) -> str:
        return f"{self.action} — {self.author}"
