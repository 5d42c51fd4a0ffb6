"""Pages update live: the coordinator's contract page, open on one server process, shows a
lead's decision posted to another process (badge, status) without being reloaded; logging out
in one tab closes the others' live connection for good (no reconnection)."""

import re

import pytest
import requests
from django.conf import global_settings
from django.test import override_settings
from playwright.sync_api import expect
from rest_framework.authtoken.models import Token

from tests.browser.test_login import log_in
from tests.factories import (
    PASSWORD,
    ActionFactory,
    ContractFactory,
    SignatoryFactory,
    SteeringCommitteeFactory,
    UserFactory,
)
from tests.flows import open_tasks
from tests.notifications.servers import Servers, collect_static, require_services
from workflows import services
from workflows.models import TaskKind

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def servers(settings, tmp_path):
    require_services()
    env = {
        "ACCORD_VAR_DIR": str(tmp_path),
        "DJANGO_STATIC_ROOT": str(tmp_path / "static"),
        # Plain http in the test: cookies without the Secure flag.
        "DJANGO_SECURE_COOKIES": "false",
    }
    collect_static(settings, tmp_path / "static")
    with Servers(2, env=env) as running:
        yield running


def test_a_decision_on_another_process_updates_the_open_contract_page(browser, servers):
    coordinator = UserFactory(username="coordination", email="")
    # The servers check passwords with the production hashers, not the tests' MD5.
    with override_settings(PASSWORD_HASHERS=global_settings.PASSWORD_HASHERS):
        coordinator.set_password(PASSWORD)
        coordinator.save(update_fields=["password"])
    lead = UserFactory(username="camille", email="")
    contract = ContractFactory(reference="CLS-LIVE-1", coordinator=coordinator)
    SteeringCommitteeFactory(contract=contract)
    SignatoryFactory(contract=contract)
    ActionFactory(contract=contract).working_group.leads.set([lead])
    services.launch_review(contract=contract, actor=coordinator)
    (task,) = open_tasks(contract, TaskKind.REVIEW)
    token = Token.objects.create(user=lead).key

    context = browser.new_context(locale="fr-FR", base_url=servers.url(0))
    context.set_default_timeout(15_000)
    try:
        page = context.new_page()
        log_in(page, coordinator.username, PASSWORD)
        page.goto(f"/contrats/{contract.pk}/")
        status = page.locator('[data-live-region="contract-status"]')
        expect(status).to_contain_text("Revue des groupes de travail")
        badge = page.locator("[data-unread-badge]")
        before = int(badge.inner_text())
        page.wait_for_function("() => document.body.dataset.notificationsSocket")

        response = requests.post(
            servers.url(1, f"/api/v1/tasks/{task.pk}/decision/"),
            json={"decision": "approve"},
            headers={"Authorization": f"Token {token}"},
            timeout=30,
        )
        assert response.status_code == 200, response.text

        # The decision and the status change: two notifications, and the status region
        # fetched again from the server, without any reload of the page.
        expect(badge).to_have_text(str(before + 2))
        expect(status).to_contain_text("Comité de pilotage")
        expect(page.locator('[data-live-region="contract-progress"]')).to_contain_text(
            re.compile("1 sur 1 approuvée")
        )

        # Another tab of the same session, on the other process; logging out in the first
        # closes its socket (4401), and its script does not reconnect (it would after 1 s).
        other_tab = context.new_page()
        sockets: list = []
        other_tab.on("websocket", lambda socket: sockets.append(socket))
        other_tab.goto(servers.url(1, "/notifications/"))
        expect(other_tab.locator("body")).to_have_attribute("data-notifications-state", "open")
        page.get_by_role("button", name="Se déconnecter").click()
        expect(other_tab.locator("body")).to_have_attribute("data-notifications-state", "revoked")
        other_tab.wait_for_timeout(1500)
        assert len(sockets) == 1, "no reconnection after the log-out"
    finally:
        context.close()


def test_a_task_arriving_live_updates_the_task_counter_of_every_page(browser, servers):
    """Léa has her notification centre open on one process; the coordinator launches the
    review on the other: the header's "Mes tâches" and notification counters say so at once,
    as the server counts them (not 0 until the next reload)."""
    coordinator = UserFactory(username="coordination", email="")
    lead = UserFactory(username="lea", email="", first_name="Léa", last_name="Martin")
    with override_settings(PASSWORD_HASHERS=global_settings.PASSWORD_HASHERS):
        lead.set_password(PASSWORD)
        lead.save(update_fields=["password"])
    contract = ContractFactory(reference="CLS-LIVE-2", coordinator=coordinator)
    SteeringCommitteeFactory(contract=contract)
    SignatoryFactory(contract=contract)
    for _ in range(3):
        ActionFactory(contract=contract).working_group.leads.set([lead])
    token = Token.objects.create(user=coordinator).key

    context = browser.new_context(locale="fr-FR", base_url=servers.url(0))
    context.set_default_timeout(15_000)
    try:
        page = context.new_page()
        log_in(page, lead.username, PASSWORD)
        page.goto("/notifications/")
        expect(page.locator("body")).to_have_attribute("data-notifications-state", "open")
        tasks_badge = page.locator("[data-task-badge]")
        expect(tasks_badge).to_have_text("0")

        response = requests.post(
            servers.url(1, f"/api/v1/contracts/{contract.pk}/transitions/launch_review/"),
            json={},
            headers={"Authorization": f"Token {token}"},
            timeout=30,
        )
        assert response.status_code == 200, response.text

        expect(tasks_badge).to_have_text("3")
        expect(page.locator("[data-task-label]")).to_have_text("(3 tâches ouvertes)")
        # Three new tasks: one line in the centre, which is what the badge counts.
        expect(page.locator("[data-unread-badge]")).to_have_text("1")
        expect(page.locator(".notification-list")).to_contain_text(
            "3 nouvelles fiches à relire sur CLS-LIVE-2"
        )
    finally:
        context.close()
