"""WebSocket handshakes and the database connection pool: a handshake reads who connects (and
what they missed) in short reads that hand the connection back at once, so many sockets open
at the same time through a pool far smaller than their number, hold none once open, and an
overloaded server tells the page to come back rather than failing (docs/deploy.md,
"WebSockets and the connection pool"); through daphne, that close is the one sent."""

from __future__ import annotations

import json
import queue
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.db import connection
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token
from websockets.sync.client import connect

from notifications.models import Notification, NotificationEvent
from tests.factories import UserFactory
from tests.notifications.servers import Servers, require_services

pytestmark = pytest.mark.django_db(transaction=True)

POOL_SIZE = 1
SOCKETS = 8


@pytest.fixture
def earlier_connections() -> set[int]:
    """The test database's connections before the server starts: this test process's own
    threads' (an earlier test's consumers run in-process), not the server's."""
    require_services()  # PostgreSQL's own view: skipped on the embedded default, as the server
    return _connections_to_the_test_database()


@pytest.fixture
def server_with_a_pool_of_one(earlier_connections):
    require_services()
    pool_of_one = {
        "ACCORD_DB_POOL_MAX_SIZE": str(POOL_SIZE),
        "ACCORD_DB_POOL_MIN_SIZE": str(POOL_SIZE),
        "ACCORD_DB_POOL_TIMEOUT": "5",
    }
    with Servers(1, env=pool_of_one) as running:
        yield running


def _session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


def _connections_to_the_test_database() -> set[int]:
    """The backends connected to the test database, this test's own left out."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return {pid for (pid,) in cursor.fetchall()}


def test_many_sockets_open_at_once_through_a_pool_of_one_and_hold_no_connection(
    earlier_connections, server_with_a_pool_of_one
):
    server = server_with_a_pool_of_one
    people = [UserFactory(email="") for _ in range(SOCKETS)]
    missed = {
        person.pk: Notification.objects.create(
            recipient=person,
            event=NotificationEvent.DECISION_MADE,
            title=f"Pour {person.username}",
            created_at=timezone.now(),
        ).pk
        for person in people
    }
    cookies = {person.pk: _session_cookie(person) for person in people}

    caught_up: queue.Queue[dict] = queue.Queue()
    done = threading.Event()

    def page_open_until_done(person_pk: int) -> None:
        with connect(
            server.url(0, "/ws/notifications/?after=0", scheme="ws"),
            origin=server.url(0),
            additional_headers={"Cookie": cookies[person_pk]},
            subprotocols=["accord.notifications"],
            open_timeout=20,
        ) as socket:
            caught_up.put(json.loads(socket.recv(timeout=20)))
            done.wait(timeout=60)

    with ThreadPoolExecutor(SOCKETS) as pages:
        opened = [pages.submit(page_open_until_done, pk) for pk in missed]
        try:
            # Every handshake succeeded, each got what its person missed, through one
            # connection.
            received = sorted(caught_up.get(timeout=30)["id"] for _ in range(SOCKETS))
            assert received == sorted(missed.values())
            # Open, the sockets hold no connection: the pool's one serves a request
            # meanwhile, and the server has no more than its pool.
            answer = requests.get(
                server.url(0, "/api/v1/notifications/"),
                headers={"Authorization": f"Token {Token.objects.create(user=people[0]).key}"},
                timeout=20,
            )
            assert answer.status_code == 200, answer.text
            assert [item["id"] for item in answer.json()["results"]] == [missed[people[0].pk]]
            assert len(_connections_to_the_test_database() - earlier_connections) <= POOL_SIZE
        finally:
            done.set()
        for page in opened:
            page.result()  # no handshake failed


# --- An overloaded server: come back later -------------------------------------------------
# In the test's process (channels' communicator): the pool's time-out is what Django raises
# when no connection is free in time, as tests/test_operations.py's overload tests make it.


def _no_connection_in_time(*args, **kwargs):
    from django.db import OperationalError
    from psycopg_pool import PoolTimeout

    try:
        raise PoolTimeout("couldn't get a connection after 10.00 sec")
    except PoolTimeout as timeout:
        raise OperationalError(*timeout.args) from timeout


async def _closed_with(path: str, headers: list) -> int:
    from channels.testing import WebsocketCommunicator

    from config.asgi import application

    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await communicator.connect()
    assert connected, "accepted, then closed: refused would stop the page for good"
    closing = await communicator.receive_output(timeout=3)
    await communicator.wait()
    assert closing["type"] == "websocket.close"
    return closing["code"]


ORIGIN_AND_HOST = [(b"origin", b"http://127.0.0.1:8000"), (b"host", b"127.0.0.1:8000")]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("read", "path"),
    [
        # Who connects: the session's and the user's read.
        ("django.contrib.auth.get_user", "/ws/notifications/"),
        # What the page missed: the catch-up's read.
        ("notifications.selectors.notifications_after", "/ws/notifications/?after=0"),
    ],
)
async def test_no_connection_free_for_a_handshake_read_tells_the_page_to_come_back(
    monkeypatch, read, path
):
    from asgiref.sync import sync_to_async

    from notifications.sockets import TRY_AGAIN_LATER

    person = await sync_to_async(UserFactory)()
    cookie = await sync_to_async(_session_cookie)(person)
    monkeypatch.setattr(read, _no_connection_in_time)
    headers = [*ORIGIN_AND_HOST, (b"cookie", cookie.encode())]
    assert await _closed_with(path, headers) == TRY_AGAIN_LATER


# --- Through daphne: the "try again later" close reaches the page ---------------------------


def test_with_redis_away_daphne_sends_the_try_again_later_close_the_page_reconnects_on():
    """daphne's WebSocket library sends only 1000 and 3000-4999 from the server: 1013, the
    code this once was, failed inside the application and reached the page as 1011."""
    from websockets.exceptions import ConnectionClosed

    from notifications.sockets import TRY_AGAIN_LATER

    require_services()
    server = Servers(1, env={"REDIS_URL": "redis://127.0.0.1:1/0"})  # nothing listens there
    person = UserFactory(email="")
    missed = Notification.objects.create(
        recipient=person,
        event=NotificationEvent.DECISION_MADE,
        title="Manquée",
        created_at=timezone.now(),
    )
    token = Token.objects.create(user=person).key
    with (
        server,
        connect(
            server.url(0, "/ws/notifications/?after=0", scheme="ws"),
            origin=server.url(0),
            subprotocols=["accord.notifications", f"accord.token.{token}"],
            open_timeout=20,
        ) as socket,
    ):
        assert json.loads(socket.recv(timeout=20))["id"] == missed.pk
        with pytest.raises(ConnectionClosed) as closed:
            socket.recv(timeout=20)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == TRY_AGAIN_LATER
