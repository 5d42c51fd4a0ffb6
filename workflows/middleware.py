"""Refusing, before any view, a NUL character in a request's query or form fields.

PostgreSQL stores and compares no NUL (``\\u0000``) in a text: a query parameter or a form
field holding one would fail in the database as a server error. Refused here for every page
and API at once as bad input (400): JSON ``{"detail", "errors"}`` under ``/api/``, a plain
message elsewhere. The API's bodies are checked by its parsers (``workflows.api.parsers``).
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.utils.translation import gettext as _

NUL = "\x00"
API_PREFIX = "/api/"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _holds_nul(data) -> bool:
    return any(NUL in key or any(NUL in value for value in values) for key, values in data.lists())


class RefuseNulCharacters:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        api = request.path_info.startswith(API_PREFIX)
        suspect = NUL in request.path_info or _holds_nul(request.GET)
        # A page's form fields (the CSRF check has read them already); the API reads its body
        # through its own parsers, which refuse a NUL with the place of each.
        if not suspect and not api and request.content_type in FORM_TYPES:
            suspect = _holds_nul(request.POST)
        if not suspect:
            return None
        message = _("The request holds a NUL character (\\u0000), which no text may contain.")
        if api:
            return JsonResponse({"detail": message, "errors": [message]}, status=400)
        return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")
