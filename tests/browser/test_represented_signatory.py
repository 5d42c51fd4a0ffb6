"""A represented signatory, as in the demo (``president.cd82``, whose representative
``elue.cd82`` holds his signature), opens "Mes tâches" in a real browser, in French: nothing to
do, but his signature is there, held by his representative, and its page opens read-only."""

import re

from playwright.sync_api import expect

from tests.browser.test_login import log_in
from tests.factories import (
    PASSWORD,
    ActionFactory,
    ContractFactory,
    OrganisationFactory,
    SignatoryFactory,
    SteeringCommitteeFactory,
    UserFactory,
)
from tests.flows import record_deliberation, walk_to_deliberation
from workflows.models import Task, TaskKind, TaskStatus

MY_TASKS = re.compile(r"^Mes tâches")


def test_a_represented_signatory_follows_the_signature_his_representative_holds(
    page, own_event_loop
):
    coordinator = UserFactory(username="coordination.cls")
    contract = ContractFactory(reference="CLS-TDC-2019", coordinator=coordinator)
    ActionFactory(contract=contract)
    SteeringCommitteeFactory(contract=contract)
    department = OrganisationFactory(code="CD82", name="Conseil départemental de Tarn-et-Garonne")
    president = UserFactory(username="president.cd82", first_name="Michel", last_name="Weill")
    elected = UserFactory(
        username="elue.cd82", civility="Mme", first_name="Valérie", last_name="Rabassa"
    )
    SignatoryFactory(
        contract=contract, organisation=department, signer=president, represented_by=elected
    )
    with own_event_loop():  # the committee's minutes and the document are signed
        walk_to_deliberation(contract, coordinator)
        record_deliberation(contract)
    task = Task.objects.get(kind=TaskKind.SIGNATURE, status=TaskStatus.ASSIGNED)
    assert task.owner == elected

    log_in(page, president.username, PASSWORD)
    page.get_by_role("navigation", name="Menu principal").get_by_role("link", name=MY_TASKS).click()

    expect(page.get_by_role("heading", name="Rien à faire pour le moment")).to_be_visible()
    held = page.get_by_role("region", name="Signatures tenues par votre représentant")
    expect(held).to_contain_text("CLS-TDC-2019")
    expect(held).to_contain_text("Valérie Rabassa")
    expect(held).to_contain_text("Conseil départemental de Tarn-et-Garonne")
    expect(held).to_contain_text("Pas encore signé")

    held.get_by_role("link", name=re.compile("CLS-TDC-2019")).click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    expect(page.get_by_text("Valérie Rabassa pour Michel Weill").first).to_be_visible()
    expect(page.get_by_role("button", name="Signer")).to_have_count(0)
    expect(page.get_by_label(re.compile("Mot de passe"))).to_have_count(0)
