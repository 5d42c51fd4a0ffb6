"""The inbox of one person among many: statements per page and time, as the table grows.

The data is bulk-created, as an import of a large deployment would be: ``users`` people,
contracts of 40 actions each with their review processes, and open tasks (reviews and votes)
spread over everyone, each with its owner, kind, contract, action, process, due date and
status ASSIGNED. One person, the measured one, holds ``MEASURED_TASKS`` open tasks at every
size, so that only the size of the table changes between two measures.
"""

from __future__ import annotations

import datetime
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection
from django.test import Client
from django.urls import Resolver404, resolve
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from .measure import measured, ms, percentile

MEASURED_TASKS = 120  # more than a page: the first page is full and the total is counted
ACTIONS_PER_CONTRACT = 40
TASKS_PER_ACTION = 10
REPEAT = 200  # requests per measure (after 10 for warming up)
BATCH = 5000


@dataclass
class Measure:
    what: str
    statements: int
    p50: float
    p95: float
    rows: int
    cpu: float = 0.0  # the Python process's CPU time per call, median


class Deployment:
    """Everything bulk-created; ``grow_to(n)`` adds open tasks until there are n."""

    def __init__(self, users: int, seed: int = 2019) -> None:
        from workflows.models import Organisation, User

        self.random = random.Random(seed)  # noqa: S311 (reproducible test data, no secret)
        self.now = timezone.now()
        organisation = Organisation.objects.create(code="BENCH", name="Organisation de mesure")
        User.objects.bulk_create(
            [
                User(
                    username=f"personne{n:05d}",
                    first_name="Personne",
                    last_name=f"{n:05d}",
                    email=f"personne{n:05d}@example.org",
                    organisation=organisation,
                    password="!",  # no usable password (not a secret)  # noqa: S106
                )
                for n in range(users)
            ],
            batch_size=BATCH,
        )
        self.user_ids = list(User.objects.order_by("pk").values_list("pk", flat=True))
        self.measured = User.objects.get(pk=self.user_ids[0])
        self.others = self.user_ids[1:]
        self.slots: list[tuple[int, int, int]] = []  # (contract, action, process) with room
        self.contracts = 0
        self.tasks = 0

    def _new_contract(self) -> None:
        """A contract in review, its actions, and one review process per action."""
        from workflows.flows import ActionReviewFlow
        from workflows.models import Action, Contract, Process, Theme, WorkingGroup

        self.contracts += 1
        contract = Contract.objects.create(
            reference=f"BENCH-{self.contracts:04d}",
            title=f"Contrat de mesure {self.contracts}",
            kind="CLS",
            territory_name="Territoire de mesure",
            period_start=datetime.date(2024, 1, 1),
            period_end=datetime.date(2027, 12, 31),
        )
        # The status is an FSM field; a queryset update sets the scene without a transition.
        Contract.objects.filter(pk=contract.pk).update(status="review")
        theme = Theme.objects.create(contract=contract, code="T1", title="Axe")
        group = WorkingGroup.objects.create(contract=contract, code="GT1", title="Groupe")
        Action.objects.bulk_create(
            [
                Action(
                    contract=contract,
                    theme=theme,
                    working_group=group,
                    code=f"T1-A{n}",
                    title=f"Action {n}",
                    pilot_id=self.random.choice(self.others),
                    position=n,
                )
                for n in range(ACTIONS_PER_CONTRACT)
            ]
        )
        Action.objects.filter(contract=contract).update(status="review")
        action_ids = list(contract.actions.order_by("pk").values_list("pk", flat=True))
        Process.objects.bulk_create(
            [
                Process(
                    flow_class=ActionReviewFlow,
                    contract=contract,
                    action_id=action_id,
                    status="NEW",
                )
                for action_id in action_ids
            ]
        )
        processes = Process.objects.filter(contract=contract).order_by("action_id")
        self.slots.extend(
            (contract.pk, process.action_id, process.pk) for process in processes.only("action_id")
        )

    def _task(self, owner_id: int):
        from workflows.flows import ActionReviewFlow
        from workflows.models import Task, TaskKind, TaskStatus

        if not self.slots:
            self._new_contract()
        contract_id, action_id, process_id = self.slots[-1]
        self._filled = getattr(self, "_filled", 0) + 1
        if self._filled % TASKS_PER_ACTION == 0:
            self.slots.pop()
        assigned = self.now - datetime.timedelta(minutes=self.random.randrange(60 * 24 * 30))
        return Task(
            process_id=process_id,
            flow_task=ActionReviewFlow.review,
            flow_task_type="HUMAN",
            status=TaskStatus.ASSIGNED,
            kind=TaskKind.REVIEW,
            contract_id=contract_id,
            action_id=action_id,
            owner_id=owner_id,
            assignee_id=owner_id,
            created=assigned,
            assigned=assigned,
            due=assigned + datetime.timedelta(days=15),
        )

    def grow_to(self, total: int) -> None:
        from workflows.models import Task

        wanted = total - self.tasks
        owners = [
            self.measured.pk if self.tasks + n < MEASURED_TASKS else self.random.choice(self.others)
            for n in range(wanted)
        ]
        for start in range(0, wanted, BATCH):
            Task.objects.bulk_create(
                [self._task(owner) for owner in owners[start : start + BATCH]], batch_size=BATCH
            )
        self.tasks = total
        with connection.cursor() as cursor:  # as autovacuum would, after a big import
            cursor.execute("ANALYZE")


def _timed(what: str, run, rows_of) -> Measure:
    for _ in range(10):
        run()
    durations, cpu, statements, rows = [], [], set(), 0
    for _ in range(REPEAT):
        with measured() as figures:
            result = run()
        durations.append(figures.seconds)
        cpu.append(figures.cpu_seconds)
        statements.add(figures.statements)
        rows = rows_of(result)
    if len(statements) != 1:
        raise RuntimeError(f"{what}: the number of statements varies: {sorted(statements)}")
    return Measure(
        what,
        statements.pop(),
        percentile(durations, 0.5),
        percentile(durations, 0.95),
        rows,
        percentile(cpu, 0.5),
    )


def _available(path: str) -> bool:
    try:
        resolve(path)
    except Resolver404:
        return False
    return True


def requests(deployment: Deployment) -> list[tuple[str, Callable[[], Any]]]:
    """The first page (50 tasks) of the measured person's inbox, four ways."""
    return [(what, call) for what, call, _ in _requests(deployment)]


def _requests(deployment: Deployment) -> list[tuple[str, Callable[[], Any], Callable[[Any], int]]]:
    from workflows.api.serializers import TaskOutput
    from workflows.selectors import inbox_of

    user = deployment.measured
    calls: list[tuple[str, Callable[[], Any], Callable[[Any], int]]] = [
        ("selector inbox_of, first 50", lambda: list(inbox_of(user)[:50]), len),
    ]

    # As the API renders it: the selector's page, serialised (no HTTP, no authentication).
    class Request:  # what TaskOutput reads of the request
        pass

    request = Request()
    request.user = user
    calls.append(
        (
            "selector + API serialiser",
            lambda: (
                TaskOutput(list(inbox_of(user)[:50]), many=True, context={"request": request}).data
            ),
            len,
        )
    )
    if _available("/api/v1/inbox/"):
        api = APIClient()
        token = Token.objects.get_or_create(user=user)[0].key
        api.credentials(HTTP_AUTHORIZATION=f"Token {token}")

        def api_page():
            response = api.get("/api/v1/inbox/", HTTP_ACCEPT_LANGUAGE="fr")
            assert response.status_code == 200, response.status_code
            return response

        calls.append(("GET /api/v1/inbox/ (token, HTTP)", api_page, lambda r: len(r.json())))
    if _available("/taches/"):
        browser = Client()
        browser.force_login(user)

        def html_page():
            response = browser.get("/taches/", HTTP_ACCEPT_LANGUAGE="fr")
            assert response.status_code == 200, response.status_code
            return response

        calls.append(
            (
                "GET /taches/ (session, HTML page)",
                html_page,
                lambda r: len(r.context["tasks"]) if r.context else 0,
            )
        )
    return calls


def measure(deployment: Deployment) -> list[Measure]:
    return [_timed(what, call, rows_of) for what, call, rows_of in _requests(deployment)]


def run(*, users: int, totals: list[int]) -> list[str]:
    from django.test.utils import setup_test_environment

    setup_test_environment()  # "testserver" allowed; responses keep their context
    # Pages render without `collectstatic` (the manifest storage needs its manifest).
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    started = timezone.now()
    deployment = Deployment(users)
    lines = []
    for total in sorted(totals):
        deployment.grow_to(total)
        lines.append(
            f"\n{total:,} open tasks, {users:,} people, {deployment.contracts} contracts; "
            f"the measured person holds {MEASURED_TASKS} "
            f"(elapsed {(timezone.now() - started).total_seconds():.0f} s)"
        )
        for figures in measure(deployment):
            lines.append(
                f"  {figures.what:<36} {figures.statements:>2} statements, "
                f"{figures.rows} tasks; p50 {ms(figures.p50)}, p95 {ms(figures.p95)}, "
                f"CPU {ms(figures.cpu)}"
            )
    return lines
