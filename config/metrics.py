"""/metrics for Prometheus: django-prometheus's request, latency and error counters of this
process, and Accord's own figures, read from the database at each scrape (so that every web
process reports the same, whichever the scraper reaches):

- ``accord_open_tasks{kind}`` and ``accord_overdue_tasks{kind}``: what waits for people;
- ``accord_decisions_total{kind,decision}``: decisions taken so far;
- ``accord_notifications_pending{channel}``: notifications not yet pushed or e-mailed;
  ``accord_notification_emails_failed``: e-mails abandoned after their last attempt;
- ``accord_webhook_deliveries{status}``: partner webhooks pending, delivered, failed;
- ``accord_seals_pending`` and ``accord_seals_overdue``: signed contracts whose seal the
  worker has not stored yet, and of those the ones asked for longer than the sweep's grace
  (the worker or the time-stamping authority needs a look);
- ``accord_history_check_timestamp_seconds`` and ``accord_history_chains_broken``: when the
  periodic history check last ran and how many chains it found broken (0: all intact).

The scraper presents ACCORD_METRICS_TOKEN (``Authorization: Bearer …``); without a token
configured the endpoint is off (404).
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Iterator

import prometheus_client
from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from prometheus_client import multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from notifications.models import EmailMode, Notification, WebhookDelivery
from signatures.models import ContractDocument
from signatures.tasks import SEAL_GRACE
from workflows.models import Task, TaskStatus
from workflows.tasks import HISTORY_CHECK_CACHE_KEY


class AccordCollector(Collector):
    """Accord's figures, from the database, at each scrape (a few aggregate queries)."""

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        now = timezone.now()
        open_tasks = GaugeMetricFamily(
            "accord_open_tasks", "Tasks waiting for someone, by kind.", labels=["kind"]
        )
        overdue = GaugeMetricFamily(
            "accord_overdue_tasks", "Open tasks past their due date, by kind.", labels=["kind"]
        )
        for row in (
            Task.objects.filter(status=TaskStatus.ASSIGNED)
            .values("kind")
            .annotate(open=Count("pk"), overdue=Count("pk", filter=Q(due__lt=now)))
            .order_by("kind")
        ):
            open_tasks.add_metric([row["kind"]], row["open"])
            overdue.add_metric([row["kind"]], row["overdue"])
        yield open_tasks
        yield overdue

        decisions = CounterMetricFamily(
            "accord_decisions",
            "Decisions taken, by kind of task and decision.",
            labels=["kind", "decision"],
        )
        for row in (
            Task.objects.filter(status=TaskStatus.DONE)
            .exclude(decision="")
            .values("kind", "decision")
            .annotate(count=Count("pk"))
            .order_by("kind", "decision")
        ):
            decisions.add_metric([row["kind"], row["decision"]], row["count"])
        yield decisions

        outbox = Notification.objects.aggregate(
            push=Count("pk", filter=Q(pushed_at__isnull=True)),
            email=Count(
                "pk",
                filter=Q(emailed_at__isnull=True, email_mode=EmailMode.IMMEDIATE)
                & Q(email_attempts__lt=settings.ACCORD_EMAIL_MAX_ATTEMPTS),
            ),
            digest=Count("pk", filter=Q(emailed_at__isnull=True, email_mode=EmailMode.DIGEST)),
            failed=Count(
                "pk",
                filter=Q(
                    emailed_at__isnull=True, email_attempts__gte=settings.ACCORD_EMAIL_MAX_ATTEMPTS
                )
                & ~Q(email_mode=EmailMode.APP),
            ),
        )
        pending = GaugeMetricFamily(
            "accord_notifications_pending",
            "Notifications not yet delivered, by channel (push, email, digest).",
            labels=["channel"],
        )
        for channel in ("push", "email", "digest"):
            pending.add_metric([channel], outbox[channel])
        yield pending
        yield GaugeMetricFamily(
            "accord_notification_emails_failed",
            "E-mails abandoned after their last attempt.",
            value=outbox["failed"],
        )

        webhooks = GaugeMetricFamily(
            "accord_webhook_deliveries", "Partner webhook deliveries, by status.", labels=["status"]
        )
        by_status = dict(
            WebhookDelivery.objects.values_list("status").annotate(count=Count("pk")).order_by()
        )
        for status in WebhookDelivery.Status.values:
            webhooks.add_metric([status], by_status.get(status, 0))
        yield webhooks

        seals = ContractDocument.objects.awaiting_seal().aggregate(
            pending=Count("pk"),
            overdue=Count("pk", filter=Q(seal_requested_at__lt=now - SEAL_GRACE)),
        )
        yield GaugeMetricFamily(
            "accord_seals_pending",
            "Signed contract documents whose seal the worker has not stored yet.",
            value=seals["pending"],
        )
        yield GaugeMetricFamily(
            "accord_seals_overdue",
            "Seals still missing longer after the last signature than the sweep's grace.",
            value=seals["overdue"],
        )

        check = cache.get(HISTORY_CHECK_CACHE_KEY)
        if check is not None:
            yield GaugeMetricFamily(
                "accord_history_check_timestamp_seconds",
                "When the periodic history check last ran (Unix time).",
                value=check["at"],
            )
            yield GaugeMetricFamily(
                "accord_history_chains_broken",
                "History chains the last periodic check found broken.",
                value=check["broken"],
            )


# Accord's own registry: scraped with the process's (or the multi-process) one.
ACCORD_REGISTRY = prometheus_client.CollectorRegistry(auto_describe=False)
ACCORD_REGISTRY.register(AccordCollector())


def _process_registry() -> prometheus_client.CollectorRegistry:
    """django-prometheus's metrics: this process's, or every process's when the
    installation runs them in multi-process mode (PROMETHEUS_MULTIPROC_DIR)."""
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = prometheus_client.CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return prometheus_client.REGISTRY


@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    """The metrics, for a scraper presenting ACCORD_METRICS_TOKEN."""
    token = settings.ACCORD_METRICS_TOKEN
    if not token:
        raise Http404("Metrics are off: set ACCORD_METRICS_TOKEN.")
    presented = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(presented.encode(), token.encode()):
        response = HttpResponse("A valid metrics token is required.\n", status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    body = prometheus_client.generate_latest(
        _process_registry()
    ) + prometheus_client.generate_latest(ACCORD_REGISTRY)
    return HttpResponse(body, content_type=prometheus_client.CONTENT_TYPE_LATEST)
