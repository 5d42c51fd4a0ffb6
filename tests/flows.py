"""Driving contracts through their real flows in tests: every step is a person's decision."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import transaction
from django.utils import timezone
from rest_framework.test import APIClient

from signatures.tasks import seal_pending
from tests.factories import PASSWORD, SignatoryFactory, SteeringCommitteeFactory
from workflows import services
from workflows.history import UnitOfWork
from workflows.models import Contract, Task, TaskKind, TaskStatus
from workflows.services import Decision


@contextmanager
def unit_on(contract: Contract) -> Iterator[UnitOfWork]:
    """The steps of ``workflows.services``, as a verb runs them: inside a transaction and a
    unit of work on the locked contract. A step refused in the block raises out of it, and
    nothing is written (the transaction rolls back)."""
    with transaction.atomic(), UnitOfWork.lock(contract.pk) as unit:
        yield unit


def open_tasks(contract: Contract, kind: str | None = None) -> list[Task]:
    tasks = Task.objects.filter(contract=contract, status=TaskStatus.ASSIGNED)
    if kind:
        tasks = tasks.filter(kind=kind)
    # Parallel branches open in no fixed order (viewflow activates them from a set): the
    # signatures and visas as their signatories come, the rest as they were created.
    return list(
        tasks.select_related("owner", "action", "signatory").order_by(
            "signatory__order", "signatory_id", "amendment_party__order", "amendment_party_id", "pk"
        )
    )


def decide(task: Task, decision: str = "approve", **fields) -> Task:
    if decision == "sign":
        fields = {"password": PASSWORD, "consent": True, **fields}
    return services.task_decide(task=task, actor=task.owner, decision=Decision(decision, **fields))


def approve_reviews(contract: Contract) -> None:
    while tasks := open_tasks(contract, TaskKind.REVIEW):
        decide(tasks[0])


def vote(contract: Contract, decision: str = "approve", **fields) -> None:
    """Every member votes the same way until the vote is decided."""
    while tasks := open_tasks(contract, TaskKind.VOTE):
        decide(tasks[0], decision, **fields)


def ensure_committee_and_signatory(contract: Contract) -> None:
    if not hasattr(contract, "steering_committee"):
        SteeringCommitteeFactory(contract=contract)
    if not contract.signatories.exists():
        SignatoryFactory(contract=contract)


def launch(contract: Contract, coordinator) -> Contract:
    """Launch the review, first giving the contract the committee and the mandatory signatory
    that a launch needs, when the test did not."""
    ensure_committee_and_signatory(contract)
    return services.launch_review(contract=contract, actor=coordinator)


def walk_to_deliberation(contract: Contract, coordinator) -> Contract:
    launch(contract, coordinator)
    approve_reviews(contract)
    vote(contract)
    contract.refresh_from_db()
    assert contract.status == "deliberation", contract.status
    return contract


def record_deliberation(contract: Contract, number: str = "DEL-2024-031") -> None:
    (task,) = open_tasks(contract, TaskKind.DELIBERATION)
    decide(task, "record", number=number, date=timezone.localdate() - datetime.timedelta(days=1))


def sign_all(contract: Contract, *, worker_seals_then: bool = True) -> None:
    """Every open signature signed, then (unless told not to) the worker's seal."""
    while tasks := open_tasks(contract, TaskKind.SIGNATURE):
        decide(tasks[0], "sign")
    if worker_seals_then:
        worker_seals()


def worker_seals() -> None:
    """What the worker does after the last signature's commit, which a test's transaction
    never reaches: seal the signed document (signatures.reactions.seal_signed_contract)."""
    seal_pending(grace_seconds=0)


def walk_to_signed(contract: Contract, coordinator) -> Contract:
    walk_to_deliberation(contract, coordinator)
    record_deliberation(contract)
    sign_all(contract)
    contract.refresh_from_db()
    assert contract.status == "signed", contract.status
    return contract


def tamper_with_history(sql: str, params: list) -> None:
    """Write to the history behind Accord's back, as someone with the table owner's rights
    could: on PostgreSQL, the append-only trigger is disabled first, as they would have to."""
    from django.db import connection

    trigger = "workflows_historyentry_append_only"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending check blocks ALTER
            cursor.execute(f"ALTER TABLE workflows_historyentry DISABLE TRIGGER {trigger}")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute(f"ALTER TABLE workflows_historyentry ENABLE TRIGGER {trigger}")


def force_on_tables(sql: str, *tables: str) -> None:
    """Run ``sql`` as someone with the tables' owner rights could: on PostgreSQL, every
    trigger of ``tables`` (the statement-level ones refusing TRUNCATE included) is switched off
    first, as they would have to, and back on after."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            for table in tables:
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        cursor.execute(sql)
        if connection.vendor == "postgresql":
            for table in tables:
                cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")


def amendment_to_signing(contract: Contract, coordinator) -> None:
    """An amendment of the signed contract extending its period, through the committee's
    vote and the deliberation, to its signature by the mandatory party (the only one)."""
    client = APIClient()
    client.force_authenticate(coordinator)
    base = f"/api/v1/contracts/{contract.pk}/amendments/"
    assert client.post(base, {"summary": "Prolonger"}, format="json").status_code == 201
    end = contract.period_end.replace(year=contract.period_end.year + 1)
    extended = client.patch(f"{base}1/", {"period_end": end.isoformat()}, format="json")
    assert extended.status_code == 200, extended.json()
    launched = client.post(f"{base}1/transitions/launch_review/", {}, format="json")
    assert launched.status_code == 200, launched.json()
    while tasks := open_tasks(contract, TaskKind.REVIEW) + open_tasks(contract, TaskKind.VOTE):
        decide(tasks[0])
    recorded = client.post(
        f"{base}1/transitions/record_deliberation/",
        {"number": "DEL-2026-12", "date": timezone.localdate().isoformat()},
        format="json",
    )
    assert recorded.status_code == 200, recorded.json()
