"""The web pages: who sees what, what the coordinator's controls do, and that pages stay usable.

French translations are added later, so assertions read the English text (each request says
``Accept-Language: en``), except where the French formatting of dates and amounts is the point.
"""

import datetime
import json
from decimal import Decimal
from html.parser import HTMLParser

import pytest
import yaml
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.template.loader import render_to_string
from django.test import Client
from django.urls import reverse

from tests.factories import (
    PASSWORD,
    ActionFactory,
    ContractFactory,
    FundingLineFactory,
    OrganisationFactory,
    SignatoryFactory,
    SteeringCommitteeFactory,
    UserFactory,
)
from tests.flows import (
    ensure_committee_and_signatory,
    launch,
    tamper_with_history,
    walk_to_deliberation,
)
from workflows import services
from workflows.history import UnitOfWork
from workflows.models import (
    ActionStatus,
    Contract,
    ContractStatus,
    HistoryEntry,
    HistoryEvent,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture
def action(contract):
    return ActionFactory(contract=contract, code="T1-A1", title="Accompagner les installations")


@pytest.fixture
def lead(action):
    """A working-group lead: takes part in the contract, but does not coordinate it."""
    return action.working_group.leads.first()


@pytest.fixture
def staff():
    return UserFactory(username="administratrice", is_staff=True)


@pytest.fixture
def importer(coordinator):
    """The coordinator, granted the right to set contracts up."""
    coordinator.user_permissions.add(Permission.objects.get(codename="add_contract"))
    return coordinator


def detail_url(contract: Contract) -> str:
    return reverse("workflows:contract_detail", args=[contract.pk])


def transition_url(contract: Contract, name: str) -> str:
    return reverse("workflows:contract_transition", args=[contract.pk, name])


def put_in_state(contract: Contract, status: str, **fields) -> Contract:
    """Test set-up only: place a contract in a state without walking the whole workflow."""
    Contract.objects.filter(pk=contract.pk).update(status=status, **fields)
    contract.refresh_from_db()
    return contract


def text(response) -> str:
    return response.content.decode()


class PageStructure(HTMLParser):
    """Counts the <h1>s and collects form fields and the ids their labels point to."""

    def __init__(self) -> None:
        super().__init__()
        self.h1 = 0
        self.fields: list[dict] = []
        self.label_targets: set[str] = set()
        self.has_lang = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "html":
            self.has_lang = bool(attrs.get("lang"))
        elif tag == "h1":
            self.h1 += 1
        elif tag == "label" and attrs.get("for"):
            self.label_targets.add(attrs["for"])
        elif tag in ("input", "select", "textarea") and attrs.get("type") not in (
            "hidden",
            "submit",
            "button",
        ):
            self.fields.append(attrs)


def assert_well_formed(response) -> None:
    page = PageStructure()
    page.feed(text(response))
    assert page.has_lang
    assert page.h1 == 1, f"{page.h1} <h1> on the page"
    for attrs in page.fields:
        assert attrs.get("id") in page.label_targets, f"field without <label for>: {attrs}"


# --- Access ---------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_the_log_in_page(client, contract):
    for url in (
        reverse("workflows:contract_list"),
        detail_url(contract),
        reverse("workflows:contract_import"),
        transition_url(contract, "launch_review"),
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_the_log_in_page_lets_a_person_in_with_their_password(client, coordinator):
    page = client.get(reverse("login"))
    assert page.status_code == 200
    assert "Log in to Accord" in text(page)
    assert_well_formed(page)

    response = client.post(
        reverse("login"), {"username": coordinator.username, "password": PASSWORD}, follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("workflows:contract_list")
    assert coordinator.display_name in text(response)
    assert coordinator.organisation.name in text(response)


def test_a_wrong_password_is_refused_with_a_clear_message(client, coordinator):
    response = client.post(
        reverse("login"), {"username": coordinator.username, "password": "not-the-password"}
    )
    assert response.status_code == 200
    assert 'role="alert"' in text(response)
    assert "You could not be logged in" in text(response)
    assert "_auth_user_id" not in client.session


def test_logging_out_is_a_button_that_posts(client, coordinator):
    client.force_login(coordinator)
    page = client.get(reverse("workflows:contract_list"))
    assert f'action="{reverse("logout")}" method="post"' in text(page)
    client.post(reverse("logout"))
    assert "_auth_user_id" not in client.session


# --- Contract list ----------------------------------------------------------------------------


def test_the_list_shows_only_the_contracts_the_person_takes_part_in(client, contract, lead):
    other = ContractFactory(reference="CLS-AUTRE-2024")
    client.force_login(lead)
    response = client.get(reverse("workflows:contract_list"))
    assert response.status_code == 200
    assert contract.reference in text(response)
    assert other.reference not in text(response)
    assert "Draft" in text(response)
    assert_well_formed(response)


def test_the_list_says_what_to_do_when_there_is_no_contract(client, stranger):
    client.force_login(stranger)
    response = client.get(reverse("workflows:contract_list"))
    assert "No contract yet" in text(response)
    assert "contact its coordinator" in text(response)
    assert "Import a contract" not in text(response)
    assert_well_formed(response)


def test_staff_see_every_contract_and_the_administration_link(client, contract, staff):
    client.force_login(staff)
    response = client.get(reverse("workflows:contract_list"))
    assert contract.reference in text(response)
    assert reverse("admin:index") in text(response)
    assert reverse("workflows:contract_import") in text(response)


# --- Contract page ----------------------------------------------------------------------------


def test_a_stranger_gets_a_404_on_a_contract_page(client, contract, stranger):
    client.force_login(stranger)
    assert client.get(detail_url(contract)).status_code == 404
    assert client.post(transition_url(contract, "launch_review")).status_code == 404
    assert contract.history.count() == 0


def test_the_contract_page_shows_status_actions_and_an_intact_history(
    client, contract, action, coordinator
):
    SteeringCommitteeFactory(contract=contract)
    representative = UserFactory(civility="Mme", first_name="Anne", last_name="Représentante")
    signatory = SignatoryFactory(contract=contract, represented_by=representative)
    services.launch_review(contract=contract, actor=coordinator)
    client.force_login(coordinator)

    response = client.get(detail_url(contract))

    assert response.status_code == 200
    page = text(response)
    assert contract.reference in page
    assert "Working-group review" in page  # the contract's status
    assert "T1-A1" in page
    assert "Accompagner les installations" in page
    assert "In review" in page  # the action's status
    # The representative by their name, the signer with their position too.
    signer = signatory.signer.display_name
    assert f"Ms Anne Représentante for {signer}, Chargé de mission" in page
    assert "Working-group review launched" in page
    assert "Action submitted for review" in page
    # The launch, the action sent to review, its two leads' review tasks opened and notified.
    assert "History intact (6 entries)" in page
    assert_well_formed(response)


def test_the_contract_page_shows_dates_and_amounts_the_french_way(client, contract, action):
    FundingLineFactory(action=action, amount=Decimal("22500.00"))
    client.force_login(action.pilot)
    response = client.get(detail_url(contract), HTTP_ACCEPT_LANGUAGE="fr")
    page = text(response)
    assert '<html lang="fr">' in page
    assert "1 janvier 2024" in page
    # The actions' table, with their funding, has its page (a long contract's page stays short).
    actions = text(
        client.get(
            reverse("workflows:contract_actions", args=[contract.pk]), HTTP_ACCEPT_LANGUAGE="fr"
        )
    )
    assert "22\xa0500,00\xa0€" in actions


def test_the_history_says_who_acted_for_whom(client, contract, coordinator):
    absent = UserFactory(civility="Mme", first_name="Sophie", last_name="Titulaire")
    # An entry written as it is recorded, and nothing else (no reaction runs).
    with transaction.atomic(), UnitOfWork.lock(contract.pk, reactions=()) as unit:
        unit.record(
            event=HistoryEvent.TRANSITION,
            actor=coordinator,
            on_behalf_of=absent,
            name="suspend",
            from_state=ContractStatus.DRAFT,
            to_state=ContractStatus.SUSPENDED,
            comment="Fusion des communautés de communes",
        )
    client.force_login(coordinator)
    page = text(client.get(detail_url(contract)))
    assert f"{coordinator.display_name} for Sophie Titulaire" in page
    assert "Work suspended" in page
    assert "Fusion des communautés de communes" in page


def test_the_history_names_the_people_its_details_keep_by_username(client, contract, coordinator):
    holder = UserFactory(username="tech1.ars", first_name="Claire", last_name="Martin")
    # Usernames in the details, as the chain keeps them; one of an account gone since.
    with transaction.atomic(), UnitOfWork.lock(contract.pk, reactions=()) as unit:
        unit.record(
            event=HistoryEvent.REMINDER,
            name="overdue",
            data={"owner": "tech1.ars", "recipients": ["tech1.ars", "parti.e"], "task": 7},
        )
    entry = HistoryEntry.objects.get(contract=contract, event=HistoryEvent.REMINDER)
    assert entry.data["owner"] == holder.username  # what is hashed stays a username
    client.force_login(coordinator)

    # (The contract page shows its few latest lines without their details: a sentence each.)
    for url in (
        reverse("workflows:contract_history", args=[contract.pk]),
        reverse("workflows:history_search"),
    ):
        page = text(client.get(url))
        # By name; the username of an account gone since, as the chain keeps it.
        assert "<dt>Held by</dt><dd>Claire Martin</dd>" in page
        assert "<dt>Recipients</dt><dd>Claire Martin, parti.e</dd>" in page
        assert "<dt>Task</dt><dd>no. 7</dd>" in page


def test_an_altered_history_is_shown_prominently(client, contract, action, coordinator):
    launch(contract, coordinator)
    entry = contract.history.get(seq=2)
    tamper_with_history(
        "UPDATE workflows_historyentry SET comment = %s WHERE id = %s", ["forged", entry.pk]
    )
    client.force_login(coordinator)
    page = text(client.get(detail_url(contract)))
    assert "History altered at entry no. 2" in page
    assert "History intact" not in page


# --- Coordinator controls ---------------------------------------------------------------------


def test_a_coordinator_sees_the_controls_and_a_lead_does_not(client, contract, action, lead):
    ensure_committee_and_signatory(contract)
    client.force_login(contract.coordinators.first())
    page = text(client.get(detail_url(contract)))
    assert "Coordinator actions" in page
    for name in ("launch_review", "suspend", "withdraw"):
        assert f'action="{transition_url(contract, name)}"' in page
    for name in ("record_deliberation", "resume", "close"):
        assert f'action="{transition_url(contract, name)}"' not in page

    client.force_login(lead)
    page = text(client.get(detail_url(contract)))
    assert "Coordinator actions" not in page
    assert "/transitions/" not in page


def test_launching_the_review_from_the_page_changes_the_status_and_adds_history(
    client, contract, action, coordinator
):
    ensure_committee_and_signatory(contract)
    client.force_login(coordinator)
    response = client.post(transition_url(contract, "launch_review"), follow=True)

    assert response.redirect_chain == [(detail_url(contract), 302)]
    contract.refresh_from_db()
    action.refresh_from_db()
    assert contract.status == ContractStatus.REVIEW
    assert action.status == ActionStatus.REVIEW
    assert list(contract.history.values_list("event", "name")) == [
        ("transition", "launch_review"),
        ("action_transition", "submit_for_review"),
        ("task_created", "review"),  # one review task per lead of the working group
        ("task_created", "review"),
        ("notified", "task_assigned"),  # and who was told of them, once the changes are made
        ("notified", "task_assigned"),
    ]
    assert "Done: the contract is now “Working-group review”." in text(response)
    assert "History intact (6 entries)" in text(response)


def test_a_lead_posting_a_transition_gets_403_and_nothing_changes(client, contract, action, lead):
    client.force_login(lead)
    response = client.post(transition_url(contract, "launch_review"))
    assert response.status_code == 403
    assert "Only a coordinator of this contract may do this." in text(response)
    contract.refresh_from_db()
    assert contract.status == ContractStatus.DRAFT
    assert contract.history.count() == 0


def test_a_refused_transition_shows_the_reason_and_changes_nothing(client, contract, coordinator):
    client.force_login(coordinator)
    page = text(client.get(detail_url(contract)))
    assert "The working-group review cannot be launched yet." in page
    assert "The contract has no action to review." in page

    response = client.post(transition_url(contract, "launch_review"))

    assert response.status_code == 409
    assert 'role="alert"' in text(response)
    assert "The contract has no action to review." in text(response)
    contract.refresh_from_db()
    assert contract.status == ContractStatus.DRAFT
    assert contract.history.count() == 0


def test_suspending_without_a_reason_shows_a_form_error(client, contract, coordinator):
    client.force_login(coordinator)
    response = client.post(transition_url(contract, "suspend"), {"suspend-reason": "  "})

    assert response.status_code == 400
    page = text(response)
    assert "Please give the reason for the suspension." in page
    assert 'id="id_suspend-reason_error"' in page
    assert 'aria-describedby="id_suspend-reason_helptext id_suspend-reason_error"' in page
    contract.refresh_from_db()
    assert contract.status == ContractStatus.DRAFT
    assert_well_formed(response)


def test_a_suspended_contract_shows_its_reason_and_can_be_resumed(client, contract, coordinator):
    client.force_login(coordinator)
    client.post(transition_url(contract, "suspend"), {"suspend-reason": "Fusion des communes"})
    contract.refresh_from_db()
    assert contract.status == ContractStatus.SUSPENDED

    page = text(client.get(detail_url(contract)))
    assert "Suspended since" in page
    assert "Fusion des communes" in page
    assert f'action="{transition_url(contract, "resume")}"' in page

    client.post(transition_url(contract, "resume"))
    contract.refresh_from_db()
    assert contract.status == ContractStatus.DRAFT


def test_withdrawing_asks_for_a_reason_and_a_confirmation_that_it_is_final(
    client, contract, coordinator
):
    client.force_login(coordinator)
    response = client.post(transition_url(contract, "withdraw"), {"withdraw-reason": "Abandon"})
    assert response.status_code == 400
    assert "Please confirm that you want to withdraw for good." in text(response)
    contract.refresh_from_db()
    assert contract.status == ContractStatus.DRAFT

    client.post(
        transition_url(contract, "withdraw"),
        {"withdraw-reason": "Projet abandonné", "withdraw-confirm": "on"},
    )
    contract.refresh_from_db()
    assert contract.status == ContractStatus.WITHDRAWN
    page = text(client.get(detail_url(contract)))
    assert "This contract was withdrawn." in page
    assert "Projet abandonné" in page
    assert "No coordinator step is possible at this stage." in page


def test_recording_the_deliberation_opens_signing(client, contract, action, coordinator):
    walk_to_deliberation(contract, coordinator)
    client.force_login(coordinator)
    page = client.get(detail_url(contract))
    assert 'type="date"' in text(page)
    assert_well_formed(page)

    client.post(
        transition_url(contract, "record_deliberation"),
        {"record_deliberation-number": "DCC-2019-42", "record_deliberation-date": "2019-07-04"},
    )
    contract.refresh_from_db()
    assert contract.status == ContractStatus.SIGNING
    assert contract.deliberation_number == "DCC-2019-42"
    assert contract.deliberation_date == datetime.date(2019, 7, 4)
    assert "DCC-2019-42" in text(client.get(detail_url(contract)))


def test_an_unknown_transition_is_a_404(client, contract, coordinator):
    client.force_login(coordinator)
    assert client.post(transition_url(contract, "committee_validate")).status_code == 404
    assert client.post(transition_url(contract, "launch_rockets")).status_code == 404


def test_opening_a_transition_address_leads_back_to_the_contract_page(
    client, contract, coordinator
):
    client.force_login(coordinator)
    response = client.get(transition_url(contract, "suspend"))
    assert response.status_code == 302
    assert response["Location"] == detail_url(contract)


# --- Import -----------------------------------------------------------------------------------


def upload(document: dict | bytes, name: str = "contrat.json") -> SimpleUploadedFile:
    raw = document if isinstance(document, bytes) else json.dumps(document).encode()
    return SimpleUploadedFile(name, raw, content_type="application/json")


def test_the_import_page_is_refused_to_people_who_may_not_import(client, lead):
    client.force_login(lead)
    assert client.get(reverse("workflows:contract_import")).status_code == 403
    assert client.post(reverse("workflows:contract_import")).status_code == 403
    assert "Import a contract" not in text(client.get(reverse("workflows:contract_list")))


def test_the_import_page_explains_the_file_format(client, importer):
    client.force_login(importer)
    response = client.get(reverse("workflows:contract_import"))
    assert response.status_code == 200
    assert "<details" in text(response)
    assert "accord.contract/1" in text(response)
    assert_well_formed(response)


def test_importing_the_scenario_file_leads_to_the_new_contract(client, staff, scenario):
    client.force_login(staff)
    response = client.post(reverse("workflows:contract_import"), {"file": upload(scenario)})

    contract = Contract.objects.get(reference=scenario["reference"])
    assert response.status_code == 302
    assert response["Location"] == detail_url(contract)
    page = text(client.get(response["Location"]))
    assert f"The contract {contract.reference} was imported." in page
    assert "Contract imported" in page
    assert "History intact (1 entry)" in page


def test_a_yaml_file_is_imported_too(client, staff, scenario):
    client.force_login(staff)
    raw = yaml.safe_dump(scenario, allow_unicode=True).encode()
    response = client.post(reverse("workflows:contract_import"), {"file": upload(raw, "c.yaml")})
    assert response.status_code == 302
    assert Contract.objects.filter(reference=scenario["reference"]).exists()


def test_an_importer_who_is_not_named_in_the_file_is_led_to_the_contract_they_set_up(
    client, importer, scenario
):
    client.force_login(importer)
    response = client.post(reverse("workflows:contract_import"), {"file": upload(scenario)})
    contract = Contract.objects.get(reference=scenario["reference"])
    assert response.status_code == 302
    assert response["Location"] == detail_url(contract)
    assert client.get(response["Location"]).status_code == 200


def test_a_broken_file_lists_every_problem_with_its_place_and_creates_nothing(
    client, importer, scenario
):
    scenario["themes"][0]["actions"][0]["working_group"] = "GT99"
    scenario["steering_committee"]["quorum"] = 99
    client.force_login(importer)

    response = client.post(reverse("workflows:contract_import"), {"file": upload(scenario)})

    assert response.status_code == 400
    page = text(response)
    assert 'class="error-summary" role="alert"' in page
    assert 'tabindex="-1"' in page
    assert '<code class="place">themes[0].actions[0].working_group</code>' in page
    assert '<code class="place">steering_committee.quorum</code>' in page
    assert "nothing was imported" in page
    assert not Contract.objects.exists()
    assert_well_formed(response)


def test_a_file_that_is_neither_json_nor_yaml_is_refused(client, importer):
    client.force_login(importer)
    response = client.post(
        reverse("workflows:contract_import"), {"file": upload(b"{ not json", "contrat.json")}
    )
    assert response.status_code == 400
    assert "line 1" in text(response)
    assert not Contract.objects.exists()


def test_a_file_of_another_kind_or_no_file_at_all_is_refused(client, importer):
    client.force_login(importer)
    response = client.post(
        reverse("workflows:contract_import"), {"file": upload(b"%PDF-1.4", "contrat.pdf")}
    )
    assert response.status_code == 400
    assert "The file must be a JSON or YAML file" in text(response)

    response = client.post(reverse("workflows:contract_import"), {})
    assert response.status_code == 400
    assert "Please choose the contract file to import." in text(response)
    assert 'href="#id_file"' in text(response)


def test_an_oversized_file_is_refused(client, importer, settings):
    settings.ACCORD_IMPORT_MAX_BYTES = 100
    client.force_login(importer)
    response = client.post(
        reverse("workflows:contract_import"), {"file": upload(b" " * 500 + b"{}")}
    )
    assert response.status_code == 400
    assert "too large" in text(response)


# --- Error pages and layout -------------------------------------------------------------------


def test_error_pages_are_friendly_and_in_the_layout(client, settings, contract, action, lead):
    settings.DEBUG = False
    client.force_login(lead)

    missing = client.get(reverse("workflows:contract_detail", args=[contract.pk + 1000]))
    assert missing.status_code == 404
    assert "Page not found" in text(missing)
    assert "Skip to main content" in text(missing)
    assert "Traceback" not in text(missing)
    assert_well_formed(missing)

    forbidden = client.post(transition_url(contract, "launch_review"))
    assert forbidden.status_code == 403
    assert "You may not do this" in text(forbidden)
    assert "Traceback" not in text(forbidden)
    assert_well_formed(forbidden)


def test_an_expired_form_gets_a_friendly_page_and_changes_nothing(contract, action, coordinator):
    browser = Client(enforce_csrf_checks=True, HTTP_ACCEPT_LANGUAGE="en")
    browser.force_login(coordinator)
    response = browser.post(transition_url(contract, "launch_review"))
    assert response.status_code == 403
    assert "This form has expired" in text(response)
    contract.refresh_from_db()
    assert contract.status == ContractStatus.DRAFT


def test_the_server_error_page_needs_no_context(settings):
    settings.DEBUG = False
    html = render_to_string("500.html")
    page = PageStructure()
    page.feed(html)
    assert page.h1 == 1
    assert page.has_lang


def test_the_bad_request_page_renders_in_the_layout(rf, coordinator):
    request = rf.get("/")
    request.user = coordinator
    html = render_to_string("400.html", request=request)
    page = PageStructure()
    page.feed(html)
    assert page.h1 == 1


def test_the_layout_offers_a_skip_link_and_a_language_switcher(client, coordinator):
    client.force_login(coordinator)
    page = text(client.get(reverse("workflows:contract_list")))
    assert 'href="#content"' in page
    assert 'id="content"' in page
    assert f'action="{reverse("set_language")}" method="post"' in page
    assert 'name="language" value="fr"' in page
    assert 'name="language" value="en"' in page


def test_the_language_switcher_changes_the_language(client, coordinator):
    client.force_login(coordinator)
    client.post(reverse("set_language"), {"language": "fr", "next": "/"})
    page = text(client.get(reverse("workflows:contract_list"), HTTP_ACCEPT_LANGUAGE=""))
    assert '<html lang="fr">' in page


def test_every_organisation_appears_by_name_on_the_signatories_table(client, contract):
    organisation = OrganisationFactory(code="ARS-OCC", name="Agence Régionale de Santé")
    SignatoryFactory(contract=contract, organisation=organisation)
    client.force_login(contract.coordinators.first())
    page = text(client.get(detail_url(contract)))
    assert "Agence Régionale de Santé" in page
    assert "Awaiting signature" in page


def test_the_contract_page_shows_the_latest_history_and_links_to_the_rest(client, coordinator):
    contract = ContractFactory(coordinator=coordinator)
    for _ in range(12):
        ActionFactory(contract=contract)
    launch(contract, coordinator)
    total = contract.history.count()
    assert total > 20
    client.force_login(coordinator)

    page = text(client.get(detail_url(contract)))

    assert f"The full history ({total} entries)" in page
    assert f"History intact ({total} entries)" in page  # the whole chain is still checked
    # The latest 20 changes; the notifications that told of them folded under them.
    changes = list(
        contract.history.exclude(event=HistoryEvent.NOTIFIED)
        .order_by("-seq")
        .values_list("seq", flat=True)
    )
    assert len(changes) > 20
    assert f"No. {changes[0]}<" in page  # the newest change
    assert f"No. {changes[19]}<" in page
    assert f"No. {changes[20]}<" not in page  # older ones are on the history page
    assert page.index(f"No. {changes[0]}<") < page.index(f"No. {changes[19]}<")
    assert reverse("workflows:contract_history", args=[contract.pk]) in page
