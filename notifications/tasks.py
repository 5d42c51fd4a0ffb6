"""Background delivery of notifications (Celery; eager on the embedded default): the jobs,
and what queues them after a change commits or when a delivery is overdue."""

from __future__ import annotations

import datetime
import logging
from typing import Any

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from . import delivery
from .models import EmailMode, Notification, WebhookDelivery

logger = logging.getLogger(__name__)


def backoff(retries: int) -> int:
    """Seconds before the next try: 30 s, 1 min, 2 min, 4 min... capped at an hour."""
    return delivery.backoff(retries)


@shared_task(bind=True, max_retries=None)
def send_notification_email(self, notification_id: int) -> bool:
    """Send one notification's e-mail; retried with back-off while the mail server fails."""
    try:
        return delivery.email_send(notification_id)
    except delivery.EmailNotSent as exc:
        if self.request.is_eager:
            # Eager (embedded default): no waiting in the web request; deliver_pending retries.
            raise
        raise self.retry(exc=exc, countdown=backoff(self.request.retries)) from exc


@shared_task
def send_notification_emails(notification_ids: list[int]) -> int:
    """Send the e-mails of one change (a launch tells every lead at once) from one broker
    message. Each is sent on its own: one the mail server refuses is retried alone with
    back-off, one that fails otherwise is logged, and the others go on."""
    sent = 0
    for pk in notification_ids:
        try:
            sent += delivery.email_send(pk)
        except delivery.EmailNotSent:
            if send_notification_emails.request.is_eager:
                continue  # embedded default: deliver_pending retries
            try:  # its first try was this one: the next waits as a first retry would
                send_notification_email.apply_async((pk,), countdown=backoff(0), retries=1)
            except Exception:  # broker away: deliver_pending retries
                logger.warning("E-mail of notification %s not queued again; it stays pending.", pk)
        except Exception:
            logger.exception("E-mail of notification %s failed; the others go on.", pk)
    return sent


@shared_task(bind=True, max_retries=None)
def deliver_webhook(self, delivery_id: int) -> bool:
    """POST one event to a partner's webhook; retried with back-off while it fails."""
    try:
        return delivery.webhook_send(delivery_id)
    except delivery.WebhookNotDelivered as exc:
        if self.request.is_eager:
            raise  # no waiting in the web request: deliver_pending retries
        raise self.retry(exc=exc, countdown=backoff(self.request.retries)) from exc


@shared_task
def deliver_pending() -> dict[str, int]:
    """Push and e-mail what the after-commit delivery could not (every minute)."""
    return deliver_overdue()


@shared_task
def send_digests() -> int:
    """The daily digest e-mail of each person who chose it."""
    return delivery.digests_send()


# --- Queueing -----------------------------------------------------------------------------


def deliver(pushes: list[dict[str, Any]], emails: list[int], webhook_ids: list[int]) -> None:
    """After commit: push the new notifications and queue their e-mails and webhooks."""
    delivery.push(pushes)
    queue_emails(emails)
    queue_webhooks(webhook_ids)


def queue_webhooks(ids: list[int]) -> None:
    for pk in ids:
        try:
            deliver_webhook.delay(pk)
        except Exception:  # broker away, or an eager run that failed: deliver_pending retries
            logger.warning("Webhook delivery %s not queued; it stays pending.", pk)


EMAILS_PER_MESSAGE = 50


def queue_emails(ids: list[int]) -> None:
    """One broker message per 50 e-mails (a launch e-mails every lead at once), so that
    several workers share a large batch."""
    for start in range(0, len(ids), EMAILS_PER_MESSAGE):
        chunk = ids[start : start + EMAILS_PER_MESSAGE]
        try:
            if len(chunk) == 1:
                send_notification_email.delay(chunk[0])
            else:
                send_notification_emails.delay(chunk)
        except Exception:  # broker away, or an eager run that gave up: deliver_pending retries
            logger.warning("E-mails of notifications %s not queued; they stay pending.", chunk)


def deliver_overdue(*, now: datetime.datetime | None = None) -> dict[str, int]:
    """Deliver whatever the after-commit step could not (Redis or the mail server away, a
    process killed): run every minute by Celery beat and by ``manage.py deliver_notifications``.
    Leaves alone what is younger than the grace period, still in its first delivery."""
    now = now or timezone.now()
    older = now - datetime.timedelta(seconds=settings.ACCORD_DELIVERY_GRACE_SECONDS)
    pushed = 0
    unpushed = Notification.objects.filter(pushed_at__isnull=True, created_at__lte=older)
    while True:  # each batch pushed is marked, so the next query reads the next batch
        rows = list(unpushed.order_by("pk").values(*delivery.PUSH_FIELDS)[:500])
        if not rows or not delivery.push(rows):
            break
        pushed += len(rows)
        if len(rows) < 500:
            break
    # Retries wait their back-off, counted from the last attempt, as a worker's would.
    candidates = Notification.objects.filter(
        email_mode=EmailMode.IMMEDIATE,
        emailed_at__isnull=True,
        created_at__lte=older,
        email_attempts__lt=settings.ACCORD_EMAIL_MAX_ATTEMPTS,
    ).values_list("pk", "email_attempts", "email_attempted_at")[:1000]
    emails = [pk for pk, tries, at in candidates if delivery.due_for_retry(tries, at, now)]
    queue_emails(emails)
    hooks = WebhookDelivery.objects.filter(
        status=WebhookDelivery.Status.PENDING, created_at__lte=older
    ).values_list("pk", "attempts", "attempted_at")[:1000]
    webhooks = [pk for pk, tries, at in hooks if delivery.due_for_retry(tries, at, now)]
    queue_webhooks(webhooks)
    return {"pushed": pushed, "emails_queued": len(emails), "webhooks_queued": len(webhooks)}
