"""The seal drawn up after the last signature's commit, by the worker (an outside
time-stamping authority's call never happens in a transaction): retried while the authority
does not answer, and swept periodically in case the broker lost the task. The certificates
of the people asked to sign, issued ahead of their signature."""

from __future__ import annotations

import datetime
import logging

from celery import shared_task
from django.utils import timezone

from workflows.errors import DocumentChanged, ServiceUnavailable
from workflows.models import Task, TaskStatus

from . import keys, services
from .models import ContractDocument

SEAL_RETRIES = 8
# How long after the last signature the sweep leaves the seal to its own task (which may be
# waiting for the authority: its first retries come within this delay).
SEAL_GRACE = datetime.timedelta(minutes=30)

logger = logging.getLogger(__name__)


@shared_task(bind=True, max_retries=SEAL_RETRIES)
def seal_document(self, contract_id: int, head_seq: int | None, head_hash: str | None) -> bool:
    """Seal the contract's signed document (``services.document_seal_prepared``); True once
    sealed (or nothing left to seal)."""
    head = (head_seq, head_hash) if head_seq is not None and head_hash else None
    try:
        services.document_seal_prepared(contract_id, history_head=head)
    except (ServiceUnavailable, DocumentChanged) as exc:
        raise self.retry(exc=exc, countdown=60 * 2**self.request.retries) from exc
    return True


@shared_task
def seal_pending(grace_seconds: float | None = None) -> int:
    """Seal every signed document whose seal was asked for more than the grace period ago
    and is still missing (the broker lost ``seal_document``, or its retries ran out).

    Idempotent with the task and with itself: the seal is stored under the document's row
    lock only while none is (``services.document_seal_prepared``), so of two runs at once
    exactly one stores it. Returns how many of them are sealed after it; a document whose
    authority still does not answer is left for the next run."""
    grace = SEAL_GRACE if grace_seconds is None else datetime.timedelta(seconds=grace_seconds)
    pending = (
        ContractDocument.objects.awaiting_seal()
        .filter(seal_requested_at__lte=timezone.now() - grace)
        .values_list("contract_id", "seal_history_head")
    )
    sealed = 0
    for contract_id, head in pending:
        history_head = (head["seq"], head["hash"]) if head else None
        try:
            document = services.document_seal_prepared(contract_id, history_head=history_head)
        except (ServiceUnavailable, DocumentChanged) as exc:
            logger.warning("Seal of contract %s left for the next sweep: %s", contract_id, exc)
            continue
        sealed += document is not None and document.sealed_at is not None
    return sealed


@shared_task
def issue_signing_certificates(task_ids: list[int]) -> int:
    """The certificate each of these signature tasks will sign with, issued now if it is the
    holder's from Accord's authority and they have none: generating an RSA key (about 50 ms
    of CPU, at times several times that) then happens here, not in their signature while it
    holds the contract's lock. A task already decided, and a party signing with its
    organisation's own certificate, need nothing. Idempotent (``keys.person_key`` issues a
    person's key once); the signature still issues it if this never ran. Returns how many
    tasks have their key now."""
    ready = 0
    for task in Task.objects.filter(pk__in=task_ids, status=TaskStatus.ASSIGNED).select_related(
        "owner__organisation", "signatory__organisation", "amendment_party__organisation"
    ):
        party = task.signatory or task.amendment_party
        if party is None or task.owner is None:
            continue
        keys.signing_key(party.organisation, task.owner)
        ready += 1
    return ready
