"""The Django admin shows all of the domain, and never lets a status or the history be edited."""

import pytest
from django.urls import reverse

from tests.factories import ActionFactory, FundingLineFactory, UserFactory
from tests.flows import ensure_committee_and_signatory, launch
from workflows.models import (
    Action,
    CommitteeVote,
    Contract,
    Delegation,
    HistoryEntry,
    Organisation,
    Task,
    User,
)

pytestmark = pytest.mark.django_db

REGISTERED = [Organisation, User, Contract, Action, HistoryEntry, Task, CommitteeVote, Delegation]


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def walked_contract(contract, coordinator):
    action = ActionFactory(contract=contract)
    FundingLineFactory(action=action)
    ensure_committee_and_signatory(contract)
    launch(contract, coordinator)
    return contract


@pytest.mark.parametrize("model", REGISTERED, ids=lambda m: m.__name__)
def test_every_model_has_a_working_admin_list(admin_client, walked_contract, model):
    url = reverse(f"admin:workflows_{model._meta.model_name}_changelist")
    assert admin_client.get(url).status_code == 200


def test_the_contract_page_shows_its_parts_with_a_read_only_status(admin_client, walked_contract):
    url = reverse("admin:workflows_contract_change", args=[walked_contract.pk])
    page = admin_client.get(url).content.decode()
    for inline in ("themes", "working_groups", "steering_committee", "signatories"):
        assert f'id="{inline}-group"' in page
    assert 'name="status"' not in page


def test_saving_a_contract_in_the_admin_keeps_its_status(admin_client, walked_contract):
    url = reverse("admin:workflows_contract_change", args=[walked_contract.pk])
    form = admin_client.get(url).context["adminform"].form
    data = {
        name: value
        for name, value in form.initial.items()
        if name in form.fields and value is not None
    }
    data.update(
        {
            "period_start": "2024-01-01",
            "period_end": "2027-12-31",
            "title": "Titre corrigé",
            "organisations": [walked_contract.signatories.get().organisation_id],
            "participants": [],
            "coordinators": [c.pk for c in walked_contract.coordinators.all()],
        }
    )
    for prefix in ("themes", "working_groups", "steering_committee", "signatories", "auditors"):
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})
    response = admin_client.post(url, data)
    walked_contract.refresh_from_db()
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert (walked_contract.title, walked_contract.status) == ("Titre corrigé", "review")


def test_history_entries_are_read_only_in_the_admin(admin_client, walked_contract):
    entry = walked_contract.history.first()
    change = reverse("admin:workflows_historyentry_change", args=[entry.pk])
    page = admin_client.get(change)
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    assert admin_client.get(reverse("admin:workflows_historyentry_add")).status_code == 403
    delete = reverse("admin:workflows_historyentry_delete", args=[entry.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert HistoryEntry.objects.filter(pk=entry.pk).exists()


@pytest.mark.parametrize("model", [Task, CommitteeVote, Delegation], ids=lambda m: m.__name__)
def test_flow_records_are_read_only_in_the_admin(admin_client, walked_contract, model):
    assert (
        admin_client.get(reverse(f"admin:workflows_{model._meta.model_name}_add")).status_code
        == 403
    )
    task = Task.objects.filter(contract=walked_contract).first()
    page = admin_client.get(reverse("admin:workflows_task_change", args=[task.pk]))
    assert page.status_code == 200
    assert 'name="status"' not in page.content.decode()
