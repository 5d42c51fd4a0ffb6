"""Where contracts get stuck: time spent on the finished human tasks of the contracts a person
may audit, per kind of task, working group, organisation and person (median, 90th
percentile, share finished late, number of tasks). One set of reads for the page
(``/analyse/``), its CSV files and the API (``analytics/…``).

Which tasks count: the human tasks (review, revision, vote, deliberation, signature, report,
visa, opinion) *finished* in the period, that is done, by their finish date; cancelled tasks
(nobody had to act) and open ones (no duration yet) are left out. A task's time is from its
creation to its finish (time on hold during a suspension included: the contract waited all
the same). It was late when it finished after its due date (a task with no due date never is).
A task belongs to its assignee (whom the rules designated, whoever held it during an absence),
to the assignee's organisation, and to the working group of its action (a task with no action,
a vote or a signature, belongs to no working group).

The figures are aggregated by the database: PostgreSQL's ``percentile_cont`` (the median is
its 0.5), every table asked for from one read of the tasks (``GROUPING SETS``: the page's four
tables in one statement). SQLite has no percentile: there the same figures are computed in
Python with the same interpolation (``percentile_cont``'s, linear between the two nearest
ranks), also from one read; the tests check that both give the same answers.
"""

from __future__ import annotations

import csv
import datetime
import io
import math
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AnonymousUser, Permission
from django.db import connection, transaction
from django.db.models import (
    BooleanField,
    Exists,
    ExpressionWrapper,
    F,
    FloatField,
    Func,
    OuterRef,
    Q,
    QuerySet,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Collate
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from workflows.models import (
    Contract,
    ContractAuditor,
    Organisation,
    Task,
    TaskKind,
    TaskStatus,
    User,
    WorkingGroup,
)

# The period when none is asked for: the last twelve months, today included.
DEFAULT_PERIOD_DAYS = 365
SECONDS_PER_HOUR = 3600
SORT_MEMORY = "64MB"


class Dimension:
    """What the tasks are grouped by: the column grouped on, and the API's key for it."""

    STEPS = "steps"
    WORKING_GROUPS = "working-groups"
    ORGANISATIONS = "organisations"
    PEOPLE = "people"
    ALL = (STEPS, WORKING_GROUPS, ORGANISATIONS, PEOPLE)  # the page's tables, in its order


# The column of Task each dimension groups on; a task whose column is empty is left out.
GROUP_COLUMNS = {
    Dimension.STEPS: "kind",
    Dimension.WORKING_GROUPS: "action__working_group_id",
    Dimension.ORGANISATIONS: "assignee__organisation_id",
    Dimension.PEOPLE: "assignee_id",
}
DIMENSION_TITLES = {
    Dimension.STEPS: gettext_lazy("Per kind of task"),
    Dimension.WORKING_GROUPS: gettext_lazy("Per working group"),
    Dimension.ORGANISATIONS: gettext_lazy("Per organisation"),
    Dimension.PEOPLE: gettext_lazy("Per person"),
}
DIMENSION_HEADINGS = {
    Dimension.STEPS: gettext_lazy("Kind of task"),
    Dimension.WORKING_GROUPS: gettext_lazy("Working group"),
    Dimension.ORGANISATIONS: gettext_lazy("Organisation"),
    Dimension.PEOPLE: gettext_lazy("Person"),
}


@dataclass(frozen=True)
class AnalyticsFilter:
    """The period (both days included) and the optional contract, organisation and step."""

    since: datetime.date
    until: datetime.date
    contract: Contract | None = None
    organisation: Organisation | None = None
    step: str = ""

    @classmethod
    def default_period(cls) -> tuple[datetime.date, datetime.date]:
        today = timezone.localdate()
        return today - datetime.timedelta(days=DEFAULT_PERIOD_DAYS - 1), today


@dataclass(frozen=True)
class Figures:
    """One line of a table: a step, working group, organisation or person, and its figures."""

    key: str  # the API's identifier: the kind, a code or a username
    label: str  # what a person reads
    detail: str  # the contract of a working group, the organisation of a person
    tasks: int
    median_hours: float
    p90_hours: float
    overdue_share: float

    @property
    def overdue_percent(self) -> float:
        return round(self.overdue_share * 100, 1)


# --- Who may see them -----------------------------------------------------------------------


def contracts_auditable_by(user: User | AnonymousUser) -> QuerySet[Contract]:
    """The contracts whose figures this person may read: staff, all of them; a coordinator,
    the contracts they coordinate; an auditor, those an administrator granted them (the
    grants ``history_readable_by`` honours). A lead, a member, a signer: none."""
    contracts = Contract.objects.all()
    if not user.is_authenticated:
        return contracts.none()
    if user.is_staff:
        return contracts
    return contracts.filter(
        Q(pk__in=Contract.coordinators.through.objects.filter(user=user).values("contract_id"))
        | Q(pk__in=ContractAuditor.objects.filter(user=user).values("contract_id"))
    )


def may_see_analytics(user: User | AnonymousUser) -> bool:
    """Whether the page is in this person's menu, and the API answers them."""
    return user.is_authenticated and (user.is_staff or contracts_auditable_by(user).exists())


@dataclass(frozen=True)
class MenuRights:
    may_import: bool  # as selectors.user_may_import_contracts
    may_analyse: bool  # as may_see_analytics


def menu_rights(user: User | AnonymousUser) -> MenuRights:
    """What the menu of every page offers this person beyond the usual: importing a contract
    (staff, or the add-contract permission, their own or a group's, as ``has_perm`` reads it)
    and the analytics. One query for both, or none for staff: an inbox page stays within its
    ten statements (tests/workflows/test_task_pages.py)."""
    if not user.is_authenticated:
        return MenuRights(may_import=False, may_analyse=False)
    if user.is_staff:
        return MenuRights(may_import=True, may_analyse=True)
    person = OuterRef("pk")
    rights = (
        User.objects.filter(pk=user.pk)
        .annotate(
            import_permission=Exists(
                Permission.objects.filter(
                    Q(user=person) | Q(group__user=person),
                    codename="add_contract",
                    content_type__app_label="workflows",
                )
            ),
            coordinates=Exists(Contract.coordinators.through.objects.filter(user=person)),
            audits=Exists(ContractAuditor.objects.filter(user=person)),
        )
        .values_list("import_permission", "coordinates", "audits")
        .first()
    )
    if rights is None:
        return MenuRights(may_import=False, may_analyse=False)
    import_permission, coordinates, audits = rights
    return MenuRights(
        may_import=user.is_active and (user.is_superuser or import_permission),
        may_analyse=coordinates or audits,
    )


# --- The tasks counted ----------------------------------------------------------------------


def _start_of(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def analysed_tasks(user: User, filters: AnalyticsFilter) -> QuerySet[Task]:
    """The human tasks finished in the period on the contracts this person may audit."""
    tasks = Task.objects.filter(
        status=TaskStatus.DONE,
        finished__gte=_start_of(filters.since),
        finished__lt=_start_of(filters.until + datetime.timedelta(days=1)),
    ).exclude(kind="")
    if filters.contract is not None:
        tasks = tasks.filter(contract=filters.contract)
    if not user.is_staff:
        # The contracts as a list, as history_readable_by does: a handful for a coordinator
        # or an auditor, which PostgreSQL then finds by index.
        tasks = tasks.filter(
            contract_id__in=list(contracts_auditable_by(user).values_list("pk", flat=True))
        )
    if filters.organisation is not None:
        tasks = tasks.filter(assignee__organisation=filters.organisation)
    if filters.step:
        tasks = tasks.filter(kind=filters.step)
    return tasks


# --- Aggregation --------------------------------------------------------------------------


def _fractions(fractions: Sequence[float]) -> str:
    """The fractions as SQL: constants of the code, never values from a request."""
    if not fractions or not all(0 <= fraction <= 1 for fraction in fractions):
        raise ValueError(fractions)
    return ", ".join(repr(float(fraction)) for fraction in fractions)


class EpochSeconds(Func):
    """The seconds of an interval as a double: PostgreSQL's ``date_part('epoch', …)``.
    ``EXTRACT`` gives a numeric since PostgreSQL 14, whose computation and sort took half
    of the aggregation's time on the benchmark's 150,000 tasks."""

    template = "date_part('epoch', %(expressions)s)"
    output_field = FloatField()


def percentile_cont(values: Sequence[float], fraction: float) -> float:
    """``percentile_cont`` in Python, for SQLite: the same linear interpolation between the
    two nearest ranks of the sorted values."""
    ordered = sorted(values)
    return _percentile_of_sorted(ordered, fraction)


def _percentile_of_sorted(ordered: Sequence[float], fraction: float) -> float:
    position = fraction * (len(ordered) - 1)
    below, above = math.floor(position), math.ceil(position)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


@dataclass(frozen=True)
class _Group:
    key: Any
    tasks: int
    median_seconds: float
    p90_seconds: float
    overdue: int


# Each dimension's column in the rows the aggregation reads (``_counted_rows``).
_ALIASES = {
    Dimension.STEPS: "step",
    Dimension.WORKING_GROUPS: "working_group",
    Dimension.ORGANISATIONS: "organisation",
    Dimension.PEOPLE: "person",
}


def _counted_rows(tasks: QuerySet[Task], dimensions: Sequence[str]) -> QuerySet[Task, Any]:
    """One row per task counted: the key of each dimension asked for (only their joins),
    its seconds and whether it finished late."""
    columns: dict[str, Any] = {
        _ALIASES[dimension]: F(GROUP_COLUMNS[dimension]) for dimension in dimensions
    }
    if Dimension.STEPS in dimensions:
        # Sorted byte by byte: the kinds are ASCII codes, and the locale's collation took a
        # quarter of the sort.
        columns[_ALIASES[Dimension.STEPS]] = Collate(F("kind"), "C")
    if len(dimensions) == 1:
        # One table: the tasks in none of its groups (no action, a working group's table) are
        # left out before the sort rather than after (a fifth of the tasks have no action).
        tasks = tasks.filter(**{f"{GROUP_COLUMNS[dimensions[0]]}__isnull": False})
    return tasks.values(
        **columns,
        seconds=EpochSeconds(F("finished") - F("created")),
        late=ExpressionWrapper(Q(due__lt=F("finished")), output_field=BooleanField()),
    ).order_by()


def _groups_in_database(
    tasks: QuerySet[Task], dimensions: Sequence[str]
) -> dict[str, list[_Group]]:
    """All the tables asked for in one statement: one read of the tasks, grouped by each
    dimension in turn (``GROUPING SETS``), which Django's ORM cannot write."""
    aliases = [connection.ops.quote_name(_ALIASES[dimension]) for dimension in dimensions]
    inner, params = _counted_rows(tasks, dimensions).query.sql_with_params()
    # Only the aliases above and the SQL Django wrote are put together: the values asked for
    # are in ``params``.
    keys, sets = ", ".join(aliases), ", ".join(f"({alias})" for alias in aliases)
    # The two percentiles as two columns: two floats are read faster than an array.
    sql = (
        f"SELECT grouping, {keys}, tasks, percentiles[1], percentiles[2], overdue FROM ("  # noqa: S608
        f"SELECT GROUPING({keys}) AS grouping, {keys}, COUNT(*) AS tasks, PERCENTILE_CONT(ARRAY["
        f"{_fractions([0.5, 0.9])}]) WITHIN GROUP (ORDER BY seconds) AS percentiles, COUNT(*) "
        f"FILTER (WHERE late) AS overdue FROM ({inner}) AS counted GROUP BY GROUPING SETS "
        f"({sets})) AS grouped"
    )
    groups: dict[str, list[_Group]] = {dimension: [] for dimension in dimensions}
    # GROUPING(a, b, c) has a bit per column, the first the highest, set for the columns a
    # row is not grouped by: the row of dimension i has every bit but its own.
    everything = (1 << len(dimensions)) - 1
    of_grouping = {
        everything ^ (1 << (len(dimensions) - 1 - index)): index for index in range(len(dimensions))
    }
    with transaction.atomic(), connection.cursor() as cursor:
        # A year of a large deployment's tasks is sorted by each dimension, then each group by
        # time: in memory rather than in temporary files (PostgreSQL's default is 4 MB), for
        # this statement's transaction only.
        cursor.execute(f"SET LOCAL work_mem = '{SORT_MEMORY}'")
        cursor.execute(sql, params)
        for grouping, *row in cursor.fetchall():
            index = of_grouping[grouping]
            key = row[index]
            if key is None:  # a task with no action, or no assignee: in no such group
                continue
            count, median, p90, overdue = row[len(dimensions) :]
            groups[dimensions[index]].append(_Group(key, count, median, p90, overdue))
    return groups


def _groups_in_python(tasks: QuerySet[Task], dimensions: Sequence[str]) -> dict[str, list[_Group]]:
    durations: dict[str, dict[Any, list[float]]] = {d: defaultdict(list) for d in dimensions}
    overdue: dict[str, dict[Any, int]] = {d: defaultdict(int) for d in dimensions}
    columns = [GROUP_COLUMNS[dimension] for dimension in dimensions]
    rows = tasks.values_list(*columns, "created", "finished", "due").order_by()
    for *keys, created, finished, due in rows.iterator(chunk_size=5000):
        seconds = (finished - created).total_seconds()
        late = due is not None and due < finished
        for dimension, key in zip(dimensions, keys, strict=True):
            if key is not None:
                durations[dimension][key].append(seconds)
                overdue[dimension][key] += late
    groups: dict[str, list[_Group]] = {}
    for dimension in dimensions:
        groups[dimension] = []
        for key, values in durations[dimension].items():
            values.sort()
            groups[dimension].append(
                _Group(
                    key,
                    len(values),
                    _percentile_of_sorted(values, 0.5),
                    _percentile_of_sorted(values, 0.9),
                    overdue[dimension][key],
                )
            )
    return groups


def grouped_figures(
    tasks: QuerySet[Task], dimensions: Sequence[str], *, in_database: bool | None = None
) -> dict[str, list[_Group]]:
    """Count, median and 90th percentile of the time spent, and tasks finished late, per
    key of each dimension: in the database on PostgreSQL, in Python elsewhere (or when asked,
    which is how the tests compare both). The tasks are read once for all the dimensions."""
    if in_database is None:
        in_database = connection.vendor == "postgresql"
    return (_groups_in_database if in_database else _groups_in_python)(tasks, dimensions)


# --- The tables -----------------------------------------------------------------------------


class _AnyOf(Func):
    """``expression = ANY(array)``: PostgreSQL's ``IN`` of one array parameter."""

    template = "%(expressions)s)"
    arg_joiner = " = ANY("
    output_field = BooleanField()


def _among(keys: list[Any]) -> Q | _AnyOf:
    """The rows whose primary key is one of ``keys``: on PostgreSQL as one array parameter;
    Django took 0.2 to 0.5 s to write the ``IN`` of the 5,000 people of the benchmark's
    table, a parameter per value."""
    if connection.vendor == "postgresql":
        # The list as psycopg sends it, an array (a Value of an ArrayField would prepare each
        # element through the field: 70 ms for 5,000).
        return _AnyOf(F("pk"), RawSQL("%s", (keys,)))
    return Q(pk__in=keys)


def _labels(dimension: str, keys: Iterable[Any]) -> dict[Any, tuple[str, str, str]]:
    """(key, label, detail) of each group, read in one query per table."""
    keys = list(keys)
    among = _among(keys)
    if dimension == Dimension.STEPS:
        return {key: (key, str(TaskKind(key).label), "") for key in keys}
    # Rows, not model instances: a table of 5,000 people took 250 ms to instantiate them.
    if dimension == Dimension.WORKING_GROUPS:
        groups = WorkingGroup.objects.filter(among).values_list(
            "pk", "code", "title", "contract__reference"
        )
        return {pk: (code, f"{code} — {title}", reference) for pk, code, title, reference in groups}
    if dimension == Dimension.ORGANISATIONS:
        organisations = Organisation.objects.filter(among).values_list("pk", "code", "name")
        return {pk: (code, name, "") for pk, code, name in organisations}
    people = User.objects.filter(among).values_list(
        "pk", "username", "first_name", "last_name", "organisation__name"
    )
    return {
        # User.display_name: the full name, or the username when no name is known.
        pk: (username, f"{first_name} {last_name}".strip() or username, organisation or "")
        for pk, username, first_name, last_name, organisation in people
    }


def _hours(seconds: float) -> float:
    return round(seconds / SECONDS_PER_HOUR, 2)


def _figures(dimension: str, groups: list[_Group]) -> list[Figures]:
    """One table: its lines, the slowest (highest median) first."""
    labels = _labels(dimension, (group.key for group in groups))
    figures = [
        Figures(
            key=labels[group.key][0],
            label=labels[group.key][1],
            detail=labels[group.key][2],
            tasks=group.tasks,
            median_hours=_hours(group.median_seconds),
            p90_hours=_hours(group.p90_seconds),
            overdue_share=round(group.overdue / group.tasks, 4),
        )
        for group in groups
    ]
    return sorted(figures, key=lambda line: (-line.median_hours, line.label, line.detail))


def tables_figures(
    user: User,
    filters: AnalyticsFilter,
    dimensions: Sequence[str],
    *,
    in_database: bool | None = None,
) -> dict[str, list[Figures]]:
    """Several tables (the page's four) from one read of the tasks, each the slowest first."""
    groups = grouped_figures(analysed_tasks(user, filters), dimensions, in_database=in_database)
    return {dimension: _figures(dimension, groups[dimension]) for dimension in dimensions}


def task_figures(
    user: User, filters: AnalyticsFilter, dimension: str, *, in_database: bool | None = None
) -> list[Figures]:
    """One table: its lines, the slowest (highest median) first."""
    return tables_figures(user, filters, [dimension], in_database=in_database)[dimension]


# --- CSV ------------------------------------------------------------------------------------


def _cell(value: str) -> str:
    """A text cell a spreadsheet shows as text, never runs as a formula."""
    return f"'{value}" if value.startswith(("=", "+", "-", "@", "\t", "\r")) else value


def _number(value: float) -> str:
    """A decimal as a French spreadsheet reads it: a comma before the decimals."""
    return f"{value:.2f}".replace(".", ",")


def figures_csv(dimension: str, figures: Iterable[Figures]) -> Iterator[str]:
    """A table as a CSV a French spreadsheet opens as it is (UTF-8 with a byte order mark,
    ``;`` between cells, decimal commas, CRLF), with French headers."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    header = [str(DIMENSION_HEADINGS[dimension])]
    if dimension == Dimension.WORKING_GROUPS:
        header.append(_("Contract"))
    if dimension == Dimension.PEOPLE:
        header.append(_("Organisation"))
    writer.writerow(
        [
            *header,
            _("Tasks"),
            _("Median (hours)"),
            _("90th percentile (hours)"),
            _("Finished late (%)"),
        ]
    )
    for line in figures:
        label = [_cell(line.label)]
        if dimension in (Dimension.WORKING_GROUPS, Dimension.PEOPLE):
            label.append(_cell(line.detail))
        writer.writerow(
            [
                *label,
                str(line.tasks),
                _number(line.median_hours),
                _number(line.p90_hours),
                _number(line.overdue_share * 100),
            ]
        )
    yield "\ufeff" + buffer.getvalue()
