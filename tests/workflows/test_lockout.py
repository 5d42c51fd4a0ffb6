"""Log-in protection everywhere (django-axes): the pages' log-in (the admin's leads there), the
API's token and the password typed again to sign lock an account out after repeated wrong
passwords, and an address after more; others go on; the cool-off ends it; Redis away turns
nothing into a 500."""

import datetime

import pytest
from asgiref.sync import sync_to_async
from axes.models import AccessAttempt
from django.core.cache import cache
from django.test import Client, override_settings
from django.urls import reverse
from rest_framework.test import APIClient

from tests.factories import PASSWORD, ActionFactory, SignatoryFactory, UserFactory
from tests.flows import open_tasks, record_deliberation, walk_to_deliberation
from workflows.api.throttling import FALLBACK_CACHE
from workflows.models import HistoryEntry, Task, TaskKind, TaskStatus

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token/"
LIMIT = 5  # ACCORD_LOGIN_FAILURE_LIMIT's default
NBSP = "\N{NO-BREAK SPACE}"


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.AXES_FAILURE_LIMIT = LIMIT
    settings.ACCORD_LOGIN_ADDRESS_FAILURE_LIMIT = 12
    settings.AXES_COOLOFF_TIME = datetime.timedelta(minutes=15)
    cache.clear()  # the API's throttle counts in the cache
    yield
    cache.clear()


def cool_off_passes() -> None:
    """As if the cool-off had passed: every recorded failure moved back beyond it."""
    AccessAttempt.objects.update(
        attempt_time=datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=16)
    )


def log_in(client: Client, url: str, username: str, password: str):
    return client.post(url, {"username": username, "password": password})


# --- The pages' log-in and the admin's --------------------------------------------------------


def test_the_log_in_page_locks_an_account_out_and_says_for_how_long_in_french():
    camille = UserFactory(username="camille")
    client = Client()
    for _ in range(LIMIT - 1):
        assert log_in(client, reverse("login"), "camille", "devine").status_code == 200

    locked = log_in(client, reverse("login"), "camille", "devine")

    assert locked.status_code == 429
    page = locked.content.decode()
    assert f"Trop d{chr(0x2019)}essais{NBSP}: réessayez dans 15{NBSP}minutes." in page
    assert int(locked["Retry-After"]) > 14 * 60
    # The right password, now: refused all the same, nobody logged in.
    right = log_in(client, reverse("login"), "camille", PASSWORD)
    assert right.status_code == 429
    assert "_auth_user_id" not in client.session
    assert AccessAttempt.objects.get(username="camille").failures_since_start == LIMIT
    assert camille.pk


def test_a_colleague_behind_the_same_address_logs_in_meanwhile():
    UserFactory(username="camille")
    colleague = UserFactory(username="dominique")
    for _ in range(LIMIT):
        log_in(Client(), reverse("login"), "camille", "devine")

    client = Client()
    response = log_in(client, reverse("login"), "dominique", PASSWORD)

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(colleague.pk)


def test_an_address_is_locked_out_after_its_own_larger_limit():
    UserFactory(username="dominique")
    for n in range(3):  # 3 accounts, 4 failures each: 12, none of them locked on its own
        for _ in range(LIMIT - 1):
            log_in(Client(), reverse("login"), f"compte-{n}", "devine")

    response = log_in(Client(), reverse("login"), "dominique", PASSWORD)

    assert response.status_code == 429
    # From another address, the same person logs in.
    other = Client(REMOTE_ADDR="198.51.100.7")
    assert log_in(other, reverse("login"), "dominique", PASSWORD).status_code == 302


def test_after_the_cool_off_the_right_password_logs_in_again():
    UserFactory(username="camille")
    for _ in range(LIMIT):
        log_in(Client(), reverse("login"), "camille", "devine")
    assert log_in(Client(), reverse("login"), "camille", PASSWORD).status_code == 429

    cool_off_passes()

    client = Client()
    assert log_in(client, reverse("login"), "camille", PASSWORD).status_code == 302
    assert "_auth_user_id" in client.session


def test_the_admin_logs_in_through_the_log_in_page_and_is_locked_out_there_too():
    UserFactory(username="admin", is_staff=True, is_superuser=True)
    client = Client()
    # The admin's own log-in checks no password: it leads to the pages' log-in.
    sent = log_in(client, reverse("admin:login"), "admin", PASSWORD)
    assert sent.status_code == 302
    assert sent["Location"].startswith(reverse("login") + "?next=/admin/")
    assert "_auth_user_id" not in client.session
    for _ in range(LIMIT):
        log_in(client, reverse("login") + "?next=/admin/", "admin", "devine")

    response = log_in(client, reverse("login") + "?next=/admin/", "admin", PASSWORD)

    assert response.status_code == 429
    assert "Trop d" in response.content.decode()
    assert "_auth_user_id" not in client.session


# --- The API's token ----------------------------------------------------------------------------


def test_the_api_token_locks_an_account_out_with_the_error_shape(coordinator):
    UserFactory(username="dominique")
    client = APIClient()
    for _ in range(LIMIT - 1):
        response = client.post(TOKEN_URL, {"username": "coordinatrice", "password": "x"})
        assert response.status_code == 400

    locked = client.post(TOKEN_URL, {"username": "coordinatrice", "password": "x"})
    right = client.post(
        TOKEN_URL, {"username": "coordinatrice", "password": PASSWORD}, HTTP_ACCEPT_LANGUAGE="en"
    )

    assert locked.status_code == 429
    assert locked.json() == {
        "detail": f"Trop d{chr(0x2019)}essais{NBSP}: réessayez dans 15{NBSP}minutes.",
        "errors": [],
    }
    assert right.status_code == 429
    assert right.json()["detail"] == "Too many attempts: try again in 15 minutes."
    assert int(right["Retry-After"]) > 14 * 60
    other = client.post(TOKEN_URL, {"username": "dominique", "password": PASSWORD})
    assert other.status_code == 200


def test_the_api_token_works_again_after_the_cool_off(coordinator):
    client = APIClient()
    for _ in range(LIMIT):
        client.post(TOKEN_URL, {"username": "coordinatrice", "password": "x"})
    cool_off_passes()

    assert client.post(TOKEN_URL, {"username": "coordinatrice", "password": PASSWORD}).json()[
        "token"
    ]


# --- The signing password -----------------------------------------------------------------------


@pytest.fixture
def signing(contract, coordinator):
    """A contract whose two signature tasks are open, each with its signer."""
    ActionFactory(contract=contract)
    SignatoryFactory(contract=contract)
    SignatoryFactory(contract=contract, kind="associated")
    walk_to_deliberation(contract, coordinator)
    record_deliberation(contract)
    tasks = open_tasks(contract, TaskKind.SIGNATURE)
    assert len(tasks) == 2
    return tasks


def sign(task, password: str, **extra):
    client = APIClient()
    client.force_authenticate(task.owner)
    return client.post(
        f"/api/v1/tasks/{task.pk}/decision/",
        {"decision": "sign", "password": password, "consent": True},
        format="json",
        **extra,
    )


def events(contract, event: str) -> list[HistoryEntry]:
    return list(contract.history.filter(event=event).order_by("pk"))


def test_the_signing_password_locks_out_and_the_history_says_so(contract, signing):
    task, other = signing
    for _ in range(LIMIT - 1):
        assert sign(task, "devine").status_code == 400

    locked = sign(task, "devine")

    assert locked.status_code == 429
    assert locked.json()["detail"].startswith(f"Trop d{chr(0x2019)}essais{NBSP}:")
    assert len(events(contract, "signature_password_refused")) == LIMIT
    (lockout,) = events(contract, "signature_locked")
    assert lockout.actor == task.owner
    assert lockout.data["task"] == task.pk
    assert lockout.data["lockout"] == "started"
    assert lockout.data["ip_address"] == "127.0.0.1"

    # The right password is refused until the cool-off ends, and that is recorded too.
    right = sign(task, PASSWORD)
    assert right.status_code == 429
    assert Task.objects.get(pk=task.pk).status == TaskStatus.ASSIGNED
    assert [e.data["lockout"] for e in events(contract, "signature_locked")] == [
        "started",
        "refused",
    ]
    assert len(events(contract, "signature_password_refused")) == LIMIT

    # The other signer, behind the same address, signs.
    assert sign(other, PASSWORD).status_code == 200

    cool_off_passes()
    assert sign(task, PASSWORD).status_code == 200
    assert Task.objects.get(pk=task.pk).status == TaskStatus.DONE


def test_wrong_log_in_passwords_also_lock_the_signing_out(contract, signing):
    task, _ = signing
    for _ in range(LIMIT):
        log_in(Client(), reverse("login"), task.owner.username, "devine")

    response = sign(task, PASSWORD)

    assert response.status_code == 429
    assert Task.objects.get(pk=task.pk).status == TaskStatus.ASSIGNED
    assert [e.data["lockout"] for e in events(contract, "signature_locked")] == ["refused"]


def test_the_task_page_refuses_a_locked_out_signing_with_the_message(contract, signing):
    task, _ = signing
    for _ in range(LIMIT):
        sign(task, "devine")
    client = Client()
    client.force_login(task.owner)

    response = client.post(
        reverse("workflows:task_detail", args=[task.pk]),
        {"decision": "sign", "password": PASSWORD, "consent": "on"},
    )

    assert response.status_code == 429
    assert "réessayez dans" in response.content.decode()


# --- Redis away ---------------------------------------------------------------------------------


REDIS_DOWN = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    }
}


def test_the_api_token_answers_without_redis_and_is_still_throttled(coordinator):
    FALLBACK_CACHE.clear()
    with override_settings(CACHES=REDIS_DOWN):
        right = APIClient().post(TOKEN_URL, {"username": "coordinatrice", "password": PASSWORD})
        wrong = APIClient().post(TOKEN_URL, {"username": "coordinatrice", "password": "x"})
        for n in range(8):  # ten attempts a minute in all (ACCORD_LOGIN_RATE)
            APIClient().post(TOKEN_URL, {"username": f"guess-{n}", "password": "x"})
        throttled = APIClient().post(TOKEN_URL, {"username": "coordinatrice", "password": PASSWORD})
    FALLBACK_CACHE.clear()

    assert right.status_code == 200
    assert wrong.status_code == 400
    assert throttled.status_code == 429
    assert int(throttled["Retry-After"]) > 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_the_lockout_page_comes_through_the_asgi_stack_too(async_client):
    """Production serves ASGI: django-axes' middleware takes its asynchronous path there."""
    await sync_to_async(UserFactory)(username="camille")
    for _ in range(LIMIT):
        await async_client.post(reverse("login"), {"username": "camille", "password": "devine"})

    response = await async_client.post(
        reverse("login"), {"username": "camille", "password": PASSWORD}
    )

    assert response.status_code == 429
    assert "réessayez dans 15" in response.content.decode()
