"""Amendments (life.md, "Amendments (avenants)"): a coordinator opens one on a signed contract
and writes its changes while it is a draft, through the API's paths; it says what changes and
who is concerned, draws its own document, and leaves the signed contract as it was signed."""

import datetime
import hashlib
from decimal import Decimal

import pytest
from django.db.models import F
from django.utils import timezone
from rest_framework.test import APIClient

from notifications.models import Notification, NotificationEvent
from signatures.selectors import document_verify
from tests.factories import (
    PASSWORD,
    ActionFactory,
    ContractFactory,
    FundingLineFactory,
    OrganisationFactory,
    SignatoryFactory,
    UserFactory,
)
from tests.flows import open_tasks, walk_to_signed
from tests.shared import making, module_transaction
from tests.signatures.pdf import pdf_text
from workflows import services
from workflows.models import (
    Action,
    ActionVersion,
    Amendment,
    Contract,
    HistoryEntry,
    HistoryEvent,
    SignatoryKind,
    Task,
    TaskKind,
    User,
)

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
TEN_DAYS = datetime.timedelta(days=10)


def client_for(user: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def partner():
    return OrganisationFactory(code="CPAM", name="CPAM de la Nièvre")


@pytest.fixture
def bystander():
    return OrganisationFactory(code="MSA", name="MSA Bourgogne")


@pytest.fixture
def funder():
    return OrganisationFactory(code="DEP", name="Département de la Nièvre")


@pytest.fixture(scope="module")
def signed_once(django_db_setup, django_db_blocker):
    """A signed contract: A1 (the CPAM a partner, the Département its funder for 10 000 €),
    A2 (nobody's but its pilot's); the mandatory signatory, and two associated ones: the CPAM
    and the MSA. Made once for the module's tests (tests/shared.py), by the same fixtures'
    factories: `coordinator`, `partner`, `bystander` and `funder` find its own."""
    with module_transaction(django_db_blocker):
        with making(django_db_blocker):
            coordinator = UserFactory(username="coordinatrice")
            contract = ContractFactory(coordinator=coordinator)
            partner = OrganisationFactory(code="CPAM", name="CPAM de la Nièvre")
            bystander = OrganisationFactory(code="MSA", name="MSA Bourgogne")
            funder = OrganisationFactory(code="DEP", name="Département de la Nièvre")
            pilot = UserFactory(username="pilote")
            a1 = ActionFactory(contract=contract, code="A1", title="Maison de santé", pilot=pilot)
            a1.partners.add(partner)
            FundingLineFactory(action=a1, funder=funder, amount=Decimal("10000.00"))
            ActionFactory(
                contract=contract, code="A2", title="Prévention", pilot=pilot, theme=a1.theme
            )
            SignatoryFactory(contract=contract)
            SignatoryFactory(contract=contract, organisation=partner, kind=SignatoryKind.ASSOCIATED)
            SignatoryFactory(
                contract=contract, organisation=bystander, kind=SignatoryKind.ASSOCIATED
            )
            walk_to_signed(contract, coordinator)
        yield contract.pk


@pytest.fixture
def signed(signed_once, db) -> Contract:
    return Contract.objects.get(pk=signed_once)


@pytest.fixture
def as_coordinator(coordinator):
    return client_for(coordinator)


def url(contract, tail=""):
    return f"/api/v1/contracts/{contract.pk}/{tail}"


def opened(client, contract, summary="Prolonger et renforcer l'action A1") -> int:
    response = client.post(url(contract, "amendments/"), {"summary": summary}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["number"]


def amendment_read(client, contract, number=1) -> dict:
    response = client.get(url(contract, f"amendments/{number}/"))
    assert response.status_code == 200, response.json()
    return response.json()


def test_a_coordinator_opens_an_amendment_on_a_signed_contract(signed, as_coordinator):
    response = as_coordinator.post(url(signed, "amendments/"), {}, format="json")

    assert response.status_code == 201
    assert response.json() == {"number": 1, "status": "draft"}
    amendment = Amendment.objects.get(contract=signed)
    assert amendment.amended_document_sha256 == signed.document_sha256 != ""
    body = amendment_read(as_coordinator, signed)
    assert body["amended_document_sha256"] == signed.document_sha256
    assert body["changes"] == {"added": [], "modified": [], "removed": []}
    entry = HistoryEntry.objects.filter(contract=signed).order_by("-seq").first()
    assert entry.event == HistoryEvent.AMENDMENT_OPENED
    assert entry.data["amendment"] == 1


def test_only_one_amendment_is_open_at_a_time(signed, as_coordinator):
    opened(as_coordinator, signed)

    response = as_coordinator.post(url(signed, "amendments/"), {}, format="json", **EN)

    assert response.status_code == 409
    assert "Amendment no. 1 is open" in response.json()["detail"]


def test_a_contract_not_signed_cannot_be_amended(contract, as_coordinator):
    response = as_coordinator.post(url(contract, "amendments/"), {}, format="json")

    assert response.status_code == 409
    assert not Amendment.objects.exists()


def test_only_a_coordinator_amends_and_a_stranger_sees_nothing(signed, stranger):
    signer = signed.signatories.first().signer

    assert client_for(signer).post(url(signed, "amendments/"), {}).status_code == 403
    assert client_for(stranger).post(url(signed, "amendments/"), {}).status_code == 404
    assert client_for(stranger).get(url(signed, "amendments/1/")).status_code == 404


def test_a_sheet_is_added_modified_and_removed_by_the_amendment_only(signed, as_coordinator):
    signed_document = as_coordinator.get(url(signed, "document/")).content
    opened(as_coordinator, signed)
    a1 = Action.objects.get(contract=signed, code="A1")
    theme, group, pilot = a1.theme.code, a1.working_group.code, a1.pilot.username
    versions = ActionVersion.objects.filter(action__contract=signed).count()

    added = as_coordinator.post(
        url(signed, "actions/?amendment=1"),
        {
            "theme": theme,
            "code": "A3",
            "title": "Télémédecine",
            "objective": "Téléconsultations en pharmacie",
            "pilot": pilot,
            "working_group": group,
            "partners": [],
            "funding": [{"funder": "DEP", "amount": "5000.00", "year": 2026}],
            "indicators": [],
        },
        format="json",
    )
    assert added.status_code == 201, added.json()
    sheet = as_coordinator.get(url(signed, "actions/A1/?amendment=1")).json()
    assert sheet["change"] is None
    modified = as_coordinator.patch(
        url(signed, "actions/A1/?amendment=1"),
        {
            "version": sheet["version"],
            "title": "Maison de santé pluriprofessionnelle",
            "funding": [{"funder": "DEP", "amount": "15000.00"}],
        },
        format="json",
    )
    assert modified.status_code == 200, modified.json()
    assert modified.json()["version"] == sheet["version"] + 1
    removed = as_coordinator.delete(url(signed, "actions/A2/?amendment=1"))
    assert removed.status_code == 204

    body = amendment_read(as_coordinator, signed)
    assert body["changes"] == {
        "added": ["A3"],
        "modified": [{"code": "A1", "fields": ["title", "funding"]}],
        "removed": ["A2"],
    }
    assert body["funding"]["before"] == "10000.00"
    assert body["funding"]["after"] == "20000.00"
    # The signed contract is as it was signed: its rows, its versions, its document.
    a1.refresh_from_db()
    assert a1.title == "Maison de santé"
    assert sorted(signed.actions.values_list("code", flat=True)) == ["A1", "A2"]
    assert ActionVersion.objects.filter(action__contract=signed).count() == versions
    assert as_coordinator.get(url(signed, "document/")).content == signed_document
    changes = HistoryEntry.objects.filter(contract=signed, event=HistoryEvent.AMENDMENT_CHANGED)
    assert [(e.data["change"], e.data["code"]) for e in changes.order_by("seq")] == [
        ("added", "A3"),
        ("modified", "A1"),
        ("removed", "A2"),
    ]


def test_a_change_on_an_older_version_is_refused(signed, as_coordinator):
    opened(as_coordinator, signed)
    version = as_coordinator.get(url(signed, "actions/A1/?amendment=1")).json()["version"]
    first = as_coordinator.patch(
        url(signed, "actions/A1/?amendment=1"), {"version": version, "title": "Un"}, format="json"
    )
    assert first.status_code == 200

    stale = as_coordinator.patch(
        url(signed, "actions/A1/?amendment=1"), {"version": version, "title": "Deux"}, format="json"
    )

    assert stale.status_code == 409
    assert as_coordinator.get(url(signed, "actions/A1/?amendment=1")).json()["title"] == "Un"


def test_a_bad_sheet_is_refused_with_each_problem_at_its_place(signed, as_coordinator):
    opened(as_coordinator, signed)
    a1 = Action.objects.get(contract=signed, code="A1")

    response = as_coordinator.post(
        url(signed, "actions/?amendment=1"),
        {
            "theme": a1.theme.code,
            "code": "A4",
            "title": "",
            "pilot": "personne.inconnue",
            "working_group": a1.working_group.code,
            "funding": [{"funder": "DEP", "amount": "-3"}],
        },
        format="json",
        **EN,
    )

    assert response.status_code == 400
    errors = " ".join(response.json()["errors"])
    assert 'pilot: unknown person "personne.inconnue"' in errors
    assert "funding[0].amount" in errors
    assert not signed.amendments.get().changes.exists()


def test_the_period_is_only_extended(signed, as_coordinator):
    opened(as_coordinator, signed)

    shorter = as_coordinator.patch(
        url(signed, "amendments/1/"), {"period_end": "2026-12-31"}, format="json", **EN
    )
    longer = as_coordinator.patch(
        url(signed, "amendments/1/"), {"period_end": "2029-12-31"}, format="json"
    )

    assert shorter.status_code == 400
    assert shorter.json()["errors"][0].startswith("period_end: an amendment extends the period")
    assert longer.status_code == 200
    assert longer.json()["period"] == {
        "start": "2024-01-01",
        "end": "2027-12-31",
        "new_end": "2029-12-31",
    }
    signed.refresh_from_db()
    assert signed.period_end.isoformat() == "2027-12-31"


def concerned(body) -> dict[str, bool]:
    return {s["organisation"]: s["concerned"] for s in body["signatories"]}


def test_who_signs_the_mandatory_signatories_the_parties_of_a_changed_action_and_the_added(
    signed, as_coordinator, bystander
):
    opened(as_coordinator, signed)
    mandatory = signed.signatories.get(kind=SignatoryKind.MANDATORY).organisation.code
    assert concerned(amendment_read(as_coordinator, signed)) == {
        mandatory: True,
        "CPAM": False,
        "MSA": False,
    }
    version = as_coordinator.get(url(signed, "actions/A1/?amendment=1")).json()["version"]
    as_coordinator.patch(
        url(signed, "actions/A1/?amendment=1"),
        {"version": version, "description": "Un cabinet secondaire."},
        format="json",
    )
    newcomer = OrganisationFactory(code="MUT", name="Mutualité française")
    signer = UserFactory(username="dg.mut", organisation=newcomer)

    added = as_coordinator.post(
        url(signed, "amendments/1/signatories/"),
        {"organisation": "MUT", "kind": "associated", "signer": signer.username},
        format="json",
    )

    assert added.status_code == 201, added.json()
    body = amendment_read(as_coordinator, signed)
    assert concerned(body) == {mandatory: True, "CPAM": True, "MSA": False, "MUT": True}
    assert {s["organisation"]: s["status"] for s in body["signatories"]}["MSA"] == "not_concerned"
    assert not signed.signatories.filter(organisation=newcomer).exists()


def test_a_withdrawn_amendment_is_no_longer_written_and_another_may_be_opened(
    signed, as_coordinator
):
    opened(as_coordinator, signed)
    without_reason = as_coordinator.post(
        url(signed, "amendments/1/transitions/withdraw/"), {}, format="json"
    )
    withdrawn = as_coordinator.post(
        url(signed, "amendments/1/transitions/withdraw/"),
        {"reason": "Le financement n'est pas acquis."},
        format="json",
    )

    assert without_reason.status_code == 400
    assert withdrawn.status_code == 200
    assert withdrawn.json()["status"] == "withdrawn"
    edit = as_coordinator.patch(url(signed, "amendments/1/"), {"summary": "x"}, format="json")
    assert edit.status_code == 409
    assert as_coordinator.delete(url(signed, "actions/A2/?amendment=1")).status_code == 409
    assert opened(as_coordinator, signed) == 2
    events = HistoryEntry.objects.filter(contract=signed).values_list("event", flat=True)
    assert HistoryEvent.AMENDMENT_WITHDRAWN in events


def test_a_signed_contracts_sheet_is_not_removed_without_an_amendment(signed, as_coordinator):
    response = as_coordinator.delete(url(signed, "actions/A2/"))

    assert response.status_code == 409
    assert signed.actions.filter(code="A2").exists()


def test_the_amendments_document_says_what_changes_before_and_after(signed, as_coordinator):
    opened(as_coordinator, signed)
    as_coordinator.patch(url(signed, "amendments/1/"), {"period_end": "2029-12-31"}, format="json")
    version = as_coordinator.get(url(signed, "actions/A1/?amendment=1")).json()["version"]
    as_coordinator.patch(
        url(signed, "actions/A1/?amendment=1"),
        {
            "version": version,
            "title": "Maison de santé pluriprofessionnelle",
            "funding": [{"funder": "DEP", "amount": "15000.00"}],
        },
        format="json",
    )

    response = as_coordinator.get(url(signed, "amendments/1/document/"))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    flat = pdf_text(response.content).replace("\u202f", " ").replace("\xa0", " ")
    assert "Avenant n° 1" in flat
    assert signed.document_sha256 in flat
    assert "Avant : Maison de santé Après : Maison de santé pluriprofessionnelle" in flat
    assert "10 000,00 €" in flat
    assert "15 000,00 €" in flat
    assert "31 décembre 2029" in flat
    assert "PROJET" in flat
    assert "MSA Bourgogne" in flat  # listed as not concerned


# --- Pages ----------------------------------------------------------------------------------


@pytest.fixture
def browser(client, coordinator):
    client.force_login(coordinator)
    return client


def page(contract, tail=""):
    return f"/contrats/{contract.pk}/avenants/{tail}"


def test_the_signed_contracts_page_opens_an_amendment(signed, browser):
    contract_page = browser.get(f"/contrats/{signed.pk}/")
    assert "Ouvrir un avenant" in contract_page.content.decode()

    response = browser.post(page(signed), {"amendment-summary": "Prolonger le contrat"})

    assert response.status_code == 302
    assert response["Location"] == page(signed, "1/")
    assert "Avenant n° 1" in browser.get(f"/contrats/{signed.pk}/").content.decode()


def test_the_amendment_page_shows_its_changes_in_french(signed, browser, as_coordinator):
    opened(as_coordinator, signed)
    version = as_coordinator.get(url(signed, "actions/A1/?amendment=1")).json()["version"]
    as_coordinator.patch(
        url(signed, "actions/A1/?amendment=1"),
        {"version": version, "title": "Maison de santé pluriprofessionnelle"},
        format="json",
    )

    html = browser.get(page(signed, "1/")).content.decode()

    assert "Avenant n° 1" in html
    assert "Ce que l\u2019avenant modifie" in html
    assert "<del>Maison de santé</del> → <ins>Maison de santé pluriprofessionnelle</ins>" in html
    assert "Non concerné" in html
    assert "Ajouter une fiche" in html


def test_a_sheet_added_with_a_code_taken_shows_the_problem_beside_the_code(signed, browser):
    browser.post(page(signed), {})
    a1 = Action.objects.get(contract=signed, code="A1")

    response = browser.post(
        page(signed, "1/"),
        {
            "part": "sheet",
            "sheet-theme": a1.theme.code,
            "sheet-code": "A1",
            "sheet-title": "Doublon",
            "sheet-pilot": a1.pilot.username,
            "sheet-working_group": a1.working_group.code,
        },
    )

    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="id_sheet-code_error"><li>l\u2019action &quot;A1&quot; existe déjà' in html


def test_a_proposed_sheet_is_written_with_the_sheets_form(signed, browser):
    browser.post(page(signed), {})
    form = browser.get(page(signed, "1/fiches/A1/"))
    assert form.status_code == 200
    assert "Enregistrer dans l\u2019avenant" in form.content.decode()

    response = browser.post(
        page(signed, "1/fiches/A1/"),
        {
            "base_version": form.context["version"],
            "title": "Maison de santé, deux sites",
            "objective": "Améliorer l'accès aux soins.",
            "partners": ["CPAM"],
            "milestones-TOTAL_FORMS": "0",
            "milestones-INITIAL_FORMS": "0",
            "funding-TOTAL_FORMS": "1",
            "funding-INITIAL_FORMS": "0",
            "funding-0-funder": "DEP",
            "funding-0-amount": "12 500,50",
            "indicators-TOTAL_FORMS": "0",
            "indicators-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    change = signed.amendments.get().changes.get(code="A1")
    assert change.content["title"] == "Maison de santé, deux sites"
    assert change.content["funding"] == [{"funder": "DEP", "amount": "12500.50"}]
    assert Action.objects.get(contract=signed, code="A1").title == "Maison de santé"


# --- The circuit (issue 14, item 3, second step) ---------------------------------------------


def decided(task, decision="approve", **fields):
    """A task decided through the API by whoever holds it."""
    body = {"decision": decision, **fields}
    if decision == "sign":
        body.update(password=PASSWORD, consent=True)
    response = client_for(task.owner).post(
        f"/api/v1/tasks/{task.pk}/decision/", body, format="json"
    )
    assert response.status_code == 200, response.json()
    return response


def transition(client, contract, name, body=None, number=1):
    return client.post(
        url(contract, f"amendments/{number}/transitions/{name}/"), body or {}, format="json"
    )


def amendment_with_three_changes(client, contract):
    """A1's funding raised, A2 renamed, A3 added with the CPAM (associated) as its partner."""
    opened(client, contract)
    a1 = Action.objects.get(contract=contract, code="A1")
    for code, change in (
        ("A1", {"funding": [{"funder": "DEP", "amount": "15000.00"}]}),
        ("A2", {"title": "Prévention renforcée"}),
    ):
        version = client.get(url(contract, f"actions/{code}/?amendment=1")).json()["version"]
        response = client.patch(
            url(contract, f"actions/{code}/?amendment=1"),
            {"version": version, **change},
            format="json",
        )
        assert response.status_code == 200, response.json()
    added = client.post(
        url(contract, "actions/?amendment=1"),
        {
            "theme": a1.theme.code,
            "code": "A3",
            "title": "Télémédecine",
            "objective": "Téléconsultations en pharmacie",
            "pilot": a1.pilot.username,
            "working_group": a1.working_group.code,
            "partners": ["CPAM"],
            "funding": [{"funder": "DEP", "amount": "5000.00", "year": 2026}],
            "indicators": [],
        },
        format="json",
    )
    assert added.status_code == 201, added.json()


def test_launching_an_amendment_without_change_or_twice_is_refused(signed, as_coordinator):
    opened(as_coordinator, signed)

    assert transition(as_coordinator, signed, "launch_review").status_code == 409
    as_coordinator.patch(url(signed, "amendments/1/"), {"period_end": "2031-12-31"}, format="json")
    signer = signed.signatories.first().signer
    assert transition(client_for(signer), signed, "launch_review").status_code == 403
    assert transition(as_coordinator, signed, "launch_review").status_code == 200
    assert transition(as_coordinator, signed, "launch_review").status_code == 409
    assert transition(as_coordinator, signed, "record_deliberation").status_code == 409


def test_the_amendment_s_circuit_from_review_to_consolidation(signed, as_coordinator):
    signed_document = as_coordinator.get(url(signed, "document/")).content
    amendment_with_three_changes(as_coordinator, signed)

    launched = transition(as_coordinator, signed, "launch_review")
    assert launched.status_code == 200, launched.json()
    assert launched.json()["status"] == "review"
    reviews = open_tasks(signed, TaskKind.REVIEW)
    # Only the three proposals are reviewed, each by the two leads of its working group.
    assert sorted({t.amendment_change.code for t in reviews}) == ["A1", "A2", "A3"]
    assert all(t.action_id is None for t in reviews)
    # A lead asks for changes on A2: its coordinator revises the proposal and resubmits it.
    a2_review = next(t for t in reviews if t.amendment_change.code == "A2")
    decided(a2_review, "request_changes", comment="Préciser le public")
    (revision,) = open_tasks(signed, TaskKind.REVISION)
    assert revision.amendment_change.code == "A2"
    version = as_coordinator.get(url(signed, "actions/A2/?amendment=1")).json()["version"]
    revised = as_coordinator.patch(
        url(signed, "actions/A2/?amendment=1"),
        {"version": version, "target_public": "Jeunes de 16 à 25 ans"},
        format="json",
    )
    assert revised.status_code == 200, revised.json()
    decided(revision, "resubmit")
    while tasks := open_tasks(signed, TaskKind.REVIEW):
        decided(tasks[0])
    assert amendment_read(as_coordinator, signed)["status"] == "committee"
    while tasks := open_tasks(signed, TaskKind.VOTE):
        assert tasks[0].amendment.number == 1
        decided(tasks[0])
    assert amendment_read(as_coordinator, signed)["status"] == "deliberation"

    recorded = transition(
        as_coordinator,
        signed,
        "record_deliberation",
        {"number": "DEL-2026-12", "date": "2026-01-15"},
    )
    assert recorded.status_code == 200, recorded.json()
    body = recorded.json()
    assert body["status"] == "signing"
    assert body["document_sha256"]
    concern = {s["organisation"]: (s["concerned"], s["status"]) for s in body["signatories"]}
    mandatory = signed.signatories.get(kind=SignatoryKind.MANDATORY).organisation.code
    assert concern == {
        mandatory: (True, "pending"),
        "CPAM": (True, "pending"),
        "MSA": (False, "not_concerned"),
    }
    signing = open_tasks(signed, TaskKind.SIGNATURE)
    # Exactly the concerned parties are asked to sign.
    assert sorted(t.amendment_party.organisation.code for t in signing) == sorted(
        [mandatory, "CPAM"]
    )
    detail = client_for(signing[0].owner).get(f"/api/v1/tasks/{signing[0].pk}/").json()
    assert detail["amendment"]["number"] == 1
    assert detail["amendment"]["party"] == signing[0].amendment_party.organisation.code
    assert detail["document_sha256"] == body["document_sha256"]
    while tasks := open_tasks(signed, TaskKind.SIGNATURE):
        decided(tasks[0], "sign")

    body = amendment_read(as_coordinator, signed)
    assert body["status"] == "signed"
    # What it changed, as its frozen document says (the contract includes it now).
    assert body["changes"]["added"] == ["A3"]
    assert sorted(m["code"] for m in body["changes"]["modified"]) == ["A1", "A2"]
    assert body["funding"] == {
        "before": "10000.00",
        "after": "20000.00",
        "by_funder": [{"funder": "DEP", "before": "10000.00", "after": "20000.00"}],
    }
    assert {s["organisation"]: s["status"] for s in body["signatories"]} == {
        mandatory: "signed",
        "CPAM": "signed",
        "MSA": "not_concerned",
    }
    pdf = as_coordinator.get(url(signed, "amendments/1/document/")).content
    check = document_verify(pdf)
    assert check.ok, check
    assert [s.field_name for s in check.signatures] == [
        f"signature-{mandatory}",
        "signature-CPAM",
        "accord-seal",
    ]
    # The contract in force includes the amendment; its own signed document is unchanged.
    assert as_coordinator.get(url(signed, "document/")).content == signed_document
    a1 = Action.objects.get(contract=signed, code="A1")
    a2 = Action.objects.get(contract=signed, code="A2")
    a3 = Action.objects.get(contract=signed, code="A3")
    assert [str(line.amount) for line in a1.funding_lines.all()] == ["15000.00"]
    assert a2.title == "Prévention renforcée"
    assert a2.target_public == "Jeunes de 16 à 25 ans"
    assert a3.status == "validated"
    assert list(a3.partners.values_list("code", flat=True)) == ["CPAM"]
    assert list(a1.versions.values_list("number", flat=True).order_by("number")) == [1, 2]
    assert a1.versions.get(number=1).content["funding"][0]["amount"] == "10000.00"
    assert a1.versions.get(number=2).content["funding"][0]["amount"] == "15000.00"
    assert list(a3.versions.values_list("number", flat=True)) == [1]
    verified = as_coordinator.get(url(signed, "history/verify/")).json()
    assert verified["valid"] is True
    names = list(
        HistoryEntry.objects.filter(contract=signed, event=HistoryEvent.AMENDMENT_TRANSITION)
        .order_by("seq")
        .values_list("name", flat=True)
    )
    assert names == [
        "launch_review",
        "open_committee",
        "committee_validate",
        "record_deliberation",
        "complete_signing",
    ]
    assert HistoryEntry.objects.filter(
        contract=signed, event=HistoryEvent.AMENDMENT_CONSOLIDATED
    ).exists()
    # Another amendment may be opened now.
    assert as_coordinator.post(url(signed, "amendments/"), {}, format="json").status_code == 201


def test_a_mandatory_decline_sends_the_amendment_back_to_draft(signed, as_coordinator):
    amendment_with_three_changes(as_coordinator, signed)
    transition(as_coordinator, signed, "launch_review")
    while tasks := open_tasks(signed, TaskKind.REVIEW):
        decided(tasks[0])
    while tasks := open_tasks(signed, TaskKind.VOTE):
        decided(tasks[0])
    transition(
        as_coordinator, signed, "record_deliberation", {"number": "D-1", "date": "2026-01-15"}
    )
    mandatory = next(
        t
        for t in open_tasks(signed, TaskKind.SIGNATURE)
        if t.amendment_party.kind == SignatoryKind.MANDATORY
    )

    decided(mandatory, "decline", comment="Montants à revoir")

    body = amendment_read(as_coordinator, signed)
    assert body["status"] == "draft"
    assert body["version"] == 2
    assert not open_tasks(signed, TaskKind.SIGNATURE)
    signed.refresh_from_db()
    assert signed.status == "signed"
    assert sorted(signed.actions.values_list("code", flat=True)) == ["A1", "A2"]
    # Written again, it goes round once more.
    assert transition(as_coordinator, signed, "launch_review").status_code == 200


def test_the_chair_closes_the_amendment_s_vote_once_the_quorum_is_reached(
    signed, as_coordinator, client
):
    amendment_with_three_changes(as_coordinator, signed)
    transition(as_coordinator, signed, "launch_review")
    while tasks := open_tasks(signed, TaskKind.REVIEW):
        decided(tasks[0])
    chair = signed.steering_committee.chair
    as_chair = client_for(chair)
    close = url(signed, "amendments/1/vote/close/")
    votes = {t.owner: t for t in open_tasks(signed, TaskKind.VOTE)}
    assert len(votes) == 3  # quorum 2

    nobody_yet = as_chair.post(close, **EN)
    assert nobody_yet.status_code == 409
    assert nobody_yet.json()["detail"] == "The quorum is not reached: 0 vote(s) cast, 2 needed."
    chair_vote = votes.pop(chair)
    decided(chair_vote)
    other, last = votes.values()
    decided(other, "reject", comment="Montants non justifiés")
    # One for, one against, one to come: undecided, and only the chair may end it.
    assert amendment_read(as_coordinator, signed)["status"] == "committee"
    assert client_for(last.owner).post(close).status_code == 403
    assert as_coordinator.post(close).status_code == 403
    # The chair's page offers it, as for the contract's vote.
    client.force_login(chair)
    page = client.get(f"/taches/{chair_vote.pk}/", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert f'action="/contrats/{signed.pk}/avenants/1/vote/clore/"' in page
    assert "2 voix exprimées</strong>" in page

    closed = as_chair.post(close)

    assert closed.status_code == 200, closed.json()
    # A tie is no majority: rejected, the amendment goes back to draft as its version 2.
    assert (closed.json()["status"], closed.json()["version"]) == ("draft", 2)
    assert open_tasks(signed, TaskKind.VOTE) == []  # the vote not cast is cancelled
    decision = HistoryEntry.objects.get(
        contract=signed, event=HistoryEvent.VOTE_DECIDED, data__amendment=1
    )
    assert decision.actor == chair
    assert decision.data["closed_by_chair"] is True
    minutes = as_chair.get(f"/api/v1/contracts/{signed.pk}/committee/minutes/")
    assert minutes.status_code == 200
    assert decision.data["minutes_sha256"] == hashlib.sha256(minutes.content).hexdigest()
    assert "Vote sur l\u2019avenant n° 1" in pdf_text(minutes.content)
    assert as_chair.post(close).status_code == 409  # no vote in progress any more
    # The contract page's past rounds say which vote was the amendment's.
    contract_page = client.get(f"/contrats/{signed.pk}/", HTTP_ACCEPT_LANGUAGE="fr")
    assert "(avenant n°\u00a01)" in contract_page.content.decode()


def test_a_suspended_amendment_holds_its_tasks_and_resumes_where_it_was(
    signed, coordinator, as_coordinator, client
):
    amendment_with_three_changes(as_coordinator, signed)
    transition(as_coordinator, signed, "launch_review")
    reviews = open_tasks(signed, TaskKind.REVIEW)
    due = {t.pk: t.due for t in reviews}
    signer = signed.signatories.first().signer

    assert transition(client_for(signer), signed, "suspend", {"reason": "x"}).status_code == 403
    assert transition(as_coordinator, signed, "suspend", {}).status_code == 400
    suspended = transition(as_coordinator, signed, "suspend", {"reason": "Élections municipales"})

    assert suspended.status_code == 200, suspended.json()
    assert suspended.json()["status"] == "suspended"
    assert open_tasks(signed, TaskKind.REVIEW) == []  # held, not cancelled
    held = reviews[0]
    refused = client_for(held.owner).post(
        f"/api/v1/tasks/{held.pk}/decision/", {"decision": "approve"}, format="json"
    )
    assert refused.status_code == 409
    assert transition(as_coordinator, signed, "launch_review").status_code == 409
    assert transition(as_coordinator, signed, "suspend", {"reason": "again"}).status_code == 409
    client.force_login(coordinator)
    page = client.get(f"/contrats/{signed.pk}/avenants/1/", HTTP_ACCEPT_LANGUAGE="fr")
    assert "Élections municipales" in page.content.decode()
    # Ten days pass.
    Amendment.objects.update(suspended_at=F("suspended_at") - TEN_DAYS)
    Task.objects.filter(pk__in=due).update(held_at=F("held_at") - TEN_DAYS)

    not_a_comment = transition(as_coordinator, signed, "resume", {"comment": {"a": 1}})
    assert not_a_comment.status_code == 400
    assert amendment_read(as_coordinator, signed)["status"] == "suspended"
    resumed = client.post(f"/contrats/{signed.pk}/avenants/1/", {"part": "resume"})

    assert resumed.status_code == 302
    assert amendment_read(as_coordinator, signed)["status"] == "review"
    reopened = open_tasks(signed, TaskKind.REVIEW)
    assert sorted(t.pk for t in reopened) == sorted(due)
    assert all(t.due - due[t.pk] >= TEN_DAYS for t in reopened)
    names = list(
        HistoryEntry.objects.filter(contract=signed, event=HistoryEvent.AMENDMENT_TRANSITION)
        .order_by("seq")
        .values_list("name", flat=True)
    )
    assert names[-2:] == ["suspend", "resume"]
    assert HistoryEntry.objects.filter(
        contract=signed, event=HistoryEvent.TASK_HELD
    ).count() == len(due)


def test_an_absent_lead_s_amendment_reviews_go_to_the_delegate_who_is_notified(
    signed, as_coordinator
):
    amendment_with_three_changes(as_coordinator, signed)
    lead = signed.actions.get(code="A1").working_group.leads.first()
    delegate = UserFactory(username="remplacante")
    services.delegation_declare(
        user=lead,
        delegate=delegate,
        start=timezone.localdate(),
        end=timezone.localdate() + datetime.timedelta(days=7),
    )

    transition(as_coordinator, signed, "launch_review")

    held = [t for t in open_tasks(signed, TaskKind.REVIEW) if t.assignee_id == lead.pk]
    assert held
    assert {t.owner for t in held} == {delegate}
    assert {t.on_behalf_of for t in held} == {lead}
    # She learns it as for the contract's tasks, and decides for him.
    assert Notification.objects.filter(
        recipient=delegate, event=NotificationEvent.TASK_ASSIGNED, task__in=held
    ).count() == len(held)
    decided(held[0])
    entry = HistoryEntry.objects.filter(contract=signed, event=HistoryEvent.TASK_COMPLETED).latest(
        "seq"
    )
    assert (entry.actor, entry.on_behalf_of) == (delegate, lead)


def test_the_amendment_s_pages_show_its_circuit_and_its_tasks(signed, coordinator, client):
    as_coordinator = client_for(coordinator)
    amendment_with_three_changes(as_coordinator, signed)
    client.force_login(coordinator)
    page = f"/contrats/{signed.pk}/avenants/1/"

    launched = client.post(page, {"part": "launch"})
    assert launched.status_code == 302
    body = client.get(page).content.decode()
    assert 'aria-current="step"' in body
    review = next(t for t in open_tasks(signed, TaskKind.REVIEW) if t.amendment_change.code == "A1")
    client.force_login(review.owner)
    task_page = client.get(f"/taches/{review.pk}/").content.decode()
    # The proposal before → after, and the amendment's page and PDF linked.
    assert "<del>" in task_page
    assert "<ins>" in task_page
    assert f"/contrats/{signed.pk}/avenants/1/" in task_page
    while tasks := open_tasks(signed, TaskKind.REVIEW):
        decided(tasks[0])
    (vote,) = open_tasks(signed, TaskKind.VOTE)[:1]
    client.force_login(vote.owner)
    vote_page = client.get(f"/taches/{vote.pk}/", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    vote_page = vote_page.replace("\xa0", " ").replace("\u202f", " ")
    # What the member votes on: every change, and the funding before and after.
    assert "Ajoutée : A3 \u2013 Télémédecine" in vote_page
    assert "Modifiée : A1 \u2013 Maison de santé" in vote_page
    assert "20 000,00 €" in vote_page
    while tasks := open_tasks(signed, TaskKind.VOTE):
        decided(tasks[0])
    client.force_login(coordinator)
    recorded = client.post(
        page,
        {"part": "deliberation", "deliberation-number": "D-7", "deliberation-date": "2026-01-15"},
    )
    assert recorded.status_code == 302, recorded.content.decode()[:2000]
    signature = open_tasks(signed, TaskKind.SIGNATURE)[0]
    client.force_login(signature.owner)
    signature_page = client.get(f"/taches/{signature.pk}/")
    assert signature_page.status_code == 200
    amendment = Amendment.objects.get(contract=signed)
    assert amendment.document_sha256[:8] in signature_page.content.decode()
