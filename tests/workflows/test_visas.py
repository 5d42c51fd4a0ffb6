"""Partners' internal visas (life.md, "Partners' internal visas"): an organisation's circuit of
people who give their visa, in order, before its signatory signs; a refused visa is that
signatory's decline. Driven through the API, as the people concerned would."""

import copy

import pytest
from django.utils import translation
from rest_framework.test import APIClient

from notifications.models import Notification, NotificationEvent
from signatures.selectors import completion_certificate, completion_certificate_pdf
from tests.factories import (
    PASSWORD,
    ActionFactory,
    OrganisationFactory,
    SignatoryFactory,
    UserFactory,
)
from tests.flows import (
    open_tasks,
    record_deliberation,
    walk_to_deliberation,
    walk_to_signed,
    worker_seals,
)
from tests.signatures.pdf import pdf_text
from tests.two_factor import log_in_verified
from workflows.contract_file import contract_file_of
from workflows.errors import InvalidContractFile
from workflows.models import (
    HistoryEntry,
    HistoryEvent,
    OrganisationVisa,
    SignatoryKind,
    SignatoryVisa,
    TaskKind,
    User,
)
from workflows.services import contract_import

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


def client_for(user: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def decided(task, decision="approve", expected=200, **fields):
    """A task decided through the API by whoever holds it."""
    body = {"decision": decision, **fields}
    if decision == "sign":
        body.update(password=PASSWORD, consent=True)
    response = client_for(task.owner).post(
        f"/api/v1/tasks/{task.pk}/decision/", body, format="json", **EN
    )
    assert response.status_code == expected, response.json()
    return response


@pytest.fixture
def caf():
    """The CAF, whose legal department then its finance department give their visa."""
    caf = OrganisationFactory(code="CAF", name="CAF de la Nièvre")
    legal = UserFactory(username="juridique.caf", first_name="Léa", last_name="Juriste")
    finance = UserFactory(username="finances.caf", first_name="Marc", last_name="Comptable")
    for rank, person in enumerate((legal, finance), start=1):
        person.organisation = caf
        person.save(update_fields=["organisation"])
        OrganisationVisa.objects.create(organisation=caf, person=person, order=rank)
    return caf


def visas_of(contract):
    return open_tasks(contract, TaskKind.VISA)


def at_signing(contract, coordinator, *, caf, kind):
    """A contract at its signatures: a mandatory signatory, and the CAF (``kind``)."""
    ActionFactory(contract=contract)
    SignatoryFactory(contract=contract)
    SignatoryFactory(contract=contract, organisation=caf, kind=kind)
    walk_to_deliberation(contract, coordinator)
    record_deliberation(contract)
    contract.refresh_from_db()
    return contract


def test_the_visas_open_in_order_before_the_signature(contract, coordinator, caf):
    at_signing(contract, coordinator, caf=caf, kind=SignatoryKind.ASSOCIATED)
    caf_signatory = contract.signatories.get(organisation=caf)

    # The CAF's signer is not asked yet: its legal department gives its visa first.
    (first,) = visas_of(contract)
    assert first.owner.username == "juridique.caf"
    assert first.signatory == caf_signatory
    assert {t.signatory.organisation.code for t in open_tasks(contract, TaskKind.SIGNATURE)} == {
        contract.signatories.get(kind=SignatoryKind.MANDATORY).organisation.code
    }
    detail = client_for(first.owner).get(f"/api/v1/tasks/{first.pk}/").json()
    assert detail["kind"] == "visa"
    assert [choice["code"] for choice in detail["decision_choices"]] == ["approve", "refuse"]
    assert detail["signatory"]["organisation"] == "CAF"
    assert detail["document_sha256"] == contract.document_sha256

    # Told as of any task, in French.
    told = Notification.objects.get(
        recipient=first.owner, event=NotificationEvent.TASK_ASSIGNED, task=first
    )
    assert told.title == (
        "Nouvelle tâche\u00a0: visa interne avant la signature de CAF de la Nièvre, "
        f"{contract.reference}"
    )

    decided(first)
    (second,) = visas_of(contract)
    assert second.owner.username == "finances.caf"
    assert not any(t.signatory == caf_signatory for t in open_tasks(contract, TaskKind.SIGNATURE))
    decided(second, comment="Crédits disponibles")
    assert not visas_of(contract)
    signature = next(
        t for t in open_tasks(contract, TaskKind.SIGNATURE) if t.signatory == caf_signatory
    )
    assert signature.owner == caf_signatory.signer

    while tasks := open_tasks(contract, TaskKind.SIGNATURE):
        decided(tasks[0], "sign")
    worker_seals()
    contract.refresh_from_db()
    assert contract.status == "signed"
    visas = HistoryEntry.objects.filter(contract=contract, event=HistoryEvent.VISA).order_by("seq")
    assert [(e.actor.username, e.data["organisation"], e.data["rank"]) for e in visas] == [
        ("juridique.caf", "CAF", 1),
        ("finances.caf", "CAF", 2),
    ]
    history = client_for(coordinator).get(f"/api/v1/contracts/{contract.pk}/history/").json()
    # The CAF's signature says which visas it was given after, as does the certificate.
    text = pdf_text(
        client_for(coordinator).get(f"/api/v1/contracts/{contract.pk}/document/").content
    )
    assert "Visa de Léa Juriste le" in text
    assert "Visa de Marc Comptable le" in text
    parties = {p["organisation"]: p for p in completion_certificate(contract)["parties"]}
    assert [visa["person"] for visa in parties["CAF de la Nièvre"]["visas"]] == [
        "Léa Juriste, Chargé de mission",
        "Marc Comptable, Chargé de mission",
    ]
    certificate = pdf_text(completion_certificate_pdf(contract))
    assert "Visa de Léa Juriste, Chargé de mission le" in certificate
    visas = [entry for entry in history if entry["event"] == "visa"]
    assert [(entry["actor"], entry["data"]["organisation"]) for entry in visas] == [
        ("juridique.caf", "CAF"),
        ("finances.caf", "CAF"),
    ]


def test_a_refused_visa_of_an_associated_signatory_is_its_decline(contract, coordinator, caf):
    at_signing(contract, coordinator, caf=caf, kind=SignatoryKind.ASSOCIATED)
    (first,) = visas_of(contract)

    refused = decided(first, "refuse", expected=400)
    assert refused.json()["detail"] == "Say in a comment why you refuse the visa."
    decided(first, "refuse", comment="Clause de financement contraire à nos règles")

    caf_signatory = contract.signatories.get(organisation=caf)
    assert caf_signatory.status == "declined"
    assert not visas_of(contract)  # the finance department is never asked
    assert not any(t.signatory == caf_signatory for t in open_tasks(contract, TaskKind.SIGNATURE))
    while tasks := open_tasks(contract, TaskKind.SIGNATURE):
        decided(tasks[0], "sign")
    contract.refresh_from_db()
    assert (contract.status, contract.version) == ("signed", 1)
    entry = HistoryEntry.objects.get(contract=contract, event=HistoryEvent.VISA_REFUSED)
    assert entry.actor.username == "juridique.caf"
    assert entry.data["organisation"] == "CAF"
    assert entry.comment == "Clause de financement contraire à nos règles"


def test_a_refused_visa_of_a_mandatory_signatory_sends_the_contract_back_to_draft(
    contract, coordinator, caf
):
    at_signing(contract, coordinator, caf=caf, kind=SignatoryKind.MANDATORY)
    decided(visas_of(contract)[0])
    (second,) = visas_of(contract)

    decided(second, "refuse", comment="Budget non inscrit")

    contract.refresh_from_db()
    assert (contract.status, contract.version) == ("draft", 2)
    assert not open_tasks(contract)
    entry = HistoryEntry.objects.get(
        contract=contract, event=HistoryEvent.TRANSITION, name="return_to_draft"
    )
    assert entry.actor.username == "finances.caf"
    assert entry.data["declined_by"] == "CAF"


def test_a_signatory_s_own_circuit_replaces_its_organisation_s(contract, coordinator, caf):
    SignatoryFactory(contract=contract)
    signatory = SignatoryFactory(
        contract=contract, organisation=caf, kind=SignatoryKind.ASSOCIATED, own_visas=True
    )
    director = UserFactory(username="direction.caf", organisation=caf)
    SignatoryVisa.objects.create(signatory=signatory, person=director, order=1)
    ActionFactory(contract=contract)
    walk_to_deliberation(contract, coordinator)
    record_deliberation(contract)

    (visa,) = visas_of(contract)
    assert visa.owner == director
    decided(visa)
    assert not visas_of(contract)
    assert any(t.signatory == signatory for t in open_tasks(contract, TaskKind.SIGNATURE))


def with_visas(scenario: dict) -> dict:
    """The demo file, the ARS with a circuit (legal, then its delegate), the CD82 signatory
    with its own (one person), the CPAM's own circuit empty."""
    document = copy.deepcopy(scenario)
    for organisation in document["organisations"]:
        if organisation["code"] == "ARS-OCC":
            organisation["visas"] = ["tech1.ars", "delegue82.ars"]
    for signatory in document["signatories"]:
        if signatory["organisation"] == "CD82":
            signatory["visas"] = ["elue.cd82"]
        if signatory["organisation"] == "CPAM82":
            signatory["visas"] = []
    return document


def test_a_contract_file_gives_the_circuits_and_its_export_gives_them_back(scenario):
    document = with_visas(scenario)

    contract = contract_import(document=document, actor=None)

    holders = {
        s.organisation.code: [User.objects.get(pk=pk).username for pk in s.visa_holders()]
        for s in contract.signatories.select_related("organisation")
    }
    assert holders["ARS-OCC"] == ["tech1.ars", "delegue82.ars"]
    assert holders["CD82"] == ["elue.cd82"]
    assert holders["CPAM82"] == [] == holders["MSA"]
    exported = contract_file_of(contract)
    organisations = {o["code"]: o for o in exported["organisations"]}
    assert organisations["ARS-OCC"]["visas"] == ["tech1.ars", "delegue82.ars"]
    assert "visas" not in organisations["MSA"]
    signatories = {s["organisation"]: s for s in exported["signatories"]}
    assert signatories["CD82"]["visas"] == ["elue.cd82"]
    assert signatories["CPAM82"]["visas"] == []
    assert "visas" not in signatories["ARS-OCC"]
    again = contract_import(document={**exported, "reference": "CLS-VISAS-BIS"}, actor=None)
    assert {**contract_file_of(again), "reference": ""} == {**exported, "reference": ""}


def test_a_visa_by_someone_outside_the_organisation_is_refused(scenario):
    document = with_visas(scenario)
    document["signatories"][2]["visas"] = ["elue.cd82", "dg.ars", "elue.cd82"]

    with pytest.raises(InvalidContractFile) as refused, translation.override("en"):
        contract_import(document=document, actor=None)

    assert refused.value.errors == [
        'signatories[2].visas[1]: "dg.ars" is not a member of organisation "CD82"',
        'signatories[2].visas[2]: "elue.cd82" gives a visa twice '
        "(first at signatories[2].visas[0])",
    ]


def test_an_amendment_s_concerned_party_goes_through_its_visas(contract, coordinator, caf):
    """The circuit is frozen with the party at the amendment's deliberation: the CAF's,
    given after the contract was signed, applies to the amendment."""
    circuit = list(OrganisationVisa.objects.filter(organisation=caf))
    OrganisationVisa.objects.filter(organisation=caf).delete()
    ActionFactory(contract=contract)
    SignatoryFactory(contract=contract, organisation=caf)
    walk_to_signed(contract, coordinator)
    OrganisationVisa.objects.bulk_create(
        OrganisationVisa(organisation=caf, person=visa.person, order=visa.order) for visa in circuit
    )
    assert not HistoryEntry.objects.filter(contract=contract, event=HistoryEvent.VISA).exists()
    as_coordinator = client_for(coordinator)
    amendments = f"/api/v1/contracts/{contract.pk}/amendments/"
    assert as_coordinator.post(amendments, {}, format="json").status_code == 201
    as_coordinator.patch(f"{amendments}1/", {"period_end": "2031-12-31"}, format="json")
    as_coordinator.post(f"{amendments}1/transitions/launch_review/", {}, format="json")
    while tasks := open_tasks(contract, TaskKind.VOTE):
        decided(tasks[0])
    recorded = as_coordinator.post(
        f"{amendments}1/transitions/record_deliberation/",
        {"number": "DEL-2026-3", "date": "2026-01-15"},
        format="json",
    )
    assert recorded.status_code == 200, recorded.json()

    (legal,) = visas_of(contract)
    assert (legal.owner.username, legal.amendment_party.organisation) == ("juridique.caf", caf)
    assert [v.person.username for v in legal.amendment_party.visas.all()] == [
        "juridique.caf",
        "finances.caf",
    ]
    assert not open_tasks(contract, TaskKind.SIGNATURE)
    decided(legal)
    decided(visas_of(contract)[0])
    (signature,) = open_tasks(contract, TaskKind.SIGNATURE)
    assert signature.amendment_party.organisation == caf
    decided(signature, "sign")

    assert as_coordinator.get(f"{amendments}1/").json()["status"] == "signed"
    text = pdf_text(as_coordinator.get(f"{amendments}1/document/").content)
    assert "Visa de Léa Juriste le" in text
    assert "Visa de Marc Comptable le" in text
    visas = HistoryEntry.objects.filter(contract=contract, event=HistoryEvent.VISA)
    assert sorted((e.data["amendment"], e.actor.username) for e in visas) == [
        (1, "finances.caf"),
        (1, "juridique.caf"),
    ]


def test_the_admin_sets_an_organisation_s_circuit_with_its_own_people_only(client, caf):
    log_in_verified(client, UserFactory(is_staff=True, is_superuser=True))
    outsider = UserFactory(username="dg.ars")
    page = f"/admin/workflows/organisation/{caf.pk}/change/"
    visas = list(OrganisationVisa.objects.filter(organisation=caf))
    form = {
        "code": "CAF",
        "name": "CAF de la Nièvre",
        "category": "caf",
        "visas-TOTAL_FORMS": "3",
        "visas-INITIAL_FORMS": "2",
        "visas-MIN_NUM_FORMS": "0",
        "visas-MAX_NUM_FORMS": "1000",
        "visas-0-id": str(visas[0].pk),
        "visas-0-organisation": str(caf.pk),
        "visas-0-order": "2",
        "visas-0-person": str(visas[0].person_id),
        "visas-1-id": str(visas[1].pk),
        "visas-1-organisation": str(caf.pk),
        "visas-1-order": "1",
        "visas-1-person": str(visas[1].person_id),
        "visas-2-organisation": str(caf.pk),
        "visas-2-order": "3",
        "visas-2-person": str(outsider.pk),
    }

    refused = client.post(page, form, HTTP_ACCEPT_LANGUAGE="fr")
    assert refused.status_code == 200
    assert "Seule une personne de l\u2019organisme donne son visa interne." in (
        refused.content.decode()
    )
    del form["visas-2-organisation"], form["visas-2-order"], form["visas-2-person"]
    form["visas-TOTAL_FORMS"] = "2"
    assert client.post(page, form).status_code == 302
    assert list(
        OrganisationVisa.objects.filter(organisation=caf).values_list("person__username", flat=True)
    ) == ["finances.caf", "juridique.caf"]


def test_the_admin_gives_a_signatory_its_own_circuit_into_the_history(client, contract, caf):
    log_in_verified(client, UserFactory(is_staff=True, is_superuser=True))
    signatory = SignatoryFactory(contract=contract, organisation=caf)
    director = UserFactory(username="direction.caf", organisation=caf)
    form = {
        "organisation": str(caf.pk),
        "kind": "mandatory",
        "signer": str(signatory.signer_id),
        "order": "1",
        "mandate_reference": "",
        "mandate_date": "",
        "own_visas": "on",
        "visas-TOTAL_FORMS": "1",
        "visas-INITIAL_FORMS": "0",
        "visas-MIN_NUM_FORMS": "0",
        "visas-MAX_NUM_FORMS": "1000",
        "visas-0-signatory": str(signatory.pk),
        "visas-0-order": "1",
        "visas-0-person": str(director.pk),
    }

    saved = client.post(f"/admin/workflows/signatory/{signatory.pk}/change/", form)

    assert saved.status_code == 302, saved.content.decode()[:2000]
    signatory.refresh_from_db()
    assert signatory.visa_holders() == [director.pk]
    entry = HistoryEntry.objects.get(contract=contract, event=HistoryEvent.PEOPLE_CHANGED)
    assert entry.data["before"]["signatories.CAF"]["visas"] is None  # its organisation's
    assert entry.data["after"]["signatories.CAF"]["visas"] == ["direction.caf"]
