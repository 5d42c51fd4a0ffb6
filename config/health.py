"""Health endpoints for a load balancer and for monitoring (django-health-check).

``/sante/``: can this web process serve? Its database, Redis (the channel layer, the cache,
Celery's broker) when the installation has one, and the file storage, each within
ACCORD_HEALTH_TIMEOUT; 200 when all answer, 503 naming the one that does not. A load
balancer takes a process out of rotation on a 503.

``/sante/complete/``: the same, and at least one Celery worker answering a ping: for
monitoring, not for the load balancer (web processes serve pages while the workers are
restarted; e-mails and webhooks then wait in the outbox).

Both answer in JSON with ``?format=json`` or ``Accept: application/json``; they name the
services, never their addresses.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Generator
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from health_check.base import HealthCheck
from health_check.checks import Database, Storage
from health_check.contrib.celery import Ping
from health_check.contrib.redis import Redis as RedisCheck
from health_check.views import HealthCheckView
from redis.asyncio import Redis as AsyncRedis


@dataclasses.dataclass
class Redis(RedisCheck):
    """Redis at REDIS_URL, with Accord's timeouts; reported as "Redis", without its address."""

    def __repr__(self) -> str:
        return "Redis"


def _redis_client() -> AsyncRedis:
    return AsyncRedis.from_url(
        settings.REDIS_URL,
        socket_connect_timeout=settings.ACCORD_HEALTH_TIMEOUT,
        socket_timeout=settings.ACCORD_HEALTH_TIMEOUT,
    )


def serving_checks() -> list[HealthCheck]:
    """What a web process needs to serve: on the embedded default, no Redis."""
    timeout = datetime.timedelta(seconds=settings.ACCORD_HEALTH_TIMEOUT)
    checks: list[HealthCheck] = [Database(), Storage()]
    if settings.REDIS_URL:
        checks.append(Redis(client_factory=_redis_client))
    for check in checks:
        check.timeout = timeout
    return checks


def complete_checks() -> list[HealthCheck]:
    """The serving checks, and the Celery workers (none to ping when tasks run in-process)."""
    checks = serving_checks()
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        checks.append(
            Ping(timeout=datetime.timedelta(seconds=settings.ACCORD_HEALTH_TIMEOUT), limit=1)
        )
    return checks


class _HealthView(HealthCheckView):
    """503 Service Unavailable, not django-health-check's 500, when a service is down: the
    process itself answered (a 500 would say it failed)."""

    async def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = await super().get(request, *args, **kwargs)
        if response.status_code == 500:
            response.status_code = 503
        return response


class ServingHealthView(_HealthView):
    def get_checks(self) -> Generator[HealthCheck, None, None]:
        yield from serving_checks()


class CompleteHealthView(_HealthView):
    def get_checks(self) -> Generator[HealthCheck, None, None]:
        yield from complete_checks()
