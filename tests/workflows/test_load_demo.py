"""The demo loader behind `python3 dev.py run`."""

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import RequestFactory

from workflows.models import Contract, User
from workflows.selectors import inbox_of, user_may_import_contracts

pytestmark = pytest.mark.django_db


@pytest.fixture
def embedded(settings):
    settings.EMBEDDED = True


def test_it_loads_the_demo_contract_and_prints_the_log_ins(embedded, capsys):
    call_command("load_demo")

    contract = Contract.objects.get(reference="CLS-TDC-2019")
    assert (contract.actions.count(), contract.working_groups.count()) == (38, 10)
    assert contract.signatories.count() == 8
    out = capsys.readouterr().out
    assert "mot de passe pour tous : accord-demo" in out
    assert "coordination.cls" in out
    assert "elue.cd82" in out
    # With a request, as every log-in has one (django-axes counts it).
    request = RequestFactory().post("/connexion/")
    assert authenticate(request, username="coordination.cls", password="accord-demo") is not None
    assert authenticate(request, username="admin", password="accord-demo").is_superuser
    assert user_may_import_contracts(User.objects.get(username="coordination.cls"))


def test_the_demo_review_is_launched_so_leads_find_tasks_in_their_inbox(embedded, capsys):
    call_command("load_demo")

    contract = Contract.objects.get(reference="CLS-TDC-2019")
    assert contract.status == "review"
    lead = User.objects.get(username="tech1.ars")
    assert inbox_of(lead).count() == contract.actions.filter(working_group__leads=lead).count()
    (line,) = [line for line in capsys.readouterr().out.splitlines() if "tech1.ars " in line]
    assert line.endswith(f"({inbox_of(lead).count()} tâches à traiter)")


def test_draft_leaves_the_demo_contract_in_draft(embedded):
    call_command("load_demo", "--draft")
    assert Contract.objects.get(reference="CLS-TDC-2019").status == "draft"


def test_running_it_again_changes_nothing_but_the_passwords(embedded, capsys):
    call_command("load_demo")
    call_command("load_demo")
    assert Contract.objects.count() == 1
    history = Contract.objects.get().history
    assert history.filter(event="imported").count() == 1
    assert history.filter(name="launch_review").count() == 1
    assert capsys.readouterr().out.count("Contrat de démonstration importé") == 1


def test_it_refuses_demo_passwords_outside_the_embedded_default(settings):
    settings.EMBEDDED = False
    with pytest.raises(CommandError, match="embedded demo only"):
        call_command("load_demo")
    assert not Contract.objects.exists()
