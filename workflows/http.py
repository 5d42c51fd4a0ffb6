"""Types of the requests the views receive, for type checking: views receive Django's and
DRF's own request objects."""

from __future__ import annotations

from django.http import HttpRequest
from rest_framework.request import Request

from .models import User


class AuthenticatedHttpRequest(HttpRequest):
    """The request of a page behind ``login_required``: its user is a signed-in person."""

    user: User


class AuthenticatedRequest(Request):
    """The request of an API view behind ``IsAuthenticated``, the API's default permission."""

    user: User
