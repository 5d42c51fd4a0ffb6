"""The demo contract walked from draft to signed through the approval services.

Every step is a person's decision through ``workflows.services`` (the code the API and the
pages call): the launch, every lead's review, the committee votes, the deliberation and the
signatures, each with its history entries, FSM transitions, flow nodes and after-commit work.
Each step runs in its own transaction, as a request would; nothing is mocked.
"""

from __future__ import annotations

import copy
import datetime
import functools
import importlib
import json
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from django.contrib.auth.hashers import make_password
from django.test.utils import override_settings
from django.utils import timezone

from .measure import Figures, measured, ms

DEMO_FILE = Path(__file__).resolve().parent.parent / "workflows/demo/terres-des-confluences.json"
PASSWORD = "benchmark-password"  # noqa: S105 (a throw-away database's test accounts)


def demo_document(copies: int = 1, reference_suffix: str = "") -> dict:
    """The demo contract file; with ``copies`` > 1, every action sheet is repeated with new
    codes (``T1-A1``, ``T1-A1-2``, ...), in the same theme and working group."""
    document = json.loads(DEMO_FILE.read_text(encoding="utf-8"))
    document["reference"] += reference_suffix
    for theme in document["themes"]:
        sheets = theme["actions"]
        theme["actions"] = [
            {**copy.deepcopy(sheet), "code": sheet["code"] + (f"-{n}" if n > 1 else "")}
            for n in range(1, copies + 1)
            for sheet in sheets
        ]
    return document


@dataclass
class Walk:
    actions: int
    launch: Figures
    completions: dict[str, list[Figures]] = field(default_factory=lambda: defaultdict(list))
    seconds: float = 0.0
    history_entries: int = 0
    chain_valid: bool = False
    pdf_seconds: float = 0.0  # generating, signing and sealing the PDF (outside the target)
    pdf_cpu_seconds: float = 0.0  # the Python CPU time of that PDF work
    notification_seconds: tuple[float, float] = (0.0, 0.0)  # writing them, delivering them

    def statements(self, kind: str) -> Counter:
        """How many completions of this kind took how many statements."""
        return Counter(figures.statements for figures in self.completions[kind])

    def _steps(self) -> list[Figures]:
        return [self.launch, *(figures for kind in self.completions.values() for figures in kind)]

    @property
    def service_seconds(self) -> float:
        return sum(figures.seconds for figures in self._steps())

    @property
    def service_cpu_seconds(self) -> float:
        return sum(figures.cpu_seconds for figures in self._steps())

    @property
    def service_statements(self) -> int:
        return sum(figures.statements for figures in self._steps())


# The PDF work of issue 4: the document frozen at the deliberation, each signature, the seal.
PDF_WORK = ("signatures.services", ("document_freeze", "signature_apply", "document_seal_prepared"))
# The notifications of issue 5: writing them (``notices_write``, when the decision's unit of
# work finishes) and delivering them (after commit).
NOTIFYING = ("notifications.services", ("notices_write",))
DELIVERING = ("notifications.tasks", ("deliver",))


@contextmanager
def time_spent_in(module_name: str, names: tuple[str, ...]) -> Iterator[list[float]]:
    """Time the calls of these functions apart (they run for real, only timed); a call made
    from inside another of them is not counted twice. Yields [wall seconds, CPU seconds]."""
    module = importlib.import_module(module_name)
    spent = [0.0, 0.0]
    depth = [0]
    originals = {name: getattr(module, name) for name in names}

    def timed(work):
        @functools.wraps(work)
        def run(*args, **kwargs):
            depth[0] += 1
            started, cpu = time.perf_counter(), time.process_time()
            try:
                return work(*args, **kwargs)
            finally:
                depth[0] -= 1
                if not depth[0]:
                    spent[0] += time.perf_counter() - started
                    spent[1] += time.process_time() - cpu

        return run

    for name, work in originals.items():
        setattr(module, name, timed(work))
    try:
        yield spent
    finally:
        for name, work in originals.items():
            setattr(module, name, work)


def _decision(task):
    from workflows.models import TaskKind
    from workflows.services import Decision

    if task.kind == TaskKind.DELIBERATION:
        yesterday = timezone.localdate() - datetime.timedelta(days=1)
        return Decision("record", number="DEL-2019-042", date=yesterday)
    if task.kind == TaskKind.SIGNATURE:
        return Decision("sign", password=PASSWORD, consent=True)
    return Decision("approve")


def walk_to_signed(document: dict) -> Walk:
    """Import ``document`` (not measured), then walk it to signed, measuring every step."""
    from workflows import services
    from workflows.models import Contract, ContractStatus, User
    from workflows.selectors import history_verify

    contract = services.contract_import(document=document, actor=None)
    # Signers confirm with their password; a fast hasher keeps the measure on the engine
    # (the deliberately slow PBKDF2 check is measured on its own, see password_check_seconds).
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        User.objects.filter(username__in=[p["username"] for p in document["people"]]).update(
            password=make_password(PASSWORD)
        )
        started = timezone.now()
        with (
            time_spent_in(*PDF_WORK) as pdf_seconds,
            time_spent_in(*NOTIFYING) as notifying_seconds,
            time_spent_in(*DELIVERING) as delivering_seconds,
        ):
            walk = _walk(contract, coordinator=contract.coordinators.get())
        walk.seconds = (timezone.now() - started).total_seconds()
        walk.pdf_seconds, walk.pdf_cpu_seconds = pdf_seconds
        walk.notification_seconds = (notifying_seconds[0], delivering_seconds[0])
    contract = Contract.objects.get(pk=contract.pk)
    if contract.status != ContractStatus.SIGNED:
        raise RuntimeError(f"the walk ended in {contract.status}, not signed")
    walk.history_entries = contract.history.count()
    walk.chain_valid = history_verify(contract).valid
    return walk


def _walk(contract, coordinator) -> Walk:
    """The launch, then the contract's oldest open task completed until none is left."""
    from workflows import services
    from workflows.models import Task, TaskStatus

    with measured() as launch:
        services.launch_review(contract=contract, actor=coordinator)
    walk = Walk(actions=contract.actions.count(), launch=launch)
    people = {}  # the same few dozen people act again and again: each read once
    while True:
        # What a person's click carries (the task's id): the decision reads the rest itself.
        task = (
            Task.objects.filter(contract=contract, status=TaskStatus.ASSIGNED)
            .only("pk", "contract_id", "kind", "owner_id", "on_behalf_of_id")
            .order_by("pk")
            .first()
        )
        if task is None:
            return walk
        if task.owner_id not in people:
            people[task.owner_id] = task.owner
        decision = _decision(task)
        with measured() as figures:
            services.task_decide(task=task, actor=people[task.owner_id], decision=decision)
        walk.completions[task.kind].append(figures)


def password_check_seconds() -> float:
    """One check of a signer's password with the production hasher (Argon2id, config.hashers)."""
    from django.contrib.auth.hashers import check_password

    encoded = make_password(PASSWORD)
    with measured() as figures:
        check_password(PASSWORD, encoded)
    return figures.seconds


def report(walks: list[Walk]) -> list[str]:
    lines = []
    for walk in walks:
        lines.append(
            f"\n{walk.actions} actions: draft -> signed in {walk.seconds:.2f} s; the services "
            f"alone {walk.service_seconds:.2f} s ({walk.service_cpu_seconds:.2f} s of Python "
            f"CPU), {walk.service_statements} statements; "
            f"{sum(len(c) for c in walk.completions.values())} completions, "
            f"{walk.history_entries} history entries, chain valid: {walk.chain_valid}"
        )
        lines.append(
            f"  without the PDF work ({walk.pdf_seconds:.2f} s: document, signatures, seal): "
            f"{walk.seconds - walk.pdf_seconds:.2f} s, the services alone "
            f"{walk.service_seconds - walk.pdf_seconds:.2f} s (the rest is the walk finding "
            f"each next task); notifications: {walk.notification_seconds[0]:.2f} s written "
            f"with the changes, {walk.notification_seconds[1]:.2f} s delivered after commit"
        )
        lines.append(
            f"  launch_review: {walk.launch.statements} statements, {ms(walk.launch.seconds)}"
        )
        for kind, completions in walk.completions.items():
            spread = ", ".join(
                f"{times}x {count}" for count, times in sorted(walk.statements(kind).items())
            )
            seconds = [figures.seconds for figures in completions]
            lines.append(
                f"  {kind:<13} {len(completions):>3} completions; statements (times x count): "
                f"{spread}; median {ms(statistics.median(seconds))}, max {ms(max(seconds))}"
            )
    return lines


def spread(walks: list[Walk]) -> list[str]:
    """One line per walk: on a shared machine one walk can take a third longer than the next."""
    return [
        f"  walk {n}: without the PDF work {walk.seconds - walk.pdf_seconds:.2f} s, the services "
        f"alone {walk.service_seconds - walk.pdf_seconds:.2f} s "
        f"({walk.service_cpu_seconds:.2f} s of Python CPU with the PDF work)"
        for n, walk in enumerate(walks, 1)
    ]
