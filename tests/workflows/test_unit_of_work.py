"""The unit of work on its own: what a decision records, when it is written, who reacts, and
the remote calls it has prepared before its transaction."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from tests.factories import ContractFactory
from workflows.documents import (
    PREPARATION_ATTEMPTS,
    Preparations,
    decide_outside,
    preparation_key,
)
from workflows.errors import Conflict
from workflows.history import UnitOfWork, history_head, unit_of
from workflows.models import HistoryEntry, HistoryEvent, Process
from workflows.selectors import history_verify

pytestmark = pytest.mark.django_db(transaction=True)


def comments(contract) -> list[str]:
    return list(contract.history.order_by("seq").values_list("comment", flat=True))


def test_entries_are_chained_as_recorded_and_written_together_when_the_unit_finishes():
    contract = ContractFactory()
    with transaction.atomic():
        unit = UnitOfWork.lock(contract.pk, reactions=())
        first = unit.record(event=HistoryEvent.PEOPLE_CHANGED, comment="one")
        second, third = unit.record_many(
            [
                {"event": HistoryEvent.PEOPLE_CHANGED, "comment": "two"},
                {"event": HistoryEvent.PEOPLE_CHANGED, "comment": "three"},
            ]
        )
        assert not contract.history.exists()  # nothing written yet
        assert (second.prev_hash, third.prev_hash) == (first.hash, second.hash)
        assert unit.head == (3, third.hash)
        with CaptureQueriesContext(connection) as queries:
            unit.finish()
    inserts = [q for q in queries if q["sql"].startswith("INSERT")]
    assert len(inserts) == 1
    assert comments(contract) == ["one", "two", "three"]
    assert history_verify(contract).valid
    assert history_head(contract) == (3, third.hash)


def test_a_second_unit_continues_the_chain_the_first_wrote():
    contract = ContractFactory()
    for comment in ("first decision", "second decision"):
        with transaction.atomic(), UnitOfWork.lock(contract.pk, reactions=()) as unit:
            unit.record(event=HistoryEvent.PEOPLE_CHANGED, comment=comment)
    assert comments(contract) == ["first decision", "second decision"]
    assert history_verify(contract).valid


def test_an_error_in_the_unit_writes_nothing_and_nobody_reacts():
    contract = ContractFactory()
    reacted = []

    def decide_half_way() -> None:
        with (
            transaction.atomic(),
            UnitOfWork.lock(contract.pk, reactions=[lambda *args: reacted.append(args)]) as unit,
        ):
            unit.record(event=HistoryEvent.PEOPLE_CHANGED, comment="half a decision")
            raise ZeroDivisionError  # the decision fails half-way

    with pytest.raises(ZeroDivisionError):
        decide_half_way()
    assert reacted == []
    assert not contract.history.exists()


def test_reactions_see_every_entry_in_order_and_theirs_are_written_with_the_unit():
    contract = ContractFactory()
    seen: list[tuple[str, list[str]]] = []

    def first(unit, entries):
        seen.append(("first", [entry.comment for entry in entries]))
        unit.record(event=HistoryEvent.NOTIFIED, comment="told by the first reaction")

    def second(unit, entries):
        seen.append(("second", [entry.comment for entry in entries]))

    with transaction.atomic(), UnitOfWork.lock(contract.pk, reactions=[first, second]) as unit:
        unit.record(event=HistoryEvent.PEOPLE_CHANGED, comment="the change")

    assert seen == [
        ("first", ["the change"]),
        ("second", ["the change", "told by the first reaction"]),
    ]
    assert comments(contract) == ["the change", "told by the first reaction"]
    assert history_verify(contract).valid


def test_a_unit_finishes_once_and_records_nothing_after():
    contract = ContractFactory()
    with transaction.atomic():
        unit = UnitOfWork.lock(contract.pk, reactions=())
        unit.finish()
        with pytest.raises(RuntimeError, match="already finished"):
            unit.finish()
        with pytest.raises(RuntimeError, match="finished"):
            unit.record(event=HistoryEvent.PEOPLE_CHANGED)


def test_an_answer_is_asked_once_per_unit():
    contract = ContractFactory()
    asked = []
    with transaction.atomic():
        unit = UnitOfWork.lock(contract.pk, reactions=())
        for _ in range(3):
            assert unit.once("leads", lambda: asked.append(1) or [4, 2]) == [4, 2]
    assert asked == [1]
    with transaction.atomic():
        UnitOfWork.lock(contract.pk, reactions=()).once("leads", lambda: asked.append(1))
    assert asked == [1, 1]  # a new unit asks again


def test_the_tasks_recorded_are_kept_for_the_reactions():
    contract = ContractFactory()
    task_like = HistoryEntry(pk=41)  # any object with a pk: the unit keeps what it is given
    with transaction.atomic():
        unit = UnitOfWork.lock(contract.pk, reactions=())
        unit.record(event=HistoryEvent.TASK_CREATED, data={"task": 41}, task=task_like)
        assert unit.task(41) is task_like
        assert unit.task(42) is None


def test_a_unit_drives_the_flows_of_its_own_contract_only():
    contract, other = ContractFactory(), ContractFactory()
    with transaction.atomic():
        unit = UnitOfWork.lock(contract.pk, reactions=())
        stranger = Process(contract=other)
        with pytest.raises(ValueError, match="its own contract"):
            unit.drive(stranger)
        with pytest.raises(RuntimeError, match="outside a unit of work"):
            unit_of(stranger)
        process = unit.drive(Process(contract_id=contract.pk))
        assert unit_of(process) is unit
        assert process.contract is unit.contract  # the locked instance the decision changes


def test_a_decision_asking_for_a_remote_call_is_rolled_back_prepared_for_and_run_again():
    contract = ContractFactory()
    moments = []
    in_a_transaction = []

    def stamp() -> str:
        in_a_transaction.append(connection.in_atomic_block)
        return "stamped"

    def decide(preparations: Preparations) -> str:
        with (
            transaction.atomic(),
            UnitOfWork.lock(contract.pk, reactions=(), preparations=preparations) as unit,
        ):
            moments.append(unit.preparations.now)
            unit.record(event=HistoryEvent.PEOPLE_CHANGED, comment=f"run {len(moments)}")
            return unit.preparations.prepared(preparation_key("stamp", contract.pk), stamp)

    assert decide_outside(decide) == "stamped"
    assert in_a_transaction == [False]  # the authority is asked with no transaction open
    assert moments == [moments[0]] * 2  # run twice, at the same moment
    assert comments(contract) == ["run 2"]  # the run that asked was rolled back


def test_a_unit_opened_by_a_command_prepares_its_remote_calls_in_place():
    contract = ContractFactory()
    with transaction.atomic(), UnitOfWork.lock(contract.pk, reactions=()) as unit:
        assert not unit.preparations.outside
        assert unit.preparations.prepared("stamp:x", lambda: connection.in_atomic_block)


def test_a_preparation_going_stale_at_each_attempt_ends_in_a_conflict_and_nothing_written():
    contract = ContractFactory()
    prepared = []

    def decide(preparations: Preparations) -> None:
        with (
            transaction.atomic(),
            UnitOfWork.lock(contract.pk, reactions=(), preparations=preparations) as unit,
        ):
            unit.record(event=HistoryEvent.PEOPLE_CHANGED, comment="never written")
            # Another revision each time: what was prepared never matches any more.
            unit.preparations.prepared(
                preparation_key("stamp", len(prepared)), lambda: prepared.append(1)
            )

    with pytest.raises(Conflict):
        decide_outside(decide)
    assert len(prepared) == PREPARATION_ATTEMPTS
    assert not contract.history.exists()
