"""Notifications: the outbox written with each change, and what each person wants of it.

A Notification row is written in the transaction of the change that causes it; its delivery
columns (``pushed_at``, ``emailed_at``...) record what each channel has done, so a retry or the
periodic "deliver pending" job never sends twice and never forgets one.
"""

from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class NotificationEvent(models.TextChoices):
    TASK_ASSIGNED = "task_assigned", _("A task is assigned to you")
    TASK_DUE_SOON = "task_due_soon", _("One of your tasks is due soon")
    TASK_OVERDUE = "task_overdue", _("One of your tasks is overdue")
    OVERDUE_ALERT = "overdue_alert", _("A task is overdue in a contract you coordinate")
    DECISION_MADE = "decision_made", _("A decision on something you follow")
    CONTRACT_STATUS = "contract_status", _("A contract's status changed")
    VOTE_DECIDED = "vote_decided", _("A committee vote is decided")
    DOCUMENT_SIGNED = "document_signed", _("The contract document is signed")
    DECLINED = "declined", _("A decline or a rejection after your approval")
    MEETING = "meeting", _("A steering committee meeting")
    MENTIONED = "mentioned", _("Someone mentioned you in a comment")


class EmailMode(models.TextChoices):
    IMMEDIATE = "immediate", _("By e-mail at once")
    DIGEST = "digest", _("In a daily e-mail digest")
    APP = "app", _("In Accord only")


# What a person gets by e-mail until they choose: at once when something waits for them,
# a daily digest for what merely informs them.
DEFAULT_EMAIL_MODES: dict[str, EmailMode] = {
    NotificationEvent.TASK_ASSIGNED: EmailMode.IMMEDIATE,
    NotificationEvent.TASK_DUE_SOON: EmailMode.IMMEDIATE,
    NotificationEvent.TASK_OVERDUE: EmailMode.IMMEDIATE,
    NotificationEvent.OVERDUE_ALERT: EmailMode.IMMEDIATE,
    NotificationEvent.DECISION_MADE: EmailMode.DIGEST,
    NotificationEvent.CONTRACT_STATUS: EmailMode.DIGEST,
    NotificationEvent.VOTE_DECIDED: EmailMode.IMMEDIATE,
    NotificationEvent.DOCUMENT_SIGNED: EmailMode.DIGEST,
    NotificationEvent.DECLINED: EmailMode.IMMEDIATE,
    NotificationEvent.MEETING: EmailMode.IMMEDIATE,
    NotificationEvent.MENTIONED: EmailMode.IMMEDIATE,
}


class Notification(models.Model):
    """One thing one person should learn, and how far its delivery went."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recipient"),
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    event = models.CharField(_("event"), max_length=20, choices=NotificationEvent.choices)
    contract = models.ForeignKey(
        "workflows.Contract",
        verbose_name=_("contract"),
        on_delete=models.CASCADE,
        related_name="notifications",
        null=True,
        blank=True,
    )
    task = models.ForeignKey(
        "workflows.Task",
        verbose_name=_("task"),
        on_delete=models.SET_NULL,
        related_name="notifications",
        null=True,
        blank=True,
    )
    meeting = models.ForeignKey(
        "workflows.Meeting",
        verbose_name=_("meeting"),
        on_delete=models.CASCADE,
        related_name="notifications",
        null=True,
        blank=True,
    )
    title = models.CharField(_("title"), max_length=300)
    # Notifications of one kind about one contract (approvals of sheets, signatures...) share
    # it and are shown as one line ("12 fiches approuvées"); empty: shown on its own.
    group_key = models.CharField(_("group"), max_length=80, blank=True, default="")
    body = models.TextField(_("text"), blank=True)
    url = models.CharField(_("link"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created at"))
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    # Delivery bookkeeping, one set of columns per channel.
    pushed_at = models.DateTimeField(_("pushed to the browser at"), null=True, blank=True)
    email_mode = models.CharField(
        _("e-mail"), max_length=10, choices=EmailMode.choices, default=EmailMode.APP
    )
    emailed_at = models.DateTimeField(_("e-mailed at"), null=True, blank=True)
    email_attempts = models.PositiveSmallIntegerField(_("e-mail attempts"), default=0)
    email_attempted_at = models.DateTimeField(_("last e-mail attempt at"), null=True, blank=True)
    email_error = models.TextField(_("last e-mail error"), blank=True)
    # Claimed by a worker sending the e-mail, outside any transaction, until then (cleared
    # when the attempt ends): a second worker leaves it alone; a worker that died mid-send
    # leaves it to be tried again once this has passed.
    email_sending_until = models.DateTimeField(_("e-mail being sent until"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-pk"]
        indexes = [
            models.Index(fields=["recipient", "read_at"], name="notification_unread"),
            # The "deliver pending" job looks only at what is not yet delivered.
            models.Index(
                fields=["created_at"],
                condition=models.Q(pushed_at__isnull=True),
                name="notification_not_pushed",
            ),
            models.Index(
                fields=["email_mode", "created_at"],
                condition=models.Q(emailed_at__isnull=True) & ~models.Q(email_mode="app"),
                name="notification_not_emailed",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class NotificationPreference(models.Model):
    """How one person wants to hear of one kind of event (the default: DEFAULT_EMAIL_MODES)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("person"),
        on_delete=models.CASCADE,
        related_name="notification_preferences",
    )
    event = models.CharField(_("event"), max_length=20, choices=NotificationEvent.choices)
    email_mode = models.CharField(_("e-mail"), max_length=10, choices=EmailMode.choices)

    class Meta:
        verbose_name = _("notification preference")
        verbose_name_plural = _("notification preferences")
        constraints = [
            models.UniqueConstraint(fields=["user", "event"], name="one_preference_per_event")
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.event} {self.email_mode}"


def new_webhook_secret() -> str:
    return secrets.token_urlsafe(32)


class WebhookEndpoint(models.Model):
    """A partner system (document or archive system) of one organisation: Accord POSTs the
    events it picked, as JSON signed with HMAC-SHA256 under its secret."""

    organisation = models.ForeignKey(
        "workflows.Organisation",
        verbose_name=_("organisation"),
        on_delete=models.CASCADE,
        related_name="webhook_endpoints",
    )
    url = models.URLField(_("URL"), max_length=500)
    secret = models.CharField(
        _("secret"),
        max_length=200,
        default=new_webhook_secret,
        help_text=_("Shared with the partner: it checks the X-Accord-Signature header with it."),
    )
    events = models.JSONField(_("events"), default=list, blank=True)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("webhook")
        verbose_name_plural = _("webhooks")

    def __str__(self) -> str:
        return f"{self.organisation} → {self.url}"


class WebhookDelivery(models.Model):
    """One event POSTed (or to be POSTed) to one endpoint, with its attempts: the log the
    administrator reads, and the bookkeeping that keeps a retry from posting twice."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")

    uid = models.UUIDField(_("delivery identifier"), default=uuid.uuid4, unique=True)
    endpoint = models.ForeignKey(
        WebhookEndpoint,
        verbose_name=_("webhook"),
        on_delete=models.CASCADE,
        related_name="deliveries",
    )
    event = models.CharField(_("event"), max_length=20, choices=NotificationEvent.choices)
    payload = models.JSONField(_("payload"))
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    response_status = models.PositiveSmallIntegerField(_("last HTTP status"), null=True)
    error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created at"))
    attempted_at = models.DateTimeField(_("last attempt at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    # Claimed by a worker posting it, outside any transaction, until then (as a
    # notification's ``email_sending_until``).
    sending_until = models.DateTimeField(_("being posted until"), null=True, blank=True)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-pk"]
        indexes = [
            models.Index(
                fields=["created_at"],
                condition=models.Q(status="pending"),
                name="webhook_delivery_pending",
            )
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.endpoint.url}"
