"""The Django admin shows all of the domain in French, titled Accord, and never lets a status
or the history be edited."""

import pytest
from django.apps import apps
from django.db import models
from django.urls import reverse
from django.utils.functional import Promise

from tests.factories import ActionFactory, FundingLineFactory, UserFactory
from tests.flows import ensure_committee_and_signatory, launch
from tests.two_factor import log_in_verified
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
    log_in_verified(client, UserFactory(is_staff=True, is_superuser=True))
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


# --- In French, titled Accord -------------------------------------------------------------

APOSTROPHE = "\u2019"


def test_the_admin_index_is_titled_accord_and_names_everything_in_french(admin_client):
    page = admin_client.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="fr")
    html = page.content.decode()
    assert '<html lang="fr"' in html
    title = f"Administration d{APOSTROPHE}Accord"
    assert f"<title>Contrats, personnes et registres | {title}</title>" in html
    assert f'<a href="/admin/">{title}</a>' in html  # the header, on every admin page
    for app in ("Contrats et circuits", "Notifications", "Signatures"):
        assert f">{app}</a>" in html, app
    for model in (
        "Contrats",
        "Fiches action",
        "Organismes",
        "Personnes",
        f"Entrées d{APOSTROPHE}historique",
        "Tâches",
        "Délégations pour absence",
        "Certificats de signature",
        "Préférences de notification",
    ):
        assert f">{model}</a>" in html, model
    # Not viewflow's own process and task lists either: Accord's flows never fill them.
    english = ("Site administration", "Django administration", ">Contracts<", ">Actions<")
    for text in (*english, "Process list", ">Tasks<"):
        assert text not in html, text


def test_every_registered_model_has_its_list_add_and_change_pages_in_french(
    admin_client, walked_contract
):
    # The index's app_list (the admin's public view of its registry, as its template uses it)
    # names every registered model a superuser may see, which is all of them, with its URLs;
    # ``add_url`` is None when the admin allows no addition (the read-only records).
    index = admin_client.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="fr")
    registered = [model for app in index.context["app_list"] for model in app["models"]]
    assert {model["model"] for model in registered} >= set(REGISTERED)
    failures = []
    for model in registered:
        urls = [model["admin_url"], model["add_url"]]
        first = model["model"]._default_manager.order_by("pk").first()
        if first is not None:
            opts = model["model"]._meta
            urls.append(
                reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[first.pk])
            )
        for url in filter(None, urls):
            response = admin_client.get(url, HTTP_ACCEPT_LANGUAGE="fr")
            html = response.content.decode()
            if response.status_code != 200:
                failures.append(f"{url}: {response.status_code}")
            elif '<html lang="fr"' not in html or "Administration d" not in html:
                failures.append(f"{url}: not the French admin")
        if model["add_url"] is None:
            opts = model["model"]._meta
            add = reverse(f"admin:{opts.app_label}_{opts.model_name}_add")
            if admin_client.get(add).status_code != 403:
                failures.append(f"{add}: offered no add link, but does not refuse")
    assert not failures, "\n".join(failures)


def test_the_task_list_reads_in_french(admin_client, walked_contract):
    html = admin_client.get(
        reverse("admin:workflows_task_changelist"), HTTP_ACCEPT_LANGUAGE="fr"
    ).content.decode()
    for column in ("N°", "Type", "Contrat", "Fiche action", "Attribuée à", "Échéance"):
        assert f">{column}</a>" in html, column
    assert ">Pk<" not in html


# Being changed elsewhere at the time these labels were written: their few remaining fields
# take their verbose names with that change.
def test_every_model_and_field_of_accord_has_a_translatable_name():
    """Verbose names are lazy translations (English msgids, French in the catalogue), so that
    the admin, its forms and its filters read in French: a field without one shows its
    attribute name ("contract"), in English."""
    untranslated = []
    for label in ("workflows", "notifications", "signatures"):
        config = apps.get_app_config(label)
        assert isinstance(config.verbose_name, Promise), label
        for model in config.get_models():
            for name in ("verbose_name", "verbose_name_plural"):
                if not isinstance(model._meta.original_attrs.get(name), Promise):
                    untranslated.append(f"{model.__name__}.Meta.{name}")
            for field in model._meta.get_fields():
                # Columns and many-to-many fields (not viewflow's generic key over two of them).
                named = isinstance(field, models.Field) and not field.auto_created
                named = named and (field.concrete or field.many_to_many)
                if named and not isinstance(field.verbose_name, Promise):
                    untranslated.append(f"{model.__name__}.{field.name}")
    assert not untranslated, "\n".join(untranslated)
