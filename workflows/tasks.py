"""Background jobs of the approval flows (Celery; eager on the embedded default)."""

import time

from celery import shared_task
from django.core.cache import cache

from . import services
from .analytics.snapshots import snapshots_refresh
from .audit.services import history_check_and_alert


@shared_task
def apply_delegations() -> int:
    """Hand tasks to the delegates of people whose absence starts, give back the others."""
    return services.delegations_apply()


@shared_task
def send_reminders() -> dict[str, int]:
    """Reminders before the due date, overdue notices and coordinator alerts (hourly)."""
    return services.reminders_send()


# Where the last periodic check's result is left for monitoring (config/metrics.py).
HISTORY_CHECK_CACHE_KEY = "accord:history-check"


@shared_task
def verify_histories() -> int:
    """Recompute every history chain and alert the administrators on a break; leave the
    result (when, how many broken) where the metrics read it."""
    broken = len(history_check_and_alert())
    cache.set(HISTORY_CHECK_CACHE_KEY, {"at": time.time(), "broken": broken}, timeout=7 * 24 * 3600)
    return broken


@shared_task
def refresh_analytics() -> str:
    """Staff's analytics over every contract computed ahead (workflows.analytics.snapshots),
    so that the page and the API serve them without sorting a year of tasks."""
    return snapshots_refresh().isoformat()
