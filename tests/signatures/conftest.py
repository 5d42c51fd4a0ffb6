"""The signed contract the signature modules start every test from, made once per module."""

import pytest

from tests.shared import signed_contract_once
from workflows.models import Contract


@pytest.fixture(scope="module")
def signed_once(django_db_setup, django_db_blocker):
    """A signed and sealed contract, made once for the module that asks for it
    (tests/shared.py); the `coordinator` fixture finds its coordinator."""
    with signed_contract_once(django_db_blocker) as pk:
        yield pk


@pytest.fixture
def signed(signed_once, db) -> Contract:
    return Contract.objects.get(pk=signed_once)
