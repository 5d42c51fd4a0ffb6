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

The figures are exact: the median and the 90th percentile as PostgreSQL's ``percentile_cont``
computes them (linear between the two nearest ranks; the tests compare both). On PostgreSQL
the database reads the period's tasks once, from an index, and sends their times and keys as
fixed-width binary rows; numpy sorts the times once and groups them per table (the page's four
from that one read). Sorting in the database, by each table's key and then each group by time,
took three to five times as long on the benchmark's 150,000 tasks (docs/benchmarks.md).
SQLite (the embedded default) computes the same figures in plain Python, also from one read.
"""

from __future__ import annotations

import csv
import datetime
import io
import math
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy
from django.contrib.auth.models import AnonymousUser, Permission
from django.db import connection
from django.db.models import (
    Aggregate,
    BinaryField,
    BooleanField,
    DateTimeField,
    Exists,
    F,
    Func,
    OuterRef,
    Q,
    QuerySet,
    Value,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from workflows.models import (
    Action,
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


class Figures(NamedTuple):
    """One line of a table: a step, working group, organisation or person, and its figures.
    A named tuple: a table of 5,000 people builds and keeps 5,000 of them per request."""

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


def percentile_cont(values: Sequence[float], fraction: float) -> float:
    """``percentile_cont`` in Python, for SQLite: the same linear interpolation between the
    two nearest ranks of the sorted values."""
    ordered = sorted(values)
    return _percentile_of_sorted(ordered, fraction)


def _percentile_of_sorted(ordered: Sequence[float], fraction: float) -> float:
    position = fraction * (len(ordered) - 1)
    below, above = math.floor(position), math.ceil(position)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


class _Group(NamedTuple):
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


class _Sent(Func):
    """A value in PostgreSQL's binary form (``int8send``, ``timestamptz_send``…): a bytea."""

    output_field = BinaryField()

    def __init__(self, expression: Any, function: str) -> None:
        super().__init__(expression, function=function)


class _Concatenated(Func):
    """``a || b || …``: the bytes of one row, one after the other."""

    template = "(%(expressions)s)"
    arg_joiner = " || "
    output_field = BinaryField()


class _BytesAggregate(Aggregate):
    """``string_agg(bytes, '')``: the bytes of every row, one after the other."""

    function = "string_agg"
    template = "%(function)s(%(expressions)s, ''::bytea)"
    output_field = BinaryField()


def _rows_sent(
    tasks: QuerySet[Task], dimensions: Sequence[str]
) -> tuple[QuerySet[Task, Any], list[str]]:
    """Per kind of task, the bytes of each of its tasks counted, and the names of their
    columns: fixed-width rows numpy reads as they are (``_parsed``), each column in its binary
    form (big-endian): the times as PostgreSQL keeps them, microseconds since 2000 (a due date
    never set is ``infinity``, the largest), the action and the assignee (0 for none) for the
    tables that need them."""
    parts: list[Any] = [
        _Sent(F("created"), "timestamptz_send"),
        _Sent(F("finished"), "timestamptz_send"),
        _Sent(
            Coalesce(F("due"), RawSQL("'infinity'::timestamptz", (), DateTimeField())),
            "timestamptz_send",
        ),
    ]
    names = ["created", "finished", "due"]
    if Dimension.WORKING_GROUPS in dimensions:
        parts.append(_Sent(Coalesce(F("action_id"), Value(0)), "int8send"))
        names.append("action")
    if {Dimension.ORGANISATIONS, Dimension.PEOPLE} & set(dimensions):
        parts.append(_Sent(Coalesce(F("assignee_id"), Value(0)), "int8send"))
        names.append("person")
    if list(dimensions) == [Dimension.WORKING_GROUPS]:
        # One table of working groups: the tasks with no action (a fifth) are in none of its
        # groups, left out by the database.
        tasks = tasks.filter(action__isnull=False)
    rows = tasks.values("kind").annotate(sent=_BytesAggregate(_Concatenated(*parts))).order_by()
    return rows, names


def _parsed(data: bytes, names: Sequence[str]) -> dict[str, numpy.ndarray]:
    """The columns of the rows ``_rows_sent`` wrote, as arrays of native integers."""
    rows = numpy.frombuffer(data, dtype=[(name, ">i8") for name in names])
    return {name: rows[name].astype(numpy.int64) for name in names}


# Keys below this are mapped through a table indexed by key (8 bytes each), above it by a
# binary search: the benchmark's ids are in the thousands, a large deployment's in the millions.
DENSE_KEYS = 4_000_000


def _key_map(keys: numpy.ndarray, model: type[Action | User], column: str) -> numpy.ndarray:
    """``keys`` (actions or people, 0 for none) replaced by their ``column`` (working group,
    organisation; 0 for none), read for those present only, as binary rows too (8,000 rows
    read as Python values took 30 to 60 ms)."""
    largest = int(keys.max()) if len(keys) else 0
    dense = largest < DENSE_KEYS
    if dense:
        present = numpy.flatnonzero(numpy.bincount(keys, minlength=1)[1:]) + 1
    else:
        present = numpy.unique(keys[keys != 0])
    if not len(present):
        return numpy.zeros_like(keys)
    sent = (
        model.objects.filter(_among(present.tolist()))
        .order_by()
        .aggregate(
            sent=_BytesAggregate(
                _Concatenated(
                    _Sent(F("pk"), "int8send"), _Sent(Coalesce(F(column), Value(0)), "int8send")
                )
            )
        )["sent"]
    )
    if not sent:
        return numpy.zeros_like(keys)
    pairs = _parsed(sent, ["source", "target"])
    sources, targets = pairs["source"], pairs["target"]
    if dense:
        table = numpy.zeros(largest + 1, dtype=numpy.int64)
        table[sources] = targets
        return table[keys]
    order = numpy.argsort(sources)
    sources, targets = sources[order], targets[order]
    at = numpy.minimum(numpy.searchsorted(sources, keys), len(sources) - 1)
    return numpy.where(sources[at] == keys, targets[at], 0)


def _percentiles_by_key(
    keys: numpy.ndarray, ranks: numpy.ndarray, ordered_seconds: numpy.ndarray, late: numpy.ndarray
) -> list[_Group]:
    """Each key's count, median, 90th percentile and tasks late. ``ordered_seconds`` are every
    task's seconds sorted, ``ranks`` each task's place among them: sorting (key, rank) puts
    each key's tasks together, in the order of their seconds, with one sort of integers."""
    counted = keys != 0
    keys, ranks = keys[counted], ranks[counted]
    if not len(keys):
        return []
    size = len(ordered_seconds)
    if int(keys.max()) >= numpy.iinfo(numpy.int64).max // size - 1:  # never with real keys
        order = numpy.lexsort((ranks, keys))
        keys, ranks = keys[order], ranks[order]
    else:
        composite = numpy.sort(keys * size + ranks)
        keys, ranks = composite // size, composite % size
    seconds = ordered_seconds[ranks]
    starts = numpy.flatnonzero(numpy.concatenate(([True], keys[1:] != keys[:-1])))
    counts = numpy.diff(numpy.append(starts, len(keys)))
    percentiles = []
    for fraction in (0.5, 0.9):
        # percentile_cont's interpolation, as _percentile_of_sorted computes it.
        position = fraction * (counts - 1)
        below, above = numpy.floor(position).astype(numpy.int64), numpy.ceil(position)
        low, high = seconds[starts + below], seconds[starts + above.astype(numpy.int64)]
        percentiles.append(low + (high - low) * (position - below))
    overdue = numpy.add.reduceat(late[ranks].astype(numpy.int64), starts)
    return [
        _Group(key, count, median, p90, late_count)
        for key, count, median, p90, late_count in zip(
            keys[starts].tolist(),
            counts.tolist(),
            percentiles[0].tolist(),
            percentiles[1].tolist(),
            overdue.tolist(),
            strict=True,
        )
    ]


def _groups_in_database(
    tasks: QuerySet[Task], dimensions: Sequence[str]
) -> dict[str, list[_Group]]:
    """All the tables asked for from one read of the tasks: the database reads the period's
    tasks from the index (``task_done_finished``: no join, no sort) and sends them as the
    bytes of fixed-width rows, one string per kind of task (``_rows_sent``); numpy sorts the
    times once and, for each table, groups the tasks by key in that order
    (``_percentiles_by_key``). The working groups and organisations are those of the tasks'
    actions and assignees (one short read each)."""
    rows, names = _rows_sent(tasks, dimensions)
    sent = [(kind, _parsed(data, names)) for kind, data in rows.values_list("kind", "sent")]
    groups: dict[str, list[_Group]] = {dimension: [] for dimension in dimensions}
    if not sent:
        return groups
    columns = {name: numpy.concatenate([of_kind[name] for _, of_kind in sent]) for name in names}
    # Each kind of task by its place among the rows, from 1 (0 is no key).
    step_keys = numpy.concatenate(
        [
            numpy.full(len(of_kind["created"]), index + 1, dtype=numpy.int64)
            for index, (_kind, of_kind) in enumerate(sent)
        ]
    )
    # Whole microseconds, as timedelta.total_seconds() of Python's side divides them.
    microseconds = columns["finished"] - columns["created"]
    order = numpy.argsort(microseconds)
    ordered_seconds = microseconds[order] / 1_000_000
    ranks = numpy.empty_like(order)
    ranks[order] = numpy.arange(len(order))
    late = (columns["due"] < columns["finished"])[order]
    keys: dict[str, numpy.ndarray] = {}
    if Dimension.STEPS in dimensions:
        keys[Dimension.STEPS] = step_keys
    if Dimension.WORKING_GROUPS in dimensions:
        keys[Dimension.WORKING_GROUPS] = _key_map(columns["action"], Action, "working_group_id")
    if Dimension.ORGANISATIONS in dimensions:
        keys[Dimension.ORGANISATIONS] = _key_map(columns["person"], User, "organisation_id")
    if Dimension.PEOPLE in dimensions:
        keys[Dimension.PEOPLE] = columns["person"]
    for dimension, dimension_keys in keys.items():
        found = _percentiles_by_key(dimension_keys, ranks, ordered_seconds, late)
        if dimension == Dimension.STEPS:
            found = [group._replace(key=sent[group.key - 1][0]) for group in found]
        groups[dimension] = found
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
        # The list as the text of an array (a Value of an ArrayField would prepare each
        # element through the field: 70 ms for 5,000; psycopg adapting the list, 20 ms).
        text = "{" + ",".join(str(int(key)) for key in keys) + "}"
        return _AnyOf(F("pk"), RawSQL("%s::bigint[]", (text,)))
    return Q(pk__in=keys)


def _labels(dimension: str, keys: Iterable[Any]) -> dict[Any, tuple[str, str, str]]:
    """(key, label, detail) of each group, read in one query per table."""
    keys = list(keys)
    if dimension == Dimension.STEPS:
        return {key: (key, str(TaskKind(key).label), "") for key in keys}
    among = _among(keys)
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
            *labels[group.key],  # key, label, detail
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
