"""The coordinator's notification centre after a morning of reviews: twelve approvals told as
one line, their detail one click away, read in one click; it fits a phone as a desk."""

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
)
from tests.flows import decide, launch, open_tasks
from workflows.models import TaskKind


def screenshot(page, name: str) -> None:
    if os.environ.get("ACCORD_SCREENSHOTS"):
        page.screenshot(path=os.path.join(os.environ["ACCORD_SCREENSHOTS"], name), full_page=True)


def no_horizontal_scroll(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_twelve_approvals_are_one_line_that_opens_and_is_read_at_once(page):
    coordinator = UserFactory(username="coordination", first_name="Claire", last_name="Durand")
    contract = ContractFactory(reference="CLS-TDC-2019", coordinator=coordinator)
    SteeringCommitteeFactory(contract=contract)
    SignatoryFactory(contract=contract)
    lead = UserFactory(username="camille", first_name="Camille", last_name="Roux")
    for _ in range(12):
        ActionFactory(contract=contract).working_group.leads.set([lead])
    launch(contract, coordinator)
    reviews = open_tasks(contract, TaskKind.REVIEW)
    for task in reviews[:-1]:
        decide(task)
    decide(reviews[-1], "request_changes", comment="Le calendrier manque.")

    log_in(page, coordinator.username, PASSWORD)
    page.goto("/notifications/")

    lines = page.locator(".notification-list > li")
    expect(lines).to_have_count(2)
    grouped = lines.filter(has_text="11 fiches approuvées sur CLS-TDC-2019")
    expect(grouped).to_have_count(1)
    expect(page.locator("[data-unread-badge]")).to_have_text("2")
    detail = grouped.get_by_text("Voir les 11 notifications")
    expect(detail).to_be_visible()
    expect(grouped.get_by_text("Camille Roux a approuvé").first).to_be_hidden()
    page.set_viewport_size({"width": 1280, "height": 800})
    no_horizontal_scroll(page)
    screenshot(page, "notification-centre-1280.png")

    detail.click()
    expect(grouped.get_by_text("Camille Roux a approuvé")).to_have_count(11)
    page.set_viewport_size({"width": 390, "height": 844})
    no_horizontal_scroll(page)
    screenshot(page, "notification-centre-390.png")

    grouped.get_by_role("button", name="Marquer comme lu").click()
    expect(page.locator("[data-unread-badge]")).to_have_text("1")
    expect(lines.filter(has_text="11 fiches approuvées")).not_to_have_class("notification--unread")
