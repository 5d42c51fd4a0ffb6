"""A lead who approved too quickly takes the decision back from the task page, in French,
while the other lead has not reviewed yet (life.md, "Changing one's mind")."""

import os

from playwright.sync_api import expect

from tests.browser.test_login import log_in
from tests.factories import (
    PASSWORD,
    ActionFactory,
    ContractFactory,
    SignatoryFactory,
    SteeringCommitteeFactory,
    UserFactory,
    WorkingGroupFactory,
)
from tests.flows import decide, launch
from workflows.models import Task, TaskKind, TaskStatus


def test_a_lead_undoes_their_approval_from_the_task_page(page):
    coordinator = UserFactory(username="coordination")
    contract = ContractFactory(reference="CLS-TDC-2019", coordinator=coordinator)
    lead = UserFactory(username="lea.pilote", first_name="Léa", last_name="Garnier")
    group = WorkingGroupFactory(contract=contract, leads=[lead, UserFactory()])
    ActionFactory(contract=contract, working_group=group, code="T1-A1", title="Maison de santé")
    SteeringCommitteeFactory(contract=contract)
    SignatoryFactory(contract=contract)
    launch(contract, coordinator)
    review = decide(Task.objects.get(owner=lead, kind=TaskKind.REVIEW), "approve")

    log_in(page, lead.username, PASSWORD)
    page.goto(f"/taches/{review.pk}/")
    undo = page.get_by_role("button", name="Annuler ma décision", exact=True)
    expect(undo).to_be_visible()
    if os.environ.get("ACCORD_SCREENSHOTS"):
        page.screenshot(
            path=os.path.join(os.environ["ACCORD_SCREENSHOTS"], "undo.png"), full_page=True
        )
    undo.click()

    expect(page.get_by_role("status").first).to_contain_text(
        "Votre décision est annulée\u00a0: la tâche est de nouveau ouverte."
    )
    expect(page.get_by_role("button", name="Annuler ma décision")).to_have_count(0)
    review.refresh_from_db()
    assert review.status == TaskStatus.ASSIGNED
