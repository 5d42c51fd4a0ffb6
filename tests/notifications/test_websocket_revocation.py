"""A log-out closes the WebSockets its session opened, a password change every WebSocket of
the person, with code 4401 (after which the page does not reconnect). The close goes through
the channel layer after commit: with Redis away, the log-out still succeeds."""

import time

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client, override_settings
from django.urls import reverse
from rest_framework.authtoken.models import Token

from config.asgi import application
from notifications.consumers import REVOKED
from tests.factories import UserFactory
from tests.two_factor import log_in_verified

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

SITE = [(b"origin", b"http://127.0.0.1:8000"), (b"host", b"127.0.0.1:8000")]
CLOSED = {"type": "websocket.close", "code": REVOKED}


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


async def open_socket(*, client: Client | None = None, token: str | None = None):
    headers = list(SITE)
    protocols = None
    if client is not None:
        headers.append((b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()))
    if token is not None:
        protocols = ["accord.notifications", f"accord.token.{token}"]
    communicator = WebsocketCommunicator(application, "/ws/notifications/", headers, protocols)
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def test_logging_out_closes_the_sockets_of_that_session_only():
    person = await sync_to_async(UserFactory)()
    office, laptop = await sync_to_async(logged_in)(person), await sync_to_async(logged_in)(person)
    office_tabs = [await open_socket(client=office), await open_socket(client=office)]
    laptop_tab = await open_socket(client=laptop)
    try:
        response = await sync_to_async(office.post)(reverse("logout"))
        assert response.status_code == 302

        for tab in office_tabs:
            assert await tab.receive_output(timeout=3) == CLOSED
        assert await laptop_tab.receive_nothing(timeout=0.3), "another session stays open"
    finally:
        for tab in [*office_tabs, laptop_tab]:
            await tab.disconnect()


async def test_a_password_changed_in_the_administration_closes_all_the_persons_sockets():
    person = await sync_to_async(UserFactory)()
    colleague = await sync_to_async(UserFactory)()
    admin = await sync_to_async(UserFactory)(is_staff=True, is_superuser=True)
    token = await Token.objects.acreate(user=person)
    sockets = [
        await open_socket(client=await sync_to_async(logged_in)(person)),
        await open_socket(token=token.key),
    ]
    colleagues_tab = await open_socket(client=await sync_to_async(logged_in)(colleague))
    try:
        # The administration opens to staff whose session passed the second factor.
        administration = Client()
        await sync_to_async(log_in_verified)(administration, admin)
        new_password = "a-new-Passw0rd-for-2027"
        response = await sync_to_async(administration.post)(
            reverse("admin:auth_user_password_change", args=[person.pk]),
            {"password1": new_password, "password2": new_password, "usable_password": "true"},
        )
        assert response.status_code == 302, response.content.decode()[:2000]
        await person.arefresh_from_db()
        assert person.check_password(new_password)

        for socket in sockets:
            assert await socket.receive_output(timeout=3) == CLOSED
        assert await colleagues_tab.receive_nothing(timeout=0.3)
    finally:
        for socket in [*sockets, colleagues_tab]:
            await socket.disconnect()


async def test_with_redis_down_the_log_out_succeeds_within_the_timeout(settings, caplog):
    settings.ACCORD_PUSH_TIMEOUT = 1.0
    person = await sync_to_async(UserFactory)()
    browser = await sync_to_async(logged_in)(person)
    redis_down = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]},  # nothing listens there
        }
    }
    with override_settings(CHANNEL_LAYERS=redis_down):
        started = time.monotonic()
        response = await sync_to_async(browser.post)(reverse("logout"))
        elapsed = time.monotonic() - started

    assert response.status_code == 302
    assert response["Location"] == reverse("login")
    assert elapsed < 3
    assert "_auth_user_id" not in browser.session
    assert "Open WebSockets of 1 group(s) not closed." in caplog.text
