"""The API's throttle, which never turns a cache outage into a 500."""

from __future__ import annotations

import logging

from rest_framework import throttling

log = logging.getLogger(__name__)


class ScopedRateThrottle(throttling.ScopedRateThrottle):
    """DRF's scoped throttle, its counts in the default cache (Redis once REDIS_URL is set).
    With the cache away the request goes through, with a warning: django-axes (counting in
    the database) still locks out whoever guesses passwords."""

    def allow_request(self, request, view) -> bool:
        try:
            return super().allow_request(request, view)
        except Exception:  # the cache's client raises its own errors (redis.ConnectionError…)
            log.warning(
                "The API's throttle cache is unavailable: request allowed unthrottled.",
                exc_info=True,
            )
            return True
