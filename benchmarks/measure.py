"""Counting SQL statements and time, without CaptureQueriesContext's 9,000-query cap."""

from __future__ import annotations

import time
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
