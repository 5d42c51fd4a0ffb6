"""The history in words: every event and detail the code records has a French label, people
by name ("pour Y"), dates the French way, notifications folded under their change, newest
first, a page at a time, filtered; the CSV and the API in the same words; the audit search
finds people by name."""

from __future__ import annotations

import ast
import csv
import datetime
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation

from tests.factories import ActionFactory, ContractFactory, UserFactory
from tests.flows import launch, walk_to_signed
from workflows.audit import labels
from workflows.audit.selectors import (
    HistoryFilter,
    contract_history_entries,
    contract_history_page,
    history_lines,
)
from workflows.history import UnitOfWork
from workflows.models import Contract, HistoryEntry, HistoryEvent, SignatoryKind

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("workflows", "signatures", "notifications")


def fr(response) -> str:
    return response.content.decode()


def record(contract: Contract, **fields) -> HistoryEntry:
    """One entry written as a service would, without its reactions (no notification)."""
    with transaction.atomic(), UnitOfWork.lock(contract.pk, reactions=()) as unit:
        return unit.record(**fields)


# --- Every event and detail key has its label ---------------------------------------------


def _python_files() -> Iterator[tuple[Path, ast.Module]]:
    for source in SOURCES:
        for path in sorted((ROOT / source).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path, ast.parse(path.read_text(encoding="utf-8"))


def _dict_keys(node: ast.AST | None) -> Iterator[str]:
    """The string keys of a dict literal, those of ``**{...}`` and ``**(a if x else b)``
    spread into it included."""
    if isinstance(node, ast.IfExp):
        yield from _dict_keys(node.body)
        yield from _dict_keys(node.orelse)
    if not isinstance(node, ast.Dict):
        return
    for key, value in zip(node.keys, node.values, strict=True):
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            yield key.value
        elif key is None:
            yield from _dict_keys(value)


def recorded_detail_keys() -> dict[str, str]:
    """Every key the code base writes into an entry's ``data``: found in the dict literals
    given as ``data``, in the dicts a function builds under the name it gives as ``data`` (or
    spreads into it), in what a function called for ``data`` returns, and in the keyword
    arguments of a function that spreads its ``**kwargs`` into ``data``. key -> where."""
    found: dict[str, str] = {}
    functions: dict[str, ast.FunctionDef] = {}
    trees = list(_python_files())
    for _path, tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                functions.setdefault(node.name, node)
    spreading_kwargs: set[str] = set()

    def returned_keys(name: str) -> set[str]:
        """The keys of the dict a function returns: a literal, or a name it fills."""
        function = functions.get(name)
        if function is None:
            return set()
        keys: set[str] = set()
        returned_names = set()
        for node in ast.walk(function):
            if isinstance(node, ast.Return):
                keys.update(_dict_keys(node.value))
                if isinstance(node.value, ast.Name):
                    returned_names.add(node.value.id)
        for node in ast.walk(function):
            if isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if isinstance(target, ast.Name) and target.id in returned_names:
                        keys.update(_dict_keys(node.value))
                    if (
                        isinstance(target, ast.Subscript)
                        and isinstance(target.value, ast.Name)
                        and target.value.id in returned_names
                        and isinstance(target.slice, ast.Constant)
                    ):
                        keys.add(target.slice.value)
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "update"
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id in returned_names
            ):
                keys.update(kw.arg for kw in node.keywords if kw.arg)
        return keys

    def given_as_data(function: ast.FunctionDef) -> Iterator[ast.AST]:
        for node in ast.walk(function):
            if isinstance(node, ast.Call):
                yield from (kw.value for kw in node.keywords if kw.arg == "data")
            # record_many's entries: {"event": ..., "data": {...}}
            if isinstance(node, ast.Dict) and "event" in set(_dict_keys(node)):
                for key, value in zip(node.keys, node.values, strict=True):
                    if isinstance(key, ast.Constant) and key.value == "data":
                        yield value

    for path, tree in trees:
        where = str(path.relative_to(ROOT))
        for function in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)):
            names: set[str] = set()
            for value in given_as_data(function):
                for key in _dict_keys(value):
                    found.setdefault(key, where)
                if isinstance(value, ast.Name):
                    names.add(value.id)
                if isinstance(value, ast.Dict):
                    names.update(
                        v.id
                        for k, v in zip(value.keys, value.values, strict=True)
                        if k is None and isinstance(v, ast.Name)
                    )
                spread = [value]
                if isinstance(value, ast.Dict):
                    spread += [
                        v for k, v in zip(value.keys, value.values, strict=True) if k is None
                    ]
                for item in spread:
                    if isinstance(item, ast.Call) and isinstance(item.func, ast.Name):
                        for key in returned_keys(item.func.id):
                            found.setdefault(key, where)
            if function.args.kwarg is not None and function.args.kwarg.arg in names:
                spreading_kwargs.add(function.name)
            for node in ast.walk(function):
                # name = {...}; name: T = {...}; name["key"] = ...; name.update(key=..., {...})
                if isinstance(node, (ast.Assign, ast.AnnAssign)):
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    for target in targets:
                        if isinstance(target, ast.Name) and target.id in names:
                            for key in _dict_keys(node.value):
                                found.setdefault(key, where)
                            if isinstance(node.value, ast.Call) and isinstance(
                                node.value.func, ast.Name
                            ):
                                for key in returned_keys(node.value.func.id):
                                    found.setdefault(key, where)
                        if (
                            isinstance(target, ast.Subscript)
                            and isinstance(target.value, ast.Name)
                            and target.value.id in names
                            and isinstance(target.slice, ast.Constant)
                        ):
                            found.setdefault(target.slice.value, where)
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "update"
                    and isinstance(node.func.value, ast.Name)
                    and node.func.value.id in names
                ):
                    for kw in node.keywords:
                        if kw.arg:
                            found.setdefault(kw.arg, where)
                    for arg in node.args:
                        for key in _dict_keys(arg):
                            found.setdefault(key, where)
    for path, tree in trees:
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in spreading_kwargs
            ):
                for kw in node.keywords:
                    if kw.arg:
                        found.setdefault(kw.arg, str(path.relative_to(ROOT)))
    return found


def test_every_event_has_a_label_and_a_sentence_in_french():
    assert set(labels.EVENT_SENTENCES) == set(HistoryEvent.values)
    with translation.override("fr"):
        for event in HistoryEvent:
            label = labels.event_label(event)
            sentence = str(labels.EVENT_SENTENCES[event]) % {"who": "X"}
            assert label != event.value
            # Translated: the French differs from the English source.
            with translation.override("en"):
                english = (labels.event_label(event), str(labels.EVENT_SENTENCES[event]))
            assert (label, sentence) != (english[0], english[1] % {"who": "X"}), event


def test_the_scan_finds_the_keys_the_services_record():
    keys = recorded_detail_keys()
    # Literal, spread, accumulated, returned and keyword-spread keys alike.
    assert {"user_agent", "certificate_sha256", "working_groups", "recipients"} <= set(keys)
    assert {"objections", "sheet_version", "period_end", "before", "after"} <= set(keys)
    assert "second_factor" in keys
    assert "indicator" in keys


def test_every_detail_key_the_code_records_has_a_french_label():
    missing = {
        key: where for key, where in recorded_detail_keys().items() if key not in labels.DETAILS
    }
    assert missing == {}, "label these keys in workflows/audit/labels.py DETAILS"
    # Translated: the French differs from the English source, but for words both share.
    same_in_both = {
        "Abstentions",
        "Absence",
        "Action",
        "Actions",
        "Articles",
        "Date",
        "Objections",
        "Participants",
        "Quorum",
        "Version",
    }
    with translation.override("en"):
        english = {key: str(detail.label) for key, detail in labels.DETAILS.items()}
    with translation.override("fr"):
        untranslated = [
            key
            for key, detail in labels.DETAILS.items()
            if str(detail.label) == english[key] and english[key] not in same_in_both
        ]
    assert untranslated == []


def test_a_signed_contracts_history_has_a_label_for_every_event_and_key(coordinator):
    contract = ContractFactory(coordinator=coordinator)
    ActionFactory(contract=contract)
    walk_to_signed(contract, coordinator)
    entries = list(contract.history.all())
    assert {entry.event for entry in entries} <= set(labels.EVENT_SENTENCES)
    keys = {key for entry in entries for key in entry.data}
    assert keys - set(labels.DETAILS) == set()
    assert {"signature", "notified", "task_completed"} <= {entry.event for entry in entries}


def test_an_unknown_key_reads_as_words():
    with translation.override("fr"):
        assert labels.detail_label("some_new_key") == "Some new key"
        assert labels.detail_label("working_groups.GT1") == "Groupe de travail GT1"
    with translation.override("en"):
        assert labels.detail_label("some_new_key") == "Some new key"
        assert labels.detail_label("working_groups.GT1") == "Working group GT1"


# --- Values in words -------------------------------------------------------------------------


def test_people_by_name_with_pour_and_codes_in_french_words(contract):
    claire = UserFactory(username="tech1.ars", first_name="Claire", last_name="Martin")
    paul = UserFactory(username="dgs.cd", first_name="Paul", last_name="Durand")
    entry = record(
        contract,
        event=HistoryEvent.SIGNATURE,
        actor=claire,
        on_behalf_of=paul,
        name=SignatoryKind.ASSOCIATED,
        data={
            "signer": "dgs.cd",
            "decision": "sign",
            "authentication": "password",
            "user_agent": "Firefox",
            "recipients": ["tech1.ars", "dgs.cd"],
            "certificate_sha256": "ab" * 32,
        },
    )
    entry = HistoryEntry.objects.select_related("actor", "on_behalf_of").get(pk=entry.pk)
    with translation.override("fr"):
        (line,) = history_lines([entry])
        details = {label: value for _key, label, value in line.details}
        assert line.who == "Claire Martin pour Paul Durand"
        assert line.sentence == "Claire Martin pour Paul Durand a signé."
        assert line.kind == "Signataire associé"
        assert details["Signataire"] == "Paul Durand"
        assert details["Destinataires"] == "Claire Martin, Paul Durand"
        assert details["Décision"] == "Signer"
        assert details["Authentification"] == "mot de passe"
        assert details["Navigateur"] == "Firefox"
        assert details["Empreinte du certificat de signature"].startswith("abababab abababab")


def test_dates_the_french_way():
    moment = datetime.datetime(2026, 12, 5, 14, 3, tzinfo=timezone.get_current_timezone())
    with translation.override("fr"):
        assert labels.french_datetime(moment) == "5 décembre 2026 à 14 h 03"
        assert labels.plain("2026-12-05") == "5 décembre 2026"
        assert labels.plain("2026-12-05T14:03:00+01:00") == "5 décembre 2026 à 14 h 03"


# --- The history page: folded, ordered, paged, filtered --------------------------------------


@pytest.fixture
def launched(contract, coordinator):
    for _ in range(3):
        ActionFactory(contract=contract)
    launch(contract, coordinator)
    return contract


def test_notifications_are_folded_under_the_change_they_tell_of(client, launched, coordinator):
    notified = launched.history.filter(event=HistoryEvent.NOTIFIED)
    assert notified.exists()
    client.force_login(coordinator)
    response = client.get(reverse("workflows:contract_history", args=[launched.pk]))
    page = response.context["history"]
    shown = [line.entry for line in page.lines]
    assert all(entry.event != HistoryEvent.NOTIFIED for entry in shown)
    folded = [notice.entry for line in page.lines for notice in line.notices]
    assert sorted(entry.pk for entry in folded) == sorted(notified.values_list("pk", flat=True))
    for line in page.lines:
        for notice in line.notices:
            # After its change, in the same unit of work: its changes, then its notices.
            assert notice.entry.seq > line.entry.seq
            between = launched.history.filter(seq__gt=line.entry.seq, seq__lt=notice.entry.seq)
            told = between.filter(event=HistoryEvent.NOTIFIED).order_by("seq").first()
            if told is not None:
                assert not between.filter(seq__gt=told.seq).exclude(event="notified").exists()
    # Each new task's notice under that task's own line, not under the unit's last change.
    created = [line for line in page.lines if line.entry.event == HistoryEvent.TASK_CREATED]
    assert len(created) >= 3
    for line in created:
        assert [n.entry.name for n in line.notices] == ["task_assigned"]
        assert line.entry.action_code in line.notices[0].entry.data["title"]
    html = fr(response)
    assert '<details class="timeline__notices">' in html
    # Asked for, the notifications are listed themselves.
    only = client.get(
        reverse("workflows:contract_history", args=[launched.pk]), {"event": "notified"}
    )
    assert {line.entry.event for line in only.context["history"].lines} == {"notified"}


def test_newest_first_by_default_and_oldest_first_on_request(client, launched, coordinator):
    client.force_login(coordinator)
    url = reverse("workflows:contract_history", args=[launched.pk])
    newest = [line.entry.seq for line in client.get(url).context["history"].lines]
    assert newest == sorted(newest, reverse=True)
    assert newest[0] == launched.history.exclude(event="notified").order_by("-seq")[0].seq
    oldest = [
        line.entry.seq for line in client.get(url, {"order": "oldest"}).context["history"].lines
    ]
    assert oldest == sorted(oldest)
    assert oldest[0] == 1


def test_the_history_comes_a_page_at_a_time(launched):
    changes = contract_history_entries(launched, HistoryFilter()).count()
    first = contract_history_page(launched, HistoryFilter(), 1, size=5)
    second = contract_history_page(launched, HistoryFilter(), 2, size=5)
    assert len(first.lines) == 5
    assert first.page.paginator.count == changes
    assert first.lines[-1].entry.seq > second.lines[0].entry.seq
    # A page number that is no number, or too far: a page all the same, never an error.
    assert contract_history_page(launched, HistoryFilter(), "abc", size=5).page.number == 1
    last = contract_history_page(launched, HistoryFilter(), 9999, size=5).page
    assert last.number == last.paginator.num_pages


def test_the_page_shows_fifty_entries_and_links_to_the_next(client, contract, coordinator):
    for _ in range(30):
        ActionFactory(contract=contract)
    launch(contract, coordinator)
    client.force_login(coordinator)
    url = reverse("workflows:contract_history", args=[contract.pk])
    response = client.get(url)
    assert len(response.context["history"].lines) == 50
    assert 'rel="next"' in fr(response)
    second = client.get(url, {"page": 2})
    assert second.context["history"].page.number == 2


def test_the_history_filters_by_event_person_and_action(client, launched, coordinator):
    client.force_login(coordinator)
    url = reverse("workflows:contract_history", args=[launched.pk])
    action = launched.actions.order_by("position").first()
    by_event = client.get(url, {"event": "action_transition"}).context["history"].lines
    assert by_event
    assert {line.entry.event for line in by_event} == {"action_transition"}
    by_person = client.get(url, {"person": coordinator.username}).context["history"].lines
    assert by_person
    assert all(
        coordinator.pk in (line.entry.actor_id, line.entry.on_behalf_of_id) for line in by_person
    )
    by_action = client.get(url, {"action": action.code}).context["history"].lines
    assert by_action
    assert {line.entry.action_code for line in by_action} == {action.code}
    # The choices are in words: events by their French label, people by name.
    page = fr(client.get(url, HTTP_ACCEPT_LANGUAGE="fr"))
    assert '<option value="signature">Signature</option>' in page
    assert f'<option value="{coordinator.username}">{coordinator.display_name}</option>' in page
    # A filter that is not one of the choices: a 400 saying so, never a 500.
    bad = client.get(url, {"person": "nobody-here", "event": "nothing"})
    assert bad.status_code == 400


# --- CSV and API in the same words ---------------------------------------------------------


def test_the_csv_uses_the_pages_french_words(client, contract, coordinator):
    claire = UserFactory(username="tech1.ars", first_name="Claire", last_name="Martin")
    paul = UserFactory(username="dgs.cd", first_name="Paul", last_name="Durand")
    record(
        contract,
        event=HistoryEvent.SIGNATURE,
        actor=claire,
        on_behalf_of=paul,
        name=SignatoryKind.ASSOCIATED,
        data={"signer": "dgs.cd", "authentication": "password", "user_agent": "Firefox"},
    )
    client.force_login(coordinator)
    response = client.post(
        reverse("workflows:history_export", args=["csv"]) + f"?contract={contract.reference}",
        HTTP_ACCEPT_LANGUAGE="fr",
    )
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    header, *rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    assert header[5:7] == ["Événement", "Type"]
    (signature,) = [row for row in rows if row[5] == "Signature"]
    assert signature[6] == "Signataire associé"  # not "associated"
    assert signature[3] == "Claire Martin (tech1.ars)"
    assert signature[4] == "Paul Durand (dgs.cd)"
    # In the order the database keeps the keys (PostgreSQL's jsonb sorts them its own way).
    assert set(signature[11].split(" | ")) == {
        "Signataire\u00a0: Paul Durand",
        "Authentification\u00a0: mot de passe",
        "Navigateur\u00a0: Firefox",
    }


def test_the_api_keeps_its_fields_and_adds_them_in_words(api_client, contract, coordinator):
    claire = UserFactory(username="tech1.ars", first_name="Claire", last_name="Martin")
    paul = UserFactory(username="dgs.cd", first_name="Paul", last_name="Durand")
    record(
        contract,
        event=HistoryEvent.SIGNATURE,
        actor=claire,
        on_behalf_of=paul,
        name=SignatoryKind.ASSOCIATED,
        data={"signer": "dgs.cd"},
    )
    api_client.force_authenticate(coordinator)
    (entry,) = api_client.get(
        f"/api/v1/contracts/{contract.pk}/history/", HTTP_ACCEPT_LANGUAGE="fr"
    ).json()
    assert (entry["actor"], entry["on_behalf_of"], entry["name"]) == (
        "tech1.ars",
        "dgs.cd",
        "associated",
    )
    assert entry["data"] == {"signer": "dgs.cd"}
    assert entry["summary"] == "Claire Martin pour Paul Durand a signé."
    assert (entry["actor_name"], entry["on_behalf_of_name"]) == ("Claire Martin", "Paul Durand")
    assert entry["name_label"] == "Signataire associé"
    assert entry["details"] == [{"key": "signer", "label": "Signataire", "value": "Paul Durand"}]
    searched = api_client.get("/api/v1/history/", HTTP_ACCEPT_LANGUAGE="fr").json()
    assert searched[0]["summary"] == entry["summary"]


# --- The audit search finds people by name ---------------------------------------------------


def test_the_search_finds_a_person_by_name_whatever_the_case_and_accents(client, launched):
    councillor = UserFactory(
        username="cd.conseil", first_name="Conseillère", last_name="Départementale"
    )
    record(launched, event=HistoryEvent.EDITED, actor=councillor)
    client.force_login(UserFactory(is_staff=True))
    search = reverse("workflows:history_search")
    for text in ("Conseillère départementale", "conseillere DEPARTEMENTALE", "départementale"):
        response = client.get(search, {"person": text})
        assert response.status_code == 200, text
        assert [e.actor_id for e in response.context["page"].entries] == [councillor.pk], text
    # The username still works.
    by_username = client.get(search, {"person": "cd.conseil"}).context["page"].entries
    assert [e.actor_id for e in by_username] == [councillor.pk]


def test_a_name_several_people_share_lists_them_to_choose(client, launched):
    UserFactory(username="m.durand", first_name="Marie", last_name="Durand")
    UserFactory(username="p.durand", first_name="Paul", last_name="Durand")
    client.force_login(UserFactory(is_staff=True))
    response = client.get(
        reverse("workflows:history_search"), {"person": "durand"}, HTTP_ACCEPT_LANGUAGE="fr"
    )
    assert response.status_code == 400
    page = fr(response)
    assert "Plusieurs personnes correspondent" in page
    assert "?person=m.durand" in page
    assert "?person=p.durand" in page


def test_a_partner_finds_only_the_people_of_its_contracts(client, launched):
    UserFactory(username="ailleurs", first_name="Zoé", last_name="Ailleurs")
    partner = launched.coordinators.get()
    client.force_login(partner)
    response = client.get(reverse("workflows:history_search"), {"person": "Zoé Ailleurs"})
    # Not named in any contract the partner reads: as unknown, nothing found.
    assert response.status_code == 200
    assert response.context["page"].entries == []
