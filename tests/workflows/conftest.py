"""Fixtures shared by the tests of a signed contract's follow-up (API and pages)."""

import pytest

from tests.factories import ActionFactory, ContractFactory, SignatoryFactory, UserFactory
from tests.flows import walk_to_signed
from tests.shared import making, module_transaction
from workflows.models import Action, Contract, Indicator, User


@pytest.fixture
def pilot():
    return UserFactory(username="pilote", first_name="Léa", last_name="Martin")


def action_followed(contract: Contract, pilot: User) -> Action:
    """A1, piloted by ``pilot``, with an indicator; and the contract's mandatory signatory."""
    action = ActionFactory(contract=contract, code="A1", pilot=pilot)
    Indicator.objects.create(
        action=action, label="Médecins installés", unit="médecins", baseline="0", target="3"
    )
    SignatoryFactory(contract=contract)
    return action


@pytest.fixture
def followed(contract, pilot):
    return action_followed(contract, pilot)


@pytest.fixture
def signed_contract(contract: Contract, coordinator, followed) -> Contract:
    return walk_to_signed(contract, coordinator)


@pytest.fixture(scope="module")
def signed_once(django_db_setup, django_db_blocker):
    """What `signed_contract` and `followed` make, made once for a module that starts every
    test from it (tests/shared.py): such a module defines its own `signed_contract` and
    `followed` reading it back (`signed_contract_of` and `followed_of`). The `coordinator`
    and `pilot` fixtures find its own people."""
    with module_transaction(django_db_blocker):
        with making(django_db_blocker):
            coordinator = UserFactory(username="coordinatrice")
            contract = ContractFactory(coordinator=coordinator)
            pilot = UserFactory(username="pilote", first_name="Léa", last_name="Martin")
            action_followed(contract, pilot)
            walk_to_signed(contract, coordinator)
        yield contract.pk


def signed_contract_of(signed_once: int) -> Contract:
    return Contract.objects.get(pk=signed_once)


def followed_of(contract: Contract) -> Action:
    return contract.actions.get(code="A1")
