"""Delivering the outbox: browser push over the channel layer, e-mail, webhooks.

Every channel records what it did on the notification row, so that each step can be run
again (a Celery retry, the periodic ``deliver_pending``, two workers at once) without sending
twice: a push is marked ``pushed_at`` once published (browsers also drop an id they already
have); an e-mail or a webhook is first claimed by one conditional UPDATE (committed at once),
then sent with no transaction open (a mail server or a partner that hangs holds no lock and no
connection's transaction, only its own timeout: EMAIL_TIMEOUT, ACCORD_WEBHOOK_TIMEOUT), then
marked ``emailed_at`` (or delivered) with the claim cleared.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import hmac
import json
import logging
import os
import smtplib
import threading
from email.mime.text import MIMEText
from typing import Any

import requests
from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from workflows.models import Task, TaskStatus
from workflows.services.meetings import committee_of

from .calendar import meeting_ics, meeting_method
from .models import EmailMode, Notification, WebhookDelivery
from .selectors import groups_in

logger = logging.getLogger(__name__)

# Columns a push needs, read in one query for a whole batch.
PUSH_FIELDS = (
    "pk",
    "recipient_id",
    "event",
    "contract_id",
    "task_id",
    "title",
    "url",
    "created_at",
)


def backoff(retries: int) -> int:
    """Seconds before the next try: 30 s, 1 min, 2 min, 4 min... capped at an hour."""
    return min(settings.ACCORD_EMAIL_RETRY_SECONDS * 2**retries, 3600)


def due_for_retry(attempts: int, attempted_at, now: datetime.datetime) -> bool:
    return (
        attempted_at is None
        or attempted_at + datetime.timedelta(seconds=backoff(max(attempts - 1, 0))) <= now
    )


def group_name(user_id: int) -> str:
    """The channel-layer group of one person's open pages (their notifications, and closing
    them all when their password changes)."""
    return f"notifications.user.{user_id}"


def session_group_name(session_key: str) -> str:
    """The channel-layer group of the pages opened with one session (closed at its log-out).
    The key is a credential: only its digest goes to Redis."""
    return "notifications.session." + hashlib.sha256(session_key.encode()).hexdigest()


def payload(row: dict[str, Any]) -> dict[str, Any]:
    """What a browser receives (api.md: type, id, event, contract, task, title, created_at)."""
    return {
        "type": "notification",
        "id": row["pk"],
        "event": row["event"],
        "contract": row["contract_id"],
        "task": row["task_id"],
        "title": row["title"],
        "url": row["url"],
        "created_at": row["created_at"].isoformat(),
    }


async def _group_send_all(messages: list[tuple[str, dict[str, Any]]]) -> None:
    """Publish them all, up to 100 at a time: a status change fans out to every participant,
    and waiting for each PUBLISH in turn would add their round trips one after the other."""
    layer = get_channel_layer()
    for start in range(0, len(messages), 100):
        await asyncio.gather(
            *(layer.group_send(group, message) for group, message in messages[start : start + 100])
        )


def push(rows: list[dict[str, Any]]) -> bool:
    """Publish each notification to its recipient's group; mark them pushed when it worked.

    Redis being away must not fail the change that is already committed: the rows stay
    unpushed and ``deliver_pending`` publishes them once Redis is back."""
    if not rows:
        return True
    try:
        publish(
            [
                (
                    group_name(row["recipient_id"]),
                    {"type": "notification.push", "notification": payload(row)},
                )
                for row in rows
            ]
        )
    except Exception:  # Redis down, refused, timed out: the outbox keeps them
        logger.warning("Push of %d notification(s) failed; they stay pending.", len(rows))
        return False
    Notification.objects.filter(pk__in=[row["pk"] for row in rows]).update(pushed_at=timezone.now())
    return True


def sockets_close(groups: list[str]) -> bool:
    """Close the open WebSockets of these groups (a log-out, a password change): each consumer
    closes itself with code 4401 on ``session.revoked``. Never raises: with Redis away the
    message is lost, logged, and the sockets (which lost their live delivery with Redis) are
    refused at their next handshake anyway."""
    try:
        publish([(group, {"type": "session.revoked"}) for group in groups])
    except Exception:  # Redis down, refused, timed out
        logger.warning("Open WebSockets of %d group(s) not closed.", len(groups), exc_info=True)
        return False
    return True


async def _publish_with_timeout(messages: list[tuple[str, dict[str, Any]]]) -> None:
    await asyncio.wait_for(_group_send_all(messages), timeout=settings.ACCORD_PUSH_TIMEOUT)


class _PushLoop:
    """One event loop per process, in its own thread, for the Redis channel layer: its
    connections live as long as the process (a Celery worker, a command, a web process's
    threads) instead of one loop and one connection per push, which is what async_to_sync
    does outside an event loop, and what raised "Event loop is closed" (channels_redis#332)."""

    def __init__(self) -> None:
        self.pid = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        self.lock = threading.Lock()

    def get(self) -> asyncio.AbstractEventLoop:
        with self.lock:
            if self.loop is None or self.pid != os.getpid():  # none yet, or forked
                self.loop = asyncio.new_event_loop()
                self.pid = os.getpid()
                threading.Thread(
                    target=self.loop.run_forever, name="notifications-push", daemon=True
                ).start()
            return self.loop


_push_loop = _PushLoop()


def publish(messages: list[tuple[str, dict[str, Any]]]) -> None:
    """Send each (group, message) through the channel layer within ACCORD_PUSH_TIMEOUT
    seconds; raises when the layer is away. A remote call: only ever after commit."""
    if isinstance(get_channel_layer(), InMemoryChannelLayer):
        # In-process queues belong to the server's own loop: publish from there.
        async_to_sync(_publish_with_timeout)(messages)
        return
    future = asyncio.run_coroutine_threadsafe(_publish_with_timeout(messages), _push_loop.get())
    future.result(timeout=settings.ACCORD_PUSH_TIMEOUT + 1)


# --- E-mail -------------------------------------------------------------------------------


class EmailNotSent(Exception):
    """The mail server failed: try again later (nothing was sent)."""


def _absolute(url: str) -> str:
    return f"{settings.ACCORD_BASE_URL.rstrip('/')}{url}" if url else settings.ACCORD_BASE_URL


def _claim_until(timeout: float | None) -> datetime.datetime:
    """How long a worker's claim on a delivery lasts: well beyond the time one attempt can
    take (each network step is bounded by ``timeout``), so that only a worker that died
    mid-send lets another try again."""
    return timezone.now() + datetime.timedelta(seconds=max(10 * (timeout or 30), 60))


def email_send(notification_id: int) -> bool:
    """Send one notification's e-mail once: claimed first (a second worker finds it claimed
    or sent and leaves it), sent outside any transaction, then marked. False when there is
    nothing to send (already sent or being sent, or not wanted)."""
    now = timezone.now()
    claimed = (
        Notification.objects.filter(pk=notification_id, emailed_at__isnull=True)
        .exclude(email_mode=EmailMode.APP)
        .filter(Q(email_sending_until__isnull=True) | Q(email_sending_until__lt=now))
        .update(
            email_sending_until=_claim_until(settings.EMAIL_TIMEOUT),
            email_attempts=F("email_attempts") + 1,
            email_attempted_at=now,
        )
    )
    if not claimed:
        return False
    notification = Notification.objects.select_related("recipient", "task").get(pk=notification_id)
    claim = Notification.objects.filter(pk=notification_id)
    try:
        _send_one(notification)
    except (smtplib.SMTPException, OSError) as exc:  # refused, disconnected, timed out
        error = f"{type(exc).__name__}: {exc}"[:1000]
        claim.update(email_error=error, email_sending_until=None)
        failure = exc
    except BaseException:
        claim.update(email_sending_until=None)  # not sent: free for the next try
        raise
    else:
        claim.update(emailed_at=timezone.now(), email_error="", email_sending_until=None)
        return True
    if notification.email_attempts >= settings.ACCORD_EMAIL_MAX_ATTEMPTS:
        logger.error("E-mail of notification %s abandoned: %s", notification_id, failure)
        return False
    logger.warning("E-mail of notification %s not sent: %s", notification_id, error)
    raise EmailNotSent(str(failure)) from failure


def _open_task_of(notification: Notification) -> Task | None:
    """The task the notification is about, when it still waits for its recipient: the
    e-mail then gives its due date and a direct link to it."""
    task = notification.task
    if task is None or task.owner_id != notification.recipient_id:
        return None
    return task if task.status == TaskStatus.ASSIGNED else None


def _send_one(notification: Notification) -> None:
    task = _open_task_of(notification)
    context = {
        "notification": notification,
        "person": notification.recipient,
        "link": _absolute(notification.url),
        "task_link": _absolute(reverse("workflows:task_detail", args=[task.pk])) if task else "",
        "due": timezone.localtime(task.due) if task and task.due else None,
        "preferences_link": _absolute(reverse("notifications:preferences")),
    }
    with translation.override("fr"):
        text = render_to_string("notifications/email/notification.txt", context)
        html = render_to_string("notifications/email/notification.html", context)
    message = EmailMultiAlternatives(
        subject=f"[Accord] {notification.title}",
        body=text,
        to=[notification.recipient.email],
    )
    message.attach_alternative(html, "text/html")
    if notification.meeting_id:
        message.attach(_invitation(notification.meeting))
    message.send()


def _invitation(meeting) -> MIMEText:
    """The meeting's .ics as it stands now (a retried e-mail carries the latest revision)."""

    committee = committee_of(meeting.contract)
    people = list(committee.members.all())
    if committee.chair not in people:
        people.append(committee.chair)
    part = MIMEText(meeting_ics(meeting, people).decode(), "calendar", "utf-8")
    part.set_param("method", meeting_method(meeting))
    part.add_header("Content-Disposition", "attachment", filename="invitation.ics")
    return part


def digests_send(*, now: datetime.datetime | None = None) -> int:
    """One e-mail per person gathering their digest notifications not yet e-mailed."""
    now = now or timezone.now()
    recipients = (
        Notification.objects.filter(
            email_mode=EmailMode.DIGEST, emailed_at__isnull=True, created_at__lte=now
        )
        .values_list("recipient_id", flat=True)
        .distinct()
    )
    sent = 0
    for recipient_id in list(recipients):
        try:
            sent += _send_digest(recipient_id, now)
        except (smtplib.SMTPException, OSError):
            # One refused address must not hold back everyone after it: tried again tomorrow.
            logger.warning("Digest of person %s not sent; tried again next time.", recipient_id)
    return sent


def _send_digest(recipient_id: int, now: datetime.datetime) -> int:
    """One person's digest: its notifications claimed in a short transaction, the e-mail sent
    outside it, then marked sent."""
    with transaction.atomic():
        rows = list(
            Notification.objects.select_for_update(of=("self",), skip_locked=True)
            .filter(
                Q(email_sending_until__isnull=True) | Q(email_sending_until__lt=timezone.now()),
                recipient_id=recipient_id,
                email_mode=EmailMode.DIGEST,
                emailed_at__isnull=True,
                created_at__lte=now,
            )
            .select_related("recipient", "contract")
            .order_by("pk")
        )
        if not rows:
            return 0
        claim = Notification.objects.filter(pk__in=[row.pk for row in rows])
        claim.update(email_sending_until=_claim_until(settings.EMAIL_TIMEOUT))
    person = rows[0].recipient
    context = {
        # Similar ones told as one line ("12 fiches approuvées sur CLS-TDC-2019").
        "groups": groups_in(rows),
        "person": person,
        "base": settings.ACCORD_BASE_URL.rstrip("/"),
        "preferences_link": _absolute(reverse("notifications:preferences")),
    }
    with translation.override("fr"):
        text = render_to_string("notifications/email/digest.txt", context)
        html = render_to_string("notifications/email/digest.html", context)
        subject = render_to_string("notifications/email/digest_subject.txt", context)
    message = EmailMultiAlternatives(subject=subject.strip(), body=text, to=[person.email])
    message.attach_alternative(html, "text/html")
    try:
        message.send()
    except BaseException:
        claim.update(email_sending_until=None)  # tried again next time
        raise
    claim.update(emailed_at=now, email_sending_until=None)
    return 1


# --- Webhooks -----------------------------------------------------------------------------


class WebhookNotDelivered(Exception):
    """The partner's system failed or refused: try again later."""


def webhook_body(delivery: WebhookDelivery) -> bytes:
    return json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()


def webhook_signature(secret: str, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of the exact body under the endpoint's secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook_send(delivery_id: int) -> bool:
    """POST one delivery once: claimed first (a second worker leaves it alone), posted
    outside any transaction within ACCORD_WEBHOOK_TIMEOUT, then recorded; every attempt is
    logged on the row (status code, error)."""
    now = timezone.now()
    claimed = (
        WebhookDelivery.objects.filter(pk=delivery_id, status=WebhookDelivery.Status.PENDING)
        .filter(Q(sending_until__isnull=True) | Q(sending_until__lt=now))
        .update(
            sending_until=_claim_until(settings.ACCORD_WEBHOOK_TIMEOUT),
            attempts=F("attempts") + 1,
            attempted_at=now,
        )
    )
    if not claimed:
        return False
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    body = webhook_body(delivery)
    error = ""
    try:
        response = requests.post(
            delivery.endpoint.url,
            data=body,
            headers={
                "Content-Type": "application/json",
                "User-Agent": "Accord-Webhook/1",
                "X-Accord-Event": delivery.event,
                "X-Accord-Delivery": str(delivery.uid),
                "X-Accord-Signature": webhook_signature(delivery.endpoint.secret, body),
            },
            timeout=settings.ACCORD_WEBHOOK_TIMEOUT,
            allow_redirects=False,
        )
        delivery.response_status = response.status_code
        if not 200 <= response.status_code < 300:
            error = f"HTTP {response.status_code}: {response.text[:500]}"
    except requests.RequestException as exc:  # refused, timed out, reset
        error = f"{type(exc).__name__}: {exc}"[:1000]
    except BaseException:
        WebhookDelivery.objects.filter(pk=delivery_id).update(sending_until=None)
        raise
    delivery.error = error
    delivery.sending_until = None
    if not error:
        delivery.status = WebhookDelivery.Status.DELIVERED
        delivery.delivered_at = timezone.now()
    elif delivery.attempts >= settings.ACCORD_WEBHOOK_MAX_ATTEMPTS:
        delivery.status = WebhookDelivery.Status.FAILED
    delivery.save(
        update_fields=["response_status", "error", "sending_until", "status", "delivered_at"]
    )
    if delivery.status == WebhookDelivery.Status.PENDING:
        logger.warning("Webhook delivery %s not delivered: %s", delivery_id, error)
        raise WebhookNotDelivered(error)
    return delivery.status == WebhookDelivery.Status.DELIVERED
