"""The contract page of a large contract: p50/p95 and statements of ``GET /contrats/<pk>/``.

The contract is the demo's with every action sheet repeated (``copies`` x 38 actions: 152 by
default), imported and its review launched through the services (one review process per action,
a task per working-group lead, their history entries), then its history lengthened to
``entries`` with valid entries (task completions and approvals by its people, chained exactly
as Accord chains them: ``verify_history`` passes on it), the last ``since_check`` written after
the nightly check's checkpoint (the page recomputes those only). The page is requested by the
coordinator, as a browser would (session, French), ``REPEAT`` times after a few for warming up.
"""

from __future__ import annotations

import datetime
import random

from django.conf import settings
from django.db import connection
from django.test import Client
from django.utils import timezone

from .measure import measured, ms, percentile

REPEAT = 60  # requests per measure, after 5 for warming up
# Entries written since the nightly check's checkpoint: a busy day on a large contract.
SINCE_CHECK = 200
EVENTS = [
    ("task_created", "review"),
    ("task_completed", "review"),
    ("action_transition", "approve"),
    ("notified", "task_created"),
]


def build(*, copies: int, entries: int, since_check: int, seed: int = 2019):
    """The contract, under review, with ``entries`` history entries, the last ``since_check``
    written after the nightly check (``verify_history``) left its checkpoint."""
    from workflows.audit.services import history_check
    from workflows.models import Contract
    from workflows.services import contract_import, launch_review

    from .walk import demo_document

    contract = contract_import(document=demo_document(copies, f"-PAGE{copies}"), actor=None)
    coordinator = contract.coordinators.order_by("pk")[0]
    launch_review(contract=contract, actor=coordinator)
    contract = Contract.objects.get(pk=contract.pk)
    rng = random.Random(seed)  # noqa: S311 (reproducible test data, no secret)
    lengthen(contract, max(entries - since_check, 1), rng)
    check = history_check(Contract.objects.filter(pk=contract.pk))
    assert not check.broken, check
    assert not check.unanchored, check
    lengthen(contract, entries, rng)
    with connection.cursor() as cursor:  # as autovacuum would, after a big import
        cursor.execute("ANALYZE")
    return contract, coordinator


def lengthen(contract, entries: int, rng: random.Random) -> None:
    """Valid entries (task completions and approvals by the contract's people), chained as
    Accord chains them, until the history has ``entries``."""
    from workflows.models import HistoryEntry

    people = list(contract.participants.order_by("pk"))
    codes = list(contract.actions.order_by("code").values_list("code", flat=True))
    last = contract.history.order_by("-seq").first()
    assert last is not None
    seq, prev_hash, at = last.seq, last.hash, last.at
    new = []
    while seq < entries:
        seq += 1
        at += datetime.timedelta(minutes=rng.randrange(1, 90))
        event, name = rng.choice(EVENTS)
        actor = rng.choice(people)
        entry = HistoryEntry(
            contract=contract,
            seq=seq,
            at=at,
            actor=actor,
            actor_username=actor.username,
            event=event,
            name=name,
            action_code=rng.choice(codes),
            data={"task": seq} if event.startswith("task") else {"recipients": [actor.username]},
            contract_version=contract.version,
            prev_hash=prev_hash,
        )
        entry.hash = entry.compute_hash()
        prev_hash = entry.hash
        new.append(entry)
    HistoryEntry.objects.bulk_create(new, batch_size=1000)


def run(*, copies: int = 4, entries: int = 2000, since_check: int = SINCE_CHECK) -> list[str]:
    import tempfile

    from django.test.utils import setup_test_environment

    from workflows.models import Task, TaskStatus
    from workflows.selectors import history_verify

    setup_test_environment()  # "testserver" allowed
    # Pages render without `collectstatic` (the manifest storage needs its manifest).
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    # The check's signed head file goes to a folder of the run's own.
    settings.ACCORD_ANCHORS_DIR = tempfile.mkdtemp(prefix="accord-bench-anchors-")
    started = timezone.now()
    contract, coordinator = build(copies=copies, entries=entries, since_check=since_check)
    verification = history_verify(contract)
    assert verification.valid, verification
    browser = Client()
    browser.force_login(coordinator)
    path = f"/contrats/{contract.pk}/"

    def page():
        response = browser.get(path, HTTP_ACCEPT_LANGUAGE="fr")
        assert response.status_code == 200, response.status_code
        return response

    for _ in range(5):
        page()
    durations, cpu, statements = [], [], set()
    size = 0
    with open("/proc/loadavg", encoding="utf-8") as loadavg:
        load_before = " ".join(loadavg.read().split()[:3])
    for _ in range(REPEAT):
        with measured() as figures:
            size = len(page().content)
        durations.append(figures.seconds)
        cpu.append(figures.cpu_seconds)
        statements.add(figures.statements)
    with open("/proc/loadavg", encoding="utf-8") as loadavg:
        load = " ".join(loadavg.read().split()[:3])
    return [
        f"{contract.actions.count()} actions, {verification.entries} history entries "
        f"({since_check} of them since the last checkpoint), "
        f"{Task.objects.filter(contract=contract, status=TaskStatus.ASSIGNED).count()} open tasks "
        f"(built in {(timezone.now() - started).total_seconds():.0f} s)",
        f"  GET {path} (coordinator, HTML, {size // 1024} KiB): "
        f"{'/'.join(str(n) for n in sorted(statements))} statements; "
        f"p50 {ms(percentile(durations, 0.5))}, p95 {ms(percentile(durations, 0.95))} "
        f"over {REPEAT} requests",
        # On a shared machine the wall clock waits for the other processes; this process's own
        # CPU time (PostgreSQL's excluded) says what the page costs.
        f"  the page's own CPU time (this process): p50 {ms(percentile(cpu, 0.5))}, "
        f"p95 {ms(percentile(cpu, 0.95))}",
        f"  load average (1, 5, 15 min) before: {load_before}; after: {load}",
    ]
