"""The first loop of a review, in a real browser and in French: a lead asks for changes, the
pilot edits the sheet from the revision task and sends it back, the lead sees what changed
since the version they reviewed and approves."""

import re

from django.urls import reverse
from playwright.sync_api import expect

from tests.browser.test_login import log_in
from tests.factories import (
    PASSWORD,
    ActionFactory,
    ContractFactory,
    OrganisationFactory,
    SignatoryFactory,
    SteeringCommitteeFactory,
    UserFactory,
)
from tests.flows import launch
from workflows.models import ActionStatus, Task, TaskKind, TaskStatus


def log_out(page) -> None:
    page.context.clear_cookies()


def test_a_sheet_goes_back_to_its_pilot_is_edited_and_approved(page, live_server):
    coordinator = UserFactory(username="coordination")
    contract = ContractFactory(reference="CLS-TDC-2019", coordinator=coordinator)
    contract.organisations.add(OrganisationFactory(code="CD82", name="Département"))
    SteeringCommitteeFactory(contract=contract)
    SignatoryFactory(contract=contract)
    lead = UserFactory(username="camille", first_name="Camille", last_name="Durand")
    pilot = UserFactory(username="lea", first_name="Léa", last_name="Martin")
    action = ActionFactory(
        contract=contract, code="T1-A1", title="Accompagner les installations", pilot=pilot
    )
    action.working_group.leads.set([lead])
    launch(contract, coordinator)
    review = Task.objects.get(owner=lead, status=TaskStatus.ASSIGNED)

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
    page.get_by_role("textbox", name="Lieu").fill("Caussade")
    page.get_by_role("combobox", name="Financeur").first.select_option("CD82")
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
    expect(changes).to_contain_text("Caussade")
    expect(changes).to_contain_text("CD82 — 40000.00 €")
    page.get_by_role("button", name="Approuver", exact=True).click()
    expect(page).to_have_url(live_server.url + reverse("workflows:inbox"))

    action.refresh_from_db()
    assert action.status == ActionStatus.APPROVED
    assert action.versions.count() == 2
