"""A history cut at its end after its head was anchored: the history page and the contract
page say which entries are missing since which anchor, in French, at 1280 and 390 px."""

import os

from django.core.management import call_command
from playwright.sync_api import expect

from tests.browser.test_login import log_in
from tests.factories import PASSWORD, ActionFactory, ContractFactory, UserFactory
from tests.flows import force_on_tables, launch, tamper_with_history
from workflows import services


def test_the_pages_name_the_entries_cut_since_the_anchor(page):
    coordinator = UserFactory(username="coordination")
    contract = ContractFactory(reference="CLS-TDC-2019", coordinator=coordinator)
    ActionFactory.create_batch(2, contract=contract)
    launch(contract, coordinator)
    services.suspend(contract=contract, actor=coordinator, reason="Fusion")
    call_command("verify_history")  # anchors the head: a checkpoint and today's signed file
    last = contract.history.count()
    tamper_with_history(
        "DELETE FROM workflows_historyentry WHERE contract_id = %s AND seq >= %s",
        [contract.pk, last - 2],
    )
    # The checkpoints deleted too: the signed head file still knows.
    force_on_tables("DELETE FROM workflows_historycheckpoint", "workflows_historycheckpoint")

    log_in(page, coordinator.username, PASSWORD)
    words = (
        f"Historique tronqué\u00a0: entrées n° {last - 2} à {last}"
        " manquantes depuis l\u2019ancre du"
    )
    for width, height in ((1280, 900), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        page.goto(f"/contrats/{contract.pk}/historique/")
        alert = page.get_by_role("alert")
        expect(alert).to_contain_text(words)
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        if folder := os.environ.get("ACCORD_SCREENSHOTS"):
            page.screenshot(path=os.path.join(folder, f"history-cut-{width}.png"))
        page.goto(f"/contrats/{contract.pk}/")
        expect(page.get_by_role("alert")).to_contain_text(words)
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        if folder := os.environ.get("ACCORD_SCREENSHOTS"):
            page.get_by_role("alert").screenshot(path=os.path.join(folder, f"contract-{width}.png"))
