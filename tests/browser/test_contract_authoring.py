"""A contract written in the app, in a real browser and in French: a coordinator creates the
draft, completes it step by step (one problem shown beside its field on the way), adds a
sheet, launches the review from the verification step; then the review's first loop: the lead
asks for changes, the pilot edits the sheet from the revision task, the lead sees what changed
since the version they reviewed and approves (the story of issue 13; it took the place of the
loop's own test, which told its second half alone)."""

import re

from django.urls import reverse
from playwright.sync_api import expect

from tests.browser.test_login import log_in, log_out
from tests.factories import PASSWORD, OrganisationFactory, UserFactory, contract_author
from workflows.models import (
    ActionStatus,
    Contract,
    ContractStatus,
    Task,
    TaskKind,
    TaskStatus,
)


def save_and_continue(page, next_title: str) -> None:
    page.get_by_role("button", name="Enregistrer et continuer").click()
    expect(page.get_by_role("status").first).to_contain_text("Enregistré.")
    expect(page.get_by_role("heading", level=1)).to_contain_text(next_title)


def test_a_coordinator_writes_a_contract_and_its_review_goes_round(page, live_server):
    coordinator = contract_author(username="coordination")
    ars = OrganisationFactory(code="ARS", name="ARS Bourgogne", category="ARS")
    lead = UserFactory(username="camille", first_name="Camille", last_name="Durand")
    lead.organisation = ars
    lead.save()
    director = UserFactory(username="paul", first_name="Paul", last_name="Roche", organisation=ars)
    pilot = UserFactory(
        username="lea", first_name="Léa", last_name="Martin", organisation=coordinator.organisation
    )

    # Step 1: the new draft.
    log_in(page, coordinator.username, PASSWORD)
    page.get_by_role("link", name="Nouveau contrat").click()
    page.locator("#id_reference").fill("CLS-VO-2027")
    page.locator("#id_title").fill("Contrat local de santé du Val d'Ouche")
    page.locator("#id_kind").select_option("CLS")
    page.locator("#id_territory_name").fill("Val d'Ouche")
    page.locator("#id_territory_communes").fill("9")
    page.locator("#id_territory_population").fill("11200")
    page.locator("#id_period_start").fill("2027-01-01")
    page.locator("#id_period_end").fill("2031-12-31")
    page.get_by_role("button", name="Créer le brouillon et continuer").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Organismes")
    contract = Contract.objects.get(reference="CLS-VO-2027")
    expect(page.locator('[aria-current="step"]')).to_have_text(re.compile("Organismes"))

    # Organisations: the coordinator's is there; the ARS is added (known: taken as it is).
    expect(page.locator("#id_organisations-0-code")).to_have_value("CCVO")
    page.locator("#id_organisations-1-code").fill("ARS")
    page.locator("#id_organisations-1-name").fill("ARS Bourgogne")
    page.locator("#id_organisations-1-category").fill("ARS")
    save_and_continue(page, "Diagnostic local de santé")

    page.locator("#id_author").select_option("CCVO")
    page.locator("#id_finalised_on").fill("2026-06-30")
    page.locator("#id_summary").fill("Une démographie médicale fragile.")
    save_and_continue(page, "Personnes")

    people = [
        (lead, "ARS", "Chargée de mission"),
        (director, "ARS", "Directeur général"),
        (pilot, "CCVO", "Animatrice santé"),
    ]
    for row, (person, organisation, position) in enumerate(people, start=1):
        prefix = f"#id_people-{row}-"
        page.locator(prefix + "username").fill(person.username)
        page.locator(prefix + "first_name").fill(person.first_name)
        page.locator(prefix + "last_name").fill(person.last_name)
        page.locator(prefix + "email").fill(person.email)
        page.locator(prefix + "organisation").select_option(organisation)
        page.locator(prefix + "position").fill(position)
    save_and_continue(page, "Axes")

    page.locator("#id_themes-0-code").fill("T1")
    page.locator("#id_themes-0-title").fill("Accès aux soins")
    save_and_continue(page, "Groupes de travail")

    page.locator("#id_working_groups-0-code").fill("GT1")
    page.locator("#id_working_groups-0-title").fill("Accès aux soins")
    page.locator("#id_working_groups-0-leads").select_option(["camille"])
    page.locator("#id_working_groups-0-members").select_option(["lea"])
    save_and_continue(page, "Comité de pilotage")

    # A quorum above the committee's size: the service's words, beside the quorum.
    page.locator("#id_chair").select_option("paul")
    page.get_by_label("Paul Roche (paul)").check()
    page.get_by_label("Camille Durand (camille)").check()
    page.locator("#id_quorum").fill("3")
    page.get_by_role("button", name="Enregistrer et continuer").click()
    expect(page.get_by_role("alert")).to_be_visible()
    expect(page.locator("#id_quorum_error")).to_be_visible()
    expect(page.locator("#id_quorum")).to_have_attribute("aria-invalid", "true")
    page.locator("#id_quorum").fill("2")
    save_and_continue(page, "Coordination")

    expect(page.get_by_label("Inès Benali (coordination)")).to_be_checked()
    save_and_continue(page, "Signataires")

    page.locator("#id_signatories-0-organisation").select_option("ARS")
    page.locator("#id_signatories-0-kind").select_option("mandatory")
    page.locator("#id_signatories-0-signer").select_option("paul")
    page.locator("#id_signatories-0-order").fill("1")
    save_and_continue(page, "Fiches actions")

    # One sheet, begun here and written on its own page.
    page.locator("#id_theme").select_option("T1")
    page.locator("#id_code").fill("T1-A1")
    page.locator("#id_title").fill("Accompagner les installations")
    page.locator("#id_objective").fill("Deux installations de médecins par an.")
    page.locator("#id_pilot").select_option("lea")
    page.locator("#id_working_group").select_option("GT1")
    page.get_by_role("button", name="Ajouter la fiche").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("T1-A1")
    action = contract.actions.get(code="T1-A1")

    # Verification: complete, the review is launched from there.
    page.goto(reverse("workflows:contract_write", args=[contract.pk, "verification"]))
    expect(page.get_by_text("Le contrat est complet.")).to_be_visible()
    page.get_by_role("button", name="Lancer la revue").click()
    expect(page).to_have_url(
        live_server.url + reverse("workflows:contract_detail", args=[contract.pk])
    )
    contract.refresh_from_db()
    assert contract.status == ContractStatus.REVIEW
    review = Task.objects.get(owner=lead, kind=TaskKind.REVIEW, status=TaskStatus.ASSIGNED)
    log_out(page)

    # The lead asks for changes.
    log_in(page, lead.username, PASSWORD)
    page.goto(reverse("workflows:task_detail", args=[review.pk]))
    page.get_by_role("textbox", name=re.compile("^Votre commentaire")).fill("Chiffrer le budget.")
    page.get_by_role("button", name="Demander des modifications").click()
    expect(page).to_have_url(live_server.url + reverse("workflows:inbox"))
    log_out(page)

    # The pilot edits the sheet from the revision task, then sends it back.
    revision = Task.objects.get(owner=pilot, kind=TaskKind.REVISION, status=TaskStatus.ASSIGNED)
    log_in(page, pilot.username, PASSWORD)
    page.goto(reverse("workflows:task_detail", args=[revision.pk]))
    expect(page.get_by_text("Chiffrer le budget.")).to_be_visible()
    page.get_by_role("link", name="Modifier la fiche action T1-A1").click()
    page.get_by_role("textbox", name="Lieu").fill("Pouilly-en-Auxois")
    page.get_by_role("combobox", name="Financeur").first.select_option("ARS")
    page.get_by_role("textbox", name="Montant (€)").first.fill("40 000")
    page.get_by_role("button", name="Enregistrer la fiche").click()
    expect(page).to_have_url(live_server.url + reverse("workflows:task_detail", args=[revision.pk]))
    expect(page.get_by_role("status").first).to_contain_text("enregistrée en version 2")
    page.get_by_role("button", name="Renvoyer en relecture").click()
    log_out(page)

    # The lead sees what changed since version 1 and approves.
    again = Task.objects.get(owner=lead, status=TaskStatus.ASSIGNED)
    log_in(page, lead.username, PASSWORD)
    page.goto(reverse("workflows:task_detail", args=[again.pk]))
    changes = page.get_by_role("region", name=re.compile("^Ce qui a changé depuis la version 1"))
    expect(changes).to_contain_text("Pouilly-en-Auxois")
    expect(changes).to_contain_text("ARS — 40000.00 €")
    page.get_by_role("button", name="Approuver", exact=True).click()
    expect(page).to_have_url(live_server.url + reverse("workflows:inbox"))

    action.refresh_from_db()
    assert action.status == ActionStatus.APPROVED
    assert action.versions.count() == 2
