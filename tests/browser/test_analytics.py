"""A coordinator finds where their contracts get stuck: the analytics page from the menu,
filtered to a period and an organisation, its charts drawn (no script, allowed by the CSP),
its tables, a CSV downloaded; at 1280 px and on a 390 px phone, without horizontal scroll."""

import os
import time

from playwright.sync_api import expect

from tests.browser.test_login import log_in
from tests.factories import PASSWORD, UserFactory
from tests.workflows.test_analytics import build_tasks


def shot(page, name: str) -> None:
    """A screenshot of the whole page when ACCORD_SCREENSHOTS names a folder."""
    if os.environ.get("ACCORD_SCREENSHOTS"):
        page.screenshot(path=os.path.join(os.environ["ACCORD_SCREENSHOTS"], name), full_page=True)


def no_horizontal_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def charts_drawn(page) -> int:
    """The charts shown, once every image has loaded (a chart not drawn before comes from its
    own address, drawn when the browser asks for it)."""
    # Polled from here: ``wait_for_function``'s polling evaluates a string, which the page's
    # Content Security Policy (no 'unsafe-eval') refuses.
    deadline = time.monotonic() + 30
    while not page.evaluate(
        "[...document.querySelectorAll('figure.chart img')].every(image => image.complete)"
    ):
        assert time.monotonic() < deadline, "the charts did not load within 30 s"
        page.wait_for_timeout(100)
    return page.evaluate(
        "[...document.querySelectorAll('figure.chart img')]"
        ".filter(image => image.complete && image.naturalWidth > 0).length"
    )


def test_a_coordinator_filters_the_analytics_and_downloads_a_table(page):
    tasks = build_tasks()
    coordinator = UserFactory(username="coordination", first_name="Thomas", last_name="Rouquette")
    for contract in (tasks["first"], tasks["second"]):
        contract.coordinators.add(coordinator)
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))

    page.set_viewport_size({"width": 1280, "height": 900})
    log_in(page, coordinator.username, PASSWORD)
    page.get_by_role("navigation", name="Menu principal").get_by_role(
        "link", name="Analyse"
    ).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Analyse\u00a0: où les contrats prennent du retard"
    )
    page.get_by_label("Du\u00a0:", exact=True).fill("2026-03-01")
    page.get_by_label("Au\u00a0:", exact=True).fill("2026-03-31")
    page.get_by_role("button", name="Afficher").click()

    steps = page.get_by_role("table", name="Temps passé par type de tâche")
    expect(steps.get_by_role("row")).to_have_count(4)  # the header and three kinds
    expect(steps.get_by_role("row").nth(1)).to_contain_text("Signature")
    expect(steps.get_by_role("row").nth(2)).to_contain_text("Relecture d\u2019une fiche action")
    expect(steps.get_by_role("row").nth(2)).to_contain_text("25")
    expect(steps.get_by_role("row").nth(2)).to_contain_text("37")
    expect(page.get_by_role("img", name="Diagramme en barres de la médiane")).to_have_count(4)
    assert charts_drawn(page) == 4
    assert no_horizontal_scroll(page)
    shot(page, "analytics-1280.png")

    page.get_by_label("Organisme\u00a0:", exact=True).select_option(label="Agence du Nord")
    page.get_by_role("button", name="Afficher").click()
    people = page.get_by_role("table", name="Temps passé par personne")
    expect(people.get_by_role("row")).to_have_count(2)
    expect(people).to_contain_text("Alice Durand")

    with page.expect_download() as download:
        page.get_by_role("link", name="Télécharger les chiffres par organisme (CSV)").click()
    content = open(download.value.path(), encoding="utf-8-sig").read()  # noqa: SIM115
    assert content.splitlines() == [
        "Organisme;Tâches;Médiane (heures);90e centile (heures);Terminées en retard (%)",
        "Agence du Nord;3;20,00;84,00;66,67",
    ]

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    assert charts_drawn(page) == 4
    assert no_horizontal_scroll(page)
    shot(page, "analytics-390.png")
    # The charts are SVG images, data: or the site's own: nothing in them is refused by the
    # page's CSP.
    assert [text for text in console if "Content Security Policy" in text] == []
