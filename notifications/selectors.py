"""Reading notifications: a person's list, their unread count, what they missed."""

from __future__ import annotations

from django.db.models import F, QuerySet

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


def last_id(user: User) -> int:
    if not user.is_authenticated:
        return 0
    last = list(Notification.objects.filter(recipient=user).order_by("-pk").values_list("pk")[:1])
    return last[0][0] if last else 0


def notifications_after(user: User, after: int, *, limit: int = 200) -> QuerySet[Notification]:
    """What a reconnecting page missed since the last id it saw, oldest first."""
    return Notification.objects.filter(recipient=user, pk__gt=after).order_by("pk")[:limit]


def email_modes_of(user: User) -> dict[str, str]:
    """The person's choice for each event, the default where they chose nothing."""
    chosen = dict(
        NotificationPreference.objects.filter(user=user).values_list("event", "email_mode")
    )
    return {event: chosen.get(event, mode) for event, mode in DEFAULT_EMAIL_MODES.items()}
