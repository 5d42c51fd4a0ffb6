"""Log-in protection (django-axes): failed passwords counted per account and per address, each
with its own limit, and a lockout for a cool-off once one is reached.

Every password and two-factor code Accord checks goes through it: the pages' log-in (the
admin's leads there) and the API's token (Django's ``authenticate`` with the request,
AxesStandaloneBackend first); the log-in's second step, the password and code typed again to
sign and the password that removes an authenticator (``credential_allowed`` and
``credential_failed`` below). A wrong code counts as a wrong password.
"""

from __future__ import annotations

import math
from datetime import datetime

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_client_username, get_cool_off, get_lockout_parameters
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Max, Sum
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import ngettext
from rest_framework.throttling import BaseThrottle

# Where a failed signing password is said to come from, in django-axes' records.
SIGNING_PATH = "signature"
# And a password typed to remove an authenticator (workflows.services.account).
ACCOUNT_PATH = "compte"


def client_ip_address(request: HttpRequest) -> str:
    """The client's address as the API's log-in throttle and a signature's evidence read it:
    REMOTE_ADDR, or X-Forwarded-For behind ACCORD_TRUSTED_PROXIES trusted proxies."""
    return BaseThrottle().get_ident(request) or ""  # type: ignore[arg-type]  # reads META only


def lockout_parameters(request_or_attempt, credentials: dict | None = None) -> list[str]:
    """What django-axes counts failures by (AXES_LOCKOUT_PARAMETERS): the account and the
    address. A log-in that names no account, ProConnect's (the provider said who it is), counts
    by address only: its failures, all of them without a user name, would otherwise pile up as
    one account's and lock every ProConnect log-in out."""
    field = settings.AXES_USERNAME_FORM_FIELD  # type: ignore[misc]  # axes.conf's
    if credentials is not None and credentials.get(field) is None:
        return ["ip_address"]
    return ["username", "ip_address"]


class AccordAxesHandler(AxesDatabaseHandler):
    """django-axes' database handler with a limit per lockout parameter: an account is locked
    after AXES_FAILURE_LIMIT failures, an address after ACCORD_LOGIN_ADDRESS_FAILURE_LIMIT
    (several people may share one address: an office, a town hall)."""

    def get_failures(self, request, credentials: dict | None = None) -> int:
        account = address = 0
        parameters = get_lockout_parameters(request, credentials)
        for parameter, attempts in zip(
            parameters, self.get_user_attempts(request, credentials), strict=True
        ):
            count = attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0
            if parameter == "ip_address":
                address = count
            else:
                account = max(account, count)
        if address >= settings.ACCORD_LOGIN_ADDRESS_FAILURE_LIMIT:
            # The address is locked: whoever logs in from it counts as over the limit.
            return max(account, settings.AXES_FAILURE_LIMIT)
        return account


def _attempts(request: HttpRequest, credentials: dict | None):
    username = get_client_username(request, credentials)
    recent = AccessAttempt.objects.filter(attempt_time__gte=get_cool_off_threshold(request))
    address = request.axes_ip_address  # type: ignore[attr-defined]  # AxesProxyHandler's
    # No user name (ProConnect's log-in): only the address counts (lockout_parameters).
    by_account = recent.none() if username is None else recent.filter(username=username)
    return by_account, recent.filter(ip_address=address)


def locked_until(request: HttpRequest, credentials: dict | None = None) -> datetime | None:
    """When the lockout that concerns this request ends at the latest (None: no cool-off)."""
    cool_off = get_cool_off(request)
    if cool_off is None:
        return None
    AxesProxyHandler.update_request(request)
    latest = [
        attempts.aggregate(latest=Max("attempt_time"))["latest"]
        for attempts in _attempts(request, credentials)
    ]
    known = [moment for moment in latest if moment is not None]
    return (max(known) if known else timezone.now()) + cool_off


def lockout_message(request: HttpRequest, credentials: dict | None = None) -> str:
    """ "Too many attempts: try again in N minutes.", N counted up from what remains."""
    until = locked_until(request, credentials)
    if until is None:
        return str(settings.AXES_PERMALOCK_MESSAGE)  # type: ignore[misc]  # axes.conf's
    minutes = max(1, math.ceil((until - timezone.now()).total_seconds() / 60))
    return ngettext(
        "Too many attempts: try again in %(minutes)d minute.",
        "Too many attempts: try again in %(minutes)d minutes.",
        minutes,
    ) % {"minutes": minutes}


def retry_after(request: HttpRequest, credentials: dict | None = None) -> int:
    """Seconds until the lockout ends, for a Retry-After header."""
    until = locked_until(request, credentials)
    if until is None:
        return 0
    return max(1, math.ceil((until - timezone.now()).total_seconds()))


# --- Passwords and codes checked outside the log-in's first step -------------------------------


def signing_request(ip_address: str, user_agent: str, path: str = SIGNING_PATH) -> HttpRequest:
    """A request as django-axes reads one, for a password or a code typed to sign (or, with
    ``path``, elsewhere by the domain, which knows the client only by its ClientInfo)."""
    request = HttpRequest()
    request.method = "POST"
    request.path = request.path_info = f"/{path}/"
    request.META.update(
        {
            "REMOTE_ADDR": ip_address,
            "HTTP_USER_AGENT": user_agent or "<unknown>",
            "PATH_INFO": request.path_info,
        }
    )
    AxesProxyHandler.update_request(request)
    # The address as the page or the API read it already (client_info): not read again.
    request.axes_ip_address = ip_address or None  # type: ignore[attr-defined]
    return request


def credential_allowed(username: str, request: HttpRequest) -> bool:
    """Whether this account may try a password or a code from this request's address."""
    return AxesProxyHandler.is_allowed(request, {"username": username})


def credential_failed(username: str, request: HttpRequest) -> bool:
    """Count a wrong password or code; True when it locks the account (or address) out."""
    AxesProxyHandler.user_login_failed(
        sender=credential_failed, credentials={"username": username}, request=request
    )
    return not credential_allowed(username, request)
