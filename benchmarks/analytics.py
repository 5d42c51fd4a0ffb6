"""Bottleneck analytics on a large deployment: p50/p95 of the API's tables and of the page.

The tasks are written with COPY, as a restore would: ``tasks`` finished human tasks over two
years on ``contracts`` contracts (8 actions in 4 working groups each), assigned to ``users``
people of 20 organisations, with the kinds' mix of a real contract (reviews most, then
revisions, votes, signatures...), times from an hour to a few weeks and a due date 15 days
after creation (about one task in six finished late). The audit benchmark's million history
entries hold about 30 task creations in 95 entries: some 300,000 tasks, the default here.
"""

from __future__ import annotations

import datetime
import json
import random
from typing import Any

from django.conf import settings
from django.db import connection
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from config.process import settle_startup_heap

from . import scene
from .measure import ms

REPEAT = 20  # requests per measure, after 3 for warming up
GROUPS_PER_CONTRACT = 4
ACTIONS_PER_CONTRACT = 8
# Kind, share of the tasks, mean hours from creation to completion.
KINDS = [
    ("review", 55, 90),
    ("revision", 15, 160),
    ("vote", 12, 50),
    ("signature", 8, 240),
    ("report", 5, 300),
    ("visa", 3, 70),
    ("opinion", 2, 120),
]
WITH_ACTION = {"review", "revision", "report", "opinion"}


def build(*, tasks: int, contracts: int, users: int, seed: int = 2026) -> dict:
    from workflows.flows import ActionReviewFlow
    from workflows.models import (
        Action,
        Process,
        Task,
        Theme,
        User,
        WorkingGroup,
    )

    rng = random.Random(seed)  # noqa: S311 (reproducible test data, no secret)
    organisations = scene.organisations()
    named = scene.people(
        "agent", users, organisations, lambda n: {"first_name": "Agent", "last_name": f"{n:05d}"}
    )
    people = [pk for pk, _username in named]
    contract_ids = [pk for pk, _reference in scene.contracts("ANALYSE", contracts)]
    Theme.objects.bulk_create(
        [Theme(contract_id=pk, code="T1", title="Axe") for pk in contract_ids]
    )
    themes = dict(Theme.objects.values_list("contract_id", "pk"))
    WorkingGroup.objects.bulk_create(
        [
            WorkingGroup(contract_id=pk, code=f"GT{g}", title=f"Groupe {g}")
            for pk in contract_ids
            for g in range(GROUPS_PER_CONTRACT)
        ],
        batch_size=5000,
    )
    groups: dict[int, list[int]] = {}
    for contract_id, group_id in WorkingGroup.objects.order_by("pk").values_list(
        "contract_id", "pk"
    ):
        groups.setdefault(contract_id, []).append(group_id)
    Action.objects.bulk_create(
        [
            Action(
                contract_id=pk,
                theme_id=themes[pk],
                working_group_id=groups[pk][n % GROUPS_PER_CONTRACT],
                code=f"T1-A{n}",
                title=f"Action {n}",
                pilot_id=rng.choice(people),
                position=n,
            )
            for pk in contract_ids
            for n in range(ACTIONS_PER_CONTRACT)
        ],
        batch_size=5000,
    )
    actions: dict[int, list[int]] = {}
    for contract_id, action_id in Action.objects.order_by("pk").values_list("contract_id", "pk"):
        actions.setdefault(contract_id, []).append(action_id)
    Process.objects.bulk_create(
        [
            Process(flow_class=ActionReviewFlow, contract_id=pk, status="DONE")
            for pk in contract_ids
        ],
        batch_size=5000,
    )
    processes = dict(Process.objects.values_list("contract_id", "pk"))
    # Every column Django would write, with its default where the benchmark sets none.
    fields = [field for field in Task._meta.concrete_fields if not field.primary_key]
    defaults = {
        field.column: field.get_db_prep_save(field.get_default(), connection)
        for field in fields
        if not field.null
    }
    defaults["data"] = json.dumps({})
    defaults["flow_task"] = Task._meta.get_field("flow_task").get_prep_value(
        ActionReviewFlow.review
    )
    defaults["flow_task_type"] = "HUMAN"
    defaults["status"] = "DONE"
    columns = list(
        dict.fromkeys(
            [
                *defaults,
                "process_id",
                "kind",
                "contract_id",
                "action_id",
                "assignee_id",
                "owner_id",
                "completed_by_id",
                "created",
                "assigned",
                "finished",
                "due",
            ]
        )
    )
    weights = [share for _kind, share, _mean in KINDS]
    end = timezone.now()
    span = datetime.timedelta(days=730).total_seconds()
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY workflows_task ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        for _ in range(tasks):
            kind, _share, mean = rng.choices(KINDS, weights)[0]
            contract_id = rng.choice(contract_ids)
            person = rng.choice(people)
            hours = min(rng.expovariate(1 / mean), 24 * 120) + 0.25
            finished = end - datetime.timedelta(seconds=rng.random() * span)
            created = finished - datetime.timedelta(hours=hours)
            row = {
                **defaults,
                "process_id": processes[contract_id],
                "kind": kind,
                "contract_id": contract_id,
                "action_id": rng.choice(actions[contract_id]) if kind in WITH_ACTION else None,
                "assignee_id": person,
                "owner_id": person,
                "completed_by_id": person,
                "created": created,
                "assigned": created,
                "finished": finished,
                "due": created + datetime.timedelta(days=15),
            }
            copy.write_row([row[column] for column in columns])
    scene.analyse(vacuum=True)  # VACUUM: the visibility map that index-only scans read
    return {
        "contracts": contract_ids,
        "organisation": organisations[3],
        "person": User.objects.get(pk=people[len(people) // 2]),
    }


def _timed(what: str, run, rows_of) -> scene.Measure:
    return scene.timed(what, run, rows_of, warm=3, repeat=REPEAT)


def _api_measures(how: str, cases: list[tuple[str, Any, str, dict]]) -> list[scene.Measure]:
    measures = []
    for what, user, path, query in cases:
        client = APIClient()
        client.credentials(
            HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}"
        )
        measures.append(
            _timed(
                f"GET analytics/{path}/: {what}{', ' + how if how else ''}",
                lambda client=client, path=path, query=query: client.get(
                    f"/api/v1/analytics/{path}/", query
                ),
                lambda response: len(response.json()),
            )
        )
    return measures


def _page(what: str, browser: Client) -> scene.Measure:
    return _timed(
        what,
        lambda: browser.get("/analyse/", HTTP_ACCEPT_LANGUAGE="fr"),
        lambda response: sum(len(table.lines) for table in response.context["tables"]),
    )


def _page_of_new_periods(what: str, browser: Client) -> scene.Measure:
    """The page for a period nobody asked for before, each request another (its first day a
    day earlier each time): nothing kept serves it, neither the figures nor the charts."""
    days = iter(range(1, 10_000))
    today = timezone.localdate()

    def request() -> Any:
        since = today - datetime.timedelta(days=365 + next(days))
        return browser.get(
            "/analyse/",
            {"from": since.isoformat(), "to": today.isoformat()},
            HTTP_ACCEPT_LANGUAGE="fr",
        )

    return _timed(
        what,
        request,
        lambda response: sum(len(table.lines) for table in response.context["tables"]),
    )


def _new_charts(browser: Client, count: int) -> list[str]:
    """The addresses of ``count`` charts not drawn yet: the first chart of as many pages of
    new periods (the years ending 400 days ago and earlier, which no other measure asks)."""
    today = timezone.localdate()
    addresses = []
    for n in range(count):
        until = today - datetime.timedelta(days=400 + n)
        page = browser.get(
            "/analyse/",
            {"from": (until - datetime.timedelta(days=364)).isoformat(), "to": until.isoformat()},
        )
        addresses.append(next(t.chart for t in page.context["tables"] if t.chart))
    return addresses


def run(*, tasks: int, contracts: int, users: int) -> list[str]:
    from django.test.utils import setup_test_environment

    from workflows.models import Contract, ContractAuditor, Task, User

    setup_test_environment()  # "testserver" allowed; responses keep their context
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    began = timezone.now()
    scene = build(tasks=tasks, contracts=contracts, users=users)
    built = (timezone.now() - began).total_seconds()
    staff = User.objects.create(username="analyste", is_staff=True)
    coordinator = User.objects.create(username="coordination")
    for pk in scene["contracts"][:5]:
        Contract.objects.get(pk=pk).coordinators.add(coordinator)
    auditor = scene["person"]
    ContractAuditor.objects.create(
        contract_id=scene["contracts"][len(scene["contracts"]) // 2], user=auditor
    )
    one_contract = Contract.objects.get(pk=scene["contracts"][7]).reference
    counted = Task.objects.filter(
        finished__gte=timezone.now() - datetime.timedelta(days=365)
    ).count()
    lines = [
        f"{tasks:,} finished tasks over two years ({counted:,} in the last twelve months, the "
        f"default period), {contracts:,} contracts, {users:,} people "
        f"(written with COPY in {built:.0f} s)"
    ]
    from workflows.analytics import snapshots
    from workflows.tasks import refresh_analytics

    # As a daphne process does once started (config/asgi.py): what is loaded by now stays.
    settle_startup_heap()
    measures = []
    # Staff's wide views computed for each request (every snapshot taken as stale: the cold
    # path, as when none is kept yet or it is older than snapshots.MAX_AGE), then as served
    # once the periodic task ran.
    kept_for = snapshots.MAX_AGE
    snapshots.MAX_AGE = datetime.timedelta(0)
    measures += _api_measures(
        "cold",
        [
            ("staff, per kind of task", staff, "steps", {}),
            ("staff, per working group", staff, "working-groups", {}),
            ("staff, per organisation", staff, "organisations", {}),
            ("staff, per person", staff, "people", {}),
        ],
    )
    browser = Client()
    browser.force_login(staff)
    measures.append(_page("GET /analyse/ (staff: 4 tables, 4 charts), cold", browser))
    measures.append(_page_of_new_periods("GET /analyse/ (staff), cold, a new period", browser))
    # The charts of new periods' pages, each drawn by the request that asks for it.
    charts = iter(_new_charts(browser, 3 + REPEAT))
    measures.append(
        _timed(
            "GET a chart of a new period's page (drawn)",
            lambda: browser.get(next(charts)),
            lambda response: 1,
        )
    )
    snapshots.MAX_AGE = kept_for
    measures.append(
        _timed(
            "the periodic task refresh_analytics (staff's 4 tables)",
            lambda: refresh_analytics.apply().get(),
            lambda _at: 4,
        )
    )
    refresh_analytics.apply().get()
    measures += _api_measures(
        "as served",
        [
            ("staff, per kind of task", staff, "steps", {}),
            ("staff, per working group", staff, "working-groups", {}),
            ("staff, per organisation", staff, "organisations", {}),
            ("staff, per person", staff, "people", {}),
        ],
    )
    measures.append(_page("GET /analyse/ (staff: 4 tables, 4 charts), as served", browser))
    measures += _api_measures(
        "",
        [
            ("staff, per kind, one organisation", staff, "steps", {"organisation": "ORG03"}),
            ("staff, per organisation, reviews", staff, "organisations", {"step": "review"}),
            ("staff, per kind, one contract", staff, "steps", {"contract": one_contract}),
            ("coordinator of 5 contracts, per person", coordinator, "people", {}),
            ("auditor of 1 contract, per kind", auditor, "steps", {}),
        ],
    )
    browser.force_login(coordinator)
    measures.append(_page("GET /analyse/ (coordinator of 5 contracts)", browser))
    from workflows.analytics.charts import figures_chart_svg
    from workflows.analytics.selectors import AnalyticsFilter, Dimension, task_figures

    since, until = AnalyticsFilter.default_period()
    people = task_figures(staff, AnalyticsFilter(since=since, until=until), Dimension.PEOPLE)
    measures.append(
        _timed(
            "one chart drawn by matplotlib (12 bars x 2; kept once drawn)",
            lambda: figures_chart_svg(
                people, median_label="Médiane", p90_label="90e centile", hours_label="Heures"
            ),
            lambda svg: 12,
        )
    )
    for m in measures:
        lines.append(
            f"  {m.what:<62} {m.statements:>2} statements, {m.rows:>5} rows; "
            f"p50 {ms(m.p50)}, p95 {ms(m.p95)}, CPU p50 {ms(m.cpu_p50)}"
        )
    return lines
