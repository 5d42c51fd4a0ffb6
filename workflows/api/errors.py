"""Every API error as ``{"detail": "...", "errors": [...]}`` with the right status."""

from __future__ import annotations

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from workflows.errors import ApplicationError


def _flatten(detail, prefix: str = "") -> list[str]:
    """Turn DRF's nested error dict/list into "field: message" lines."""
    if isinstance(detail, dict):
        lines = []
        for key, value in detail.items():
            place = key if not prefix else f"{prefix}.{key}"
            if key in ("non_field_errors", "detail", NON_FIELD_ERRORS):
                place = prefix
            lines += _flatten(value, place)
        return lines
    if isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            return [f"{prefix}: {item}" if prefix else str(item) for item in detail]
        lines = []
        for index, item in enumerate(detail):
            lines += _flatten(item, f"{prefix}[{index}]")
        return lines
    return [f"{prefix}: {detail}" if prefix else str(detail)]


def exception_handler(exc, context):
    if isinstance(exc, ApplicationError):
        errors = exc.extra.get("errors", [])
        set_rollback()
        return Response({"detail": exc.message, "errors": errors}, status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        # A model's full_clean() refusing the input is bad input too, not a server error.
        detail = exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        exc = exceptions.ValidationError(detail)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a 500: a bug, reported as such by Django
    if isinstance(exc, exceptions.ValidationError):
        errors = _flatten(exc.detail)
        response.data = {"detail": errors[0] if errors else str(exc), "errors": errors}
        response.status_code = status.HTTP_400_BAD_REQUEST
    else:
        detail = response.data.get("detail", str(exc)) if isinstance(response.data, dict) else exc
        response.data = {"detail": str(detail), "errors": []}
    return response


API_PREFIX = "/api/"


def not_found(request, exception=None):
    """Django's 404 (no route matched, e.g. ``/api/v1/contracts/abc/``): JSON under the API, as
    every other API error; the site's 404 page elsewhere."""
    if request.path_info.startswith(API_PREFIX):
        return JsonResponse(
            {"detail": str(exceptions.NotFound.default_detail), "errors": []}, status=404
        )
    return defaults.page_not_found(request, exception)
