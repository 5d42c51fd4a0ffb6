"""The CAF's legal department gives its internal visa from the task page, in French; the
finance department, next, must say why it refuses (life.md, "Partners' internal visas")."""

import os
import re

from playwright.sync_api import expect

from tests.browser.test_login import log_in
from tests.factories import (
    PASSWORD,
    ActionFactory,
    ContractFactory,
    OrganisationFactory,
    SignatoryFactory,
    UserFactory,
)
from tests.flows import open_tasks, record_deliberation, walk_to_deliberation
from workflows.models import OrganisationVisa, SignatoryKind, TaskKind


def test_the_legal_department_gives_its_visa_and_finance_must_say_why_it_refuses(
    page, tmp_path, off_the_browser_loop
):
    coordinator = UserFactory(username="coordination")
    contract = ContractFactory(reference="CLS-TDC-2019", coordinator=coordinator)
    caf = OrganisationFactory(code="CAF", name="CAF de Tarn-et-Garonne")
    legal = UserFactory(
        username="juridique.caf", first_name="Léa", last_name="Juriste", organisation=caf
    )
    legal.position = "Responsable du service juridique"
    legal.save(update_fields=["position"])
    finance = UserFactory(
        username="finances.caf", first_name="Marc", last_name="Comptable", organisation=caf
    )
    for rank, person in enumerate((legal, finance), start=1):
        OrganisationVisa.objects.create(organisation=caf, person=person, order=rank)
    ActionFactory(contract=contract)
    SignatoryFactory(contract=contract)
    SignatoryFactory(contract=contract, organisation=caf, kind=SignatoryKind.ASSOCIATED)
    with off_the_browser_loop():  # the committee's minutes and the document are signed
        walk_to_deliberation(contract, coordinator)
        record_deliberation(contract)
    (visa,) = open_tasks(contract, TaskKind.VISA)

    log_in(page, legal.username, PASSWORD)
    page.goto(f"/taches/{visa.pk}/")

    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Visa interne de CAF de Tarn-et-Garonne avant la signature de CLS-TDC-2019"
    )
    circuit = page.get_by_role("region", name="Le circuit des visas internes")
    expect(circuit).to_contain_text(
        "Léa Juriste, Responsable du service juridique — votre visa, demandé maintenant"
    )
    expect(circuit).to_contain_text("Marc Comptable")
    if os.environ.get("ACCORD_SCREENSHOTS"):
        page.screenshot(
            path=os.path.join(os.environ["ACCORD_SCREENSHOTS"], "visa.png"), full_page=True
        )
    page.get_by_role("button", name="Donner mon visa", exact=True).click()

    expect(page.get_by_role("status").first).to_contain_text("Votre visa est donné")
    (second,) = open_tasks(contract, TaskKind.VISA)
    assert second.owner == finance
    page.context.clear_cookies()
    log_in(page, finance.username, PASSWORD)
    page.goto(f"/taches/{second.pk}/")
    expect(page.get_by_role("region", name="Le circuit des visas internes")).to_contain_text(
        re.compile(r"Léa Juriste, Responsable du service juridique — visa donné le")
    )
    page.get_by_role("button", name="Refuser le visa", exact=True).click()

    expect(page.get_by_role("alert").first).to_contain_text(
        "Indiquez dans un commentaire pourquoi vous refusez le visa."
    )
    assert open_tasks(contract, TaskKind.VISA) == [second]
