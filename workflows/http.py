"""What the pages and the API read from a request alike: the types of an authenticated
request (for type checking: views receive Django's and DRF's own request objects), and where
a decision comes from."""

from __future__ import annotations

import re

from django.conf import settings
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from . import lockout
from .contract_file import EXPORT_FORMATS, contract_file_of, contract_file_text
from .errors import AttachmentTooLarge
from .models import Attachment, Contract, User
from .services import ClientInfo
from .services.attachments import ATTACHMENT_TOO_LARGE

# Room for the multipart envelope (boundaries, headers, the other fields) around a file.
MULTIPART_OVERHEAD_BYTES = 64 * 1024


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


def contract_file_response(contract: Contract, file_format: str) -> HttpResponse:
    """The contract as a contract file to download, ``<reference>.json`` or ``.yaml``: the same
    answer for the page's link and the API. A read: nothing is recorded."""
    text = contract_file_text(contract_file_of(contract), file_format)
    response = HttpResponse(
        text.encode("utf-8"), content_type=f"{EXPORT_FORMATS[file_format]}; charset=utf-8"
    )
    name = re.sub(r"[^\w.-]+", "-", contract.reference, flags=re.ASCII).strip("-.") or "contrat"
    response["Content-Disposition"] = f'attachment; filename="{name}.{file_format}"'
    return response


def refuse_oversized_attachment(request: HttpRequest | Request) -> None:
    """413 for a request whose declared length exceeds an attachment's limit and its envelope,
    before its body is read (Django reads no body without a valid length); the service then
    applies the exact limit to the file, whose size Django knows before anyone reads it."""
    limit = settings.ACCORD_ATTACHMENT_MAX_BYTES
    try:
        size = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        size = 0
    if size > limit + MULTIPART_OVERHEAD_BYTES:
        raise AttachmentTooLarge(
            _(ATTACHMENT_TOO_LARGE) % {"size": size, "limit": limit}, {"limit": limit}
        )


def attachment_response(attachment: Attachment) -> FileResponse:
    """The attachment to download, with the type judged from its content when it was added:
    the same answer for the page's link and the API. A read: nothing is recorded."""
    response = FileResponse(
        attachment.file.open("rb"),
        as_attachment=True,
        filename=attachment.name,
        content_type=attachment.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


def lockout_response(
    request: HttpRequest | Request,
    original_response: HttpResponse | None = None,
    credentials: dict | None = None,
) -> HttpResponse:
    """What a locked-out log-in gets (django-axes' AXES_LOCKOUT_CALLABLE, and the API's token):
    429 with "Too many attempts: try again in N minutes.", as ``{"detail"}`` for the API and
    as a page otherwise; Retry-After says when to come back."""
    if not isinstance(credentials, dict):
        credentials = getattr(request, "axes_credentials", None)
    message = lockout.lockout_message(request, credentials)
    response: HttpResponse
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": message, "errors": []}, status=429)
    else:
        response = render(
            request,
            "registration/locked_out.html",
            {"message": message, "title": _("Too many attempts")},
            status=429,
        )
    response["Retry-After"] = str(lockout.retry_after(request, credentials))
    return response
