"""What the notifications do about what the domain recorded (``settings.ACCORD_REACTIONS``).

The history entries a unit of work recorded are the outbox: each kind of entry that concerns
someone becomes a notice, and the notices are written together, in the unit's transaction,
with one query for the recipients and one INSERT (``services.notices_write``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypedDict

from workflows.history import UnitOfWork
from workflows.models import HistoryEntry, HistoryEvent, Meeting, Task

from . import services
from .services import Notice


class _Told(TypedDict):
    """The contract's status and version as an entry left them."""

    status: str
    version: int


TOLD_OF_A_TASK = (
    HistoryEvent.TASK_CREATED,
    HistoryEvent.TASK_DELEGATED,
    HistoryEvent.TASK_COMPLETED,
    HistoryEvent.REMINDER,
)


def notify_recorded(unit: UnitOfWork, entries: Sequence[HistoryEntry]) -> None:
    """Tell whoever the unit's entries concern, each notice carrying the contract's status
    and version as the entry left them (a decision may move the contract further)."""
    contract = unit.contract
    transitions = [entry for entry in entries if entry.event == HistoryEvent.TRANSITION]
    status = transitions[0].from_state if transitions else contract.status
    notices: list[Notice] = []
    for entry in entries:
        if entry.event == HistoryEvent.TRANSITION:
            status = entry.to_state
        told: _Told = {"status": status, "version": entry.contract_version}
        # Read only for the entries that tell of a task (held or cancelled ones tell nobody).
        task = _task(unit, entry) if entry.event in TOLD_OF_A_TASK else None
        if entry.event == HistoryEvent.TRANSITION:
            notices.append(
                services.contract_status_changed(
                    contract,
                    source=entry.from_state,
                    target=entry.to_state,
                    actor=entry.actor,
                    version=entry.contract_version,
                )
            )
        elif entry.event in (HistoryEvent.TASK_CREATED, HistoryEvent.TASK_DELEGATED) and task:
            notices.append(services.task_assigned(task, contract=contract, **told))
        elif entry.event == HistoryEvent.TASK_COMPLETED and task and entry.actor:
            notices += services.task_decided(task, actor=entry.actor, unit=unit, **told)
        elif entry.event == HistoryEvent.VOTE_DECIDED:
            notices.append(services.vote_decided(entry.name, unit=unit, **told))
        elif entry.event == HistoryEvent.ANNUAL_REPORT_DECIDED:
            notices.append(
                services.annual_report_decided(entry.name, entry.data["year"], unit=unit, **told)
            )
        elif entry.event in services.MEETING_TITLES:
            meeting = Meeting.objects.get(pk=entry.data["meeting"])
            notices.append(services.meeting_announced(meeting, entry.event, unit=unit))
        elif entry.event == HistoryEvent.COMMENT_ADDED and entry.data.get("mentioned"):
            notices.append(services.mentioned(entry, unit=unit))
        elif entry.event == HistoryEvent.REMINDER and task:
            notices.append(services.reminded(task, entry.name, unit=unit, **told))
    services.notices_write(notices, unit=unit)


def _task(unit: UnitOfWork, entry: HistoryEntry) -> Task | None:
    """The task the entry is about: as the unit holds it, else as stored."""
    pk = entry.data.get("task")
    if pk is None:
        return None
    return unit.task(pk) or Task.objects.select_related("owner", "action").get(pk=pk)
