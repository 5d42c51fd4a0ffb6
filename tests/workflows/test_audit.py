"""The auditor's side: the timeline and search pages, CSV/JSON exports, the verification
bundle checked by its standalone script, the append-only trigger, the nightly check, and who
may read which history."""

from __future__ import annotations

import csv
import datetime
import hashlib
import io
import json
import subprocess
import sys
import zipfile

import pytest
from django.core import mail
from django.db import DatabaseError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from signatures import selectors as signature_selectors
from tests.factories import (
    ActionFactory,
    ContractFactory,
    OrganisationFactory,
    UserFactory,
    WorkingGroupFactory,
)
from tests.flows import launch, tamper_with_history, walk_to_signed
from tests.two_factor import log_in_verified
from workflows import services, tasks
from workflows.audit.selectors import csv_row
from workflows.models import GENESIS_HASH, ContractAuditor, HistoryEntry, HistoryExport
from workflows.selectors import history_verify

pytestmark = pytest.mark.django_db

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the trigger exists on PostgreSQL only"
)


@pytest.fixture
def history_contract(contract, coordinator):
    """A contract with a few entries, one comment made to trouble a spreadsheet: the review
    launched on two actions (#1-#3), their four leads' review tasks opened and notified
    (#4-#11), then the work suspended (#12) and the tasks held (#13-#16)."""
    ActionFactory.create_batch(2, contract=contract)
    launch(contract, coordinator)
    services.suspend(
        contract=contract, actor=coordinator, reason='Fusion; "intercommunale"\n=SOMME(A1)'
    )
    return contract


def suspension(contract) -> HistoryEntry:
    return contract.history.get(event="transition", name="suspend")


@pytest.fixture
def coordinator_client(client, coordinator):
    client.force_login(coordinator)
    return client


# --- Tamper resistance --------------------------------------------------------------------


@on_postgresql
def test_the_database_refuses_to_update_or_delete_an_entry(history_contract):
    entry = history_contract.history.get(seq=2)
    for sql in (
        "UPDATE workflows_historyentry SET comment = 'x' WHERE id = %s",
        "DELETE FROM workflows_historyentry WHERE id = %s",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [entry.pk])
    entry.refresh_from_db()
    assert entry.comment == ""
    assert history_contract.history.count() == 16


@on_postgresql
def test_the_database_refuses_to_rewrite_an_export_record(history_contract, coordinator):
    record = HistoryExport.objects.create(
        user=coordinator, username=coordinator.username, format="csv", entries=1
    )
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM workflows_historyexport WHERE id = %s", [record.pk])


def test_an_edit_with_the_trigger_disabled_is_detected_naming_the_entry(history_contract, capsys):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    entry = history_contract.history.get(seq=3)
    tamper_with_history(
        "UPDATE workflows_historyentry SET actor_username = %s WHERE id = %s", ["x", entry.pk]
    )
    with pytest.raises(CommandError):
        call_command("verify_history")
    assert f"{history_contract.reference}: BROKEN at entry #3" in capsys.readouterr().err


def test_the_nightly_check_alerts_the_administrators(history_contract, settings):
    settings.ADMINS = [("Sécurité", "securite@example.org")]
    UserFactory(is_staff=True, email="admin@example.org")
    assert tasks.verify_histories() == 0
    assert mail.outbox == []
    entry = history_contract.history.get(seq=2)
    tamper_with_history("DELETE FROM workflows_historyentry WHERE id = %s", [entry.pk])
    assert tasks.verify_histories() == 1
    (message,) = mail.outbox
    assert {"securite@example.org", "admin@example.org"} <= set(message.to)
    assert f"{history_contract.reference}" in message.body
    assert "2" in message.body.split(history_contract.reference, 1)[1].splitlines()[0]


def test_entries_cut_off_the_end_after_a_nightly_check_are_detected(history_contract):
    assert tasks.verify_histories() == 0  # the head (#16) is remembered
    last = history_contract.history.get(seq=16)
    tamper_with_history("DELETE FROM workflows_historyentry WHERE id = %s", [last.pk])
    result = history_verify(history_contract)
    assert (result.valid, result.first_bad_seq) == (False, 16)
    assert "missing" in result.problem


def test_a_chain_recomputed_whole_after_an_edit_is_detected(history_contract):
    assert tasks.verify_histories() == 0
    previous = GENESIS_HASH
    for entry in history_contract.history.order_by("seq"):
        if entry.seq == 2:
            entry.comment = "réécrit"
        entry.prev_hash = previous
        entry.hash = entry.compute_hash()
        tamper_with_history(
            "UPDATE workflows_historyentry SET comment = %s, prev_hash = %s, hash = %s "
            "WHERE id = %s",
            [entry.comment, entry.prev_hash, entry.hash, entry.pk],
        )
        previous = entry.hash
    result = history_verify(history_contract)
    assert (result.valid, result.first_bad_seq) == (False, 16)
    assert "differs from the one checked" in result.problem


# --- Exports ------------------------------------------------------------------------------


def test_the_csv_opens_in_a_french_spreadsheet(coordinator_client, history_contract, coordinator):
    response = coordinator_client.post(
        reverse("workflows:history_export", args=["csv"])
        + f"?contract={history_contract.reference}",
        HTTP_ACCEPT_LANGUAGE="fr",
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    raw = b"".join(response.streaming_content)
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM: the spreadsheet reads UTF-8
    # Read as a spreadsheet does: UTF-8 with its BOM, ";" between cells, quotes honoured.
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline=""), delimiter=";"))
    header, *lines = rows
    assert header[:4] == ["Contrat", "N°", "Date et heure", "Acteur"]
    assert len(lines) == 16
    assert all(len(line) == len(header) for line in lines)
    assert [line[1] for line in lines] == [str(seq) for seq in range(16, 0, -1)]  # newest first
    suspend = suspension(history_contract)
    suspended = lines[16 - suspend.seq]
    assert suspended[0] == history_contract.reference
    assert suspended[1] == "12"
    stamp = datetime.datetime.strptime(suspended[2], "%d/%m/%Y %H:%M:%S")  # noqa: DTZ007 (local)
    assert stamp == timezone.localtime(suspend.at).replace(tzinfo=None, microsecond=0)
    assert (
        suspended[3].endswith(f"({coordinator.username})") or suspended[3] == coordinator.username
    )
    assert suspended[5] == "Travaux suspendus"
    # The comment keeps its ";", quotes and line break, and never runs as a formula.
    assert suspended[10] == 'Fusion; "intercommunale"\n=SOMME(A1)'
    assert suspended[12] == suspend.hash
    record = HistoryExport.objects.get()
    assert (record.user, record.format, record.entries, record.contracts) == (
        coordinator,
        "csv",
        16,
        [history_contract.reference],
    )


def test_a_cell_that_looks_like_a_formula_is_written_as_text(coordinator_client, contract):
    ActionFactory(contract=contract)
    launch(contract, contract.coordinators.get())
    services.suspend(contract=contract, actor=contract.coordinators.get(), reason="=HYPERLINK(1)")
    response = coordinator_client.post(reverse("workflows:history_export", args=["csv"]))
    rows = list(
        csv.reader(
            io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"), newline=""),
            delimiter=";",
        )
    )
    (suspended,) = [row for row in rows[1:] if row[1] == str(suspension(contract).seq)]
    assert suspended[10] == "'=HYPERLINK(1)"


def test_the_json_export_recomputes_and_is_recorded(coordinator_client, history_contract):
    response = coordinator_client.post(
        reverse("workflows:history_export", args=["json"]) + "?event=transition"
    )
    document = json.loads(b"".join(response.streaming_content))
    assert document["search"] == {"event": "transition"}
    assert [e["name"] for e in document["entries"]] == ["suspend", "launch_review"]
    by_seq = {e.seq: e for e in history_contract.history.all()}
    for record in document["entries"]:
        assert record["hash"] == by_seq[record["seq"]].compute_hash()
    assert HistoryExport.objects.get().filters == {"event": "transition"}


# --- The verification bundle and its standalone script -----------------------------------


def download_bundle(client, contract, tmp_path):
    response = client.post(reverse("workflows:contract_history_bundle", args=[contract.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    archive = tmp_path / "bundle.zip"
    archive.write_bytes(response.content)
    with zipfile.ZipFile(archive) as bundle:
        bundle.extractall(tmp_path)
    return archive, tmp_path / f"accord-{contract.reference}-verification"


def run_script(folder, *args):
    """The script as a third party runs it: its own Python, nothing of Accord's importable."""
    return subprocess.run(
        [sys.executable, "-I", str(folder / "verify_history.py"), *args],
        capture_output=True,
        text=True,
        cwd=folder,
    )


def test_the_script_verifies_an_exported_bundle(coordinator_client, history_contract, tmp_path):
    archive, folder = download_bundle(coordinator_client, history_contract, tmp_path)
    assert sorted(p.name for p in folder.iterdir()) == [
        "README.txt",
        "history.json",
        "manifest.json",
        "verify_history.py",
    ]
    # The download is itself in the history, and in the bundle.
    exported = history_contract.history.order_by("seq").last()
    assert (exported.seq, exported.event) == (17, "history_exported")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["history_head_sha256"] == exported.hash
    result = run_script(folder)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "17 entrées, chaîne intacte" in result.stdout
    assert "VÉRIFIÉ" in result.stdout
    # The ZIP itself, and a head hash held from elsewhere (the last entry of the suspension).
    head_at_suspension = history_contract.history.get(seq=16).hash
    result = run_script(folder, str(archive), "--expected-head", head_at_suspension, "--lang=en")
    assert result.returncode == 0, result.stdout
    assert "entry #16 (1 entries after it)" in result.stdout


def test_a_signed_contracts_bundle_holds_its_signed_pdf_and_certificate(
    coordinator_client, contract, coordinator, tmp_path
):
    ActionFactory(contract=contract)
    walk_to_signed(contract, coordinator)
    _archive, folder = download_bundle(coordinator_client, contract, tmp_path)

    names = sorted(p.name for p in folder.iterdir())
    assert f"{contract.reference}.pdf" in names
    assert "certificate.json" in names
    assert "certificate.pdf" in names
    pdf = (folder / f"{contract.reference}.pdf").read_bytes()
    assert pdf == signature_selectors.contract_document_pdf(contract)
    certified = json.loads((folder / "certificate.json").read_text())
    assert certified["history_head_sha256"] == certified["history_head"]["hash"]
    result = run_script(folder, "--lang=en")
    assert result.returncode == 0, result.stdout + result.stderr
    assert certified["history_head_sha256"][:12] in result.stdout

    # A certificate naming a head the chain never had is refused.
    certified["history_head_sha256"] = "0" * 64
    (folder / "certificate.json").write_text(json.dumps(certified))
    assert run_script(folder, "--lang=en").returncode == 1


def test_the_script_rejects_a_modified_bundle(coordinator_client, history_contract, tmp_path):
    _archive, folder = download_bundle(coordinator_client, history_contract, tmp_path)
    history_file = folder / "history.json"
    document = json.loads(history_file.read_text())
    document["entries"][1]["comment"] = "ajouté après coup"
    history_file.write_text(json.dumps(document, ensure_ascii=False))
    result = run_script(folder, "--lang=en")
    assert result.returncode == 1
    assert "file history.json: CHANGED" in result.stdout
    assert "entry #2: ALTERED" in result.stdout
    assert "FAILED" in result.stdout
    # Even with the manifest forged to match, the chain names the entry.
    manifest_file = folder / "manifest.json"
    manifest = json.loads(manifest_file.read_text())
    for item in manifest["files"]:
        item["sha256"] = hashlib.sha256((folder / item["name"]).read_bytes()).hexdigest()
    manifest_file.write_text(json.dumps(manifest))
    result = run_script(folder, "--lang=en")
    assert result.returncode == 1
    assert "entry #2: ALTERED" in result.stdout


def test_the_script_rejects_a_removed_last_entry(coordinator_client, history_contract, tmp_path):
    _archive, folder = download_bundle(coordinator_client, history_contract, tmp_path)
    history_file = folder / "history.json"
    document = json.loads(history_file.read_text())
    document["entries"].pop()
    history_file.write_text(json.dumps(document, ensure_ascii=False))
    result = run_script(folder, "--lang=en")
    assert result.returncode == 1
    assert "DIFFERS from the manifest" in result.stdout


def test_the_script_checks_the_completion_certificate(history_contract, coordinator, tmp_path):
    """The certificate (issue 4's, added to the bundle) carries the head at signature."""
    from workflows.audit.selectors import BundleFile, verification_bundle_files

    certified = history_contract.history.get(seq=3).hash
    for name, head, expected in (("good", certified, 0), ("forged", "ab" * 32, 1)):
        certificate = BundleFile(
            "certificate.json", json.dumps({"history_head_sha256": head}).encode()
        )
        folder = tmp_path / name
        folder.mkdir()
        for item in verification_bundle_files(history_contract, [certificate]):
            (folder / item.name).write_bytes(item.content)
        (folder / "verify_history.py").write_bytes((folder / "verify_history.py").read_bytes())
        result = run_script(folder, "--lang=en")
        assert result.returncode == expected, result.stdout
        assert "completion certificate: hash" in result.stdout
    assert "NOT in the history" in result.stdout


# --- Access -------------------------------------------------------------------------------


def test_a_stranger_reads_no_history(client, history_contract, stranger):
    client.force_login(stranger)
    pk = history_contract.pk
    assert client.get(reverse("workflows:contract_history", args=[pk])).status_code == 404
    assert client.post(reverse("workflows:contract_history_bundle", args=[pk])).status_code == 404
    page = client.get(reverse("workflows:history_search"))
    assert page.status_code == 200
    assert page.context["page"].entries == []
    response = client.post(reverse("workflows:history_export", args=["json"]))
    assert json.loads(b"".join(response.streaming_content))["entries"] == []
    # A contract reference the stranger may not read is refused like any unknown value.
    refused = client.get(
        reverse("workflows:history_search"), {"contract": history_contract.reference}
    )
    assert refused.status_code == 400


def test_an_auditor_granted_one_contract_reads_only_that_one(client, history_contract):
    other = ContractFactory()
    ActionFactory(contract=other)
    launch(other, other.coordinators.get())
    auditor = UserFactory(username="cour.des.comptes")
    ContractAuditor.objects.create(contract=history_contract, user=auditor)
    client.force_login(auditor)
    page = client.get(reverse("workflows:history_search"), HTTP_ACCEPT_LANGUAGE="fr")
    assert {e.contract_id for e in page.context["page"].entries} == {history_contract.pk}
    timeline = client.get(reverse("workflows:contract_history", args=[history_contract.pk]))
    assert timeline.status_code == 200
    assert "Travaux suspendus" in timeline.content.decode()
    assert client.get(reverse("workflows:contract_history", args=[other.pk])).status_code == 404


def test_staff_search_every_contract_by_person_event_and_period(client, history_contract):
    other = ContractFactory()
    ActionFactory(contract=other)
    launch(other, other.coordinators.get())
    client.force_login(UserFactory(is_staff=True))
    search = reverse("workflows:history_search")
    everything = client.get(search).context["page"].entries
    assert {e.contract_id for e in everything} == {history_contract.pk, other.pk}
    coordinator = history_contract.coordinators.get()
    mine = client.get(search, {"person": coordinator.username}).context["page"].entries
    assert {(e.event, e.name) for e in mine} == {
        ("transition", "launch_review"),
        ("action_transition", "submit_for_review"),
        ("transition", "suspend"),
        ("task_held", "review"),  # the suspension holds the leads' review tasks
    }
    organisation = client.get(search, {"organisation": other.coordinators.get().organisation.code})
    assert {e.contract_id for e in organisation.context["page"].entries} == {other.pk}
    today = timezone.localdate()
    tomorrow = today + datetime.timedelta(days=2)
    assert client.get(search, {"since": tomorrow}).context["page"].entries == []
    suspended = client.get(search, {"event": "transition", "until": tomorrow})
    assert sorted(e.name for e in suspended.context["page"].entries) == [
        "launch_review",
        "launch_review",
        "suspend",
    ]
    # An unknown name finds nothing, as a person without entries: no account enumeration.
    unknown = client.get(search, {"person": "nul-ne-porte-ce-nom"}, HTTP_ACCEPT_LANGUAGE="fr")
    assert unknown.status_code == 200
    assert unknown.context["page"].entries == []


def test_the_search_pages_without_counting(client, contract, coordinator):
    from workflows.audit.selectors import history_search_page

    # 61 entries: the launch, 20 actions sent to review, and the review task of their one
    # lead, opened and notified for each.
    group = WorkingGroupFactory(contract=contract, leads=[UserFactory()])
    ActionFactory.create_batch(20, contract=contract, working_group=group)
    launch(contract, coordinator)
    client.force_login(coordinator)
    first = client.get(reverse("workflows:history_search"), {"contract": contract.reference})
    assert len(first.context["page"].entries) == 50
    assert first.context["page"].has_next
    second = client.get(
        reverse("workflows:history_search"), {"contract": contract.reference, "page": 2}
    )
    assert [e.seq for e in second.context["page"].entries] == list(range(11, 0, -1))
    assert not second.context["page"].has_next
    assert history_search_page(HistoryEntry.objects.none(), 3).entries == []


# --- Administrative changes ---------------------------------------------------------------


def test_an_admin_change_to_the_people_is_recorded_before_and_after(client, history_contract):
    admin = UserFactory(is_staff=True, is_superuser=True, username="admin.ars")
    log_in_verified(client, admin)
    new_coordinator, auditor = UserFactory(username="nouvelle.coord"), UserFactory()
    history_contract.organisations.add(OrganisationFactory())
    url = reverse("admin:workflows_contract_change", args=[history_contract.pk])
    form = client.get(url).context["adminform"].form
    old_coordinators = sorted(history_contract.coordinators.values_list("username", flat=True))
    data = {
        name: value
        for name, value in form.initial.items()
        if name in form.fields and value is not None
    }
    data.update(
        {
            "period_start": "2024-01-01",
            "period_end": "2027-12-31",
            "organisations": list(history_contract.organisations.values_list("pk", flat=True)),
            "participants": list(history_contract.participants.values_list("pk", flat=True)),
            "coordinators": [
                *history_contract.coordinators.values_list("pk", flat=True),
                new_coordinator.pk,
            ],
            "auditors-TOTAL_FORMS": "1",
            "auditors-INITIAL_FORMS": "0",
            "auditors-0-user": auditor.pk,
            "auditors-0-reason": "Contrôle de la chambre régionale des comptes",
        }
    )
    for prefix in ("themes", "working_groups", "steering_committee", "signatories"):
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    entry = history_contract.history.order_by("seq").last()
    assert (entry.event, entry.actor) == ("people_changed", admin)
    assert entry.data["before"] == {"coordinators": old_coordinators, "auditors": []}
    assert entry.data["after"] == {
        "coordinators": sorted([*old_coordinators, "nouvelle.coord"]),
        "auditors": [auditor.username],
    }
    # Saving again without a change records nothing.
    before = history_contract.history.count()
    form = client.get(url).context["adminform"].form
    data["auditors-TOTAL_FORMS"] = data["auditors-INITIAL_FORMS"] = "1"
    data["auditors-0-id"] = ContractAuditor.objects.get().pk
    data["auditors-0-contract"] = history_contract.pk
    assert client.post(url, data).status_code == 302
    assert history_contract.history.count() == before


def test_a_new_pilot_set_in_the_admin_is_recorded(client, history_contract):
    log_in_verified(client, UserFactory(is_staff=True, is_superuser=True))
    action = history_contract.actions.first()
    old_pilot, new_pilot = action.pilot, UserFactory(organisation=OrganisationFactory())
    url = reverse("admin:workflows_action_change", args=[action.pk])
    form = client.get(url).context["adminform"].form
    data = {n: v for n, v in form.initial.items() if n in form.fields and v is not None}
    data.update(
        {
            "pilot": new_pilot.pk,
            "partners": [],
            "funding_lines-TOTAL_FORMS": "0",
            "funding_lines-INITIAL_FORMS": "0",
            "indicators-TOTAL_FORMS": "0",
            "indicators-INITIAL_FORMS": "0",
        }
    )
    assert client.post(url, data).status_code == 302
    entry = history_contract.history.order_by("seq").last()
    key = f"pilots.{action.code}"
    assert entry.event == "people_changed"
    assert (entry.data["before"], entry.data["after"]) == (
        {key: old_pilot.username},
        {key: new_pilot.username},
    )


def test_the_timeline_reads_as_what_happened(coordinator_client, history_contract, coordinator):
    page = coordinator_client.get(
        reverse("workflows:contract_history", args=[history_contract.pk]),
        HTTP_ACCEPT_LANGUAGE="fr",
    )
    assert page.status_code == 200
    text = page.content.decode()
    assert "Historique intègre (16 entrées)" in text
    assert "Revue par les groupes de travail lancée" in text
    assert "Travaux suspendus" in text
    assert coordinator.display_name in text
    assert "Télécharger le dossier de vérification" in text
    # The contract page links to it.
    detail = coordinator_client.get(
        reverse("workflows:contract_detail", args=[history_contract.pk]),
        HTTP_ACCEPT_LANGUAGE="fr",
    )
    assert (
        reverse("workflows:contract_history", args=[history_contract.pk]) in detail.content.decode()
    )


def test_no_csv_cell_can_start_a_formula(coordinator):
    contract = ContractFactory(reference="=HYPERLINK(1)", coordinator=coordinator)
    ActionFactory(contract=contract, code="+A1")
    launch(contract, coordinator)

    for entry in contract.history.select_related("contract", "actor", "on_behalf_of"):
        row = csv_row(entry)
        assert not [cell for cell in row if cell[:1] in ("=", "+", "-", "@")], row
