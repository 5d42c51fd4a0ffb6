"""Two requests completing the same task at the same moment: one succeeds, the other is told
the task is already done, and the flow moves on once.

Each request runs in its own thread with its own database connection, released together by a
barrier. On PostgreSQL the contract's row lock (``SELECT … FOR UPDATE``) queues the second
request behind the first. On SQLite every write transaction begins ``IMMEDIATE`` and waits for
the writer before it: that needs a database file, since pytest-django's SQLite test database
lives in memory, so the SQLite race runs in a child process against a temporary file.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import override_settings
from rest_framework.test import APIClient

from tests.factories import (
    ActionFactory,
    ContractFactory,
    SignatoryFactory,
    SteeringCommitteeFactory,
    UserFactory,
    WorkingGroupFactory,
)
from tests.flows import launch
from workflows.models import HistoryEntry, HistoryEvent, Task, TaskKind

ROOT = Path(__file__).resolve().parents[2]
FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def race_on_one_task() -> dict:
    """A lead's only review, approved twice at once (two tabs, a double click, a retry).

    Data is committed before the race: the threads' connections must see it.
    """
    coordinator, lead = UserFactory(), UserFactory()
    contract = ContractFactory(coordinator=coordinator)
    group = WorkingGroupFactory(contract=contract, leads=[lead])
    action = ActionFactory(contract=contract, working_group=group)
    SteeringCommitteeFactory(contract=contract)
    SignatoryFactory(contract=contract)
    launch(contract, coordinator)
    task = Task.objects.get(contract=contract, owner=lead)
    barrier = threading.Barrier(2)
    statuses: list[int] = []
    failures: list[BaseException] = []

    def approve() -> None:
        try:
            client = APIClient()
            client.force_authenticate(lead)
            barrier.wait(timeout=30)
            response = client.post(
                f"/api/v1/tasks/{task.pk}/decision/", {"decision": "approve"}, format="json"
            )
            statuses.append(response.status_code)
        except BaseException as exc:  # reported to the test, never lost in the thread
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=approve) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    if failures:
        raise failures[0]
    contract.refresh_from_db()
    action.refresh_from_db()
    return {
        "statuses": sorted(statuses),
        "task_status": Task.objects.get(pk=task.pk).status,
        "completions": HistoryEntry.objects.filter(
            contract=contract, event=HistoryEvent.TASK_COMPLETED, data__task=task.pk
        ).count(),
        "action_approvals": HistoryEntry.objects.filter(
            contract=contract, event=HistoryEvent.ACTION_TRANSITION, name="approve"
        ).count(),
        "committee_openings": HistoryEntry.objects.filter(
            contract=contract, event=HistoryEvent.TRANSITION, name="open_committee"
        ).count(),
        "vote_tasks": Task.objects.filter(contract=contract, kind=TaskKind.VOTE).count(),
        "committee_members": contract.steering_committee.members.count(),
        "contract_status": contract.status,
        "action_status": action.status,
    }


def assert_one_success_and_the_flow_advanced_once(outcome: dict) -> None:
    assert outcome["statuses"] == [200, 409]
    assert outcome["task_status"] == "DONE"
    assert outcome["completions"] == 1
    assert outcome["action_approvals"] == 1
    assert outcome["committee_openings"] == 1
    assert outcome["contract_status"] == "committee"
    assert outcome["action_status"] == "approved"
    # One vote per member, not two: the committee was called once.
    assert outcome["vote_tasks"] == outcome["committee_members"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="the PostgreSQL race needs it")
def test_two_simultaneous_decisions_on_postgresql_give_one_success_and_one_conflict():
    assert_one_success_and_the_flow_advanced_once(race_on_one_task())


def run_race_on_sqlite_file() -> None:
    """Entry point of the child process: DATABASE_URL names an SQLite file, a copy of the
    test database (migrated already: `migrate` finds nothing to do)."""
    from django.core.management import call_command
    from django.test.utils import setup_test_environment

    setup_test_environment()  # "testserver" allowed, e-mail kept in memory
    call_command("migrate", interactive=False, verbosity=0)
    with override_settings(PASSWORD_HASHERS=FAST_HASHERS):
        outcome = race_on_one_task()
    print(json.dumps({"vendor": connection.vendor, "outcome": outcome}))


@pytest.mark.skipif(
    connection.vendor != "sqlite",
    reason="SQLite's own locking: on the embedded pass, from a copy of its migrated database",
)
def test_two_simultaneous_decisions_on_a_sqlite_file_give_one_success_and_one_conflict(
    tmp_path, django_db_setup, django_db_blocker
):
    database = tmp_path / "race.sqlite3"
    # The test database as migrated, outside any transaction (SQLite's backup waits for a
    # writer's lock to go): what `migrate` makes of a new file, without its 82 migrations.
    copy = sqlite3.connect(database)
    with django_db_blocker.unblock():
        connection.ensure_connection()
        connection.connection.backup(copy)
    copy.close()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{database}",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),  # a production-strength key
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "ACCORD_VAR_DIR": str(tmp_path),
    }
    env.pop("REDIS_URL", None)  # Celery eager and channels in memory, as in the embedded default
    code = (
        "import django; django.setup(); "
        "from tests.workflows.test_task_concurrency import run_race_on_sqlite_file; "
        "run_race_on_sqlite_file()"
    )

    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert result.returncode == 0, result.stderr[-4000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["vendor"] == "sqlite"
    assert database.exists()
    assert_one_success_and_the_flow_advanced_once(report["outcome"])
