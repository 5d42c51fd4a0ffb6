"""The API fuzzed from its own OpenAPI document (schemathesis), as a coordinator and as a plain
user: whatever a client sends, valid or not, the answer is never a 500, its status is one the
document lists for the operation, its body, media type and headers are what the document says,
and what the document calls invalid is refused.

schemathesis' engine runs as its command line would (examples, coverage and fuzzing phases)
against pytest-django's live server: every operation, the unsafe ones (POST, PATCH, PUT,
DELETE) too, on the test database. The server answers from threads of its own, so the test is
transactional: its data committed, the tables emptied afterwards. Generation is derandomised
with a fixed seed and bounded (MAX_EXAMPLES per operation and phase, the coverage phase's
boundary cases for the operations without a body): the same requests every run, about a
minute for each persona.

Random identifiers would only ever meet 404s: path parameters name real objects (the demo
contract in review, a signed contract, a draft, their actions, the persona's tasks) in three
cases out of four, through schemathesis' fuzz dictionaries, so that the answers documented for
existing objects are checked too.

Marked ``fuzz`` (``-m fuzz`` runs it alone). Runs once per CI run, on the PostgreSQL pass
(dev.py); skipped on SQLite, where the live server shares the test's one in-memory connection
between its threads.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from django.core.cache import cache
from django.db import connection
from rest_framework.authtoken.models import Token
from schemathesis.engine import Status, events

from tests.factories import ActionFactory, ContractFactory, SignatoryFactory, UserFactory
from tests.flows import walk_to_signed
from workflows.api.throttling import ScopedRateThrottle
from workflows.models import Action, Contract, Signatory, Task, User
from workflows.services import contract_import, launch_review

pytestmark = [
    pytest.mark.fuzz,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="the live server shares SQLite's in-memory test database between its threads",
    ),
]

# Cases per operation and phase: with ~55 operations, about a minute for each persona.
MAX_EXAMPLES = 6
# The live server's clients' address (the loopback), under which the log-in throttle counts.
FUZZ_ADDRESS = "127.0.0.1"
# How often a path parameter names a real object rather than a generated (unknown) one.
REAL_OBJECTS = 0.75


@pytest.fixture
def demo(transactional_db, scenario) -> Contract:
    """The demo contract (38 actions, 10 working groups, 8 signatories), its review launched."""
    contract = contract_import(document=scenario, actor=None)
    return launch_review(contract=contract, actor=contract.coordinators.order_by("pk")[0])


@pytest.fixture
def contracts(demo) -> list[Contract]:
    """The demo, a small signed contract and a draft, all three coordinated by the demo's
    coordinator: the states whose answers differ the most."""
    coordinator = demo.coordinators.order_by("pk")[0]
    signed = ContractFactory(coordinator=coordinator, reference="CLS-FUZZ-SIGNE")
    ActionFactory(contract=signed, code="S1", pilot=UserFactory(username="pilote.fuzz"))
    SignatoryFactory(contract=signed)
    walk_to_signed(signed, coordinator)
    draft = ContractFactory(coordinator=coordinator, reference="CLS-FUZZ-BROUILLON")
    ActionFactory(contract=draft, code="D1")
    return [demo, signed, draft]


def fuzz(server: str, user: User, *, coverage: bool = True) -> list[str]:
    """Every failure schemathesis finds for ``user``'s requests, as readable paragraphs."""
    schema = schemathesis.openapi.from_url(
        f"{server}/api/v1/schema/?format=json", config=configuration(user, coverage=coverage)
    )
    failures: list[str] = []
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, events.FatalError):
            raise event.exception
        if isinstance(event, events.NonFatalError):
            failures.append(f"{event.label}: {event.info.title}\n{event.info.message}")
        if isinstance(event, events.ScenarioFinished) and event.status == Status.FAILURE:
            failures.extend(describe(event.recorder))
    return failures


def describe(recorder) -> list[str]:
    found = []
    for checks in recorder.checks.values():
        for check in checks:
            if check.status == Status.FAILURE and check.failure_info is not None:
                failure = check.failure_info.failure
                found.append(
                    f"{recorder.label} [{check.name}] {failure.title}\n{failure.message}\n"
                    f"{check.failure_info.code_sample}"
                )
    return found


def configuration(user: User, *, coverage: bool) -> schemathesis.Config:
    token = Token.objects.get_or_create(user=user)[0].key
    contracts = list(Contract.objects.order_by("pk"))
    actions = list(Action.objects.filter(contract__in=contracts).order_by("pk"))
    tasks = list(Task.objects.filter(owner=user).order_by("pk")[:10])
    dictionaries: dict[str, list[Any]] = {
        "contracts": [contract.pk for contract in contracts],
        "codes": sorted({action.code for action in actions})[:10],
        "years": sorted({contract.period_start.year for contract in contracts}),
        "organisations": sorted(
            Signatory.objects.filter(contract__in=contracts)
            .values_list("organisation__code", flat=True)
            .distinct()
        ),
        "actions": [action.pk for action in actions[:10]],
        "tasks": [task.pk for task in tasks] or [0],
        "numbers": [1],
    }

    def real(name: str) -> dict[str, Any]:
        return {"dictionary": name, "probability": REAL_OBJECTS}

    bodies = ["POST", "PUT", "PATCH"]
    return schemathesis.Config.from_dict(
        {
            "seed": 18,
            "workers": 1,
            "headers": {"Authorization": f"Token {token}"},
            "generation": {
                "mode": "all",
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                # No .hypothesis/ folder: the same cases every run, nothing carried over.
                "database": "none",
            },
            "phases": {
                "stateful": {"enabled": False},
                # Methods an operation does not have: two, not all seven, for the time.
                "coverage": {"enabled": coverage, "unexpected-methods": ["PUT", "DELETE"]},
            },
            "checks": {
                # A schema-valid body may still break a domain rule (an end before a start, a
                # verb impossible in the current state): a documented 400/409, not a failure.
                "positive_data_acceptance": {"enabled": False},
            },
            "dictionaries": {name: {"values": values} for name, values in dictionaries.items()},
            "operations": [
                # A body's boundary cases run to hundreds per operation: its fuzzing is enough.
                {"include-method": bodies, "phases": {"coverage": {"enabled": False}}},
                # What is valid for a read is accepted (200, or 404 for an unknown object): an
                # empty filter, for one, is no filter and never a 400. Not the audit search,
                # where an unknown person, organisation or contract is a documented 400, nor
                # the analytics (the same, and a period ending before it starts), nor a sheet's
                # diff, where so is a version number out of range.
                {
                    "include-method": "GET",
                    "exclude-path": ["/api/v1/history/", "/api/v1/actions/{id}/diff/"],
                    "exclude-path-regex": r"^/api/v1/analytics/",
                    "checks": {"positive_data_acceptance": {"enabled": True}},
                },
                {
                    "include-path-regex": r"^/api/v1/contracts/\{id\}",
                    "parameters": {
                        "path.id": real("contracts"),
                        "path.code": real("codes"),
                        "path.year": real("years"),
                        "path.organisation": real("organisations"),
                        "path.number": real("numbers"),
                    },
                },
                {
                    "include-path-regex": r"^/api/v1/actions/",
                    "parameters": {"path.id": real("actions")},
                },
                {
                    "include-path-regex": r"^/api/v1/tasks/",
                    "parameters": {"path.id": real("tasks")},
                },
            ],
        }
    )


@pytest.fixture(autouse=True)
def _throttle_reset():
    """The fuzzer asks for tokens far more than ten times a minute: a 429 it must meet (the
    document lists it). The count it leaves in the shared cache is removed afterwards, so that
    no later test on this worker starts throttled (rather than turning the throttle off: its
    429 is an answer to check too). django-axes' failed attempts are rows: emptied with the
    tables."""
    yield
    throttle = ScopedRateThrottle()
    cache.delete(throttle.cache_format % {"scope": "login", "ident": FUZZ_ADDRESS})


def test_the_api_answers_a_coordinator_as_documented(live_server, contracts):
    """With the coverage phase: each parameter's boundaries, valid and not, each missing
    required part, the methods an operation does not have."""
    failures = fuzz(live_server.url, contracts[0].coordinators.order_by("pk")[0])
    assert not failures, "\n\n".join(failures)


def test_the_api_answers_a_plain_user_as_documented(live_server, contracts):
    """A working-group lead of the demo: review tasks in the inbox, no coordination. The
    coverage phase's cases, the same for everyone, are the coordinator's test's."""
    failures = fuzz(live_server.url, User.objects.get(username="tech1.ars"), coverage=False)
    assert not failures, "\n\n".join(failures)
