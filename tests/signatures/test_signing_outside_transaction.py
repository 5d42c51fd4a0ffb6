"""The time-stamping authority is called outside any database transaction.

With an outside authority (ACCORD_TSA_URL), a signature is drawn up and timestamped before
the decision's transaction opens, and stored only over the revision it covers; the seal is
drawn up after the last signature's commit. The authority here is a tiny HTTP server in the
test process answering with Accord's own time-stamper; on PostgreSQL it looks, at each
request, for a connection of the test database left idle inside a transaction (the caller
waiting for it under a lock).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from asn1crypto import tsp
from cryptography.hazmat.primitives import serialization
from django.db import connection, connections, transaction
from django.utils import timezone, translation
from rest_framework.test import APIClient

from config.celery_app import app as celery_app
from signatures import keys, pki, services, tasks
from signatures.document import FieldBox, _Document, _with_fields
from signatures.models import ContractDocument, SignatureEvidence
from signatures.selectors import document_verify
from tests.factories import PASSWORD, ActionFactory, SignatoryFactory
from tests.flows import decide, open_tasks, record_deliberation, walk_to_deliberation
from workflows.errors import Conflict, ServiceUnavailable
from workflows.models import HistoryEntry, HistoryEvent, TaskKind, TaskStatus
from workflows.services import tasks as task_services

OPEN_TRANSACTIONS = """
    SELECT count(*) FROM pg_stat_activity
    WHERE datname = current_database() AND pid <> pg_backend_pid()
      AND state IN ('idle in transaction', 'idle in transaction (aborted)')
"""


class Authority:
    """An RFC 3161 authority over HTTP answering with ``stamper``; on PostgreSQL, each
    request notes how many other connections of the database were inside a transaction."""

    def __init__(self, stamper: pki.AccordTimeStamper, *, watch: bool) -> None:
        self.requests = 0
        self.open_transactions: list[int] = []
        authority = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if watch:
                    with connections["default"].cursor() as cursor:
                        cursor.execute(OPEN_TRANSACTIONS)
                        authority.open_transactions.append(cursor.fetchone()[0])
                    connections.close_all()
                authority.requests += 1
                reply = stamper.request_tsa_response(tsp.TimeStampReq.load(body)).dump()
                self.send_response(200)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _outside_authority(settings, tmp_path, url: str, timeout: float = 10) -> None:
    roots = tmp_path / "tsa-roots.pem"
    roots.write_bytes(keys.authority_certificate().public_bytes(serialization.Encoding.PEM))
    settings.ACCORD_TSA_URL = url
    settings.ACCORD_TSA_ROOTS = str(roots)
    settings.ACCORD_TSA_TIMEOUT = timeout


@pytest.fixture
def authority(settings, tmp_path) -> Iterator[Authority]:
    # The seal's task runs here as a worker would run it (with Redis, it is queued).
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    watch = connection.vendor == "postgresql"
    served = Authority(pki.local_timestamper(), watch=watch)
    _outside_authority(settings, tmp_path, served.url)
    yield served
    served.stop()
    celery_app.conf.task_always_eager = eager


def _sign_by_api(task) -> int:
    client = APIClient()
    client.force_authenticate(task.owner)
    response = client.post(
        f"/api/v1/tasks/{task.pk}/decision/",
        {"decision": "sign", "password": PASSWORD, "consent": True},
        format="json",
    )
    return response.status_code


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="pg_stat_activity is PostgreSQL's")
def test_no_transaction_is_open_while_the_outside_authority_answers(
    contract, coordinator, authority
):
    ActionFactory(contract=contract)
    SignatoryFactory(contract=contract)
    SignatoryFactory(contract=contract, kind="associated")
    walk_to_deliberation(contract, coordinator)
    record_deliberation(contract)
    # The committee's minutes, signed at the vote, still ask inside the vote's transaction
    # (not the contract's signatures): watched from the first signature on.
    authority.requests, authority.open_transactions = 0, []
    while signing := open_tasks(contract, TaskKind.SIGNATURE):
        assert _sign_by_api(signing[0]) == 200

    contract.refresh_from_db()
    assert contract.status == "signed"
    document = ContractDocument.objects.get(contract=contract)
    # Sealed after the commit, by the task, with the document timestamp (B-LTA).
    assert document.sealed_at is not None
    check = document_verify(bytes(document.pdf), frozen=document)
    assert check.ok, check
    # Two signatures and the seal, each timestamped, and the document timestamp.
    assert authority.requests >= 4
    assert authority.open_transactions == [0] * authority.requests
    last = HistoryEntry.objects.filter(contract=contract).order_by("-seq").first()
    assert document.certificate_data["history_head"] == {"seq": last.seq, "hash": last.hash}

    # The watch itself: a call made inside a transaction is seen.
    blank = _Document("Essai", when=timezone.now())
    blank.add_page()
    pdf = _with_fields(bytes(blank.output()), [FieldBox("accord-seal", 0, (50, 50, 250, 100))])
    with transaction.atomic():
        ContractDocument.objects.select_for_update().get(pk=document.pk)
        services.sign_pdf(
            pdf,
            field_name="accord-seal",
            stored_key=keys.seal_key(),
            name="Accord",
            reason="Essai",
            stamp=["Essai"],
        )
    assert authority.open_transactions[-1] >= 1


@pytest.mark.django_db
def test_a_signature_stored_in_between_makes_the_prepared_one_prepared_again(
    contract, coordinator, monkeypatch
):
    """Party A's signature is drawn up; before it is stored, party B signs: A's, covering a
    revision without B's, is never stored; it is drawn up again over B's and both land."""
    ActionFactory(contract=contract)
    first, second = SignatoryFactory(contract=contract), SignatoryFactory(contract=contract)
    walk_to_deliberation(contract, coordinator)
    record_deliberation(contract)
    by_party = {t.signatory_id: t for t in open_tasks(contract, TaskKind.SIGNATURE)}
    prepare = services.signature_prepare
    prepared_for: list[int] = []

    def then_another_signs(task):
        prepared = prepare(task)
        prepared_for.append(task.signatory_id)
        if task.signatory_id == first.pk and second.pk not in prepared_for:
            decide(by_party[second.pk], "sign")
        return prepared

    monkeypatch.setattr(services, "signature_prepare", then_another_signs)
    decide(by_party[first.pk], "sign")

    assert prepared_for == [first.pk, second.pk, first.pk]
    contract.refresh_from_db()
    assert contract.status == "signed"
    document = ContractDocument.objects.get(contract=contract)
    check = document_verify(bytes(document.pdf), frozen=document)
    assert check.ok
    assert sorted(s.field_name for s in check.signatures) == sorted(
        [
            f"signature-{first.organisation.code}",
            f"signature-{second.organisation.code}",
            "accord-seal",
        ]
    )
    assert SignatureEvidence.objects.filter(document=document).count() == 2


@pytest.mark.django_db
def test_signatures_landing_at_each_attempt_end_in_a_conflict_and_nothing_stored(
    contract, coordinator, monkeypatch
):
    """Every attempt of A's overtaken by another party's: after SIGNING_ATTEMPTS, A is told
    to try again (409), nothing of A's is stored; then A signs."""
    ActionFactory(contract=contract)
    first, *others = (SignatoryFactory(contract=contract) for _ in range(5))
    walk_to_deliberation(contract, coordinator)
    record_deliberation(contract)
    by_party = {t.signatory_id: t for t in open_tasks(contract, TaskKind.SIGNATURE)}
    prepare = services.signature_prepare
    waiting = list(others[: task_services.SIGNING_ATTEMPTS])

    def overtaken(task):
        prepared = prepare(task)
        if task.signatory_id == first.pk and waiting:
            decide(by_party[waiting.pop(0).pk], "sign")
        return prepared

    monkeypatch.setattr(services, "signature_prepare", overtaken)
    with translation.override("en"), pytest.raises(Conflict, match="nothing was signed"):
        decide(by_party[first.pk], "sign")

    task = by_party[first.pk]
    task.refresh_from_db()
    assert task.status == TaskStatus.ASSIGNED
    assert not SignatureEvidence.objects.filter(signatory=first).exists()
    assert SignatureEvidence.objects.count() == task_services.SIGNING_ATTEMPTS
    document = ContractDocument.objects.get(contract=contract)
    assert document_verify(bytes(document.pdf), frozen=document).ok

    decide(task, "sign")
    assert SignatureEvidence.objects.filter(signatory=first).count() == 1


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.django_db
@pytest.mark.parametrize("failure", ["unreachable", "silent"])
def test_an_authority_down_or_silent_signs_nothing_and_says_so(
    contract, coordinator, settings, tmp_path, failure
):
    ActionFactory(contract=contract)
    SignatoryFactory(contract=contract)
    walk_to_deliberation(contract, coordinator)
    record_deliberation(contract)
    (task,) = open_tasks(contract, TaskKind.SIGNATURE)
    document = ContractDocument.objects.get(contract=contract)
    before = bytes(document.pdf)
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1] if failure == "silent" else _closed_port()
        _outside_authority(settings, tmp_path, f"http://127.0.0.1:{port}/", timeout=0.5)
        client = APIClient()
        client.force_authenticate(task.owner)
        response = client.post(
            f"/api/v1/tasks/{task.pk}/decision/",
            {"decision": "sign", "password": PASSWORD, "consent": True},
            format="json",
            HTTP_ACCEPT_LANGUAGE="en",
        )

    assert response.status_code == 503
    assert "time-stamping authority did not answer" in str(response.json())
    task.refresh_from_db()
    document.refresh_from_db()
    assert task.status == TaskStatus.ASSIGNED
    assert bytes(document.pdf) == before
    assert not SignatureEvidence.objects.exists()
    assert not HistoryEntry.objects.filter(event=HistoryEvent.SIGNATURE).exists()


@pytest.mark.django_db
def test_the_seal_after_the_commit_waits_for_the_authority_and_keeps_the_signed_head(
    contract, coordinator, authority, monkeypatch, django_capture_on_commit_callbacks
):
    """The last signature commits; the authority fails for the seal: the document stays
    as signed (nothing half-written), and the task's retry seals it later with the head the
    last signature's unit left."""
    ActionFactory(contract=contract)
    SignatoryFactory(contract=contract)
    walk_to_deliberation(contract, coordinator)
    record_deliberation(contract)
    (task,) = open_tasks(contract, TaskKind.SIGNATURE)
    seal_pdf = services._seal_pdf

    def down(*args, **kwargs):
        raise ServiceUnavailable("down")

    monkeypatch.setattr(services, "_seal_pdf", down)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        decide(task, "sign")
    assert len(callbacks) >= 1
    document = ContractDocument.objects.get(contract=contract)
    signed = bytes(document.pdf)
    assert document.sealed_at is None
    assert not document.certificate_data
    assert document_verify(signed, frozen=document).ok
    last = HistoryEntry.objects.filter(contract=contract).order_by("-seq").first()

    monkeypatch.setattr(services, "_seal_pdf", seal_pdf)
    tasks.seal_document.delay(contract.pk, last.seq, last.hash)
    document.refresh_from_db()
    assert document.sealed_at is not None
    assert document.certificate_data["history_head"] == {"seq": last.seq, "hash": last.hash}
    check = document_verify(bytes(document.pdf), frozen=document)
    assert check.ok
    assert "accord-seal" in [s.field_name for s in check.signatures]


@pytest.mark.django_db
def test_a_seal_prepared_over_a_document_changed_meanwhile_is_never_stored(
    contract, coordinator, authority, monkeypatch
):
    ActionFactory(contract=contract)
    SignatoryFactory(contract=contract)
    walk_to_deliberation(contract, coordinator)
    record_deliberation(contract)
    (task,) = open_tasks(contract, TaskKind.SIGNATURE)
    decide(task, "sign")  # the seal's task does not run: nothing commits in this test
    document = ContractDocument.objects.get(contract=contract)
    seal_pdf = services._seal_pdf

    def changed_meanwhile(*args, **kwargs):
        pdf = seal_pdf(*args, **kwargs)
        current = bytes(ContractDocument.objects.get(pk=document.pk).pdf)
        ContractDocument.objects.filter(pk=document.pk).update(pdf=current + b"%changed\n")
        return pdf

    monkeypatch.setattr(services, "_seal_pdf", changed_meanwhile)
    with pytest.raises(Conflict):
        services.document_seal_prepared(contract.pk, history_head=None)
    document.refresh_from_db()
    assert document.sealed_at is None
    assert not document.certificate_data
    assert bytes(document.pdf).count(b"%changed") == services.SEAL_ATTEMPTS


def _signed_with_the_seal_task_lost(contract, coordinator, monkeypatch) -> ContractDocument:
    """The last signature commits; its seal's task never reaches a worker (the broker lost
    it)."""
    ActionFactory(contract=contract)
    SignatoryFactory(contract=contract)
    walk_to_deliberation(contract, coordinator)
    record_deliberation(contract)
    (task,) = open_tasks(contract, TaskKind.SIGNATURE)
    with monkeypatch.context() as lost:
        lost.setattr(tasks.seal_document, "delay", lambda *args: None)
        decide(task, "sign")
    document = ContractDocument.objects.get(contract=contract)
    assert document.sealed_at is None
    assert document.seal_requested_at is not None
    return document


def _seals(document: ContractDocument) -> list[str]:
    check = document_verify(bytes(document.pdf), frozen=document)
    assert check.ok, check
    return [s.field_name for s in check.signatures if s.field_name == "accord-seal"]


@pytest.mark.django_db
def test_the_sweep_seals_a_document_whose_seal_task_was_lost_once_and_only_once(
    contract, coordinator, authority, monkeypatch
):
    document = _signed_with_the_seal_task_lost(contract, coordinator, monkeypatch)
    last = HistoryEntry.objects.filter(contract=contract).order_by("-seq").first()
    # Within the grace period the seal is left to its own task.
    assert tasks.seal_pending() == 0
    document.refresh_from_db()
    assert document.sealed_at is None

    assert tasks.seal_pending(grace_seconds=0) == 1
    document.refresh_from_db()
    assert document.sealed_at is not None
    assert document.certificate_data["history_head"] == {"seq": last.seq, "hash": last.hash}
    assert _seals(document) == ["accord-seal"]
    sealed = bytes(document.pdf)

    # The sweep again, then the lost task delivered late: the seal stays the one stored.
    assert tasks.seal_pending(grace_seconds=0) == 0
    assert tasks.seal_document.delay(contract.pk, last.seq, last.hash).get() is True
    document.refresh_from_db()
    assert bytes(document.pdf) == sealed


@pytest.mark.django_db
def test_the_sweep_leaves_a_seal_whose_authority_is_down_for_its_next_run(
    contract, coordinator, authority, monkeypatch
):
    document = _signed_with_the_seal_task_lost(contract, coordinator, monkeypatch)
    signed = bytes(document.pdf)

    def down(*args, **kwargs):
        raise ServiceUnavailable("down")

    monkeypatch.setattr(services, "_seal_pdf", down)
    assert tasks.seal_pending(grace_seconds=0) == 0
    document.refresh_from_db()
    assert document.sealed_at is None
    assert bytes(document.pdf) == signed


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks across connections")
def test_two_sweeps_at_once_store_exactly_one_seal(contract, coordinator, authority, monkeypatch):
    document = _signed_with_the_seal_task_lost(contract, coordinator, monkeypatch)
    # Both runs draw their seal up before either stores it.
    both_prepared = threading.Barrier(2, timeout=60)
    seal_pdf = services._seal_pdf

    def prepared_side_by_side(*args, **kwargs):
        pdf = seal_pdf(*args, **kwargs)
        both_prepared.wait()
        return pdf

    monkeypatch.setattr(services, "_seal_pdf", prepared_side_by_side)
    results: list[int] = []

    def sweep() -> None:
        try:
            results.append(tasks.seal_pending(grace_seconds=0))
        finally:
            connections.close_all()

    runs = [threading.Thread(target=sweep) for _ in range(2)]
    for run in runs:
        run.start()
    for run in runs:
        run.join()
    assert sorted(results) == [0, 1]
    document.refresh_from_db()
    assert document.sealed_at is not None
    assert _seals(document) == ["accord-seal"]
