"""An overloaded server says so: 503 with Retry-After, not a 500.

With the connection pool (``ACCORD_DB_POOL_MAX_SIZE``), a request that waits more than
``ACCORD_DB_POOL_TIMEOUT`` for a free connection fails with psycopg_pool's ``PoolTimeout``
(raised by Django as ``OperationalError``). Nothing of the request was done: the person may
try again in a moment, and a load balancer may send them elsewhere. The answer is written
without the database (no context processor, no session read).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader
from django.utils.translation import gettext as _
from psycopg_pool import PoolTimeout

logger = logging.getLogger(__name__)

# Seconds after which trying again makes sense: about one pool timeout.
RETRY_AFTER_SECONDS = 10


def pool_exhausted(exception: BaseException) -> bool:
    """Whether ``exception`` is the pool's time-out, as Django raises it or bare."""
    return isinstance(exception, PoolTimeout) or (
        isinstance(exception, OperationalError) and isinstance(exception.__cause__, PoolTimeout)
    )


class ServiceOverloaded:
    """Turns a view's pool time-out into a 503 (a page, or JSON under /api/)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not pool_exhausted(exception):
            return None
        logger.warning("No database connection free within the pool's timeout: %s", request.path)
        message = _(
            "Accord is very busy right now: nothing was done. Please try again in a moment."
        )
        response: HttpResponse
        if request.path.startswith("/api/"):
            response = JsonResponse({"detail": message}, status=503)
        else:
            response = HttpResponse(loader.render_to_string("503.html"), status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
