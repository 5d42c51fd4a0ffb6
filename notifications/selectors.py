"""Reading notifications: a person's list, their unread count, what they missed."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, F, Max, Q, QuerySet

from workflows.models import User

from .models import DEFAULT_EMAIL_MODES, Notification, NotificationPreference


def notifications_of(
    user: User, *, unread: bool = False, event: str = "", contract: int | None = None
) -> QuerySet[Notification]:
    """The person's notifications, unread first, then newest first."""
    rows = Notification.objects.filter(recipient=user)
    if unread:
        rows = rows.filter(read_at__isnull=True)
    if event:
        rows = rows.filter(event=event)
    if contract:
        rows = rows.filter(contract_id=contract)
    return rows.select_related("contract").order_by(F("read_at").asc(nulls_first=True), "-pk")


def unread_count(user: User) -> int:
    if not user.is_authenticated:
        return 0
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()


@dataclass(frozen=True)
class Standing:
    """What every page's header needs: the unread count (the badge) and the last id (where
    the live connection starts)."""

    unread: int
    last_id: int


def standing_of(user: User) -> Standing:
    """``unread_count`` and ``last_id`` in one statement, for the header of every page."""
    if not user.is_authenticated:
        return Standing(unread=0, last_id=0)
    row = Notification.objects.filter(recipient=user).aggregate(
        unread=Count("pk", filter=Q(read_at__isnull=True)), last_id=Max("pk")
    )
    return Standing(unread=row["unread"], last_id=row["last_id"] or 0)


def notifications_after(user: User, after: int, *, limit: int = 200) -> QuerySet[Notification]:
    """What a reconnecting page missed since the last id it saw, oldest first."""
    return Notification.objects.filter(recipient=user, pk__gt=after).order_by("pk")[:limit]


def email_modes_of(user: User) -> dict[str, str]:
    """The person's choice for each event, the default where they chose nothing."""
    chosen = dict(
        NotificationPreference.objects.filter(user=user).values_list("event", "email_mode")
    )
    return {event: chosen.get(event, mode) for event, mode in DEFAULT_EMAIL_MODES.items()}
