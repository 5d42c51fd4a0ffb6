"""Logging in to the API with a token, and what an unauthenticated caller gets."""

import pytest
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token/"
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


@pytest.fixture(autouse=True)
def _fresh_login_throttle():
    """Login attempts are counted in the cache: every test starts with none."""
    cache.clear()
    yield
    cache.clear()


def test_a_user_gets_a_token_for_a_username_and_password(api_client, coordinator):
    response = api_client.post(
        TOKEN_URL, {"username": "coordinatrice", "password": PASSWORD}, format="json"
    )

    assert response.status_code == 200
    assert response.json() == {"token": Token.objects.get(user=coordinator).key}


def test_the_same_token_comes_back_on_a_second_login(api_client, coordinator):
    credentials = {"username": "coordinatrice", "password": PASSWORD}
    first = api_client.post(TOKEN_URL, credentials, format="json").json()["token"]

    second = api_client.post(TOKEN_URL, credentials, format="json").json()["token"]

    assert first == second


def test_a_wrong_password_gets_400_and_no_token(api_client, coordinator):
    response = api_client.post(
        TOKEN_URL, {"username": "coordinatrice", "password": "wrong"}, format="json", **EN
    )

    assert response.status_code == 400
    assert response.json() == {
        "detail": "Unable to log in with provided credentials.",
        "errors": ["Unable to log in with provided credentials."],
    }
    assert not Token.objects.exists()


def test_a_login_without_password_names_the_missing_field(api_client, coordinator):
    response = api_client.post(TOKEN_URL, {"username": "coordinatrice"}, format="json", **EN)

    assert response.status_code == 400
    assert response.json()["errors"] == ["password: This field is required."]


def test_a_stale_token_header_does_not_prevent_logging_in(api_client, coordinator):
    api_client.credentials(HTTP_AUTHORIZATION="Token not-a-valid-token")

    response = api_client.post(
        TOKEN_URL, {"username": "coordinatrice", "password": PASSWORD}, format="json"
    )

    assert response.status_code == 200


def test_login_attempts_are_throttled_after_ten_a_minute(api_client, coordinator):
    # Ten accounts guessed once each: the throttle, not an account's lockout (test_lockout.py).
    for n in range(10):
        response = api_client.post(
            TOKEN_URL, {"username": f"guess-{n}", "password": "guess"}, format="json"
        )
        assert response.status_code == 400

    response = api_client.post(
        TOKEN_URL, {"username": "coordinatrice", "password": PASSWORD}, format="json", **EN
    )

    assert response.status_code == 429
    assert response.json()["detail"].startswith("Request was throttled.")
    assert response.json()["errors"] == []
    assert int(response["Retry-After"]) > 0


def test_a_made_up_forwarded_for_header_does_not_dodge_the_throttle(api_client, coordinator):
    for n in range(10):
        api_client.post(
            TOKEN_URL,
            {"username": f"guess-{n}", "password": "guess"},
            format="json",
            HTTP_X_FORWARDED_FOR=f"203.0.113.{n}",
        )

    response = api_client.post(
        TOKEN_URL,
        {"username": "coordinatrice", "password": PASSWORD},
        format="json",
        HTTP_X_FORWARDED_FOR="203.0.113.99",
    )

    assert response.status_code == 429


def test_the_token_authenticates_later_requests(api_client, coordinator, contract):
    token = api_client.post(
        TOKEN_URL, {"username": "coordinatrice", "password": PASSWORD}, format="json"
    ).json()["token"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")

    response = api_client.get("/api/v1/contracts/")

    assert response.status_code == 200
    assert [item["reference"] for item in response.json()] == [contract.reference]


def test_an_unauthenticated_request_gets_401_with_the_error_shape(api_client, contract):
    response = api_client.get("/api/v1/contracts/", **EN)

    assert response.status_code == 401
    assert response.json() == {
        "detail": "Authentication credentials were not provided.",
        "errors": [],
    }
    assert response["WWW-Authenticate"] == "Token"


def test_an_unauthenticated_transition_gets_401_not_403(api_client, contract):
    response = api_client.post(f"/api/v1/contracts/{contract.pk}/transitions/launch_review/", **EN)

    assert response.status_code == 401
    assert response.json()["detail"] == "Authentication credentials were not provided."


def test_an_unknown_token_gets_401(api_client, contract):
    api_client.credentials(HTTP_AUTHORIZATION="Token 0123456789abcdef")

    response = api_client.get("/api/v1/contracts/", **EN)

    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token.", "errors": []}


def test_a_browser_session_works_for_reading(coordinator, contract):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(coordinator)

    response = client.get(f"/api/v1/contracts/{contract.pk}/")

    assert response.status_code == 200


def test_a_browser_session_must_send_the_csrf_token_to_change_anything(coordinator, contract):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(coordinator)

    response = client.post(
        f"/api/v1/contracts/{contract.pk}/transitions/suspend/",
        {"reason": "Élections municipales"},
        format="json",
        **EN,
    )

    assert response.status_code == 403
    assert response.json()["detail"].startswith("CSRF Failed")
    contract.refresh_from_db()
    assert contract.status == "draft"
