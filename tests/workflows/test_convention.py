"""The contract document as a real convention (issue 13, item 6): a default text per kind of
contract, adjusted by a coordinator while the contract is a draft (page and API), recorded in
the history, carried by the contract file, printed in the document with the annexes."""

import copy

import pytest
from django.urls import reverse
from django.utils import timezone

from signatures.document import render_contract_document
from tests.factories import (
    ActionFactory,
    FundingLineFactory,
    OrganisationFactory,
    UserFactory,
)
from tests.flows import launch
from tests.signatures.pdf import pdf_text
from workflows import services
from workflows.contract_file import contract_file_of, validate_contract_file
from workflows.conventions import (
    PLACEHOLDERS,
    Article,
    convention_of,
    default_convention,
    unknown_placeholders,
)
from workflows.errors import ApplicationError, Conflict, NotAllowed
from workflows.models import ContractKind, HistoryEvent
from workflows.selectors import history_verify
from workflows.services.sheets import current_version

pytestmark = pytest.mark.django_db

DASH = "\u2013"  # the en dash between "Article 1" and its title

ARTICLES = [
    Article("Objet", "Le présent contrat porte sur le territoire « {territoire} »."),
    Article("Durée", "Conclu pour {duree}, du {date_debut} au {date_fin}."),
    Article("Engagements des parties", "Les parties s'engagent :\n\n{partenaires}"),
]


def page_url(contract) -> str:
    return reverse("workflows:convention_edit", args=[contract.pk])


def api_url(contract) -> str:
    return f"/api/v1/contracts/{contract.pk}/convention/"


@pytest.fixture
def action(contract):
    """A sheet with a funder, so that the contract has a pilot who is no coordinator."""
    funder = OrganisationFactory(code="ARS", name="Agence régionale de santé Occitanie")
    contract.organisations.add(funder)
    action = ActionFactory(contract=contract, title="Accompagner l'installation des médecins")
    FundingLineFactory(action=action, funder=funder, amount="12500.50", year=2025)
    return action


# --- The defaults -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ContractKind.values)
def test_each_kind_has_a_default_convention_with_the_articles_of_a_real_one(kind):
    text = default_convention(kind)

    assert text.preamble.startswith("Vu ")
    titles = [article.title for article in text.articles]
    for title in (
        "Objet",
        "Durée",
        "Engagements des parties",
        "Gouvernance",
        "Suivi et évaluation",
        "Révision",
        "Résiliation",
    ):
        assert title in titles, title
    everything = text.preamble + "".join(a.title + a.text for a in text.articles)
    assert unknown_placeholders(everything) == []
    assert "{partenaires}" in everything
    assert "{comite}" in everything


def test_each_kind_cites_its_own_law():
    cls, ctg, csf = (default_convention(kind).preamble for kind in ("CLS", "CTG", "CSF"))

    assert "L. 1434-10" in cls
    assert "sécurité sociale" not in cls
    assert "code de la sécurité sociale" in ctg
    assert "1434-10" not in ctg
    assert "L. 1434-10" in csf
    assert "code de la sécurité sociale" in csf


def test_an_imported_contract_keeps_its_own_copy_of_its_kinds_default(scenario):
    scenario = {**scenario, "kind": "CTG"}

    contract = services.contract_import(document=scenario, actor=None)

    assert contract.convention_preamble == default_convention("CTG").preamble
    assert contract.convention_articles == default_convention("CTG").as_data()["articles"]


def test_a_contract_without_a_text_of_its_own_reads_its_kinds_default(contract):
    assert contract.convention_articles == []
    assert convention_of(contract) == default_convention(contract.kind)


# --- The service --------------------------------------------------------------------------


def test_a_coordinator_adjusts_the_text_and_the_history_records_it(contract, coordinator):
    before = convention_of(contract)

    text = services.convention_update(
        contract=contract,
        actor=coordinator,
        preamble="Vu le code de la santé publique ;\r\nVu la délibération {deliberation} ;",
        articles=ARTICLES,
        base_sha256=before.sha256,
    )

    contract.refresh_from_db()
    assert convention_of(contract) == text
    assert contract.convention_preamble.splitlines()[1] == "Vu la délibération {deliberation} ;"
    assert [a["title"] for a in contract.convention_articles] == [
        "Objet",
        "Durée",
        "Engagements des parties",
    ]
    entry = contract.history.get(event=HistoryEvent.CONVENTION_EDITED)
    assert entry.actor == coordinator
    assert entry.data == {
        "sha256": text.sha256,
        "previous_sha256": before.sha256,
        "articles": 3,
        "reset": False,
    }
    assert history_verify(contract).valid


def test_putting_back_the_default_replaces_the_articles(contract, coordinator):
    services.convention_update(contract=contract, actor=coordinator, articles=ARTICLES)

    services.convention_update(contract=contract, actor=coordinator, reset=True)

    contract.refresh_from_db()
    assert convention_of(contract) == default_convention("CLS")
    assert contract.convention_articles  # its own copy, not the fallback
    assert contract.history.filter(event=HistoryEvent.CONVENTION_EDITED, name="reset").exists()


def test_only_a_coordinator_may_adjust_the_text(contract, action):
    with pytest.raises(NotAllowed, match="Seul un coordinateur du contrat"):
        services.convention_update(contract=contract, actor=action.pilot, articles=ARTICLES)
    assert not contract.history.filter(event=HistoryEvent.CONVENTION_EDITED).exists()


def test_the_text_cannot_change_once_the_review_is_launched(contract, coordinator, action):
    launch(contract, coordinator)

    with pytest.raises(Conflict, match="tant que le contrat est un brouillon"):
        services.convention_update(contract=contract, actor=coordinator, articles=ARTICLES)


def test_a_text_saved_meanwhile_is_not_overwritten(contract, coordinator):
    start = convention_of(contract).sha256
    services.convention_update(contract=contract, actor=coordinator, articles=ARTICLES)

    with pytest.raises(Conflict, match="entre-temps"):
        services.convention_update(
            contract=contract, actor=coordinator, articles=ARTICLES[:1], base_sha256=start
        )


def test_a_wrong_text_names_every_problem_and_writes_nothing(contract, coordinator):
    with pytest.raises(ApplicationError) as refused:
        services.convention_update(
            contract=contract,
            actor=coordinator,
            preamble="Vu {la_loi} ;",
            articles=[Article("  ", "Texte"), Article("Durée", ""), Article("Objet", "{objet}")],
        )

    assert refused.value.extra["errors"][:2] == [
        "L\u2019article 1 doit avoir un titre.",
        "L\u2019article 2 doit avoir un texte.",
    ]
    assert "Champs de fusion inconnus\u00a0: {la_loi}, {objet}." in refused.value.extra["errors"][2]
    contract.refresh_from_db()
    assert contract.convention_articles == []
    assert not contract.history.filter(event=HistoryEvent.CONVENTION_EDITED).exists()


# --- The page -----------------------------------------------------------------------------


def posted(preamble: str, articles: list[dict]) -> dict:
    data = {
        "preamble": preamble,
        "articles-TOTAL_FORMS": len(articles),
        "articles-INITIAL_FORMS": len(articles),
    }
    for index, article in enumerate(articles):
        for key, value in article.items():
            data[f"articles-{index}-{key}"] = value
    return data


def test_the_coordinator_reorders_removes_and_adds_articles_on_the_page(
    client, contract, coordinator
):
    services.convention_update(contract=contract, actor=coordinator, articles=ARTICLES)
    client.force_login(coordinator)
    page = client.get(page_url(contract))
    assert page.status_code == 200
    assert "{partenaires}" in page.text  # the placeholders, listed with what they stand for
    assert "les partenaires avec les financements que chacun apporte" in page.text

    response = client.post(
        page_url(contract),
        posted(
            "Vu le code de la santé publique ;",
            [
                {"title": "Objet", "text": "Objet du contrat.", "ORDER": 2},
                {"title": "Durée", "text": "Quatre ans.", "ORDER": 1},
                {
                    "title": "Engagements des parties",
                    "text": "{partenaires}",
                    "ORDER": 3,
                    "DELETE": "on",
                },
                {"title": "Résiliation", "text": "Préavis de trois mois.", "ORDER": 4},
            ],
        ),
    )

    assert response.status_code == 302
    contract.refresh_from_db()
    assert contract.convention_preamble == "Vu le code de la santé publique ;"
    assert [a["title"] for a in contract.convention_articles] == ["Durée", "Objet", "Résiliation"]
    assert contract.history.filter(event=HistoryEvent.CONVENTION_EDITED).count() == 2


def test_the_page_tells_what_is_wrong_beside_the_fields_in_french(client, contract, coordinator):
    client.force_login(coordinator)

    response = client.post(
        page_url(contract),
        posted("Vu {la_loi} ;", [{"title": "", "text": "Un texte sans titre.", "ORDER": 1}]),
    )

    assert response.status_code == 400
    assert "Donnez un titre à l\u2019article." in response.text
    assert (
        'value="Un texte sans titre."' in response.text or "Un texte sans titre." in response.text
    )

    response = client.post(
        page_url(contract),
        posted("Vu {la_loi} ;", [{"title": "Objet", "text": "Texte.", "ORDER": 1}]),
    )
    assert response.status_code == 400
    assert "Champs de fusion inconnus\u00a0: {la_loi}." in response.text
    contract.refresh_from_db()
    assert contract.convention_articles == []


def test_the_page_is_read_only_once_launched_and_closed_to_others(
    client, contract, coordinator, action, stranger
):
    client.force_login(action.pilot)  # sees the contract, coordinates nothing
    assert client.get(page_url(contract)).status_code == 403
    client.force_login(stranger)
    assert client.get(page_url(contract)).status_code == 404

    client.force_login(coordinator)
    assert (
        f'href="{page_url(contract)}"'
        in client.get(reverse("workflows:contract_detail", args=[contract.pk])).text
    )
    launch(contract, coordinator)
    page = client.get(page_url(contract))
    assert page.status_code == 409
    assert '<form method="post"' not in page.text
    assert client.post(page_url(contract), posted("", [])).status_code == 409


def test_the_page_puts_back_the_default(client, contract, coordinator):
    services.convention_update(contract=contract, actor=coordinator, articles=ARTICLES)
    client.force_login(coordinator)

    assert client.post(page_url(contract), {"reset": "1"}).status_code == 302

    contract.refresh_from_db()
    assert convention_of(contract) == default_convention("CLS")


# --- The API ------------------------------------------------------------------------------


def test_the_api_reads_and_saves_the_text(api_client, contract, coordinator):
    api_client.force_authenticate(coordinator)
    read = api_client.get(api_url(contract)).json()
    assert read["is_default"] is True
    assert read["editable"] is True
    assert read["articles"][0] == {
        "title": "Objet",
        "text": default_convention("CLS").articles[0].text,
    }
    assert {
        "token": "{comite}",
        "description": str(PLACEHOLDERS["comite"].description),
        "is_list": True,
    } in read["placeholders"]

    saved = api_client.put(
        api_url(contract),
        {
            "preamble": "Vu le code de la santé publique ;",
            "articles": [{"title": a.title, "text": a.text} for a in ARTICLES],
            "sha256": read["sha256"],
        },
        format="json",
    )

    assert saved.status_code == 200, saved.json()
    assert saved.json()["is_default"] is False
    assert [a["title"] for a in saved.json()["articles"]] == [a.title for a in ARTICLES]
    assert contract.history.filter(event=HistoryEvent.CONVENTION_EDITED).exists()


def test_the_api_refuses_others_wrong_states_and_bad_texts(
    api_client, contract, coordinator, action, stranger
):
    body = {"articles": [{"title": "Objet", "text": "Texte."}]}
    api_client.force_authenticate(action.pilot)
    assert api_client.get(api_url(contract)).json()["editable"] is False
    refused = api_client.put(api_url(contract), body, format="json")
    assert refused.status_code == 403
    assert refused.json()["detail"] == (
        "Seul un coordinateur du contrat peut modifier le texte de sa convention."
    )
    api_client.force_authenticate(stranger)
    assert api_client.put(api_url(contract), body, format="json").status_code == 404

    api_client.force_authenticate(coordinator)
    bad = api_client.put(api_url(contract), {"articles": [{"text": "Sans titre."}]}, format="json")
    assert bad.status_code == 400
    assert bad.json()["errors"] == ["articles.0.title: Ce champ est obligatoire."]
    empty = api_client.put(api_url(contract), {"articles": []}, format="json")
    assert empty.status_code == 400
    assert empty.json()["errors"] == ["Une convention compte au moins un article."]

    launch(contract, coordinator)
    late = api_client.put(api_url(contract), body, format="json")
    assert late.status_code == 409
    assert "ne peut changer que tant que le contrat est un brouillon" in late.json()["detail"]


# --- The contract file --------------------------------------------------------------------


def test_the_convention_goes_round_the_contract_file(scenario):
    contract = services.contract_import(document=scenario, actor=None)
    coordinator = contract.coordinators.first()
    services.convention_update(
        contract=contract, actor=coordinator, preamble="Vu le code ;", articles=ARTICLES
    )
    contract.refresh_from_db()
    document = contract_file_of(contract)
    assert document["convention"] == {
        "preamble": "Vu le code ;",
        "articles": [{"title": a.title, "text": a.text} for a in ARTICLES],
    }

    again = services.contract_import(
        document={**copy.deepcopy(document), "reference": "CLS-TDC-2019-TER"}, actor=None
    )

    assert convention_of(again) == convention_of(contract)
    assert contract_file_of(again)["convention"] == document["convention"]


def test_a_file_with_a_broken_convention_is_refused_at_its_place(scenario):
    scenario["reference"] = "CLS-NOUVEAU"
    untitled = {**scenario, "convention": {"preamble": "Vu ;", "articles": [{"text": "x"}]}}
    empty = {**scenario, "convention": {"preamble": "Vu ;", "articles": []}}

    assert validate_contract_file(untitled) == [
        "convention.articles[0].title: ce champ est obligatoire"
    ]
    assert validate_contract_file(empty) == ["convention.articles: doit compter au moins 1 élément"]
    assert validate_contract_file({**scenario, "convention": None}) == []


# --- The document -------------------------------------------------------------------------


def test_the_document_prints_the_convention_and_the_sheets_as_annexes(
    contract, coordinator, action
):
    services.convention_update(
        contract=contract,
        actor=coordinator,
        preamble="Vu le code de la santé publique, notamment l'article L. 1434-10 ;",
        articles=ARTICLES,
    )
    version = current_version(action)
    contract.refresh_from_db()

    text = pdf_text(render_contract_document(contract, when=timezone.now()))

    assert "CONTRAT LOCAL DE SANTÉ" in text
    assert "Vu le code de la santé publique, notamment l'article L. 1434-10" in text
    assert "Il est convenu ce qui suit" in text
    assert (
        f"Article 1 {DASH} Objet Le présent contrat porte sur le territoire "
        "« Communauté de communes de test »." in text
    )
    assert (
        f"Article 2 {DASH} Durée Conclu pour 4 ans, du 1er janvier 2024 au 31 décembre 2027."
        in text
    )
    assert "Agence régionale de santé Occitanie : 12 500,50 €" in text
    assert f"Annexe 1 {DASH} Fiches actions" in text
    assert f"{action.code} {DASH} Accompagner l'installation des médecins" in text
    assert "Fiche en version 1, empreinte SHA-256 :" in text
    assert version.sha256 in text
    assert f"Annexe 2 {DASH} Pièces jointes" in text
    # The annexes come after the signature blocks.
    assert text.index("Signatures") < text.index(f"Annexe 1 {DASH} Fiches actions")


def test_a_contract_without_a_text_of_its_own_prints_its_kinds_default(contract, action):
    text = pdf_text(render_contract_document(contract, when=timezone.now()))

    assert "Vu le code de la santé publique, notamment ses articles L. 1434-2 et L. 1434-10" in text
    assert f"Article 1 {DASH} Objet" in text
    assert f"Article 9 {DASH} Résiliation" in text


def test_a_coordinator_previews_the_draft_document(client, contract, coordinator, action):
    client.force_login(coordinator)
    preview = client.get(reverse("signatures:contract_document_preview", args=[contract.pk]))
    assert preview.status_code == 200
    assert "PROJET, non figé" in pdf_text(preview.content)

    client.force_login(action.pilot)
    assert (
        client.get(reverse("signatures:contract_document_preview", args=[contract.pk])).status_code
        == 403
    )
    client.force_login(UserFactory())
    assert (
        client.get(reverse("signatures:contract_document_preview", args=[contract.pk])).status_code
        == 404
    )
