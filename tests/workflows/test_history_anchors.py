"""Issue 17's attacks on the history, as an intruder with the database (not the server's disk
nor ACCORD_SIGNING_KEY) would make them, and what catches each: the hash covers every column
the audit reads (version 2, version 1 entries still verifying), PostgreSQL refuses TRUNCATE,
and the heads anchored outside the table (checkpoints, the signed daily head file, the
completion certificate's seal) catch a cut tail or a chain recomputed whole."""

import json
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from tests.factories import ActionFactory, UserFactory
from tests.flows import force_on_tables, launch, tamper_with_history, walk_to_signed
from workflows import services
from workflows.anchors import anchor_files_read, anchor_path, contract_anchors
from workflows.audit.selectors import verification_bundle_files
from workflows.history import UnitOfWork, _chained_entry
from workflows.models import GENESIS_HASH, HistoryCheckpoint, HistoryEntry, HistoryEvent
from workflows.selectors import history_verify

pytestmark = pytest.mark.django_db

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the triggers exist on PostgreSQL only"
)

HISTORY = "workflows_historyentry"
CHECKPOINTS = "workflows_historycheckpoint"


@pytest.fixture
def history_contract(contract, coordinator):
    """16 entries: the review launched on two actions, four tasks notified, then suspended."""
    ActionFactory.create_batch(2, contract=contract)
    launch(contract, coordinator)
    services.suspend(contract=contract, actor=coordinator, reason="Fusion")
    return contract


def verify_history(capsys, *args: str) -> tuple[bool, str]:
    """``manage.py verify_history``: (whether it passed, its output)."""
    try:
        call_command("verify_history", *args)
        passed = True
    except CommandError:
        passed = False
    captured = capsys.readouterr()
    return passed, captured.out + captured.err


def rehash_whole(contract, change: dict) -> None:
    """Recompute every link after editing entry #2, as an intruder who read the code would."""
    previous = GENESIS_HASH
    for entry in contract.history.order_by("seq"):
        if entry.seq == 2:
            for name, value in change.items():
                setattr(entry, name, value)
        entry.prev_hash = previous
        entry.hash = entry.compute_hash()
        tamper_with_history(
            "UPDATE workflows_historyentry SET comment = %s, prev_hash = %s, hash = %s"
            " WHERE id = %s",
            [entry.comment, entry.prev_hash, entry.hash, entry.pk],
        )
        previous = entry.hash


# --- Every column the audit reads is in the hash ------------------------------------------


@pytest.mark.parametrize("column", ["actor_id", "on_behalf_of_id"])
def test_switching_the_account_an_entry_names_is_detected(history_contract, capsys, column):
    """The timeline, the CSV and the search read the account through its id: in version 2,
    the id is in the hash, so naming someone else breaks the chain at that entry."""
    someone_else = UserFactory()
    entry = history_contract.history.get(name="suspend")
    assert entry.hash_version == 2
    sql = {
        "actor_id": "UPDATE workflows_historyentry SET actor_id = %s WHERE id = %s",
        "on_behalf_of_id": "UPDATE workflows_historyentry SET on_behalf_of_id = %s WHERE id = %s",
    }[column]
    tamper_with_history(sql, [someone_else.pk, entry.pk])
    passed, output = verify_history(capsys)
    assert not passed
    assert f"{history_contract.reference}: BROKEN at entry #{entry.seq}: " in output
    assert "was altered" in output


def test_version_1_entries_still_verify_and_new_ones_are_version_2(contract, coordinator, tmp_path):
    """Entries written before version 2 keep their hash (usernames only); the chain goes on
    in version 2; Accord and the offline script both verify it; a version 2 entry passed off
    as version 1 is caught."""
    old = []
    previous = GENESIS_HASH
    for seq in (1, 2):
        entry = _chained_entry(
            contract, seq=seq, prev_hash=previous, event=HistoryEvent.EDITED, actor=coordinator
        )
        entry.hash_version = 1
        entry.hash = entry.compute_hash()
        assert "actor_id" not in entry.chained_content()
        previous = entry.hash
        old.append(entry)
    HistoryEntry.objects.bulk_create(old)
    services.suspend(contract=contract, actor=coordinator, reason="Fusion")
    versions = list(contract.history.order_by("seq").values_list("hash_version", flat=True))
    assert versions[:2] == [1, 1]
    assert set(versions[2:]) == {2}
    assert history_verify(contract).valid

    folder = tmp_path / "bundle"
    folder.mkdir()
    for item in verification_bundle_files(contract):
        (folder / item.name).write_bytes(item.content)
    script = [sys.executable, str(folder / "verify_history.py"), str(folder), "--lang=en"]
    result = subprocess.run(script, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout

    # Version 1 leaves the ids out: an intruder may hope to go back to it.
    third = contract.history.get(seq=3)
    tamper_with_history(
        "UPDATE workflows_historyentry SET hash_version = 1 WHERE id = %s", [third.pk]
    )
    assert history_verify(contract).first_bad_seq == 3
    document = json.loads((folder / "history.json").read_text())
    document["entries"][2].pop("hash_version")
    (folder / "history.json").write_text(json.dumps(document))
    result = subprocess.run(script, capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert "entry #3: ALTERED" in result.stdout


# --- TRUNCATE -----------------------------------------------------------------------------


@on_postgresql
@pytest.mark.parametrize("table", [HISTORY, CHECKPOINTS, "workflows_historyexport"])
def test_the_database_refuses_to_truncate_the_history(history_contract, table):
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # nothing pending: the trigger answers
    with (
        pytest.raises(DatabaseError, match=r"TRUNCATE on .* refused"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("TRUNCATE " + table + " CASCADE")
    assert history_contract.history.count() == 16


@on_postgresql
def test_a_forced_truncate_is_detected_against_the_signed_head_file(history_contract, capsys):
    """Triggers switched off, both tables emptied: no checkpoint is left, but the signed head
    file on the server's disk still names 16 entries."""
    assert verify_history(capsys)[0]  # anchors the head: a checkpoint and today's file
    force_on_tables(
        "TRUNCATE workflows_historyentry, workflows_historycheckpoint", HISTORY, CHECKPOINTS
    )
    assert not HistoryCheckpoint.objects.exists()

    passed, output = verify_history(capsys)
    assert not passed
    today = timezone.localdate().isoformat()
    assert (
        f"{history_contract.reference}: BROKEN at entry #1: entries #1 to #16 are missing"
        f" since the signed head file of {today}"
    ) in output
    # The file is not rewritten with the emptied chain: the next check still sees the cut.
    assert not verify_history(capsys)[0]


# --- Tail cut and whole rehash ------------------------------------------------------------


def test_verify_history_writes_the_checkpoints_and_the_signed_head_file(history_contract, capsys):
    assert verify_history(capsys)[0]
    head = history_contract.history.get(seq=16)
    checkpoint = HistoryCheckpoint.objects.get(contract=history_contract)
    assert (checkpoint.seq, checkpoint.hash) == (16, head.hash)
    path = anchor_path(timezone.localdate())
    document = json.loads(path.read_bytes())
    assert document["heads"][history_contract.reference] == {"seq": 16, "hash": head.hash}
    assert path.with_name(path.name + ".sig").stat().st_size == 256  # RSA-2048
    assert anchor_files_read().forged == ()


def test_entries_cut_off_the_end_are_named_since_the_checkpoint(history_contract, capsys):
    assert verify_history(capsys)[0]
    tamper_with_history(
        "DELETE FROM workflows_historyentry WHERE contract_id = %s AND seq >= 14",
        [history_contract.pk],
    )
    passed, output = verify_history(capsys)
    assert not passed
    assert "BROKEN at entry #14: entries #14 to #16 are missing since the checkpoint of" in output


def test_a_cut_with_its_checkpoints_deleted_is_named_since_the_head_file(
    history_contract, capsys, client, coordinator
):
    """The checkpoints deleted too: the signed head file still knows; the page says so in
    French."""
    assert verify_history(capsys)[0]
    tamper_with_history(
        "DELETE FROM workflows_historyentry WHERE contract_id = %s AND seq >= 15",
        [history_contract.pk],
    )
    force_on_tables("DELETE FROM workflows_historycheckpoint", CHECKPOINTS)
    passed, output = verify_history(capsys)
    assert not passed
    assert "entries #15 to #16 are missing since the signed head file of" in output

    client.force_login(coordinator)
    page = client.get(reverse("workflows:contract_history", args=[history_contract.pk]))
    text = page.content.decode()
    assert "Historique tronqué\u00a0: entrées n° 15 à 16 manquantes depuis l\u2019ancre du" in text


def test_a_chain_rehashed_whole_after_deleting_its_checkpoints_is_caught_by_the_head_file(
    history_contract, capsys
):
    assert verify_history(capsys)[0]
    force_on_tables("DELETE FROM workflows_historycheckpoint", CHECKPOINTS)
    rehash_whole(history_contract, {"comment": "réécrit"})
    passed, output = verify_history(capsys)
    assert not passed
    assert (
        "BROKEN at entry #16: entry #16 differs from the one checked in the signed head file of"
    ) in output


def test_a_forged_head_file_is_reported(history_contract, capsys):
    """The file rewritten without the seal's key: its signature fails, it is named."""
    assert verify_history(capsys)[0]
    path = anchor_path(timezone.localdate())
    path.write_bytes(path.read_bytes().replace(b'"seq": 16', b'"seq": 99'))
    passed, output = verify_history(capsys)
    assert not passed
    assert f"{path.name}: FORGED" in output


def test_a_signed_contract_rehashed_whole_is_caught_by_its_completion_certificate(
    contract, coordinator, capsys, settings, tmp_path
):
    """No checkpoint nor head file ever written: the seal of the signed document still
    names the head at signature, which the rehashed chain no longer has."""
    ActionFactory(contract=contract)
    walk_to_signed(contract, coordinator)
    certified = contract.documents.get().certificate_data["history_head"]
    anchors = contract_anchors(contract, certified=True)
    assert [(a.source, a.seq, a.hash) for a in anchors] == [
        ("certificate", certified["seq"], certified["hash"])
    ]
    rehash_whole(contract, {"comment": "réécrit"})
    settings.ACCORD_ANCHORS_DIR = tmp_path / "never-written"
    passed, output = verify_history(capsys)
    assert not passed
    assert (
        f"BROKEN at entry #{certified['seq']}: entry #{certified['seq']} differs from the one"
        " checked in the completion certificate of"
    ) in output


def test_the_unit_of_work_writes_without_reading_the_anchors(
    history_contract, coordinator, django_assert_num_queries
):
    """The hot path: recording stays one head query and one INSERT, version 2 or not."""
    with transaction.atomic():
        unit = UnitOfWork.lock(history_contract.pk, reactions=())
        with django_assert_num_queries(2):
            unit.record(event=HistoryEvent.EDITED, actor=coordinator)
            unit.finish()


def test_verify_history_checks_a_timestamped_seal_without_path_warnings(
    contract, coordinator, capsys, caplog
):
    """The seal of a signed document carries a timestamp from Accord's own time-stamping
    service: checking the head that seal certifies finds the service's certificate under
    Accord's authority, instead of logging, at every nightly check, that it found no path."""
    ActionFactory(contract=contract)
    walk_to_signed(contract, coordinator)
    caplog.clear()
    with caplog.at_level("WARNING", logger="pyhanko"):
        passed, output = verify_history(capsys)
    assert passed, output
    assert f"{contract.reference}: OK" in output
    assert [r.getMessage() for r in caplog.records if r.name.startswith("pyhanko")] == []
