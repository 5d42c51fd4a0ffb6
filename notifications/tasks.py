"""Background delivery of notifications (Celery; eager on the embedded default)."""

import logging

from celery import shared_task

from . import delivery, services

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
    return delivery.deliver_pending()


@shared_task
def send_digests() -> int:
    """The daily digest e-mail of each person who chose it."""
    return delivery.digests_send()


@shared_task
def send_reminders() -> dict[str, int]:
    """Reminders before the due date, overdue notices and coordinator alerts (hourly)."""
    return services.reminders_send()
