"""Background delivery of notifications (Celery; eager on the embedded default)."""

from celery import shared_task

from . import delivery, services


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
    message; one that fails is retried on its own with back-off, the others go on."""
    sent = 0
    for pk in notification_ids:
        try:
            sent += delivery.email_send(pk)
        except delivery.EmailNotSent:
            if send_notification_emails.request.is_eager:
                continue  # embedded default: deliver_pending retries
            send_notification_email.apply_async((pk,), countdown=backoff(0))
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
