"""WebSocket /ws/notifications/: who may connect, live delivery after commit, catch-up, and
the outbox when Redis is away."""

import datetime

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client, override_settings
from django.utils import timezone
from rest_framework.authtoken.models import Token

from config.asgi import application
from notifications import tasks
from notifications.models import Notification
from tests.factories import ActionFactory, SteeringCommitteeFactory, UserFactory
from tests.flows import decide, launch, open_tasks
from workflows.models import TaskKind

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

ORIGIN = (b"origin", b"http://127.0.0.1:8000")


def session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def connect(path="/ws/notifications/", headers=(ORIGIN,)):
    communicator = WebsocketCommunicator(application, path, headers=list(headers))
    connected, _ = await communicator.connect()
    return communicator, connected


@pytest.fixture
def launched_contract(contract, coordinator):
    """A contract in review with one action whose two leads have their review task."""
    SteeringCommitteeFactory(contract=contract)
    ActionFactory(contract=contract)
    launch(contract, coordinator)
    return contract


async def test_a_decision_committed_reaches_the_coordinators_open_page(
    launched_contract, coordinator
):
    cookie = await sync_to_async(session_cookie)(coordinator)
    communicator, connected = await connect(headers=[ORIGIN, (b"cookie", cookie)])
    assert connected
    try:
        task = (await sync_to_async(open_tasks)(launched_contract, TaskKind.REVIEW))[0]
        await sync_to_async(decide)(task, "approve")

        message = await communicator.receive_json_from(timeout=3)
        notification = await Notification.objects.aget(pk=message["id"])
        assert message["type"] == "notification"
        assert message["event"] == "decision_made"
        assert message["contract"] == launched_contract.pk
        assert message["task"] == task.pk
        assert message["title"] == notification.title
        assert notification.recipient_id == coordinator.pk
    finally:
        await communicator.disconnect()


async def test_a_token_in_the_query_string_authenticates():
    user = await sync_to_async(UserFactory)()
    token = await Token.objects.acreate(user=user)
    communicator, connected = await connect(f"/ws/notifications/?token={token.key}")
    assert connected
    await communicator.disconnect()


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/ws/notifications/", [ORIGIN]),
        ("/ws/notifications/?token=not-a-token", [ORIGIN]),
    ],
    ids=["anonymous", "wrong token"],
)
async def test_an_unauthenticated_connection_is_refused(path, headers):
    communicator, connected = await connect(path, headers)
    assert not connected
    await communicator.disconnect()


async def test_a_foreign_origin_is_refused_even_with_a_valid_session():
    user = await sync_to_async(UserFactory)()
    cookie = await sync_to_async(session_cookie)(user)
    communicator, connected = await connect(
        headers=[(b"origin", b"https://evil.example.com"), (b"cookie", cookie)]
    )
    assert not connected
    await communicator.disconnect()


async def test_a_page_that_reconnects_gets_what_it_missed_since_its_last_id(
    launched_contract, coordinator
):
    seen = await Notification.objects.filter(recipient=coordinator).order_by("pk").alast()
    last_seen = seen.pk if seen else 0
    task = (await sync_to_async(open_tasks)(launched_contract, TaskKind.REVIEW))[0]
    await sync_to_async(decide)(task, "approve")  # while the page was away
    missed = [
        pk
        async for pk in Notification.objects.filter(
            recipient=coordinator, pk__gt=last_seen
        ).values_list("pk", flat=True)
    ]
    assert missed

    token = await Token.objects.acreate(user=coordinator)
    communicator, connected = await connect(
        f"/ws/notifications/?token={token.key}&after={last_seen}"
    )
    assert connected
    try:
        received = [(await communicator.receive_json_from(timeout=3))["id"] for _ in missed]
        assert received == missed
        assert await communicator.receive_nothing(timeout=0.2)
    finally:
        await communicator.disconnect()


async def test_with_redis_down_the_change_commits_and_is_delivered_when_redis_is_back(
    launched_contract, coordinator
):
    """The channel layer points at a port where nothing listens: pushes fail, the decision
    still commits; once the layer is back, the periodic job delivers the notification."""
    settings_override = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]},
        }
    }
    task = (await sync_to_async(open_tasks)(launched_contract, TaskKind.REVIEW))[0]
    with override_settings(CHANNEL_LAYERS=settings_override):
        await sync_to_async(decide)(task, "approve")

    pending = [
        n
        async for n in Notification.objects.filter(
            recipient=coordinator, event="decision_made", pushed_at__isnull=True
        )
    ]
    assert len(pending) == 1, "the decision committed, its notification waits in the outbox"

    token = await Token.objects.acreate(user=coordinator)
    communicator, connected = await connect(f"/ws/notifications/?token={token.key}")
    assert connected
    try:
        later = timezone.now() + datetime.timedelta(minutes=5)
        result = await sync_to_async(tasks.deliver_overdue)(now=later)
        assert result["pushed"] >= 1
        message = await communicator.receive_json_from(timeout=3)
        while message["id"] != pending[0].pk:
            message = await communicator.receive_json_from(timeout=3)
        assert message["title"] == pending[0].title
        assert await Notification.objects.filter(pushed_at__isnull=True).aexists() is False
    finally:
        await communicator.disconnect()
