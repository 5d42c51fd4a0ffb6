"""The load test's data, and its checks after the run (run in their own processes by
``benchmarks.load.run``, with the servers' environment).

    python -m benchmarks.load.population prepare --contracts 20 --accounts FILE
    python -m benchmarks.load.population check --accounts FILE --received DIR --report FILE

``prepare`` imports ``--contracts`` copies of the demo contract (38 actions each), each with
its own 22 people (``tech1.ars.07``...), and walks them through the real services to three
stages, so that every role has work: leads with review tasks (a third of the contracts just
launched), committee members with votes (a third with every review approved), signatories
with signatures (the rest, the deliberation recorded and the document frozen), then the
nightly history check (its checkpoints). Every account
gets the same known password (one hash, made by production's first hasher); the signatories get
an authenticator (a known TOTP key: they log in in two steps) and recovery codes, with which
they sign (``ACCORD_REQUIRE_2FA_FOR_SIGNING`` is on, as in production). The accounts file
tells the Locust users who they are.

``check`` is what must hold after the run, whatever the figures: every notification written
during the run pushed (``pushed_at``) and received by the sockets of the Locust users it was
for, every history chain intact (``manage.py verify_history``), no task completed twice.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

PASSWORD = "load-test-password"  # noqa: S105 (a throw-away database's accounts)
RECOVERY_CODES = 60  # per signatory: one per signature, and spare
# Stages, in the order the contracts are given them: (name, the kind of task it waits on).
STAGES = (("review", "review"), ("committee", "vote"), ("signature", "signature"))
ROLE_ORDER = ("coordinator", "signatory", "committee", "lead")
# The role that has work at each stage: a person who holds it there is simulated in it (a
# lead who also signs for their organisation reviews on a contract under review).
WORKING_ROLE = {"review": "lead", "committee": "committee", "signature": "signatory"}


def renamed(document: dict, n: int) -> dict:
    """The demo file with its people made this copy's own: ``username.NN``, their e-mails
    too (organisations stay shared, as the ARS is across a region's contracts)."""
    usernames = {person["username"] for person in document["people"]}

    def rename(value):
        if isinstance(value, dict):
            return {key: rename(item) for key, item in value.items()}
        if isinstance(value, list):
            return [rename(item) for item in value]
        if isinstance(value, str) and value in usernames:
            return f"{value}.{n:02d}"
        return value

    copy = rename(document)
    for person in copy["people"]:
        local, _, domain = person["email"].partition("@")
        person["email"] = f"{local}.{n:02d}@{domain}"
    return copy


def roles_of(document: dict) -> dict[str, list[str]]:
    """username -> roles in this contract (coordinator, signatory, committee, lead)."""
    roles: dict[str, list[str]] = {}

    def add(username: str | None, role: str) -> None:
        if username and role not in roles.setdefault(username, []):
            roles[username].append(role)

    for username in document["coordinators"]:
        add(username, "coordinator")
    for signatory in document["signatories"]:
        add(signatory.get("signer"), "signatory")
        add(signatory.get("represented_by"), "signatory")
    for username in document["steering_committee"]["members"]:
        add(username, "committee")
    for group in document["working_groups"]:
        for username in group["leads"]:
            add(username, "lead")
    return roles


def totp_key(username: str) -> str:
    """The person's authenticator secret (hex, 20 bytes): known to the Locust users."""
    return hashlib.sha256(f"load-totp-{username}".encode()).hexdigest()[:40]


def recovery_codes(username: str) -> list[str]:
    digest = hashlib.sha256(f"load-recovery-{username}".encode()).hexdigest()
    return [f"r{n:03d}{digest[:8]}" for n in range(RECOVERY_CODES)]


def _decision(task):
    from workflows.models import TaskKind
    from workflows.services import Decision

    if task.kind == TaskKind.DELIBERATION:
        yesterday = datetime.date.today() - datetime.timedelta(days=1)  # noqa: DTZ011
        return Decision("record", number="DEL-LOAD", date=yesterday)
    return Decision("approve")


def advance(contract, until_kind: str) -> int:
    """Decide the contract's oldest open task through the services until one of
    ``until_kind`` is open; the number of decisions made."""
    from workflows import services
    from workflows.models import Task, TaskStatus

    decided = 0
    while True:
        open_tasks = Task.objects.filter(contract=contract, status=TaskStatus.ASSIGNED)
        if open_tasks.filter(kind=until_kind).exists():
            return decided
        task = open_tasks.order_by("pk").first()
        if task is None:
            raise RuntimeError(f"{contract.reference}: no {until_kind} task ever opened")
        assert task.owner is not None, task.pk
        services.task_decide(task=task, actor=task.owner, decision=_decision(task))
        decided += 1


def prepare(contracts: int, accounts_file: Path) -> None:
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone
    from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from benchmarks.walk import demo_document
    from notifications.models import Notification
    from signatures.tasks import issue_signing_certificates
    from workflows import services
    from workflows.audit.services import history_check
    from workflows.models import Contract, Task, TaskKind, TaskStatus, User

    started = time.perf_counter()
    accounts: dict[str, dict] = {}
    made = []
    for n in range(contracts):
        stage, until_kind = STAGES[n * len(STAGES) // contracts]
        document = renamed(demo_document(1, f"-L{n:02d}"), n)
        contract = services.contract_import(document=document, actor=None)
        coordinator = contract.coordinators.get()
        services.launch_review(contract=contract, actor=coordinator)
        decided = advance(contract, until_kind)
        made.append({"id": contract.pk, "reference": contract.reference, "stage": stage})
        for username, roles in roles_of(document).items():
            accounts[username] = {
                "username": username,
                "contract": contract.pk,
                "roles": roles,
                "role": WORKING_ROLE[stage]
                if WORKING_ROLE[stage] in roles
                else next(role for role in ROLE_ORDER if role in roles),
            }
        print(f"  {contract.reference}: {stage} ({decided} decisions to get there)", flush=True)
    # One hash for every account (production's first hasher, Argon2id, so that each log-in and
    # each signature checks a password at production's cost), computed once.
    User.objects.filter(username__in=accounts).update(password=make_password(PASSWORD))
    signers = {name for name, account in accounts.items() if "signatory" in account["roles"]}
    people = User.objects.in_bulk(list(signers), field_name="username")
    for username, user in people.items():
        TOTPDevice.objects.create(
            user=user, name="authenticator", key=totp_key(username), confirmed=True
        )
        device = StaticDevice.objects.create(user=user, name="recovery codes", confirmed=True)
        StaticToken.objects.bulk_create(
            StaticToken(device=device, token=code) for code in recovery_codes(username)
        )
        accounts[username]["totp_key"] = totp_key(username)
        accounts[username]["recovery_codes"] = recovery_codes(username)
    # What the preparation notified is taken as delivered (no worker ran meanwhile): else the
    # run's first minute would push and e-mail it all, a backlog no deployment has.
    now = timezone.now()
    Notification.objects.filter(pushed_at=None).update(pushed_at=now)
    Notification.objects.filter(emailed_at=None).update(emailed_at=now)
    # And what the worker does after the deliberation: the certificates of the people asked
    # to sign (``signatures.reactions.issue_signers_certificates``).
    issue_signing_certificates(
        list(
            Task.objects.filter(kind=TaskKind.SIGNATURE, status=TaskStatus.ASSIGNED).values_list(
                "pk", flat=True
            )
        )
    )
    # The night before the day measured: the nightly check (``history_check_and_alert``, the
    # same as ``verify_history``) recomputed every chain and left its checkpoint, from which
    # a contract page recomputes only the entries written since (the day's).
    check = history_check()
    if check.broken or check.unanchored:
        raise SystemExit(f"the prepared history does not verify: {check}")
    last_notification = Notification.objects.order_by("-pk").values_list("pk", flat=True).first()
    accounts_file.write_text(
        json.dumps(
            {
                "password": PASSWORD,
                "contracts": made,
                "accounts": sorted(accounts.values(), key=lambda a: (a["contract"], a["username"])),
                "notifications_before": last_notification or 0,
                "contract_ids": list(Contract.objects.values_list("pk", flat=True)),
            },
            indent=1,
        ),
        encoding="utf-8",
    )
    print(
        f"  {contracts} contracts, {len(accounts)} accounts ({len(signers)} signatories with an "
        f"authenticator) in {time.perf_counter() - started:.0f} s",
        flush=True,
    )


def _received(folder: Path) -> dict[str, set[int]]:
    """username -> notification ids its sockets received (every Locust process's file)."""
    received: dict[str, set[int]] = {}
    for path in folder.glob("received-*.json"):
        state = json.loads(path.read_text(encoding="utf-8"))
        for username, ids in state["received"].items():
            received.setdefault(username, set()).update(ids)
    return received


def check(accounts_file: Path, received_dir: Path, report_file: Path, grace: float) -> int:
    """The checks after the run; the number of problems found (also in ``report_file``)."""
    from django.conf import settings
    from django.core.management import call_command
    from django.core.management.base import CommandError
    from django.db.models import Count
    from django.utils import timezone

    from notifications.models import Notification
    from workflows.models import HistoryEntry, HistoryEvent, Task, TaskStatus

    population = json.loads(accounts_file.read_text(encoding="utf-8"))
    before = population["notifications_before"]
    received = _received(received_dir)
    sockets = json.loads((received_dir / "sockets.json").read_text(encoding="utf-8"))
    problems: list[str] = []

    # 1. Notifications: every one written during the run pushed, and received by the sockets
    # of the Locust users it was for (those whose socket stayed open until the end). The
    # pushes happen after commit; one that failed (Redis slower than ACCORD_PUSH_TIMEOUT on
    # a loaded machine) is pushed again by beat's deliver_notifications (every minute, after
    # ACCORD_DELIVERY_GRACE_SECONDS): that path is given its time, and counted. A
    # notification written in the last ``grace`` seconds of the run may still be on its way
    # when the sockets close, and is not expected on them.
    written = Notification.objects.filter(pk__gt=before)
    deadline = time.monotonic() + settings.ACCORD_DELIVERY_GRACE_SECONDS + 90
    while written.filter(pushed_at__isnull=True).exists() and time.monotonic() < deadline:
        time.sleep(2)
    unpushed = written.filter(pushed_at__isnull=True).count()
    if unpushed:
        problems.append(f"{unpushed} notification(s) written during the run never pushed")
    late = len(
        [
            created
            for created, pushed in written.exclude(pushed_at=None).values_list(
                "created_at", "pushed_at"
            )
            if pushed is not None and (pushed - created).total_seconds() > 10
        ]
    )
    stopped_at = datetime.datetime.fromisoformat(sockets["stopped_at"])
    watched = set(sockets["open_until_end"])
    expected = written.filter(
        recipient__username__in=watched,
        created_at__lte=stopped_at - datetime.timedelta(seconds=grace),
    ).values_list("pk", "recipient__username")
    missing = [(pk, username) for pk, username in expected if pk not in received.get(username, ())]
    if missing:
        problems.append(
            f"{len(missing)} of {len(expected)} notification(s) never reached their open "
            f"socket, e.g. {missing[:5]}"
        )
    received_total = sum(len(ids) for ids in received.values())

    # 2. Every history chain intact.
    try:
        call_command("verify_history", stdout=open(os.devnull, "w"))  # noqa: SIM115
        chains = "every chain verifies"
    except CommandError as error:
        chains = f"verify_history: {error}"
        problems.append(chains)

    # 3. No task completed twice, no completed task without its history entry.
    twice = (
        HistoryEntry.objects.filter(event=HistoryEvent.TASK_COMPLETED)
        .values("data__task")
        .annotate(times=Count("pk"))
        .filter(times__gt=1)
    )
    if twice.exists():
        problems.append(f"{twice.count()} task(s) completed twice: {list(twice[:5])}")
    completed_ids = set(
        Task.objects.filter(status=TaskStatus.DONE, kind__gt="").values_list("pk", flat=True)
    )
    recorded = set(
        HistoryEntry.objects.filter(event=HistoryEvent.TASK_COMPLETED).values_list(
            "data__task", flat=True
        )
    )
    if completed_ids - recorded:
        problems.append(f"{len(completed_ids - recorded)} completed task(s) without history")
    since = datetime.datetime.fromisoformat(sockets["started_at"])
    decided = Counter(
        Task.objects.filter(finished__gte=since, status=TaskStatus.DONE).values_list(
            "kind", flat=True
        )
    )
    result = {
        "problems": problems,
        "notifications_written": written.count(),
        "notifications_pushed_late": late,
        "notifications_expected_on_sockets": len(expected),
        "notifications_received_on_sockets": received_total,
        "sockets_open_until_end": len(watched),
        "chains": chains,
        "tasks_completed_during_run": dict(decided),
        "checked_at": timezone.now().isoformat(),
    }
    report_file.write_text(json.dumps(result, indent=1), encoding="utf-8")
    for line in problems:
        print(f"  PROBLEM: {line}", flush=True)
    return len(problems)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    making = sub.add_parser("prepare")
    making.add_argument("--contracts", type=int, default=20)
    making.add_argument("--accounts", type=Path, required=True)
    checking = sub.add_parser("check")
    checking.add_argument("--accounts", type=Path, required=True)
    checking.add_argument("--received", type=Path, required=True)
    checking.add_argument("--report", type=Path, required=True)
    checking.add_argument("--grace", type=float, default=3.0)
    args = parser.parse_args(argv)
    import django

    django.setup()
    if args.command == "prepare":
        prepare(args.contracts, args.accounts)
        return
    sys.exit(1 if check(args.accounts, args.received, args.report, args.grace) else 0)


if __name__ == "__main__":
    main()
