"""The approval history: appended with each change, chained, and checked by verify_history."""

from itertools import pairwise

import pytest
from django.core.management import call_command, execute_from_command_line
from django.core.management.base import CommandError
from django.db.models import ProtectedError

from tests.factories import ActionFactory, UserFactory
from tests.flows import launch, tamper_with_history
from workflows import services
from workflows.errors import Conflict
from workflows.history import UnitOfWork
from workflows.models import GENESIS_HASH, HistoryEntry
from workflows.selectors import history_verify

pytestmark = pytest.mark.django_db


@pytest.fixture
def reviewed_contract(contract, coordinator):
    """A contract with some history: review launched on two actions (two leads each, so four
    review tasks, each notified to its lead), then suspended (the four tasks held): 16 entries."""
    ActionFactory.create_batch(2, contract=contract)
    launch(contract, coordinator)
    services.suspend(contract=contract, actor=coordinator, reason="Fusion")
    return contract


def raw_sql(sql: str, params: list) -> None:
    """Write behind the ORM's back, as someone with database access could (who, on
    PostgreSQL, must disable the append-only trigger first)."""
    tamper_with_history(sql, params)


def test_each_change_appends_one_linked_entry(reviewed_contract, coordinator):
    entries = list(reviewed_contract.history.order_by("seq"))
    assert [e.seq for e in entries] == list(range(1, 17))
    assert [(e.event, e.name) for e in entries] == [
        ("transition", "launch_review"),
        *[("action_transition", "submit_for_review")] * 2,
        *[("task_created", "review")] * 4,
        *[("notified", "task_assigned")] * 4,
        ("transition", "suspend"),
        *[("task_held", "review")] * 4,
    ]
    assert entries[0].prev_hash == GENESIS_HASH
    assert all(later.prev_hash == earlier.hash for earlier, later in pairwise(entries))
    suspend = entries[11]
    assert (suspend.actor, suspend.actor_username, suspend.comment) == (
        coordinator,
        coordinator.username,
        "Fusion",
    )
    assert (suspend.from_state, suspend.to_state, suspend.contract_version) == (
        "review",
        "suspended",
        1,
    )
    assert history_verify(reviewed_contract).valid


def test_a_refused_transition_leaves_no_entry(reviewed_contract, coordinator):
    before = reviewed_contract.history.count()
    with pytest.raises(Conflict):
        services.launch_review(contract=reviewed_contract, actor=coordinator)
    assert reviewed_contract.history.count() == before


def test_a_change_that_fails_half_way_leaves_neither_state_nor_history(
    contract, coordinator, monkeypatch
):
    ActionFactory(contract=contract)
    original = UnitOfWork.record_many  # every entry goes through it

    def fail_on_action_entry(unit, entries):
        entries = list(entries)
        if any(entry.get("action") is not None for entry in entries):
            raise RuntimeError("disk full")
        return original(unit, entries)

    monkeypatch.setattr(UnitOfWork, "record_many", fail_on_action_entry)
    with pytest.raises(RuntimeError):
        launch(contract, coordinator)
    contract.refresh_from_db()
    assert contract.status == "draft"
    assert not contract.history.exists()
    assert set(contract.actions.values_list("status", flat=True)) == {"draft"}


def test_entries_are_never_updated_or_deleted_through_django(reviewed_contract):
    entry = reviewed_contract.history.first()
    entry.comment = "réécrit"
    with pytest.raises(TypeError):
        entry.save()
    with pytest.raises(TypeError):
        entry.delete()
    with pytest.raises(TypeError):
        HistoryEntry.objects.filter(pk=entry.pk).update(comment="réécrit")
    with pytest.raises(TypeError):
        HistoryEntry.objects.all().delete()


def test_an_edited_entry_is_detected_and_named(reviewed_contract):
    entry = reviewed_contract.history.get(seq=2)
    raw_sql("UPDATE workflows_historyentry SET comment = %s WHERE id = %s", ["ajouté", entry.pk])
    result = history_verify(reviewed_contract)
    assert (result.valid, result.first_bad_seq, result.entries) == (False, 2, 16)


def test_a_renamed_actor_is_detected(reviewed_contract):
    entry = reviewed_contract.history.get(name="suspend")
    raw_sql("UPDATE workflows_historyentry SET actor_username = %s WHERE id = %s", ["x", entry.pk])
    assert history_verify(reviewed_contract).first_bad_seq == entry.seq == 12


def test_a_deleted_entry_is_detected(reviewed_contract):
    entry = reviewed_contract.history.get(seq=2)
    raw_sql("DELETE FROM workflows_historyentry WHERE id = %s", [entry.pk])
    result = history_verify(reviewed_contract)
    assert (result.valid, result.first_bad_seq) == (False, 2)


def test_a_rehashed_entry_still_breaks_the_link_to_the_next(reviewed_contract):
    entry = reviewed_contract.history.get(seq=3)
    entry.comment = "falsifié"
    forged = entry.compute_hash()
    raw_sql(
        "UPDATE workflows_historyentry SET comment = %s, hash = %s WHERE id = %s",
        ["falsifié", forged, entry.pk],
    )
    assert history_verify(reviewed_contract).first_bad_seq == 4


def test_a_username_change_does_not_break_the_chain(reviewed_contract, coordinator):
    coordinator.username = "nouveau.nom"
    coordinator.save()
    assert history_verify(reviewed_contract).valid


def test_verify_history_command_reports_each_chain(reviewed_contract, capsys):
    call_command("verify_history")
    assert f"{reviewed_contract.reference}: OK (16 entries)" in capsys.readouterr().out


def test_verify_history_command_fails_naming_the_first_bad_entry(reviewed_contract, capsys):
    entry = reviewed_contract.history.get(seq=3)
    raw_sql("UPDATE workflows_historyentry SET to_state = %s WHERE id = %s", ["signed", entry.pk])
    with pytest.raises(CommandError) as failure:
        call_command("verify_history", contract=reviewed_contract.reference)
    assert failure.value.returncode == 1
    assert f"{reviewed_contract.reference}: BROKEN at entry #3" in capsys.readouterr().err


def test_verify_history_command_refuses_an_unknown_contract():
    with pytest.raises(CommandError, match="No contract with reference"):
        call_command("verify_history", contract="NOPE")


# Committed rows: like a process ending, the command line closes the database connections.
@pytest.mark.django_db(transaction=True)
def test_verify_history_exits_1_from_the_shell(reviewed_contract, capsys):
    """The exit status a cron job or an auditor's script relies on: `manage.py verify_history`
    is execute_from_command_line, which turns the CommandError into the status."""
    execute_from_command_line(["manage.py", "verify_history"])  # returns: status 0

    raw_sql("UPDATE workflows_historyentry SET comment = 'x' WHERE seq = 2", [])
    with pytest.raises(SystemExit) as broken:
        execute_from_command_line(["manage.py", "verify_history"])

    assert broken.value.code == 1
    stderr = capsys.readouterr().err
    assert f"{reviewed_contract.reference}: BROKEN at entry #2" in stderr
    assert "Traceback" not in stderr


def test_an_account_named_in_the_history_cannot_be_deleted(reviewed_contract, coordinator):
    with pytest.raises(ProtectedError):
        coordinator.delete()
    assert UserFactory().delete()[0] >= 1  # an account with no history can go
