"""Single sign-on through ProConnect, around the provider: off unless configured, the request
sent to the provider, the password log-in beside it, the log-out, a callback that does not
check out, and django-axes' counting. The full flow against a real provider is in
tests/browser/test_proconnect.py."""

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from axes.handlers.proxy import AxesProxyHandler
from axes.models import AccessAttempt
from django.conf import settings as django_settings
from django.contrib.auth.signals import user_login_failed
from django.test import Client
from django.urls import reverse

from tests.factories import PASSWORD, UserFactory
from tests.oidc.provider import sso_settings
from workflows import lockout

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
ISSUER = "https://proconnect.example/api/v2"
BASE_URL = "https://accord.example.org"
# Nothing listens there: a call to the provider would fail the test with an error page.
UNREACHABLE = "http://127.0.0.1:9"
RSQ = "\N{RIGHT SINGLE QUOTATION MARK}"
FAILED = f"La connexion avec ProConnect n{RSQ}a pas abouti."


@pytest.fixture
def proconnect(settings):
    for name, value in sso_settings(
        issuer=ISSUER, client_id="accord", client_secret="s3cret", base_url=BASE_URL
    ).items():
        setattr(settings, name, value)
    settings.OIDC_OP_TOKEN_ENDPOINT = f"{UNREACHABLE}/token"
    settings.OIDC_OP_USER_ENDPOINT = f"{UNREACHABLE}/userinfo"
    settings.OIDC_OP_JWKS_ENDPOINT = f"{UNREACHABLE}/jwks"


def messages_of(response) -> str:
    return " ".join(str(message) for message in response.context["messages"])


# --- Off unless configured ----------------------------------------------------------------------


def test_off_by_default_the_log_in_page_has_no_proconnect_button_and_its_pages_are_404():
    assert not django_settings.ACCORD_OIDC_ENABLED
    assert "workflows.sso.ProConnectBackend" not in django_settings.AUTHENTICATION_BACKENDS
    client = Client()

    page = client.get(reverse("login")).content.decode()

    assert "ProConnect" not in page
    assert client.get(reverse("proconnect_start")).status_code == 404
    callback = client.get(reverse("proconnect_callback"), {"code": "c", "state": "s"})
    assert callback.status_code == 404


def test_a_client_id_without_its_secret_and_issuer_stops_accord_at_start():
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("ACCORD_OIDC_", "DATABASE_URL"))
    }
    env["ACCORD_OIDC_CLIENT_ID"] = "accord"

    started = subprocess.run(
        [sys.executable, "-c", "import config.settings"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )

    assert started.returncode == 1
    assert (
        "ACCORD_OIDC_CLIENT_ID is set (single sign-on on): set ACCORD_OIDC_CLIENT_SECRET and "
        "ACCORD_OIDC_ISSUER too." in started.stderr
    )


# --- On -------------------------------------------------------------------------------------


def test_the_button_sends_the_browser_to_proconnect_with_state_nonce_scopes_and_eidas1(proconnect):
    client = Client()
    page = client.get(reverse("login"), {"next": "/taches/"}).content.decode()
    assert f'S{RSQ}identifier avec</span> <span class="proconnect-button__brand">ProConnect' in page
    assert 'href="/connexion/proconnect/?next=/taches/"' in page

    response = client.get(reverse("proconnect_start"), {"next": "/taches/"})

    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{ISSUER}/authorize"
    query = {name: values[0] for name, values in parse_qs(location.query).items()}
    assert query.keys() == {
        "response_type",
        "client_id",
        "redirect_uri",
        "scope",
        "state",
        "nonce",
        "acr_values",
    }  # ProConnect refuses any other parameter (no PKCE)
    assert query["response_type"] == "code"
    assert query["client_id"] == "accord"
    # Accord's public address, whatever host the request came through.
    assert query["redirect_uri"] == f"{BASE_URL}/connexion/proconnect/retour/"
    assert query["scope"] == "openid email given_name usual_name"
    assert query["acr_values"] == "eidas1"
    assert len(query["state"]) >= 32
    assert len(query["nonce"]) >= 32
    assert client.session["oidc_states"][query["state"]]["nonce"] == query["nonce"]


def test_a_password_log_in_beside_it_never_calls_the_provider(proconnect):
    UserFactory(username="camille")
    client = Client()
    # A code and a state in the address of a password log-in are not a ProConnect callback.
    url = reverse("login") + "?code=forged&state=forged"

    wrong = client.post(url, {"username": "camille", "password": "devine"})
    right = client.post(url, {"username": "camille", "password": PASSWORD})

    assert wrong.status_code == 200
    assert right.status_code == 302
    assert client.session["_auth_user_id"]


def test_a_callback_without_a_state_of_this_session_is_a_message(proconnect):
    client = Client()
    client.get(reverse("proconnect_start"))  # a state of its own in the session

    forged = client.get(
        reverse("proconnect_callback"), {"code": "c", "state": "not-this-one"}, follow=True
    )
    stray = Client().get(reverse("proconnect_callback"), {"code": "c", "state": "s"}, follow=True)

    for response in (forged, stray):
        assert response.redirect_chain == [(reverse("login"), 302)]
        assert FAILED in messages_of(response)
        assert "_auth_user_id" not in response.client.session


def test_the_provider_away_at_the_token_step_is_a_message_not_a_500(proconnect):
    client = Client()
    start = client.get(reverse("proconnect_start"))
    state = parse_qs(urlsplit(start["Location"]).query)["state"][0]

    response = client.get(
        reverse("proconnect_callback"), {"code": "c", "state": state}, follow=True
    )

    assert response.redirect_chain == [(reverse("login"), 302)]
    assert FAILED in messages_of(response)
    # The state is used up: the same answer again is refused too.
    again = client.get(reverse("proconnect_callback"), {"code": "c", "state": state}, follow=True)
    assert FAILED in messages_of(again)


def test_logging_out_after_a_password_log_in_stays_in_accord(proconnect):
    UserFactory(username="camille")
    client = Client()
    client.post(reverse("login"), {"username": "camille", "password": PASSWORD})

    response = client.post(reverse("logout"))

    assert response.status_code == 302
    assert response["Location"] == reverse("login")


def test_logging_out_after_proconnect_goes_on_to_its_end_session_endpoint(proconnect):
    camille = UserFactory(username="camille")
    client = Client()
    client.force_login(camille, backend="workflows.sso.ProConnectBackend")
    session = client.session
    session["oidc_id_token"] = "the.id.token"
    session.save()

    response = client.post(reverse("logout"))

    location = urlsplit(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{ISSUER}/session/end"
    query = {name: values[0] for name, values in parse_qs(location.query).items()}
    assert query["id_token_hint"] == "the.id.token"
    assert query["post_logout_redirect_uri"] == f"{BASE_URL}/connexion/"
    assert len(query["state"]) >= 32
    assert "_auth_user_id" not in client.session


# --- django-axes ------------------------------------------------------------------------------


def _failed_proconnect_log_in(ip_address: str) -> None:
    """What Django signals when no backend logs the ProConnect callback in: no user name."""
    request = lockout.signing_request(ip_address, "Firefox")
    user_login_failed.send(
        sender=__name__, credentials={"nonce": "n", "code_verifier": None}, request=request
    )


def test_proconnect_failures_count_by_address_only_and_never_lock_proconnect_out_for_all():
    for n in range(django_settings.AXES_FAILURE_LIMIT + 2):
        _failed_proconnect_log_in(f"198.51.100.{n}")

    elsewhere = lockout.signing_request("203.0.113.9", "Firefox")
    assert AxesProxyHandler.is_allowed(elsewhere, {"username": None, "nonce": "n"})
    assert set(AccessAttempt.objects.values_list("username", flat=True)) == {None}
    # Password log-ins count per account and per address as before.
    assert lockout.lockout_parameters(elsewhere, {"username": "camille"}) == [
        "username",
        "ip_address",
    ]
