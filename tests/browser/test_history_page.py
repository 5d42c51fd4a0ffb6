"""A contract's history read in a browser, in French, on a desktop and on a phone: the
changes in words, newest first, a page at a time, the notifications folded under each change,
filtered by event, person and action; nothing wider than the screen."""

import os
import re

from django.urls import reverse
from playwright.sync_api import Page, expect

from tests.browser.test_login import log_in
from tests.factories import PASSWORD, ActionFactory, ContractFactory, UserFactory
from tests.flows import launch
from workflows.models import HistoryEvent


def screenshot(page: Page, name: str) -> None:
    """A screenshot of the page when ACCORD_SCREENSHOTS names a folder."""
    if os.environ.get("ACCORD_SCREENSHOTS"):
        page.screenshot(path=os.path.join(os.environ["ACCORD_SCREENSHOTS"], name), full_page=True)


def no_horizontal_scroll(page: Page) -> None:
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page is {overflow}px wider than the screen"


def test_the_history_reads_in_words_newest_first_on_desktop_and_phone(page, live_server):
    coordinator = UserFactory(username="coordination", first_name="Thomas", last_name="Rouquette")
    contract = ContractFactory(reference="CLS-TDC-2019", coordinator=coordinator)
    lead = UserFactory(username="tech1.ars", first_name="Claire", last_name="Martin")
    for number in range(1, 31):
        action = ActionFactory(
            contract=contract, code=f"T1-A{number}", title=f"Action de santé no {number}"
        )
        action.working_group.leads.set([lead])
    launch(contract, coordinator)
    newest = contract.history.exclude(event=HistoryEvent.NOTIFIED).order_by("-seq").first()
    assert newest is not None
    assert contract.history.filter(event=HistoryEvent.NOTIFIED).exists()

    log_in(page, coordinator.username, PASSWORD)
    url = live_server.url + reverse("workflows:contract_history", args=[contract.pk])
    for width, height, name in ((1280, 900, "desktop"), (390, 844, "phone")):
        page.set_viewport_size({"width": width, "height": height})
        page.goto(url)
        expect(page.get_by_role("heading", level=1)).to_have_text("Historique de CLS-TDC-2019")
        timeline = page.get_by_role("list", name="Chronologie")
        entries = timeline.locator(":scope > li")
        expect(entries).to_have_count(50)
        # Newest first; dates the French way; people by name.
        expect(entries.first).to_contain_text(f"N° {newest.seq}")
        expect(timeline).to_contain_text("Thomas Rouquette")
        expect(entries.first.locator("time")).to_have_text(
            re.compile(r"^\d{1,2} \S+ \d{4} à \d{1,2} h \d{2}$")
        )
        # The notifications of a change are folded under it.
        notices = timeline.locator("details.timeline__notices").first
        expect(notices).to_be_visible()
        expect(notices.locator("summary")).to_have_text(re.compile(r"notifications? envoyées?"))
        notices.locator("summary").click()
        expect(notices).to_contain_text("Destinataires")
        expect(notices).to_contain_text("Claire Martin")
        expect(page.get_by_role("navigation", name="Pages de l\u2019historique")).to_contain_text(
            "Page 1 sur 2"
        )
        no_horizontal_scroll(page)
        screenshot(page, f"history-{name}.png")

    # Filtered by person (by name) and event (by its French label).
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(url)
    page.get_by_label("Personne").select_option(label="Thomas Rouquette")
    page.get_by_label("Événement").select_option(label="Changement de statut du contrat")
    page.get_by_role("button", name="Filtrer").click()
    entries = page.get_by_role("list", name="Chronologie").locator(":scope > li")
    expect(entries).to_have_count(1)
    expect(entries.first).to_contain_text("Thomas Rouquette a changé le statut du contrat.")
    # By action sheet, oldest first.
    page.goto(url)
    page.get_by_label("Fiche action").select_option("T1-A3")
    page.get_by_label("Ordre").select_option(label="Les plus anciennes d\u2019abord")
    page.get_by_role("button", name="Filtrer").click()
    entries = page.get_by_role("list", name="Chronologie").locator(":scope > li")
    expect(entries.first).to_contain_text("T1-A3")
    no_horizontal_scroll(page)
    screenshot(page, "history-filtered.png")


def test_the_audit_search_finds_people_by_name_on_a_phone(page, live_server):
    coordinator = UserFactory(username="coordination", first_name="Thomas", last_name="Rouquette")
    contract = ContractFactory(reference="CLS-TDC-2019", coordinator=coordinator)
    ActionFactory(contract=contract)
    launch(contract, coordinator)
    UserFactory(username="m.durand", first_name="Marie", last_name="Durand")
    UserFactory(username="p.durand", first_name="Paul", last_name="Durand")
    staff = UserFactory(username="controle", is_staff=True)

    log_in(page, staff.username, PASSWORD)
    page.set_viewport_size({"width": 390, "height": 844})
    search = live_server.url + reverse("workflows:history_search")
    page.goto(search)
    page.get_by_label("Personne").fill("thomas rouquette")
    page.get_by_role("button", name="Rechercher").click()
    expect(page.get_by_role("list", name="Entrées trouvées")).to_contain_text("Thomas Rouquette")
    no_horizontal_scroll(page)
    # A name two people share: both offered, one click away.
    page.get_by_label("Personne").fill("durand")
    page.get_by_role("button", name="Rechercher").click()
    expect(page.get_by_text("Plusieurs personnes correspondent").first).to_be_visible()
    no_horizontal_scroll(page)
    screenshot(page, "search-ambiguous-phone.png")
    page.get_by_role("link", name=re.compile("^Marie Durand")).click()
    expect(page).to_have_url(re.compile(r"person=m\.durand"))
