"""Background jobs of the approval flows (Celery; eager on the embedded default)."""

from celery import shared_task

from . import services
from .audit.services import history_check_and_alert


@shared_task
def apply_delegations() -> int:
    """Hand tasks to the delegates of people whose absence starts, give back the others."""
    return services.delegations_apply()


@shared_task
def send_reminders() -> dict[str, int]:
    """Reminders before the due date, overdue notices and coordinator alerts (hourly)."""
    return services.reminders_send()


@shared_task
def verify_histories() -> int:
    """Recompute every history chain and alert the administrators on a break."""
    return len(history_check_and_alert())
