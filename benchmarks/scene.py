"""What the audit and analytics benchmarks both set up: a large deployment's organisations,
people and contracts, written in bulk, and the p50/p95 of a measure."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connection

from .measure import measured, percentile

ORGANISATIONS = 20


def organisations(count: int = ORGANISATIONS) -> list:
    from workflows.models import Organisation

    return Organisation.objects.bulk_create(
        [Organisation(code=f"ORG{n:02d}", name=f"Organisme {n:02d}") for n in range(count)]
    )


def people(
    prefix: str, count: int, of: list, names: Callable[[int], dict[str, str]]
) -> list[tuple[int, str]]:
    """``count`` people ``prefix00000``…, spread over the organisations ``of``, named by
    ``names(n)`` (the User fields); their (pk, username), in order."""
    from workflows.models import User

    User.objects.bulk_create(
        [
            User(
                username=f"{prefix}{n:05d}",
                organisation=of[n % len(of)],
                password="!",  # no usable password (not a secret)  # noqa: S106
                **names(n),
            )
            for n in range(count)
        ],
        batch_size=5000,
    )
    return list(
        User.objects.filter(username__startswith=prefix)
        .order_by("pk")
        .values_list("pk", "username")
    )


def contracts(prefix: str, count: int) -> list[tuple[int, str]]:
    """``count`` contracts ``PREFIX-00000``…; their (pk, reference), in order."""
    from workflows.models import Contract

    Contract.objects.bulk_create(
        [
            Contract(
                reference=f"{prefix}-{n:05d}",
                title=f"Contrat {n}",
                kind="CLS",
                territory_name="Territoire",
                period_start=datetime.date(2024, 1, 1),
                period_end=datetime.date(2027, 12, 31),
            )
            for n in range(count)
        ],
        batch_size=5000,
    )
    return list(
        Contract.objects.filter(reference__startswith=f"{prefix}-")
        .order_by("pk")
        .values_list("pk", "reference")
    )


def analyse(*, vacuum: bool = False) -> None:
    """What autovacuum would do after a big import: statistics, and with ``vacuum`` the
    visibility map that index-only scans read."""
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if vacuum else "ANALYZE")


@dataclass
class Measure:
    what: str
    statements: int
    p50: float
    p95: float
    rows: int
    cpu_p50: float  # this process's CPU time (PostgreSQL's excluded), less noisy than wall


def timed(
    what: str, run: Callable[[], Any], rows_of: Callable[[Any], int], *, warm: int, repeat: int
) -> Measure:
    """``run`` ``warm`` times unmeasured (imports, caches), then ``repeat`` times measured."""
    for _ in range(warm):
        run()
    durations, cpu, statements, rows = [], [], 0, 0
    for _ in range(repeat):
        with measured() as figures:
            result = run()
        durations.append(figures.seconds)
        cpu.append(figures.cpu_seconds)
        statements = figures.statements
        rows = rows_of(result)
    return Measure(
        what,
        statements,
        percentile(durations, 0.5),
        percentile(durations, 0.95),
        rows,
        percentile(cpu, 0.5),
    )
