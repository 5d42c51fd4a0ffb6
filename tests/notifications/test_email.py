"""E-mail: French text and HTML with a direct link, retries with back-off when the mail server
fails, never twice, and each person's choice (at once, daily digest, Accord only)."""

import datetime
import threading
import time
from unittest import mock

import pytest
from celery.exceptions import Retry
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.utils import timezone, translation
from django.utils.formats import date_format

from notifications import delivery, tasks
from notifications.models import EmailMode, Notification, NotificationEvent, NotificationPreference
from notifications.tasks import send_notification_email, send_notification_emails
from tests.factories import ActionFactory, SteeringCommitteeFactory, UserFactory
from tests.flows import launch
from tests.notifications.mail import FlakyBackend

pytestmark = pytest.mark.django_db

LATER = datetime.timedelta(minutes=5)


@pytest.fixture
def lead():
    return UserFactory(
        username="lea",
        civility="Mme",
        first_name="Léa",
        last_name="Martin",
        email="lea@example.org",
        position="cheffe de projet ARS",
    )


@pytest.fixture
def review_launch(contract, coordinator, lead, django_capture_on_commit_callbacks):
    """Launching the review assigns Léa a review task; returns a function doing it."""
    SteeringCommitteeFactory(contract=contract)
    action = ActionFactory(contract=contract)
    action.working_group.leads.set([lead])

    def launch_review():
        with django_capture_on_commit_callbacks(execute=True):
            launch(contract, coordinator)
        return Notification.objects.get(recipient=lead, event=NotificationEvent.TASK_ASSIGNED)

    return launch_review


@pytest.fixture
def flaky_mail(settings):
    settings.EMAIL_BACKEND = "tests.notifications.mail.FlakyBackend"
    FlakyBackend.failures = 0
    yield FlakyBackend
    FlakyBackend.failures = 0


def test_a_new_task_is_e_mailed_in_french_with_a_direct_link(review_launch, lead, settings):
    settings.ACCORD_BASE_URL = "https://accord.example.org"
    notification = review_launch()

    (message,) = [m for m in mail.outbox if m.to == ["lea@example.org"]]
    link = f"https://accord.example.org/taches/{notification.task_id}/"
    assert message.subject == f"[Accord] {notification.title}"
    assert message.subject.startswith("[Accord] Nouvelle tâche")
    # Greeted by name, not by position nor username.
    assert message.body.startswith("Bonjour Léa Martin,\n")
    assert f"Ouvrir la tâche dans Accord\u00a0: {link}" in message.body
    # When it is due, in words: « À traiter avant le mardi 22 décembre 2026. »
    with translation.override("fr"):
        due = date_format(timezone.localtime(notification.task.due), "l j F Y")
    assert f"À traiter avant le {due}." in message.body
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    assert "<p>Bonjour Léa Martin,</p>" in html
    assert f'<a href="{link}">' in html
    notification.refresh_from_db()
    assert notification.emailed_at is not None
    assert notification.email_attempts == 1


def test_when_the_mail_server_fails_the_change_commits_and_a_later_try_sends_once(
    review_launch, lead, flaky_mail
):
    flaky_mail.failures = 1
    notification = review_launch()

    notification.refresh_from_db()
    assert notification.emailed_at is None
    assert notification.email_attempts == 1
    assert "SMTPServerDisconnected" in notification.email_error
    assert not mail.outbox

    tasks.deliver_overdue(now=timezone.now() + LATER)
    tasks.deliver_overdue(now=timezone.now() + LATER)
    assert send_notification_email.delay(notification.pk).get() is False

    assert [m.to for m in mail.outbox] == [["lea@example.org"]]
    notification.refresh_from_db()
    assert notification.emailed_at is not None
    assert notification.email_attempts == 2


def test_a_worker_retries_with_back_off(review_launch, flaky_mail):
    """On a worker (not eager) a failure schedules a retry: 30 s, then twice as long..."""
    flaky_mail.failures = 99
    with mock.patch("notifications.tasks.queue_emails"):
        notification = review_launch()

    retry_patch = mock.patch.object(send_notification_email, "retry", side_effect=Retry)
    with retry_patch as retry, pytest.raises(Retry):
        send_notification_email.run(notification.pk)
    assert retry.call_args.kwargs["countdown"] == 30
    assert not mail.outbox


@pytest.fixture
def two_leads_launch(contract, coordinator, lead, django_capture_on_commit_callbacks):
    """Launching the review assigns Léa and Marc a review task each, in one change."""
    SteeringCommitteeFactory(contract=contract)
    action = ActionFactory(contract=contract)
    action.working_group.leads.set([lead, UserFactory(email="marc@example.org")])

    def launch_review():
        with django_capture_on_commit_callbacks(execute=True):
            launch(contract, coordinator)
        return list(
            Notification.objects.filter(event=NotificationEvent.TASK_ASSIGNED)
            .order_by("pk")
            .values_list("pk", flat=True)
        )

    return launch_review


def test_the_e_mails_of_one_change_go_to_the_broker_in_one_message(two_leads_launch):
    with mock.patch.object(
        send_notification_emails, "delay", wraps=send_notification_emails.delay
    ) as queued:
        ids = two_leads_launch()

    queued.assert_called_once_with(ids)
    assert sorted(m.to[0] for m in mail.outbox) == ["lea@example.org", "marc@example.org"]
    assert Notification.objects.filter(pk__in=ids, emailed_at__isnull=False).count() == 2


def test_on_a_worker_an_e_mail_failing_in_a_batch_is_retried_alone(two_leads_launch, flaky_mail):
    with mock.patch("notifications.tasks.queue_emails"):
        first, second = two_leads_launch()
    flaky_mail.failures = 1  # the mail server refuses the first message only

    with mock.patch.object(send_notification_email, "apply_async") as retried:
        assert send_notification_emails.run([first, second]) == 1

    retried.assert_called_once_with((first,), countdown=30, retries=1)  # then 60 s, 120 s...
    assert Notification.objects.get(pk=second).emailed_at is not None
    assert Notification.objects.get(pk=first).emailed_at is None


def test_an_e_mail_failing_otherwise_does_not_stop_the_others_of_its_message(two_leads_launch):
    with mock.patch("notifications.tasks.queue_emails"):
        first, second = two_leads_launch()
    real_send = delivery._send_one

    def send(notification):
        if notification.pk == first:
            raise ValueError("an address the mail library refuses")
        return real_send(notification)

    with mock.patch("notifications.delivery._send_one", side_effect=send):
        assert send_notification_emails.run([first, second]) == 1

    other = Notification.objects.select_related("recipient").get(pk=second)
    assert [m.to for m in mail.outbox] == [[other.recipient.email]]
    assert other.emailed_at is not None


def test_the_retries_stop_after_the_last_attempt(review_launch, flaky_mail, settings):
    settings.ACCORD_EMAIL_MAX_ATTEMPTS = 2
    flaky_mail.failures = 99
    notification = review_launch()
    for _ in range(3):
        tasks.deliver_overdue(now=timezone.now() + LATER)

    notification.refresh_from_db()
    assert notification.email_attempts == 2
    assert notification.emailed_at is None


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row locks between threads: PostgreSQL"
)
def test_two_workers_sending_the_same_e_mail_at_once_send_it_once(lead, settings):
    settings.EMAIL_BACKEND = "tests.notifications.mail.FlakyBackend"
    notification = Notification.objects.create(
        recipient=lead,
        event=NotificationEvent.TASK_ASSIGNED,
        title="Nouvelle tâche",
        created_at=timezone.now(),
        email_mode=EmailMode.IMMEDIATE,
    )
    slow_send = FlakyBackend.send_messages

    def send_slowly(self, messages):
        time.sleep(0.3)
        return slow_send(self, messages)

    results = []

    def worker():
        results.append(delivery.email_send(notification.pk))
        connection.close()

    with mock.patch.object(FlakyBackend, "send_messages", send_slowly):
        threads = [threading.Thread(target=worker) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert sorted(results) == [False, True]
    assert len(mail.outbox) == 1


def test_digest_notifications_wait_for_the_daily_digest(review_launch, lead):
    NotificationPreference.objects.create(
        user=lead, event=NotificationEvent.TASK_ASSIGNED, email_mode=EmailMode.DIGEST
    )
    notification = review_launch()
    assert not [m for m in mail.outbox if m.to == ["lea@example.org"]]

    call_command("deliver_notifications", "--digests", stdout=open("/dev/null", "w"))  # noqa: SIM115
    call_command("deliver_notifications", "--digests", stdout=open("/dev/null", "w"))  # noqa: SIM115

    (digest,) = [m for m in mail.outbox if m.to == ["lea@example.org"]]
    assert digest.subject == "[Accord] 1 nouvelle aujourd\u2019hui"
    assert notification.title in digest.body
    notification.refresh_from_db()
    assert notification.emailed_at is not None


def test_in_accord_only_means_no_e_mail(review_launch, lead):
    NotificationPreference.objects.create(
        user=lead, event=NotificationEvent.TASK_ASSIGNED, email_mode=EmailMode.APP
    )
    review_launch()
    delivery.digests_send()
    tasks.deliver_overdue(now=timezone.now() + LATER)
    assert not [m for m in mail.outbox if m.to == ["lea@example.org"]]


def test_someone_without_a_name_is_greeted_without_their_username(review_launch, lead, settings):
    lead.first_name = lead.last_name = ""
    lead.save()
    review_launch()

    (message,) = [m for m in mail.outbox if m.to == ["lea@example.org"]]
    assert message.body.startswith("Bonjour,\n")
    assert "<p>Bonjour,</p>" in message.alternatives[0][0]


def test_a_digest_greets_by_name(review_launch, lead):
    NotificationPreference.objects.create(
        user=lead, event=NotificationEvent.TASK_ASSIGNED, email_mode=EmailMode.DIGEST
    )
    review_launch()
    call_command("deliver_notifications", "--digests", stdout=open("/dev/null", "w"))  # noqa: SIM115

    (digest,) = [m for m in mail.outbox if m.to == ["lea@example.org"]]
    assert digest.body.startswith("Bonjour Léa Martin,\n")
