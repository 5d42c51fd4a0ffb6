"""Webhooks: each event a partner organisation picked is POSTed to its system as JSON signed
with HMAC-SHA256, from the outbox, retried with back-off, logged for the administrator."""

import datetime
import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from unittest import mock

import pytest
from celery.exceptions import Retry
from django.urls import reverse
from django.utils import timezone

from notifications import tasks
from notifications.models import WebhookDelivery, WebhookEndpoint
from notifications.tasks import deliver_webhook
from tests.factories import (
    ActionFactory,
    OrganisationFactory,
    SteeringCommitteeFactory,
    UserFactory,
)
from tests.flows import approve_reviews, ensure_committee_and_signatory
from tests.two_factor import log_in_verified
from workflows import services

pytestmark = pytest.mark.django_db

LATER = datetime.timedelta(minutes=5)


class PartnerSystem:
    """A local HTTP server standing for the partner's archive system."""

    def __init__(self) -> None:
        self.received: list[tuple[dict, bytes]] = []
        self.answers: list[int] = []
        partner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                partner.received.append((dict(self.headers), body))
                status = partner.answers.pop(0) if partner.answers else 200
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok" if status < 300 else b"busy")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/accord"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def partner():
    system = PartnerSystem()
    yield system
    system.close()


@pytest.fixture
def endpoint(contract, partner):
    organisation = OrganisationFactory()
    contract.organisations.add(organisation)
    return WebhookEndpoint.objects.create(
        organisation=organisation, url=partner.url, events=["contract_status"]
    )


@pytest.fixture
def launch(contract, coordinator, django_capture_on_commit_callbacks):
    SteeringCommitteeFactory(contract=contract)
    ActionFactory(contract=contract)
    ensure_committee_and_signatory(contract)

    def run():
        with django_capture_on_commit_callbacks(execute=True):
            services.launch_review(contract=contract, actor=coordinator)

    return run


def test_a_picked_event_is_posted_signed_and_logged(launch, endpoint, partner, contract):
    launch()

    (headers, body), *_ = partner.received
    assert len(partner.received) == 1, "only the kinds the partner picked"
    expected = "sha256=" + hmac.new(endpoint.secret.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-Accord-Signature"] == expected
    assert headers["X-Accord-Event"] == "contract_status"
    assert headers["Content-Type"] == "application/json"
    event = json.loads(body)
    assert event["event"] == "contract_status"
    head = event["contract"].pop("history_head")
    assert event["contract"] == {
        "id": contract.pk,
        "reference": contract.reference,
        "status": "review",
    }
    # The history's head once the change is recorded: the partner holds it out of the
    # database's reach; it is the entry just before who was told (recorded after the webhook).
    entry = contract.history.get(seq=head["seq"])
    assert entry.hash == head["hash"]
    assert contract.history.filter(seq__gt=entry.seq).exclude(event="notified").count() == 0
    assert event["title"].startswith(contract.reference)
    (logged,) = WebhookDelivery.objects.all()
    assert headers["X-Accord-Delivery"] == event["id"] == str(logged.uid)
    assert logged.status == "delivered"
    assert logged.response_status == 200
    assert logged.attempts == 1


def test_the_payload_gives_the_contract_status_of_the_moment_it_tells_of(
    launch, contract, partner, django_capture_on_commit_callbacks
):
    inside = OrganisationFactory()
    contract.organisations.add(inside)
    WebhookEndpoint.objects.create(organisation=inside, url=partner.url, events=["task_assigned"])
    launch()
    with django_capture_on_commit_callbacks(execute=True):
        approve_reviews(contract)  # the last approval opens the committee and its vote tasks

    statuses = [json.loads(body)["contract"]["status"] for _headers, body in partner.received]
    assert statuses[0] == "review"  # the review tasks of the launch
    assert statuses[-1] == "committee"  # the votes, the same change that opened the committee


def test_organisations_outside_the_contract_and_other_kinds_get_nothing(launch, contract, partner):
    WebhookEndpoint.objects.create(
        organisation=OrganisationFactory(), url=partner.url, events=["contract_status"]
    )
    inside = OrganisationFactory()
    contract.organisations.add(inside)
    WebhookEndpoint.objects.create(organisation=inside, url=partner.url, events=["meeting"])
    launch()
    assert partner.received == []
    assert not WebhookDelivery.objects.exists()


def test_a_failing_partner_is_retried_later_and_the_event_posted_once(launch, endpoint, partner):
    partner.answers = [503]
    launch()
    logged = WebhookDelivery.objects.get()
    assert logged.status == "pending"
    assert logged.error.startswith("HTTP 503")

    tasks.deliver_overdue(now=timezone.now() + LATER)
    tasks.deliver_overdue(now=timezone.now() + LATER)
    assert deliver_webhook.delay(logged.pk).get() is False

    assert len(partner.received) == 2  # the refused one, then the accepted one
    first, second = (json.loads(body) for _headers, body in partner.received)
    assert first["id"] == second["id"]
    logged.refresh_from_db()
    assert (logged.status, logged.attempts, logged.response_status) == ("delivered", 2, 200)


def test_a_worker_retries_with_back_off(launch, endpoint, partner):
    partner.answers = [500, 500]
    with mock.patch("notifications.tasks.queue_webhooks"):
        launch()
    logged = WebhookDelivery.objects.get()

    retry_patch = mock.patch.object(deliver_webhook, "retry", side_effect=Retry)
    with retry_patch as retry, pytest.raises(Retry):
        deliver_webhook.run(logged.pk)
    assert retry.call_args.kwargs["countdown"] == 30
    logged.refresh_from_db()
    assert logged.attempts == 1


def test_the_delivery_log_is_in_the_administration(client, launch, endpoint, partner):
    partner.answers = [500]
    launch()
    admin = UserFactory(is_staff=True, is_superuser=True)
    log_in_verified(client, admin)

    page = client.get(reverse("admin:notifications_webhookdelivery_changelist"))
    assert page.status_code == 200
    assert "HTTP 500" in page.content.decode()
    page = client.get(reverse("admin:notifications_webhookendpoint_change", args=[endpoint.pk]))
    assert page.status_code == 200
    assert partner.url in page.content.decode()
    assert f"?endpoint__id__exact={endpoint.pk}" in page.content.decode()
