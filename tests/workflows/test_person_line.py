"""The contract page writes its people with ``person_line``, the include in one call: both
must write a person the same way (name, position, organisation, escaped)."""

import pytest
from django.template.loader import render_to_string

from tests.factories import OrganisationFactory, UserFactory
from workflows.templatetags.accord import person_line

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("position", "with_organisation"),
    [("Chargée <de> mission", True), ("", True), ("Directrice", False), ("", False)],
)
def test_person_line_writes_a_person_as_the_include_does(position, with_organisation):
    organisation = OrganisationFactory(name="ARS & co") if with_organisation else None
    person = UserFactory(position=position, organisation=organisation, first_name="Zoé <b>")

    written = person_line(person)

    assert written == render_to_string("includes/person.html", {"person": person})
    assert "<b>" not in written
    assert "&lt;b&gt;" in written


def test_person_line_writes_nobody_as_the_include_does():
    assert person_line(None) == render_to_string("includes/person.html", {"person": None})
