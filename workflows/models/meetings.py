"""Steering committee meetings: convened, changed and cancelled by the coordinators."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .contracts import Contract


class Meeting(models.Model):
    """A steering committee meeting. Its invitation (.ics) keeps one UID for its whole life;
    each change or the cancellation raises SEQUENCE, so calendars update the same event."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", _("Scheduled")
        CANCELLED = "cancelled", _("Cancelled")

    contract = models.ForeignKey(
        Contract,
        verbose_name=_("contract"),
        on_delete=models.CASCADE,
        related_name="meetings",
    )
    uid = models.UUIDField(_("calendar identifier"), default=uuid.uuid4, unique=True)
    sequence = models.PositiveIntegerField(_("revision"), default=0)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.SCHEDULED
    )
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    place = models.CharField(_("place"), max_length=300, blank=True)
    video_link = models.URLField(_("video link"), blank=True)
    agenda = models.TextField(_("agenda"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("scheduled by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        # Created by the notifications app, which convened the committee before the domain did.
        db_table = "notifications_meeting"
        verbose_name = _("committee meeting")
        verbose_name_plural = _("committee meetings")
        ordering = ["starts_at"]

    def __str__(self) -> str:
        return f"{self.contract.reference} {self.starts_at:%Y-%m-%d %H:%M}"
