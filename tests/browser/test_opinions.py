"""A lead asks the pilot's opinion from the review's page; the pilot answers from the
opinion task's page; the lead reads the answer on the review's page, in French (life.md,
"Changing one's mind, asking an opinion, following")."""

import os

from playwright.sync_api import expect

from tests.browser.test_login import log_in, log_out
from tests.factories import (
    PASSWORD,
    ActionFactory,
    ContractFactory,
    SignatoryFactory,
    SteeringCommitteeFactory,
    UserFactory,
    WorkingGroupFactory,
)
from tests.flows import launch
from workflows.models import Task, TaskKind


def screenshot(page, name: str) -> None:
    if os.environ.get("ACCORD_SCREENSHOTS"):
        page.screenshot(path=os.path.join(os.environ["ACCORD_SCREENSHOTS"], name), full_page=True)


def test_a_lead_asks_the_pilot_and_reads_the_answer_on_the_review(page):
    coordinator = UserFactory(username="coordination")
    contract = ContractFactory(reference="CLS-TDC-2019", coordinator=coordinator)
    lead = UserFactory(username="claire.martin", first_name="Claire", last_name="Martin")
    pilot = UserFactory(username="lea.garnier", first_name="Léa", last_name="Garnier")
    group = WorkingGroupFactory(contract=contract, leads=[lead])
    ActionFactory(
        contract=contract, working_group=group, pilot=pilot, code="T1-A1", title="Maison de santé"
    )
    SteeringCommitteeFactory(contract=contract)
    SignatoryFactory(contract=contract)
    launch(contract, coordinator)
    review = Task.objects.get(owner=lead, kind=TaskKind.REVIEW)

    log_in(page, lead.username, PASSWORD)
    page.goto(f"/taches/{review.pk}/")
    page.get_by_label("À qui demander").select_option(value=str(pilot.pk))
    page.get_by_label("Votre question").fill("Le budget est-il confirmé ?")
    page.get_by_role("button", name="Demander un avis").click()
    expect(page.get_by_role("status").first).to_contain_text(
        "Votre question est envoyée\u00a0: Léa Garnier a une tâche d\u2019avis."
    )
    expect(page.locator(".opinions")).to_contain_text("en attente")

    log_out(page)
    log_in(page, pilot.username, PASSWORD)
    opinion = Task.objects.get(owner=pilot, kind=TaskKind.OPINION)
    page.goto(f"/taches/{opinion.pk}/")
    expect(page.locator(".opinion-question")).to_contain_text("Le budget est-il confirmé ?")
    screenshot(page, "opinion-task.png")
    page.get_by_label("Votre avis").fill("Oui, voté au budget primitif.")
    page.get_by_role("button", name="Donner mon avis").click()
    expect(page.get_by_role("status").first).to_contain_text("Votre avis est enregistré")

    log_out(page)
    log_in(page, lead.username, PASSWORD)
    page.goto(f"/taches/{review.pk}/")
    expect(page.locator(".opinions")).to_contain_text("Oui, voté au budget primitif.")
    screenshot(page, "opinion-asked.png")
