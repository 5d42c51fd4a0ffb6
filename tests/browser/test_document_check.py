"""A coordinator checks, in a real browser, a copy of the sealed contract someone changed after
the seal: the page says, in French, that it was modified after the seal and names what was
added; at 1280 px and on a phone (390 px), without horizontal scrolling."""

import os

from playwright.sync_api import expect

from signatures.selectors import contract_document_pdf
from tests.browser.test_login import log_in
from tests.factories import PASSWORD, ActionFactory, ContractFactory, SignatoryFactory, UserFactory
from tests.flows import walk_to_signed
from tests.signatures.test_modifications import annotated


def test_a_copy_annotated_after_the_seal_is_reported_modified(page, own_event_loop, tmp_path):
    coordinator = UserFactory(username="coordination.cls")
    contract = ContractFactory(reference="CLS-TDC-2019", coordinator=coordinator)
    ActionFactory(contract=contract)
    SignatoryFactory(contract=contract, organisation__name="Agence régionale de santé")
    with own_event_loop():
        walk_to_signed(contract, coordinator)
    copy = tmp_path / "copie.pdf"
    copy.write_bytes(annotated(contract_document_pdf(contract)))

    log_in(page, coordinator.username, PASSWORD)
    page.goto(f"/contrats/{contract.pk}/document/verification/")
    page.get_by_label("Une copie du document (PDF)").set_input_files(copy)
    page.get_by_role("button", name="Vérifier cette copie").click()

    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Le document a été modifié après le sceau d’Accord.")  # noqa: RUF001
    expect(alert.get_by_role("list")).to_have_text("annotation sur la page 1")
    shots = os.environ.get("ACCORD_SCREENSHOTS")
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        if shots:
            page.screenshot(path=f"{shots}/verification-{width}.png", full_page=True)
