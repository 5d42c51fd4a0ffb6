"""Writing a contract through its pages (life.md, "Writing and revising the content"): a draft
created from its heading, completed step by step, each step saved and shown again, the
services' problems beside their fields, who may, and when; then the verification."""

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from tests.factories import ContractFactory, OrganisationFactory, UserFactory, contract_author
from tests.workflows.test_api_authoring import HEADER as API_HEADER
from tests.workflows.test_api_authoring import SHEET, complete_parts
from workflows.models import Contract, ContractStatus, User

pytestmark = pytest.mark.django_db

HEADER = {
    "reference": "CLS-VAL-2027",
    "title": "Contrat local de santé du Val d'Ouche",
    "kind": "CLS",
    "territory_name": "Communauté de communes du Val d'Ouche",
    "territory_communes": "9",
    "territory_population": "11200",
    "period_start": "2027-01-01",
    "period_end": "2031-12-31",
}


@pytest.fixture
def author() -> User:
    return contract_author()


@pytest.fixture
def client_for():
    def make(user: User) -> Client:
        client = Client(HTTP_ACCEPT_LANGUAGE="en")
        client.force_login(user)
        return client

    return make


def step(contract: Contract, slug: str) -> str:
    return reverse("workflows:contract_write", args=[contract.pk, slug])


def rows(prefix: str, entries: list[dict], initial: int = 0, total: int | None = None) -> dict:
    """A formset's POST data: the management form and one row per entry."""
    data = {
        f"{prefix}-TOTAL_FORMS": str(total if total is not None else len(entries)),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }
    for index, entry in enumerate(entries):
        data |= {f"{prefix}-{index}-{key}": value for key, value in entry.items()}
    return data


def create(client: Client) -> Contract:
    response = client.post(reverse("workflows:contract_new"), HEADER)
    contract = Contract.objects.get(reference=HEADER["reference"])
    assert response.status_code == 302
    assert response["Location"] == step(contract, "organismes")
    return contract


PEOPLE = [
    {
        "username": "coordination.valouche",
        "first_name": "Inès",
        "last_name": "Benali",
        "email": "ines@example.org",
        "organisation": "CCVO",
        "position": "Coordinatrice",
    },
    {
        "username": "tech.ars",
        "civility": "Mme",
        "first_name": "Claire",
        "last_name": "Martin",
        "email": "claire.martin@example.org",
        "organisation": "ARS",
        "position": "Chargée de mission",
    },
    {
        "username": "dg.ars",
        "civility": "M.",
        "first_name": "Paul",
        "last_name": "Roche",
        "email": "paul.roche@example.org",
        "organisation": "ARS",
        "position": "Directeur",
    },
]


def written(client: Client) -> Contract:
    """A contract written through every step up to its signatories."""
    contract = create(client)
    organisations = [
        {"code": "CCVO", "name": "CC du Val d'Ouche", "category": ""},
        {"code": "ARS", "name": "ARS Bourgogne-Franche-Comté", "category": "ARS"},
    ]
    assert client.post(step(contract, "organismes"), rows("organisations", organisations))[
        "Location"
    ] == step(contract, "organismes")
    assert client.post(step(contract, "personnes"), rows("people", PEOPLE)).status_code == 302
    themes = [{"code": "T1", "title": "Accès aux soins"}]
    assert client.post(step(contract, "axes"), rows("themes", themes)).status_code == 302
    groups = [
        {"code": "GT1", "title": "Accès", "leads": ["tech.ars"], "members": ["dg.ars"]},
    ]
    assert client.post(step(contract, "groupes"), rows("working_groups", groups)).status_code == 302
    committee = {"chair": "dg.ars", "members": ["dg.ars", "tech.ars"], "quorum": "2"}
    assert client.post(step(contract, "comite"), committee).status_code == 302
    signatories = [
        {"organisation": "ARS", "kind": "mandatory", "signer": "dg.ars", "order": "1"},
    ]
    response = client.post(
        step(contract, "signataires"), rows("signatories", signatories) | {"continue": ""}
    )
    assert response["Location"] == step(contract, "fiches")
    return contract


def test_a_coordinator_creates_a_draft_and_becomes_its_coordinator(author, client_for):
    client = client_for(author)
    assert "New contract" in client.get(reverse("workflows:contract_list")).content.decode()

    contract = create(client)

    assert contract.status == ContractStatus.DRAFT
    assert list(contract.coordinators.all()) == [author]
    page = client.get(step(contract, "contrat")).content.decode()
    assert "Val d&#x27;Ouche" in page
    assert 'aria-current="step"' in page


def test_the_creation_shows_the_period_problem_beside_its_field(author, client_for):
    client = client_for(author)

    response = client.post(reverse("workflows:contract_new"), HEADER | {"period_end": "2026-01-01"})

    assert response.status_code == 400
    form = response.context["form"]
    assert form.errors["period_end"]
    assert not Contract.objects.exists()
    assert 'role="alert"' in response.content.decode()


def test_someone_without_the_permission_cannot_create(client_for):
    client = client_for(UserFactory())
    assert "New contract" not in client.get(reverse("workflows:contract_list")).content.decode()
    assert client.get(reverse("workflows:contract_new")).status_code == 403


def test_each_step_saves_and_shows_what_was_saved(author, client_for):
    client = client_for(author)
    contract = written(client)

    assert (
        'value="ARS Bourgogne-Franche-Comté"'
        in client.get(step(contract, "organismes")).content.decode()
    )
    people = client.get(step(contract, "personnes")).context["form"]
    assert [form.initial["username"] for form in people.initial_forms] == [
        "coordination.valouche",
        "dg.ars",
        "tech.ars",
    ]
    groups = client.get(step(contract, "groupes")).context["form"]
    assert groups.initial_forms[0].initial["leads"] == ["tech.ars"]
    assert client.get(step(contract, "comite")).context["form"].initial["quorum"] == 2
    contract.refresh_from_db()
    assert contract.signatories.get().signer.username == "dg.ars"
    assert contract.steering_committee.quorum == 2

    response = client.post(step(contract, "contrat"), HEADER | {"title": "Nouveau titre"})
    assert response.status_code == 302
    contract.refresh_from_db()
    assert contract.title == "Nouveau titre"


def test_a_quorum_above_the_committee_is_shown_beside_the_quorum(author, client_for):
    client = client_for(author)
    contract = written(client)

    response = client.post(
        step(contract, "comite"), {"chair": "dg.ars", "members": ["dg.ars"], "quorum": "3"}
    )

    assert response.status_code == 400
    assert response.context["form"].errors["quorum"]
    assert contract.steering_committee.quorum == 2


def test_a_person_a_group_names_cannot_go_and_the_group_is_named(author, client_for):
    client = client_for(author)
    contract = written(client)
    kept = [PEOPLE[0], PEOPLE[2]]  # tech.ars, lead of GT1, removed

    response = client.post(step(contract, "personnes"), rows("people", kept))

    assert response.status_code == 400
    errors = " ".join(response.context["form"].non_form_errors())
    assert "GT1" in errors
    assert contract.participants.filter(username="tech.ars").exists()


def test_a_problem_of_a_row_lands_in_that_row_though_blank_rows_came_before(author, client_for):
    client = client_for(author)
    contract = written(client)
    blank = {"code": "", "name": "", "category": ""}
    organisations = [
        {"code": "CCVO", "name": "CC du Val d'Ouche", "category": ""},
        {"code": "ARS", "name": "ARS Bourgogne-Franche-Comté", "category": "ARS"},
        blank,
        {"code": "CAF", "name": "", "category": "CAF"},
    ]

    response = client.post(step(contract, "organismes"), rows("organisations", organisations))

    assert response.status_code == 400
    forms = response.context["form"].forms
    assert forms[3].errors["name"]
    assert not forms[2].errors


def test_a_sheet_is_added_then_written_on_its_page(author, client_for):
    client = client_for(author)
    contract = written(client)
    sheet = {
        "theme": "T1",
        "code": "T1-A1",
        "title": "Attirer des médecins",
        "objective": "Deux installations par an.",
        "pilot": "tech.ars",
        "working_group": "GT1",
    }

    refused = client.post(step(contract, "fiches"), sheet | {"pilot": "", "code": "T1-A1"})
    assert refused.status_code == 400
    assert refused.context["form"].errors["pilot"]

    response = client.post(step(contract, "fiches"), sheet)
    action = contract.actions.get()
    assert response["Location"] == reverse("workflows:sheet_edit", args=[action.pk])
    assert "T1-A1" in client.get(step(contract, "fiches")).content.decode()


def test_the_verification_lists_the_problems_then_offers_the_launch(author, client_for):
    client = client_for(author)
    contract = create(client)

    page = client.get(step(contract, "verification"))
    assert page.context["problems"]
    assert any(p["url"] == step(contract, "signataires") for p in page.context["problems"])
    assert "Launch the review" not in page.content.decode()
    detail = client.get(reverse("workflows:contract_detail", args=[contract.pk]))
    assert "To complete before the review" in detail.content.decode()

    contract = Contract.objects.get(pk=written_again(client, contract).pk)
    page = client.get(step(contract, "verification"))
    assert page.context["problems"] == []
    assert "The contract is complete." in page.content.decode()
    transition = reverse("workflows:contract_transition", args=[contract.pk, "launch_review"])
    assert transition in page.content.decode()
    assert client.post(transition).status_code == 302
    contract.refresh_from_db()
    assert contract.status == ContractStatus.REVIEW


def written_again(client: Client, contract: Contract) -> Contract:
    """The rest of a created contract, and one sheet."""
    organisations = [
        {"code": "CCVO", "name": "CC du Val d'Ouche", "category": ""},
        {"code": "ARS", "name": "ARS Bourgogne-Franche-Comté", "category": "ARS"},
    ]
    client.post(step(contract, "organismes"), rows("organisations", organisations))
    client.post(step(contract, "personnes"), rows("people", PEOPLE))
    client.post(step(contract, "axes"), rows("themes", [{"code": "T1", "title": "Accès"}]))
    groups = [{"code": "GT1", "title": "Accès", "leads": ["tech.ars"], "members": []}]
    client.post(step(contract, "groupes"), rows("working_groups", groups))
    client.post(step(contract, "comite"), {"chair": "dg.ars", "members": ["dg.ars"], "quorum": 1})
    signatory = {"organisation": "ARS", "kind": "mandatory", "signer": "dg.ars", "order": "1"}
    client.post(step(contract, "signataires"), rows("signatories", [signatory]))
    sheet = {"theme": "T1", "code": "T1-A1", "title": "Attirer", "objective": "x"}
    client.post(step(contract, "fiches"), sheet | {"pilot": "tech.ars", "working_group": "GT1"})
    return contract


def test_only_a_coordinator_writes_and_a_stranger_does_not_see(author, client_for):
    contract = create(client_for(author))
    participant = UserFactory()
    contract.participants.add(participant)

    assert client_for(participant).get(step(contract, "contrat")).status_code == 403
    assert client_for(participant).post(step(contract, "comite"), {}).status_code == 403
    assert client_for(UserFactory()).get(step(contract, "contrat")).status_code == 404
    assert client_for(author).get(step(contract, "nowhere")).status_code == 404


def test_a_contract_out_of_draft_is_shown_but_not_changed(client_for):
    coordinator = UserFactory()
    contract = ContractFactory(coordinator=coordinator, status=ContractStatus.REVIEW)
    client = client_for(coordinator)

    page = client.get(step(contract, "contrat"))
    assert page.status_code == 200
    assert "only while it is a draft" in page.content.decode()
    response = client.post(step(contract, "contrat"), HEADER | {"title": "Autre"})
    assert response.status_code == 409
    contract.refresh_from_db()
    assert contract.title != "Autre"


def test_the_sheets_step_removes_a_sheet_from_the_draft(author, client_for):
    api = APIClient()
    api.force_authenticate(author)
    lead = UserFactory(username="tech.ars", organisation=OrganisationFactory(code="ARS"))
    director = UserFactory(username="dg.ars", organisation=lead.organisation)
    contract_id = api.post("/api/v1/contracts/", API_HEADER, format="json").json()["id"]
    api.patch(
        f"/api/v1/contracts/{contract_id}/", complete_parts(author, lead, director), format="json"
    )
    api.post(f"/api/v1/contracts/{contract_id}/actions/", SHEET, format="json")
    browser = client_for(author)

    page = browser.get(f"/contrats/{contract_id}/rediger/fiches/")
    removed = browser.post(f"/contrats/{contract_id}/rediger/fiches/A1/retirer/", follow=True)

    assert "/rediger/fiches/A1/retirer/" in page.content.decode()
    assert removed.status_code == 200
    assert "The sheet A1 is removed from the draft" in removed.content.decode()
    assert "/rediger/fiches/A1/retirer/" not in removed.content.decode()
