"""Remote calls give up within their timeout, with no database transaction open: a mail
server or a partner's system that accepts the connection and never answers holds up neither
the person's change nor a transaction; the failure is recorded where the retries read it."""

import socket
import threading
import time

import pytest
from django.db import connections

from notifications.models import Notification, NotificationEvent, WebhookDelivery, WebhookEndpoint
from tests.factories import ActionFactory, OrganisationFactory, UserFactory
from tests.flows import launch

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 0.5


class HangingServer:
    """Accepts TCP connections and never answers (each is dropped after 10 s, so that a
    sender without a timeout fails the test instead of hanging it). Notes, at each
    connection, whether the sender's database connection was inside a transaction."""

    def __init__(self) -> None:
        self.watched = connections["default"]  # the test thread's, which sends
        self.in_transaction: list[bool] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        self.stopped = threading.Event()
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                held, _address = self.listener.accept()
            except TimeoutError:
                continue
            self.in_transaction.append(self.watched.in_atomic_block)
            self.held.append(held)
            threading.Timer(10, held.close).start()

    def close(self) -> None:
        self.stopped.set()
        self.thread.join()
        self.listener.close()
        for held in self.held:
            held.close()


@pytest.fixture
def hanging_server():
    server = HangingServer()
    yield server
    server.close()


@pytest.fixture
def lead(contract):
    person = UserFactory(email="lea@example.org")
    ActionFactory(contract=contract).working_group.leads.set([person])
    return person


def test_a_mail_server_that_never_answers_fails_the_e_mail_not_the_launch(
    contract, coordinator, lead, hanging_server, settings, caplog
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", hanging_server.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = TIMEOUT

    started = time.monotonic()
    launch(contract, coordinator)  # commits, then e-mails in-process (eager Celery)
    elapsed = time.monotonic() - started

    contract.refresh_from_db()
    assert contract.status == "review", "the launch succeeded"
    notification = Notification.objects.get(recipient=lead, event=NotificationEvent.TASK_ASSIGNED)
    assert notification.emailed_at is None
    assert notification.email_attempts == 1
    assert "timed out" in notification.email_error
    assert notification.email_sending_until is None, "free for the next try"
    e_mails = Notification.objects.exclude(email_mode="app").count()
    assert len(hanging_server.in_transaction) == e_mails
    assert not any(hanging_server.in_transaction), "no transaction open while sending"
    assert f"E-mail of notification {notification.pk} not sent" in caplog.text
    assert elapsed < e_mails * TIMEOUT + 3


def test_a_partners_system_that_never_answers_fails_the_webhook_not_the_launch(
    contract, coordinator, lead, hanging_server, settings, caplog
):
    settings.ACCORD_WEBHOOK_TIMEOUT = TIMEOUT
    partner = OrganisationFactory()
    contract.organisations.add(partner)
    WebhookEndpoint.objects.create(
        organisation=partner,
        url=f"http://127.0.0.1:{hanging_server.port}/accord",
        events=["contract_status"],
    )

    started = time.monotonic()
    launch(contract, coordinator)
    elapsed = time.monotonic() - started

    contract.refresh_from_db()
    assert contract.status == "review", "the launch succeeded"
    (delivery,) = WebhookDelivery.objects.all()
    assert delivery.status == WebhookDelivery.Status.PENDING, "to be tried again"
    assert delivery.attempts == 1
    assert delivery.error.startswith("ReadTimeout")
    assert delivery.sending_until is None
    assert hanging_server.in_transaction == [False], "no transaction open while posting"
    assert f"Webhook delivery {delivery.pk} not delivered" in caplog.text
    assert elapsed < TIMEOUT + 3
