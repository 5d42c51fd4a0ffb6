"""Logging in (two steps for whoever enrolled an authenticator app) and the account's
security page: enrol an authenticator, see its state, draw new recovery codes, remove it.

The second step: after the right password, a person with an authenticator is *not* logged in
yet; the session only remembers who passed the first step (for PENDING_MAX_AGE), and the
code page logs them in once the code is right, the session marked verified (django-otp's
``login``). A session logged in before its person enrolled is verified on the same page
(the administration sends staff there). Wrong codes count towards the log-in lockout as
wrong passwords do (``workflows.lockout``).
"""

from __future__ import annotations

import time
from base64 import b64encode
from typing import Any
from urllib.parse import urlencode

import django_otp
import qrcode
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth import login as auth_login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST
from qrcode.image.svg import SvgPathImage

from .. import lockout, two_factor
from ..errors import ApplicationError
from ..forms import LoginCodeForm, TwoFactorEnrolForm, TwoFactorRemoveForm
from ..http import AuthenticatedHttpRequest, client_info, lockout_response
from ..models import User
from ..services.account import (
    recovery_codes_regenerate,
    two_factor_enrol,
    two_factor_remove,
)

# Who passed the log-in's first step, waiting for their code (in the session).
PENDING_SESSION_KEY = "accord_two_factor_pending"
# How long the code may wait after the password, in seconds.
PENDING_MAX_AGE = 5 * 60
# The secret of an authenticator being added, until its first code confirms it.
ENROL_SESSION_KEY = "accord_two_factor_secret"

LOGIN_CODE_REFUSED = gettext_noop(
    "The code is incorrect. Check that your phone is on time, or use a recovery code."
)


def _next_url(request: HttpRequest) -> str:
    """Where to go once done: ``next`` when it stays on this site, the contracts otherwise."""
    target = request.POST.get(REDIRECT_FIELD_NAME) or request.GET.get(REDIRECT_FIELD_NAME, "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def _with_next(url: str, next_url: str) -> str:
    return f"{url}?{urlencode({REDIRECT_FIELD_NAME: next_url})}" if next_url else url


class LoginView(auth_views.LoginView):
    """Django's log-in page (django-axes counts its wrong passwords), in two steps for whoever
    enrolled an authenticator app."""

    def form_valid(self, form):
        user = form.get_user()
        if not two_factor.has_authenticator(user):
            return super().form_valid(form)
        # A new session key: whoever knew the old one does not share the pending step.
        self.request.session.cycle_key()
        self.request.session[PENDING_SESSION_KEY] = {
            "user": user.pk,
            "backend": user.backend,
            "at": time.time(),
        }
        return redirect(_with_next(reverse("login_code"), self.get_redirect_url()))


def _second_step(request: HttpRequest) -> tuple[User | None, dict[str, Any] | None]:
    """Who the code page verifies: the person who passed the password step (with the pending
    entry), or the signed-in person whose session is not verified yet."""
    if request.user.is_authenticated:
        assert isinstance(request.user, User)
        return request.user, None
    pending = request.session.get(PENDING_SESSION_KEY)
    if not isinstance(pending, dict):
        return None, None
    if time.time() - float(pending.get("at", 0)) > PENDING_MAX_AGE:
        del request.session[PENDING_SESSION_KEY]
        messages.warning(request, _("The code was not entered in time: log in again."))
        return None, None
    waiting = User.objects.filter(pk=int(pending["user"]), is_active=True).first()
    return waiting, pending if waiting is not None else None


@sensitive_post_parameters("otp")
@never_cache
def login_code(request: HttpRequest) -> HttpResponse:
    """The log-in's second step: the authenticator's code, or a recovery code."""
    next_url = _next_url(request)
    user, pending = _second_step(request)
    if user is None:
        return redirect(_with_next(reverse("login"), request.GET.get(REDIRECT_FIELD_NAME, "")))
    if pending is None and (
        request.user.is_verified() or not two_factor.has_authenticator(user)  # type: ignore[union-attr]
    ):
        return redirect(next_url)  # nothing left to verify
    form = LoginCodeForm(request.POST if request.method == "POST" else None)
    status = 200
    if form.is_bound and form.is_valid():
        credentials = {"username": user.username}
        if not lockout.credential_allowed(user.username, request):
            return lockout_response(request, credentials=credentials)
        device = two_factor.verify(user, form.cleaned_data["otp"])
        if device is not None:
            if pending is not None:
                del request.session[PENDING_SESSION_KEY]
                auth_login(request, user, backend=pending["backend"])
            django_otp.login(request, device)
            if two_factor.factor_of(device) == "recovery_code":
                _warn_recovery_codes_left(request, user)
            return redirect(next_url)
        if lockout.credential_failed(user.username, request):
            return lockout_response(request, credentials=credentials)
        form.add_error("otp", _(LOGIN_CODE_REFUSED))
    if form.is_bound:
        status = 400
    return render(
        request,
        "registration/login_code.html",
        {"form": form, "next": next_url, "person": user},
        status=status,
    )


def _warn_recovery_codes_left(request: HttpRequest, user: User) -> None:
    left = two_factor.recovery_codes_left(user)
    messages.warning(
        request,
        _(
            "You logged in with a recovery code, which cannot be used again; %(count)d left. "
            "Draw new ones on your account security page if you lost your authenticator."
        )
        % {"count": left},
    )


# --- The account's security page ----------------------------------------------------------------


def _security_context(user: User) -> dict[str, Any]:
    return {
        "authenticator": two_factor.authenticator(user),
        "recovery_codes_left": two_factor.recovery_codes_left(user),
        "signing_requires_code": two_factor.signing_requires_code(),
    }


@login_required
def account_security(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Two-factor authentication: whether it is set up, and what to do about it."""
    return render(
        request,
        "workflows/account/security.html",
        {**_security_context(request.user), "remove_form": TwoFactorRemoveForm()},
    )


def _qr_code(uri: str) -> str:
    """The provisioning URI as an SVG QR code, in a data: URI for an <img> (no script)."""
    image = qrcode.make(uri, image_factory=SvgPathImage, border=2)
    return "data:image/svg+xml;base64," + b64encode(image.to_string()).decode("ascii")


@never_cache
@login_required
def account_two_factor_enrol(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Add an authenticator app: its secret (QR code, or to type), then its first code; the
    recovery codes are shown once, on the answer to that code."""
    user = request.user
    next_url = request.POST.get(REDIRECT_FIELD_NAME) or request.GET.get(REDIRECT_FIELD_NAME, "")
    if two_factor.has_authenticator(user):
        messages.info(request, _("Two-factor authentication is already set up."))
        return redirect("workflows:account_security")
    secret = request.session.get(ENROL_SESSION_KEY) or two_factor.new_secret()
    request.session[ENROL_SESSION_KEY] = secret
    form = TwoFactorEnrolForm(request.POST if request.method == "POST" else None)
    status = 200
    if form.is_bound:
        status = 400
        if form.is_valid():
            try:
                device, codes = two_factor_enrol(
                    user=user, secret=secret, code=form.cleaned_data["code"]
                )
            except ApplicationError as exc:
                form.add_error("code", exc.message)
                status = exc.status_code
            else:
                del request.session[ENROL_SESSION_KEY]
                django_otp.login(request, device)  # this session passed the second step
                messages.success(request, _("Two-factor authentication is set up."))
                return _recovery_codes_page(
                    request, codes, next_url=_next_url(request) if next_url else ""
                )
    return render(
        request,
        "workflows/account/enrol.html",
        {
            "form": form,
            "secret": two_factor.secret_for_humans(secret),
            "qr_code": _qr_code(two_factor.provisioning_uri(user, secret)),
            "next": next_url,
            "signing_requires_code": two_factor.signing_requires_code(),
        },
        status=status,
    )


def _recovery_codes_page(request: HttpRequest, codes: list[str], *, next_url: str) -> HttpResponse:
    response = render(
        request,
        "workflows/account/recovery_codes.html",
        {"codes": codes, "next": next_url},
    )
    add_never_cache_headers(response)  # shown once: no copy in any cache
    return response


@require_POST
@login_required
def account_recovery_codes(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Draw new recovery codes (the previous ones stop working), shown once."""
    try:
        codes = recovery_codes_regenerate(user=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("workflows:account_security")
    messages.success(request, _("New recovery codes were drawn: the previous ones no longer work."))
    return _recovery_codes_page(request, codes, next_url="")


@sensitive_post_parameters("password")
@require_POST
@login_required
def account_two_factor_remove(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Remove the authenticator and the recovery codes, with the password again."""
    form = TwoFactorRemoveForm(request.POST)
    status = 400
    if form.is_valid():
        try:
            two_factor_remove(
                user=request.user,
                password=form.cleaned_data["password"],
                client=client_info(request),
            )
        except ApplicationError as exc:
            form.add_error("password", exc.message)
            status = exc.status_code
        else:
            request.session.pop(django_otp.DEVICE_ID_SESSION_KEY, None)
            messages.success(request, _("Two-factor authentication was removed from your account."))
            return redirect("workflows:account_security")
    return render(
        request,
        "workflows/account/security.html",
        {**_security_context(request.user), "remove_form": form},
        status=status,
    )
