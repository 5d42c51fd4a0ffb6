"""Logging in with ProConnect, in a real browser, against a real OpenID provider (panva's
oidc-provider shaped like ProConnect, tests/oidc/): the button, the provider's log-in page,
the way back, who gets in and who is told why not, and the log-out at the provider."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from axes.models import AccessAttempt, AccessLog
from django.urls import reverse
from playwright.sync_api import expect

from tests.factories import UserFactory
from tests.oidc.provider import OpenIDProvider, running_provider
from workflows.models import User

NBSP = "\N{NO-BREAK SPACE}"
RSQ = "\N{RIGHT SINGLE QUOTATION MARK}"
BUTTON = f"S{RSQ}identifier avec ProConnect"


@pytest.fixture(scope="session")
def openid_provider(live_server) -> Iterator[OpenIDProvider]:
    with running_provider(live_server.url) as provider:
        yield provider


@pytest.fixture
def proconnect(openid_provider, live_server, settings) -> OpenIDProvider:
    """Single sign-on on, with the test's provider as ProConnect."""
    for name, value in openid_provider.settings_for(live_server.url).items():
        setattr(settings, name, value)
    return openid_provider


def log_in_at_the_provider(page, email: str) -> None:
    """From Accord's log-in page: the button, then the provider's own log-in page."""
    page.get_by_role("link", name=BUTTON, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Connexion à ProConnect (test)")
    page.get_by_label("Adresse électronique professionnelle").fill(email)
    page.get_by_role("button", name="Continuer").click()


def refusal(page):
    expect(page).to_have_url(re.compile(re.escape(reverse("login")) + "$"))
    expect(page.locator(".signed-in")).to_have_count(0)
    return page.get_by_role("alert")


def test_an_agent_logs_in_with_proconnect_lands_on_their_tasks_and_logs_out_there_too(
    page, live_server, proconnect
):
    agent = UserFactory(
        username="claire", first_name="Claire", last_name="Martin", email="claire.martin@ars.fr"
    )
    provider_requests: list[str] = []
    page.on(
        "request",
        lambda request: (
            provider_requests.append(request.url)
            if request.url.startswith(proconnect.issuer)
            else None
        ),
    )

    # A link to the inbox, followed while logged out: the log-in page, then ProConnect.
    page.goto(reverse("workflows:inbox"))
    expect(page.get_by_role("link", name=f"Qu{RSQ}est-ce que ProConnect{NBSP}?")).to_have_attribute(
        "target", "_blank"
    )
    # The address the provider gives is compared without case.
    log_in_at_the_provider(page, "Claire.Martin@ARS.fr")

    expect(page).to_have_url(live_server.url + reverse("workflows:inbox"))
    expect(page.locator(".signed-in")).to_contain_text("Claire Martin")
    authorization = next(url for url in provider_requests if "/authorize?" in url)
    assert "acr_values=eidas1" in authorization
    assert "scope=openid+email+given_name+usual_name" in authorization
    assert re.search(r"[?&]state=[^&]{32,}", authorization)
    assert re.search(r"[?&]nonce=[^&]{32,}", authorization)
    assert "code_challenge" not in authorization
    # Recorded as a password log-in is: django-axes' access log, the last log-in.
    assert AccessLog.objects.filter(username="claire").count() == 1
    agent.refresh_from_db()
    assert agent.last_login is not None

    page.get_by_role("button", name="Se déconnecter").click()

    # Logged out at the provider too (with the ID token as a hint), and back on the log-in page.
    expect(page.get_by_role("heading", level=1)).to_have_text("Se connecter à Accord")
    expect(page.locator(".signed-in")).to_have_count(0)
    end_session = next(url for url in provider_requests if "/session/end?" in url)
    assert "id_token_hint=" in end_session
    assert "post_logout_redirect_uri=" in end_session
    # The provider's session has ended: the button asks who is there again.
    log_in_at_the_provider(page, "claire.martin@ars.fr")
    expect(page.locator(".signed-in")).to_contain_text("Claire Martin")


def test_an_address_without_an_account_is_told_to_ask_its_coordinator_and_nobody_is_created(
    page, live_server, proconnect
):
    UserFactory(username="claire", email="claire.martin@ars.fr")
    people = User.objects.count()
    page.goto(reverse("login"))

    log_in_at_the_provider(page, "paul.durand@caf.fr")

    expect(refusal(page)).to_contain_text(
        f"L{RSQ}adresse électronique paul.durand@caf.fr n{RSQ}a pas de compte Accord. "
        "Demandez à la coordination de votre contrat de créer votre compte avec cette adresse"
    )
    assert User.objects.count() == people
    assert not AccessLog.objects.exists()


def test_a_deactivated_account_is_refused(page, live_server, proconnect):
    UserFactory(username="claire", email="claire.martin@ars.fr", is_active=False)
    page.goto(reverse("login"))

    log_in_at_the_provider(page, "claire.martin@ars.fr")

    expect(refusal(page)).to_contain_text("Votre compte Accord est désactivé.")
    assert not AccessLog.objects.exists()


def test_a_log_in_cancelled_at_the_provider_comes_back_with_a_message(
    page, live_server, proconnect
):
    page.goto(reverse("login"))
    page.get_by_role("link", name=BUTTON, exact=True).click()

    page.get_by_role("button", name="Annuler").click()

    expect(refusal(page)).to_contain_text(f"La connexion avec ProConnect n{RSQ}a pas abouti.")


def test_the_provider_out_of_reach_is_a_message_not_an_error_page(
    page, live_server, proconnect, settings
):
    UserFactory(username="claire", email="claire.martin@ars.fr")
    # The token endpoint refuses connections: the code cannot be exchanged.
    settings.OIDC_OP_TOKEN_ENDPOINT = "http://127.0.0.1:9/token"
    page.goto(reverse("login"))

    log_in_at_the_provider(page, "claire.martin@ars.fr")

    expect(refusal(page)).to_contain_text(f"La connexion avec ProConnect n{RSQ}a pas abouti.")


def test_a_locked_out_address_cannot_log_in_with_proconnect_either(
    page, live_server, proconnect, settings
):
    UserFactory(username="claire", email="claire.martin@ars.fr")
    settings.ACCORD_LOGIN_ADDRESS_FAILURE_LIMIT = 3
    AccessAttempt.objects.create(
        username="someone",
        ip_address="127.0.0.1",
        user_agent="test",
        failures_since_start=3,
        get_data="",
        post_data="",
        http_accept="",
        path_info="/connexion/",
    )
    page.goto(reverse("login"))

    log_in_at_the_provider(page, "claire.martin@ars.fr")

    expect(page.get_by_role("heading", level=1)).to_have_text(f"Trop d{RSQ}essais")
    expect(page.locator(".signed-in")).to_have_count(0)
    assert not AccessLog.objects.exists()
