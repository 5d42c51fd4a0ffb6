"""The bottom of the domain: a contract's row lock, its history chain, and the unit of work
through which a decision records what it did.

Everything that changes a contract takes its row lock first and records the change in the
contract's hash-chained history in the same transaction. A ``UnitOfWork`` is that pair made
explicit: opened under the lock by the service that serves a person's request, passed to every
function that records or drives the contract's flows, and finished once, when the decision is
complete. Finishing lets the reactions named in ``settings.ACCORD_REACTIONS`` (notifications,
the signed document's seal) read what the unit recorded and record what they add; then all
of the unit's entries are written in one INSERT. The entries are the outbox: a reaction sees
exactly what commits, and nothing of a decision that rolls back.

A decision whose remote calls (the time-stamping authority) are drawn up before its
transaction hands the unit its ``Preparations`` (``workflows.documents.decide_outside``); the
steps pass ``unit.preparations`` to the ports that call out.

This module imports the models and nothing else of Accord's: the services build on it, and
the apps that react to the history are never imported by it.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone
from django.utils.module_loading import import_string

from .models import GENESIS_HASH, Contract, HistoryEntry, User

if TYPE_CHECKING:
    from .models import Action, Process, Task


T = TypeVar("T")


class PreparationNeeded(Exception):
    """Raised inside a decision for a remote call not prepared yet: never caught in between,
    it rolls the decision's transaction back (``decide_outside`` then prepares it)."""

    def __init__(self, purpose: str, key: str, prepare: Callable[[], Any]) -> None:
        super().__init__(purpose)
        self.purpose, self.key, self.prepare = purpose, key, prepare


@dataclass
class Preparations:
    """What one decision had drawn up before its transaction, and its moment.

    ``Preparations()``, what a unit of work opened by a command or a loader holds, prepares
    each call in place. ``decide_outside`` hands the decision one made with ``outside=True``:
    a call not prepared yet rolls the decision back, to be prepared with no transaction open;
    ``now`` stays the same in each run (what the minutes print must not change between the
    preparation and the storing)."""

    outside: bool = False
    now: datetime.datetime = field(default_factory=timezone.now)
    results: dict[str, Any] = field(default_factory=dict)

    def prepared(self, key: str, prepare: Callable[[], T]) -> T:
        """``prepare()``'s result for ``key``: drawn up before the decision's transaction
        when ``outside`` (the decision is run again for it), else now."""
        if not self.outside:
            return prepare()
        if key in self.results:
            return self.results[key]
        raise PreparationNeeded(key.split(":", 1)[0], key, prepare)


class Reaction(Protocol):
    """What another app does about a unit's entries, in the unit's transaction."""

    def __call__(self, unit: UnitOfWork, entries: Sequence[HistoryEntry], /) -> None: ...


@cache
def configured_reactions() -> tuple[Reaction, ...]:
    """The reactions of ``settings.ACCORD_REACTIONS``, in their order."""
    return tuple(import_string(path) for path in settings.ACCORD_REACTIONS)


def lock_contract(contract_id: int) -> Contract:
    """Re-read the contract under its row lock: concurrent changes to it, its flows and its
    tasks queue up here. Taken first, before any flow or task of the contract; on SQLite,
    where ``FOR UPDATE`` does not exist, write transactions begin IMMEDIATE, which serialises
    them just the same."""
    return Contract.objects.select_for_update().get(pk=contract_id)


def history_head(contract: Contract) -> tuple[int, str] | None:
    """The (seq, hash) of the last entry written in the contract's chain."""
    return (
        HistoryEntry.objects.filter(contract=contract)
        .order_by("-seq")
        .values_list("seq", "hash")
        .first()
    )


class UnitOfWork:
    """One decision's work on one locked contract: its history entries, chained as they are
    recorded and written together when it finishes, and the answers that cannot change while
    the lock is held (usernames, absences, a group's leads), asked once.

    ``contract`` is the locked instance every step of the decision changes, flows included
    (``drive``), so nothing is read back afterwards. ``preparations``: the remote calls the
    decision's steps ask for, drawn up before its transaction when ``decide_outside`` runs it,
    else (a fresh ``Preparations()``) made in place. Nothing the unit holds survives an error:
    an exception leaves the ``with`` block without finishing, and rolls back the transaction
    that took the lock.
    """

    def __init__(
        self,
        contract: Contract,
        *,
        reactions: Iterable[Reaction] | None = None,
        preparations: Preparations | None = None,
    ) -> None:
        self.contract = contract
        self.preparations = Preparations() if preparations is None else preparations
        self.reactions: tuple[Reaction, ...] = (
            configured_reactions() if reactions is None else tuple(reactions)
        )
        self.recorded: list[HistoryEntry] = []
        self._unwritten: list[HistoryEntry] = []
        self._head: tuple[int, str] | None = None
        self._tasks: dict[int, Task] = {}
        self._answers: dict[Any, Any] = {}
        self._finished = False

    @classmethod
    def lock(
        cls,
        contract_id: int,
        *,
        reactions: Iterable[Reaction] | None = None,
        preparations: Preparations | None = None,
    ) -> UnitOfWork:
        """Lock the contract's row (the caller is in a transaction) and open a unit on it."""
        return cls(lock_contract(contract_id), reactions=reactions, preparations=preparations)

    def __enter__(self) -> UnitOfWork:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.finish()

    # --- history --------------------------------------------------------------------------

    @property
    def head(self) -> tuple[int, str]:
        """(seq, hash) of the chain's last entry, recorded by this unit or already written."""
        if self._head is None:
            self._head = history_head(self.contract) or (0, GENESIS_HASH)
        return self._head

    def record(
        self,
        *,
        event: str,
        actor: User | None = None,
        on_behalf_of: User | None = None,
        name: str = "",
        action: Action | None = None,
        from_state: str = "",
        to_state: str = "",
        comment: str = "",
        data: dict[str, Any] | None = None,
        contract_version: int | None = None,
        task: Task | None = None,
    ) -> HistoryEntry:
        """Chain one entry; ``task``, when the entry is about one, is kept for the reactions
        (they read it from ``task()`` instead of the database)."""
        if task is not None:
            self._tasks[task.pk] = task
        (entry,) = self.record_many(
            [
                {
                    "event": event,
                    "actor": actor,
                    "on_behalf_of": on_behalf_of,
                    "name": name,
                    "action": action,
                    "from_state": from_state,
                    "to_state": to_state,
                    "comment": comment,
                    "data": data,
                    "contract_version": contract_version,
                }
            ]
        )
        return entry

    def record_many(self, entries: Iterable[dict[str, Any]]) -> list[HistoryEntry]:
        """Chain entries in order, each given as ``record``'s keyword arguments but ``task``:
        a cascade over every action costs no statement until the unit is written."""
        if self._finished:
            raise RuntimeError("This unit of work is finished: open a new one.")
        seq, prev_hash = self.head
        chained = []
        for fields in entries:
            seq += 1
            entry = _chained_entry(self.contract, seq=seq, prev_hash=prev_hash, **fields)
            prev_hash = entry.hash
            chained.append(entry)
        self._head = (seq, prev_hash)
        self._unwritten += chained
        self.recorded += chained
        return chained

    def task(self, pk: int) -> Task | None:
        """The task this unit recorded an entry about, as the decision left it."""
        return self._tasks.get(pk)

    def write(self) -> None:
        """Write the entries recorded so far (one INSERT)."""
        if self._unwritten:
            HistoryEntry.objects.bulk_create(self._unwritten)
            self._unwritten = []

    def finish(self) -> None:
        """Let each reaction see every entry recorded so far (those of the reactions before
        it included) and record its own, then write them all."""
        if self._finished:
            raise RuntimeError("This unit of work is already finished.")
        for reaction in self.reactions:
            reaction(self, tuple(self.recorded))
        self.write()
        self._finished = True

    # --- what does not change under the lock ----------------------------------------------

    def once(self, key: Any, ask: Callable[[], Any]) -> Any:
        """``ask()``, asked once in this unit: for answers that cannot change while the
        contract is locked (a launch opens a task per lead and action, the same few people
        many times)."""
        if key not in self._answers:
            self._answers[key] = ask()
        return self._answers[key]

    def asked(self, key: Any) -> bool:
        """Whether ``once`` has the answer for ``key`` already."""
        return key in self._answers

    def usernames(self, *user_ids: int | None) -> dict[int, str]:
        """The usernames of these people, each asked once in the unit."""
        known: dict[int, str] = self.once("usernames", dict)
        ids = {pk for pk in user_ids if pk}
        if missing := ids - known.keys():
            known.update(User.objects.filter(pk__in=missing).values_list("pk", "username"))
        return {pk: known[pk] for pk in ids if pk in known}

    def drive(self, process: Process) -> Process:
        """Hand ``process`` (a flow of this contract) to this unit: its nodes record through
        it and change this unit's contract instance."""
        if process.contract_id != self.contract.pk:
            raise ValueError("A unit of work drives the flows of its own contract only.")
        process.contract = self.contract
        process.unit = self
        return process


def unit_of(process: Process) -> UnitOfWork:
    """The unit of work driving ``process``: flows move only inside one."""
    if process.unit is None:
        raise RuntimeError(
            "This flow is driven outside a unit of work: go through workflows.services."
        )
    return process.unit


def _chained_entry(
    contract: Contract,
    *,
    seq: int,
    prev_hash: str,
    event: str,
    actor: User | None = None,
    on_behalf_of: User | None = None,
    name: str = "",
    action: Action | None = None,
    from_state: str = "",
    to_state: str = "",
    comment: str = "",
    data: dict[str, Any] | None = None,
    contract_version: int | None = None,
) -> HistoryEntry:
    entry = HistoryEntry(
        contract=contract,
        seq=seq,
        at=timezone.now(),
        actor=actor,
        actor_username=actor.username if actor else "",
        on_behalf_of=on_behalf_of,
        on_behalf_of_username=on_behalf_of.username if on_behalf_of else "",
        event=event,
        name=name,
        action=action,
        action_code=action.code if action else "",
        from_state=from_state,
        to_state=to_state,
        comment=comment,
        # Stored as it will read back from the database, so the hash recomputes identically.
        data=json.loads(json.dumps(data or {}, cls=DjangoJSONEncoder)),
        # The version the entry is about: the contract's, unless recorded later on its behalf.
        contract_version=contract.version if contract_version is None else contract_version,
        prev_hash=prev_hash,
    )
    entry.hash = entry.compute_hash()
    return entry
