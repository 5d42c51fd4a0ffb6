"""Counting SQL statements and time, without CaptureQueriesContext's 9,000-query cap."""

from __future__ import annotations

import re
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import connection


class StatementCounter:
    """Counts every SQL statement sent through Django's connection, savepoints included."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


_TABLE = re.compile(r'^(INSERT INTO|UPDATE|DELETE FROM|SELECT .*? FROM) "?([a-z_]+)', re.S | re.I)


def statement_kind(sql: str) -> str:
    """``SAVEPOINT``, ``RELEASE``, or the verb and the first table: ``INSERT workflows_task``."""
    verb = sql.lstrip().split(None, 1)[0].upper()
    if verb in ("SAVEPOINT", "RELEASE", "ROLLBACK", "BEGIN", "COMMIT"):
        return verb
    found = _TABLE.match(sql.lstrip())
    return f"{verb} {found.group(2)}" if found else verb


class StatementKinds(Counter):
    """Counts the statements sent through Django's connection by kind (``statement_kind``)."""

    def __call__(self, execute, sql, params, many, context):
        self[statement_kind(sql)] += 1
        return execute(sql, params, many, context)


@dataclass
class Figures:
    statements: int = 0
    seconds: float = 0.0  # wall clock
    cpu_seconds: float = 0.0  # this Python process only (PostgreSQL's own work excluded)


@contextmanager
def measured():
    """``with measured() as figures:`` fills ``figures`` once the block is over."""
    counter = StatementCounter()
    figures = Figures()
    started, cpu_started = time.perf_counter(), time.process_time()
    try:
        with connection.execute_wrapper(counter):
            yield figures
    finally:
        figures.seconds = time.perf_counter() - started
        figures.cpu_seconds = time.process_time() - cpu_started
        figures.statements = counter.count


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (p95: share=0.95)."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * share // 1))  # ceil(n * share), at least 1
    return ordered[int(rank) - 1]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"
