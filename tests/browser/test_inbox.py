"""A working-group lead approves an action sheet from their inbox, in a real browser, in French.

Locators use roles and accessible names. Until the French catalogue covers the task pages,
their new texts read in English: those locators accept either language.
"""

import re

from django.urls import reverse
from playwright.sync_api import expect

from tests.browser.test_login import log_in
from tests.factories import (
    PASSWORD,
    ActionFactory,
    ContractFactory,
    SignatoryFactory,
    SteeringCommitteeFactory,
    UserFactory,
)
from tests.flows import launch
from workflows.models import ActionStatus, Task, TaskStatus

MY_TASKS = re.compile(r"^(Mes tâches|My tasks)")


def test_a_lead_approves_an_action_sheet_from_the_inbox(page, live_server):
    coordinator = UserFactory(username="coordination")
    contract = ContractFactory(reference="CLS-TDC-2019", coordinator=coordinator)
    SteeringCommitteeFactory(contract=contract)
    SignatoryFactory(contract=contract)
    lead = UserFactory(username="camille", first_name="Camille", last_name="Durand")
    action = ActionFactory(contract=contract, code="T1-A1", title="Accompagner les installations")
    action.working_group.leads.set([lead, UserFactory()])
    launch(contract, coordinator)
    task = Task.objects.get(owner=lead, status=TaskStatus.ASSIGNED)

    log_in(page, lead.username, PASSWORD)

    # The header links to the inbox with the number of open tasks.
    nav = page.get_by_role("navigation", name=re.compile("^(Menu principal|Main menu)$"))
    inbox_link = nav.get_by_role("link", name=MY_TASKS)
    expect(inbox_link).to_contain_text("1")
    inbox_link.click()

    expect(page).to_have_url(live_server.url + reverse("workflows:inbox"))
    expect(page.get_by_role("heading", level=1)).to_have_text(MY_TASKS)
    table = page.get_by_role("table")
    expect(table.get_by_role("row")).to_have_count(2)  # the header and the task
    expect(table).to_contain_text("CLS-TDC-2019")
    expect(table).to_contain_text("Accompagner les installations")

    table.get_by_role("link", name=re.compile("T1-A1")).click()

    expect(page).to_have_url(live_server.url + reverse("workflows:task_detail", args=[task.pk]))
    expect(page.get_by_role("heading", level=1)).to_contain_text("T1-A1")
    comment = page.get_by_role("textbox", name=re.compile("^(Votre commentaire|Your comment)"))
    expect(comment).to_be_visible()
    comment.fill("Fiche claire, budget cohérent.")
    page.get_by_role("button", name="Approuver", exact=True).click()

    expect(page).to_have_url(live_server.url + reverse("workflows:inbox"))
    status = page.get_by_role("status").filter(has_text="T1-A1")
    expect(status).to_contain_text(re.compile("(fiche action|action sheet) T1-A1"))
    expect(page.get_by_role("table")).to_have_count(0)
    expect(page.get_by_role("link", name=re.compile("T1-A1"))).to_have_count(0)
    expect(
        page.get_by_role("navigation", name=re.compile("^(Menu principal|Main menu)$")).get_by_role(
            "link", name=MY_TASKS
        )
    ).to_contain_text("0")

    task.refresh_from_db()
    assert task.status == TaskStatus.DONE
    assert task.comment == "Fiche claire, budget cohérent."
    action.refresh_from_db()
    assert action.status == ActionStatus.REVIEW  # the other lead has yet to approve
