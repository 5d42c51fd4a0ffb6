"""The Accord walk against the floor, alternated one by one in one run (issue 19, item 3).

Each iteration walks the demo contract through Accord's services (``benchmarks/walk.py``) and
the same human work through the bare viewflow flow (``flows.py``), in turn (ABBA: the order
flips each iteration, so a drift of the machine's load weighs on both). Compared: the walks'
wall time (Accord's without its PDF work, as in issue 19), their Python CPU time, and the
statements per completion.
"""

from __future__ import annotations

import os
import statistics
import time
from collections import Counter

from django.db import connection

from .. import walk as accord
from ..measure import StatementKinds
from . import flows


def _accord_walk(suffix: str) -> tuple[float, float, int, int, float]:
    """(wall seconds without the PDF work, CPU seconds, statements, completions, CPU seconds
    without the PDF work)."""
    document = accord.demo_document(1, suffix)
    cpu = time.process_time()
    result = accord.walk_to_signed(document)
    cpu = time.process_time() - cpu
    completions = sum(len(kind) for kind in result.completions.values())
    return (
        result.seconds - result.pdf_seconds,
        cpu,
        result.service_statements,
        completions,
        cpu - result.pdf_cpu_seconds,
    )


def _floor_walk(plan: dict) -> tuple[float, float, int, int]:
    cpu = time.process_time()
    result = flows.walk(plan)
    cpu = time.process_time() - cpu
    return result.seconds, cpu, result.statements, len(result.completions) + 1


def _plan() -> dict:
    """The human work of the demo contract, read from an imported copy."""
    from workflows import services

    contract = services.contract_import(document=accord.demo_document(1, "-PLAN"), actor=None)
    return flows.plan_of(contract)


def breakdown(plan: dict) -> list[str]:
    """Statements by kind of one more walk of each (after the timed ones)."""
    lines = []
    accord_kinds, floor_kinds = StatementKinds(), StatementKinds()
    with connection.execute_wrapper(accord_kinds):
        accord.walk_to_signed(accord.demo_document(1, "-KINDS"))
    with connection.execute_wrapper(floor_kinds):
        flows.walk(plan)
    kinds: Counter = Counter()
    kinds.update(accord_kinds)
    kinds.update(floor_kinds)
    lines.append("\nStatements by kind, one walk each (import and checks included for Accord):")
    lines.append(f"  {'kind':<44} {'Accord':>7} {'floor':>7}")
    for kind, _ in kinds.most_common():
        lines.append(f"  {kind:<44} {accord_kinds[kind]:>7} {floor_kinds[kind]:>7}")
    lines.append(f"  {'all':<44} {sum(accord_kinds.values()):>7} {sum(floor_kinds.values()):>7}")
    return lines


def run(iterations: int, kinds: bool = False) -> list[str]:
    plan = _plan()
    _accord_walk("-FLOOR-WARM")  # imports, caches, keys: as a server that has served
    _floor_walk(plan)
    load_before = open("/proc/loadavg", encoding="utf-8").read().split()[:3]  # noqa: SIM115
    accord_runs, floor_runs = [], []
    for n in range(iterations):
        if n % 2:
            floor_runs.append(_floor_walk(plan))
            accord_runs.append(_accord_walk(f"-FLOOR-{n}"))
        else:
            accord_runs.append(_accord_walk(f"-FLOOR-{n}"))
            floor_runs.append(_floor_walk(plan))
    load_after = open("/proc/loadavg", encoding="utf-8").read().split()[:3]  # noqa: SIM115
    accord_wall = [run[0] for run in accord_runs]
    floor_wall = [run[0] for run in floor_runs]
    ratio = statistics.median(accord_wall) / statistics.median(floor_wall)
    pairs = [a[0] / f[0] for a, f in zip(accord_runs, floor_runs, strict=True)]
    (_, _, accord_statements, accord_completions, _) = accord_runs[0]
    (_, _, floor_statements, floor_completions) = floor_runs[0]
    lines = [
        f"{iterations} iterations, alternated (ABBA); loadavg {' '.join(load_before)} before, "
        f"{' '.join(load_after)} after; {os.cpu_count()} CPUs",
        f"  Accord walk without the PDF work: median {statistics.median(accord_wall):.2f} s "
        f"(min {min(accord_wall):.2f}, max {max(accord_wall):.2f}); Python CPU median "
        f"{statistics.median(run[1] for run in accord_runs):.2f} s (PDF work included), "
        f"{statistics.median(run[4] for run in accord_runs):.2f} s without it",
        f"  floor walk:                       median {statistics.median(floor_wall):.2f} s "
        f"(min {min(floor_wall):.2f}, max {max(floor_wall):.2f}); Python CPU median "
        f"{statistics.median(run[1] for run in floor_runs):.2f} s",
        f"  ratio of the medians: {ratio:.3f}; "
        f"median of the pair-by-pair ratios: {statistics.median(pairs):.3f} "
        f"(min {min(pairs):.3f}, max {max(pairs):.3f})",
        f"  statements: Accord {accord_statements} for {accord_completions} steps "
        f"({accord_statements / accord_completions:.1f} a step, the launch included); "
        f"floor {floor_statements} for {floor_completions} "
        f"({floor_statements / floor_completions:.1f} a step)",
    ]
    if kinds:
        lines += breakdown(plan)
    return lines
