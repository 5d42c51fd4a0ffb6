"""What the pages and the API read from a request alike: the types of an authenticated
request (for type checking: views receive Django's and DRF's own request objects), and where
a decision comes from."""

from __future__ import annotations

from django.http import HttpRequest
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from .models import User
from .services import ClientInfo


class AuthenticatedHttpRequest(HttpRequest):
    """The request of a page behind ``login_required``: its user is a signed-in person."""

    user: User


class AuthenticatedRequest(Request):
    """The request of an API view behind ``IsAuthenticated``, the API's default permission."""

    user: User


def client_info(request: HttpRequest | Request) -> ClientInfo:
    """Where a decision comes from, for the evidence: the client's address as the log-in
    throttle reads it (REMOTE_ADDR, or X-Forwarded-For behind ACCORD_TRUSTED_PROXIES trusted
    proxies) and its User-Agent, cut to what the evidence keeps."""
    return ClientInfo(
        ip_address=BaseThrottle().get_ident(request) or "",  # type: ignore[arg-type]  # reads META only
        user_agent=request.META.get("HTTP_USER_AGENT", "")[: ClientInfo.USER_AGENT_MAX_LENGTH],
    )
