"""The contract page that fits: what waits on whom at the top, the irreversible steps last and
behind a confirmation, the latest history entries, in a number of queries that does not grow
with the contract."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.factories import ActionFactory, ContractFactory, UserFactory
from tests.flows import launch, tamper_with_history, unit_on
from workflows.audit.selectors import RECENT_HISTORY, contract_history_latest
from workflows.audit.services import history_check
from workflows.models import (
    Contract,
    HistoryEntry,
    HistoryEvent,
    Task,
    TaskKind,
    TaskStatus,
    User,
)
from workflows.selectors import open_task_groups

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


def launched_contract(actions: int, reference: str):
    coordinator = UserFactory()
    contract = ContractFactory(reference=reference, coordinator=coordinator)
    for n in range(actions):
        ActionFactory(contract=contract, code=f"T1-A{n + 1}")
    launch(contract, coordinator)
    return contract, coordinator


def page_queries(client, contract, coordinator) -> int:
    client.force_login(coordinator)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("workflows:contract_detail", args=[contract.pk]))
    assert response.status_code == 200
    return len(queries)


def lengthen_history(contract, entries: int) -> None:
    """``entries`` more entries, written as the services write them (one unit of work)."""
    people = list(User.objects.filter(tasks__contract=contract).distinct()[:3])
    with unit_on(contract) as unit:
        for n in range(entries):
            unit.record(
                event=HistoryEvent.REMINDER,
                actor=people[n % len(people)],
                data={"recipients": [people[(n + 1) % len(people)].username]},
                comment=f"Relance {n}",
            )


def test_the_page_reads_in_the_same_number_of_queries_however_big_the_contract(client):
    small, small_coordinator = launched_contract(2, "CLS-SMALL")
    few = page_queries(client, small, small_coordinator)

    big, big_coordinator = launched_contract(9, "CLS-BIG")
    lengthen_history(big, 60)
    many = page_queries(client, big, big_coordinator)

    assert Task.objects.filter(contract=big, status=TaskStatus.ASSIGNED).count() > 3 * (
        Task.objects.filter(contract=small, status=TaskStatus.ASSIGNED).count()
    )
    assert big.history.count() > small.history.count() + 60
    assert many <= few  # the same work, whatever the size (a few lookups may be skipped)


def test_the_latest_changes_come_newest_first_and_their_count_does_not_grow_the_queries(
    client, django_assert_max_num_queries
):
    contract, _ = launched_contract(1, "CLS-RECENT")
    lengthen_history(contract, RECENT_HISTORY + 5)
    newest = contract.history.exclude(event="notified").order_by("-seq")[:RECENT_HISTORY]

    with django_assert_max_num_queries(6):
        lines = contract_history_latest(contract)

    assert [line.entry.seq for line in lines] == [entry.seq for entry in newest]


def test_the_latest_lines_are_read_once_per_state_of_the_chain_and_a_new_entry_shows_at_once(
    client,
):
    contract, coordinator = launched_contract(1, "CLS-KEPT")
    lengthen_history(contract, RECENT_HISTORY)
    url = reverse("workflows:contract_detail", args=[contract.pk])

    first = page_queries(client, contract, coordinator)
    again = page_queries(client, contract, coordinator)
    assert again < first  # the same lines: not read nor worded again
    kept = client.get(url).content.decode()
    assert '<ol class="timeline timeline--compact"' in kept  # as rendered, not escaped
    assert "Relance 19" in kept

    lengthen_history(contract, 1)  # "Relance 0", newer than every line shown so far
    page = client.get(url).content.decode()
    newest = page.index('<ol class="timeline timeline--compact"')
    assert page.index("Relance 0", newest) < page.index("Relance 19", newest)
    assert "The 17 entries before" in page

    french = client.get(url, HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Les 17 entrées précédentes" in french
    assert "The 17 entries before" not in french


def test_open_tasks_are_grouped_by_kind_with_who_holds_them_and_what_is_late():
    contract, _ = launched_contract(3, "CLS-GROUPS")
    tasks = list(
        Task.objects.filter(contract=contract, status=TaskStatus.ASSIGNED)
        .select_related("owner", "on_behalf_of")
        .order_by("due", "pk")
    )
    late = tasks[0]
    Task.objects.filter(pk=late.pk).update(due=timezone.now() - datetime.timedelta(days=2))
    late.refresh_from_db()
    tasks[0] = late

    (group,) = open_task_groups(tasks)

    assert group.kind == TaskKind.REVIEW
    assert len(group.tasks) == len(tasks)
    assert group.overdue == 1
    assert group.next_due == late
    assert sum(count for _name, count, _late in group.holders) == len(tasks)
    assert sum(overdue for _name, _count, overdue in group.holders) == 1


def test_the_irreversible_steps_come_last_folded_away_behind_a_confirmation(client):
    contract, coordinator = launched_contract(1, "CLS-ORDER")
    client.force_login(coordinator)

    page = client.get(reverse("workflows:contract_detail", args=[contract.pk])).content.decode()

    waiting = page.index('id="tasks"')
    suspend = page.index(reverse("workflows:contract_transition", args=[contract.pk, "suspend"]))
    folded = page.index('<details class="panel panel--danger" id="irreversible">')
    withdraw = page.index(reverse("workflows:contract_transition", args=[contract.pk, "withdraw"]))
    assert waiting < suspend < folded < withdraw
    assert 'name="withdraw-confirm"' in page


def test_a_refused_withdrawal_comes_back_unfolded_with_its_error(client):
    contract, coordinator = launched_contract(1, "CLS-REFUSED")
    client.force_login(coordinator)

    response = client.post(
        reverse("workflows:contract_transition", args=[contract.pk, "withdraw"]),
        {"withdraw-reason": "Abandon"},
    )

    assert response.status_code == 400
    page = response.content.decode()
    assert '<details class="panel panel--danger" id="irreversible" open>' in page
    assert "Please confirm that you want to withdraw for good." in page
    contract.refresh_from_db()
    assert contract.status == "review"
    assert not HistoryEntry.objects.filter(contract=contract, name="withdraw").exists()


def test_the_actions_page_lists_every_action_and_strangers_get_a_404(client):
    contract, coordinator = launched_contract(3, "CLS-ACTIONS")
    stranger = UserFactory()
    url = reverse("workflows:contract_actions", args=[contract.pk])

    client.force_login(coordinator)
    page = client.get(url).content.decode()
    for code in ("T1-A1", "T1-A2", "T1-A3"):
        assert f'<th scope="row" class="nowrap">{code}</th>' in page
    contract_page = client.get(reverse("workflows:contract_detail", args=[contract.pk]))
    assert url in contract_page.content.decode()

    client.force_login(stranger)
    assert client.get(url).status_code == 404


def checked_contract(reference: str, since: int):
    """A launched contract checked whole (``verify_history``'s checkpoint), then ``since``
    entries more; returns it, its coordinator and the checkpointed entry's number."""
    contract, coordinator = launched_contract(2, reference)
    check = history_check(Contract.objects.filter(pk=contract.pk))
    assert not check.broken
    checked = contract.history.count()
    lengthen_history(contract, since)
    return contract, coordinator, checked


def contract_page_text(client, contract, coordinator) -> str:
    client.force_login(coordinator)
    response = client.get(reverse("workflows:contract_detail", args=[contract.pk]))
    assert response.status_code == 200
    return " ".join(response.content.decode().split())


def test_the_page_recomputes_only_the_entries_since_the_last_full_check_and_says_so(client):
    contract, coordinator, checked = checked_contract("CLS-CHECKED", since=4)

    page = contract_page_text(client, contract, coordinator)

    assert f"History intact ({checked + 4} entries)" in page, page[page.find("integrity") :][:600]
    assert f"Chain checked whole up to entry no. {checked} on " in page
    assert "the 4 entries since, checked just now." in page


def test_the_page_of_a_contract_never_checked_recomputes_its_whole_chain(client):
    contract, coordinator = launched_contract(2, "CLS-UNCHECKED")

    page = contract_page_text(client, contract, coordinator)

    assert f"History intact ({contract.history.count()} entries)" in page
    assert "Chain checked whole" not in page  # nothing to say: all of it was just recomputed


def test_an_entry_altered_since_the_last_check_shows_broken_on_the_page(client):
    contract, coordinator, checked = checked_contract("CLS-ALTERED", since=4)
    entry = contract.history.get(seq=checked + 2)
    tamper_with_history(
        "UPDATE workflows_historyentry SET comment = %s WHERE id = %s", ["réécrit", entry.pk]
    )

    page = contract_page_text(client, contract, coordinator)

    assert f"History altered at entry no. {checked + 2}" in page
    assert "History intact" not in page


def test_the_checked_entry_rewritten_shows_broken_on_the_page(client):
    contract, coordinator, checked = checked_contract("CLS-REWRITTEN", since=2)
    entry = contract.history.get(seq=checked)
    entry.comment = "falsifié"
    tamper_with_history(
        "UPDATE workflows_historyentry SET comment = %s, hash = %s WHERE id = %s",
        [entry.comment, entry.compute_hash(), entry.pk],
    )

    page = contract_page_text(client, contract, coordinator)

    assert "History intact" not in page
    assert f"entry no. {checked}" in page


def test_an_entry_removed_before_the_last_check_shows_broken_on_the_page(client):
    contract, coordinator, _checked = checked_contract("CLS-REMOVED", since=2)
    entry = contract.history.get(seq=2)
    tamper_with_history("DELETE FROM workflows_historyentry WHERE id = %s", [entry.pk])

    page = contract_page_text(client, contract, coordinator)

    assert "History altered at entry no. 2" in page  # named as the full check names it


def test_an_entry_edited_before_the_last_check_is_the_full_checks_to_find(client):
    """The page vouches for the entries before the checkpoint on the full check's word, and
    says when that was; the history page (and ``verify_history``) recompute every entry."""
    contract, coordinator, checked = checked_contract("CLS-EARLIER", since=2)
    entry = contract.history.get(seq=2)
    tamper_with_history(
        "UPDATE workflows_historyentry SET comment = %s WHERE id = %s", ["réécrit", entry.pk]
    )

    page = contract_page_text(client, contract, coordinator)
    assert f"Chain checked whole up to entry no. {checked} on" in page

    history = client.get(reverse("workflows:contract_history", args=[contract.pk]))
    assert "History altered at entry no. 2" in " ".join(history.content.decode().split())
