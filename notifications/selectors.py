"""Reading notifications: a person's list, their unread count, what they missed."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import reduce
from operator import or_
from typing import overload

from django.db.models import (
    BooleanField,
    CharField,
    Count,
    ExpressionWrapper,
    F,
    Max,
    Q,
    QuerySet,
    Value,
)
from django.db.models.functions import Cast, Coalesce, Concat, NullIf, TruncDate
from django.urls import reverse
from django.utils import timezone

from workflows.models import User

from .grouping import group_title
from .models import DEFAULT_EMAIL_MODES, Notification, NotificationEvent, NotificationPreference


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


# --- Groups: similar notifications told as one line (grouping.py) --------------------------

# What makes notifications one line: the same group key (or the notification alone when it
# has none), the same contract, the same day, both read or both unread.
_GROUP = Coalesce(NullIf(F("group_key"), Value("")), Concat(Value("#"), Cast("pk", CharField())))
_GROUP_FIELDS = ("group", "contract_id", "day", "unread")


def _grouped(rows: QuerySet[Notification]) -> QuerySet[Notification]:
    return rows.annotate(
        group=_GROUP,
        day=TruncDate("created_at"),
        unread=ExpressionWrapper(Q(read_at__isnull=True), output_field=BooleanField()),
    )


@dataclass
class NotificationGroup:
    """One line of the centre or the digest: one notification, or several alike."""

    count: int
    unread: bool
    latest: Notification
    members: list[Notification] = field(default_factory=list)

    @property
    def title(self) -> str:
        if self.count == 1:
            return self.latest.title
        return group_title(
            self.latest.group_key,
            self.count,
            self.latest.contract.reference if self.latest.contract else "",
            str(NotificationEvent(self.latest.event).label),
        )

    @property
    def url(self) -> str:
        """One notification's own link; a group's: its contract's page (where each of the
        things it tells of shows), else the latest one's."""
        if self.count > 1 and self.latest.contract_id:
            return reverse("workflows:contract_detail", args=[self.latest.contract_id])
        return self.latest.url

    @property
    def ids(self) -> list[int]:
        return [row.pk for row in self.members] or [self.latest.pk]


class GroupedNotifications:
    """A person's notifications as lines, unread first then newest, for Django's Paginator:
    counting and slicing run on the grouped rows in the database; only a page's lines are
    read in full (its latest notification, and the members of the lines that group several).
    """

    def __init__(self, rows: QuerySet[Notification]) -> None:
        self.lines = (
            _grouped(rows)
            .values(*_GROUP_FIELDS)
            .annotate(count=Count("pk"), latest=Max("pk"))
            .order_by("-unread", "-latest")
        )

    def count(self) -> int:
        """How many lines (Django's Paginator asks)."""
        return self.lines.count()

    def __len__(self) -> int:
        return self.count()

    @overload
    def __getitem__(self, index: int) -> NotificationGroup: ...
    @overload
    def __getitem__(self, index: slice) -> list[NotificationGroup]: ...
    def __getitem__(self, index: int | slice) -> NotificationGroup | list[NotificationGroup]:
        if isinstance(index, slice):
            return groups_of(list(self.lines[index]))
        return groups_of([self.lines[index]])[0]

    def __iter__(self) -> Iterator[NotificationGroup]:
        return iter(groups_of(list(self.lines)))


def groups_of(lines: list[dict]) -> list[NotificationGroup]:
    """The full lines for these grouped rows (``GroupedNotifications.lines``): two queries."""
    if not lines:
        return []
    latest = Notification.objects.select_related("contract").in_bulk(
        [line["latest"] for line in lines]
    )
    several = [line for line in lines if line["count"] > 1]
    members: dict[tuple, list[Notification]] = {}
    if several:
        wanted = reduce(
            or_,
            (
                Q(
                    group=line["group"],
                    contract_id=line["contract_id"],
                    day=line["day"],
                    read_at__isnull=line["unread"],
                )
                for line in several
            ),
        )
        recipient_id = latest[several[0]["latest"]].recipient_id
        for row in (
            _grouped(Notification.objects.filter(recipient_id=recipient_id))
            .filter(wanted)
            .order_by("-pk")
        ):
            key = (row.group, row.contract_id, row.day, row.unread)  # type: ignore[attr-defined]
            members.setdefault(key, []).append(row)
    return [
        NotificationGroup(
            count=line["count"],
            unread=line["unread"],
            latest=latest[line["latest"]],
            members=members.get(tuple(line[name] for name in _GROUP_FIELDS), []),
        )
        for line in lines
    ]


def groups_in(rows: Iterable[Notification]) -> list[NotificationGroup]:
    """Notifications already read (a digest's), as lines, in the order of their latest."""
    lines: dict[tuple, list[Notification]] = {}
    for row in rows:
        key = (row.group_key or f"#{row.pk}", row.contract_id, timezone.localdate(row.created_at))
        lines.setdefault(key, []).append(row)
    groups = [
        NotificationGroup(
            count=len(members),
            unread=True,
            latest=max(members, key=lambda row: row.pk),
            members=sorted(members, key=lambda row: -row.pk) if len(members) > 1 else [],
        )
        for members in lines.values()
    ]
    return sorted(groups, key=lambda group: group.latest.pk)


@dataclass(frozen=True)
class Standing:
    """What every page's header needs: the unread lines (the badge: similar notifications
    count once, as in the centre) and the last id (where the live connection starts)."""

    unread: int
    last_id: int


def standing_of(user: User) -> Standing:
    """The badge's count and ``last_id`` in one statement, for the header of every page."""
    if not user.is_authenticated:
        return Standing(unread=0, last_id=0)
    line = Concat(
        _GROUP,
        Value("|"),
        Coalesce(Cast("contract_id", CharField()), Value("")),
        Value("|"),
        Cast(TruncDate("created_at"), CharField()),
        output_field=CharField(),
    )
    row = Notification.objects.filter(recipient=user).aggregate(
        unread=Count(line, filter=Q(read_at__isnull=True), distinct=True), last_id=Max("pk")
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
