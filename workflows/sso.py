"""Single sign-on through ProConnect, the French public agents' identity federation (OpenID
Connect, authorization code flow, with mozilla-django-oidc).

Off unless ``ACCORD_OIDC_CLIENT_ID`` is set (``settings.ACCORD_OIDC_ENABLED``): the log-in page
shows no ProConnect button and the pages below answer 404. When on:

- ``/connexion/proconnect/`` sends the browser to the provider with a fresh state and nonce
  (kept in the session), the scopes and the eIDAS level asked for (``acr_values``);
- ``/connexion/proconnect/retour/`` checks the state, exchanges the code for the tokens, checks
  the ID token (signature with the provider's keys, issuer, audience, expiry, nonce), reads the
  userinfo (a JWT signed like the ID token, checked the same way, for the same ``sub``), and logs
  in the one active Accord account with that e-mail address, compared without case. Nobody is
  created: an unknown address, one shared by several accounts or a deactivated account is
  refused with a message saying what to do;
- logging out of an account that came through ProConnect goes on to the provider's
  end_session endpoint with the ID token as ``id_token_hint``, and back to the log-in page.

The log-in goes through Django's ``authenticate`` with the request: django-axes' backend,
first, refuses a locked-out address; a failure Django signals (``user_login_failed``: no
backend logged the callback in) counts towards the address only
(``workflows.lockout.lockout_parameters``), a refusal (``Refused``) towards nothing, being no
guess of anything; a success is recorded as a password log-in is (``user_logged_in``:
django-axes' access log, ``last_login``). Every call to the provider has ``OIDC_TIMEOUT``, and
none is made inside a database transaction.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any
from urllib.parse import urlencode

import jwt
import requests
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth import views as auth_views
from django.core.exceptions import SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from .backends import session_person
from .views import account

logger = logging.getLogger(__name__)

# Where the provider sends the browser back to; registered with the provider as they are.
CALLBACK_URL_NAME = "proconnect_callback"
POST_LOGOUT_URL_NAME = "login"


def enabled() -> bool:
    return bool(settings.ACCORD_OIDC_ENABLED)


def _absolute(url_name: str) -> str:
    """The address registered with the provider: Accord's public one (ACCORD_BASE_URL), not the
    request's, which a reverse proxy may turn into http:// or an inner host name."""
    return settings.ACCORD_BASE_URL.rstrip("/") + reverse(url_name)


def redirect_uri() -> str:
    return _absolute(CALLBACK_URL_NAME)


def post_logout_redirect_uri() -> str:
    return _absolute(POST_LOGOUT_URL_NAME)


class Refused(Exception):
    """The provider said who the person is, and Accord does not let them in: the message says
    why and what to do."""


def unknown_email_message(email: str) -> str:
    return _(
        "The e-mail address %(email)s has no Accord account. Ask the coordinator of your "
        "contract to create your account with this address, or log in with your user name."
    ) % {"email": email}


def shared_email_message(email: str) -> str:
    return _(
        "Several Accord accounts have the e-mail address %(email)s: ProConnect cannot tell "
        "which one is yours. Log in with your user name, or ask your administrator."
    ) % {"email": email}


def inactive_message() -> str:
    return _(
        "Your Accord account is deactivated. Ask the coordinator of your contract or your "
        "administrator."
    )


def failed_message() -> str:
    return _(
        "The log-in with ProConnect did not succeed. Try again, or log in with your user name "
        "and password."
    )


class ProConnectBackend(OIDCAuthenticationBackend):
    """mozilla-django-oidc's backend, matching accounts by e-mail address and creating none;
    the tokens checked for this provider and this client."""

    def authenticate(self, request: HttpRequest | None, **credentials: Any):
        # Django asks every backend about every log-in, passwords included: only the callback
        # view passes a nonce, and only its request carries a code worth exchanging.
        if request is None or "nonce" not in credentials:
            return None
        return super().authenticate(request, **credentials)

    def get_token(self, payload: dict) -> dict:
        # The redirect_uri the authorization request sent (the registered one), not the
        # request's own address.
        return super().get_token({**payload, "redirect_uri": redirect_uri()})

    def get_payload_data(self, token: str | bytes, key: Any) -> dict:
        """The claims of a JWT from the provider (the ID token, the userinfo): signed with the
        registered algorithm, by this issuer, for this client, not expired."""
        try:
            return jwt.decode(
                token,
                key,
                algorithms=[self.OIDC_RP_SIGN_ALGO],
                audience=self.OIDC_RP_CLIENT_ID,
                issuer=settings.ACCORD_OIDC_ISSUER,
                options={"require": ["iss", "aud"]},
            )
        except jwt.InvalidTokenError as error:
            raise SuspiciousOperation(f"ProConnect token refused: {error}") from error

    def get_userinfo(self, access_token: str, id_token: str, payload: dict) -> dict:
        claims = super().get_userinfo(access_token, id_token, payload)
        if claims.get("sub") != payload.get("sub"):
            raise SuspiciousOperation(
                "ProConnect's userinfo is about another sub than its ID token"
            )
        return claims

    def get_or_create_user(self, access_token: str, id_token: str, payload: dict):
        """The one account with the e-mail address the provider gives, active; none created."""
        claims = self.get_userinfo(access_token, id_token, payload)
        email = str(claims.get("email") or "").strip()
        if not email:
            raise Refused(failed_message())
        accounts = list(get_user_model().objects.filter(email__iexact=email)[:2])
        if not accounts:
            logger.info("ProConnect log-in refused: no account has the address %s", email)
            raise Refused(unknown_email_message(email))
        if len(accounts) > 1:
            logger.warning("ProConnect log-in refused: several accounts have the address %s", email)
            raise Refused(shared_email_message(email))
        account = accounts[0]
        if not self.user_can_authenticate(account):
            logger.info("ProConnect log-in refused: the account %s is inactive", account.pk)
            raise Refused(inactive_message())
        return account

    def get_user(self, user_id):
        # As a password log-in's: a deactivated account's session ends (mozilla-django-oidc's
        # keeps it), and the person is read with their organisation.
        return session_person(user_id)


class ProConnectStartView(OIDCAuthenticationRequestView):
    """Sends the browser to the provider (GET, from the log-in page's button)."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not enabled():
            raise Http404
        return super().dispatch(request, *args, **kwargs)

    def get_extra_params(self, request: HttpRequest) -> dict[str, str]:
        params = {"redirect_uri": redirect_uri()}
        if settings.ACCORD_OIDC_ACR_VALUES:
            params["acr_values"] = settings.ACCORD_OIDC_ACR_VALUES
        return params


# What the provider's answer may fail with, besides a refusal: the provider away or slow
# (requests' errors, timeouts included), a state or a token that does not check out
# (SuspiciousOperation, PyJWT's errors), an answer of the wrong shape.
PROVIDER_FAILURES = (
    requests.RequestException,
    SuspiciousOperation,
    jwt.PyJWTError,
    KeyError,
    TypeError,
    ValueError,
)


class ProConnectCallbackView(OIDCAuthenticationCallbackView):
    """Where the provider sends the browser back: the person logged in, or back on the log-in
    page with a message saying why not. Never a 500 for what the provider answered."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not enabled():
            raise Http404
        return super().dispatch(request, *args, **kwargs)

    def get(self, request: HttpRequest) -> HttpResponse:
        try:
            return super().get(request)
        except Refused as refusal:
            return self._back_to_log_in(str(refusal))
        except PROVIDER_FAILURES as error:
            logger.warning("ProConnect log-in failed: %r", error)
            return self._back_to_log_in(failed_message())

    def login_failure(self) -> HttpResponse:
        if self.request.GET.get("error"):
            logger.info(
                "ProConnect answered %s: %s",
                self.request.GET["error"],
                self.request.GET.get("error_description", ""),
            )
        return self._back_to_log_in(failed_message())

    def _back_to_log_in(self, message: str) -> HttpResponse:
        messages.error(self.request, message)
        return HttpResponseRedirect(reverse("login"))


class LoginView(account.LoginView):
    """The log-in page (its password and code steps), with the ProConnect button when single
    sign-on is on."""

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), "proconnect": enabled()}


class LogoutView(auth_views.LogoutView):
    """Django's log-out; after an account that came through ProConnect, on to the provider's
    end_session endpoint (a redirect: the provider's own session cookies end too)."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        end_session = end_session_url(request)
        response = super().post(request, *args, **kwargs)
        return HttpResponseRedirect(end_session) if end_session else response


def end_session_url(request: HttpRequest) -> str | None:
    """The provider's log-out for this session, or None when it did not log in through it."""
    id_token = request.session.get("oidc_id_token") if enabled() else None
    if not id_token:
        return None
    query = urlencode(
        {
            "id_token_hint": id_token,
            # Required by ProConnect, sent back to the log-in page, where nothing is left to
            # protect: the Accord session has already ended.
            "state": secrets.token_urlsafe(32),
            "post_logout_redirect_uri": post_logout_redirect_uri(),
        }
    )
    return f"{settings.ACCORD_OIDC_END_SESSION_ENDPOINT}?{query}"
