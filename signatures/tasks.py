"""The seal drawn up after the last signature's commit, when the time-stamping authority is
an outside one (its call never happens in a transaction): retried while it does not answer."""

from __future__ import annotations

from celery import shared_task

from workflows.errors import DocumentChanged, ServiceUnavailable

from . import services

SEAL_RETRIES = 8


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
