"""The demo contract's page fits: under three screens at 1280 px at every stage of its life,
no horizontal scroll at 390 px, no serious accessibility violation (axe-core), and what waits on
whom, the coordinator's steps and the latest history entries in view.

Screenshots of each stage at both widths are written to ``var/screenshots/contract-page/`` (or
``$ACCORD_SCREENSHOTS``) for a person to look at.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.urls import reverse
from playwright.sync_api import expect

from tests.browser.test_login import log_in
from tests.flows import approve_reviews, decide, open_tasks, record_deliberation, vote
from workflows import services
from workflows.management.commands.load_demo import DEMO_PASSWORD
from workflows.models import Contract, TaskKind

WIDE = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
SCREENS = 3  # the page's height may not exceed three 800-pixel screens at 1280 px
SHOTS = Path(os.environ.get("ACCORD_SCREENSHOTS", settings.BASE_DIR / "var" / "screenshots"))


def _look_at(page, contract: Contract, stage: str) -> int:
    """The page's height at 1280 px (screenshots at both widths); fails on a horizontal scroll."""
    folder = SHOTS / "contract-page"
    folder.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size(WIDE)
    page.goto(reverse("workflows:contract_detail", args=[contract.pk]))
    expect(page.get_by_role("heading", level=1)).to_have_text(contract.title)
    height = page.evaluate("document.body.scrollHeight")
    page.screenshot(path=folder / f"{stage}-1280.png", full_page=True)
    page.set_viewport_size(PHONE)
    overflow = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    page.screenshot(path=folder / f"{stage}-390.png", full_page=True)
    assert overflow[0] <= overflow[1], f"{stage}: horizontal scroll at 390 px {overflow}"
    page.set_viewport_size(WIDE)
    return height


def test_the_demo_contract_page_fits_in_three_screens_at_every_stage(
    page, live_server, own_event_loop, assert_accessible
):
    with own_event_loop():
        call_command("load_demo", "--allow-demo-passwords", stdout=open(os.devnull, "w"))  # noqa: SIM115
        # The nightly check's checkpoint: from then on the page recomputes the entries since.
        call_command("verify_history", stdout=open(os.devnull, "w"))  # noqa: SIM115
    contract = Contract.objects.get()
    coordinator = contract.coordinators.order_by("pk")[0]
    log_in(page, coordinator.username, DEMO_PASSWORD)
    heights = {}

    # Under review: the leads' reviews wait, grouped; the irreversible steps are folded away.
    heights["review"] = _look_at(page, contract, "1-review")
    waiting = page.locator("#tasks")
    expect(waiting.get_by_role("heading", level=2)).to_have_text(
        re.compile("^(En attente de qui|Waiting on whom)")
    )
    expect(waiting.locator(".table--waiting tbody tr").first).to_be_visible()
    withdraw = page.get_by_role("button", name=re.compile("^(Retirer définitivement|Withdraw)"))
    expect(withdraw).to_be_hidden()
    page.locator("#irreversible > summary").click()
    expect(withdraw).to_be_visible()
    # The latest entries, and the way to the others.
    expect(page.locator("#history .timeline__entry")).to_have_count(20)
    expect(page.locator("#history .integrity")).to_contain_text(
        re.compile("(Chaîne vérifiée en entier|Chain checked whole)")
    )
    expect(
        page.locator("#history").get_by_role("link", name=re.compile("(historique|history)", re.I))
    ).to_be_visible()
    assert_accessible(page)

    with own_event_loop():
        approve_reviews(contract)
    heights["committee"] = _look_at(page, contract, "2-committee")
    assert_accessible(page)

    with own_event_loop():
        vote(contract)
        record_deliberation(contract)
        first = open_tasks(contract, TaskKind.SIGNATURE)[0]
        decide(first, "sign", password=DEMO_PASSWORD)
    heights["signing"] = _look_at(page, contract, "3-signing")

    with own_event_loop():
        while tasks := open_tasks(contract, TaskKind.SIGNATURE):
            decide(tasks[0], "sign", password=DEMO_PASSWORD)
    contract.refresh_from_db()
    assert contract.status == "signed"
    heights["signed"] = _look_at(page, contract, "4-signed")
    assert_accessible(page)

    with own_event_loop():
        services.amendment_open(contract=contract, actor=coordinator, summary="Prolongation")
    heights["amendment"] = _look_at(page, contract, "5-amendment")
    assert_accessible(page)

    print("Contract page heights at 1280 px:", heights)  # for the report (pytest -s)
    too_tall = {stage: h for stage, h in heights.items() if h > SCREENS * WIDE["height"]}
    assert not too_tall, f"taller than {SCREENS} screens at 1280 px: {too_tall} (all: {heights})"


def test_the_demo_contract_page_fits_in_three_screens_as_a_draft(page, assert_accessible):
    call_command(
        "load_demo",
        "--allow-demo-passwords",
        "--draft",
        stdout=open(os.devnull, "w"),  # noqa: SIM115
    )
    contract = Contract.objects.get()
    coordinator = contract.coordinators.order_by("pk")[0]
    log_in(page, coordinator.username, DEMO_PASSWORD)

    height = _look_at(page, contract, "0-draft")

    expect(
        page.get_by_role("button", name=re.compile("^(Lancer la revue|Launch the review)"))
    ).to_be_visible()
    assert_accessible(page)
    assert height <= SCREENS * WIDE["height"], height
