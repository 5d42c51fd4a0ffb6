"""The coordinator of a signed contract downloads its package for the public archives from
the contract page; a working-group lead sees no such button (workflows/audit/archive.py)."""

import os
import zipfile

from playwright.sync_api import expect

from tests.browser.test_login import log_in, log_out
from tests.factories import PASSWORD, ActionFactory, ContractFactory, SignatoryFactory, UserFactory
from tests.flows import walk_to_signed


def test_the_coordinator_downloads_the_archive_and_a_lead_sees_no_button(page, own_event_loop):
    coordinator = UserFactory(username="coordination")
    contract = ContractFactory(reference="CLS-TDC-2019", coordinator=coordinator)
    ActionFactory(contract=contract)
    SignatoryFactory(contract=contract)
    with own_event_loop():  # the committee's minutes are signed as the vote is decided
        walk_to_signed(contract, coordinator)
    lead = contract.working_groups.first().leads.first()

    log_in(page, coordinator.username, PASSWORD)
    page.goto(f"/contrats/{contract.pk}/")
    # Among the coordinator's operations, and under the document and its signatures.
    operations = page.get_by_role("region", name="Opérations de coordination")
    expect(
        operations.get_by_role("link", name="Télécharger le paquet pour les archives publiques")
    ).to_be_visible()
    page.locator("#document-panel > summary").click()
    archives = page.get_by_role("region", name="Archives publiques")
    button = archives.get_by_role("link", name="Télécharger l\u2019archive (SEDA 2.2)")
    expect(button).to_be_visible()
    button.focus()  # reachable from the keyboard
    with page.expect_download() as download:
        page.keyboard.press("Enter")
    assert download.value.suggested_filename == "accord-CLS-TDC-2019-archive.zip"
    package = zipfile.ZipFile(download.value.path())
    assert package.namelist()[0] == "manifest.xml"
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        # The section itself fits (the rest of the page is another item of issue 16's).
        box = archives.bounding_box()
        assert box is not None
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= width
        button_box = button.bounding_box()
        assert button_box is not None
        assert button_box["x"] + button_box["width"] <= width
        if os.environ.get("ACCORD_SCREENSHOTS"):
            archives.scroll_into_view_if_needed()
            page.screenshot(
                path=os.path.join(os.environ["ACCORD_SCREENSHOTS"], f"archive-{width}.png")
            )

    log_out(page)
    log_in(page, lead.username, PASSWORD)
    page.goto(f"/contrats/{contract.pk}/")
    expect(page.get_by_role("heading", level=1)).to_have_text(contract.title)
    expect(page.get_by_role("region", name="Archives publiques")).to_have_count(0)
