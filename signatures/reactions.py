"""What signing does about what the domain recorded (``settings.ACCORD_REACTIONS``)."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction

from workflows.history import UnitOfWork
from workflows.models import HistoryEntry, HistoryEvent, TaskKind

from . import services, tasks


def seal_signed_contract(unit: UnitOfWork, entries: Sequence[HistoryEntry]) -> None:
    """A contract just signed by every party: Accord's seal closes its document, and the
    completion certificate certifies the history as the unit leaves it, who was told of the
    last signature included (the notifications' reaction runs first; this one is the last).

    By the worker, after the commit (``tasks.seal_document``), whichever the time-stamping
    authority: the seal is Accord's act, not the last signer's, and drawing it up (pyHanko's
    signature, the certificate's PDF) made the last signature cost five to six times another
    (docs/benchmarks.md). The task seals only the document the unit committed
    (``services.document_seal_prepared``); the head is the unit's all the same, kept on the
    document with the request for the periodic sweep (``tasks.seal_pending``) if the broker
    loses the task. On the embedded default the task runs in the process after the commit.
    """
    if not any(
        entry.event == HistoryEvent.TRANSITION and entry.name == "complete_signing"
        for entry in entries
    ):
        return
    contract_id, (seq, digest) = unit.contract.pk, unit.head
    # What the sweep (``tasks.seal_pending``) needs if the broker loses the task.
    services.seal_request(unit.contract, history_head=(seq, digest))
    transaction.on_commit(lambda: tasks.seal_document.delay(contract_id, seq, digest), robust=True)


def issue_signers_certificates(unit: UnitOfWork, entries: Sequence[HistoryEntry]) -> None:
    """A signature asked of someone (a signature task opened, or handed to a delegate): their
    certificate is issued after the commit, by the worker (``tasks.issue_signing_certificates``),
    so that their signature does not generate a key while it holds the contract's lock. On the
    embedded default the task runs in the process, after the commit, as every task there."""
    task_ids = [
        entry.data["task"]
        for entry in entries
        if entry.event in (HistoryEvent.TASK_CREATED, HistoryEvent.TASK_DELEGATED)
        and entry.name == TaskKind.SIGNATURE
        and entry.data.get("task")
    ]
    if task_ids:
        transaction.on_commit(lambda: tasks.issue_signing_certificates.delay(task_ids), robust=True)
