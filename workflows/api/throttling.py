"""The API's throttle, which never turns a cache outage into a 500."""

from __future__ import annotations

import logging

from django.core.cache.backends.locmem import LocMemCache
from rest_framework import throttling

log = logging.getLogger(__name__)

# This process's own counts, while the shared cache (Redis) is away.
FALLBACK_CACHE = LocMemCache("accord-throttle-fallback", {"OPTIONS": {"MAX_ENTRIES": 10_000}})


class ScopedRateThrottle(throttling.ScopedRateThrottle):
    """DRF's scoped throttle, its counts in the default cache (Redis once REDIS_URL is set).
    With that cache away (the cache's socket timeouts bound the wait) it counts in this
    process's memory instead, with a warning: still throttled, never a 500. django-axes,
    counting in the database, locks out whoever guesses passwords in any case."""

    def allow_request(self, request, view) -> bool:
        try:
            return super().allow_request(request, view)
        except Exception:  # the cache's client raises its own errors (redis.ConnectionError…)
            log.warning(
                "The API's throttle cache is unavailable: counting in this process instead.",
                exc_info=True,
            )
        self.cache = FALLBACK_CACHE
        return super().allow_request(request, view)
