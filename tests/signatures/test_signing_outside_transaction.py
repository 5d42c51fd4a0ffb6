"""The time-stamping authority is called outside any database transaction.

With an outside authority (ACCORD_TSA_URL), a signature is drawn up and timestamped before
the decision's transaction opens, and stored only over the revision it covers; the seal is
drawn up after the last signature's commit. The authority here is a tiny HTTP server in the
test process answering with Accord's own time-stamper; on PostgreSQL it looks, at each
request, for a connection of the test database left idle inside a transaction (the caller
waiting for it under a lock).
"""

from __future__ import annotations

import datetime
import io
import socket
import threading
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives import serialization
from django.core.management import call_command
from django.db import connection, connections, transaction
from django.utils import translation
from rest_framework.test import APIClient

from config.celery_app import app as celery_app
from signatures import keys, pki, services, tasks
from signatures.document import signature_field_name
from signatures.models import AmendmentDocument, ContractDocument, SignatureEvidence
from signatures.selectors import document_verify
from tests.factories import PASSWORD, ActionFactory, SignatoryFactory
from tests.flows import (
    amendment_to_signing,
    approve_reviews,
    decide,
    launch,
    open_tasks,
    record_deliberation,
    walk_to_deliberation,
    walk_to_signed,
)
from tests.signatures.documents import assert_signed_by, blank_with_a_seal_field, sealed_blank
from tests.signatures.tsa import Authority
from workflows.errors import Conflict, ServiceUnavailable
from workflows.models import CommitteeVote, HistoryEntry, HistoryEvent, TaskKind, TaskStatus
from workflows.services import contracts as contract_services
from workflows.services import tasks as task_services


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


def _one_signature_due(contract, coordinator):
    """The contract, with one action and its mandatory signatory, to that party's signature
    task (the deliberation recorded, its document frozen)."""
    ActionFactory(contract=contract)
    SignatoryFactory(contract=contract)
    walk_to_deliberation(contract, coordinator)
    record_deliberation(contract)
    (task,) = open_tasks(contract, TaskKind.SIGNATURE)
    return task


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
    # The committee's minutes: signed by the chair, drawn up before the vote's transaction.
    walk_to_deliberation(contract, coordinator)
    minutes = authority.requests
    assert minutes >= 1
    record_deliberation(contract)
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
    assert authority.requests >= minutes + 4
    assert authority.open_transactions == [0] * authority.requests
    last = HistoryEntry.objects.filter(contract=contract).order_by("-seq").first()
    assert document.certificate_data["history_head"] == {"seq": last.seq, "hash": last.hash}

    # An amendment: its committee's minutes, its party's signature and its seal.
    signed = authority.requests
    amendment_to_signing(contract, coordinator)
    assert authority.requests > signed  # the amendment's minutes
    voted = authority.requests
    (signing,) = open_tasks(contract, TaskKind.SIGNATURE)
    assert _sign_by_api(signing) == 200
    amendment = AmendmentDocument.objects.get(amendment__contract=contract)
    assert amendment.sealed_at is not None
    check = document_verify(bytes(amendment.pdf))
    assert check.ok, check
    assert [s.field_name for s in check.signatures][-1] == "accord-seal"
    # The signature and the seal, each timestamped, and the document timestamp.
    assert authority.requests >= voted + 3
    assert authority.open_transactions == [0] * authority.requests
    sealed = HistoryEntry.objects.get(
        contract=contract, event=HistoryEvent.AMENDMENT_TRANSITION, name="complete_signing"
    )
    assert sealed.data["sealed_pdf_sha256"] == services.sha256(bytes(amendment.pdf))

    # The watch itself: a call made inside a transaction is seen.
    pdf = blank_with_a_seal_field()
    with transaction.atomic():
        ContractDocument.objects.select_for_update().get(pk=document.pk)
        sealed_blank(pdf)
    assert authority.open_transactions[-1] >= 1


def _drawn_up_then(monkeypatch, then) -> None:
    """Each signature drawn up (``services.sign_pdf``, before the decision's transaction with
    the outside authority), then ``then(field_name)``, before it is stored."""
    sign_pdf = services.sign_pdf

    def drawn_up(pdf, **kwargs):
        signed = sign_pdf(pdf, **kwargs)
        then(kwargs["field_name"])
        return signed

    monkeypatch.setattr(services, "sign_pdf", drawn_up)


@pytest.mark.django_db
def test_a_signature_stored_in_between_makes_the_prepared_one_prepared_again(
    contract, coordinator, authority, monkeypatch, django_capture_on_commit_callbacks
):
    """Party A's signature is drawn up; before it is stored, party B signs: A's, covering a
    revision without B's, is never stored; it is drawn up again over B's and both land."""
    ActionFactory(contract=contract)
    first, second = SignatoryFactory(contract=contract), SignatoryFactory(contract=contract)
    walk_to_deliberation(contract, coordinator)
    record_deliberation(contract)
    by_party = {t.signatory_id: t for t in open_tasks(contract, TaskKind.SIGNATURE)}
    fields = {signature_field_name(s): s.pk for s in (first, second)}
    prepared_for: list[int] = []

    def then_another_signs(field_name: str) -> None:
        if field_name not in fields:  # the seal, after the last signature's commit
            return
        prepared_for.append(fields[field_name])
        if fields[field_name] == first.pk and second.pk not in prepared_for:
            decide(by_party[second.pk], "sign")

    _drawn_up_then(monkeypatch, then_another_signs)
    with django_capture_on_commit_callbacks(execute=True):  # the seal's task
        decide(by_party[first.pk], "sign")

    assert prepared_for == [first.pk, second.pk, first.pk]
    document = assert_signed_by(contract, first, second)
    assert SignatureEvidence.objects.filter(document=document).count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize("timestamps", ["embedded", "outside"])
def test_a_signature_checks_the_signers_password_once(
    contract, coordinator, monkeypatch, request, timestamps
):
    """The decision may run more than once (with an outside authority: again once its
    signature is drawn up); the password is checked once, before it (PBKDF2: a fifth of a
    second of CPU each time)."""
    if timestamps == "outside":
        request.getfixturevalue("authority")
    task = _one_signature_due(contract, coordinator)
    check_password = type(task.owner).check_password
    checked: list[str] = []

    def counted(user, raw_password):
        checked.append(user.username)
        return check_password(user, raw_password)

    monkeypatch.setattr(type(task.owner), "check_password", counted)
    decide(task, "sign")

    assert checked == [task.owner.username]
    task.refresh_from_db()
    assert task.status == TaskStatus.DONE


@pytest.mark.django_db
def test_signatures_landing_at_each_attempt_end_in_a_conflict_and_nothing_stored(
    contract, coordinator, authority, monkeypatch
):
    """Every attempt of A's overtaken by another party's: after SIGNING_ATTEMPTS, A is told
    to try again (409), nothing of A's is stored; then A signs."""
    ActionFactory(contract=contract)
    first, *others = (SignatoryFactory(contract=contract) for _ in range(5))
    walk_to_deliberation(contract, coordinator)
    record_deliberation(contract)
    by_party = {t.signatory_id: t for t in open_tasks(contract, TaskKind.SIGNATURE)}
    waiting = list(others[: task_services.SIGNING_ATTEMPTS])

    def overtaken(field_name: str) -> None:
        if field_name == signature_field_name(first) and waiting:
            decide(by_party[waiting.pop(0).pk], "sign")

    _drawn_up_then(monkeypatch, overtaken)
    with translation.override("en"), pytest.raises(Conflict, match="nothing was signed"):
        decide(by_party[first.pk], "sign")

    assert not waiting
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
    task = _one_signature_due(contract, coordinator)
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
    task = _one_signature_due(contract, coordinator)
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
    task = _one_signature_due(contract, coordinator)
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
    task = _one_signature_due(contract, coordinator)
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


def _amendment_awaiting_its_signature(contract, coordinator):
    ActionFactory(contract=contract)
    SignatoryFactory(contract=contract)
    walk_to_signed(contract, coordinator)
    amendment_to_signing(contract, coordinator)
    (task,) = open_tasks(contract, TaskKind.SIGNATURE)
    return task, AmendmentDocument.objects.get(amendment__contract=contract)


def _nothing_signed(task, document: AmendmentDocument, entries: int) -> None:
    """The party's task still open, no signature on the amendment's document (read again),
    nothing added to the contract's ``entries`` history entries."""
    document.refresh_from_db()
    assert document.signatures == []
    task.refresh_from_db()
    assert task.status == TaskStatus.ASSIGNED
    assert HistoryEntry.objects.filter(contract=task.contract).count() == entries


def _another_revision_stored(document: AmendmentDocument) -> None:
    """A revision of the amendment's document stored behind the decision's back."""
    stored = bytes(AmendmentDocument.objects.get(pk=document.pk).pdf)
    AmendmentDocument.objects.filter(pk=document.pk).update(pdf=stored + b"%other\n")


def _amendment_drawn_up_then(monkeypatch, then) -> None:
    """Each signature and seal of the amendment drawn up (``services.sign_pdf``, which the
    parties' signatures and the seal go through), after ``then(field_name)``."""
    sign_pdf = services.sign_pdf

    def drawn_up(pdf, **kwargs):
        then(kwargs["field_name"])
        return sign_pdf(pdf, **kwargs)

    monkeypatch.setattr(services, "sign_pdf", drawn_up)


@pytest.mark.django_db
def test_an_amendment_signed_over_a_revision_stored_meanwhile_is_prepared_again(
    contract, coordinator, authority, monkeypatch
):
    task, document = _amendment_awaiting_its_signature(contract, coordinator)
    drawn: list[str] = []

    def another_revision_first(field_name: str) -> None:
        drawn.append(field_name)
        if len(drawn) == 1:  # another revision stored while the first one is drawn up
            _another_revision_stored(document)

    _amendment_drawn_up_then(monkeypatch, another_revision_first)
    assert _sign_by_api(task) == 200

    signature = drawn[0]
    assert drawn == [signature, signature, "accord-seal"]
    document.refresh_from_db()
    assert document.sealed_at is not None
    assert b"%other\n" in bytes(document.pdf)  # the second signature covers it
    check = document_verify(bytes(document.pdf))
    assert [s.field_name for s in check.signatures] == [signature, "accord-seal"]


@pytest.mark.django_db
def test_an_amendment_whose_document_keeps_changing_gets_a_conflict_and_nothing_stored(
    contract, coordinator, authority, monkeypatch
):
    task, document = _amendment_awaiting_its_signature(contract, coordinator)
    _amendment_drawn_up_then(monkeypatch, lambda field_name: _another_revision_stored(document))
    entries = HistoryEntry.objects.filter(contract=contract).count()
    assert _sign_by_api(task) == 409

    _nothing_signed(task, document, entries)
    assert document.sealed_at is None
    assert bytes(document.pdf).count(b"%other\n") == task_services.SIGNING_ATTEMPTS


@pytest.mark.django_db
def test_an_amendment_or_a_vote_with_the_authority_down_writes_nothing_and_says_so(
    contract, coordinator, authority, settings, tmp_path
):
    task, document = _amendment_awaiting_its_signature(contract, coordinator)
    frozen = bytes(document.pdf)
    entries = HistoryEntry.objects.filter(contract=contract).count()
    _outside_authority(settings, tmp_path, f"http://127.0.0.1:{_closed_port()}/", timeout=0.5)

    assert _sign_by_api(task) == 503
    _nothing_signed(task, document, entries)
    assert bytes(document.pdf) == frozen


@pytest.mark.django_db
def test_the_chairs_closing_draws_the_minutes_up_before_its_transaction(
    contract, coordinator, authority, settings, tmp_path
):
    ActionFactory(contract=contract)
    SignatoryFactory(contract=contract)
    launch(contract, coordinator)
    approve_reviews(contract)
    chair = contract.steering_committee.chair
    # The quorum (2) reached with one for and one abstaining: the chair may close the vote.
    votes = [task for task in open_tasks(contract, TaskKind.VOTE) if task.owner != chair]
    decide(votes[0], "abstain")
    decide(votes[1], "approve")
    contract.refresh_from_db()
    assert contract.status == "committee"
    entries = HistoryEntry.objects.filter(contract=contract).count()
    good = settings.ACCORD_TSA_URL
    _outside_authority(settings, tmp_path, f"http://127.0.0.1:{_closed_port()}/", timeout=0.5)

    with pytest.raises(ServiceUnavailable):
        contract_services.close_vote(contract=contract, actor=chair)
    assert HistoryEntry.objects.filter(contract=contract).count() == entries
    undecided = CommitteeVote.objects.get(contract=contract)
    assert (undecided.decided_at, undecided.minutes_sha256, undecided.closed_by) == (None, "", None)

    settings.ACCORD_TSA_URL = good
    requests = authority.requests
    contract_services.close_vote(contract=contract, actor=chair)
    contract.refresh_from_db()
    assert contract.status == "deliberation"
    vote = CommitteeVote.objects.get(contract=contract)
    assert vote.minutes_sha256 == services.sha256(bytes(vote.minutes_pdf))
    assert authority.requests > requests


@pytest.mark.django_db
def test_the_sweep_is_scheduled_by_beat_and_runs_as_a_command(
    contract, coordinator, authority, monkeypatch, settings
):
    (entry,) = [
        job
        for job in settings.CELERY_BEAT_SCHEDULE.values()
        if job["task"] == "signatures.tasks.seal_pending"
    ]
    assert entry["task"] in celery_app.tasks
    document = _signed_with_the_seal_task_lost(contract, coordinator, monkeypatch)
    out = io.StringIO()
    call_command("seal_pending", stdout=out)  # within the grace period: left to its task
    assert out.getvalue().strip() == "0 document(s) sealed."
    monkeypatch.setattr(tasks, "SEAL_GRACE", datetime.timedelta(0))
    call_command("seal_pending", stdout=out)
    assert out.getvalue().strip().endswith("1 document(s) sealed.")
    document.refresh_from_db()
    assert document.sealed_at is not None
