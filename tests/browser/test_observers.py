"""A coordinator adds an observer from the contract page; the observer opens a sheet and
comments on it, naming its pilot, who is told (life.md, "Observers", "Comments")."""

import os

from playwright.sync_api import expect

from notifications.models import Notification, NotificationEvent
from tests.browser.test_login import log_in, log_out
from tests.factories import PASSWORD, ActionFactory, ContractFactory, UserFactory
from workflows.models import SheetComment


def shot(page, name: str, part: str = "") -> None:
    """A screenshot of the page (or of one of its parts) when ACCORD_SCREENSHOTS names a folder."""
    if os.environ.get("ACCORD_SCREENSHOTS"):
        path = os.path.join(os.environ["ACCORD_SCREENSHOTS"], name)
        if part:
            page.locator(part).screenshot(path=path)
        else:
            page.screenshot(path=path, full_page=True)


def test_an_observer_added_by_the_coordinator_comments_on_a_sheet(page):
    coordinator = UserFactory(username="coordination")
    contract = ContractFactory(reference="CLS-TDC-2019", coordinator=coordinator)
    pilot = UserFactory(username="lea.pilote", first_name="Léa", last_name="Garnier")
    action = ActionFactory(contract=contract, code="T1-A1", title="Maison de santé", pilot=pilot)
    UserFactory(username="ines.elue", first_name="Inès", last_name="Durand")

    log_in(page, coordinator.username, PASSWORD)
    page.goto(f"/contrats/{contract.pk}/#observers")
    observers = page.locator("#observers")
    observers.get_by_label("Identifiant\u00a0:", exact=True).fill("ines.elue")
    observers.get_by_role("button", name="Ajouter l\u2019observateur").click()
    expect(page.locator("#observers")).to_contain_text("Inès Durand")
    shot(page, "observers.png", "#observers")

    log_out(page)
    log_in(page, "ines.elue", PASSWORD)
    page.goto(f"/fiches/{action.pk}/")
    page.get_by_label("Commentaire sur la fiche\u00a0:", exact=True).fill(
        "@lea.pilote : quel calendrier ?"
    )
    page.get_by_role("button", name="Ajouter le commentaire").click()

    expect(page.locator("#comments")).to_contain_text("quel calendrier ?")
    expect(page.locator("#comments")).to_contain_text("Inès Durand")
    shot(page, "sheet_comments.png")
    assert SheetComment.objects.get().author.username == "ines.elue"
    assert Notification.objects.filter(recipient=pilot, event=NotificationEvent.MENTIONED).exists()
