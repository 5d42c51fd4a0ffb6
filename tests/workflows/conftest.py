"""Fixtures shared by the tests of a signed contract's follow-up (API and pages)."""

import pytest

from tests.factories import ActionFactory, SignatoryFactory, UserFactory
from tests.flows import walk_to_signed
from workflows.models import Contract, Indicator


@pytest.fixture
def pilot():
    return UserFactory(username="pilote", first_name="Léa", last_name="Martin")


@pytest.fixture
def followed(contract, pilot):
    action = ActionFactory(contract=contract, code="A1", pilot=pilot)
    Indicator.objects.create(
        action=action, label="Médecins installés", unit="médecins", baseline="0", target="3"
    )
    SignatoryFactory(contract=contract)
    return action


@pytest.fixture
def signed_contract(contract: Contract, coordinator, followed) -> Contract:
    return walk_to_signed(contract, coordinator)
