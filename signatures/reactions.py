"""What signing does about what the domain recorded (``settings.ACCORD_REACTIONS``)."""

from __future__ import annotations

from collections.abc import Sequence

from workflows.history import UnitOfWork
from workflows.models import HistoryEntry, HistoryEvent

from . import services


def seal_signed_contract(unit: UnitOfWork, entries: Sequence[HistoryEntry]) -> None:
    """A contract just signed by every party: Accord's seal closes its document, and the
    completion certificate certifies the history as the unit leaves it, who was told of the
    last signature included (the notifications' reaction runs first)."""
    if any(
        entry.event == HistoryEvent.TRANSITION and entry.name == "complete_signing"
        for entry in entries
    ):
        services.document_seal(unit.contract, history_head=unit.head)
