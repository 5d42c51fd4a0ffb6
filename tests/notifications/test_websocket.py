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
HOST = (b"host", b"127.0.0.1:8000")


def session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def connect(path="/ws/notifications/", headers=(ORIGIN, HOST), subprotocols=None):
    communicator = WebsocketCommunicator(
        application, path, headers=list(headers), subprotocols=subprotocols
    )
    connected, _ = await communicator.connect()
    return communicator, connected


def token_protocols(key: str) -> list[str]:
    """What an API client offers: Accord's subprotocol, and its token as another."""
    return ["accord.notifications", f"accord.token.{key}"]


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
    communicator, connected = await connect(headers=[ORIGIN, HOST, (b"cookie", cookie)])
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


async def test_a_token_offered_as_a_subprotocol_authenticates_and_is_not_echoed():
    user = await sync_to_async(UserFactory)()
    token = await Token.objects.acreate(user=user)
    communicator = WebsocketCommunicator(
        application, "/ws/notifications/", [ORIGIN, HOST], subprotocols=token_protocols(token.key)
    )
    connected, selected = await communicator.connect()
    assert connected
    assert selected == "accord.notifications"
    assert await communicator.receive_nothing(timeout=0.1), "no deprecation notice"
    await communicator.disconnect()


async def test_a_token_in_the_query_string_still_works_with_a_deprecation_notice(caplog):
    user = await sync_to_async(UserFactory)()
    token = await Token.objects.acreate(user=user)
    communicator, connected = await connect(f"/ws/notifications/?token={token.key}")
    assert connected
    try:
        notice = await communicator.receive_json_from(timeout=1)
        assert notice["type"] == "deprecation"
        assert "accord.token.<token>" in notice["detail"]
        assert "?token= (deprecated)" in caplog.text
    finally:
        await communicator.disconnect()


@pytest.mark.parametrize(
    ("path", "subprotocols"),
    [
        ("/ws/notifications/", None),
        ("/ws/notifications/", ["accord.notifications", "accord.token.not-a-token"]),
        ("/ws/notifications/?token=not-a-token", None),
    ],
    ids=["anonymous", "wrong token", "wrong token in the query string"],
)
async def test_an_unauthenticated_connection_is_refused(path, subprotocols):
    communicator, connected = await connect(path, subprotocols=subprotocols)
    assert not connected
    await communicator.disconnect()


async def test_a_wrong_token_is_refused_even_with_a_valid_session():
    user = await sync_to_async(UserFactory)()
    cookie = await sync_to_async(session_cookie)(user)
    communicator, connected = await connect(
        headers=[ORIGIN, HOST, (b"cookie", cookie)],
        subprotocols=["accord.notifications", "accord.token.not-a-token"],
    )
    assert not connected
    await communicator.disconnect()


@pytest.mark.parametrize(
    "origin",
    [
        b"https://evil.example.com",
        b"http://127.0.0.1:9000",  # another port of the same host
        b"https://127.0.0.1:8000",  # another scheme
        b"http://127.0.0.1",  # the default port, 80
        b"null",
        None,
    ],
    ids=["foreign host", "wrong port", "wrong scheme", "default port", "null", "none"],
)
async def test_an_origin_other_than_the_sites_own_is_refused_even_with_a_valid_session(origin):
    user = await sync_to_async(UserFactory)()
    cookie = await sync_to_async(session_cookie)(user)
    headers = [HOST, (b"cookie", cookie)] + ([(b"origin", origin)] if origin else [])
    communicator, connected = await connect(headers=headers)
    assert not connected
    await communicator.disconnect()


async def test_a_host_outside_allowed_hosts_is_no_origin_of_its_own():
    """DNS rebinding: evil.example.com pointed at the server sends matching Host and Origin."""
    user = await sync_to_async(UserFactory)()
    token = await Token.objects.acreate(user=user)
    communicator, connected = await connect(
        headers=[(b"origin", b"http://evil.example.com"), (b"host", b"evil.example.com")],
        subprotocols=token_protocols(token.key),
    )
    assert not connected
    await communicator.disconnect()


@pytest.mark.parametrize(
    ("headers", "scheme"),
    [
        ([(b"origin", b"https://127.0.0.1:8000"), HOST], "wss"),
        ([(b"origin", b"https://accord.example.org"), (b"host", b"127.0.0.1:8000")], "ws"),
        ([(b"origin", b"https://team.partner.example.org"), HOST], "ws"),
        (
            [
                (b"origin", b"https://127.0.0.1:8000"),
                HOST,
                (b"x-forwarded-proto", b"https"),
            ],
            "ws",
        ),
    ],
    ids=["same origin over TLS", "trusted origin", "trusted subdomain", "TLS at the proxy"],
)
async def test_the_sites_own_origin_and_the_trusted_ones_are_accepted(settings, headers, scheme):
    settings.CSRF_TRUSTED_ORIGINS = [
        "https://accord.example.org",
        "https://*.partner.example.org",
    ]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    user = await sync_to_async(UserFactory)()
    token = await Token.objects.acreate(user=user)
    communicator = WebsocketCommunicator(
        application, "/ws/notifications/", headers, subprotocols=token_protocols(token.key)
    )
    communicator.scope["scheme"] = scheme
    connected, _ = await communicator.connect()
    assert connected
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
        f"/ws/notifications/?after={last_seen}", subprotocols=token_protocols(token.key)
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
    communicator, connected = await connect(subprotocols=token_protocols(token.key))
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


@pytest.mark.parametrize("outcome", ["left", "failed"])
async def test_a_slow_leave_of_the_channel_layer_finishes_after_the_socket_closes(
    coordinator, monkeypatch, caplog, outcome
):
    """When hundreds of pages close at once, a busy process tells Redis one group at a time:
    a leave slower than ACCORD_PUSH_TIMEOUT goes on after its socket is gone, and only its
    failure is a warning."""
    import asyncio

    from channels.layers import get_channel_layer

    layer = get_channel_layer()  # the consumers' own (Redis's, or in memory when embedded)
    discard = layer.group_discard
    discarded = []

    async def slow_discard(group, channel):
        await asyncio.sleep(0.3)
        if outcome == "failed":
            raise ConnectionError("Redis went away")
        discarded.append(group)
        await discard(group, channel)

    monkeypatch.setattr(layer, "group_discard", slow_discard)
    cookie = await sync_to_async(session_cookie)(coordinator)
    with override_settings(ACCORD_PUSH_TIMEOUT=0.05):
        communicator, connected = await connect(headers=[ORIGIN, HOST, (b"cookie", cookie)])
        assert connected
        caplog.clear()
        await communicator.disconnect()
        assert not caplog.records  # closed in time, still leaving: nothing to say yet
        await asyncio.sleep(0.6)

    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    if outcome == "left":
        assert len(discarded) == 2  # the person's group and the session's
        assert warnings == []
    else:
        assert warnings == ["The channel layer could not be left."]
