"""The figures of the wide views, kept for a while: staff's tables over every contract (with
no contract filter) read and sort a year of a large deployment's tasks, 0.3 to 1.5 s on the
benchmark's on a loaded machine (docs/benchmarks.md), so they are computed ahead by a periodic task
(``workflows.tasks.refresh_analytics``, every ten minutes, for the period the page shows by
default) and kept in the cache; a request reads them when they are there for exactly its
filters and fresh, else computes them as before and keeps them. The page and the API say when
the figures were computed.

Why the cache (Redis in production, shared by every process; local memory on the embedded
default): the snapshot can always be recomputed, so losing it (Redis restarted, an entry
evicted) only costs one slow request; a table in the database would need a migration, its
cleaning, and would be written every ten minutes for nothing the history must keep.

Who reads what: only the views over *every* contract are kept, under a key that says so
(``all``); a coordinator's or an auditor's figures (a handful of contracts, fast) are always
computed for their own contracts, so nobody ever reads figures built for contracts they may
not audit.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from django.core.cache import cache
from django.utils import timezone

from workflows.models import TaskKind, User

from .selectors import AnalyticsFilter, Dimension, Figures, tables_figures

logger = logging.getLogger(__name__)

# A snapshot older than this is computed again at the next request; the periodic task
# (config/settings.py, CELERY_BEAT_SCHEDULE) refreshes the default period's every ten minutes.
MAX_AGE = datetime.timedelta(minutes=15)
# The shape of what is kept: bumped when Figures changes, so that no older entry is read.
FORMAT = 2


@dataclass(frozen=True)
class Served:
    """Tables, each the slowest first, and when they were computed."""

    tables: dict[str, list[Figures]]
    computed_at: datetime.datetime


def _kept(user: User, filters: AnalyticsFilter) -> bool:
    """Whether these figures are kept: staff's (every contract) with no contract filter."""
    return user.is_staff and filters.contract is None


def _key(filters: AnalyticsFilter, dimension: str) -> str:
    """The cache key of one table: the contract set (``all``: only staff's are kept), every
    filter, and the table."""
    organisation = filters.organisation.pk if filters.organisation is not None else "-"
    return (
        f"accord:analytics:{FORMAT}:all:{filters.since.isoformat()}:{filters.until.isoformat()}"
        f":{organisation}:{filters.step or '-'}:{dimension}"
    )


def _read(keys: Sequence[str]) -> dict[str, tuple[datetime.datetime, list[Figures]]]:
    try:
        return cache.get_many(keys)
    except Exception:  # the cache's client raises its own errors (redis.ConnectionError…)
        logger.warning("analytics snapshot not read: the cache is unavailable", exc_info=True)
        return {}


def _store(entries: dict[str, tuple[datetime.datetime, list[Figures]]]) -> None:
    try:
        cache.set_many(entries, timeout=MAX_AGE.total_seconds())
    except Exception:  # as in _read: the figures are served all the same
        logger.warning("analytics snapshot not kept: the cache is unavailable", exc_info=True)


def _in_language(dimension: str, lines: list[Figures]) -> list[Figures]:
    """The kinds of task named in the reader's language (the snapshot may have been computed
    in another), in the same order as ``tables_figures`` gives."""
    if dimension != Dimension.STEPS:
        return lines
    named = [line._replace(label=str(TaskKind(line.key).label)) for line in lines]
    return sorted(named, key=lambda line: (-line.median_hours, line.label, line.detail))


def _compute(
    user: User, filters: AnalyticsFilter, dimensions: Sequence[str]
) -> tuple[datetime.datetime, dict[str, list[Figures]]]:
    # The time before the read: the figures are those of the tasks as they were then.
    computed_at = timezone.now()
    return computed_at, tables_figures(user, filters, dimensions)


def served_figures(user: User, filters: AnalyticsFilter, dimensions: Sequence[str]) -> Served:
    """The tables asked for, from the snapshot when each is kept, there and fresh for
    exactly these filters; else computed now (the missing ones together) and kept."""
    if not _kept(user, filters):
        computed_at, tables = _compute(user, filters, dimensions)
        return Served(tables, computed_at)
    keys = {dimension: _key(filters, dimension) for dimension in dimensions}
    found = _read(list(keys.values()))
    oldest = timezone.now() - MAX_AGE
    fresh = {
        dimension: found[key]
        for dimension, key in keys.items()
        if key in found and found[key][0] > oldest
    }
    missing = [dimension for dimension in dimensions if dimension not in fresh]
    if missing:
        computed_at, computed = _compute(user, filters, missing)
        _store({keys[dimension]: (computed_at, computed[dimension]) for dimension in missing})
        fresh.update({dimension: (computed_at, computed[dimension]) for dimension in missing})
    return Served(
        tables={
            dimension: _in_language(dimension, fresh[dimension][1]) for dimension in dimensions
        },
        # The oldest of the tables served: the page says no later time than its figures'.
        computed_at=min(fresh[dimension][0] for dimension in dimensions),
    )


def snapshots_refresh() -> datetime.datetime:
    """Compute and keep the four tables of the page's default view over every contract (the
    last twelve months, no filter); return when. For the periodic task."""
    # Staff's figures depend on nothing of the person but that they are staff: a stand-in,
    # never saved, reads them.
    staff = User(is_staff=True)
    since, until = AnalyticsFilter.default_period()
    filters = AnalyticsFilter(since=since, until=until)
    computed_at, tables = _compute(staff, filters, Dimension.ALL)
    _store({_key(filters, dimension): (computed_at, tables[dimension]) for dimension in tables})
    return computed_at
