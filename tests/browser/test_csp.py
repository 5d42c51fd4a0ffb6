"""The main pages under the Content-Security-Policy: no violation in Chromium (an inline
script, handler or style left behind would be refused and reported)."""

import pytest
from django.urls import reverse

from tests.browser.test_login import log_in
from tests.factories import PASSWORD, ActionFactory, ContractFactory, UserFactory
from tests.flows import launch
from workflows.models import Task, TaskStatus

pytestmark = pytest.mark.django_db(transaction=True)

# Every violation the page's document reports, from before its first script runs.
RECORD_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


def test_the_main_pages_run_without_a_csp_violation(page):
    coordinator = UserFactory(username="coordination")
    contract = ContractFactory(coordinator=coordinator)
    lead = UserFactory(username="camille", is_staff=True, is_superuser=True)
    ActionFactory(contract=contract).working_group.leads.set([lead])
    launch(contract, coordinator)
    task = Task.objects.get(owner=lead, status=TaskStatus.ASSIGNED)
    console = []
    page.on("console", lambda message: console.append(message.text))
    page.add_init_script(RECORD_VIOLATIONS)

    visited = {}
    page.goto(reverse("login"))
    visited["log-in"] = page.evaluate("window.cspViolations")
    log_in(page, lead.username, PASSWORD)
    page.wait_for_url(f"**{reverse('workflows:contract_list')}")
    visited["contracts"] = page.evaluate("window.cspViolations")
    for name, url in {
        "inbox": reverse("workflows:inbox"),
        "contract": reverse("workflows:contract_detail", args=[contract.pk]),
        "task": reverse("workflows:task_detail", args=[task.pk]),
        "admin": reverse("admin:index"),
        "admin form": reverse("admin:workflows_user_change", args=[lead.pk]),
        "browsable API": "/api/v1/contracts/",
    }.items():
        page.goto(url)
        page.wait_for_load_state("load")
        visited[name] = page.evaluate("window.cspViolations")

    assert visited == {name: [] for name in visited}
    assert [text for text in console if "Content Security Policy" in text] == []
