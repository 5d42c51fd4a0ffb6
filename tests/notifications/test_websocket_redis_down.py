"""A WebSocket handshake with the channel layer (Redis) away: no 500; what was missed comes
from the database, then the page is told to come back later; a foreign origin is refused."""

import pytest
from channels.testing import WebsocketCommunicator
from django.test import override_settings
from django.utils import timezone
from rest_framework.authtoken.models import Token

from config.asgi import application
from notifications.consumers import REFUSED, TRY_AGAIN_LATER
from notifications.models import Notification
from tests.factories import ContractFactory, UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

REDIS_DOWN = {
    "default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]},  # nothing listens there
    }
}


@pytest.fixture
def person_with_a_notification(db):
    person = UserFactory(username="lea")
    contract = ContractFactory(coordinator=person)
    notification = Notification.objects.create(
        recipient=person,
        contract=contract,
        event="decision_made",
        title="Décision prise",
        created_at=timezone.now(),
    )
    return person, notification


async def test_the_handshake_succeeds_and_closes_gracefully_without_redis(
    person_with_a_notification, settings
):
    person, notification = person_with_a_notification
    settings.ACCORD_PUSH_TIMEOUT = 1.0
    token = await Token.objects.acreate(user=person)
    with override_settings(CHANNEL_LAYERS=REDIS_DOWN):
        communicator = WebsocketCommunicator(
            application,
            "/ws/notifications/?after=0",
            headers=[(b"origin", b"http://127.0.0.1:8000"), (b"host", b"127.0.0.1:8000")],
            subprotocols=["accord.notifications", f"accord.token.{token.key}"],
        )
        connected, _ = await communicator.connect(timeout=5)
        try:
            assert connected, "accepted: no 500, no refusal"
            message = await communicator.receive_json_from(timeout=3)
            assert message["id"] == notification.pk
            closing = await communicator.receive_output(timeout=3)
            assert closing == {"type": "websocket.close", "code": TRY_AGAIN_LATER}
        finally:
            await communicator.disconnect()


async def test_a_foreign_origin_is_refused_without_reaching_redis(
    person_with_a_notification, settings
):
    person, _notification = person_with_a_notification
    settings.ACCORD_PUSH_TIMEOUT = 1.0
    token = await Token.objects.acreate(user=person)
    with override_settings(CHANNEL_LAYERS=REDIS_DOWN):
        communicator = WebsocketCommunicator(
            application,
            "/ws/notifications/",
            headers=[(b"origin", b"https://evil.example.com"), (b"host", b"127.0.0.1:8000")],
            subprotocols=["accord.notifications", f"accord.token.{token.key}"],
        )
        # An exception in the application (the 500 a server would answer) is raised here.
        connected, code = await communicator.connect(timeout=5)
        assert (connected, code) == (False, REFUSED)
        await communicator.disconnect()
