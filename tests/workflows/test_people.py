"""People: a civility, a name and a position, and what a former ``full_name`` becomes."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from django.utils.translation import override

from tests.factories import UserFactory
from tests.two_factor import log_in_verified
from workflows.models import User, fields_with_full_name
from workflows.models.people import PersonName, name_in_full_name, position_with

BEFORE = ("workflows", "0010_action_labels_in_french")
NAMES = ("workflows", "0011_people_names")


def test_a_person_is_named_by_name_formally_and_with_the_position():
    person = User(
        username="tech1.ars",
        civility="Mme",
        first_name="Claire",
        last_name="Martin",
        position="cheffe de projet ARS",
    )
    with override("fr"):
        assert person.display_name == str(person) == "Claire Martin"
        assert person.formal_name == "Mme Claire Martin"
        assert person.name_with_position == "Mme Claire Martin, cheffe de projet ARS"
    with override("en"):
        assert person.formal_name == "Ms Claire Martin"


@pytest.mark.parametrize(
    ("fields", "display", "formal", "with_position"),
    [
        ({}, "tech1.ars", "tech1.ars", "tech1.ars"),
        ({"position": "directeur"}, "tech1.ars", "tech1.ars", "tech1.ars, directeur"),
        ({"civility": "M."}, "tech1.ars", "tech1.ars", "tech1.ars"),
        ({"last_name": "Martin"}, "Martin", "Martin", "Martin"),
        ({"civility": "M.", "last_name": "Martin"}, "Martin", "M. Martin", "M. Martin"),
        ({"first_name": "Claire", "last_name": "Martin"}, *["Claire Martin"] * 3),
    ],
)
def test_what_stands_in_for_what_is_not_known(fields, display, formal, with_position):
    person = User(username="tech1.ars", **fields)
    with override("fr"):
        assert (person.display_name, person.formal_name, person.name_with_position) == (
            display,
            formal,
            with_position,
        )


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Mme Claire Martin", PersonName("Mme", "Claire", "Martin")),
        ("Madame Claire Martin", PersonName("Mme", "Claire", "Martin")),
        ("M. Jean-Marc Lacombe", PersonName("M.", "Jean-Marc", "Lacombe")),
        ("Monsieur Dupont", PersonName("M.", "", "Dupont")),
        ("Mme Représentante", PersonName("Mme", "", "Représentante")),
        ("Léa Martin", PersonName("", "Léa", "Martin")),
        ("Awa N'Diaye", PersonName("", "Awa", "N'Diaye")),
        ("Anne Le Gall", PersonName("", "Anne", "Le Gall")),
        ("Chargée de mission animation territoriale ARS", None),
        ("Directrice de la DDCSPP", None),
        ("Coordinateur CLS", None),
        ("Président", None),
        ("M. le Maire", None),
        ("Mme", None),
        ("Délégation départementale", None),
        ("", None),
    ],
)
def test_a_former_full_name_is_a_name_only_when_it_reads_as_one(text, name):
    assert name_in_full_name(text) == name


@pytest.mark.parametrize(
    ("position", "text", "merged"),
    [
        ("", "Chargée de mission ARS", "Chargée de mission ARS"),
        (
            "Président",
            "Président de la Communauté de communes",
            "Président de la Communauté de communes",
        ),
        ("Directeur général de l'ARS", "directeur général", "Directeur général de l'ARS"),
        (
            "Délégation départementale",
            "Chargé de mission prévention ARS",
            "Chargé de mission prévention ARS (Délégation départementale)",
        ),
        ("x" * 200, "y" * 200, "y" * 200 + " (" + "x" * 52 + "…"),
    ],
)
def test_a_former_full_name_that_tells_a_position_joins_it(position, text, merged):
    assert position_with(position, text) == merged
    assert len(merged) <= User._meta.get_field("position").max_length


def test_given_names_win_over_a_former_full_name():
    assert fields_with_full_name(
        "Mme Claire Martin", first_name="Claire", last_name="Martin", position="cheffe de projet"
    ) == {
        "civility": "Mme",
        "first_name": "Claire",
        "last_name": "Martin",
        "position": "cheffe de projet",
    }
    # Another name than the one given is not lost: it goes to the position.
    assert fields_with_full_name("Léa Martin", first_name="Claire", last_name="Martin") == {
        "civility": "",
        "first_name": "Claire",
        "last_name": "Martin",
        "position": "Léa Martin",
    }


@pytest.mark.django_db(transaction=True)
def test_migration_0011_reads_every_full_name_and_can_be_undone():
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    try:
        executor.migrate([BEFORE])
        old = executor.loader.project_state([BEFORE]).apps.get_model("workflows", "User")
        rows = {
            "tech1.ars": (
                "Chargée de mission animation territoriale ARS",
                "Délégation départementale",
                "",
                "",
            ),
            "president.cctdc": ("Président de la Communauté de communes", "Président", "", ""),
            "lea": ("Mme Léa Martin", "cheffe de projet", "", ""),
            "camille": ("Camille Durand", "", "", ""),
            "named": ("Directeur", "", "Jean", "Dupont"),
            "admin": ("", "", "", ""),
        }
        for username, (full_name, title, first_name, last_name) in rows.items():
            old.objects.create(
                username=username,
                full_name=full_name,
                title=title,
                first_name=first_name,
                last_name=last_name,
            )

        executor = MigrationExecutor(connection)
        executor.migrate([NAMES])
        new = executor.loader.project_state([NAMES]).apps.get_model("workflows", "User")
        assert {
            p.username: (p.civility, p.first_name, p.last_name, p.position)
            for p in new.objects.all()
        } == {
            "tech1.ars": (
                "",
                "",
                "",
                "Chargée de mission animation territoriale ARS (Délégation départementale)",
            ),
            "president.cctdc": ("", "", "", "Président de la Communauté de communes"),
            "lea": ("Mme", "Léa", "Martin", "cheffe de projet"),
            "camille": ("", "Camille", "Durand", ""),
            "named": ("", "Jean", "Dupont", "Directeur"),
            "admin": ("", "", "", ""),
        }

        # Back: the name, with its civility, is the full_name again; the position the title.
        executor = MigrationExecutor(connection)
        executor.migrate([BEFORE])
        old = executor.loader.project_state([BEFORE]).apps.get_model("workflows", "User")
        assert dict(old.objects.values_list("username", "full_name")) == {
            "tech1.ars": "",
            "president.cctdc": "",
            "lea": "Mme Léa Martin",
            "camille": "Camille Durand",
            "named": "Jean Dupont",
            "admin": "",
        }
        assert old.objects.get(username="president.cctdc").title == (
            "Président de la Communauté de communes"
        )
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(latest)


@pytest.mark.django_db
def test_the_admin_edits_the_civility_the_name_and_the_position(client):
    log_in_verified(client, UserFactory(is_staff=True, is_superuser=True))
    person = UserFactory(username="tech1.ars", first_name="", last_name="", position="")
    url = reverse("admin:workflows_user_change", args=[person.pk])
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    # The civility before the name, the position with the organisation.
    assert page.index('name="civility"') < page.index('name="first_name"')
    assert page.index('name="organisation"') < page.index('name="position"')

    form = {
        "username": "tech1.ars",
        "civility": "Mme",
        "first_name": "Claire",
        "last_name": "Martin",
        "email": "tech1.ars@example.org",
        "organisation": person.organisation.pk,
        "position": "cheffe de projet ARS",
        "is_active": "on",
        "date_joined_0": "2024-01-01",
        "date_joined_1": "00:00:00",
    }
    response = client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:2000]
    person.refresh_from_db()
    assert person.name_with_position == "Mme Claire Martin, cheffe de projet ARS"
    listing = client.get(reverse("admin:workflows_user_changelist"), {"q": "Martin"})
    assert "cheffe de projet ARS" in listing.content.decode()
