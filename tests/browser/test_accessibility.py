"""The main pages carry no serious or critical accessibility violation by axe-core's rules
(WCAG 2.1 A and AA, on which the RGAA builds): the log-in page, a lead's inbox, a review task
page, the contract page as a participant sees it, its actions' page and its history, the
audit search, the notification centre and its preferences (the coordinator's view of the
contract page, at every stage of the demo contract, is checked in ``test_contract_page.py``)."""

from __future__ import annotations

from pathlib import Path

from django.urls import reverse
from playwright.sync_api import expect

from tests.browser.test_contract_page import SHOTS
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
from workflows.models import Task, TaskStatus


def test_the_main_pages_have_no_serious_accessibility_violation(page, assert_accessible):
    # The public pages: log-in, and the installation's authority (its root certificate).
    for url in (reverse("login"), "/autorite/"):
        page.goto(url)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        assert_accessible(page)

    coordinator = UserFactory(username="coordination")
    contract = ContractFactory(reference="CLS-TDC-2019", coordinator=coordinator)
    SteeringCommitteeFactory(contract=contract)
    SignatoryFactory(contract=contract)
    lead = UserFactory(username="camille", first_name="Camille", last_name="Durand")
    action = ActionFactory(contract=contract, code="T1-A1", title="Accompagner les installations")
    action.working_group.leads.set([lead])
    launch(contract, coordinator)
    task = Task.objects.get(owner=lead, status=TaskStatus.ASSIGNED)

    log_in(page, lead.username, PASSWORD)
    for url in (
        reverse("workflows:inbox"),
        reverse("workflows:task_detail", args=[task.pk]),
        reverse("workflows:contract_detail", args=[contract.pk]),
        reverse("workflows:contract_actions", args=[contract.pk]),
        reverse("workflows:contract_history", args=[contract.pk]),
        reverse("workflows:history_search"),
        reverse("notifications:centre"),
        reverse("notifications:preferences"),
    ):
        page.goto(url)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        assert_accessible(page)


def test_the_coordinators_pages_have_no_serious_accessibility_violation(page, assert_accessible):
    """The analytics (charts and tables) and the contract page as its coordinator sees it."""
    coordinator = UserFactory(username="coordination")
    contract = ContractFactory(reference="CLS-TDC-2019", coordinator=coordinator)
    SteeringCommitteeFactory(contract=contract)
    SignatoryFactory(contract=contract)
    ActionFactory(contract=contract).working_group.leads.set([UserFactory()])
    launch(contract, coordinator)

    log_in(page, coordinator.username, PASSWORD)
    for url in (
        reverse("workflows:analytics"),
        reverse("workflows:contract_detail", args=[contract.pk]),
    ):
        page.goto(url)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        assert_accessible(page)


def test_the_check_fails_naming_each_serious_violation(page, assert_accessible):
    """The check itself: a field without a label and an image without a text alternative."""
    page.set_content(
        '<!doctype html><html lang="fr"><head><title>Essai</title></head><body><main>'
        '<h1>Essai</h1><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw="><input type="text">'
        "</main></body></html>"
    )
    try:
        assert_accessible(page)
    except AssertionError as failure:
        message = str(failure)
    else:
        raise AssertionError("axe-core found nothing wrong with an unlabelled field")
    assert "image-alt (critical)" in message
    assert "label (critical)" in message
    assert "img" in message
    assert "input" in message


def test_the_committee_meetings_form_is_styled_like_the_other_forms(page, assert_accessible):
    coordinator = UserFactory(username="coordination")
    contract = ContractFactory(reference="CLS-TDC-2019", coordinator=coordinator)
    SteeringCommitteeFactory(contract=contract)
    log_in(page, coordinator.username, PASSWORD)

    page.goto(reverse("notifications:meetings", args=[contract.pk]))

    def look(selector: str) -> list[str]:
        return page.eval_on_selector(
            selector,
            "e => { const s = getComputedStyle(e);"
            " return [s.backgroundColor, s.borderBottomStyle, s.display]; }",
        )

    place = look("input[type=text]")
    assert look("input[type=datetime-local]") == place
    assert look("input[type=url]") == place
    assert place[1] == "solid"  # the forms' underlined field, not the browser's default box
    Path(SHOTS).mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / "meetings-1280.png", full_page=True)
    assert_accessible(page)
