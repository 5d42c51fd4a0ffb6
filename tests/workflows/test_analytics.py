"""Bottleneck analytics: exact figures on a small set of tasks whose times are known, through
the API, the page and the CSV; who may see them; bad parameters; and the same answers whether
they are computed from PostgreSQL's read (numpy) or in Python (SQLite), and as PostgreSQL's
percentile_cont computes them."""

from __future__ import annotations

import csv
import datetime
import io
import re

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import (
    ActionFactory,
    ContractFactory,
    OrganisationFactory,
    UserFactory,
    WorkingGroupFactory,
)
from workflows.analytics import selectors
from workflows.analytics.selectors import (
    AnalyticsFilter,
    Dimension,
    percentile_cont,
    tables_figures,
    task_figures,
)
from workflows.flows import ActionReviewFlow
from workflows.models import ContractAuditor, Process, Task, TaskKind, TaskStatus

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
MARCH = {"from": "2026-03-01", "to": "2026-03-31"}
MARCH_FILTER = AnalyticsFilter(since=datetime.date(2026, 3, 1), until=datetime.date(2026, 3, 31))
START = datetime.datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def no_snapshot():
    """Staff's wide figures are kept in the cache (analytics.snapshots), which outlives a
    test's transaction: each test starts with none."""
    cache.clear()
    yield
    cache.clear()


def without_time(lines: list[dict]) -> list[dict]:
    """The lines of an API answer without their ``computed_at``, the same on every line."""
    assert len({line.pop("computed_at") for line in lines}) <= 1
    return lines


def api_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


def done_task(contract, kind, person, hours, *, action=None, due_after=None, days=0, **fields):
    """A task of ``kind`` assigned to ``person``, created ``days`` after START and done
    ``hours`` later; due ``due_after`` hours after its creation (None: no due date)."""
    process = Process.objects.create(
        flow_class=ActionReviewFlow, contract=contract, action=action, status="DONE"
    )
    created = START + datetime.timedelta(days=days)
    values = {
        "process": process,
        "flow_task": ActionReviewFlow.review,
        "flow_task_type": "HUMAN",
        "status": TaskStatus.DONE,
        "kind": kind,
        "contract": contract,
        "action": action,
        "assignee": person,
        "owner": person,
        "created": created,
        "finished": created + datetime.timedelta(hours=hours),
        "due": None if due_after is None else created + datetime.timedelta(hours=due_after),
    }
    return Task.objects.create(**{**values, **fields})


def build_tasks() -> dict:
    """Two contracts, two people of two organisations, six tasks done in March 2026 and
    three that do not count (cancelled, still open, done in 2025)."""
    north = OrganisationFactory(code="nord", name="Agence du Nord")
    south = OrganisationFactory(code="sud", name="Conseil du Sud")
    alice = UserFactory(
        username="alice", first_name="Alice", last_name="Durand", organisation=north
    )
    bob = UserFactory(username="bob", first_name="Bob", last_name="Morel", organisation=south)
    first = ContractFactory(reference="CLS-A")
    second = ContractFactory(reference="CLS-B")
    for contract in (first, second):
        contract.organisations.add(north, south)
    a1 = ActionFactory(
        contract=first,
        working_group=WorkingGroupFactory(contract=first, code="GT-A", title="Accès"),
    )
    b1 = ActionFactory(
        contract=second,
        working_group=WorkingGroupFactory(contract=second, code="GT-B", title="Bien"),
    )
    review, signature, vote = TaskKind.REVIEW, TaskKind.SIGNATURE, TaskKind.VOTE
    done_task(first, review, alice, 10, action=a1, due_after=24)
    done_task(first, review, alice, 20, action=a1, due_after=12, days=1)  # late
    done_task(first, review, bob, 30, action=a1, days=2)  # no due date: never late
    done_task(second, review, bob, 40, action=b1, due_after=48, days=3)
    done_task(first, signature, alice, 100, due_after=72, days=4)  # late
    done_task(second, vote, bob, 5, due_after=1, days=5)  # late
    # Not counted: cancelled, open, done before the period.
    done_task(first, review, alice, 1000, action=a1, status=TaskStatus.CANCELED)
    done_task(first, review, alice, 1, action=a1, status=TaskStatus.ASSIGNED, finished=None)
    done_task(first, review, alice, 7, action=a1, days=-200)
    return {"first": first, "second": second, "a1": a1, "alice": alice, "bob": bob}


@pytest.fixture
def tasks():
    return build_tasks()


@pytest.fixture
def staff():
    return UserFactory(username="analyste", is_staff=True)


def test_percentile_cont_in_python_interpolates_as_postgresql_does():
    assert percentile_cont([10, 20, 30, 40], 0.5) == 25
    assert percentile_cont([40, 10, 30, 20], 0.9) == pytest.approx(37)
    assert percentile_cont([5], 0.9) == 5


def test_staff_get_the_time_spent_per_kind_of_task(tasks, staff):
    response = api_for(staff).get("/api/v1/analytics/steps/", MARCH)
    assert response.status_code == 200
    assert without_time(response.json()) == [
        {"step": "signature", "tasks": 1, "median_hours": 100.0, "p90_hours": 100.0,
         "overdue_share": 1.0},
        {"step": "review", "tasks": 4, "median_hours": 25.0, "p90_hours": 37.0,
         "overdue_share": 0.25},
        {"step": "vote", "tasks": 1, "median_hours": 5.0, "p90_hours": 5.0,
         "overdue_share": 1.0},
    ]  # fmt: skip


def test_figures_per_organisation_working_group_and_person(tasks, staff):
    client = api_for(staff)
    organisations = client.get("/api/v1/analytics/organisations/", MARCH).json()
    assert without_time(organisations) == [
        {"organisation": "sud", "name": "Conseil du Sud", "tasks": 3, "median_hours": 30.0,
         "p90_hours": 38.0, "overdue_share": 0.3333},
        {"organisation": "nord", "name": "Agence du Nord", "tasks": 3, "median_hours": 20.0,
         "p90_hours": 84.0, "overdue_share": 0.6667},
    ]  # fmt: skip
    groups = client.get("/api/v1/analytics/working-groups/", MARCH).json()
    assert without_time(groups) == [
        {"working_group": "GT-B", "name": "GT-B — Bien", "contract": "CLS-B", "tasks": 1,
         "median_hours": 40.0, "p90_hours": 40.0, "overdue_share": 0.0},
        {"working_group": "GT-A", "name": "GT-A — Accès", "contract": "CLS-A", "tasks": 3,
         "median_hours": 20.0, "p90_hours": 28.0, "overdue_share": 0.3333},
    ]  # fmt: skip
    people = client.get("/api/v1/analytics/people/", MARCH).json()
    assert [(p["person"], p["name"], p["organisation"], p["median_hours"]) for p in people] == [
        ("bob", "Bob Morel", "Conseil du Sud", 30.0),
        ("alice", "Alice Durand", "Agence du Nord", 20.0),
    ]


def test_filters_narrow_the_tasks_counted(tasks, staff):
    client = api_for(staff)
    north = client.get("/api/v1/analytics/steps/", {**MARCH, "organisation": "nord"}).json()
    assert [
        (s["step"], s["tasks"], s["median_hours"], s["p90_hours"], s["overdue_share"])
        for s in north
    ] == [("signature", 1, 100.0, 100.0, 1.0), ("review", 2, 15.0, 19.0, 0.5)]
    reviews = client.get("/api/v1/analytics/organisations/", {**MARCH, "step": "review"}).json()
    assert [
        (o["organisation"], o["tasks"], o["median_hours"], o["p90_hours"]) for o in reviews
    ] == [
        ("sud", 2, 35.0, 39.0),
        ("nord", 2, 15.0, 19.0),
    ]
    one = client.get("/api/v1/analytics/steps/", {**MARCH, "contract": "CLS-B"}).json()
    assert [(s["step"], s["tasks"]) for s in one] == [("review", 1), ("vote", 1)]
    # To 6 March, Paris time: three reviews; the fourth was done at 1 a.m. on the 7th.
    week = client.get("/api/v1/analytics/steps/", {"from": "2026-03-01", "to": "2026-03-06"})
    assert [(s["step"], s["tasks"]) for s in week.json()] == [("review", 3)]
    # No period: the last twelve months, which March 2026 is not in (as of the tests' today)
    # or is: either way, never the task done in 2025 with the March ones.
    default = client.get("/api/v1/analytics/steps/").json()
    assert sum(s["tasks"] for s in default) in (0, 6)


def test_a_coordinator_sees_only_the_contracts_they_coordinate(tasks):
    coordinator = tasks["first"].coordinators.get()
    steps = api_for(coordinator).get("/api/v1/analytics/steps/", MARCH).json()
    assert without_time(steps) == [
        {"step": "signature", "tasks": 1, "median_hours": 100.0, "p90_hours": 100.0,
         "overdue_share": 1.0},
        {"step": "review", "tasks": 3, "median_hours": 20.0, "p90_hours": 28.0,
         "overdue_share": 0.3333},
    ]  # fmt: skip
    other = api_for(coordinator).get("/api/v1/analytics/steps/", {"contract": "CLS-B"})
    assert other.status_code == 400
    assert other.json()["errors"] == [
        "contract: Aucun contrat que vous pouvez auditer n\u2019a la référence «\u00a0CLS-B\u00a0»."
    ]


def test_an_auditor_sees_the_contract_granted(tasks):
    auditor = UserFactory(username="chambre.comptes")
    ContractAuditor.objects.create(contract=tasks["second"], user=auditor)
    steps = api_for(auditor).get("/api/v1/analytics/steps/", MARCH).json()
    assert [(s["step"], s["tasks"], s["median_hours"]) for s in steps] == [
        ("review", 1, 40.0),
        ("vote", 1, 5.0),
    ]


def test_a_plain_lead_or_pilot_sees_nothing(tasks):
    lead = tasks["a1"].working_group.leads.first()
    for person in (lead, tasks["a1"].pilot, tasks["alice"]):
        for table in ("steps", "working-groups", "organisations", "people"):
            response = api_for(person).get(f"/api/v1/analytics/{table}/", MARCH)
            assert response.status_code == 403, (person, table)
    assert APIClient().get("/api/v1/analytics/steps/").status_code == 401
    browser = Client()
    browser.force_login(lead)
    assert browser.get("/analyse/").status_code == 403
    assert browser.get("/analyse/etapes.csv").status_code == 403
    assert "/analyse/" not in browser.get("/taches/").content.decode()


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ({"from": "2026-13-01"}, "from: Saisissez une date valide."),
        ({"from": "01/03/2026"}, "from: Saisissez une date valide."),
        ({"to": "1900-01-01"}, "to: Indiquez un jour entre 2000 et 2100."),
        (
            {"from": "2026-04-01", "to": "2026-03-01"},
            "to: La fin de la période précède son début.",
        ),
        ({"step": "nap"}, "step: Sélectionnez un choix valide. nap n\u2019en fait pas partie."),
        (
            {"organisation": "nowhere"},
            "organisation: Sélectionnez un choix valide. Ce choix ne fait pas partie de ceux "
            "disponibles.",
        ),
        (
            {"contract": "CLS-NONE"},
            "contract: Aucun contrat que vous pouvez auditer n\u2019a la référence "
            "«\u00a0CLS-NONE\u00a0».",
        ),
    ],
)
def test_a_bad_parameter_is_a_400_naming_it(tasks, staff, query, error):
    for table in ("steps", "organisations"):
        response = api_for(staff).get(f"/api/v1/analytics/{table}/", query)
        assert response.status_code == 400
        assert response.json()["errors"] == [error]
    browser = Client()
    browser.force_login(staff)
    assert browser.get("/analyse/", query).status_code == 400
    assert browser.get("/analyse/organismes.csv", query).status_code == 400


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the binary read is PostgreSQL's; SQLite has none"
)
@pytest.mark.parametrize(
    "dimension",
    [Dimension.STEPS, Dimension.WORKING_GROUPS, Dimension.ORGANISATIONS, Dimension.PEOPLE],
)
def test_postgresql_and_python_give_the_same_figures(tasks, staff, dimension):
    # More tasks, of uneven times, so that the percentiles fall between ranks.
    for n in range(1, 40):
        person = tasks["alice"] if n % 3 else tasks["bob"]
        done_task(tasks["first"], TaskKind.REVIEW, person, n * 1.37 + n % 7, action=tasks["a1"],
                  due_after=n % 11 * 3, days=n % 20)  # fmt: skip
    for filters in (
        AnalyticsFilter(since=datetime.date(2026, 3, 1), until=datetime.date(2026, 3, 31)),
        AnalyticsFilter(
            since=datetime.date(2026, 3, 5), until=datetime.date(2026, 3, 20), step="review"
        ),
    ):
        in_database = task_figures(staff, filters, dimension, in_database=True)
        in_python = task_figures(staff, filters, dimension, in_database=False)
        assert in_database == in_python
        assert in_database


def test_the_tables_read_together_are_the_tables_read_one_by_one(tasks, staff):
    dimensions = [Dimension.STEPS, Dimension.WORKING_GROUPS, Dimension.ORGANISATIONS,
                  Dimension.PEOPLE]  # fmt: skip
    for filters in (
        AnalyticsFilter(since=datetime.date(2026, 3, 1), until=datetime.date(2026, 3, 31)),
        AnalyticsFilter(
            since=datetime.date(2026, 3, 1), until=datetime.date(2026, 3, 31), step="review"
        ),
    ):
        together = tables_figures(staff, filters, dimensions)
        assert list(together) == dimensions
        for dimension in dimensions:
            assert together[dimension] == task_figures(staff, filters, dimension), dimension
        assert [len(together[dimension]) for dimension in dimensions] == (
            [3, 2, 2, 2] if not filters.step else [1, 2, 2, 2]
        )
    coordinator = tasks["first"].coordinators.get()
    mine = tables_figures(coordinator, MARCH_FILTER, dimensions)
    assert [(line.key, line.tasks) for line in mine[Dimension.WORKING_GROUPS]] == [("GT-A", 3)]
    assert sum(line.tasks for line in mine[Dimension.PEOPLE]) == 4


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the binary read is PostgreSQL's; SQLite has none"
)
def test_postgresql_and_python_give_the_same_tables_read_together(tasks, staff):
    for n in range(1, 40):
        person = tasks["alice"] if n % 3 else tasks["bob"]
        done_task(tasks["second"] if n % 4 else tasks["first"], TaskKind.REVISION, person,
                  n * 2.11 + n % 5, due_after=n % 9 * 4, days=n % 25)  # fmt: skip
    dimensions = [Dimension.PEOPLE, Dimension.STEPS, Dimension.ORGANISATIONS]
    in_database = tables_figures(staff, MARCH_FILTER, dimensions, in_database=True)
    assert in_database == tables_figures(staff, MARCH_FILTER, dimensions, in_database=False)
    assert all(in_database.values())


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's percentile_cont")
@pytest.mark.parametrize("dense_keys", [True, False])
def test_the_figures_are_those_of_postgresql_percentile_cont(tasks, staff, dense_keys, monkeypatch):
    if not dense_keys:  # the ids of a large deployment: found by binary search
        monkeypatch.setattr(selectors, "DENSE_KEYS", 0)
    # Uneven times, tasks with and without a due date, with and without an action, and one
    # cancelled and one open, which are not counted.
    for n in range(1, 60):
        person = tasks["alice"] if n % 3 else tasks["bob"]
        done_task(tasks["second"] if n % 4 else tasks["first"], TaskKind.REVIEW if n % 2
                  else TaskKind.VOTE, person, n * 3.17 + n % 13 + 0.000001 * n,
                  action=tasks["a1"] if n % 5 else None, due_after=n % 9 * 5 or None,
                  days=n % 28)  # fmt: skip
    grouped = {
        Dimension.STEPS: "kind",
        Dimension.WORKING_GROUPS: "working_group_id",
        Dimension.ORGANISATIONS: "organisation_id",
        Dimension.PEOPLE: "assignee_id",
    }
    with connection.cursor() as cursor:
        for dimension, column in grouped.items():
            cursor.execute(
                f"SELECT {column}, COUNT(*), PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY s), "  # noqa: S608
                f"PERCENTILE_CONT(0.9) WITHIN GROUP (ORDER BY s), COUNT(*) FILTER (WHERE late) "
                f"FROM (SELECT t.kind, a.working_group_id, u.organisation_id, t.assignee_id, "
                f"EXTRACT(EPOCH FROM t.finished - t.created) AS s, t.due < t.finished AS late "
                f"FROM workflows_task t LEFT JOIN workflows_action a ON a.id = t.action_id "
                f"LEFT JOIN workflows_user u ON u.id = t.assignee_id WHERE t.status = 'DONE' "
                f"AND t.kind <> '' AND t.finished >= %s AND t.finished < %s) AS counted "
                f"WHERE {column} IS NOT NULL GROUP BY {column}",
                [
                    datetime.datetime(2026, 3, 1, tzinfo=UTC) - datetime.timedelta(hours=1),
                    datetime.datetime(2026, 4, 1, tzinfo=UTC) - datetime.timedelta(hours=2),
                ],
            )
            expected = sorted(
                (count, round(float(median) / 3600, 2), round(float(p90) / 3600, 2),
                 round(late / count, 4))
                for _key, count, median, p90, late in cursor.fetchall()
            )  # fmt: skip
            lines = task_figures(staff, MARCH_FILTER, dimension, in_database=True)
            assert (
                sorted(
                    (line.tasks, line.median_hours, line.p90_hours, line.overdue_share)
                    for line in lines
                )
                == expected
            ), dimension
            assert len(expected) >= 2, dimension


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's SQL")
def test_the_tasks_are_read_once_for_every_table(tasks, staff, django_assert_num_queries):
    filters = AnalyticsFilter(since=datetime.date(2026, 3, 1), until=datetime.date(2026, 3, 31))
    # The tasks, the organisations of their assignees, the names of the organisations.
    with django_assert_num_queries(3) as one:
        task_figures(staff, filters, Dimension.ORGANISATIONS)
    reads = [query["sql"] for query in one.captured_queries if "workflows_task" in query["sql"]]
    assert len(reads) == 1
    assert "string_agg" in reads[0]
    # The page's four tables: one read of the tasks, one of their actions' working groups, one
    # of their assignees' organisations, and one per table for its labels (none for the kinds).
    with django_assert_num_queries(6) as page:
        tables_figures(staff, filters, list(Dimension.ALL))
    reads = [query["sql"] for query in page.captured_queries if "workflows_task" in query["sql"]]
    assert len(reads) == 1


def test_the_page_shows_charts_tables_and_csv_links(tasks):
    coordinator = tasks["first"].coordinators.get()
    browser = Client()
    browser.force_login(coordinator)
    page = browser.get("/taches/")
    assert 'href="/analyse/"' in page.content.decode()  # in the menu
    response = browser.get("/analyse/", MARCH)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Analyse\u00a0: où les contrats prennent du retard" in html
    # New figures: the page is sent without waiting for its charts, which the browser asks for
    # at their own address, each drawn then; the page shows them in itself from then on.
    charts = re.findall(r'src="(/analyse/graphiques/[0-9a-f]{64}\.svg)"', html)
    assert len(set(charts)) == 4
    for address in charts:
        chart = browser.get(address)
        assert chart.status_code == 200
        assert chart["Content-Type"] == "image/svg+xml"
        assert chart.content.startswith(b"<?xml")
        assert b"<svg" in chart.content
        assert chart.content == browser.get(address).content
    html = browser.get("/analyse/", MARCH).content.decode()
    assert html.count('src="data:image/svg+xml;base64,') == 4
    assert "/analyse/graphiques/" not in html
    assert html.count("<table") == 4
    assert "Diagramme en barres de la médiane" in html
    assert "/analyse/etapes.csv?from=2026-03-01&amp;to=2026-03-31" in html
    steps = response.context["tables"][0]
    assert [(line.key, line.tasks, line.median_hours) for line in steps.lines] == [
        ("signature", 1, 100.0),
        ("review", 3, 20.0),
    ]


def test_a_chart_is_shown_only_to_whoever_may_see_the_analytics(tasks, staff):
    coordinator = tasks["first"].coordinators.get()
    browser = Client()
    browser.force_login(coordinator)
    html = browser.get("/analyse/", MARCH).content.decode()
    address = re.findall(r'src="(/analyse/graphiques/[0-9a-f]{64}\.svg)"', html)[0]
    outsider = Client()
    assert outsider.get(address).status_code == 302  # to the log-in page
    outsider.force_login(tasks["alice"])
    assert outsider.get(address).status_code == 403
    # A hash the page never gave (or whose chart the cache lost): not found, never a 500.
    assert browser.get("/analyse/graphiques/" + "0" * 64 + ".svg").status_code == 404
    assert browser.get("/analyse/graphiques/pas-un-hash.svg").status_code == 404
    assert browser.get(address).status_code == 200


def test_a_table_downloads_as_a_french_csv(tasks, staff):
    browser = Client()
    browser.force_login(staff)
    response = browser.get("/analyse/organismes.csv", MARCH)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "accord-analyse-organismes-" in response["Content-Disposition"]
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))
    assert rows == [
        ["Organisme", "Tâches", "Médiane (heures)", "90e centile (heures)",
         "Terminées en retard (%)"],
        ["Conseil du Sud", "3", "30,00", "38,00", "33,33"],
        ["Agence du Nord", "3", "20,00", "84,00", "66,67"],
    ]  # fmt: skip
    people = browser.get("/analyse/personnes.csv", MARCH).content.decode("utf-8")
    assert people.splitlines()[0] == (
        "\ufeffPersonne;Organisme;Tâches;Médiane (heures);90e centile (heures);"
        "Terminées en retard (%)"
    )
    assert browser.get("/analyse/inconnu.csv").status_code == 404


def test_the_menu_rights_agree_with_the_rules_they_stand_for(tasks, staff):
    from django.contrib.auth.models import Group, Permission

    from workflows.analytics.selectors import may_see_analytics, menu_rights
    from workflows.selectors import user_may_import_contracts

    importer = UserFactory(username="importe.par.groupe")
    group = Group.objects.create(name="coordination")
    group.permissions.add(Permission.objects.get(codename="add_contract"))
    importer.groups.add(group)
    auditor = UserFactory(username="auditrice")
    ContractAuditor.objects.create(contract=tasks["second"], user=auditor)
    people = [
        staff,
        tasks["first"].coordinators.get(),
        auditor,
        importer,
        tasks["a1"].working_group.leads.first(),
        tasks["alice"],
    ]
    for person in people:
        rights = menu_rights(person)
        assert rights.may_import == user_may_import_contracts(person), person
        assert rights.may_analyse == may_see_analytics(person), person
    assert [menu_rights(person).may_analyse for person in people] == [
        True, True, True, False, False, False,
    ]  # fmt: skip
    assert menu_rights(importer).may_import
