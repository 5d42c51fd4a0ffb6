"""The auditor's search on a large history: p50/p95 of the main searches and pages.

The history is written with COPY, as a restore would: ``contracts`` contracts of
``entries // contracts`` entries each, spread over two years, by ``users`` people of 20
organisations (a tenth of the entries made on someone's behalf), with the event mix of a real
contract. Each contract's chain is computed in Python exactly as Accord computes it, so that
the data is a valid history (``verify_history`` passes on it).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import random

from django.conf import settings
from django.db import connection
from django.test import Client
from django.utils import timezone

from . import scene
from .measure import ms

REPEAT = 50  # requests per measure, after 5 for warming up
# The event mix of the demo contract's history (tests/workflows/test_history_completeness.py).
EVENTS = [
    ("task_created", "review", 30),
    ("task_completed", "review", 28),
    ("task_cancelled", "vote", 3),
    ("action_transition", "approve", 25),
    ("transition", "launch_review", 2),
    ("task_delegated", "review", 3),
    ("signature", "mandatory", 3),
    ("vote_decided", "validated", 1),
]


def chain_hash(content: dict, prev_hash: str) -> str:
    """HistoryEntry.compute_hash, on a plain dict (no model instance per row)."""
    payload = json.dumps(
        {**content, "prev_hash": prev_hash},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def build(*, entries: int, contracts: int, users: int, seed: int = 2019) -> dict:
    from workflows.models import GENESIS_HASH, HASH_VERSION, Contract, User

    rng = random.Random(seed)  # noqa: S311 (reproducible test data, no secret)
    organisations = scene.organisations()
    people = scene.people(
        "auditee",
        users,
        organisations,
        lambda n: {"first_name": "Personne", "last_name": f"{n:05d}"},
    )
    contract_rows = scene.contracts("AUDIT", contracts)
    weights = [weight for _event, _name, weight in EVENTS]
    start = timezone.now() - datetime.timedelta(days=730)
    per_contract = entries // contracts
    step = datetime.timedelta(days=730) / per_contract
    columns = (
        "contract_id, seq, at, actor_id, actor_username, on_behalf_of_id, on_behalf_of_username,"
        " event, name, action_code, from_state, to_state, comment, data, contract_version,"
        " prev_hash, hash, hash_version"
    )
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY workflows_historyentry ({columns}) FROM STDIN") as copy,
    ):
        for contract_id, reference in contract_rows:
            prev_hash = GENESIS_HASH
            at = start + datetime.timedelta(minutes=rng.randrange(600))
            for seq in range(1, per_contract + 1):
                event, name, _weight = rng.choices(EVENTS, weights)[0]
                actor_id, actor = rng.choice(people)
                for_id, for_name = rng.choice(people) if rng.random() < 0.1 else (None, "")
                at += step
                data = {"task": seq} if event.startswith("task") else {}
                content = {
                    "contract": reference,
                    "seq": seq,
                    "at": at.astimezone(datetime.UTC).isoformat(timespec="microseconds"),
                    "actor": actor,
                    "on_behalf_of": for_name,
                    "event": event,
                    "name": name,
                    "action": "",
                    "from_state": "",
                    "to_state": "",
                    "comment": "",
                    "data": data,
                    "contract_version": 1,
                    "hash_version": HASH_VERSION,
                    "contract_id": contract_id,
                    "actor_id": actor_id,
                    "on_behalf_of_id": for_id,
                    "action_id": None,
                }
                digest = chain_hash(content, prev_hash)
                copy.write_row(
                    (
                        contract_id, seq, at, actor_id, actor, for_id, for_name, event, name,
                        "", "", "", "", json.dumps(data), 1, prev_hash, digest, HASH_VERSION,
                    )
                )  # fmt: skip
                prev_hash = digest
    scene.analyse()
    return {
        "person": User.objects.get(pk=people[len(people) // 2][0]),
        "organisation": organisations[3],
        "contract": Contract.objects.get(pk=contract_rows[len(contract_rows) // 2][0]),
        "since": (start + datetime.timedelta(days=365)).date(),
    }


def _timed(what: str, run, rows_of) -> scene.Measure:
    return scene.timed(what, run, rows_of, warm=5, repeat=REPEAT)


def run(*, entries: int, contracts: int, users: int) -> list[str]:
    from django.test.utils import setup_test_environment

    from workflows.audit.selectors import HistorySearch, history_search, history_search_page
    from workflows.models import ContractAuditor, User

    setup_test_environment()  # "testserver" allowed; responses keep their context
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    began = timezone.now()
    scene = build(entries=entries, contracts=contracts, users=users)
    built = (timezone.now() - began).total_seconds()
    staff = User.objects.create(username="auditrice", is_staff=True)
    partner = scene["person"]
    ContractAuditor.objects.create(contract=scene["contract"], user=partner)
    since = scene["since"]
    month = HistorySearch(event="signature", since=since, until=since + datetime.timedelta(days=30))
    searches = [
        ("staff, no criterion", staff, HistorySearch()),
        ("staff, one person", staff, HistorySearch(person=scene["person"])),
        ("staff, one organisation", staff, HistorySearch(organisation=scene["organisation"])),
        ("staff, event + 30 days", staff, month),
        ("staff, one contract", staff, HistorySearch(contract=scene["contract"])),
        ("auditor of one contract, no criterion", partner, HistorySearch()),
    ]
    lines = [
        f"{entries:,} history entries, {contracts:,} contracts, {users:,} people "
        f"(written with COPY in {built:.0f} s, chains included)"
    ]
    measures = [
        _timed(
            f"selector, first page: {what}",
            lambda user=user, search=search: (
                history_search_page(history_search(user, search), 1).entries
            ),
            len,
        )
        for what, user, search in searches
    ]
    measures.append(
        _timed(
            "selector, page 20: staff, no criterion",
            lambda: history_search_page(history_search(staff, HistorySearch()), 20).entries,
            len,
        )
    )
    browser = Client()
    browser.force_login(staff)
    for what, query in (
        ("GET /audit/ (no criterion)", {}),
        ("GET /audit/?person=…", {"person": scene["person"].username}),
        ("GET /audit/?organisation=…", {"organisation": scene["organisation"].code}),
    ):
        measures.append(
            _timed(
                what,
                lambda query=query: browser.get("/audit/", query, HTTP_ACCEPT_LANGUAGE="fr"),
                lambda r: len(r.context["page"].entries),
            )
        )
    reference = scene["contract"].reference

    def export():  # a POST: an export is recorded (the search stays in the query string)
        response = browser.post(f"/audit/export.csv?contract={reference}")
        return b"".join(response.streaming_content).count(b"\r\n") - 1

    measures.append(_timed(f"GET /audit/export.csv (one contract, {reference})", export, int))
    for m in measures:
        lines.append(
            f"  {m.what:<48} {m.statements:>2} statements, {m.rows:>4} rows; "
            f"p50 {ms(m.p50)}, p95 {ms(m.p95)}, CPU {ms(m.cpu_p50)}"
        )
    return lines
